//! `udp-stall`: a UDP conversation where one side keeps asking and the other does not answer,
//! repeating with growing gaps: the retry back-off of the UDP GSO story, where a QUIC endpoint
//! waited for datagrams that were lost (RFC 9002 §6.2: each probe timeout doubles the wait) and
//! round trips took seconds.
//!
//! Silence alone is not a stall. DNS, RADIUS, NFS, NTP, SIP and voice all go quiet between
//! exchanges, and a browser's QUIC connection idles between page loads: in all of them the side
//! that speaks after the silence is answered at once, or speaks on a fixed cadence. What marks
//! unmet demand is a *run*: at least [`MIN_REPEATS`] sends from one side with no packet from the
//! other between them, each gap at least [`BACKOFF`] times the one before (a timer backing off),
//! the longest gap at least [`MIN_STALL_NS`] and [`STALL_FACTOR`] times the conversation's usual
//! gap. Sends within [`BURST_NS`] of each other are one send (a PTO probe may be two datagrams).

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::{details, Detector, Finding, FrameCtx, Identity, Severity, Summary};
use crate::flow::{PerSide, Side};
use crate::units::duration;

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

/// One side sending with no answer, in progress or closed.
#[derive(Debug, Default, Clone, Copy)]
struct Run {
    side: Option<Side>,
    sends: u32,
    first_frame: u64,
    last_frame: u64,
    first_ns: i64,
    last_ns: i64,
    last_gap: i64,
    longest_gap: i64,
    /// Every gap so far grew by [`BACKOFF`].
    growing: bool,
}

/// A closed run that looks like a back-off.
#[derive(Debug, Clone, Copy)]
struct Stall {
    run: Run,
    /// Whether the other side answered in the end (false: the capture ended first).
    answered: bool,
}

#[derive(Debug, Default)]
struct Conv {
    last_ns: Option<i64>,
    packets: u64,
    sides: PerSide<bool>,
    /// Gaps by bit length of the microseconds (bucket b holds [2^(b-1), 2^b) µs; 31: 18 min+).
    histogram: [u32; 32],
    run: Run,
    stalls: Vec<Stall>,
    more_stalls: u64,
}

