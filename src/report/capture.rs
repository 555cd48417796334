//! The capture part of the report: format, interfaces, link types, totals, truncation, and the
//! capture's time span, counted within the parts its timestamps jump between.

use std::collections::BTreeMap;

use serde::Serialize;

use super::time::{format_time, seconds};
use crate::capture::{CaptureMeta, Frame, InterfaceStats};
use crate::decode::link;

#[derive(Debug, Serialize)]
pub struct LinkTypeReport {
    pub link_type: u32,
    pub name: &'static str,
    pub frames: u64,
}

#[derive(Debug, Serialize)]
pub struct TruncationReport {
    pub offset: u64,
    pub reason: &'static str,
    pub description: String,
}

#[derive(Debug, Serialize)]
pub struct InterfaceStatsReport {
    pub interface: u32,
    pub link_type: u32,
    pub if_recv: Option<u64>,
    pub if_drop: Option<u64>,
    pub os_drop: Option<u64>,
    pub usr_deliv: Option<u64>,
}

impl From<&InterfaceStats> for InterfaceStatsReport {
    fn from(s: &InterfaceStats) -> Self {
        InterfaceStatsReport {
            interface: s.interface,
            link_type: s.link_type,
            if_recv: s.if_recv,
            if_drop: s.if_drop,
            os_drop: s.os_drop,
            usr_deliv: s.usr_deliv,
        }
    }
}

/// A step between consecutive records' timestamps, either way, beyond which the capture's time
/// is in parts: files joined (`mergecap -a`, `cat`), a clock set years off, a garbage stamp. No
/// figure of this tool spans a day of silence (its longest windows, stalls and capture gaps, are
/// seconds to minutes), while every such capture among the public ones we test jumps by years:
/// ndpi's 1kxun by 5.8 years at frame 1033, pcapplusplus' raw_ip by 11 years at frame 51.
pub const TIME_JUMP_NS: i64 = 86_400_000_000_000;

/// Jumps the report names; more are counted only.
pub const MAX_TIME_JUMPS: usize = 16;

/// A record whose timestamp is more than [`TIME_JUMP_NS`] from the previous record's.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TimeJump {
    /// Wireshark's frame number of the first record of the new part.
    pub frame: u64,
    /// Its timestamp minus the previous record's (negative: back in time).
    pub step_s: f64,
}

#[derive(Debug, Serialize)]
pub struct CaptureReport {
    pub path: String,
    pub format: Option<&'static str>,
    pub gzip: bool,
    pub sections: u32,
    pub interfaces: usize,
    pub link_types: Vec<LinkTypeReport>,
    pub snaplen: u32,
    pub frames: u64,
    /// Wire bytes (sum of `frame.len`).
    pub bytes: u64,
    /// Captured bytes (sum of `frame.cap_len`).
    pub captured_bytes: u64,
    pub first_timestamp_ns: Option<i64>,
    pub last_timestamp_ns: Option<i64>,
    pub first_time: Option<String>,
    pub last_time: Option<String>,
    /// The time within the capture's parts (between its time jumps), summed: `last - first` for a
    /// capture without a jump.
    pub duration_s: Option<f64>,
    /// Parts of the capture's time: 1 without a jump, each [`TimeJump`] starting another.
    pub time_parts: u64,
    /// The first [`MAX_TIME_JUMPS`] jumps.
    pub time_jumps: Vec<TimeJump>,
    pub file_truncated: bool,
    pub truncation: Option<TruncationReport>,
    /// Reading was stopped (Ctrl-C, SIGTERM, `live --duration`) before the input ended: the
    /// report covers the frames read until then.
    pub interrupted: bool,
    /// Frames by what they decoded to (`tcp`, `udp`, `icmp`, `other-ip`, `ip-fragment`, `non-ip`).
    pub decoded: BTreeMap<String, u64>,
    /// Frames that could not be decoded, by reason.
    pub undecoded: BTreeMap<String, u64>,
    pub interface_stats: Vec<InterfaceStatsReport>,
    /// pcapng Decryption Secrets Blocks with a TLS key log (`editcap --inject-secrets`): QUIC
    /// connections are decrypted with their secrets without `--keylog`.
    pub secrets_blocks: u64,
}

