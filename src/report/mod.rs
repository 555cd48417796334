//! Report: the analysis result as one serialisable document, printed as text or JSON.
//!
//! The JSON shape is an interface (documented field by field in docs/json-format.md); it changes
//! only with [`SCHEMA_VERSION`].

pub mod check;
pub mod compare;
pub mod text;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::analysis::{Finding, Severity};
use crate::capture::{CaptureMeta, InterfaceStats};
use crate::decode::link;
use crate::flow::{DirStats, Flow};
use crate::gro::{GroDir, Kernel};
use crate::tcp::metrics::{Counts, DirMetrics, RttSource};
use crate::tcp::TcpConn;

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub capture: CaptureReport,
    pub flows: Vec<FlowReport>,
    /// Most severe first; among equals, the most important detector first.
    pub findings: Vec<Finding>,
    /// Findings a policy set to `ignore`, per id (absent when none were dropped).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ignored: BTreeMap<&'static str, u64>,
    pub verdict: Verdict,
}

/// The conclusion in plain words: the most important finding and what to try next.
#[derive(Debug, Serialize)]
pub struct Verdict {
    /// `ok` (no finding), or the highest severity found: `info`, `warning`, `error`.
    pub status: &'static str,
    pub summary: String,
    pub next_step: Option<String>,
    /// Index into `findings` of the finding the summary is about.
    pub finding: Option<usize>,
    /// Findings per severity.
    pub counts: BTreeMap<&'static str, usize>,
}

