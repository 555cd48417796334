//! `plot`'s command-line options.

use std::path::PathBuf;

use super::{CaptureArgs, ForceArgs, QuietArgs, SelectArgs};
use crate::plot::{Format, PlotKind};
use crate::units::parse_picture_size;

#[derive(Debug, clap::Args)]
pub struct PlotArgs {
    /// Directory the graphs are written to (created if missing).
    #[arg(long, short, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,

    /// Without `--flow`: how many of the busiest (selected) flows, by bytes, to plot: TCP flows
    /// that carried data and UDP flows of at least 20 datagrams. With `--flow`: the flows given.
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub top: u32,

    /// Graph kind (repeatable; default: all, except the rtt, inflight, segment-size and ip-id
    /// graphs of a direction of fewer than 10 data segments or an rtt graph of fewer than 5
    /// samples). time-sequence: tcptrace's graph; throughput: goodput and throughput per interval;
    /// rtt; inflight: bytes in flight and the receive window; segment-size: wire segments per
    /// frame; ip-id: the (outer) IPv4 ID per frame, DF marked; flows: the goodput of all plotted
    /// flows on one graph. UDP flows: datagram-rate: bit/s and datagrams/s per direction;
    /// datagram-size: each datagram's size, QUIC long headers and GSO super-datagrams marked,
    /// with the MTU line; spin-rtt: a QUIC connection's latency spin-bit RTT samples, per
    /// direction whose endpoint spins. With --keylog: quic-sequence: a QUIC direction's main
    /// stream in bytes (packet numbers where no stream shows), the highest offset the peer
    /// acknowledged, its MAX_STREAM_DATA limit and the losses; quic-packets: its decrypted
    /// packets by number, the peer's largest acknowledged and the losses before and after the
    /// capture point; quic-rtt: RTT samples from the ACK frames.
    #[arg(long = "kind", value_name = "KIND", value_parser = PlotKind::parse)]
    pub kinds: Vec<PlotKind>,

    /// Draw each frame's size in MSS units on the time-sequence graph's right axis (the
    /// segment-size graph shows them on their own).
    #[arg(long)]
    pub frame_sizes: bool,

    /// Image format.
    #[arg(long, value_enum, default_value_t = Format::Png)]
    pub format: Format,

    /// Picture size in pixels, WIDTHxHEIGHT.
    #[arg(long, value_name = "WxH", default_value = "1600x900", value_parser = parse_picture_size)]
    pub size: (u32, u32),

    /// An endpoint's qlog (file or directory, repeatable, as for `analyze`): the datagram-rate
    /// graph of its QUIC connection draws the congestion window and bytes in flight it logged,
    /// on the capture's time axis.
    #[arg(long, value_name = "FILE|DIR")]
    pub qlog: Vec<PathBuf>,

    /// Another capture of the same traffic at another point of its path (as for `analyze`):
    /// adds the peer-sequence graph (both points' packets, losses between them marked) and the
    /// one-way-delay graph of each paired direction (docs/peer.md).
    #[arg(long, value_name = "CAPTURE")]
    pub peer: Option<PathBuf>,

    #[command(flatten)]
    pub output: ForceArgs,

    #[command(flatten)]
    pub progress: QuietArgs,

    // Last: their help headings apply to the options that follow them.
    #[command(flatten)]
    pub select: SelectArgs,

    #[command(flatten)]
    pub input: CaptureArgs,
}
