//! Command-line interface: the clap definition of every subcommand and option.

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

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
}
