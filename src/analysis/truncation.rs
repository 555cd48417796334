//! `capture-file-truncated`: the file ends in the middle of a record, or a record is damaged.
//!
//! Everything before the cut is analysed; the finding says where the cut is so the user knows the
//! report covers only part of the capture. Wireshark reports the same condition as "appears to have
//! been cut short in the middle of a packet" or "appears to be damaged or corrupt".

use serde::Serialize;

use super::{details, Detector, Finding, Identity, Severity, Summary};
use crate::capture::TruncationKind;

pub struct Truncation;

/// `details` of a `capture-file-truncated` finding.
#[derive(Serialize)]
struct Details {
    /// Byte offset of the cut or the damage.
    offset: u64,
    reason: &'static str,
    description: String,
    frames_read: u64,
}

impl Identity for Truncation {
    const ID: &'static str = "capture-file-truncated";
    const SEVERITY: Severity = Severity::Warning;
}

impl Detector for Truncation {
    /// Judges the flows at the end: never called per frame.
    fn watches(&self) -> super::Watch {
        super::Watch::Nothing
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let Some(t) = &s.meta.truncation else {
            return Vec::new();
        };
        let hint = match &t.kind {
            TruncationKind::CutShort => {
                "The capture was not closed cleanly (tcpdump killed, disk full, partial copy). \
                 Figures cover only the frames before the cut; stop tcpdump with Ctrl-C or -c N \
                 and copy the file after it exits."
            }
            TruncationKind::Corrupt(_) => {
                "The file is damaged after this point; figures cover only the frames before it. \
                 Re-copy or re-capture the file; `editcap` can rescue the readable part."
            }
        };
        let frames = if s.frames > 0 {
            vec![s.frames]
        } else {
            Vec::new()
        };
        vec![Finding {
            id: Self::ID,
            severity: Self::SEVERITY,
            flow: None,
            frames_total: frames.len() as u64,
            frames,
            message: format!(
                "The capture stops early: {t}; {} read before it.",
                match s.frames {
                    1 => "1 frame was".to_string(),
                    n => format!("{n} frames were"),
                }
            ),
            hint: hint.into(),
            wireshark_filter: None,
            details: details(&Details {
                offset: t.offset,
                reason: t.reason(),
                description: t.description(),
                frames_read: s.frames,
            }),
        }]
    }
}
