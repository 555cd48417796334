//! Command-line interface: the clap definition of every subcommand and option.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

mod plot;

use crate::analysis::Severity;
use crate::gro::Kernel;
use crate::units::{parse_duration_ns, parse_percent, parse_size};
pub use plot::PlotArgs;

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
    /// Colour in the text report: auto (on a terminal, unless NO_COLOR is set), always or never.
    #[arg(long, global = true, value_enum, value_name = "WHEN", default_value_t = ColorWhen::Auto)]
    pub color: ColorWhen,

    #[command(subcommand)]
    pub command: Command,
}

/// When to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorWhen {
    Auto,
    Always,
    Never,
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

    /// Capture live with the system's tcpdump (or dumpcap) and analyse the stream: a progress
    /// line on stderr every few seconds, the report at the end or on Ctrl-C.
    #[command(
        after_help = "Runs `tcpdump -i IFACE -U -w - [FILTER]` (dumpcap when tcpdump is not \
        installed), which needs the capture privileges tcpdump needs (root, or CAP_NET_RAW and \
        CAP_NET_ADMIN). The report covers the frames captured until --duration ends or until \
        Ctrl-C (then marked interrupted; a second Ctrl-C exits at once).\n\n\
        Examples:\n  \
        sudo offload-doctor live -i eth0 --duration 30s\n  \
        sudo offload-doctor live -i any -f 'tcp port 443' --format json > report.json\n\n\
        Exit codes: 0 captured and analysed (also when stopped by Ctrl-C, as tcpdump and \
        tshark do: that is how a live capture ends); 2 no capture tool, no permission, or the \
        tool failed."
    )]
    Live(LiveArgs),

    /// Draw graphs of TCP flows as PNG or SVG: time-sequence (tcptrace style), throughput, RTT,
    /// bytes in flight, segment size and IP ID; and of UDP flows (QUIC or not): datagram rate and
    /// datagram size.
    #[command(
        after_help = "Files are named CAPTURE-flowID-DIR-KIND.png (DIR is c2s or s2c, the \
        direction that sent the data), CAPTURE-flowID-throughput.png, CAPTURE-flowID-datagram-rate.png \
        and CAPTURE-flows.png; the paths written are printed, one per line. Flow ids are the ones `analyze` prints. Large flows are \
        thinned to the pixel grid: every pixel that would show a segment, a retransmission or a \
        mark still shows one.\n\n\
        Examples:\n  \
        offload-doctor plot capture.pcap --out graphs/\n  \
        offload-doctor plot capture.pcap --flow 3 --kind time-sequence --format svg\n\n\
        Exit codes: 0 written; 1 no graph: the flows chosen carried nothing the kinds asked for \
        draw (TCP data, or UDP datagrams); 2 unreadable input, unknown flow, a UDP flow asked \
        only for TCP graphs, or a graph that could not be written."
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
        Exit codes: 0 compared (with --fail-on-regression: and AFTER is not worse); 1 AFTER is \
        worse (--fail-on-regression); 2 a capture could not be read (or is damaged mid-file), \
        or --fail-on-regression and the captures share no flow."
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

/// Whether output files may replace existing files of another kind: shared by every subcommand
/// that writes files.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct ForceArgs {
    /// Replace an existing output file even when it holds something other than what is written
    /// there (a capture, a text file, another format). Without --force such a file is refused
    /// (exit 2): in `check --junit a.pcap b.pcap` the report's name was forgotten, and a.pcap
    /// would be lost. Empty files and files of the output's own format (JUnit XML over XML, a
    /// PNG over a PNG, an SVG over an SVG, a man page over a man page) are replaced anyway; a
    /// capture the command reads never is, and a symlink is replaced, never written through.
    #[arg(long)]
    pub force: bool,
}

