//! Command-line interface: the clap definition of every subcommand and option.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::gro::Kernel;

/// Tells whether NIC and kernel offloads (GRO, LRO, TSO, GSO) and tunnels (VXLAN, Geneve) are
/// hurting the traffic in a packet capture, with evidence.
#[derive(Debug, Parser)]
#[command(name = "offload-doctor", version, about, long_about = None)]
#[command(after_help = "Examples:\n  \
    offload-doctor analyze capture.pcap\n  \
    offload-doctor analyze --format json capture.pcapng.gz | jq .findings\n  \
    tcpdump -i any -w - | offload-doctor analyze -\n\n\
    Exit codes: 0 analysed, 2 unreadable input or usage error.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse a capture: summary, flows (largest first) and findings.
    #[command(
        after_help = "Reads classic pcap (either byte order, µs or ns) and pcapng (any \
        number of sections and interfaces), plain or gzip-compressed (detected by content). \
        Frame numbers in the report are Wireshark's.\n\n\
        Exit codes: 0 analysed (also for a capture cut mid-record: the report covers what was \
        read and says where the cut is); 2 not a capture, unreadable, or damaged mid-file (the \
        report of what was read is still printed)."
    )]
    Analyze(AnalyzeArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable summary and tables.
    Text,
    /// One JSON document (schema in docs/json-format.md).
    Json,
}

#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// Capture file (pcap or pcapng, optionally gzip-compressed); `-` reads standard input.
    #[arg(value_name = "CAPTURE")]
    pub capture: PathBuf,

    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,

    /// Flows shown in the text table (JSON always lists every flow).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,

    /// Extra UDP port carrying VXLAN (repeatable); 4789 (IANA) and 8472 (Linux default) are
    /// always decoded.
    #[arg(long = "vxlan-port", value_name = "PORT")]
    pub vxlan_ports: Vec<u16>,

    /// Extra UDP port carrying Geneve (repeatable); 6081 (IANA) is always decoded.
    #[arg(long = "geneve-port", value_name = "PORT")]
    pub geneve_ports: Vec<u16>,

    /// Bin width of the goodput/throughput series in the JSON report, e.g. `100ms`, `1s`,
    /// `250us`.
    #[arg(long, value_name = "DURATION", default_value = "100ms", value_parser = parse_duration_ns)]
    pub interval: i64,

    /// Share of a direction's data segments, in percent, above which `retransmissions` is a
    /// warning rather than info.
    #[arg(long, value_name = "PERCENT", default_value_t = 1.0, value_parser = parse_percent)]
    pub retransmission_threshold: f64,

    /// MTU of the link the capture was taken on, in bytes. Frames larger than the path MTU are
    /// coalesced (GRO/LRO) or not yet segmented (TSO/GSO). Default: per TCP flow from the
    /// receiver's MSS in the handshake, else 1500; tunnelled flows lose the encapsulation.
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(576..=65535))]
    pub mtu: Option<u32>,

    /// Linux kernel whose GRO rules the merge model applies: a version (`5.15`, `6.1`) or
    /// `latest`. The IP ID rule changed in 4.7 and 6.18 (docs/detectors.md).
    #[arg(long, value_name = "VERSION", default_value = "latest", value_parser = Kernel::parse)]
    pub kernel: Kernel,

    /// `high-inflight` warns when the connections' bytes in flight at one moment exceed this
    /// (the buffer memory a proxy relaying them would need), e.g. `16M`, `512K`.
    #[arg(long, value_name = "BYTES", default_value = "16M", value_parser = parse_size)]
    pub inflight_budget: u64,
}

/// Parses `65536`, `64K`, `16M`, `1G` (binary multiples; `KiB`/`MiB`/`GiB` and `B` accepted).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: u64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size: write e.g. 65536, 512K or 16M"))?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "K" | "KB" | "KIB" => 10,
        "M" | "MB" | "MIB" => 20,
        "G" | "GB" | "GIB" => 30,
        u => return Err(format!("unknown unit `{u}`: use K, M or G")),
    };
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("`{s}` is too large"))
}

/// Parses `100ms`, `1s`, `1.5s`, `250us`, `500ns` into nanoseconds (at least 1 µs, at most an
/// hour).
pub fn parse_duration_ns(s: &str) -> Result<i64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("`{s}` has no unit: write e.g. 100ms, 1s, 250us"))?;
    let (num, unit) = s.split_at(split);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("`{num}` is not a number"))?;
    let scale = match unit {
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "s" => 1e9,
        _ => return Err(format!("unknown unit `{unit}`: use ns, us, ms or s")),
    };
    let ns = v * scale;
    if !(1e3..=3.6e12).contains(&ns) {
        return Err("the interval must be between 1us and 1 hour".into());
    }
    Ok(ns as i64)
}

fn parse_percent(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("`{s}` is not a number"))?;
    if (0.0..=100.0).contains(&v) {
        Ok(v)
    } else {
        Err("a percentage is between 0 and 100".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ns("100ms"), Ok(100_000_000));
        assert_eq!(parse_duration_ns("1.5s"), Ok(1_500_000_000));
        assert_eq!(parse_duration_ns("250us"), Ok(250_000));
        assert!(parse_duration_ns("100").is_err());
        assert!(parse_duration_ns("5 parsecs").is_err());
        assert!(parse_duration_ns("0ms").is_err());
        assert!(parse_duration_ns("2h").is_err());
        assert_eq!(parse_percent("0.5%"), Ok(0.5));
        assert_eq!(parse_size("65536"), Ok(65536));
        assert_eq!(parse_size("64K"), Ok(65536));
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert!(parse_size("lots").is_err());
        assert!(parse_size("5T").is_err());
        assert!(parse_size("99999999999G").is_err());
        assert!(parse_percent("150").is_err());
    }
}
