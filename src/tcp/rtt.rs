//! RTT sampling of one TCP direction: seq/ACK samples under Karn's rule, RFC 7323 timestamp
//! samples, and the RTT the report quotes, which combines them the way Linux does.
//!
//! - **Seq/ACK**: a segment to the ACK that acknowledges it exactly, as Wireshark's
//!   `tcp.analysis.ack_rtt` (epan/dissectors/packet-tcp.c, `tcp_analyze_sequence_number`: the
//!   unacked segment with `ack == ual->nextseq`). Unlike Wireshark, Karn's rule (RFC 6298 §3):
//!   no sample for a segment sent more than once, and a partial ACK of a large (TSO/GSO/GRO)
//!   segment gives one sample, at its first ACK. A capture duplicate (the same frame captured
//!   twice) was sent once: it is not a resend.
//! - **Timestamps**: a TSval, armed by the first segment that carries it, to its first echo in
//!   an ACK of new data. Never from a pure ACK, once per TSval.
//! - **Reported**: per ACK of new data, its seq/ACK sample, else its timestamp sample. Linux's
//!   `tcp_ack_update_rtt` (net/ipv4/tcp_input.c) "prefers RTT measured from ACK's timing to
//!   TS-ECR" and falls back to TSecr where Karn's rule forbids a sequence sample, which
//!   `tcp_clean_rtx_queue` decides (`FLAG_RETRANS_DATA_ACKED`). So resent data still gets a
//!   sample when both ends use timestamps.

use std::collections::VecDeque;

use super::events::Events;
use super::seq::SeqNum;
use super::stats::Samples;

/// Segments remembered for seq/ACK samples per direction; older ones are forgotten when more
/// are outstanding (no sample for them).
const MAX_OUTSTANDING: usize = 1024;
/// TSval values remembered for timestamp samples per direction.
const MAX_TSVALS: usize = 256;

#[derive(Debug, Clone, Copy)]
struct Outstanding {
    start: SeqNum,
    end: SeqNum,
    ts: i64,
    /// Retransmitted (Karn: its ACK is ambiguous) or already sampled.
    no_sample: bool,
}

/// Where the reported RTT samples of a direction came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RttSource {
    /// All from segments to the ACK of each (Karn's rule: never resent data).
    SeqAck,
    /// All from TSval to its first echo (RFC 7323): every ACK of new data acknowledged resent
    /// data.
    Timestamps,
    /// Seq/ACK samples, with timestamp samples for the ACKs of resent data.
    SeqAckAndTimestamps,
}

impl RttSource {
    /// The name the JSON report uses.
    pub fn name(self) -> &'static str {
        match self {
            RttSource::SeqAck => "seq-ack",
            RttSource::Timestamps => "timestamps",
            RttSource::SeqAckAndTimestamps => "seq-ack+timestamps",
        }
    }
}

/// The RTT samples one ACK gave, in nanoseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RttTaken {
    /// From the segment the ACK acknowledges (Karn's rule applied).
    pub seq: Option<u64>,
    /// From the TSecr echoing a TSval seen sent (RFC 7323 §4).
    pub ts: Option<u64>,
}

/// A segment that used sequence space (payload, SYN or FIN), as RTT sampling sees it.
pub struct SentSegment {
    pub ts_ns: i64,
    pub seq: SeqNum,
    /// End of its sequence space (SYN and FIN count one).
    pub end: SeqNum,
    pub len: u32,
    /// Payload bytes beyond what was sent before (goodput): fewer than `len` is a resend.
    pub new: u32,
    pub tsval: Option<u32>,
    pub events: Events,
}

/// RTT sampling state and samples of the data one side sends.
#[derive(Debug, Clone, Default)]
pub struct RttSampler {
    /// Every seq/ACK sample.
    pub seq: Samples,
    /// Every timestamp sample.
    pub ts: Samples,
    /// The reported RTT: seq/ACK samples, and timestamp samples of ACKs that gave none.
    reported: Samples,
    /// How many of `reported` are timestamp samples.
    reported_from_ts: u64,
    outstanding: VecDeque<Outstanding>,
    /// TSvals armed and not yet echoed, with the time of the segment that armed each.
    tsvals: VecDeque<(u32, i64)>,
    /// The newest TSval ever armed: a TSval is armed once, whatever became of its echo.
    tsval_high: Option<u32>,
}

