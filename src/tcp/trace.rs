//! Per-segment trace of one direction, the data behind tcptrace-style time-sequence graphs.
//!
//! Sequence numbers are relative to the direction's base and unwrapped onto 64 bits, so a graph
//! of a flow that crosses 2^32 keeps climbing. A flow keeps its full trace only when asked for
//! (a plot of that flow); every other flow keeps a bounded summary, so memory depends on the
//! number of flows, not packets.

use super::events::Events;
use super::stats::Decimated;

/// One data segment (or SYN/FIN) as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegPoint {
    pub frame: u64,
    pub t_ns: i64,
    /// Relative, unwrapped start and end sequence numbers.
    pub start: i64,
    pub end: i64,
    pub tcp_flags: u8,
    pub events: Events,
    /// Innermost IP packet length, to show segments per frame (coalescing).
    pub ip_len: u32,
    /// The IPv4 ID that Linux GRO checks first: the outer header's in a tunnel, else the only one.
    pub ip_id: Option<IdMark>,
}

/// An IPv4 identification field and its DF bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdMark {
    pub id: u16,
    pub df: bool,
    /// From the outer (tunnel) header.
    pub outer: bool,
}

/// One RTT sample, taken when the other side's ACK arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RttPoint {
    /// Frame of the ACK.
    pub frame: u64,
    pub t_ns: i64,
    pub rtt_ns: u64,
    /// From TCP timestamps rather than sequence numbers.
    pub timestamps: bool,
}

/// Bytes in flight of this direction after a frame of the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InflightPoint {
    pub t_ns: i64,
    pub bytes: u32,
}

/// One acknowledgment (of this direction's data, sent by the other side).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckPoint {
    pub frame: u64,
    pub t_ns: i64,
    /// Relative, unwrapped acknowledgment number.
    pub ack: i64,
    /// Right edge of the advertised receive window (ack + scaled window).
    pub window_edge: i64,
    pub events: Events,
}

/// One SACK block reported by the receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SackPoint {
    pub t_ns: i64,
    pub left: i64,
    pub right: i64,
}

/// Points kept per list for flows without a full trace.
pub const SUMMARY_POINTS: usize = 64;

/// The trace of one direction. A summary keeps points spread over the whole flow, and always
/// the segments that carry an analysis flag while there is room.
#[derive(Debug, Clone)]
pub struct Trace {
    full: bool,
    segments: Decimated<SegPoint>,
    acks: Decimated<AckPoint>,
    sacks: Vec<SackPoint>,
    rtts: Vec<RttPoint>,
    inflight: Vec<InflightPoint>,
}

impl Trace {
    pub fn new(full: bool) -> Self {
        let cap = if full { usize::MAX } else { SUMMARY_POINTS };
        Trace {
            full,
            segments: Decimated::new(cap),
            acks: Decimated::new(cap),
            sacks: Vec::new(),
            rtts: Vec::new(),
            inflight: Vec::new(),
        }
    }

    pub fn segments(&self) -> &[SegPoint] {
        self.segments.items()
    }

    pub fn acks(&self) -> &[AckPoint] {
        self.acks.items()
    }

    pub fn sacks(&self) -> &[SackPoint] {
        &self.sacks
    }

    pub fn rtts(&self) -> &[RttPoint] {
        &self.rtts
    }

    pub fn inflight(&self) -> &[InflightPoint] {
        &self.inflight
    }

    /// Whether this is the full trace (every segment) or a summary.
    pub fn is_full(&self) -> bool {
        self.full
    }

    pub fn segment(&mut self, p: SegPoint) {
        self.segments.push(p, |p| !p.events.is_empty());
    }

    pub fn ack(&mut self, p: AckPoint) {
        self.acks.push(p, |_| false);
    }

    pub fn sack(&mut self, p: SackPoint) {
        // SACK blocks only matter on a graph; summaries skip them.
        if self.full {
            self.sacks.push(p);
        }
    }

    pub fn rtt(&mut self, p: RttPoint) {
        if self.full {
            self.rtts.push(p);
        }
    }

    /// Records the bytes in flight when they changed (full traces only).
    pub fn inflight_at(&mut self, t_ns: i64, bytes: u32) {
        if self.full && self.inflight.last().is_none_or(|l| l.bytes != bytes) {
            self.inflight.push(InflightPoint { t_ns, bytes });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(i: i64, events: Events) -> SegPoint {
        SegPoint {
            frame: i as u64 + 1,
            t_ns: i,
            start: i * 100,
            end: i * 100 + 100,
            tcp_flags: 0,
            events,
            ip_len: 140,
            ip_id: None,
        }
    }

    #[test]
    fn summary_is_bounded_and_full_keeps_everything() {
        let mut s = Trace::new(false);
        let mut f = Trace::new(true);
        for i in 0..10_000 {
            let ev = if i == 7_777 {
                Events::RETRANSMISSION
            } else {
                Events::default()
            };
            s.segment(seg(i, ev));
            f.segment(seg(i, ev));
        }
        assert!(s.segments().len() <= SUMMARY_POINTS);
        assert_eq!(f.segments().len(), 10_000);
        assert!(s
            .segments()
            .iter()
            .any(|p| p.events == Events::RETRANSMISSION));
        // Spread over the whole flow, in order.
        assert!(s.segments().windows(2).all(|w| w[0].t_ns < w[1].t_ns));
        assert!(s.segments().last().is_some_and(|p| p.t_ns > 9_000));
    }
}
