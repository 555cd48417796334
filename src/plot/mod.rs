//! Plots: time-sequence, throughput, RTT, in-flight, segment-size and IP ID graphs of TCP flows,
//! datagram-rate and datagram-size graphs of UDP flows (QUIC or not), QUIC time-sequence and RTT
//! graphs with a key log, written as PNG or SVG with no system fonts or libraries.
//!
//! This stage owns the pictures. One file per graph kind turns a flow's trace into the data of
//! that graph (a [`Chart`], [`chart`]), thinned to the pixel grid ([`thin`]); [`dir`], [`rates`]
//! and [`datagrams`] hold what the builders share, [`overlay`] the A/B graphs of
//! `compare --plots`, and [`render`] only draws a chart with plotters. Plots read flows and their
//! TCP and UDP traces, never the analysis.

pub mod chart;
mod datagram_rate;
mod datagram_size;
mod datagrams;
pub mod dir;
mod flows;
mod inflight;
mod ip_id;
pub mod overlay;
pub mod peer;
mod quic_sequence;
mod quic_stream;
mod rates;
mod reach;
pub mod render;
mod rtt;
mod segment_size;
mod spin_rtt;
pub mod thin;
mod throughput;
mod time_sequence;
pub mod window;

use std::path::{Path, PathBuf};

use crate::flow::Flow;
pub use chart::{Chart, PlotKind};
pub use dir::{Canvas, Dir, Options, MIN_DATA_SEGMENTS, MIN_RTT_SAMPLES};
pub use overlay::{overlay_charts, OverlaySide};
pub use render::{Format, RenderError};

/// Default picture size: 16:9, readable on a laptop and in a README.
pub const DEFAULT_SIZE: (u32, u32) = (1600, 900);

/// Fewest datagrams a UDP flow needs to be among the busiest flows plotted by default: a DNS
/// lookup's two datagrams make no rate graph worth a file (a flow named with `--flow` is drawn
/// whatever its count).
pub const MIN_UDP_DATAGRAMS: u64 = 20;
/// When no flow of a capture reaches [`MIN_UDP_DATAGRAMS`], UDP flows of at least this many
/// are drawn instead (a QUIC handshake has four or more; a DNS lookup two).
pub const FEW_UDP_DATAGRAMS: u64 = 4;

/// The graphs of `kinds` for `flows` (in that order), then the comparison of the flows. Time
/// counts from each flow's first frame (from the earliest of them on the comparison), not from
/// the capture's: a capture joined from parts years apart still gives readable axes.
pub fn charts(flows: &[&Flow], kinds: &[PlotKind], cv: &Canvas) -> Vec<Chart> {
    let mut out = Vec::new();
    for f in flows {
        let fcv = cv.from(f.first_ts_ns());
        for &k in kinds.iter().filter(|&&k| k != PlotKind::Flows) {
            out.extend(flow_charts(k, f, &fcv));
        }
    }
    if kinds.contains(&PlotKind::Flows) {
        let t0 = flows
            .iter()
            .map(|f| f.first_ts_ns())
            .min()
            .unwrap_or(cv.t0_ns);
        out.extend(flows::flows_chart(flows, &cv.from(t0)));
    }
    out
}

/// Whether the default set draws `kind` for direction `d`: the statistical graphs need enough
/// data segments (and RTT samples) to show anything; named kinds are always drawn.
fn worth_drawing(kind: PlotKind, d: &Dir<'_>, cv: &Canvas) -> bool {
    let segments = d.conn.dirs()[d.side].data_segments;
    // Wire segments' worth: a GRO receiver's 8 frames of 16 segments each are a transfer.
    let enough = segments >= MIN_DATA_SEGMENTS
        || d.f.dirs[d.side].payload_bytes >= MIN_DATA_SEGMENTS * u64::from(d.seg_size());
    match kind {
        _ if cv.opts.forced => segments > 0,
        PlotKind::TimeSequence => segments > 0,
        PlotKind::Rtt => enough && d.trace.rtts().len() >= MIN_RTT_SAMPLES,
        _ => enough,
    }
}

