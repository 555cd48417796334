//! The unanswered-run logic `udp-stall` and `quic-stall` share: per two-way UDP conversation,
//! the gaps between its packets (for the usual gap) and the runs where one side sends while the
//! other says nothing, kept when they look like a timer backing off or a direction that stopped.
//!
//! Silence alone is not a stall. DNS, RADIUS, NFS, NTP, SIP and voice all go quiet between
//! exchanges, and a browser's QUIC connection idles between page loads: in all of them the side
//! that speaks after the silence is answered at once, or speaks on a fixed cadence. What marks
//! unmet demand is a *run*: at least [`MIN_REPEATS`] sends from one side with no packet from the
//! other between them, each gap at least [`BACKOFF`] times the one before (a timer backing off,
//! RFC 9002 §6.2.1: each probe timeout doubles the wait), the longest gap at least
//! [`MIN_STALL_NS`]. Sends within [`BURST_NS`] of each other are one send (a PTO probe may be two
//! datagrams, RFC 9002 §6.2.4).

use rustc_hash::FxHashMap;

use crate::flow::{Flow, PerSide, Side};

/// The longest unanswered gap must be at least this many times the usual gap …
pub const STALL_FACTOR: i64 = 20;
/// … and at least this long (shorter pauses are not what users notice).
pub const MIN_STALL_NS: i64 = 200_000_000;
/// Sends in an unanswered run: the first send and at least two retries.
pub const MIN_REPEATS: u32 = 3;
/// Each gap of the run is at least this share larger than the one before (timers double; 1.5
/// leaves room for jitter and granularity).
pub const BACKOFF: f64 = 1.5;
/// Packets this close to the previous one from the same side are part of the same send.
pub const BURST_NS: i64 = 1_000_000;
/// A conversation needs this many packets, in both directions, for its usual gap to mean anything.
pub const MIN_PACKETS: u64 = 10;
/// Runs kept per flow (first ones; the rest are counted).
const MAX_RUNS: usize = 64;
/// Gaps and send frames kept per run (a probe timer doubling from 1 s reaches minutes by then).
pub const RUN_KEPT: usize = 8;

/// How a kept run looked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunShape {
    /// Every gap grew by [`BACKOFF`]: a retry timer.
    Backoff,
    /// Steady or irregular gaps, one side sending all along (only kept when
    /// [`Conversation::keep_one_way`] says so).
    OneWay,
}

/// One side sending with no answer, in progress or closed.
#[derive(Debug, Default, Clone, Copy)]
pub struct Run {
    pub side: Option<Side>,
    pub sends: u32,
    pub first_frame: u64,
    pub last_frame: u64,
    pub first_ns: i64,
    /// The last send, or the answer once the run is closed by one.
    pub last_ns: i64,
    /// The last send (set when the run is closed).
    pub last_send_ns: i64,
    pub last_gap: i64,
    pub longest_gap: i64,
    /// Every gap so far grew by [`BACKOFF`].
    pub growing: bool,
    /// The frames of the first [`RUN_KEPT`] sends, and the gaps between them.
    pub frames: [u64; RUN_KEPT],
    pub gaps: [i64; RUN_KEPT],
}

impl Run {
    /// The first [`RUN_KEPT`] sends' frames.
    pub fn send_frames(&self) -> &[u64] {
        &self.frames[..(self.sends as usize).min(RUN_KEPT)]
    }

    /// The gaps between those sends.
    pub fn send_gaps(&self) -> &[i64] {
        &self.gaps[..(self.sends as usize).saturating_sub(1).min(RUN_KEPT)]
    }

    /// From the first unanswered send to the answer (or to the last send).
    pub fn span_ns(&self) -> i64 {
        self.last_ns.saturating_sub(self.first_ns)
    }
}

/// A closed run worth judging.
#[derive(Debug, Clone, Copy)]
pub struct Stall {
    pub run: Run,
    pub shape: RunShape,
    /// Whether the other side answered in the end (false: the capture ended first).
    pub answered: bool,
}

/// Silences kept per conversation: the longest.
pub const MAX_SILENCES: usize = 8;

/// A time neither side sent anything: from one packet to the next, whoever sent them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Silence {
    pub from_frame: u64,
    pub to_frame: u64,
    pub from_ns: i64,
    pub to_ns: i64,
}

