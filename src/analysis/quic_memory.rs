//! `quic-memory`: QUIC connections open at the same time, their lifetimes, and the buffer memory
//! a server or proxy terminating them needs (the HAProxy story: hundreds of long-lived QUIC
//! connections with large buffers exhausted its memory).
//!
//! Without keys a connection's end is not seen: it is open from its first packet to its last
//! (on any of its paths). A CONNECTION_CLOSE is read only in a client Initial, at the end of a
//! failed handshake, where the last packet comes at once; an idle timeout (RFC 9000 §10.1) is
//! negotiated in encrypted transport parameters, so a connection that went quiet counts as open
//! until its last packet, not until its timeout. Computed once at the end from the connections'
//! first and last times: a sweep over two events per connection, never per packet.
//!
//! With the server's qlog (`--qlog`), the connections open at the peak also say what they held:
//! the bytes in flight the server's loss recovery logged (sent, not yet acknowledged, kept for
//! retransmission: RFC 9002 §B.2), at that moment and at their highest. That is a floor on the
//! send buffers the terminator needs, measured instead of assumed; with `--memory-budget` and no
//! `--conn-buffer`, it is what the budget is held to.

use std::sync::Arc;

use serde::Serialize;

use super::qlog_join::joined;
use super::{details, Detector, Finding, Identity, Severity, Summary};
use crate::flow::{Flow, FlowTable};
use crate::qlog::QlogTrace;
use crate::quic::QuicConn;
use crate::units::{bytes, duration};

/// Fewer connections at once than this say nothing about memory: one connection at a time is
/// what any QUIC server handles.
pub const MIN_CONCURRENT: usize = 2;
/// Connections listed in `details` (those open at the peak, lowest flow id first).
const MAX_LISTED: usize = 20;

/// The detector; `conn_buffer` (bytes a connection holds) and `budget` (memory for all of them)
/// come from `--conn-buffer` and `--memory-budget`.
#[derive(Default)]
pub struct QuicMemory {
    conn_buffer: Option<u64>,
    budget: Option<u64>,
    traces: Arc<[QlogTrace]>,
}

impl QuicMemory {
    pub fn new(conn_buffer: Option<u64>, budget: Option<u64>, traces: Arc<[QlogTrace]>) -> Self {
        QuicMemory {
            conn_buffer,
            budget,
            traces,
        }
    }
}

/// What the servers' qlogs say the connections open at the peak held.
#[derive(Debug, Clone, Copy, Default, Serialize)]
struct InFlight {
    /// Connections open at the peak with a server-side qlog.
    connections: usize,
    /// Their bytes in flight at the peak (the last value logged before it), summed.
    at_peak_bytes: u64,
    /// The most one of them ever had in flight.
    max_bytes: u64,
}

/// One QUIC connection: its flow, and its first and last packet over all its paths.
#[derive(Debug, Clone, Copy)]
struct Conn {
    flow: u32,
    first_frame: u64,
    first_ns: i64,
    last_ns: i64,
}

/// The peak of concurrent connections.
#[derive(Debug, Clone, Copy, Default)]
struct Peak {
    open: usize,
    ts_ns: i64,
    /// The first frame of the connection whose start reached the peak.
    frame: u64,
}

/// `details` of a `quic-memory` finding.
#[derive(Serialize)]
struct Details {
    /// QUIC connections the server answered, over the capture.
    connections: usize,
    /// The most open at one moment, when (seconds from the first flow's first frame) and which.
    peak_concurrent: usize,
    at_frame: u64,
    at_time_s: f64,
    open_at_peak: Vec<u32>,
    /// From first to last packet (the idle timeout is unknown without keys), in seconds.
    lifetime_min_s: f64,
    lifetime_median_s: f64,
    lifetime_max_s: f64,
    /// `--conn-buffer`, `--memory-budget` and peak × conn-buffer (null without the options).
    conn_buffer_bytes: Option<u64>,
    memory_budget_bytes: Option<u64>,
    peak_memory_bytes: Option<u64>,
    /// From the servers' qlogs (null without one for any connection open at the peak).
    qlog_in_flight: Option<InFlight>,
}

impl Identity for QuicMemory {
    const ID: &'static str = "quic-memory";
    const SEVERITY: Severity = Severity::Warning;
}

