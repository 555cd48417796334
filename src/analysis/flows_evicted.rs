//! `flows-evicted`: the flow table passed its memory budget (`--max-memory`) and the least
//! recently active flows were evicted, so the report is about the flows that stayed.
//!
//! Memory is bounded by design ([`crate::flow::memory`]): a scan or a busy edge capture with
//! millions of flows must finish, not abort. An evicted flow leaves the table with what it
//! measured: it is not in the report's flow list, no other finding is about it, and the
//! findings that count flows (GRO, starved flows) count the others. This finding says how many
//! were evicted, which ids, and what they carried, so that nothing is lost silently; a later
//! packet of an evicted conversation starts a new flow (new id, `after_eviction`), as tcptrace
//! starts a new connection on a reused port.

use serde::Serialize;

use super::{details, Detector, Finding, Identity, Severity, Summary};
use crate::units;

pub struct FlowsEvicted;

/// `details` of a `flows-evicted` finding.
#[derive(Serialize)]
struct Details {
    /// Flows evicted.
    flows: u64,
    /// Frames and wire bytes those flows carried before they were evicted.
    frames: u64,
    bytes: u64,
    /// The evicted ids as inclusive ranges ("1-5000", "5002"), the first 64.
    ids: Vec<String>,
    /// Evicted ids beyond those ranges.
    unlisted_ids: u64,
    /// Flows that started on the 5-tuple of an evicted flow (a later part of its conversation).
    returned: u64,
    /// The budget, and the highest estimate of the bytes the flows held.
    max_memory: u64,
    peak_estimate: u64,
}

impl Identity for FlowsEvicted {
    const ID: &'static str = "flows-evicted";
    const SEVERITY: Severity = Severity::Info;
}

impl Detector for FlowsEvicted {
    /// Judges the flows at the end: never called per frame.
    fn watches(&self) -> super::Watch {
        super::Watch::Nothing
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let e = &s.flows.evicted;
        if e.flows == 0 {
            return Vec::new();
        }
        let budget = s.flows.memory();
        let ids = e
            .ranges
            .iter()
            .map(|&(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect();
        vec![Finding {
            id: Self::ID,
            severity: Self::SEVERITY,
            flow: None,
            frames: Vec::new(),
            frames_total: 0,
            message: format!(
                "{} flows ({} frames) were evicted when the flows' memory passed the {} budget; \
                 the report is about the {} flows that stayed.",
                e.flows,
                e.frames,
                units::bytes(budget.max),
                s.flows.flows.len()
            ),
            hint: "Evicted flows are the least recently active; they are not in the flow list \
                   and no other finding is about them. Raise `--max-memory` to keep more flows, \
                   or narrow the capture (`--flow`, `--host`, `--port`, `--time` select the \
                   report, not the table)."
                .into(),
            wireshark_filter: None,
            details: details(&Details {
                flows: e.flows,
                frames: e.frames,
                bytes: e.bytes,
                ids,
                unlisted_ids: e.unlisted,
                returned: e.returned,
                max_memory: budget.max,
                peak_estimate: budget.peak,
            }),
        }]
    }
}