impl Silence {
    pub fn span_ns(&self) -> i64 {
        self.to_ns.saturating_sub(self.from_ns)
    }
}

/// One UDP conversation's gaps and runs.
#[derive(Debug, Default)]
pub struct Conversation {
    last_ns: Option<i64>,
    last_frame: u64,
    pub packets: u64,
    pub sides: PerSide<bool>,
    /// Gaps by bit length of the microseconds (bucket b holds [2^(b-1), 2^b) µs; 31: 18 min+).
    histogram: [u32; 32],
    run: Run,
    pub stalls: Vec<Stall>,
    pub more_stalls: u64,
    /// Keep answered one-way runs spanning at least this long (0: never).
    one_way_ns: i64,
    /// The longest silences of at least `silence_ns` (0: none kept).
    pub silences: Vec<Silence>,
    silence_ns: i64,
}

impl Conversation {
    /// A conversation that also keeps answered runs of at least `ns` from one side whatever
    /// their gaps (a direction that stopped while the other kept sending).
    pub fn keep_one_way(ns: i64) -> Self {
        Conversation {
            one_way_ns: ns,
            ..Conversation::default()
        }
    }

    /// Also keeps the [`MAX_SILENCES`] longest times of at least `ns` when neither side sent.
    pub fn keep_silences(mut self, ns: i64) -> Self {
        self.silence_ns = ns;
        self
    }

    /// Whether the conversation had enough packets both ways for its usual gap to mean anything.
    pub fn two_way(&self) -> bool {
        self.packets >= MIN_PACKETS && self.sides.iter().all(|&s| s)
    }

    /// The median gap, as the geometric middle of its histogram bucket.
    pub fn median_gap_ns(&self) -> Option<i64> {
        let total: u64 = self.histogram.iter().map(|&c| u64::from(c)).sum();
        let mut seen = 0;
        for (b, &c) in self.histogram.iter().enumerate() {
            seen += u64::from(c);
            if c > 0 && seen * 2 >= total {
                return Some(if b == 0 {
                    0
                } else {
                    (1e3 * 2f64.powf(b as f64 - 0.5)) as i64
                });
            }
        }
        None
    }

    /// One packet from `side` (frame `frame`): counts its gap, extends that side's unanswered
    /// run or closes the other's.
    pub fn packet(&mut self, side: Side, frame: u64, ts_ns: i64) {
        self.packets += 1;
        self.sides[side] = true;
        self.gap(frame, ts_ns);
        self.send(side, frame, ts_ns);
    }

    fn gap(&mut self, frame: u64, ts_ns: i64) {
        if let Some(last) = self.last_ns {
            // Out-of-order timestamps (merged interfaces) count as no gap.
            let gap = ts_ns.saturating_sub(last).max(0);
            let bucket = (64 - (gap as u64 / 1000).leading_zeros() as usize).min(31);
            self.histogram[bucket] = self.histogram[bucket].saturating_add(1);
            if self.silence_ns > 0 && gap >= self.silence_ns {
                self.silence(Silence {
                    from_frame: self.last_frame,
                    to_frame: frame,
                    from_ns: last,
                    to_ns: ts_ns,
                });
            }
        }
        if self.last_ns.is_none_or(|l| ts_ns >= l) {
            self.last_frame = frame;
        }
        self.last_ns = Some(self.last_ns.map_or(ts_ns, |l| l.max(ts_ns)));
    }

    /// Keeps `s` among the longest silences, in time order.
    fn silence(&mut self, s: Silence) {
        if self.silences.len() == MAX_SILENCES {
            let Some((i, shortest)) = self
                .silences
                .iter()
                .enumerate()
                .min_by_key(|(_, x)| x.span_ns())
            else {
                return;
            };
            if shortest.span_ns() >= s.span_ns() {
                return;
            }
            self.silences.remove(i);
        }
        self.silences.push(s);
    }

