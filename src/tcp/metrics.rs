//! Per-direction TCP measurements: bytes, RTT (sampled by [`super::rtt`]), bytes in flight,
//! zero-window time and capture gaps. Everything is updated in place per frame; the only
//! allocations are bounded per-flow buffers that grow to their cap and stay there.

use super::events::Events;
use super::rtt::{RttSampler, SentSegment};
use super::seq::SeqNum;
use super::stats::{Samples, Series};

pub use super::counts::Counts;
pub use super::rtt::{RttSource, RttTaken};

/// Sequence holes ("previous segment not captured") tracked per direction.
const MAX_HOLES: usize = 16;

/// Measurements for the segments one side sends (and the ACKs the other side returns for them).
#[derive(Debug, Clone, Default)]
pub struct DirMetrics {
    pub counts: Counts,
    /// Segments with payload.
    pub data_segments: u64,
    /// Segments that use sequence space (payload, SYN or FIN): what can be retransmitted.
    pub seq_segments: u64,
    /// All payload bytes sent (throughput).
    pub data_bytes: u64,
    /// Payload bytes that advanced the highest sequence number (goodput).
    pub new_bytes: u64,
    /// Payload bytes in frames flagged as retransmissions.
    pub retransmitted_bytes: u64,
    pub first_data_ns: Option<i64>,
    pub last_data_ns: Option<i64>,
    /// Highest sequence number sent (end of the highest segment).
    highest: Option<SeqNum>,
    /// Highest cumulative ACK the other side sent for this direction.
    acked: Option<SeqNum>,
    /// Where the capture last skipped data of this direction ("previous segment not captured"):
    /// bytes in flight count from here, since whether the unseen bytes were still in flight is
    /// unknowable (counting them reported 740 MB in flight for a connection whose windows were
    /// 16 kB, zeek's bigtransfer capture).
    inflight_floor: Option<SeqNum>,
    /// SACK blocks of the latest ACK for this direction.
    sack: [(SeqNum, SeqNum); 4],
    sack_count: usize,

    pub rtt_sampler: RttSampler,

    pub inflight_peak: u32,
    /// Bytes in flight after the latest segment or ACK of this direction.
    pub inflight_now: u32,
    inflight_sum: u128,
    inflight_samples: u64,

    /// Zero window advertised by this side: open since, total time, periods.
    zero_since: Option<i64>,
    pub zero_window_ns: i64,
    pub zero_window_periods: u64,

    holes: [(SeqNum, SeqNum); MAX_HOLES],
    hole_count: usize,
    /// Bytes the receiver acknowledged that the capture never saw, and how often.
    pub capture_gap_bytes: u64,
    pub capture_gap_events: u64,
    /// Sequence jumps too large for the time they took (more than [`MAX_GAP_RATE`]): a damaged
    /// or reused connection, not data the capture missed; not counted as gap bytes.
    pub seq_jumps: u64,
    /// When this side last sent anything.
    last_sent_ns: Option<i64>,

    pub series: Option<Series>,
}

/// The largest window TCP can advertise: 65535 << 14 (RFC 7323 §2.3), rounded to 2^30.
pub const MAX_WINDOW: u32 = 1 << 30;

/// The fastest a gap can have been filled on the wire, in bytes per second: 400 Gbit/s, beyond
/// any NIC of today. A "missed 436 MB" between two frames microseconds apart in a 33 kB file is
/// a corrupt or reused sequence number, not data.
pub const MAX_GAP_RATE: f64 = 50e9;

/// What one frame sent by this side brings.
pub struct Sent {
    pub ts_ns: i64,
    pub seq: SeqNum,
    pub len: u32,
    pub syn_fin: bool,
    pub rst: bool,
    pub window_zero: bool,
    pub tsval: Option<u32>,
    pub events: Events,
    pub series_start: i64,
    pub interval_ns: i64,
}

impl DirMetrics {
    /// Accounts a frame sent by this side.
    pub fn sent(&mut self, s: &Sent) {
        let ev = s.events;
        let previous_ns = self.last_sent_ns.replace(s.ts_ns);
        self.counts.add(ev);
        self.window(s);
        if s.len == 0 && !s.syn_fin {
            return;
        }
        self.seq_segments += 1;
        let new = if s.len > 0 {
            self.data(s, previous_ns)
        } else {
            0
        };
        let end = s.seq.plus(s.len);
        let seg_end = if s.syn_fin { end.plus(1) } else { end };
        self.highest = Some(self.highest.map_or(seg_end, |h| h.max(seg_end)));
        self.rtt_sampler.sent(&SentSegment {
            ts_ns: s.ts_ns,
            seq: s.seq,
            end: seg_end,
            len: s.len,
            new,
            tsval: s.tsval,
            events: s.events,
        });

        // Bytes in flight after this segment: highest sent minus cumulative ACK minus SACKed.
        if s.len > 0 {
            if let Some(inflight) = self.outstanding_bytes() {
                self.inflight_now = inflight;
                self.inflight_peak = self.inflight_peak.max(inflight);
                self.inflight_sum += inflight as u128;
                self.inflight_samples += 1;
            }
        }
    }

