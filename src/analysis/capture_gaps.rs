//! `capture-gaps`: data the receiver acknowledged but the capture never saw.
//!
//! A sequence hole ("previous segment not captured") that is later filled by a retransmission
//! was lost on the network; one that the receiver acknowledges without it ever appearing was lost
//! by the capture itself (a full capture buffer, a SPAN port dropping, a capture that started
//! late). Then every loss figure from this capture is a lower bound. pcapng interface statistics
//! that report drops are cited too.

use serde_json::json;

use super::{
    details, flow_filter, tcp_flows, Detector, Finding, Identity, PerFlow, Severity, Summary,
};
use crate::capture::Frame;
use crate::decode::Packet;
use crate::flow::FlowRef;
use crate::tcp::events::Events;
use crate::units::bytes;

#[derive(Default)]
pub struct CaptureGaps {
    evidence: PerFlow,
}

impl Identity for CaptureGaps {
    const ID: &'static str = "capture-gaps";
    const SEVERITY: Severity = Severity::Warning;
}

impl Detector for CaptureGaps {
    fn observe(&mut self, frame: &Frame<'_>, _pkt: &Packet<'_>, flow: Option<FlowRef>) {
        self.evidence.record(
            frame.number,
            flow,
            Events::ACK_LOST_SEGMENT | Events::LOST_SEGMENT,
        );
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        let dropped: u64 = s
            .meta
            .interface_stats
            .iter()
            .map(|i| i.if_drop.unwrap_or(0) + i.os_drop.unwrap_or(0))
            .sum();
        for (i, f, conn) in tcp_flows(s.flows) {
            let gap = conn.dirs[0].capture_gap_bytes + conn.dirs[1].capture_gap_bytes;
            if gap == 0 {
                continue;
            }
            let events = conn.dirs[0].capture_gap_events + conn.dirs[1].capture_gap_events;
            out.push(Finding {
                id: Self::ID,
                severity: Self::SEVERITY,
                flow: Some(f.id),
                frames: self.evidence.frames(i),
                message: format!(
                    "The capture missed {} of this connection in {events} places that the \
                     receiver acknowledged: loss and retransmission figures are a lower bound.",
                    bytes(gap)
                ),
                hint: "The capture itself dropped packets, or started late. Capture with a larger \
                       buffer (tcpdump -B 65536), a smaller snaplen (-s 128), on the host rather \
                       than a SPAN port, or filter to fewer flows."
                    .into(),
                wireshark_filter: flow_filter(
                    f,
                    "(tcp.analysis.ack_lost_segment || tcp.analysis.lost_segment)",
                ),
                details: details([
                    ("gap_bytes", json!(gap)),
                    ("gap_events", json!(events)),
                    (
                        "client_gap_bytes",
                        json!(conn.dirs[f.client].capture_gap_bytes),
                    ),
                    (
                        "server_gap_bytes",
                        json!(conn.dirs[1 - f.client].capture_gap_bytes),
                    ),
                    ("interface_drops", json!(dropped)),
                ]),
            });
        }
        out
    }
}
