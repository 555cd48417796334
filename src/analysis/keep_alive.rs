//! `keep-alive`: TCP keep-alives (`tcp.analysis.keep_alive`): one byte (or none) one before the
//! next expected sequence number, sent to check an idle peer.
//!
//! Informational: on an idle connection they are normal; on one that should be moving data they
//! mean it is stalled (read them together with `zero-window`).

use serde_json::json;

use super::{
    details, flow_filter, tcp_flows, Detector, Finding, Identity, PerFlow, Severity, Summary,
};
use crate::capture::Frame;
use crate::decode::Packet;
use crate::flow::FlowRef;
use crate::tcp::events::Events;

#[derive(Default)]
pub struct KeepAlive {
    evidence: PerFlow,
}

impl Identity for KeepAlive {
    const ID: &'static str = "keep-alive";
    const SEVERITY: Severity = Severity::Info;
}

impl Detector for KeepAlive {
    fn observe(&mut self, frame: &Frame<'_>, _pkt: &Packet<'_>, flow: Option<FlowRef>) {
        self.evidence.record(frame.number, flow, Events::KEEP_ALIVE);
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for (i, f, conn) in tcp_flows(s.flows) {
            let n = [
                conn.dirs[0].counts.keep_alives,
                conn.dirs[1].counts.keep_alives,
            ];
            if n[0] + n[1] == 0 {
                continue;
            }
            let data = conn.dirs[0].data_bytes + conn.dirs[1].data_bytes;
            out.push(Finding {
                id: Self::ID,
                severity: Self::SEVERITY,
                flow: Some(f.id),
                frames: self.evidence.frames(i),
                message: format!(
                    "{} keep-alives ({} from the client, {} from the server) on a connection \
                     that carried {data} payload bytes.",
                    n[0] + n[1],
                    n[f.client],
                    n[1 - f.client]
                ),
                hint: "Normal on an idle connection. If this connection should be moving data, \
                       it is stalled: check for a zero window from the receiver."
                    .into(),
                wireshark_filter: flow_filter(f, "tcp.analysis.keep_alive"),
                details: details([
                    ("keep_alives", json!(n[0] + n[1])),
                    ("from_client", json!(n[f.client])),
                    ("from_server", json!(n[1 - f.client])),
                    ("payload_bytes", json!(data)),
                ]),
            });
        }
        out
    }
}