impl Detector for QuicMemory {
    /// Judges the flows at the end: never called per frame.
    fn watches(&self) -> super::Watch {
        super::Watch::Nothing
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let conns = connections(s.flows);
        let peak = peak(&conns);
        if peak.open < MIN_CONCURRENT {
            return Vec::new();
        }
        let mut open: Vec<u32> = conns
            .iter()
            .filter(|c| c.first_ns <= peak.ts_ns && c.last_ns >= peak.ts_ns)
            .map(|c| c.flow)
            .collect();
        open.sort_unstable();
        open.truncate(MAX_LISTED);
        let mut lifetimes: Vec<i64> = conns.iter().map(|c| c.last_ns - c.first_ns).collect();
        lifetimes.sort_unstable();
        let secs = |i: usize| lifetimes.get(i).map_or(0.0, |&ns| ns as f64 / 1e9);
        let (min, median, max) = (
            secs(0),
            secs(lifetimes.len() / 2),
            secs(lifetimes.len() - 1),
        );
        let in_flight = self.in_flight(s.flows, &conns, &peak);
        // Measured in flight stands in for an assumed buffer size only when none was given.
        let memory = self
            .conn_buffer
            .map(|b| b.saturating_mul(peak.open as u64))
            .or(in_flight
                .map(|i| i.at_peak_bytes)
                .filter(|_| self.budget.is_some()));
        let over = matches!((memory, self.budget), (Some(m), Some(b)) if m > b);
        let start = s.flows.flows.first().map_or(0, Flow::first_ts_ns);
        vec![Finding {
            id: Self::ID,
            severity: if over { Self::SEVERITY } else { Severity::Info },
            flow: None,
            frames: vec![peak.frame],
            frames_total: 1,
            message: self.message(&peak, conns.len(), (min, median, max), memory, in_flight),
            hint: "Without keys a connection counts as open until its last packet (the idle \
                   timeout is in encrypted transport parameters). Memory per connection is the \
                   terminator's buffers: for HAProxy tune.bufsize (16384 by default) times the \
                   buffers a QUIC connection holds; pass --conn-buffer and --memory-budget to \
                   compare. Fewer idle connections: a shorter idle timeout \
                   (tune.quic.frontend.max-idle-timeout), a connection limit (maxconn)."
                .into(),
            wireshark_filter: Some(format!("frame.number == {}", peak.frame)),
            details: details(&Details {
                connections: conns.len(),
                peak_concurrent: peak.open,
                at_frame: peak.frame,
                at_time_s: peak.ts_ns.saturating_sub(start) as f64 / 1e9,
                open_at_peak: open,
                lifetime_min_s: min,
                lifetime_median_s: median,
                lifetime_max_s: max,
                conn_buffer_bytes: self.conn_buffer,
                memory_budget_bytes: self.budget,
                peak_memory_bytes: memory,
                qlog_in_flight: in_flight,
            }),
        }]
    }
}

impl QuicMemory {
    /// Bytes in flight at the peak and at most, of the open connections a server qlog covers.
    fn in_flight(&self, flows: &FlowTable, conns: &[Conn], peak: &Peak) -> Option<InFlight> {
        let mut out = InFlight::default();
        let open = conns
            .iter()
            .filter(|c| c.first_ns <= peak.ts_ns && c.last_ns >= peak.ts_ns);
        for c in open {
            let Some(f) = flows.by_id(c.flow) else {
                continue;
            };
            let server = joined(f, &self.traces, c.last_ns)
                .into_iter()
                .find(|(_, j)| f.role(j.endpoint) == "server");
            let Some((t, j)) = server else {
                continue;
            };
            let at_ms = peak.ts_ns as f64 / 1e6 - j.align_ms;
            let points = &t.tally.points;
            let before = points.partition_point(|p| p.t_ms <= at_ms);
            let now = before
                .checked_sub(1)
                .and_then(|i| points.get(i))
                .and_then(|p| p.in_flight);
            out.connections += 1;
            out.at_peak_bytes = out.at_peak_bytes.saturating_add(now.unwrap_or(0));
            out.max_bytes = out.max_bytes.max(t.tally.max_in_flight.unwrap_or(0));
        }
        (out.connections > 0).then_some(out)
    }

