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

/// Points kept per list of a full trace (a graph's): a flow of any length is drawn from at most
/// this many segments, ACKs, SACK blocks, RTT samples and in-flight steps per direction, so a
/// graph's memory does not grow with the flow. When a list fills, it keeps every other point
/// and from then on every 2nd, 4th, … new one (the time span is not known in advance), always
/// keeping the segments that carry an analysis flag (retransmissions and the other marks) while
/// unflagged ones remain to drop. 2^18 is over 200 points per pixel column of the widest graph,
/// so the picture is the same; it bounds a direction's trace to about 40 MB.
pub const FULL_POINTS: usize = 1 << 18;

/// The trace of one direction. A summary keeps points spread over the whole flow, and always
/// the segments that carry an analysis flag while there is room.
#[derive(Debug, Clone)]
pub struct Trace {
    full: bool,
    segments: Decimated<SegPoint>,
    acks: Decimated<AckPoint>,
    sacks: Decimated<SackPoint>,
    rtts: Decimated<RttPoint>,
    inflight: Decimated<InflightPoint>,
}

impl Trace {
    pub fn new(full: bool) -> Self {
        let cap = if full { FULL_POINTS } else { SUMMARY_POINTS };
        Trace {
            full,
            segments: Decimated::new(cap),
            acks: Decimated::new(cap),
            sacks: Decimated::new(cap),
            rtts: Decimated::new(cap),
            inflight: Decimated::new(cap),
        }
    }

    pub fn segments(&self) -> &[SegPoint] {
        self.segments.items()
    }

    /// Segments recorded, kept or not: fewer are kept once a list reaches its cap.
    pub fn segments_seen(&self) -> u64 {
        self.segments.seen()
    }

    /// Whether some segments were dropped to stay within the cap (the kept ones are a sample
    /// spread over the flow, with every flagged segment).
    pub fn thinned(&self) -> bool {
        self.segments.seen() > self.segments.items().len() as u64
    }

    pub fn acks(&self) -> &[AckPoint] {
        self.acks.items()
    }

    pub fn sacks(&self) -> &[SackPoint] {
        self.sacks.items()
    }

    pub fn rtts(&self) -> &[RttPoint] {
        self.rtts.items()
    }

    pub fn inflight(&self) -> &[InflightPoint] {
        self.inflight.items()
    }

    /// Points kept in all series: what the trace holds in memory.
    pub fn points(&self) -> usize {
        self.segments.items().len()
            + self.acks.items().len()
            + self.sacks.items().len()
            + self.rtts.items().len()
            + self.inflight.items().len()
    }

    /// Heap bytes the kept points hold.
    pub fn heap_bytes(&self) -> usize {
        use std::mem::size_of_val;
        size_of_val(self.segments.items())
            + size_of_val(self.acks.items())
            + size_of_val(self.sacks.items())
            + size_of_val(self.rtts.items())
            + size_of_val(self.inflight.items())
    }

    /// Whether this is the full trace (every segment, up to [`FULL_POINTS`] per series) or a
    /// summary.
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
            self.sacks.push(p, |_| false);
        }
    }

    pub fn rtt(&mut self, p: RttPoint) {
        if self.full {
            self.rtts.push(p, |_| false);
        }
    }

    /// Records the bytes in flight when they changed (full traces only).
    pub fn inflight_at(&mut self, t_ns: i64, bytes: u32) {
        if self.full
            && self
                .inflight
                .items()
                .last()
                .is_none_or(|l| l.bytes != bytes)
        {
            self.inflight.push(InflightPoint { t_ns, bytes }, |_| false);
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
        assert_eq!(f.points(), 10_000);
        assert!(s
            .segments()
            .iter()
            .any(|p| p.events == Events::RETRANSMISSION));
        // Spread over the whole flow, in order.
        assert!(s.segments().windows(2).all(|w| w[0].t_ns < w[1].t_ns));
        assert!(s.segments().last().is_some_and(|p| p.t_ns > 9_000));
    }

    #[test]
    fn full_trace_is_bounded_and_keeps_every_retransmission() {
        let mut f = Trace::new(true);
        let n = 3 * FULL_POINTS as i64;
        for i in 0..n {
            let ev = if i % 100_000 == 99_999 {
                Events::RETRANSMISSION
            } else {
                Events::default()
            };
            f.segment(seg(i, ev));
            f.inflight_at(i, (i % 7) as u32);
            f.rtt(RttPoint {
                frame: i as u64,
                t_ns: i,
                rtt_ns: 1,
                timestamps: false,
            });
        }
        // Three lists of up to FULL_POINTS each, whatever the flow's length.
        assert!(f.points() <= 3 * FULL_POINTS, "{}", f.points());
        assert!(f.segments().len() <= FULL_POINTS);
        assert!(f.thinned() && f.segments_seen() == n as u64);
        let resent = f.segments().iter().filter(|p| !p.events.is_empty());
        assert_eq!(resent.count() as i64, n / 100_000);
        assert!(f.segments().windows(2).all(|w| w[0].t_ns < w[1].t_ns));
        assert!(f.segments().last().is_some_and(|p| p.t_ns > n - 100));
    }
}
