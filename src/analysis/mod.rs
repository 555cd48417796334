//! Analysis: detectors that watch the packet stream and turn what they saw into findings.
//!
//! This stage owns the verdicts. A detector is one file implementing [`Detector`] and
//! [`Identity`] (its finding id and severity, as constants its findings use), registered in
//! [`registry`], with a section in docs/detectors.md. It sees every decoded frame once
//! ([`Detector::on_frame`], on the hot path: no allocation there) through one [`FrameCtx`], and
//! at the end the capture summary and the flow table ([`Detector::finish`]). Detectors of the TCP
//! engine's event flags share one implementation ([`events`]). Findings ([`finding`]) cite
//! 1-based frame numbers, the same numbers Wireshark shows, and carry typed details. [`kit`]
//! holds the helpers detectors share.

mod backoff;
mod burst_retransmission;
mod capture_duplicates;
mod capture_gaps;
mod capture_header;
pub mod events;
pub mod finding;
mod flows_evicted;
mod fragmentation;
mod gro_blocked_headers;
mod gro_blocked_ip_id;
mod high_inflight;
mod keep_alive;
pub mod kit;
mod no_coalescing;
mod out_of_order;
mod oversized_frames;
mod path_loss;
pub mod peer;
pub mod peer_chain;
pub mod peer_changes;
mod peer_loss;
pub mod peer_match;
#[cfg(test)]
mod peer_tests;
pub mod qlog_join;
mod quic_flow_control;
mod quic_handshake_failed;
mod quic_handshake_slow;
mod quic_loss;
mod quic_memory;
mod quic_qlog_mismatch;
mod quic_stall;
mod receiver_drop;
mod retransmissions;
mod sender_drop;
mod snaplen;
mod starved_flow;
mod timestamps;
mod truncation;
mod udp_gso_superframes;
mod udp_stall;
mod zero_window;

use std::sync::Arc;

use crate::capture::{CaptureMeta, Frame};
use crate::decode::Packet;
use crate::flow::{FlowConfig, FlowRef, FlowTable};
use crate::qlog::QlogTrace;

pub use crate::evidence::{Evidence, MAX_EVIDENCE};
use events::EventDetector;
pub use finding::{details, Finding, Severity};

/// What a detector sees of one frame: the frame, what it decoded to, and where it landed.
pub struct FrameCtx<'a> {
    pub frame: &'a Frame<'a>,
    pub pkt: &'a Packet,
    /// Its flow and sender (TCP and UDP only), with the TCP engine's flags for it.
    pub flow: Option<FlowRef>,
}

/// Everything a detector may look at when the capture has been read.
pub struct Summary<'a> {
    pub meta: &'a CaptureMeta,
    /// Frames read; also the number of the last one, since frame numbers count every record.
    pub frames: u64,
    pub flows: &'a FlowTable,
    /// With `--peer`: the comparison of this capture with the peer's.
    pub peer: Option<peer_match::PeerView<'a>>,
}

/// The frames a detector watches ([`Detector::watches`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Watch {
    /// None: it reads only the flows at the end.
    Nothing,
    /// Those with a TCP header.
    Tcp,
    /// Those with a UDP header and no TCP header (the innermost transport is UDP).
    Udp,
    /// Every frame.
    All,
}

impl Watch {
    /// Whether a detector that watches `self` sees a frame of `class`.
    pub fn sees(self, class: Watch) -> bool {
        self == Watch::All || (self == class && self != Watch::Nothing)
    }
}

/// A detector: watches frames, then reports.
pub trait Detector {
    /// Called for every frame, in order. Must not allocate per call.
    fn on_frame(&mut self, _ctx: &FrameCtx<'_>) {}
    /// Which frames [`Detector::on_frame`] does anything with: the pass calls it only on those
    /// (a virtual call per frame and detector was a tenth of the analysis thread's work).
    fn watches(&self) -> Watch {
        Watch::All
    }
    /// Called when the flow table evicted the flows of `indexes` (their ids - 1) to stay within
    /// its memory budget: a detector forgets what it kept for them (their findings go with
    /// them; `flows-evicted` says so).
    fn evicted(&mut self, _indexes: &[usize]) {}
    /// Called once at the end; returns the findings (possibly none).
    fn finish(&mut self, summary: &Summary<'_>) -> Vec<Finding>;
}

/// What a detector's findings are called and how severe they are, known before any frame is
/// read (policies, JUnit test cases). Its findings take both from here.
pub trait Identity {
    /// The id of every finding it reports (stable, kebab-case; a section of docs/detectors.md).
    const ID: &'static str;
    /// The severity of its findings when they are a problem. Detectors with a threshold report
    /// what stays below it as info; a policy's severity replaces this level only.
    const SEVERITY: Severity;
}

/// A detector in the registry, with its identity.
pub struct Registered {
    pub id: &'static str,
    pub severity: Severity,
    pub detector: Box<dyn Detector>,
}

fn entry<D: Detector + Identity + 'static>(d: D) -> Registered {
    Registered {
        id: D::ID,
        severity: D::SEVERITY,
        detector: Box::new(d),
    }
}

/// Settings of one analysis run: the flow table's and the detectors'.
#[derive(Debug, Clone)]
pub struct Settings {
    pub flows: FlowConfig,
    /// `retransmissions` warns above this share of a direction's data segments (0.01 = 1%).
    pub retransmission_threshold: f64,
    /// `high-inflight` warns when connections have more than this many bytes in flight at once.
    pub inflight_budget: u64,
    /// `quic-memory`: the buffer bytes one QUIC connection holds, and the memory for all of them
    /// (warns when the peak of concurrent connections times the first exceeds the second).
    pub conn_buffer: Option<u64>,
    pub memory_budget: Option<u64>,
    /// Severities a policy sets per finding id; `None` drops the finding (`ignore`).
    pub severities: Vec<(&'static str, Option<Severity>)>,
    /// The endpoints' qlog traces (`--qlog`), joined with the capture's QUIC connections.
    pub qlog: Arc<[QlogTrace]>,
    /// The packets of another capture of the same traffic (`--peer`), for `path-loss`.
    pub peer: Option<Arc<peer::Index>>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            flows: FlowConfig::default(),
            retransmission_threshold: 0.01,
            inflight_budget: high_inflight::DEFAULT_BUDGET,
            conn_buffer: None,
            memory_budget: None,
            severities: Vec::new(),
            qlog: Arc::new([]),
            peer: None,
        }
    }
}

