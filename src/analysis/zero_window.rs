//! `zero-window`: a receiver advertised a zero window (`tcp.analysis.zero_window`): its
//! application stopped reading, and the sender had to stop.
//!
//! The io_uring story: a server's fourth connection got no throughput, only ZeroWindow and
//! keep-alive exchanges, while the other flows ran. Reports who advertised it, how often, for how
//! long in total, and whether it was still closed when the capture ended.

use serde_json::json;

use super::{
    details, flow_filter, tcp_flows, Detector, Finding, Identity, PerFlow, Severity, Summary,
};
use crate::capture::Frame;
use crate::decode::Packet;
use crate::flow::FlowRef;
use crate::tcp::events::Events;
use crate::units::duration;

#[derive(Default)]
pub struct ZeroWindow {
    evidence: PerFlow,
}

impl Identity for ZeroWindow {
    const ID: &'static str = "zero-window";
    const SEVERITY: Severity = Severity::Warning;
}

impl Detector for ZeroWindow {
    fn observe(&mut self, frame: &Frame<'_>, _pkt: &Packet<'_>, flow: Option<FlowRef>) {
        self.evidence
            .record(frame.number, flow, Events::ZERO_WINDOW);
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for (i, f, conn) in tcp_flows(s.flows) {
            for side in 0..2 {
                let m = &conn.dirs[side];
                if m.counts.zero_windows == 0 {
                    continue;
                }
                let time = m.zero_window_time(f.last_ts_ns()) as f64 / 1e9;
                let open = m.zero_window_open();
                out.push(Finding {
                    id: Self::ID,
                    severity: Self::SEVERITY,
                    flow: Some(f.id),
                    frames: self.evidence.frames(i),
                    message: format!(
                        "The {} ({}) advertised a zero window {} times, {} in total{}.",
                        f.role(side),
                        f.key.ends[side],
                        m.counts.zero_windows,
                        duration(time),
                        if open {
                            ", and was still at zero when the capture ended"
                        } else {
                            ""
                        }
                    ),
                    hint: "The receiving application is not reading its socket fast enough (a \
                           stalled event loop or io_uring completion queue, a slow consumer), or \
                           its receive buffer is too small (net.ipv4.tcp_rmem, SO_RCVBUF). Look \
                           at the receiver, not the network."
                        .into(),
                    wireshark_filter: flow_filter(f, "tcp.analysis.zero_window"),
                    details: details([
                        ("side", json!(f.role(side))),
                        ("advertised_by", json!(f.key.ends[side].to_string())),
                        ("zero_windows", json!(m.counts.zero_windows)),
                        ("periods", json!(m.zero_window_periods)),
                        ("zero_window_time_s", json!(time)),
                        ("still_zero_at_end", json!(open)),
                        (
                            "zero_window_probes",
                            json!(conn.dirs[1 - side].counts.zero_window_probes),
                        ),
                    ]),
                });
            }
        }
        out
    }
}