/// Capture-wide counters gathered by the app while streaming.
#[derive(Debug, Default, Clone)]
pub struct Totals {
    pub frames: u64,
    pub bytes: u64,
    pub captured_bytes: u64,
    pub first_ts_ns: Option<i64>,
    pub last_ts_ns: Option<i64>,
    /// Frames per global interface index.
    pub per_interface: Vec<u64>,
    pub decoded: BTreeMap<String, u64>,
    pub undecoded: BTreeMap<String, u64>,
    pub time: TimeParts,
}

/// The capture's time in parts, streamed: a part ends where a record's timestamp jumps more than
/// [`TIME_JUMP_NS`] from the previous record's.
#[derive(Debug, Default, Clone)]
pub struct TimeParts {
    prev_ns: Option<i64>,
    /// Earliest and latest time of the current part.
    part: Option<(i64, i64)>,
    /// Time within the parts closed so far.
    closed_ns: i64,
    pub parts: u64,
    pub jumps: Vec<TimeJump>,
}

impl TimeParts {
    fn count(&mut self, frame: u64, ts: i64) {
        let step = self.prev_ns.map_or(0, |p| ts.saturating_sub(p));
        self.prev_ns = Some(ts);
        match self.part {
            Some((lo, hi)) if step.saturating_abs() <= TIME_JUMP_NS => {
                self.part = Some((lo.min(ts), hi.max(ts)));
            }
            part => {
                if let Some((lo, hi)) = part {
                    self.closed_ns = self.closed_ns.saturating_add(hi.saturating_sub(lo));
                    if self.jumps.len() < MAX_TIME_JUMPS {
                        self.jumps.push(TimeJump {
                            frame,
                            step_s: seconds(step),
                        });
                    }
                }
                self.parts += 1;
                self.part = Some((ts, ts));
            }
        }
    }

    /// The time within the parts, summed (none without a timestamp).
    pub fn duration_ns(&self) -> Option<i64> {
        let (lo, hi) = self.part?;
        Some(self.closed_ns.saturating_add(hi.saturating_sub(lo)))
    }
}

impl Totals {
    /// Counts one frame into the capture-wide totals.
    pub fn count(&mut self, frame: &Frame<'_>) {
        self.frames += 1;
        self.bytes += frame.wire_len as u64;
        self.captured_bytes += frame.data.len() as u64;
        if frame.ts_known {
            // Earliest and latest, as capinfos reports them: multi-interface pcapng files are
            // often slightly out of order, and a duration must never be negative.
            let ts = frame.ts_ns;
            self.first_ts_ns = Some(self.first_ts_ns.map_or(ts, |t| t.min(ts)));
            self.last_ts_ns = Some(self.last_ts_ns.map_or(ts, |t| t.max(ts)));
            self.time.count(frame.number, ts);
        }
        if let Some(i) = frame.interface {
            let i = i as usize;
            if self.per_interface.len() <= i {
                self.per_interface.resize(i + 1, 0);
            }
            self.per_interface[i] += 1;
        }
    }
}