    /// Zero window advertised by this side (RST carries no window worth reading).
    fn window(&mut self, s: &Sent) {
        if s.rst {
            return;
        }
        match (s.window_zero, self.zero_since) {
            (true, None) => {
                self.zero_since = Some(s.ts_ns);
                self.zero_window_periods += 1;
            }
            (false, Some(t0)) => {
                self.zero_window_ns += s.ts_ns.saturating_sub(t0).max(0);
                self.zero_since = None;
            }
            _ => {}
        }
    }

    /// Accounts a segment's payload: data and retransmitted bytes, holes the capture shows, and
    /// the new bytes (goodput); returns those.
    /// The end of the highest sequence number this side was seen to send, if any.
    pub fn highest_sent(&self) -> Option<SeqNum> {
        self.highest
    }

    fn data(&mut self, s: &Sent, previous_ns: Option<i64>) -> u32 {
        let end = s.seq.plus(s.len);
        self.data_segments += 1;
        self.data_bytes += s.len as u64;
        self.first_data_ns.get_or_insert(s.ts_ns);
        self.last_data_ns = Some(s.ts_ns);
        // Bytes of frames Wireshark calls retransmissions that were resent: not a capture's
        // second copy, nor a frame captured out of its sending order, nor new data behind a
        // challenge ACK's stale mark.
        if s.events.any(Events::ANY_RETRANSMISSION) && !s.events.any(Events::NOT_A_RESEND) {
            self.retransmitted_bytes += s.len as u64;
        }
        let highest = *self.highest.get_or_insert(s.seq);
        if s.events.any(Events::LOST_SEGMENT) {
            if let Some(gap) = s.seq.bytes_after(highest).filter(|&g| g > 0) {
                let secs = previous_ns.map_or(0.0, |p| s.ts_ns.saturating_sub(p) as f64 / 1e9);
                if gap as f64 > MAX_GAP_RATE * secs && gap > MAX_WINDOW / 16 {
                    self.seq_jumps += 1;
                } else {
                    self.open_hole(highest, highest.plus(gap));
                }
                self.inflight_floor = Some(s.seq);
            }
        }
        // New: what lies beyond the highest byte sent, plus what fills a hole left earlier.
        let filled = self.fill_holes(s.seq, end);
        let new = (end.bytes_after(highest).unwrap_or(0).min(s.len) + filled).min(s.len);
        self.new_bytes += new as u64;
        self.series
            .get_or_insert_with(|| Series::new(s.series_start, s.interval_ns))
            .add(s.ts_ns, s.len as u64, new as u64);
        new
    }

    /// Highest sequence sent minus the cumulative ACK minus SACKed bytes (RFC 6675's "pipe"
    /// without loss marking), once both are known.
    fn outstanding_bytes(&self) -> Option<u32> {
        let (h, mut a) = (self.highest?, self.acked?);
        if let Some(floor) = self.inflight_floor.filter(|&f| f > a) {
            a = floor;
        }
        let mut inflight = h.bytes_after(a).unwrap_or(0);
        for &(l, r) in &self.sack[..self.sack_count] {
            let l = l.max(a);
            let r = if r > h { h } else { r };
            inflight = inflight.saturating_sub(r.bytes_after(l).unwrap_or(0));
        }
        // More than the largest window TCP can advertise (2^30, RFC 7323 §2.3) is a sequence jump
        // (a damaged or reused connection), not data in flight.
        (inflight <= MAX_WINDOW).then_some(inflight)
    }

