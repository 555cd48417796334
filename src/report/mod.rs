//! Report: the analysis result as one serialisable document, printed as text or JSON.
//!
//! The JSON shape is an interface (documented field by field in docs/json-format.md); it changes
//! only with [`SCHEMA_VERSION`].

pub mod text;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::analysis::Finding;
use crate::capture::{CaptureMeta, InterfaceStats};
use crate::decode::link;
use crate::flow::{DirStats, Flow};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub capture: CaptureReport,
    pub flows: Vec<FlowReport>,
    pub findings: Vec<Finding>,
}

#[derive(Debug, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

impl Default for Tool {
    fn default() -> Self {
        Tool {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

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
            decoded: t.decoded.clone(),
            undecoded: t.undecoded.clone(),
            interface_stats: meta.interface_stats.iter().map(Into::into).collect(),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct TunnelReport {
    pub kind: &'static str,
    /// VNI of client-to-server packets.
    pub vni: u32,
    /// VNI of server-to-client packets (equal to `vni` unless the overlay uses one per direction).
    pub vni_s2c: u32,
    /// Outer (VTEP) address on the client's side and on the server's side.
    pub outer_client: String,
    pub outer_server: String,
}

#[derive(Debug, Serialize)]
pub struct DirReport {
    pub frames: u64,
    pub bytes: u64,
    pub payload_bytes: u64,
    pub max_frame_len: u32,
    pub max_ip_len: u32,
    pub first_frame: Option<u64>,
    pub last_frame: Option<u64>,
    pub first_timestamp_ns: Option<i64>,
    pub last_timestamp_ns: Option<i64>,
}

impl From<&DirStats> for DirReport {
    fn from(d: &DirStats) -> Self {
        let some = d.frames > 0;
        DirReport {
            frames: d.frames,
            bytes: d.bytes,
            payload_bytes: d.payload_bytes,
            max_frame_len: d.max_frame_len,
            max_ip_len: d.max_ip_len,
            first_frame: some.then_some(d.first_frame),
            last_frame: some.then_some(d.last_frame),
            first_timestamp_ns: some.then_some(d.first_ts_ns),
            last_timestamp_ns: some.then_some(d.last_ts_ns),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct FlowReport {
    pub id: u32,
    pub protocol: &'static str,
    pub client: String,
    pub server: String,
    pub tunnel: Option<TunnelReport>,
    pub frames: u64,
    pub bytes: u64,
    pub first_frame: u64,
    pub last_frame: u64,
    pub first_timestamp_ns: i64,
    pub last_timestamp_ns: i64,
    pub duration_s: f64,
    pub c2s: DirReport,
    pub s2c: DirReport,
    /// Display filter that shows this flow in Wireshark.
    pub wireshark_filter: String,
}

impl From<&Flow> for FlowReport {
    fn from(f: &Flow) -> Self {
        let (c, s) = (f.client(), f.server());
        let proto = f.key.protocol.as_str();
        let ip = |a: std::net::IpAddr| if a.is_ipv4() { "ip" } else { "ipv6" };
        let wireshark_filter = format!(
            "{}.addr == {} && {}.addr == {} && {proto}.port == {} && {proto}.port == {}",
            ip(c.addr),
            c.addr,
            ip(s.addr),
            s.addr,
            c.port,
            s.port
        );
        FlowReport {
            id: f.id,
            protocol: proto,
            client: c.to_string(),
            server: s.to_string(),
            tunnel: f.key.tunnel.map(|t| {
                let (oc, os) = f.outer_client_server().unwrap_or((t.outer[0], t.outer[1]));
                // `key.tunnel.vni` is the VNI of the side that created the flow.
                let other = f.reverse_vni.unwrap_or(t.vni);
                let (vni, vni_s2c) = if f.creator == f.client {
                    (t.vni, other)
                } else {
                    (other, t.vni)
                };
                TunnelReport {
                    kind: t.kind.as_str(),
                    vni,
                    vni_s2c,
                    outer_client: oc.to_string(),
                    outer_server: os.to_string(),
                }
            }),
            frames: f.frames(),
            bytes: f.bytes(),
            first_frame: f.first_frame(),
            last_frame: f.last_frame(),
            first_timestamp_ns: f.first_ts_ns(),
            last_timestamp_ns: f.last_ts_ns(),
            duration_s: seconds(f.last_ts_ns().saturating_sub(f.first_ts_ns())),
            c2s: f.c2s().into(),
            s2c: f.s2c().into(),
            wireshark_filter,
        }
    }
}

pub fn seconds(ns: i64) -> f64 {
    ns as f64 / 1e9
}

/// UTC time as RFC 3339 with nanoseconds, e.g. `2025-10-03T16:30:14.343441000Z`.
pub fn format_time(ns: i64) -> String {
    let secs = ns.div_euclid(1_000_000_000);
    let nanos = ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_formatting() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00.000000000Z");
        // tcpdump's gso-ipv4-vxlan-ipv4.out: 2025-10-03 16:30:14.343441
        assert_eq!(
            format_time(1_759_509_014_343_441_000),
            "2025-10-03T16:30:14.343441000Z"
        );
        assert_eq!(
            format_time(951_782_400_000_000_000),
            "2000-02-29T00:00:00.000000000Z"
        );
        assert_eq!(format_time(-1), "1969-12-31T23:59:59.999999999Z");
    }
}