impl RttSampler {
    /// Samples kept in the three sets (what they hold in memory).
    pub fn kept_samples(&self) -> usize {
        self.seq.kept() + self.ts.kept() + self.reported.kept()
    }

    /// Accounts a segment that used sequence space. Pure ACKs never come here: their TSval is
    /// echoed on the peer's next segment, whenever it has something to send, so a "sample" would
    /// be the peer's think time.
    pub fn sent(&mut self, s: &SentSegment) {
        if let Some(v) = s.tsval {
            self.arm(v, s.ts_ns);
        }
        self.karn(s);
    }

    /// Arms a TSval once: only the first segment carrying it. With a clock slower than the
    /// segment rate (BSD's 2 Hz, Linux's 1 ms at high rates) many segments share a TSval;
    /// arming it again after its echo would measure from a later segment to the next ACK
    /// echoing the same value (0.49 ms on a 36 ms path).
    fn arm(&mut self, v: u32, ts_ns: i64) {
        if self
            .tsval_high
            .is_some_and(|high| v.wrapping_sub(high) as i32 <= 0)
        {
            return;
        }
        self.tsval_high = Some(v);
        if self.tsvals.len() == MAX_TSVALS {
            self.tsvals.pop_front();
        }
        self.tsvals.push_back((v, ts_ns));
    }

    /// Karn's rule: a resent range never gives a seq/ACK sample; a new segment is outstanding
    /// until ACKed. A capture duplicate was sent once: its original is outstanding already.
    fn karn(&mut self, s: &SentSegment) {
        if s.events.any(Events::CAPTURE_DUPLICATE) {
            return;
        }
        if s.events
            .any(Events::ANY_RETRANSMISSION | Events::OUT_OF_ORDER)
            || s.new < s.len
        {
            for o in self.outstanding.iter_mut().rev() {
                if o.end <= s.seq {
                    break;
                }
                if o.start < s.end {
                    o.no_sample = true;
                }
            }
        } else {
            if self.outstanding.len() == MAX_OUTSTANDING {
                self.outstanding.pop_front();
            }
            self.outstanding.push_back(Outstanding {
                start: s.seq,
                end: s.end,
                ts: s.ts_ns,
                no_sample: false,
            });
        }
    }

    /// Accounts an ACK for this side's data: `advanced` when it acknowledges new data, `tsecr`
    /// its timestamp echo. Returns the samples it gave (for the RTT graph).
    pub fn acked(
        &mut self,
        ts_ns: i64,
        ack: SeqNum,
        tsecr: Option<u32>,
        advanced: bool,
    ) -> RttTaken {
        let taken = RttTaken {
            seq: advanced.then(|| self.seq_sample(ts_ns, ack)).flatten(),
            ts: tsecr.and_then(|e| self.ts_sample(ts_ns, e, advanced)),
        };
        if let Some(v) = taken.seq {
            self.reported.push(v);
        } else if let Some(v) = taken.ts {
            self.reported.push(v);
            self.reported_from_ts += 1;
        }
        taken
    }

    /// The seq/ACK sample of an ACK that moved forward to `ack`: from the segment it
    /// acknowledges exactly (a cumulative ACK of several segments ends at the newest one), or
    /// the first partial ACK of a large segment. An ACK that ends beyond every segment seen, or
    /// in a hole the capture missed, answers segments whose send time is unknown: no sample.
    fn seq_sample(&mut self, ts_ns: i64, ack: SeqNum) -> Option<u64> {
        let mut covered: Option<Outstanding> = None;
        while let Some(o) = self.outstanding.front().copied() {
            if o.end <= ack {
                covered = Some(o);
                self.outstanding.pop_front();
            } else {
                break;
            }
        }
        let since = |t: i64| ts_ns.saturating_sub(t).max(0) as u64;
        let sample = match (covered, self.outstanding.front_mut()) {
            (Some(o), _) if o.end == ack => (!o.no_sample).then(|| since(o.ts)),
            (_, Some(o)) if o.start < ack && !o.no_sample => {
                o.no_sample = true;
                Some(since(o.ts))
            }
            _ => None,
        };
        if let Some(v) = sample {
            self.seq.push(v);
        }
        sample
    }