    /// Accounts an acknowledgment for this side's data, sent by the other side; returns the RTT
    /// samples it gave (for the RTT graph).
    pub fn acked(
        &mut self,
        ts_ns: i64,
        ack: SeqNum,
        tsecr: Option<u32>,
        sack: &[(u32, u32)],
    ) -> RttTaken {
        let advanced = self.acked.is_none_or(|a| ack > a);
        if advanced {
            self.acked = Some(ack);
        }
        self.sack_count = 0;
        for &(l, r) in sack.iter().take(4) {
            self.sack[self.sack_count] = (SeqNum(l), SeqNum(r));
            self.sack_count += 1;
        }

        if advanced {
            // Holes below the ACK were received but never captured.
            self.ack_holes(ack);
            // An ACK beyond everything seen: the capture missed the tail.
            if let Some(h) = self.highest {
                if let Some(gap) = ack.bytes_after(h).filter(|&g| g > 0 && g < 1 << 30) {
                    self.capture_gap_bytes += gap as u64;
                    self.capture_gap_events += 1;
                    self.new_bytes += gap as u64;
                    self.highest = Some(ack);
                }
            }
        }

        let taken = self.rtt_sampler.acked(ts_ns, ack, tsecr, advanced);
        // An ACK takes bytes out of flight, it never puts any in (RFC 6675 §5 (C.4): "pipe"
        // grows only by what is transmitted). A larger figure here is the measurement's, not
        // the wire's: a first ACK on a capture that began mid-stream, SACK blocks an ACK no
        // longer repeats. Only lowering keeps `inflight_now <= inflight_peak`, so the sum over
        // connections in `high-inflight` never exceeds the sum of their peaks.
        if let Some(inflight) = self.outstanding_bytes() {
            self.inflight_now = self.inflight_now.min(inflight);
        }
        taken
    }

    fn open_hole(&mut self, start: SeqNum, end: SeqNum) {
        if self.hole_count == MAX_HOLES {
            // Forget the oldest; its bytes are not counted either way.
            self.holes.copy_within(1.., 0);
            self.hole_count -= 1;
        }
        self.holes[self.hole_count] = (start, end);
        self.hole_count += 1;
    }

    /// A segment covering part of a hole: that part was resent, so it is not a capture gap.
    /// Returns the bytes of holes it filled.
    fn fill_holes(&mut self, start: SeqNum, end: SeqNum) -> u32 {
        let mut filled = 0;
        let mut i = 0;
        while i < self.hole_count {
            let (hs, he) = self.holes[i];
            if end <= hs || start >= he {
                i += 1;
                continue;
            }
            let (l, r) = (start.max(hs), if end < he { end } else { he });
            filled += r.bytes_after(l).unwrap_or(0);
            if start <= hs && end >= he {
                self.remove_hole(i);
                continue;
            }
            if start <= hs {
                self.holes[i].0 = end;
            } else if end >= he {
                self.holes[i].1 = start;
            } else {
                // The middle of a hole: keep its left part, and the right part if there is room.
                self.holes[i].1 = start;
                if self.hole_count < MAX_HOLES {
                    self.holes[self.hole_count] = (end, he);
                    self.hole_count += 1;
                }
            }
            i += 1;
        }
        filled
    }

    fn ack_holes(&mut self, ack: SeqNum) {
        let mut i = 0;
        while i < self.hole_count {
            let (hs, he) = self.holes[i];
            if ack <= hs {
                i += 1;
                continue;
            }
            let top = if ack < he { ack } else { he };
            let gap = top.bytes_after(hs).unwrap_or(0) as u64;
            // Delivered (the receiver says so) though never seen: goodput all the same.
            self.capture_gap_bytes += gap;
            self.new_bytes += gap;
            self.capture_gap_events += 1;
            if ack < he {
                self.holes[i].0 = ack;
                i += 1;
            } else {
                self.remove_hole(i);
            }
        }
    }

    fn remove_hole(&mut self, i: usize) {
        self.holes.copy_within(i + 1..self.hole_count, i);
        self.hole_count -= 1;
    }

    /// Time this side advertised a zero window, counting a period still open at `end_ns`.
    pub fn zero_window_time(&self, end_ns: i64) -> i64 {
        let open = self
            .zero_since
            .map_or(0, |t0| end_ns.saturating_sub(t0).max(0));
        self.zero_window_ns + open
    }

    /// Whether a zero window is still advertised at the end of the capture.
    pub fn zero_window_open(&self) -> bool {
        self.zero_since.is_some()
    }

    pub fn inflight_mean(&self) -> Option<f64> {
        (self.inflight_samples > 0).then(|| self.inflight_sum as f64 / self.inflight_samples as f64)
    }

    /// Retransmitted frames per segment that used sequence space.
    pub fn retransmission_rate(&self) -> f64 {
        if self.seq_segments == 0 {
            0.0
        } else {
            self.counts.real_retransmissions() as f64 / self.seq_segments as f64
        }
    }