    fn message(
        &self,
        peak: &Peak,
        total: usize,
        (min, median, max): (f64, f64, f64),
        memory: Option<u64>,
        in_flight: Option<InFlight>,
    ) -> String {
        let head = self.head(peak, total, (min, median, max), memory);
        let Some(i) = in_flight else {
            return head;
        };
        // Held to the budget here when no --conn-buffer said what each connection holds.
        let budget = match (self.conn_buffer, self.budget) {
            (None, Some(b)) => format!(
                ", {} the {} memory budget",
                if i.at_peak_bytes > b {
                    "more than"
                } else {
                    "within"
                },
                bytes(b)
            ),
            _ => String::new(),
        };
        format!(
            "{head} The server's qlog for {} of them logged {} in flight at that moment (sent, \
             not yet acknowledged, held for retransmission; at most {} for one){budget}.",
            i.connections,
            bytes(i.at_peak_bytes),
            bytes(i.max_bytes),
        )
    }

    fn head(
        &self,
        peak: &Peak,
        total: usize,
        (min, median, max): (f64, f64, f64),
        memory: Option<u64>,
    ) -> String {
        let head = format!(
            "At frame {}, {} of the capture's {total} QUIC connections were open at once \
             (lifetimes, first to last packet: min {}, median {}, max {})",
            peak.frame,
            peak.open,
            duration(min),
            duration(median),
            duration(max),
        );
        match (memory, self.conn_buffer, self.budget) {
            (Some(m), Some(each), Some(budget)) => format!(
                "{head}; at {} each they hold about {}, {} the {} memory budget.",
                bytes(each),
                bytes(m),
                if m > budget { "more than" } else { "within" },
                bytes(budget),
            ),
            (Some(m), Some(each), None) => {
                format!(
                    "{head}; at {} each they hold about {}.",
                    bytes(each),
                    bytes(m)
                )
            }
            _ => format!("{head}."),
        }
    }
}

/// The capture's QUIC connections that the server answered (one per QUIC view; its other paths
/// extend its times). A version negotiation probe or a client nobody answered holds no server
/// state the capture can show.
fn connections(flows: &FlowTable) -> Vec<Conn> {
    flows
        .flows
        .iter()
        .filter_map(|f| f.quic.as_deref().map(|q| (f, q)))
        .filter(|(_, q)| !q.probe() && q.first_server_ns.is_some())
        .map(|(f, q)| conn(f, q, &flows.flows))
        .collect()
}

fn conn(f: &Flow, q: &QuicConn, flows: &[Flow]) -> Conn {
    let paths = q
        .paths
        .iter()
        .filter_map(|p| crate::flow::at(flows, p.flow));
    let (first_ns, last_ns) = paths.fold((f.first_ts_ns(), f.last_ts_ns()), |(a, b), g| {
        (a.min(g.first_ts_ns()), b.max(g.last_ts_ns()))
    });
    Conn {
        flow: f.id,
        first_frame: f.first_frame(),
        first_ns,
        last_ns,
    }
}

/// The most connections open at one instant: starts and ends in time order, a start before an
/// end at the same instant (both had a packet then). The first instant the peak is reached.
fn peak(conns: &[Conn]) -> Peak {
    // (time, 0 for a start / 1 for an end, index)
    let mut events: Vec<(i64, u8, usize)> = Vec::with_capacity(conns.len() * 2);
    for (i, c) in conns.iter().enumerate() {
        events.push((c.first_ns, 0, i));
        events.push((c.last_ns.max(c.first_ns), 1, i));
    }
    events.sort_unstable();
    let (mut open, mut best) = (0usize, Peak::default());
    for (ts_ns, kind, i) in events {
        if kind == 1 {
            open = open.saturating_sub(1);
            continue;
        }
        open += 1;
        if open > best.open {
            best = Peak {
                open,
                ts_ns,
                frame: conns.get(i).map_or(0, |c| c.first_frame),
            };
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(flow: u32, first_ns: i64, last_ns: i64) -> Conn {
        Conn {
            flow,
            first_frame: u64::from(flow) * 10,
            first_ns,
            last_ns,
        }
    }

    #[test]
    fn the_peak_counts_overlapping_lifetimes() {
        let p = peak(&[c(1, 0, 100), c(2, 10, 50), c(3, 40, 60), c(4, 70, 80)]);
        assert_eq!((p.open, p.ts_ns, p.frame), (3, 40, 30));
    }

    #[test]
    fn sequential_connections_never_overlap() {
        let p = peak(&[c(1, 0, 10), c(2, 20, 30), c(3, 40, 50)]);
        assert_eq!(p.open, 1);
        // Touching at one instant: both had a packet then.
        assert_eq!(peak(&[c(1, 0, 10), c(2, 10, 20)]).open, 2);
        assert_eq!(peak(&[]).open, 0);
    }
}
