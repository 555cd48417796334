//! A/B comparison of two reports (`compare BEFORE AFTER`): the captures side by side, their
//! matched flows, and the findings that appeared or disappeared. Works on reports only, so it
//! costs nothing beyond the two analyses.
//!
//! This is the model (also the JSON document of `compare --format json`): [`metrics`] computes
//! what is compared, [`summary`] the sentences, [`render`] the text tables.

pub mod metrics;
pub mod regression;
pub mod render;
mod summary;

use std::collections::{BTreeSet, HashMap, VecDeque};

use serde::Serialize;

use super::{FlowReport, Report, Tool, SCHEMA_VERSION};
use crate::analysis::{Finding, Severity};
use crate::flow::{Direction, Protocol};
use metrics::{capture_metrics, flow_metrics, metrics, CAPTURE_METRICS, FLOW_METRICS};
pub use metrics::{GroState, GroVerdict, Metric, MetricName, Unit};
pub use render::render;

/// How flows of the two captures are paired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Matching {
    /// Protocol and both endpoints (address and port), either way round.
    Endpoints,
    /// Protocol, both addresses and the server's port; the client's (ephemeral) port is ignored.
    IgnoreEphemeralPorts,
}

/// One side of a matched flow.
#[derive(Debug, Clone, Serialize)]
pub struct FlowSide {
    pub id: u32,
    pub client: String,
    pub server: String,
    pub tunnel: Option<String>,
    pub gro: Option<GroVerdict>,
}

/// Two flows that match, with the metrics of the direction that sent the most data.
#[derive(Debug, Clone, Serialize)]
pub struct FlowPair {
    pub protocol: Protocol,
    pub before: FlowSide,
    pub after: FlowSide,
    /// The direction the metrics are about: `c2s` or `s2c` (in BEFORE's roles).
    pub direction: Direction,
    /// The same direction in AFTER's roles (they differ when the flows matched either way
    /// round).
    #[serde(skip)]
    pub after_direction: Direction,
    pub metrics: Vec<Metric>,
}

/// A finding named in the comparison.
#[derive(Debug, Clone, Serialize)]
pub struct FindingRef {
    pub id: &'static str,
    pub severity: Severity,
    /// Its flow id in the capture it comes from (`None`: capture-wide).
    pub flow: Option<u32>,
    pub message: String,
}

impl FindingRef {
    fn new(f: &Finding) -> Self {
        FindingRef {
            id: f.id,
            severity: f.severity,
            flow: f.flow,
            message: f.message.clone(),
        }
    }
}

/// Findings by whether the change brought or removed them.
#[derive(Debug, Default, Serialize)]
pub struct FindingChanges {
    /// In AFTER only (ids in AFTER's numbering).
    pub appeared: Vec<FindingRef>,
    /// In BEFORE only (ids in BEFORE's numbering).
    pub disappeared: Vec<FindingRef>,
    /// In both (BEFORE's numbering).
    pub unchanged: Vec<FindingRef>,
}

/// The JSON document of `compare --format json` (docs/json-format.md).
#[derive(Debug, Serialize)]
pub struct Comparison {
    pub schema_version: u32,
    pub tool: Tool,
    pub before: String,
    pub after: String,
    pub matching: Matching,
    /// Capture-wide metrics (TCP sums over every direction that sent data).
    pub capture: Vec<Metric>,
    pub capture_gro: [GroVerdict; 2],
    /// Matched flows, largest (bytes in both captures) first.
    pub flows: Vec<FlowPair>,
    /// Flow ids without a match.
    pub unmatched_before: Vec<u32>,
    pub unmatched_after: Vec<u32>,
    pub findings: FindingChanges,
    /// One sentence per notable change, most important first; a warning alone when the
    /// captures share no flow.
    pub summary: Vec<String>,
    /// With `--fail-on-regression`: what makes AFTER worse (empty: no regression).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regressions: Option<Vec<String>>,
}

/// The key flows are matched on.
fn key(f: &FlowReport, m: Matching) -> (Protocol, String, String) {
    let host = |ep: &str| ep.rsplit_once(':').map_or(ep, |(h, _)| h).to_string();
    match m {
        Matching::Endpoints => {
            // Either way round: a capture without the handshake may name the roles the other way.
            let (a, b) = if f.client <= f.server {
                (&f.client, &f.server)
            } else {
                (&f.server, &f.client)
            };
            (f.protocol, a.clone(), b.clone())
        }
        Matching::IgnoreEphemeralPorts => (f.protocol, host(&f.client), f.server.clone()),
    }
}

/// Pairs flows with equal keys in order of appearance: (before index, after index).
fn pair_flows(b: &Report, a: &Report, m: Matching) -> Vec<(usize, usize)> {
    // AFTER's flows per key, in order of appearance: one hash lookup per BEFORE flow, so a
    // capture with many flows stays linear.
    let mut after: HashMap<_, VecDeque<usize>> = HashMap::new();
    for (j, f) in a.flows.iter().enumerate() {
        after.entry(key(f, m)).or_default().push_back(j);
    }
    b.flows
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let j = after.get_mut(&key(f, m))?.pop_front()?;
            Some((i, j))
        })
        .collect()
}

