//! `capture-timestamps`: time that goes backwards in the capture, and records whose sub-second
//! field is a second or more.
//!
//! Durations, rates, RTTs, stalls and graph axes all come from the timestamps. Captures merged
//! from several taps or interfaces (`mergecap`, multi-interface pcapng) are often out of order by
//! microseconds, which changes nothing a user reads; a step back of a second or more (a clock
//! stepped by NTP, files concatenated in the wrong order) or a microsecond field of 1,000,000 or
//! more (a writer's bug: libpcap's `sf-pcap.c` and Wireshark carry the excess into the seconds,
//! as we do) makes every time-based figure suspect. Flows and the capture use their earliest and
//! latest times, so no duration is ever negative.

use serde::Serialize;

use super::{details, Detector, Evidence, Finding, FrameCtx, Identity, Severity, Summary};
use crate::units::duration;

/// Steps back shorter than this are the jitter of merged taps: not reported.
pub const MIN_STEP_BACK_NS: i64 = 1_000_000;
/// A step back of this much makes time-based figures suspect: a warning.
pub const LARGE_STEP_BACK_NS: i64 = 1_000_000_000;

impl Timestamps {
    /// Whether a record stamped `ts_ns` is a step back of at least [`MIN_STEP_BACK_NS`] (and
    /// the latest time so far otherwise).
    fn stepped_back(&mut self, ts_ns: i64) -> bool {
        match self.latest {
            Some(latest) if ts_ns < latest => {
                let back = latest.saturating_sub(ts_ns);
                if back < MIN_STEP_BACK_NS {
                    return false;
                }
                self.largest_back_ns = self.largest_back_ns.max(back);
                true
            }
            _ => {
                self.latest = Some(ts_ns);
                false
            }
        }
    }
}

#[derive(Default)]
pub struct Timestamps {
    /// The latest time seen so far (records with a time of their own only).
    latest: Option<i64>,
    /// Frames at least [`MIN_STEP_BACK_NS`] earlier than the latest before them.
    back: Evidence,
    largest_back_ns: i64,
    bad_fraction: Evidence,
    /// Frames of either kind, each once: what the finding cites.
    cited: Evidence,
}

/// `details` of a `capture-timestamps` finding.
#[derive(Serialize)]
struct Details {
    /// Frames stamped at least 1 ms before the latest frame before them, and the largest step.
    steps_back: u64,
    largest_step_back_s: f64,
    /// Records whose sub-second field is a second or more.
    bad_fraction_records: u64,
}

impl Identity for Timestamps {
    const ID: &'static str = "capture-timestamps";
    const SEVERITY: Severity = Severity::Warning;
}

impl Detector for Timestamps {
    fn on_frame(&mut self, ctx: &FrameCtx<'_>) {
        let f = ctx.frame;
        if f.ts_bad_fraction {
            self.bad_fraction.push(f.number);
        }
        let back = f.ts_known && self.stepped_back(f.ts_ns);
        if back {
            self.back.push(f.number);
        }
        if back || f.ts_bad_fraction {
            self.cited.push(f.number);
        }
    }

    fn finish(&mut self, _: &Summary<'_>) -> Vec<Finding> {
        let (back, bad) = (self.back.total, self.bad_fraction.total);
        if back == 0 && bad == 0 {
            return Vec::new();
        }
        let largest = self.largest_back_ns as f64 / 1e9;
        let mut what = Vec::new();
        if back > 0 {
            what.push(format!(
                "{back} frame{} stamped earlier than a frame before {} (the largest step back \
                 {})",
                if back == 1 { " is" } else { "s are" },
                if back == 1 { "it" } else { "them" },
                duration(largest)
            ));
        }
        if bad > 0 {
            what.push(format!(
                "{bad} record{} a sub-second field of a second or more",
                if bad == 1 { " has" } else { "s have" }
            ));
        }
        let severity = if bad > 0 || self.largest_back_ns >= LARGE_STEP_BACK_NS {
            Self::SEVERITY
        } else {
            Severity::Info
        };
        vec![Finding {
            id: Self::ID,
            severity,
            flow: None,
            frames: self.cited.frames(),
            frames_total: self.cited.total,
            message: format!(
                "The capture's timestamps are suspect: {}; durations and rates use the earliest and \
                 latest times, but figures that depend on the order of time (RTT, stalls, rate \
                 graphs) may be wrong around these frames.",
                what.join("; ")
            ),
            hint: "Captures merged from several taps are often slightly out of order (`mergecap` \
                   sorts them by time); a large step back is a clock stepped during the capture \
                   (NTP, a VM migration) or files joined in the wrong order, and a sub-second field \
                   of a second or more is a bug in the tool that wrote the file. Re-sort with \
                   `reordercap` or `editcap`, or analyse the parts separately."
                .into(),
            wireshark_filter: Some("frame.time_delta < 0".into()),
            details: details(&Details {
                steps_back: back,
                largest_step_back_s: largest,
                bad_fraction_records: bad,
            }),
        }]
    }
}