impl Conv {
    /// The median gap, as the geometric middle of its histogram bucket.
    fn median_gap_ns(&self) -> Option<i64> {
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

    fn gap(&mut self, ts_ns: i64) {
        if let Some(last) = self.last_ns {
            // Out-of-order timestamps (merged interfaces) count as no gap.
            let gap = ts_ns.saturating_sub(last).max(0);
            let bucket = (64 - (gap as u64 / 1000).leading_zeros() as usize).min(31);
            self.histogram[bucket] = self.histogram[bucket].saturating_add(1);
        }
        self.last_ns = Some(self.last_ns.map_or(ts_ns, |l| l.max(ts_ns)));
    }

    /// One packet from `side`: it extends that side's unanswered run or closes the other's.
    fn send(&mut self, side: Side, frame: u64, ts_ns: i64) {
        let r = &mut self.run;
        if r.side == Some(side) {
            let gap = ts_ns.saturating_sub(r.last_ns);
            if gap >= BURST_NS {
                r.growing &= r.sends < 2 || gap as f64 >= BACKOFF * r.last_gap as f64;
                r.sends += 1;
                r.last_gap = gap;
                r.longest_gap = r.longest_gap.max(gap);
            }
            r.last_frame = frame;
            r.last_ns = r.last_ns.max(ts_ns);
            return;
        }
        self.close(Some(ts_ns));
        self.run = Run {
            side: Some(side),
            sends: 1,
            first_frame: frame,
            last_frame: frame,
            first_ns: ts_ns,
            last_ns: ts_ns,
            last_gap: 0,
            longest_gap: 0,
            growing: true,
        };
    }

    /// Ends the current run, answered at `answer_ns` or not at all; keeps it when it backed off.
    fn close(&mut self, answer_ns: Option<i64>) {
        let mut r = self.run;
        r.last_ns = answer_ns.unwrap_or(r.last_ns).max(r.last_ns);
        let answered = answer_ns.is_some();
        if r.side.is_none() || r.sends < MIN_REPEATS || !r.growing || r.longest_gap < MIN_STALL_NS {
            return;
        }
        if self.stalls.len() < MAX_RUNS {
            self.stalls.push(Stall { run: r, answered });
        } else {
            self.more_stalls += 1;
        }
    }
}

#[derive(Default)]
pub struct UdpStall {
    convs: FxHashMap<usize, Conv>,
}

/// `details` of a `udp-stall` finding.
#[derive(Serialize)]
struct Details {
    stalls: usize,
    /// Back-off runs beyond the first 64, not judged.
    unjudged_runs: u64,
    /// The longest gap between two unanswered sends.
    longest_s: f64,
    /// Time from the first unanswered send to the answer (or to the last send), summed.
    total_stall_s: f64,
    /// The median gap between the conversation's packets.
    usual_gap_s: f64,
    /// The gap a stall needs: the usual gap times the stall factor, at least 200 ms.
    threshold_s: f64,
    packets: u64,
    runs: Vec<RunDetails>,
}

#[derive(Serialize)]
struct RunDetails {
    /// `client` or `server`: who kept sending.
    side: &'static str,
    first_frame: u64,
    last_frame: u64,
    sends: u32,
    longest_gap_s: f64,
    answered: bool,
}

impl Identity for UdpStall {
    const ID: &'static str = "udp-stall";
    const SEVERITY: Severity = Severity::Warning;
}

impl Detector for UdpStall {
    fn on_frame(&mut self, ctx: &FrameCtx<'_>) {
        let frame = ctx.frame;
        let (Some(_), None, Some(fr)) = (&ctx.pkt.udp, &ctx.pkt.tcp, ctx.flow) else {
            return;
        };
        let c = self.convs.entry(fr.index).or_default();
        c.packets += 1;
        c.sides[fr.side] = true;
        c.gap(frame.ts_ns);
        c.send(fr.side, frame.number, frame.ts_ns);
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let mut keys: Vec<usize> = self.convs.keys().copied().collect();
        keys.sort_unstable();
        let mut out = Vec::new();
        for i in keys {
            let (Some(c), Some(f)) = (self.convs.get_mut(&i), s.flows.flows.get(i)) else {
                continue;
            };
            c.close(None);
            if c.packets < MIN_PACKETS || !c.sides.iter().all(|&s| s) {
                continue;
            }
            let Some(usual) = c.median_gap_ns() else {
                continue;
            };
            let limit = (usual.saturating_mul(STALL_FACTOR)).max(MIN_STALL_NS);
            let stalls: Vec<Stall> = c
                .stalls
                .iter()
                .filter(|x| x.run.longest_gap >= limit)
                .copied()
                .collect();
            if !stalls.is_empty() {
                out.push(finding(f, &stalls, c, usual, limit));
            }
        }
        out
    }
}

fn finding(f: &crate::flow::Flow, stalls: &[Stall], c: &Conv, usual: i64, limit: i64) -> Finding {
    let secs = |ns: i64| ns as f64 / 1e9;
    let longest = stalls.iter().map(|x| x.run.longest_gap).max().unwrap_or(0);
    let total = stalls.iter().fold(0i64, |t, x| {
        t.saturating_add(x.run.last_ns.saturating_sub(x.run.first_ns))
    });
    let first = stalls[0].run;
    let who = first.side.map_or("client", |s| f.role(s));
    let sends = stalls.iter().map(|x| x.run.sends).max().unwrap_or(0);
    Finding {
        id: UdpStall::ID,
        severity: UdpStall::SEVERITY,
        flow: Some(f.id),
        frames: stalls
            .iter()
            .take(super::MAX_EVIDENCE)
            .map(|x| x.run.first_frame)
            .collect(),
        message: format!(
            "In the UDP conversation {} ↔ {}, the {who} sent up to {sends} times without an \
             answer, waiting longer each time (up to {}), in {} such run{} ({} in all); its \
             packets are usually {} apart.",
            f.client(),
            f.server(),
            duration(secs(longest)),
            stalls.len(),
            if stalls.len() == 1 { "" } else { "s" },
            duration(secs(total)),
            duration(secs(usual)),
        ),
        hint: "Repeats with growing gaps are a retry timer backing off: what it sent was lost \
               or the peer stopped answering. Look for loss around the first frames cited: \
               receive buffer drops (`netstat -su`, net.core.rmem_max), and for QUIC with UDP \
               GSO a sender kernel or NIC that mishandles GSO (see udp-gso-superframes)."
            .into(),
        wireshark_filter: Some(format!(
            "{} && frame.time_delta_displayed > {:.3}",
            f.wireshark_filter(),
            secs(limit)
        )),
        details: details(&Details {
            stalls: stalls.len(),
            unjudged_runs: c.more_stalls,
            longest_s: secs(longest),
            total_stall_s: secs(total),
            usual_gap_s: secs(usual),
            threshold_s: secs(limit),
            packets: c.packets,
            runs: stalls
                .iter()
                .take(super::MAX_EVIDENCE)
                .map(|x| RunDetails {
                    side: x.run.side.map_or("client", |s| f.role(s)),
                    first_frame: x.run.first_frame,
                    last_frame: x.run.last_frame,
                    sends: x.run.sends,
                    longest_gap_s: secs(x.run.longest_gap),
                    answered: x.answered,
                })
                .collect(),
        }),
    }
}