/// The graphs of `kind` for one flow: one per direction that sent data, or one for the flow.
/// TCP kinds draw nothing of a UDP flow, and UDP kinds nothing of a TCP flow.
pub fn flow_charts(kind: PlotKind, f: &Flow, cv: &Canvas) -> Vec<Chart> {
    match kind {
        PlotKind::Throughput => return throughput::throughput(f, cv).into_iter().collect(),
        PlotKind::DatagramRate => return datagram_rate::datagram_rate(f, cv).into_iter().collect(),
        PlotKind::DatagramSize => return datagram_size::datagram_sizes(f, cv),
        PlotKind::SpinRtt => return spin_rtt::spin_rtt(f, cv).into_iter().collect(),
        PlotKind::PeerSequence => return peer::sequence(f, cv),
        PlotKind::OneWayDelay => return peer::delay(f, cv),
        PlotKind::QuicSequence => return quic_sequence::quic_sequence(f, cv),
        PlotKind::QuicPackets => return quic_sequence::quic_packets(f, cv),
        PlotKind::QuicRtt => return quic_sequence::quic_rtt(f, cv).into_iter().collect(),
        _ => {}
    }
    f.client_first()
        .into_iter()
        .filter_map(|side| Dir::of(f, side))
        .filter(|d| worth_drawing(kind, d, cv))
        .filter_map(|d| match kind {
            PlotKind::TimeSequence => time_sequence::time_sequence(&d, cv),
            PlotKind::Rtt => rtt::rtt(&d, cv),
            PlotKind::Inflight => inflight::inflight(&d, cv),
            PlotKind::SegmentSize => segment_size::segment_size(&d, cv),
            PlotKind::IpId => ip_id::ip_id(&d, cv),
            PlotKind::Throughput
            | PlotKind::Flows
            | PlotKind::DatagramRate
            | PlotKind::DatagramSize
            | PlotKind::SpinRtt
            | PlotKind::PeerSequence
            | PlotKind::OneWayDelay
            | PlotKind::QuicSequence
            | PlotKind::QuicPackets
            | PlotKind::QuicRtt => None,
        })
        .collect()
}

/// The pixel grid a picture of `size` plots on (a little larger than the plotting area, so
/// thinning never shows).
pub fn canvas(t0_ns: i64, interval_ns: i64, size: (u32, u32)) -> Canvas {
    Canvas {
        t0_ns,
        interval_ns,
        cols: size.0.max(1) as usize,
        rows: size.1.max(1) as usize,
        mtu: None,
        windows: Vec::new().into(),
        peer: Vec::new().into(),
        opts: Options::default(),
    }
}

/// The file name stem of a capture: `trace` for `dir/trace.pcapng.gz`.
pub fn capture_stem(path: &Path) -> String {
    let mut name = path
        .file_name()
        .map_or_else(|| "capture".into(), |n| n.to_string_lossy().into_owned());
    for ext in [".gz", ".pcapng", ".pcap", ".cap", ".ntar"] {
        if let Some(s) = name.strip_suffix(ext) {
            name = s.to_string();
        }
    }
    // Keep file names portable: only letters, digits, `-`, `_` and `.`; and visible: a stem
    // never starts with a dot (`..pcap` would otherwise give hidden graph files).
    let stem: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    match stem.trim_start_matches('.') {
        "" => "capture".into(),
        s => s.to_string(),
    }
}

/// Writes each chart into `dir` as `<stem>-flow<ID>[-<dir>]-<kind>.<ext>`; returns the paths.
/// When one path may not be written ([`crate::atomic::check`]), none is.
pub fn write_all(
    charts: &[Chart],
    dir: &Path,
    stem: &str,
    format: Format,
    size: (u32, u32),
) -> Result<Vec<PathBuf>, RenderError> {
    let paths: Vec<PathBuf> = charts
        .iter()
        .map(|c| dir.join(format!("{}.{}", c.file_stem(stem), format.extension())))
        .collect();
    // Every path is checked before the first graph is written: a refused one leaves no half set.
    for path in &paths {
        crate::atomic::check(path, format.output_kind())
            .map_err(|r| RenderError::Write(r.into()))?;
    }
    for (c, path) in charts.iter().zip(&paths) {
        render::write(c, path, format, size)?;
    }
    Ok(paths)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capture_stems_are_portable() {
        assert_eq!(capture_stem(Path::new("a/b/trace.pcapng.gz")), "trace");
        assert_eq!(capture_stem(Path::new("x.pcap")), "x");
        assert_eq!(capture_stem(Path::new("my trace:1.cap")), "my_trace_1");
        // Never hidden, never empty.
        assert_eq!(capture_stem(Path::new("..pcap")), "capture");
        assert_eq!(capture_stem(Path::new("d/.hidden.pcap")), "hidden");
        assert_eq!(capture_stem(Path::new("...x.pcap")), "x");
    }
}
