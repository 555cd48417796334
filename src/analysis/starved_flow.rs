//! `starved-flow`: a TCP connection that moves (almost) no data while concurrent connections to
//! the same server do: the io_uring story, where the fourth connection got nothing but zero-window
//! and keep-alive exchanges while the others ran.
//!
//! Connections to one server endpoint (and tunnel) whose lifetimes overlap form a group; each
//! gets its share of the group's goodput bytes, and the group Jain's fairness index
//! J = (Σx)² / (n·Σx²) (Jain, Chiu, Hawe, DEC-TR-301, 1984): 1 when all are equal, 1/n when one
//! takes everything.

use std::collections::BTreeMap;

use serde_json::json;

use super::{
    details, flow_filter, tcp_flows, Detector, Finding, Identity, PerFlow, Severity, Summary,
};
use crate::capture::Frame;
use crate::decode::Packet;
use crate::flow::{Endpoint, FlowRef, TunnelKey};
use crate::tcp::events::Events;

/// A connection is starved below this fraction of the fair share (group bytes / n).
pub const STARVED_FRACTION: f64 = 0.05;
/// … when the group moved at least this much …
pub const MIN_GROUP_BYTES: u64 = 64 * 1024;
/// … and the connection lived for at least this share of the group's span (a short control
/// connection is not starved).
pub const MIN_LIFETIME_SHARE: f64 = 0.25;

#[derive(Default)]
pub struct StarvedFlow {
    evidence: PerFlow,
}

/// Jain's fairness index of `x` (1.0 for an empty or all-zero list).
pub fn jain_index(x: &[f64]) -> f64 {
    let sum: f64 = x.iter().sum();
    let sq: f64 = x.iter().map(|v| v * v).sum();
    if sq == 0.0 {
        1.0
    } else {
        sum * sum / (x.len() as f64 * sq)
    }
}

struct Member {
    index: usize,
    id: u32,
    start: i64,
    end: i64,
    bytes: u64,
}

impl Identity for StarvedFlow {
    const ID: &'static str = "starved-flow";
    const SEVERITY: Severity = Severity::Warning;
}

impl Detector for StarvedFlow {
    fn observe(&mut self, frame: &Frame<'_>, _pkt: &Packet<'_>, flow: Option<FlowRef>) {
        self.evidence
            .record(frame.number, flow, Events::ZERO_WINDOW | Events::KEEP_ALIVE);
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        // Connections by server endpoint, then split into groups of overlapping lifetimes.
        let mut by_server: BTreeMap<(Endpoint, Option<TunnelKey>), Vec<Member>> = BTreeMap::new();
        for (i, f, conn) in tcp_flows(s.flows) {
            by_server
                .entry((f.server(), f.key.tunnel))
                .or_default()
                .push(Member {
                    index: i,
                    id: f.id,
                    start: f.first_ts_ns(),
                    end: f.last_ts_ns(),
                    bytes: conn.dirs[0].new_bytes + conn.dirs[1].new_bytes,
                });
        }
        let mut out = Vec::new();
        for ((server, _), mut members) in by_server {
            members.sort_by_key(|m| (m.start, m.id));
            let mut group: Vec<Member> = Vec::new();
            let mut group_end = i64::MIN;
            for m in members.into_iter().chain(std::iter::once(Member {
                index: usize::MAX,
                id: 0,
                start: i64::MAX,
                end: i64::MAX,
                bytes: 0,
            })) {
                if m.start > group_end && !group.is_empty() {
                    self.judge(s, server, &group, &mut out);
                    group.clear();
                }
                group_end = if group.is_empty() {
                    m.end
                } else {
                    group_end.max(m.end)
                };
                group.push(m);
            }
        }
        out.sort_by_key(|f| f.flow);
        out
    }
}

impl StarvedFlow {
    fn judge(&self, s: &Summary<'_>, server: Endpoint, group: &[Member], out: &mut Vec<Finding>) {
        let n = group.len();
        let total: u64 = group.iter().map(|m| m.bytes).sum();
        if n < 2 || total < MIN_GROUP_BYTES {
            return;
        }
        let start = group.iter().map(|m| m.start).min().unwrap_or(0);
        let end = group.iter().map(|m| m.end).max().unwrap_or(0);
        let span = end.saturating_sub(start).max(1) as f64;
        let fair = total as f64 / n as f64;
        let shares: Vec<f64> = group.iter().map(|m| m.bytes as f64).collect();
        let jain = jain_index(&shares);
        for m in group {
            let lifetime = m.end.saturating_sub(m.start) as f64 / span;
            if (m.bytes as f64) >= STARVED_FRACTION * fair || lifetime < MIN_LIFETIME_SHARE {
                continue;
            }
            let Some(f) = s.flows.flows.get(m.index) else {
                continue;
            };
            let Some(conn) = f.tcp.as_deref() else {
                continue;
            };
            let zw = conn.dirs[0].counts.zero_windows + conn.dirs[1].counts.zero_windows;
            let ka = conn.dirs[0].counts.keep_alives + conn.dirs[1].counts.keep_alives;
            let mut signs = Vec::new();
            if zw > 0 {
                signs.push(format!("{zw} zero-window advertisements"));
            }
            if ka > 0 {
                signs.push(format!("{ka} keep-alives"));
            }
            let signs = if signs.is_empty() {
                String::new()
            } else {
                format!("; it shows {}", signs.join(" and "))
            };
            out.push(Finding {
                id: Self::ID,
                severity: Self::SEVERITY,
                flow: Some(m.id),
                frames: self.evidence.frames(m.index),
                message: format!(
                    "Connection {} ({} → {server}) moved {} while {} concurrent connections to the \
                     same server moved {}: {:.1}% of the total against a fair share of {:.0}% \
                     (Jain's fairness index {:.2}){signs}.",
                    m.id,
                    f.client(),
                    crate::units::bytes(m.bytes),
                    n - 1,
                    crate::units::bytes(total - m.bytes),
                    100.0 * m.bytes as f64 / total as f64,
                    100.0 / n as f64,
                    jain,
                ),
                hint: "One connection starving beside busy siblings points at the server \
                       application, not the network: a stalled event loop or io_uring \
                       submission/completion queue, a per-connection lock or buffer limit, or a \
                       reader that stopped (zero windows: the receiver stopped reading). Trace how \
                       the application services this connection."
                    .into(),
                wireshark_filter: flow_filter(
                    f,
                    "(tcp.analysis.zero_window || tcp.analysis.keep_alive)",
                ),
                details: details([
                    ("server", json!(server.to_string())),
                    ("bytes", json!(m.bytes)),
                    ("share", json!(m.bytes as f64 / total as f64)),
                    ("fair_share", json!(1.0 / n as f64)),
                    ("jain_index", json!(jain)),
                    ("zero_windows", json!(zw)),
                    ("keep_alives", json!(ka)),
                    (
                        "group",
                        json!(group
                            .iter()
                            .map(|g| json!({
                                "flow": g.id,
                                "bytes": g.bytes,
                                "share": g.bytes as f64 / total as f64,
                            }))
                            .collect::<Vec<_>>()),
                    ),
                ]),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::jain_index;

    #[test]
    fn jain() {
        assert!((jain_index(&[5.0, 5.0, 5.0, 5.0]) - 1.0).abs() < 1e-12);
        assert!((jain_index(&[1.0, 0.0, 0.0, 0.0]) - 0.25).abs() < 1e-12);
        assert!((jain_index(&[3.0, 1.0]) - 0.8).abs() < 1e-12);
        assert_eq!(jain_index(&[]), 1.0);
    }
}