    /// The RTT samples to report and where they came from ([`RttSampler::reported`]).
    pub fn rtt(&self) -> (&Samples, RttSource) {
        self.rtt_sampler.reported()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sent(seq: u32, len: u32, ts: i64, events: Events) -> Sent {
        Sent {
            ts_ns: ts,
            seq: SeqNum(seq),
            len,
            syn_fin: false,
            rst: false,
            window_zero: false,
            tsval: None,
            events,
            series_start: 0,
            interval_ns: 100_000_000,
        }
    }

    #[test]
    fn karn_no_sample_for_retransmitted_data() {
        let mut m = DirMetrics::default();
        m.acked(0, SeqNum(1000), None, &[]);
        m.sent(&sent(1000, 100, 1_000, Events::default()));
        m.sent(&sent(1000, 100, 5_000, Events::RETRANSMISSION));
        m.acked(9_000, SeqNum(1100), None, &[]);
        assert_eq!(m.rtt_sampler.seq.count(), 0, "the ACK is ambiguous");
        m.sent(&sent(1100, 100, 10_000, Events::default()));
        m.acked(13_000, SeqNum(1200), None, &[]);
        let q = m.rtt_sampler.seq.quantiles().expect("one sample");
        assert_eq!((q.count, q.min_ns), (1, 3_000));
        assert_eq!(m.retransmitted_bytes, 100);
        assert_eq!(m.new_bytes, 200);
    }

    #[test]
    fn partial_ack_of_a_super_segment_gives_one_sample() {
        let mut m = DirMetrics::default();
        m.acked(0, SeqNum(0), None, &[]);
        m.sent(&sent(0, 64_000, 1_000, Events::default()));
        m.acked(51_000, SeqNum(2_896), None, &[]);
        m.acked(52_000, SeqNum(5_792), None, &[]);
        m.acked(60_000, SeqNum(64_000), None, &[]);
        let q = m.rtt_sampler.seq.quantiles().expect("a sample");
        assert_eq!((q.count, q.max_ns), (1, 50_000));
    }

    #[test]
    fn timestamps_sample_once_per_tsval() {
        let mut m = DirMetrics::default();
        for (seq, t, tsval) in [(0, 1_000, 7), (100, 1_500, 7), (200, 2_000, 8)] {
            let mut s = sent(seq, 100, t, Events::default());
            s.tsval = Some(tsval);
            m.sent(&s);
        }
        m.acked(11_000, SeqNum(100), Some(7), &[]);
        // New data acknowledged, echoing 7 again: 7 has given its sample.
        m.acked(12_000, SeqNum(200), Some(7), &[]);
        m.acked(22_000, SeqNum(300), Some(8), &[]);
        let q = m.rtt_sampler.ts.quantiles().expect("samples");
        assert_eq!((q.count, q.min_ns, q.max_ns), (2, 10_000, 20_000));
        // Every ACK of new data gave a seq/ACK sample, which the report prefers (Linux).
        let (reported, source) = m.rtt();
        assert_eq!((reported.count(), source), (3, RttSource::SeqAck));
    }

    #[test]
    fn in_flight_subtracts_sacked_bytes() {
        let mut m = DirMetrics::default();
        m.acked(0, SeqNum(0), None, &[]);
        for i in 0..10 {
            m.sent(&sent(i * 1000, 1000, i as i64, Events::default()));
        }
        assert_eq!(m.inflight_peak, 10_000);
        // The receiver has 0..3000 and 4000..9000: 1000 missing, 1000 not yet arrived.
        m.acked(100, SeqNum(3000), None, &[(4000, 9000)]);
        m.sent(&sent(10_000, 1000, 200, Events::default()));
        // highest 11,000 - ack 3,000 - SACKed 5,000
        assert_eq!(m.inflight_peak, 10_000);
        let last_inflight = 11_000 - 3_000 - 5_000;
        assert_eq!(
            m.inflight_sum,
            (1..=10u128).map(|i| i * 1000).sum::<u128>() + last_inflight
        );
    }

    #[test]
    fn a_hole_acknowledged_unseen_is_a_capture_gap_and_a_filled_one_is_not() {
        let mut m = DirMetrics::default();
        m.sent(&sent(0, 1000, 0, Events::default()));
        m.sent(&sent(2000, 1000, 1, Events::LOST_SEGMENT));
        m.sent(&sent(4000, 1000, 2, Events::LOST_SEGMENT));
        // 3000..4000 is resent: network loss, not a gap.
        m.sent(&sent(3000, 1000, 3, Events::RETRANSMISSION));
        m.acked(10, SeqNum(5000), None, &[]);
        assert_eq!((m.capture_gap_bytes, m.capture_gap_events), (1000, 1));
        assert_eq!(m.new_bytes, 5000);
    }
}
