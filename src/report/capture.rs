//! The capture part of the report: format, interfaces, link types, totals, truncation.

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
    pub duration_s: Option<f64>,
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
            duration_s: match (t.first_ts_ns, t.last_ts_ns) {
                (Some(a), Some(b)) => Some(seconds(b.saturating_sub(a))),
                _ => None,
            },
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
        }
    }
}
