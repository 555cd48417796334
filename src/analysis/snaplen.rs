//! `capture-snaplen`: frames cut by the capture's snapshot length.
//!
//! Not a problem for offload-doctor (lengths come from the IP headers), but payload-based checks
//! and Wireshark's reassembly cannot see the cut bytes, so the user should know.

use serde_json::json;

use super::{details, Detector, Evidence, Finding, Identity, Severity, Summary};
use crate::capture::Frame;
use crate::decode::Packet;
use crate::flow::FlowRef;

#[derive(Default)]
pub struct Snaplen {
    cut: Evidence,
    min_caplen: Option<u32>,
    max_caplen_of_cut: u32,
}

impl Identity for Snaplen {
    const ID: &'static str = "capture-snaplen";
    const SEVERITY: Severity = Severity::Info;
}

impl Detector for Snaplen {
    fn observe(&mut self, frame: &Frame<'_>, _pkt: &Packet<'_>, _flow: Option<FlowRef>) {
        let caplen = frame.data.len() as u32;
        if caplen < frame.wire_len {
            self.cut.push(frame.number);
            self.min_caplen = Some(self.min_caplen.map_or(caplen, |m| m.min(caplen)));
            self.max_caplen_of_cut = self.max_caplen_of_cut.max(caplen);
        }
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        if self.cut.total == 0 {
            return Vec::new();
        }
        let share = self.cut.total as f64 / s.frames.max(1) as f64;
        vec![Finding {
            id: Self::ID,
            severity: Self::SEVERITY,
            flow: None,
            frames: self.cut.frames(),
            message: format!(
                "{} of {} frames ({:.1}%) were cut by the capture's snapshot length (at most {} bytes kept).",
                self.cut.total,
                s.frames,
                share * 100.0,
                self.max_caplen_of_cut
            ),
            hint: "Lengths and sequence numbers come from the headers, so offload analysis is \
                   unaffected; capture with `tcpdump -s 0` if you need payloads."
                .into(),
            wireshark_filter: Some("frame.cap_len < frame.len".into()),
            details: details([
                ("frames_cut", json!(self.cut.total)),
                ("share", json!(share)),
                ("min_caplen", json!(self.min_caplen)),
                ("max_caplen", json!(self.max_caplen_of_cut)),
                ("snaplen", json!(s.meta.snaplen)),
            ]),
        }]
    }
}
