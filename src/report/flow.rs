//! The flow part of the report: one [`FlowReport`] per flow, with per-direction TCP analysis and
//! coalescing facts.

use std::collections::BTreeMap;

use serde::Serialize;

use super::icmp::IcmpErrorsReport;
use super::quic::QuicReport;
use super::time::seconds;
use crate::decode::TunnelKind;
use crate::flow::{CaptureEvidence, DirStats, Direction, Flow, Protocol, Side};
use crate::gro::{GroDir, Kernel, MtuSource};
use crate::tcp::metrics::{Counts, DirMetrics};
use crate::tcp::TcpConn;

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
    /// The tunnels that carried this one, outermost first (`["erspan"]` for VXLAN seen through
    /// a port mirror); absent when the tunnel was the only one.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub via: Vec<&'static str>,
}

impl TunnelReport {
    /// The tunnel as one short name: its kind behind the ones that carried it (`erspan/vxlan`).
    pub fn path(&self) -> String {
        let mut s = String::new();
        for k in self.via.iter().chain([&self.kind]) {
            if !s.is_empty() {
                s.push('/');
            }
            s.push_str(k);
        }
        s
    }
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
    /// ICMP errors that quoted a packet of this direction (absent when none did).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icmp_errors: Option<IcmpErrorsReport>,
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
    pub mtu_source: MtuSource,
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
            mtu_source: g.mtu_source,
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
    /// `seq-ack` (segment → covering ACK, Karn's rule), `timestamps` (TSval → first TSecr,
    /// RFC 7323) or `seq-ack+timestamps` (timestamps for the ACKs of resent data).
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
    fn new(conn: &TcpConn, side: Side, end_ns: i64) -> Self {
        let m: &DirMetrics = &conn.dirs()[side];
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
            seq_segments: conn.seq_segments(side),
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
                source: source.name(),
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
    pub capture_point_evidence: Option<CaptureEvidence>,
}

impl TcpFlowReport {
    fn new(f: &Flow, conn: &TcpConn) -> Self {
        let point = f.capture_point();
        TcpFlowReport {
            syn_seen: conn.options[f.client].isn.is_some(),
            syn_ack_seen: conn.options[f.client.other()].isn.is_some(),
            window_scaling_known: Side::BOTH.iter().all(|&s| conn.window_scale(s).is_some()),
            initial_rtt_ms: conn.ws.initial_rtt_ns.map(|n| n as f64 / 1e6),
            capture_point: point.map(|c| f.role(c.side)),
            capture_point_evidence: point.map(|c| c.how),
        }
    }
}

impl DirReport {
    fn new(f: &Flow, side: Side, kernel: Kernel) -> Self {
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
        r.icmp_errors = f.icmp_about(side).map(Into::into);
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
            icmp_errors: None,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct FlowReport {
    pub id: u32,
    pub protocol: Protocol,
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
    /// The QUIC view (UDP flows that began with a client Initial).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quic: Option<QuicReport>,
    /// For a flow that is another path of a QUIC connection (its short headers carried the
    /// connection's IDs): the id of the flow whose `quic` describes the connection.
    pub quic_connection: Option<u32>,
    /// Display filter that shows this flow in Wireshark.
    pub wireshark_filter: String,
    /// The flow's 5-tuple is that of a flow evicted before (`flows-evicted`): a later part of
    /// the same conversation, under a new id. Absent when false.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub after_eviction: bool,
}

impl FlowReport {
    /// The report of one direction.
    pub fn dir(&self, d: Direction) -> &DirReport {
        match d {
            Direction::C2s => &self.c2s,
            Direction::S2c => &self.s2c,
        }
    }

    /// The report of one flow; `kernel` names the GRO rules the model applied.
    pub fn new(f: &Flow, kernel: Kernel) -> Self {
        let (c, s) = (f.client(), f.server());
        let wireshark_filter = f.wireshark_filter();
        FlowReport {
            id: f.id,
            protocol: f.key.protocol,
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
                    via: t.via.kinds().map(TunnelKind::as_str).collect(),
                }
            }),
            frames: f.frames(),
            bytes: f.bytes(),
            first_frame: f.first_frame(),
            last_frame: f.last_frame(),
            first_timestamp_ns: f.first_ts_ns(),
            last_timestamp_ns: f.last_ts_ns(),
            duration_s: seconds(f.last_ts_ns().saturating_sub(f.first_ts_ns())),
            c2s: DirReport::new(f, f.side_of(Direction::C2s), kernel),
            s2c: DirReport::new(f, f.side_of(Direction::S2c), kernel),
            tcp: f.tcp.as_deref().map(|c| TcpFlowReport::new(f, c)),
            quic: f.quic.as_deref().map(|q| QuicReport::new(f, q)),
            quic_connection: f.quic_path.map(|p| p.conn as u32 + 1),
            wireshark_filter,
            after_eviction: f.after_eviction,
        }
    }
}