impl CaptureReport {
    pub fn new(path: String, meta: &CaptureMeta, t: &Totals) -> Self {
        // One row per distinct link type, with the frames seen on its interfaces.
        let mut lts: BTreeMap<u32, u64> = BTreeMap::new();
        for (i, lt) in meta.interfaces.iter().enumerate() {
            *lts.entry(*lt).or_default() += t.per_interface.get(i).copied().unwrap_or(0);
        }
        CaptureReport {
            path,
            format: meta.format.map(|f| f.as_str()),
            gzip: meta.gzip,
            sections: meta.sections,
            interfaces: meta.interfaces.len(),
            link_types: lts
                .into_iter()
                .map(|(lt, frames)| LinkTypeReport {
                    link_type: lt,
                    name: link::name(lt),
                    frames,
                })
                .collect(),
            snaplen: meta.snaplen,
            frames: t.frames,
            bytes: t.bytes,
            captured_bytes: t.captured_bytes,
            first_timestamp_ns: t.first_ts_ns,
            last_timestamp_ns: t.last_ts_ns,
            first_time: t.first_ts_ns.map(format_time),
            last_time: t.last_ts_ns.map(format_time),
            duration_s: t.time.duration_ns().map(seconds),
            time_parts: t.time.parts,
            time_jumps: t.time.jumps.clone(),
            file_truncated: meta.truncation.is_some(),
            truncation: meta.truncation.as_ref().map(|tr| TruncationReport {
                offset: tr.offset,
                reason: tr.reason(),
                description: tr.description(),
            }),
            interrupted: meta.interrupted,
            decoded: t.decoded.clone(),
            undecoded: t.undecoded.clone(),
            interface_stats: meta.interface_stats.iter().map(Into::into).collect(),
            secrets_blocks: meta.secrets_blocks,
        }
    }
}

impl CaptureReport {
    /// `in 2 parts: the time jumps 5.8 years at frame 1033`, for a capture whose timestamps jump
    /// (the duration counts the time within the parts); none otherwise.
    pub fn time_parts_note(&self) -> Option<String> {
        if self.time_parts < 2 {
            return None;
        }
        let mut jumps: Vec<String> = self
            .time_jumps
            .iter()
            .map(|j| {
                let dir = if j.step_s < 0.0 { "back" } else { "forward" };
                format!("{} {dir} at frame {}", long_span(j.step_s.abs()), j.frame)
            })
            .collect();
        let more = (self.time_parts - 1).saturating_sub(self.time_jumps.len() as u64);
        if more > 0 {
            jumps.push(format!("{more} more"));
        }
        Some(format!(
            "in {} parts: the timestamps jump {}",
            self.time_parts,
            jumps.join(", ")
        ))
    }
}

/// A span of a day or more, in days or years (365.25 days).
fn long_span(s: f64) -> String {
    let days = s / 86_400.0;
    if days >= 365.25 {
        format!("{:.1} years", days / 365.25)
    } else {
        format!("{days:.1} days")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(stamps: &[i64]) -> TimeParts {
        let mut t = TimeParts::default();
        for (i, &ts) in stamps.iter().enumerate() {
            t.count(i as u64 + 1, ts);
        }
        t
    }

    #[test]
    fn a_jump_of_more_than_a_day_splits_the_time_and_is_left_out_of_the_duration() {
        const S: i64 = 1_000_000_000;
        // Two parts of 2 s and 3 s, 5.8 years apart (ndpi's 1kxun), then one stamp 2 days back.
        let years = 2_130 * 86_400 * S;
        let t = parts(&[
            0,
            S,
            2 * S,
            years,
            years + 3 * S,
            years + 3 * S - 2 * 86_400 * S,
        ]);
        assert_eq!(t.parts, 3);
        assert_eq!(t.jumps.len(), 2);
        assert_eq!(t.jumps[0].frame, 4);
        assert_eq!(t.jumps[1].frame, 6);
        assert!(t.jumps[1].step_s < 0.0);
        assert_eq!(t.duration_ns(), Some(5 * S));
        // A day exactly, and jitter back and forth, stay one part.
        let t = parts(&[0, 86_400 * S, 86_400 * S - S, 86_400 * S + 5]);
        assert_eq!((t.parts, t.duration_ns()), (1, Some(86_400 * S + 5)));
        assert_eq!(parts(&[]).duration_ns(), None);
    }

    #[test]
    fn long_spans_read_in_days_or_years() {
        assert_eq!(long_span(184_280_863.0), "5.8 years");
        assert_eq!(long_span(2.0 * 86_400.0), "2.0 days");
    }
}
