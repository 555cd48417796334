//! Analysis: detectors that watch the packet stream and turn what they saw into findings.
//!
//! A detector is one file implementing [`Detector`] and [`Identity`] (its finding id and
//! severity, as constants its findings use), registered in [`registry`]. It sees every
//! decoded frame once ([`Detector::observe`], on the hot path: no allocation there) and, at the
//! end, the capture summary and the flow table ([`Detector::finish`]). Findings cite 1-based frame
//! numbers, the same numbers Wireshark shows.

mod burst_retransmission;
mod capture_gaps;
mod fragmentation;
mod gro_blocked_headers;
mod gro_blocked_ip_id;
mod high_inflight;
mod keep_alive;
mod no_coalescing;
mod out_of_order;
mod oversized_frames;
mod retransmissions;
mod snaplen;
mod starved_flow;
mod truncation;
mod udp_gso_superframes;
mod udp_stall;
mod zero_window;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::capture::{CaptureMeta, Frame};
use crate::decode::Packet;
use crate::flow::{Flow, FlowConfig, FlowRef, FlowTable};
use crate::gro::GroDir;
use crate::tcp::events::Events;
use crate::tcp::TcpConn;

pub use crate::evidence::{Evidence, MAX_EVIDENCE};
pub use starved_flow::jain_index;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One diagnosis, with its evidence.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Stable kebab-case id (part of the interface: CI policies refer to it).
    pub id: &'static str,
    pub severity: Severity,
    /// The flow it is about, or `None` for the whole capture.
    pub flow: Option<u32>,
    /// Evidence: 1-based frame numbers (at most [`MAX_EVIDENCE`]).
    pub frames: Vec<u64>,
    /// One sentence: what was seen.
    pub message: String,
    /// What to do about it.
    pub hint: String,
    /// A Wireshark display filter that shows the evidence.
    pub wireshark_filter: Option<String>,
    pub details: Map<String, Value>,
}

/// Everything a detector may look at when the capture has been read.
pub struct Summary<'a> {
    pub meta: &'a CaptureMeta,
    /// Frames read; also the number of the last one, since frame numbers count every record.
    pub frames: u64,
    pub flows: &'a FlowTable,
}

/// A detector: watches frames, then reports.
pub trait Detector {
    /// Called for every frame, in order. Must not allocate per call.
    fn observe(&mut self, _frame: &Frame<'_>, _pkt: &Packet<'_>, _flow: Option<FlowRef>) {}
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
    /// Severities a policy sets per finding id; `None` drops the finding (`ignore`).
    pub severities: Vec<(&'static str, Option<Severity>)>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            flows: FlowConfig::default(),
            retransmission_threshold: 0.01,
            inflight_budget: high_inflight::DEFAULT_BUDGET,
            severities: Vec::new(),
        }
    }
}

/// The list of detectors, most important first: findings of equal severity are reported (and
/// the verdict is chosen) in this order.
pub fn registry(settings: &Settings) -> Vec<Registered> {
    let kernel = settings.flows.gro.kernel;
    vec![
        entry(gro_blocked_ip_id::GroBlockedIpId::new(kernel)),
        entry(no_coalescing::NoCoalescing),
        entry(gro_blocked_headers::GroBlockedHeaders::new(kernel)),
        entry(burst_retransmission::BurstRetransmission::default()),
        entry(starved_flow::StarvedFlow::default()),
        entry(udp_stall::UdpStall::default()),
        entry(udp_gso_superframes::UdpGsoSuperframes::new(
            settings.flows.gro.mtu,
        )),
        entry(high_inflight::HighInflight::new(settings.inflight_budget)),
        entry(oversized_frames::OversizedFrames),
        entry(truncation::Truncation),
        entry(snaplen::Snaplen::default()),
        entry(fragmentation::Fragmentation::default()),
        entry(capture_gaps::CaptureGaps::default()),
        entry(retransmissions::Retransmissions::new(
            settings.retransmission_threshold,
        )),
        entry(zero_window::ZeroWindow::default()),
        entry(keep_alive::KeepAlive::default()),
        entry(out_of_order::OutOfOrder::default()),
    ]
}

/// The finding ids of every detector, in registry order (most important first).
pub fn finding_ids() -> Vec<&'static str> {
    registry(&Settings::default())
        .iter()
        .map(|r| r.id)
        .collect()
}

/// Evidence frames per flow (by flow index), for detectors that report flow by flow. Grows with
/// flows that have evidence, not with packets.
#[derive(Debug, Default)]
pub struct PerFlow {
    map: rustc_hash::FxHashMap<usize, Evidence>,
}

impl PerFlow {
    /// Records `frame` for the flow of `flow` when its events include any of `flags`.
    pub fn record(&mut self, frame: u64, flow: Option<FlowRef>, flags: Events) {
        if let Some(f) = flow.filter(|f| f.events.any(flags)) {
            self.map.entry(f.index).or_default().push(frame);
        }
    }

    /// Evidence frames of a flow (empty when none).
    pub fn frames(&self, index: usize) -> Vec<u64> {
        self.map
            .get(&index)
            .map(Evidence::frames)
            .unwrap_or_default()
    }
}

/// Every direction of a TCP flow that sent data, with its coalescing facts and GRO model.
pub fn gro_dirs<'a>(
    flows: &'a FlowTable,
) -> impl Iterator<Item = (usize, &'a Flow, usize, &'a GroDir)> + 'a {
    flows.flows.iter().enumerate().flat_map(|(i, f)| {
        f.gro
            .as_deref()
            .into_iter()
            .flat_map(move |g| (0..2).map(move |side| (i, f, side, &g.dirs[side])))
            .filter(|(_, _, _, d)| d.data_frames > 0)
    })
}

/// "the server (10.0.0.2:80)": who sent `side`'s packets, for messages.
pub fn sender(f: &Flow, side: usize) -> String {
    format!("the {} ({})", f.role(side), f.key.ends[side])
}

/// `a / b`, or 0 when `b` is 0.
pub fn share(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The TCP flows of the table with their analysis state.
pub fn tcp_flows<'a>(
    flows: &'a FlowTable,
) -> impl Iterator<Item = (usize, &'a Flow, &'a TcpConn)> + 'a {
    flows
        .flows
        .iter()
        .enumerate()
        .filter_map(|(i, f)| f.tcp.as_deref().map(|c| (i, f, c)))
}

/// Builds a `details` map from pairs.
pub fn details<'a>(pairs: impl IntoIterator<Item = (&'a str, Value)>) -> Map<String, Value> {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The `side` and `sender` entries of a per-direction finding's details.
pub fn side_details(f: &Flow, side: usize) -> [(&'static str, Value); 2] {
    [
        ("side", Value::from(f.role(side))),
        ("sender", Value::from(f.key.ends[side].to_string())),
    ]
}

/// A display filter for a flow's evidence: the flow's filter `&&` `evidence`.
pub fn flow_filter(f: &Flow, evidence: &str) -> Option<String> {
    Some(format!("{} && {evidence}", f.wireshark_filter()))
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
