//! `capture-snaplen`: frames cut by the capture's snapshot length.
//!
//! Not a problem for offload-doctor (lengths come from the IP headers), but payload-based checks
//! and Wireshark's reassembly cannot see the cut bytes, so the user should know.

use serde::Serialize;

use super::{details, Detector, Evidence, Finding, FrameCtx, Identity, Severity, Summary};

#[derive(Default)]
pub struct Snaplen {
    cut: Evidence,
    min_caplen: Option<u32>,
    max_caplen_of_cut: u32,
}

/// `details` of a `capture-snaplen` finding.
#[derive(Serialize)]
struct Details {
    frames_cut: u64,
    share: f64,
    min_caplen: Option<u32>,
    /// The most bytes any cut frame kept.
    max_caplen: u32,
    /// The capture's declared snapshot length.
    snaplen: u32,
}

impl Identity for Snaplen {
    const ID: &'static str = "capture-snaplen";
    const SEVERITY: Severity = Severity::Info;
}

impl Detector for Snaplen {
    fn on_frame(&mut self, ctx: &FrameCtx<'_>) {
        let frame = ctx.frame;
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
            frames_total: self.cut.total,
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
            details: details(&Details {
                frames_cut: self.cut.total,
                share,
                min_caplen: self.min_caplen,
                max_caplen: self.max_caplen_of_cut,
                snaplen: s.meta.snaplen,
            }),
        }]
    }
}