    fn send(&mut self, side: Side, frame: u64, ts_ns: i64) {
        let r = &mut self.run;
        if r.side == Some(side) {
            let gap = ts_ns.saturating_sub(r.last_ns);
            if gap >= BURST_NS {
                r.growing &= r.sends < 2 || gap as f64 >= BACKOFF * r.last_gap as f64;
                if let Some(g) = r.gaps.get_mut(r.sends as usize - 1) {
                    *g = gap;
                }
                if let Some(f) = r.frames.get_mut(r.sends as usize) {
                    *f = frame;
                }
                r.sends += 1;
                r.last_gap = gap;
                r.longest_gap = r.longest_gap.max(gap);
            }
            r.last_frame = frame;
            r.last_ns = r.last_ns.max(ts_ns);
            return;
        }
        self.close(Some(ts_ns));
        let mut frames = [0; RUN_KEPT];
        frames[0] = frame;
        self.run = Run {
            side: Some(side),
            sends: 1,
            first_frame: frame,
            last_frame: frame,
            first_ns: ts_ns,
            last_ns: ts_ns,
            growing: true,
            frames,
            ..Run::default()
        };
    }

    /// Ends the current run, answered at `answer_ns` or not at all (the capture ended); keeps it
    /// when it backed off, or when it is a long enough one-way run that was answered.
    pub fn close(&mut self, answer_ns: Option<i64>) {
        let mut r = self.run;
        self.run = Run::default();
        r.last_send_ns = r.last_ns;
        r.last_ns = answer_ns.unwrap_or(r.last_ns).max(r.last_ns);
        let answered = answer_ns.is_some();
        if r.side.is_none() || r.sends < MIN_REPEATS {
            return;
        }
        let shape = if r.growing && r.longest_gap >= MIN_STALL_NS {
            RunShape::Backoff
        } else if answered && self.one_way_ns > 0 && r.span_ns() >= self.one_way_ns {
            RunShape::OneWay
        } else {
            return;
        };
        if self.stalls.len() < MAX_RUNS {
            self.stalls.push(Stall {
                run: r,
                shape,
                answered,
            });
        } else {
            self.more_stalls += 1;
        }
    }
}

/// The conversations to judge at the end, in flow order: each closed, of a flow `keep`
/// accepts, heard both ways, with its usual gap (the median between packets).
pub fn judged<'a>(
    convs: &'a mut FxHashMap<usize, Conversation>,
    flows: &'a [Flow],
    keep: impl Fn(&Flow) -> bool,
) -> Vec<(&'a Flow, &'a Conversation, i64)> {
    for c in convs.values_mut() {
        c.close(None);
    }
    let mut out: Vec<_> = convs
        .iter()
        .filter_map(|(&i, c)| {
            let f = crate::flow::at(flows, i).filter(|f| keep(f) && c.two_way())?;
            Some((f, c, c.median_gap_ns()?))
        })
        .collect();
    out.sort_unstable_by_key(|(f, _, _)| f.id);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    #[test]
    fn a_doubling_run_is_a_backoff_with_its_gaps() {
        let mut c = Conversation::default();
        c.packet(Side::B, 1, 0);
        let mut t = 0;
        for (k, gap) in [0, 300, 600, 1200].iter().enumerate() {
            t += gap * MS;
            c.packet(Side::A, 2 + k as u64, t);
        }
        c.packet(Side::B, 9, t + 5 * MS);
        let s = c.stalls.first().expect("kept");
        assert_eq!(s.shape, RunShape::Backoff);
        assert_eq!(s.run.send_frames(), &[2, 3, 4, 5]);
        assert_eq!(s.run.send_gaps(), &[300 * MS, 600 * MS, 1200 * MS]);
        assert_eq!(s.run.span_ns(), 2105 * MS);
        assert!(s.answered);
    }

    #[test]
    fn steady_runs_are_one_way_only_when_asked_and_answered() {
        for (one_way, answered, kept) in [(0, true, false), (MS * 1000, true, true)]
            .into_iter()
            .chain([(MS * 1000, false, false)])
        {
            let mut c = Conversation::keep_one_way(one_way);
            c.packet(Side::B, 1, 0);
            for k in 0..30 {
                c.packet(Side::A, 2 + k, k as i64 * 50 * MS);
            }
            if answered {
                c.packet(Side::B, 40, 1500 * MS);
            } else {
                c.close(None);
            }
            assert_eq!(c.stalls.len(), usize::from(kept), "{one_way} {answered}");
            if kept {
                assert_eq!(c.stalls[0].shape, RunShape::OneWay);
                assert_eq!(c.stalls[0].run.send_gaps().len(), RUN_KEPT);
            }
        }
    }
}