impl Comparison {
    pub fn new(before: &Report, after: &Report, matching: Matching) -> Self {
        let (cb, gb) = capture_metrics(before);
        let (ca, ga) = capture_metrics(after);
        let pairs = pair_flows(before, after, matching);
        let mut flows: Vec<(u64, FlowPair)> = pairs
            .iter()
            .map(|&(i, j)| {
                let (fb, fa) = (&before.flows[i], &after.flows[j]);
                let payload = |f: &FlowReport, d: Direction| f.dir(d).payload_bytes;
                // The bulk direction of the two together; roles are the same in matched flows
                // unless the keys matched either way round, so go by endpoint.
                let swapped = fb.client != fa.client && fb.client == fa.server;
                let after_dir = |d: Direction| if swapped { d.reverse() } else { d };
                let (c2s, s2c) = (Direction::C2s, Direction::S2c);
                let dir = if payload(fb, s2c) + payload(fa, after_dir(s2c))
                    > payload(fb, c2s) + payload(fa, after_dir(c2s))
                {
                    s2c
                } else {
                    c2s
                };
                let (mb, gb) = flow_metrics(fb, dir);
                let (ma, ga) = flow_metrics(fa, after_dir(dir));
                let side_of = |f: &FlowReport, gro| FlowSide {
                    id: f.id,
                    client: f.client.clone(),
                    server: f.server.clone(),
                    tunnel: f.tunnel.as_ref().map(|t| format!("{} {}", t.path(), t.vni)),
                    gro,
                };
                (
                    fb.bytes + fa.bytes,
                    FlowPair {
                        protocol: fb.protocol,
                        before: side_of(fb, gb),
                        after: side_of(fa, ga),
                        direction: dir,
                        after_direction: after_dir(dir),
                        metrics: metrics(FLOW_METRICS, &mb, &ma),
                    },
                )
            })
            .collect();
        flows.sort_by_key(|(bytes, p)| (std::cmp::Reverse(*bytes), p.before.id));
        let flows: Vec<FlowPair> = flows.into_iter().map(|(_, p)| p).collect();

        let matched_b: BTreeSet<u32> = flows.iter().map(|p| p.before.id).collect();
        let matched_a: BTreeSet<u32> = flows.iter().map(|p| p.after.id).collect();
        let findings = finding_changes(before, after, &flows);
        let capture = metrics(&CAPTURE_METRICS, &cb, &ca);
        let summary = if flows.is_empty() {
            vec![no_shared_flows(before, after, matching)]
        } else {
            summary::summary(&capture, flows.first(), &gb, &ga, &findings)
        };
        Comparison {
            schema_version: SCHEMA_VERSION,
            tool: Tool::default(),
            before: before.capture.path.clone(),
            after: after.capture.path.clone(),
            matching,
            capture,
            capture_gro: [gb, ga],
            unmatched_before: before
                .flows
                .iter()
                .map(|f| f.id)
                .filter(|id| !matched_b.contains(id))
                .collect(),
            unmatched_after: after
                .flows
                .iter()
                .map(|f| f.id)
                .filter(|id| !matched_a.contains(id))
                .collect(),
            flows,
            findings,
            summary,
            regressions: None,
        }
    }
}

/// The warning that replaces the summary when no flow matched: the capture-wide figures then
/// describe different traffic, and a "-100%" would call an unrelated pair a regression.
fn no_shared_flows(before: &Report, after: &Report, matching: Matching) -> String {
    let hint = match matching {
        Matching::Endpoints => {
            " If the connections were re-made between the captures, try --ignore-ephemeral-ports."
        }
        Matching::IgnoreEphemeralPorts => "",
    };
    format!(
        "Warning: the captures share no flow (BEFORE has {}, AFTER {}): nothing is compared \
         flow by flow, and the capture-wide figures below describe different traffic.{hint}",
        before.flows.len(),
        after.flows.len()
    )
}

/// Findings keyed by id and flow, AFTER's flows renamed to BEFORE's through the matching.
fn finding_changes(before: &Report, after: &Report, flows: &[FlowPair]) -> FindingChanges {
    type Key = (&'static str, Option<u32>);
    let before_id: HashMap<u32, u32> = flows.iter().map(|p| (p.after.id, p.before.id)).collect();
    // AFTER's flow in BEFORE's numbering; `None` for a flow without a match.
    let to_before = |flow: Option<u32>| -> Option<Option<u32>> {
        match flow {
            None => Some(None),
            Some(a) => before_id.get(&a).map(|&b| Some(b)),
        }
    };
    let before_keys: BTreeSet<Key> = before.findings.iter().map(|f| (f.id, f.flow)).collect();
    let after_keys: BTreeSet<Key> = after
        .findings
        .iter()
        .filter_map(|f| to_before(f.flow).map(|fl| (f.id, fl)))
        .collect();
    let mut out = FindingChanges::default();
    let mut seen: BTreeSet<Key> = BTreeSet::new();
    for f in &after.findings {
        let k = to_before(f.flow).map(|fl| (f.id, fl));
        if k.is_none_or(|k| !before_keys.contains(&k)) && seen.insert((f.id, f.flow)) {
            out.appeared.push(FindingRef::new(f));
        }
    }
    seen.clear();
    for f in &before.findings {
        if !seen.insert((f.id, f.flow)) {
            continue;
        }
        if after_keys.contains(&(f.id, f.flow)) {
            out.unchanged.push(FindingRef::new(f));
        } else {
            out.disappeared.push(FindingRef::new(f));
        }
    }
    out
}
