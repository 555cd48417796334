//! Command-line interface: the clap definition of every subcommand and option.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

use crate::analysis::Severity;
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
    offload-doctor plot capture.pcap --out graphs/\n  \
    offload-doctor check --policy ci/offload.toml --junit junit.xml captures/*.pcap\n  \
    offload-doctor compare before.pcap after.pcap\n  \
    offload-doctor explain gro-blocked-ip-id\n\n\
    Exit codes: 0 done (check: passed), 1 check failed, 2 unreadable input or usage error.")]
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

    /// CI gate: analyse captures and fail when a finding reaches a severity (one line per
    /// capture, JUnit XML on request).
    #[command(
        after_help = "A capture fails when it has a finding at or above --fail-on \
        (default error). No built-in detector reports an error except gro-blocked-ip-id under \
        the selected --kernel; a policy file raises, lowers or ignores the others and sets \
        thresholds (docs/ci.md has the format and a pipeline example).\n\n\
        Examples:\n  \
        offload-doctor check capture.pcap\n  \
        offload-doctor check --fail-on warning --junit junit.xml traces/*.pcap\n  \
        offload-doctor check --policy ci/offload.toml --format json canary.pcapng\n\n\
        Exit codes: 0 every capture passed; 1 a capture failed; 2 a capture could not be read \
        (or is damaged mid-file), or a usage or policy error. Every capture is checked even \
        when one fails; 2 wins over 1."
    )]
    Check(CheckArgs),

    /// Compare a capture from before a change with one from after: the two side by side, their
    /// matched flows, and the findings that appeared or disappeared.
    #[command(
        after_help = "Flows match when protocol and both endpoints are equal (either \
        way round); with --ignore-ephemeral-ports the client's port is left out, and several \
        flows between the same hosts pair up in order of appearance. Metrics are those of the \
        direction that sent the most data.\n\n\
        Examples:\n  \
        offload-doctor compare old-nic.pcap new-nic.pcap\n  \
        offload-doctor compare tso-on.pcap tso-off.pcap --ignore-ephemeral-ports --plots ab/\n\n\
        Exit codes: 0 compared; 2 a capture could not be read (or is damaged mid-file)."
    )]
    Compare(CompareArgs),

    /// Explain a finding: what it means, why it matters, how to confirm and fix it (the text of
    /// docs/detectors.md).
    #[command(after_help = "Examples:\n  \
        offload-doctor explain\n  \
        offload-doctor explain gro-blocked-ip-id\n\n\
        Exit codes: 0 explained; 2 unknown finding id.")]
    Explain(ExplainArgs),

    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    #[command(after_help = "Examples:\n  \
        offload-doctor completions bash > ~/.local/share/bash-completion/completions/offload-doctor\n  \
        offload-doctor completions zsh > \"${fpath[1]}/_offload-doctor\"\n  \
        offload-doctor completions fish > ~/.config/fish/completions/offload-doctor.fish")]
    Completions(CompletionsArgs),

    /// Print the man page (roff), or write one page per command into a directory.
    #[command(after_help = "Examples:\n  \
        offload-doctor man | man -l -\n  \
        offload-doctor man --out /usr/local/share/man/man1")]
    Man(ManArgs),
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

    #[command(flatten)]
    pub decode: DecodeArgs,
}

/// How captures are decoded and measured.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Decoding")]
pub struct DecodeArgs {
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

/// Detector thresholds and finding severities: from the command line, else from a policy file,
/// else the defaults.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Detectors")]
pub struct DetectorArgs {
    /// Policy file (TOML): thresholds, per-finding severities (`ignore` drops a finding) and the
    /// severity that fails `check`. Format and example in docs/ci.md. Options given on the
    /// command line win over the file.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,

    /// Share of a direction's segments, in percent, above which `retransmissions` is a problem
    /// (warning) rather than info [default: 1%].
    #[arg(long, value_name = "PERCENT", value_parser = parse_percent)]
    pub retransmission_threshold: Option<f64>,

    /// `high-inflight` warns when the connections' bytes in flight at one moment exceed this
    /// (the buffer memory a proxy relaying them would need), e.g. `16M`, `512K` [default: 16M].
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub inflight_budget: Option<u64>,
}

#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,

    /// Flows shown in the text table (JSON always lists every flow).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,

    /// Also write the graphs `plot` draws by default (PNG, the 3 busiest TCP flows) into DIR.
    /// Needs a capture file: the graphs take a second pass over it.
    #[arg(long, value_name = "DIR")]
    pub plots: Option<PathBuf>,

    // Flattened groups last: their help headings apply to the options that follow them.
    #[command(flatten)]
    pub input: CaptureArgs,

    #[command(flatten)]
    pub detectors: DetectorArgs,
}

/// Severities a check can fail on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Info,
    Warning,
    Error,
}

impl FailOn {
    pub fn severity(self) -> Severity {
        match self {
            FailOn::Info => Severity::Info,
            FailOn::Warning => Severity::Warning,
            FailOn::Error => Severity::Error,
        }
    }
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Capture files to check (pcap or pcapng, optionally gzip-compressed); `-` reads standard
    /// input.
    #[arg(value_name = "CAPTURE", required = true)]
    pub captures: Vec<PathBuf>,

    /// Fail when a finding of this severity or above is present [default: the policy's
    /// `fail-on`, else error].
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,

    /// Also write the results as JUnit XML to FILE: one test suite per capture, one test case
    /// per detector.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Output format: a line per capture, or one JSON document with every report.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,

    #[command(flatten)]
    pub detectors: DetectorArgs,

    #[command(flatten)]
    pub decode: DecodeArgs,
}

#[derive(Debug, clap::Args)]
pub struct CompareArgs {
    /// The capture from before the change.
    #[arg(value_name = "BEFORE")]
    pub before: PathBuf,

    /// The capture from after the change.
    #[arg(value_name = "AFTER")]
    pub after: PathBuf,

    /// Match flows on protocol, addresses and the server's port, ignoring the client's
    /// (ephemeral) port: a connection re-made between the captures still matches.
    #[arg(long)]
    pub ignore_ephemeral_ports: bool,

    /// Matched flows shown in the text output, largest first (JSON lists every one).
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub top: usize,

    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,

    /// Also draw the throughput and segment-size series of the matched flows (the 3 largest),
    /// before and after on one graph, as PNG files into DIR.
    #[arg(long, value_name = "DIR")]
    pub plots: Option<PathBuf>,

    #[command(flatten)]
    pub detectors: DetectorArgs,

    #[command(flatten)]
    pub decode: DecodeArgs,
}

#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// Finding id, as reports print it (e.g. `gro-blocked-ip-id`). Without one, lists them all.
    #[arg(value_name = "FINDING-ID")]
    pub id: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write one page per command (offload-doctor.1, offload-doctor-analyze.1, …) into DIR
    /// instead of printing the main page.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct PlotArgs {
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

    // Last: its help heading applies to the options that follow it.
    #[command(flatten)]
    pub input: CaptureArgs,
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

pub fn parse_percent(s: &str) -> Result<f64, String> {
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