/// Whether the progress line may be drawn: shared by every subcommand that reads captures.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct QuietArgs {
    /// No progress line. Without it, reading that takes over a second draws one line on stderr,
    /// when stderr is a terminal: bytes and frames read, rate, time left (captures done of many).
    #[arg(short, long)]
    pub quiet: bool,
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

    /// Memory the flows may hold, e.g. `256M`, `1G` (an estimate per flow, not the allocator's
    /// count). Beyond it the least recently active flows are evicted and the report says which
    /// (finding `flows-evicted`); `0` is no bound.
    #[arg(long, value_name = "BYTES", default_value = "256M", value_parser = parse_size)]
    pub max_memory: u64,

    /// MTU of the link the capture was taken on, in bytes. Frames larger than the path MTU are
    /// coalesced (GRO/LRO) or not yet segmented (TSO/GSO). Default: per TCP flow from the
    /// receiver's MSS in the handshake, else 1500; tunnelled flows lose the encapsulation.
    #[arg(long, value_name = "BYTES", value_parser = clap::value_parser!(u32).range(576..=65535))]
    pub mtu: Option<u32>,

    /// Linux kernel whose GRO rules the merge model applies: a version (`5.15`, `6.1`) or
    /// `latest`. The IP ID rule changed in 4.7 and 6.18 (docs/detectors.md).
    #[arg(long, value_name = "VERSION", default_value = "latest", value_parser = Kernel::parse)]
    pub kernel: Kernel,

    /// TLS key log (SSLKEYLOGFILE format, as quic-go, quiche, aioquic, curl and browsers write
    /// it): QUIC connections whose secrets it holds have their 1-RTT packets decrypted, for
    /// packet numbers (docs/quic.md).
    #[arg(long, value_name = "FILE")]
    pub keylog: Option<PathBuf>,
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

    /// `quic-memory`: the buffer memory one QUIC connection holds at the server or proxy that
    /// terminates it, e.g. HAProxy's `tune.bufsize` (16384 by default) times the buffers a
    /// connection keeps: `64K`. With --memory-budget, the peak of concurrent connections times
    /// this is compared with the budget.
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub conn_buffer: Option<u64>,

    /// `quic-memory` warns when the QUIC connections open at one moment, times --conn-buffer,
    /// need more than this, e.g. `1G`, `512M` [default: none: concurrency is reported at info].
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    pub memory_budget: Option<u64>,

    /// An endpoint's qlog of the captured QUIC connections: a `.qlog` (JSON) or `.sqlog`
    /// (JSON-SEQ) file as quic-go, quiche and aioquic write them, plain or gzipped, or a
    /// directory of them (repeatable). Joined with the capture by connection ID: packets the endpoint sent that
    /// the capture does not show, or that reached the capture and not the endpoint, are
    /// `quic-qlog-mismatch` (docs/quic.md).
    #[arg(long, value_name = "FILE|DIR", help_heading = "Endpoint logs")]
    pub qlog: Vec<PathBuf>,

    /// Another capture of the same traffic, taken at the same time at another point of its path
    /// (the receiver, the far side of a router, NAT or tunnel endpoint): packets are matched by
    /// content, and those one point saw and the other never did are `path-loss`.
    #[arg(
        long,
        value_name = "CAPTURE",
        help_heading = "Two captures of one path"
    )]
    pub peer: Option<PathBuf>,
}

/// Output formats of `analyze`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum AnalyzeFormat {
    /// Human-readable summary and tables (many captures: one row per capture).
    Text,
    /// One JSON document (schema in docs/json-format.md).
    Json,
    /// The flow table, one row per flow (RFC 4180; columns in docs/csv-format.md).
    Csv,
    /// The flow table, tab-separated.
    Tsv,
    /// One JSON object per line: a capture, its flows and findings (docs/ndjson-format.md).
    Ndjson,
}

/// Which flows a report covers (docs/selection.md). Every option given must match; --flow,
/// --host and --port match any of their values. Flow ids stay those of the whole capture.
#[derive(Debug, Clone, Default, clap::Args)]
#[command(next_help_heading = "Selection")]
pub struct SelectArgs {
    /// Flow id, as `analyze` numbers them (repeatable).
    #[arg(long = "flow", value_name = "ID")]
    pub flows: Vec<u32>,

    /// Flows with this address at either end, inner or tunnel outer (repeatable).
    #[arg(long = "host", value_name = "ADDR")]
    pub hosts: Vec<IpAddr>,

    /// Flows with this port at either end (repeatable).
    #[arg(long = "port", value_name = "PORT")]
    pub ports: Vec<u16>,

    /// Flows active in this window, START..END from the capture's first frame (`2s..10s`,
    /// `..500ms`, `1.5..`; seconds without a unit). The flows are analysed whole.
    #[arg(long, value_name = "START..END")]
    pub time: Option<String>,

