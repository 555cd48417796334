//! `out-of-order`: segments that arrived below the highest sequence number soon after it
//! (`tcp.analysis.out_of_order`: within the handshake RTT, or 3 ms without a handshake).
//!
//! Informational: reordering in the network (ECMP, LAG members, multiqueue) or a capture point
//! that merges several paths. A few are harmless; many trigger duplicate ACKs and spurious fast
//! retransmissions, and they end GRO trains.

use serde_json::json;

use super::{
    details, flow_filter, tcp_flows, Detector, Finding, Identity, PerFlow, Severity, Summary,
};
use crate::capture::Frame;
use crate::decode::Packet;
use crate::flow::FlowRef;
use crate::tcp::events::Events;

#[derive(Default)]
pub struct OutOfOrder {
    evidence: PerFlow,
}

impl Identity for OutOfOrder {
    const ID: &'static str = "out-of-order";
    const SEVERITY: Severity = Severity::Info;
}

impl Detector for OutOfOrder {
    fn observe(&mut self, frame: &Frame<'_>, _pkt: &Packet<'_>, flow: Option<FlowRef>) {
        self.evidence
            .record(frame.number, flow, Events::OUT_OF_ORDER);
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for (i, f, conn) in tcp_flows(s.flows) {
            let n = [
                conn.dirs[0].counts.out_of_order,
                conn.dirs[1].counts.out_of_order,
            ];
            if n[0] + n[1] == 0 {
                continue;
            }
            let segs = conn.dirs[0].data_segments + conn.dirs[1].data_segments;
            out.push(Finding {
                id: Self::ID,
                severity: Self::SEVERITY,
                flow: Some(f.id),
                frames: self.evidence.frames(i),
                message: format!(
                    "{} of {segs} data segments arrived out of order ({} from the client, {} from \
                     the server).",
                    n[0] + n[1],
                    n[f.client],
                    n[1 - f.client]
                ),
                hint: "Reordering on the path (ECMP or LAG hashing, several NIC queues) or a \
                       capture that merges several taps. Harmless in small numbers; if it comes \
                       with spurious retransmissions, raise net.ipv4.tcp_reordering or fix the \
                       hashing."
                    .into(),
                wireshark_filter: flow_filter(f, "tcp.analysis.out_of_order"),
                details: details([
                    ("out_of_order", json!(n[0] + n[1])),
                    ("from_client", json!(n[f.client])),
                    ("from_server", json!(n[1 - f.client])),
                    ("data_segments", json!(segs)),
                ]),
            });
        }
        out
    }
}
