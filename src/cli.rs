//! Command-line interface: the clap definition of every subcommand and option.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::gro::Kernel;
use crate::plot::{Format, PlotKind};

/// Tells whether NIC and kernel offloads (GRO, LRO, TSO, GSO) and tunnels (VXLAN, Geneve) are
/// hurting the traffic in a packet capture, with evidence.
#[derive(Debug, Parser)]
#[command(name = "offload-doctor", version, about, long_about = None)]
#[command(after_help = "Examples:\n  \
    offload-doctor analyze capture.pcap\n  \
    offload-doctor analyze --format json capture.pcapng.gz | jq .findings\n  \
    tcpdump -i any -w - | offload-doctor analyze -\n  \
    offload-doctor plot capture.pcap --out graphs/\n\n\
    Exit codes: 0 done, 2 unreadable input or usage error.")]
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

    /// Draw graphs of TCP flows as PNG or SVG: time-sequence (tcptrace style), throughput, RTT,
    /// bytes in flight, segment size and IP ID.
    #[command(
        after_help = "Files are named CAPTURE-flowID-DIR-KIND.png (DIR is c2s or s2c, the \
        direction that sent the data), CAPTURE-flowID-throughput.png and CAPTURE-flows.png; the paths written are \
        printed, one per line. Flow ids are the ones `analyze` prints. Large flows are \
        thinned to the pixel grid: every pixel that would show a segment, a retransmission or a \
        mark still shows one.\n\n\
        Examples:\n  \
        offload-doctor plot capture.pcap --out graphs/\n  \
        offload-doctor plot capture.pcap --flow 3 --kind time-sequence --format svg\n\n\
        Exit codes: 0 written; 2 unreadable input, unknown flow, or a graph that could not be \
        written."
    )]
    Plot(PlotArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// Human-readable summary and tables.
    Text,
    /// One JSON document (schema in docs/json-format.md).
    Json,
}

/// The capture and how to decode it: shared by every subcommand that reads one.
#[derive(Debug, clap::Args)]
pub struct CaptureArgs {
    /// Capture file (pcap or pcapng, optionally gzip-compressed); `-` reads standard input.
    #[arg(value_name = "CAPTURE")]
    pub capture: PathBuf,

    /// Extra UDP port carrying VXLAN (repeatable); 4789 (IANA) and 8472 (Linux default) are
    /// always decoded.
    #[arg(long = "vxlan-port", value_name = "PORT")]
    pub vxlan_ports: Vec<u16>,

    /// Extra UDP port carrying Geneve (repeatable); 6081 (IANA) is always decoded.
    #[arg(long = "geneve-port", value_name = "PORT")]
    pub geneve_ports: Vec<u16>,

    /// Bin width of the goodput/throughput series (JSON report and throughput graphs), e.g.
    /// `100ms`, `1s`, `250us`.
    #[arg(long, value_name = "DURATION", default_value = "100ms", value_parser = parse_duration_ns)]
    pub interval: i64,

    /// MTU of the link the capture was taken on, in bytes. Frames larger than the path MTU are
    /// coalesced (GRO/LRO) or not yet segmented (TSO/GSO). Default: per TCP flow from the
    /// receiver's MSS in the handshake, else 1500; tunnelled flows lose the encapsulation.
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(576..=65535))]
    pub mtu: Option<u32>,

    /// Linux kernel whose GRO rules the merge model applies: a version (`5.15`, `6.1`) or
    /// `latest`. The IP ID rule changed in 4.7 and 6.18 (docs/detectors.md).
    #[arg(long, value_name = "VERSION", default_value = "latest", value_parser = Kernel::parse)]
    pub kernel: Kernel,
}

#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    #[command(flatten)]
    pub input: CaptureArgs,

    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,

    /// Flows shown in the text table (JSON always lists every flow).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,

    /// Share of a direction's data segments, in percent, above which `retransmissions` is a
    /// warning rather than info.
    #[arg(long, value_name = "PERCENT", default_value_t = 1.0, value_parser = parse_percent)]
    pub retransmission_threshold: f64,

    /// `high-inflight` warns when the connections' bytes in flight at one moment exceed this
    /// (the buffer memory a proxy relaying them would need), e.g. `16M`, `512K`.
    #[arg(long, value_name = "BYTES", default_value = "16M", value_parser = parse_size)]
    pub inflight_budget: u64,

    /// Also write the graphs `plot` draws by default (PNG, the 3 busiest TCP flows) into DIR.
    /// Needs a capture file: the graphs take a second pass over it.
    #[arg(long, value_name = "DIR")]
    pub plots: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct PlotArgs {
    #[command(flatten)]
    pub input: CaptureArgs,

    /// Directory the graphs are written to (created if missing).
    #[arg(long, short, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,

    /// Flow to plot, by the id `analyze` prints (repeatable). Default: the busiest TCP flows.
    #[arg(long = "flow", value_name = "ID")]
    pub flows: Vec<u32>,

    /// Without `--flow`: how many of the busiest TCP flows (by bytes) to plot.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub top: u32,

    /// Graph kind (repeatable; default: all). time-sequence: tcptrace's graph, with each frame's
    /// size in MSS units on the right axis; throughput: goodput and throughput per interval;
    /// rtt; inflight: bytes in flight and the receive window; segment-size: wire segments per
    /// frame; ip-id: the (outer) IPv4 ID per frame, DF marked; flows: the goodput of all plotted
    /// flows on one graph.
    #[arg(long = "kind", value_name = "KIND", value_parser = PlotKind::parse)]
    pub kinds: Vec<PlotKind>,

    /// Image format.
    #[arg(long, value_enum, default_value_t = Format::Png)]
    pub format: Format,

    /// Picture size in pixels, WIDTHxHEIGHT.
    #[arg(long, value_name = "WxH", default_value = "1600x900", value_parser = parse_picture_size)]
    pub size: (u32, u32),
}

/// Parses `1600x900`: each side 200 to 8192 pixels, at most 40 megapixels (a 120 MB canvas).
pub fn parse_picture_size(s: &str) -> Result<(u32, u32), String> {
    let bad = || format!("`{s}` is not a picture size: write WIDTHxHEIGHT, e.g. 1600x900");
    let (w, h) = s.trim().split_once(['x', 'X']).ok_or_else(bad)?;
    let (w, h): (u32, u32) = (w.parse().map_err(|_| bad())?, h.parse().map_err(|_| bad())?);
    if !(200..=8192).contains(&w) || !(200..=8192).contains(&h) {
        return Err("each side of a picture is 200 to 8192 pixels".into());
    }
    if u64::from(w) * u64::from(h) > 40_000_000 {
        return Err("a picture is at most 40 megapixels".into());
    }
    Ok((w, h))
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
        assert_eq!(parse_picture_size("1600x900"), Ok((1600, 900)));
        assert!(parse_picture_size("1600").is_err());
        assert!(parse_picture_size("10x10").is_err());
        assert!(parse_picture_size("8192x8192").is_err());
    }
}
