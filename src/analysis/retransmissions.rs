//! `retransmissions`: TCP segments sent again, per flow, as Wireshark flags them
//! (`tcp.analysis.retransmission`, which includes fast and spurious retransmissions).
//!
//! Warning when a direction retransmits more than the threshold share of the segments it sent
//! that use sequence space (data, SYN, FIN; default 1%, `--retransmission-threshold`); info below
//! it. Offloads matter here because a
//! segmentation offload turns one lost wire segment of a 64 KB TSO/GSO burst into a resent burst.

use serde_json::json;

use super::{
    details, flow_filter, tcp_flows, Detector, Finding, Identity, PerFlow, Severity, Summary,
};
use crate::capture::Frame;
use crate::decode::Packet;
use crate::flow::FlowRef;
use crate::tcp::events::Events;
use crate::units::{bytes, thousands};

pub struct Retransmissions {
    threshold: f64,
    evidence: PerFlow,
}

impl Retransmissions {
    pub fn new(threshold: f64) -> Self {
        Retransmissions {
            threshold,
            evidence: PerFlow::default(),
        }
    }
}

impl Identity for Retransmissions {
    const ID: &'static str = "retransmissions";
    const SEVERITY: Severity = Severity::Warning;
}

impl Detector for Retransmissions {
    fn observe(&mut self, frame: &Frame<'_>, _pkt: &Packet<'_>, flow: Option<FlowRef>) {
        self.evidence
            .record(frame.number, flow, Events::ANY_RETRANSMISSION);
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for (i, f, conn) in tcp_flows(s.flows) {
            // The direction with the highest rate speaks for the flow.
            let Some((side, rate)) = (0..2)
                .filter(|&d| conn.dirs[d].counts.retransmissions > 0)
                .map(|d| (d, conn.dirs[d].retransmission_rate()))
                .max_by(|a, b| a.1.total_cmp(&b.1))
            else {
                continue;
            };
            let m = &conn.dirs[side];
            let c = m.counts;
            let severity = if rate > self.threshold {
                Self::SEVERITY
            } else {
                Severity::Info
            };
            out.push(Finding {
                id: Self::ID,
                severity,
                flow: Some(f.id),
                frames: self.evidence.frames(i),
                message: format!(
                    "The {} ({}) retransmitted {} of {} segments ({:.1}%, {} of data resent; {} fast, {} spurious).",
                    f.role(side),
                    f.key.ends[side],
                    thousands(c.retransmissions),
                    thousands(m.seq_segments),
                    rate * 100.0,
                    bytes(m.retransmitted_bytes),
                    c.fast_retransmissions,
                    c.spurious_retransmissions,
                ),
                hint: "Find where the packets are lost: compare with a capture at the other end. \
                       Spurious retransmissions mean the data had arrived (RTO too short or ACKs \
                       lost); runs of many consecutive retransmitted segments suggest a lost \
                       TSO/GSO burst: test with `ethtool -K <dev> tso off gso off`."
                    .into(),
                wireshark_filter: flow_filter(f, "tcp.analysis.retransmission"),
                details: details([
                    ("side", json!(f.role(side))),
                    ("retransmissions", json!(c.retransmissions)),
                    ("fast_retransmissions", json!(c.fast_retransmissions)),
                    ("spurious_retransmissions", json!(c.spurious_retransmissions)),
                    ("segments", json!(m.seq_segments)),
                    ("retransmitted_bytes", json!(m.retransmitted_bytes)),
                    ("rate", json!(rate)),
                    ("threshold", json!(self.threshold)),
                ]),
            });
        }
        out
    }
}