    /// A BPF-like expression over flows: `host 10.0.0.1 and port 443`, `server port 53 or
    /// quic`, `not net 10.0.0.0/8`, `vni 42`, `portrange 8000-8080` (docs/selection.md).
    #[arg(long, value_name = "EXPR")]
    pub filter: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct LiveArgs {
    /// Interface to capture on, as tcpdump names it (`eth0`, `lo`, `any`).
    #[arg(short = 'i', long, value_name = "IFACE")]
    pub interface: String,

    /// Stop after this long, e.g. `30s`, `500ms` (at most 1 hour) [default: until Ctrl-C].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_ns)]
    pub duration: Option<i64>,

    /// Capture filter in tcpdump's (BPF) syntax, e.g. `tcp port 443`.
    #[arg(short = 'f', long, value_name = "BPF")]
    pub filter: Option<String>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,

    /// Flows shown in the text table (JSON always lists every flow).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,

    #[command(flatten)]
    pub detectors: DetectorArgs,

    #[command(flatten)]
    pub decode: DecodeArgs,
}

#[derive(Debug, clap::Args)]
pub struct AnalyzeArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = AnalyzeFormat::Text)]
    pub format: AnalyzeFormat,

    /// Flows shown in the text table (JSON always lists every flow).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub top: usize,

    /// Findings below this severity are left out of the text report (counted in one line; JSON
    /// lists every finding).
    #[arg(long, value_enum, value_name = "SEVERITY", default_value_t = FailOn::Info)]
    pub min_severity: FailOn,

    /// Also write the graphs `plot` draws by default (PNG, the 3 busiest flows) into DIR.
    /// Needs one capture file: the graphs take a second pass over it.
    #[arg(long, value_name = "DIR")]
    pub plots: Option<PathBuf>,

    /// Write, per finding that cites frames, those frames as a pcapng capture into DIR
    /// (created if missing): DIR/NNN-ID.pcapng, or NNN-ID-flowF.pcapng for a finding about flow F,
    /// NNN being the finding's place in the report. The file's comment names the finding; each
    /// packet's comment gives its frame number in the input. Needs a capture file: the frames are
    /// copied in a second pass over it.
    #[arg(long, value_name = "DIR")]
    pub write_evidence: Option<PathBuf>,

    #[command(flatten)]
    pub output: ForceArgs,

    #[command(flatten)]
    pub progress: QuietArgs,

    /// Capture files (pcap or pcapng, optionally gzip-compressed; `-` reads standard input) or
    /// directories, searched recursively for captures by content. More than one capture, or a
    /// directory, gives one summary row per capture (analysed in parallel).
    #[arg(value_name = "CAPTURE", required = true)]
    pub captures: Vec<PathBuf>,

    // Flattened groups last: their help headings apply to the options that follow them.
    #[command(flatten)]
    pub select: SelectArgs,

    #[command(flatten)]
    pub decode: DecodeArgs,

    #[command(flatten)]
    pub detectors: DetectorArgs,
}

/// A severity named on the command line (`check --fail-on`, `analyze --min-severity`).
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
    /// Capture files to check (pcap or pcapng, optionally gzip-compressed; `-` reads standard
    /// input) or directories, searched recursively for captures by content.
    #[arg(value_name = "CAPTURE", required = true)]
    pub captures: Vec<PathBuf>,

    /// Fail when a finding of this severity or above is present [default: the policy's
    /// `fail-on`, else error].
    #[arg(long, value_enum, value_name = "SEVERITY")]
    pub fail_on: Option<FailOn>,

    /// Also write the results as JUnit XML to FILE: one test suite per capture, one test case
    /// per detector. `-` writes the XML to standard output instead of the lines (or JSON); a
    /// FIFO or device is written through; a path that is one of the captures is refused, and
    /// so is an existing file that is not XML (a capture, text) unless --force is given.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// Output format: a line per capture, or one JSON document with every report.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,

    #[command(flatten)]
    pub output: ForceArgs,

    #[command(flatten)]
    pub progress: QuietArgs,

    #[command(flatten)]
    pub select: SelectArgs,

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

    /// Exit 1 when AFTER is worse than BEFORE by more than PCT percent [default: 10]: a matched
    /// flow's goodput down by more than PCT%, its retransmission rate up by more than PCT% and
    /// by at least 1 percentage point, or a warning or error AFTER has that BEFORE did not.
    /// Exit 2 when the captures share no flow. For CI (docs/ci.md).
    #[arg(long, value_name = "PCT", num_args = 0..=1, require_equals = true,
          default_missing_value = "10", value_parser = parse_percent)]
    pub fail_on_regression: Option<f64>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Text)]
    pub format: OutputFormat,

    /// Also draw the throughput and segment-size series of the matched flows (the 3 largest),
    /// before and after on one graph, as PNG files into DIR.
    #[arg(long, value_name = "DIR")]
    pub plots: Option<PathBuf>,

    #[command(flatten)]
    pub output: ForceArgs,

    #[command(flatten)]
    pub progress: QuietArgs,

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

    #[command(flatten)]
    pub output: ForceArgs,
}