    /// The timestamp sample of an ACK echoing `tsecr`: at the first echo of an armed TSval, and
    /// only when the ACK acknowledges new data (`advanced`), the RTTM rule of
    /// `tcp_ack_update_rtt` ("only if it advances the left edge of the send window", RFC 7323
    /// §4.1). An echo consumes its TSval and every older one, sample or not: the echo never
    /// moves back (RFC 7323 §4.3, TS.Recent).
    fn ts_sample(&mut self, ts_ns: i64, tsecr: u32, advanced: bool) -> Option<u64> {
        let older = self
            .tsvals
            .partition_point(|&(v, _)| (v.wrapping_sub(tsecr) as i32) < 0);
        let armed = self.tsvals.get(older).copied().filter(|&(v, _)| v == tsecr);
        self.tsvals.drain(..older + usize::from(armed.is_some()));
        let (_, t) = armed.filter(|_| advanced)?;
        let rtt = ts_ns.saturating_sub(t).max(0) as u64;
        self.ts.push(rtt);
        Some(rtt)
    }

    /// The RTT samples to report and where they came from: one per ACK of new data that gave
    /// one, its seq/ACK sample or else its timestamp sample.
    pub fn reported(&self) -> (&Samples, RttSource) {
        let source = if self.reported_from_ts == 0 {
            RttSource::SeqAck
        } else if self.reported_from_ts == self.reported.count() {
            RttSource::Timestamps
        } else {
            RttSource::SeqAckAndTimestamps
        };
        (&self.reported, source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tcp::metrics::{DirMetrics, Sent};

    const MS: i64 = 1_000_000;

    fn seg(seq: u32, len: u32, t: i64, tsval: Option<u32>, events: Events) -> Sent {
        Sent {
            ts_ns: t,
            seq: SeqNum(seq),
            len,
            syn_fin: false,
            rst: false,
            window_zero: false,
            tsval,
            events,
            series_start: 0,
            interval_ns: 100_000_000,
        }
    }

    fn reported(m: &DirMetrics) -> (u64, u64, u64) {
        let q = m.rtt().0.quantiles().expect("samples");
        (q.count, q.median_ns, q.max_ns)
    }

    /// A BSD-style 2 Hz timestamp clock: 40 segments in 40 ms all carry TSval 100, each ACKed
    /// 36 ms later with TSecr 100. Arming 100 again after its first echo gave samples of 0-1 ms
    /// (an ACK to the segment sent just before it).
    #[test]
    fn a_slow_timestamp_clock_arms_each_tsval_once() {
        let mut m = DirMetrics::default();
        m.acked(-MS, SeqNum(0), None, &[]);
        let mut events: Vec<(i64, bool, u32)> = (0..40)
            .flat_map(|i| [(i * MS, true, i as u32), ((i + 36) * MS, false, i as u32)])
            .collect();
        events.sort();
        for (t, is_data, i) in events {
            if is_data {
                m.sent(&seg(i * 1000, 1000, t, Some(100), Events::default()));
            } else {
                m.acked(t, SeqNum((i + 1) * 1000), Some(100), &[]);
            }
        }
        let ts = m.rtt_sampler.ts.quantiles().expect("a timestamp sample");
        assert_eq!((ts.count, ts.max_ns), (1, 36 * MS as u64));
        assert_eq!(reported(&m), (40, 36 * MS as u64, 36 * MS as u64));
        assert_eq!(m.rtt().1, RttSource::SeqAck);
    }

    /// An interactive session: the peer echoes a pure ACK's TSval 10 s later, when its user
    /// types; that is think time, not a round trip (2 ms here).
    #[test]
    fn a_pure_acks_tsval_is_never_armed() {
        let mut m = DirMetrics::default();
        m.acked(0, SeqNum(1000), None, &[]);
        m.sent(&seg(1000, 0, MS, Some(500), Events::default()));
        m.acked(10_000 * MS, SeqNum(1000), Some(500), &[]);
        m.sent(&seg(1000, 10, 10_500 * MS, Some(501), Events::default()));
        m.acked(10_502 * MS, SeqNum(1010), Some(501), &[]);
        assert_eq!(reported(&m), (1, 2 * MS as u64, 2 * MS as u64));
        assert_eq!(m.rtt_sampler.ts.count(), 1);

        // A side that sends nothing but ACKs has no RTT at all.
        let mut acks_only = DirMetrics::default();
        acks_only.acked(0, SeqNum(1), None, &[]);
        for i in 0..100 {
            acks_only.sent(&seg(
                1,
                0,
                i * 10 * MS,
                Some(1000 + i as u32),
                Events::default(),
            ));
            acks_only.acked(i * 10 * MS + 5 * MS, SeqNum(1), Some(1000 + i as u32), &[]);
        }
        assert_eq!(acks_only.rtt().0.count(), 0);
        assert_eq!(acks_only.rtt_sampler.ts.count(), 0);
    }

    /// A mirror port copies every frame: the copy (flagged a capture duplicate, and a
    /// retransmission by Wireshark's rules) was sent once, so its ACK is not ambiguous. A real
    /// resend still is.
    #[test]
    fn a_capture_duplicate_is_not_a_resend() {
        let copy = Events::CAPTURE_DUPLICATE | Events::RETRANSMISSION;
        let mut m = DirMetrics::default();
        m.acked(0, SeqNum(1000), None, &[]);
        m.sent(&seg(1000, 1448, MS, None, Events::default()));
        m.sent(&seg(1000, 1448, MS + 20_000, None, copy));
        m.acked(37 * MS, SeqNum(2448), None, &[]);
        m.acked(37 * MS + 20_000, SeqNum(2448), None, &[]);
        // A real resend (an RTO later): Karn's rule.
        m.sent(&seg(2448, 1448, 40 * MS, None, Events::default()));
        m.sent(&seg(2448, 1448, 240 * MS, None, Events::RETRANSMISSION));
        m.acked(276 * MS, SeqNum(3896), None, &[]);
        assert_eq!(reported(&m), (1, 36 * MS as u64, 36 * MS as u64));
    }

    /// Karn's rule leaves the ACK of resent data without a seq/ACK sample; the TSecr says which
    /// copy it answers, so the timestamp sample stands in (Linux, `tcp_ack_update_rtt`).
    #[test]
    fn timestamps_fill_in_for_resent_data() {
        let mut m = DirMetrics::default();
        m.acked(0, SeqNum(0), None, &[]);
        m.sent(&seg(0, 1000, 0, Some(10), Events::default()));
        m.sent(&seg(0, 1000, 200 * MS, Some(30), Events::RETRANSMISSION));
        m.acked(236 * MS, SeqNum(1000), Some(30), &[]);
        assert_eq!(m.rtt_sampler.seq.count(), 0);
        assert_eq!(reported(&m), (1, 36 * MS as u64, 36 * MS as u64));
        assert_eq!(m.rtt().1, RttSource::Timestamps);
        m.sent(&seg(1000, 1000, 240 * MS, Some(31), Events::default()));
        m.acked(276 * MS, SeqNum(2000), Some(31), &[]);
        assert_eq!(reported(&m), (2, 36 * MS as u64, 36 * MS as u64));
        assert_eq!(m.rtt().1, RttSource::SeqAckAndTimestamps);
        assert_eq!(m.rtt_sampler.ts.count(), 2);
    }

    /// The capture missed 1000..3000: the ACK of 3000 answers segments whose send time is
    /// unknown (Wireshark takes no sample either: no segment ends at 3000).
    #[test]
    fn an_ack_beyond_the_segments_seen_gives_no_sample() {
        let mut m = DirMetrics::default();
        m.acked(0, SeqNum(0), None, &[]);
        m.sent(&seg(0, 1000, 0, None, Events::default()));
        m.acked(10 * MS, SeqNum(3000), None, &[]);
        assert_eq!(m.rtt().0.count(), 0);
        m.sent(&seg(3000, 1000, 11 * MS, None, Events::default()));
        m.acked(13 * MS, SeqNum(4000), None, &[]);
        assert_eq!(reported(&m), (1, 2 * MS as u64, 2 * MS as u64));
    }
}