/// The list of detectors, most important first: findings of equal severity are reported (and
/// the verdict is chosen) in this order.
pub fn registry(settings: &Settings) -> Vec<Registered> {
    let kernel = settings.flows.gro.kernel;
    let mtu = settings.flows.gro.mtu;
    vec![
        entry(gro_blocked_ip_id::GroBlockedIpId::new(kernel)),
        entry(no_coalescing::NoCoalescing),
        entry(gro_blocked_headers::GroBlockedHeaders::new(kernel)),
        entry(burst_retransmission::BurstRetransmission::default()),
        entry(path_loss::PathLoss),
        entry(sender_drop::SenderDrop),
        entry(receiver_drop::ReceiverDrop),
        entry(starved_flow::StarvedFlow),
        entry(quic_qlog_mismatch::QuicQlogMismatch::new(
            settings.qlog.clone(),
        )),
        entry(quic_handshake_failed::QuicHandshakeFailed),
        entry(quic_handshake_slow::QuicHandshakeSlow),
        entry(quic_loss::QuicLoss::new(settings.retransmission_threshold)),
        entry(quic_flow_control::QuicFlowControl),
        entry(quic_stall::QuicStall::new(settings.qlog.clone())),
        entry(udp_stall::UdpStall::default()),
        entry(udp_gso_superframes::UdpGsoSuperframes::new(mtu)),
        entry(high_inflight::HighInflight::new(settings.inflight_budget)),
        entry(quic_memory::QuicMemory::new(
            settings.conn_buffer,
            settings.memory_budget,
            settings.qlog.clone(),
        )),
        entry(oversized_frames::OversizedFrames),
        entry(truncation::Truncation),
        entry(capture_header::CaptureHeader),
        entry(snaplen::Snaplen::default()),
        entry(timestamps::Timestamps::default()),
        entry(fragmentation::Fragmentation::default()),
        entry(EventDetector(capture_gaps::CaptureGaps)),
        entry(EventDetector(retransmissions::Retransmissions::new(
            settings.retransmission_threshold,
        ))),
        entry(EventDetector(zero_window::ZeroWindow)),
        entry(EventDetector(keep_alive::KeepAlive)),
        entry(EventDetector(out_of_order::OutOfOrder)),
        entry(EventDetector(capture_duplicates::CaptureDuplicates)),
        entry(flows_evicted::FlowsEvicted),
    ]
}

/// The finding ids of every detector, in registry order (most important first).
pub fn finding_ids() -> Vec<&'static str> {
    registry(&Settings::default())
        .iter()
        .map(|r| r.id)
        .collect()
}

/// The findings of a run, and those a policy dropped.
pub struct Findings {
    /// Most severe first, then in registry order (most important detector first), then by flow.
    pub findings: Vec<Finding>,
    /// Findings dropped by an `ignore` severity, per id.
    pub ignored: Vec<(&'static str, u64)>,
}

/// Runs every detector's `finish`, applies the severities of `settings` and orders the findings.
pub fn finish_all(
    detectors: &mut [Registered],
    summary: &Summary<'_>,
    settings: &Settings,
) -> Findings {
    let mut all: Vec<(usize, Finding)> = Vec::new();
    let mut ignored = Vec::new();
    for (i, r) in detectors.iter_mut().enumerate() {
        let found = r.detector.finish(summary);
        debug_assert!(found.iter().all(|f| f.id == r.id));
        match settings.severities.iter().find(|(id, _)| *id == r.id) {
            Some((id, None)) => {
                if !found.is_empty() {
                    ignored.push((*id, found.len() as u64));
                }
            }
            Some((_, Some(to))) => {
                all.extend(found.into_iter().map(|mut f| {
                    if f.severity == r.severity {
                        f.severity = *to;
                    }
                    (i, f)
                }));
            }
            None => all.extend(found.into_iter().map(|f| (i, f))),
        }
    }
    all.sort_by(|(ia, a), (ib, b)| {
        b.severity
            .cmp(&a.severity)
            .then(ia.cmp(ib))
            .then(a.flow.cmp(&b.flow))
    });
    Findings {
        findings: all.into_iter().map(|(_, f)| f).collect(),
        ignored,
    }
}
