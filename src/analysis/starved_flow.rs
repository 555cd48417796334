//! `starved-flow`: a TCP connection that moves (almost) no data while concurrent connections to
//! the same server do: the io_uring story, where the fourth connection got nothing but zero-window
//! and keep-alive exchanges while the others ran.
//!
//! Connections to one server endpoint (and tunnel) whose lifetimes overlap form a group; each
//! gets its share of the group's goodput bytes, and the group Jain's fairness index
//! J = (Σx)² / (n·Σx²) (Jain, Chiu, Hawe, DEC-TR-301, 1984): 1 when all are equal, 1/n when one
//! takes everything.

use std::collections::BTreeMap;

use serde::Serialize;

use super::kit::{flow_filter, tcp_flows};
use super::{details, Detector, Finding, Identity, Severity, Summary};
use crate::flow::{Endpoint, Flow, TunnelKey};
use crate::tcp::evidence::EventClass;
use crate::tcp::stats::jain_index;
use crate::tcp::TcpConn;
use crate::units::plural;

/// A connection is starved below this fraction of the fair share (group bytes / n).
pub const STARVED_FRACTION: f64 = 0.05;
/// … when the group moved at least this much …
pub const MIN_GROUP_BYTES: u64 = 64 * 1024;
/// … and the connection lived for at least this share of the group's span (a short control
/// connection is not starved).
pub const MIN_LIFETIME_SHARE: f64 = 0.25;

pub struct StarvedFlow;

/// `details` of a `starved-flow` finding.
#[derive(Serialize)]
struct Details {
    server: String,
    /// Goodput bytes of this connection, its share of the group's and the fair share (1/n).
    bytes: u64,
    share: f64,
    fair_share: f64,
    jain_index: f64,
    zero_windows: u64,
    keep_alives: u64,
    /// The unmet demand that makes it starved rather than idle (see [`Demand`]).
    demand: &'static str,
    /// Every connection of the group of overlapping lifetimes.
    group: Vec<GroupMember>,
}

#[derive(Serialize)]
struct GroupMember {
    flow: u32,
    bytes: u64,
    share: f64,
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
    /// Judges the flows at the end: never called per frame.
    fn watches(&self) -> super::Watch {
        super::Watch::Nothing
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        // Connections by server endpoint, then split into groups of overlapping lifetimes.
        let mut by_server: BTreeMap<(Endpoint, Option<TunnelKey>), Vec<Member>> = BTreeMap::new();
        for (f, conn) in tcp_flows(s.flows) {
            by_server
                .entry((f.server(), f.key.tunnel))
                .or_default()
                .push(Member {
                    index: f.index(),
                    id: f.id,
                    start: f.first_ts_ns(),
                    end: f.last_ts_ns(),
                    bytes: conn.dirs().map(|d| d.new_bytes).sum(),
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
            let Some(f) = s.flows.by_index(m.index) else {
                continue;
            };
            let Some(conn) = f.tcp.as_deref() else {
                continue;
            };
            let Some(demand) = Demand::of(f, conn) else {
                // Merely idle (a pool connection, a control channel): nothing was denied.
                continue;
            };
            let zw = conn.dirs().map(|d| d.counts.zero_windows).sum();
            let ka = conn.dirs().map(|d| d.counts.keep_alives).sum();
            let signs = signs(zw, ka);
            out.push(Finding {
                id: Self::ID,
                severity: Self::SEVERITY,
                flow: Some(m.id),
                frames: conn.evidence.frames(EventClass::Starved),
                frames_total: conn.evidence.total(EventClass::Starved),
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
                details: details(&Details {
                    server: server.to_string(),
                    bytes: m.bytes,
                    share: m.bytes as f64 / total as f64,
                    fair_share: 1.0 / n as f64,
                    jain_index: jain,
                    zero_windows: zw,
                    keep_alives: ka,
                    demand: demand.as_str(),
                    group: group
                        .iter()
                        .map(|g| GroupMember {
                            flow: g.id,
                            bytes: g.bytes,
                            share: g.bytes as f64 / total as f64,
                        })
                        .collect(),
                }),
            });
        }
    }
}

/// What shows that a connection wanted service it did not get: a quiet connection beside busy
/// ones is starved only with one of these, else it was merely idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Demand {
    /// A side advertised a zero window or probed one: data was waiting to be read or sent.
    ZeroWindow,
    /// The client sent data and the server never answered with any.
    Unanswered,
    /// Data still unacknowledged at the end after being resent.
    DataWaiting,
}

impl Demand {
    fn of(f: &Flow, conn: &TcpConn) -> Option<Demand> {
        let d = &conn.dirs();
        if d.iter()
            .any(|x| x.counts.zero_windows + x.counts.zero_window_probes > 0)
        {
            return Some(Demand::ZeroWindow);
        }
        // A request the server never answered (a server pushing to a silent client is normal).
        // Only when the capture holds the server's direction at all: a one-way capture
        // (`tcpdump -Q out`, one side of a SPAN) shows no answers to anything.
        let [client, server] = f.client_first();
        let server_seen = f.dirs[server].frames > 0;
        if server_seen && d[client].new_bytes > 0 && d[server].new_bytes == 0 {
            return Some(Demand::Unanswered);
        }
        if d.iter()
            .any(|x| x.inflight_now > 0 && x.counts.retransmissions > 0)
        {
            return Some(Demand::DataWaiting);
        }
        None
    }

    fn as_str(self) -> &'static str {
        match self {
            Demand::ZeroWindow => "zero-window",
            Demand::Unanswered => "unanswered",
            Demand::DataWaiting => "data-waiting",
        }
    }
}

/// "; it shows 3 zero-window advertisements and 2 keep-alives", or nothing.
fn signs(zero_windows: u64, keep_alives: u64) -> String {
    let mut signs = Vec::new();
    if zero_windows > 0 {
        signs.push(plural(zero_windows, "zero-window advertisement"));
    }
    if keep_alives > 0 {
        signs.push(plural(keep_alives, "keep-alive"));
    }
    if signs.is_empty() {
        String::new()
    } else {
        format!("; it shows {}", signs.join(" and "))
    }
}