impl Verdict {
    /// From findings already in report order (most important first).
    pub fn new(findings: &[Finding]) -> Self {
        let mut counts = BTreeMap::new();
        for f in findings {
            *counts.entry(f.severity.as_str()).or_default() += 1;
        }
        match findings.first() {
            None => Verdict {
                status: "ok",
                summary: "No problem found: no offload, tunnel or TCP issue in this capture."
                    .into(),
                next_step: None,
                finding: None,
                counts,
            },
            Some(f) if f.severity == Severity::Info => Verdict {
                status: "info",
                summary: format!("No problem found. Of note: {}", f.message),
                next_step: Some(f.hint.clone()),
                finding: Some(0),
                counts,
            },
            Some(f) => Verdict {
                status: f.severity.as_str(),
                summary: f.message.clone(),
                next_step: Some(f.hint.clone()),
                finding: Some(0),
                counts,
            },
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

impl Default for Tool {
    fn default() -> Self {
        Tool {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct LinkTypeReport {
    pub link_type: u32,
    pub name: &'static str,
    pub frames: u64,
}

#[derive(Debug, Serialize)]
pub struct TruncationReport {
    pub offset: u64,
    pub reason: &'static str,
    pub description: String,
}

#[derive(Debug, Serialize)]
pub struct InterfaceStatsReport {
    pub interface: u32,
    pub link_type: u32,
    pub if_recv: Option<u64>,
    pub if_drop: Option<u64>,
    pub os_drop: Option<u64>,
    pub usr_deliv: Option<u64>,
}

impl From<&InterfaceStats> for InterfaceStatsReport {
    fn from(s: &InterfaceStats) -> Self {
        InterfaceStatsReport {
            interface: s.interface,
            link_type: s.link_type,
            if_recv: s.if_recv,
            if_drop: s.if_drop,
            os_drop: s.os_drop,
            usr_deliv: s.usr_deliv,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct CaptureReport {
    pub path: String,
    pub format: Option<&'static str>,
    pub gzip: bool,
    pub sections: u32,
    pub interfaces: usize,
    pub link_types: Vec<LinkTypeReport>,
    pub snaplen: u32,
    pub frames: u64,
    /// Wire bytes (sum of `frame.len`).
    pub bytes: u64,
    /// Captured bytes (sum of `frame.cap_len`).
    pub captured_bytes: u64,
    pub first_timestamp_ns: Option<i64>,
    pub last_timestamp_ns: Option<i64>,
    pub first_time: Option<String>,
    pub last_time: Option<String>,
    pub duration_s: Option<f64>,
    pub file_truncated: bool,
    pub truncation: Option<TruncationReport>,
    /// Frames by what they decoded to (`tcp`, `udp`, `icmp`, `other-ip`, `ip-fragment`, `non-ip`).
    pub decoded: BTreeMap<String, u64>,
    /// Frames that could not be decoded, by reason.
    pub undecoded: BTreeMap<String, u64>,
    pub interface_stats: Vec<InterfaceStatsReport>,
}

/// Capture-wide counters gathered by the app while streaming.
#[derive(Debug, Default, Clone)]
pub struct Totals {
    pub frames: u64,
    pub bytes: u64,
    pub captured_bytes: u64,
    pub first_ts_ns: Option<i64>,
    pub last_ts_ns: Option<i64>,
    /// Frames per global interface index.
    pub per_interface: Vec<u64>,
    pub decoded: BTreeMap<String, u64>,
    pub undecoded: BTreeMap<String, u64>,
}

impl CaptureReport {
    pub fn new(path: String, meta: &CaptureMeta, t: &Totals) -> Self {
        // One row per distinct link type, with the frames seen on its interfaces.
        let mut lts: BTreeMap<u32, u64> = BTreeMap::new();
        for (i, lt) in meta.interfaces.iter().enumerate() {
            *lts.entry(*lt).or_default() += t.per_interface.get(i).copied().unwrap_or(0);
        }
        CaptureReport {
            path,
            format: meta.format.map(|f| f.as_str()),
            gzip: meta.gzip,
            sections: meta.sections,
            interfaces: meta.interfaces.len(),
            link_types: lts
                .into_iter()
                .map(|(lt, frames)| LinkTypeReport {
                    link_type: lt,
                    name: link::name(lt),
                    frames,
                })
                .collect(),
            snaplen: meta.snaplen,
            frames: t.frames,
            bytes: t.bytes,
            captured_bytes: t.captured_bytes,
            first_timestamp_ns: t.first_ts_ns,
            last_timestamp_ns: t.last_ts_ns,
            first_time: t.first_ts_ns.map(format_time),
            last_time: t.last_ts_ns.map(format_time),
            duration_s: match (t.first_ts_ns, t.last_ts_ns) {
                (Some(a), Some(b)) => Some(seconds(b.saturating_sub(a))),
                _ => None,
            },
            file_truncated: meta.truncation.is_some(),
            truncation: meta.truncation.as_ref().map(|tr| TruncationReport {
                offset: tr.offset,
                reason: tr.reason(),
                description: tr.description(),
            }),
            decoded: t.decoded.clone(),
            undecoded: t.undecoded.clone(),
            interface_stats: meta.interface_stats.iter().map(Into::into).collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct TunnelReport {
    pub kind: &'static str,
    /// VNI of client-to-server packets.
    pub vni: u32,
    /// VNI of server-to-client packets (equal to `vni` unless the overlay uses one per direction).
    pub vni_s2c: u32,
    /// Outer (VTEP) address on the client's side and on the server's side.
    pub outer_client: String,
    pub outer_server: String,
}

#[derive(Debug, Serialize)]
pub struct DirReport {
    pub frames: u64,
    pub bytes: u64,
    pub payload_bytes: u64,
    pub max_frame_len: u32,
    pub max_ip_len: u32,
    pub first_frame: Option<u64>,
    pub last_frame: Option<u64>,
    pub first_timestamp_ns: Option<i64>,
    pub last_timestamp_ns: Option<i64>,
    /// TCP analysis of what this side sent (TCP flows only).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpDirReport>,
    /// Coalescing facts and the GRO merge model (TCP directions that sent data).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offload: Option<OffloadDirReport>,
}

/// What the GRO model found for one direction.
#[derive(Debug, Serialize)]
pub struct GroReport {
    /// The kernel generation whose rules were applied (`--kernel`).
    pub kernel: &'static str,
    /// Consecutive data segment pairs; those judged (both at most MTU-sized, at most 250 µs
    /// apart); those the rules would merge.
    pub pairs: u64,
    pub judged_pairs: u64,
    pub mergeable_pairs: u64,
    /// `mergeable_pairs / judged_pairs`.
    pub merge_rate: Option<f64>,
    /// How often each rule failed among the judged pairs (a pair may fail several).
    pub blockers: BTreeMap<&'static str, u64>,
}

/// Coalescing facts of one direction.
#[derive(Debug, Serialize)]
pub struct OffloadDirReport {
    /// Path MTU used, and where it came from (`option`, `mss`, `default`).
    pub mtu: u32,
    pub mtu_source: &'static str,
    pub data_frames: u64,
    /// Wire segments the data frames stand for (a frame of N MSS counts N).
    pub wire_segments: u64,
    /// `wire_segments / data_frames`: 1.0 when nothing was coalesced.
    pub segments_per_frame: Option<f64>,
    pub max_segments_per_frame: u32,
    /// Data frames whose IP packet is larger than `mtu`.
    pub oversized_frames: u64,
    pub gro: GroReport,
}

impl OffloadDirReport {
    pub fn new(g: &GroDir, kernel: Kernel) -> Self {
        OffloadDirReport {
            mtu: g.mtu,
            mtu_source: g.mtu_source.name(),
            data_frames: g.data_frames,
            wire_segments: g.wire_segments,
            segments_per_frame: g.segments_per_frame(),
            max_segments_per_frame: g.max_segments,
            oversized_frames: g.oversized.total,
            gro: GroReport {
                kernel: kernel.name(),
                pairs: g.pairs,
                judged_pairs: g.judged_pairs,
                mergeable_pairs: g.mergeable_pairs,
                merge_rate: g.merge_rate(),
                blockers: g
                    .top_blockers()
                    .into_iter()
                    .map(|(b, n)| (b.name(), n))
                    .collect(),
            },
        }
    }
}

/// RTT summary, in milliseconds.
#[derive(Debug, Serialize)]
pub struct RttReport {
    /// `timestamps` (TSval → TSecr, RFC 7323) or `seq-ack` (segment → covering ACK, Karn's rule).
    pub source: &'static str,
    pub samples: u64,
    pub min_ms: f64,
    pub median_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

#[derive(Debug, Serialize)]
pub struct InflightReport {
    pub peak_bytes: u32,
    pub mean_bytes: f64,
}

/// Goodput and throughput per interval, in bits per second, from the flow's first frame.
#[derive(Debug, Serialize)]
pub struct SeriesReport {
    pub interval_ms: f64,
    pub throughput_bps: Vec<u64>,
    pub goodput_bps: Vec<u64>,
}

/// Per-direction TCP analysis. The counters count frames the way tshark counts its
/// `tcp.analysis.*` flags.
#[derive(Debug, Serialize)]
pub struct TcpDirReport {
    #[serde(flatten)]
    pub counts: Counts,
    pub data_segments: u64,
    pub data_bytes: u64,
    pub new_bytes: u64,
    pub retransmitted_bytes: u64,
    /// Segments that used sequence space (payload, SYN or FIN).
    pub seq_segments: u64,
    /// `retransmissions` / `seq_segments`.
    pub retransmission_rate: f64,
    pub capture_gap_bytes: u64,
    pub capture_gap_events: u64,
    pub zero_window_time_s: f64,
    pub zero_window_at_end: bool,
    pub isn: Option<u32>,
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    pub timestamps: bool,
    pub max_segment_bytes: u32,
    pub rtt: Option<RttReport>,
    pub bytes_in_flight: Option<InflightReport>,
    pub goodput_bps: Option<f64>,
    pub throughput_bps: Option<f64>,
    pub series: Option<SeriesReport>,
}

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

impl TcpDirReport {
    fn new(conn: &TcpConn, side: usize, end_ns: i64) -> Self {
        let m: &DirMetrics = &conn.dirs[side];
        let o = conn.options[side];
        let (samples, source) = m.rtt();
        let transfer = match (m.first_data_ns, m.last_data_ns) {
            (Some(a), Some(b)) if b > a => Some(seconds(b - a)),
            _ => None,
        };
        TcpDirReport {
            counts: m.counts,
            data_segments: m.data_segments,
            data_bytes: m.data_bytes,
            new_bytes: m.new_bytes,
            retransmitted_bytes: m.retransmitted_bytes,
            seq_segments: m.seq_segments,
            retransmission_rate: m.retransmission_rate(),
            capture_gap_bytes: m.capture_gap_bytes,
            capture_gap_events: m.capture_gap_events,
            zero_window_time_s: seconds(m.zero_window_time(end_ns)),
            zero_window_at_end: m.zero_window_open(),
            isn: o.isn,
            mss: o.mss,
            window_scale: conn.window_scale(side),
            sack_permitted: o.sack_permitted,
            timestamps: o.timestamps,
            max_segment_bytes: o.max_payload,
            rtt: samples.quantiles().map(|q| RttReport {
                source: match source {
                    RttSource::Timestamps => "timestamps",
                    RttSource::SeqAck => "seq-ack",
                },
                samples: q.count,
                min_ms: ms(q.min_ns),
                median_ms: ms(q.median_ns),
                p99_ms: ms(q.p99_ns),
                max_ms: ms(q.max_ns),
            }),
            bytes_in_flight: m.inflight_mean().map(|mean| InflightReport {
                peak_bytes: m.inflight_peak,
                mean_bytes: mean,
            }),
            goodput_bps: transfer.map(|t| m.new_bytes as f64 * 8.0 / t),
            throughput_bps: transfer.map(|t| m.data_bytes as f64 * 8.0 / t),
            series: m.series.as_ref().map(|s| {
                let per_s = 8e9 / s.interval_ns() as f64;
                SeriesReport {
                    interval_ms: s.interval_ns() as f64 / 1e6,
                    throughput_bps: s
                        .bins()
                        .iter()
                        .map(|b| (b.0 as f64 * per_s) as u64)
                        .collect(),
                    goodput_bps: s
                        .bins()
                        .iter()
                        .map(|b| (b.1 as f64 * per_s) as u64)
                        .collect(),
                }
            }),
        }
    }
}

/// Connection-level TCP facts.
#[derive(Debug, Serialize)]
pub struct TcpFlowReport {
    /// Which handshake segments were captured: `syn`, `syn-ack`, both, or neither.
    pub syn_seen: bool,
    pub syn_ack_seen: bool,
    /// Window scaling was negotiated in a captured handshake (false: windows are reported
    /// unscaled, see `window_scale`).
    pub window_scaling_known: bool,
    /// SYN to the first ACK without SYN: Wireshark's iRTT (`tcp.analysis.initial_rtt`).
    pub initial_rtt_ms: Option<f64>,
    /// The end the capture was taken on (`client`, `server`), when the capture tells.
    pub capture_point: Option<&'static str>,
    /// How: `sll-packet-type`, `tso-length-zero`, `handshake-timing` or `data-ack-timing`.
    pub capture_point_evidence: Option<&'static str>,
}

impl TcpFlowReport {
    fn new(f: &Flow, conn: &TcpConn) -> Self {
        let point = f.capture_point();
        TcpFlowReport {
            syn_seen: conn.options[f.client].isn.is_some(),
            syn_ack_seen: conn.options[1 - f.client].isn.is_some(),
            window_scaling_known: conn.window_scale(0).is_some() && conn.window_scale(1).is_some(),
            initial_rtt_ms: conn.ws.initial_rtt_ns.map(|n| n as f64 / 1e6),
            capture_point: point.map(|c| f.role(c.side)),
            capture_point_evidence: point.map(|c| c.how),
        }
    }
}

impl DirReport {
    fn new(f: &Flow, side: usize, kernel: Kernel) -> Self {
        let mut r = DirReport::from(&f.dirs[side]);
        r.tcp = f
            .tcp
            .as_deref()
            .map(|c| TcpDirReport::new(c, side, f.last_ts_ns()));
        r.offload = f
            .gro
            .as_deref()
            .map(|g| &g.dirs[side])
            .filter(|g| g.data_frames > 0)
            .map(|g| OffloadDirReport::new(g, kernel));
        r
    }
}

impl From<&DirStats> for DirReport {
    fn from(d: &DirStats) -> Self {
        let some = d.frames > 0;
        DirReport {
            frames: d.frames,
            bytes: d.bytes,
            payload_bytes: d.payload_bytes,
            max_frame_len: d.max_frame_len,
            max_ip_len: d.max_ip_len,
            first_frame: some.then_some(d.first_frame),
            last_frame: some.then_some(d.last_frame),
            first_timestamp_ns: some.then_some(d.first_ts_ns),
            last_timestamp_ns: some.then_some(d.last_ts_ns),
            tcp: None,
            offload: None,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct FlowReport {
    pub id: u32,
    pub protocol: &'static str,
    pub client: String,
    pub server: String,
    pub tunnel: Option<TunnelReport>,
    pub frames: u64,
    pub bytes: u64,
    pub first_frame: u64,
    pub last_frame: u64,
    pub first_timestamp_ns: i64,
    pub last_timestamp_ns: i64,
    pub duration_s: f64,
    pub c2s: DirReport,
    pub s2c: DirReport,
    /// Connection-level TCP facts (TCP flows only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpFlowReport>,
    /// Display filter that shows this flow in Wireshark.
    pub wireshark_filter: String,
}

impl FlowReport {
    /// The report of one flow; `kernel` names the GRO rules the model applied.
    pub fn new(f: &Flow, kernel: Kernel) -> Self {
        let (c, s) = (f.client(), f.server());
        let proto = f.key.protocol.as_str();
        let wireshark_filter = f.wireshark_filter();
        FlowReport {
            id: f.id,
            protocol: proto,
            client: c.to_string(),
            server: s.to_string(),
            tunnel: f.key.tunnel.map(|t| {
                let (oc, os) = f.outer_client_server().unwrap_or((t.outer[0], t.outer[1]));
                // `key.tunnel.vni` is the VNI of the side that created the flow.
                let other = f.reverse_vni.unwrap_or(t.vni);
                let (vni, vni_s2c) = if f.creator == f.client {
                    (t.vni, other)
                } else {
                    (other, t.vni)
                };
                TunnelReport {
                    kind: t.kind.as_str(),
                    vni,
                    vni_s2c,
                    outer_client: oc.to_string(),
                    outer_server: os.to_string(),
                }
            }),
            frames: f.frames(),
            bytes: f.bytes(),
            first_frame: f.first_frame(),
            last_frame: f.last_frame(),
            first_timestamp_ns: f.first_ts_ns(),
            last_timestamp_ns: f.last_ts_ns(),
            duration_s: seconds(f.last_ts_ns().saturating_sub(f.first_ts_ns())),
            c2s: DirReport::new(f, f.client, kernel),
            s2c: DirReport::new(f, 1 - f.client, kernel),
            tcp: f.tcp.as_deref().map(|c| TcpFlowReport::new(f, c)),
            wireshark_filter,
        }
    }
}

pub fn seconds(ns: i64) -> f64 {
    ns as f64 / 1e9
}

/// UTC time as RFC 3339 with nanoseconds, e.g. `2025-10-03T16:30:14.343441000Z`.
pub fn format_time(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_formatting() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00.000000000Z");
        // tcpdump's gso-ipv4-vxlan-ipv4.out: 2025-10-03 16:30:14.343441
        assert_eq!(
            format_time(1_759_509_014_343_441_000),
            "2025-10-03T16:30:14.343441000Z"
        );
        assert_eq!(
            format_time(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000000Z"
        );
        assert_eq!(format_time(-1), "1969-12-31T23:59:59.999999999Z");
    }
}
