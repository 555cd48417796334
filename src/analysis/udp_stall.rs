//! `udp-stall`: a UDP conversation that goes silent for many times its usual gap between packets:
//! the ping-pong round trips of seconds of the UDP GSO story, where a QUIC endpoint waited for
//! datagrams that were lost and then retried.
//!
//! The usual gap is the median inter-packet gap of the conversation (both directions), read from
//! a log2 histogram kept per flow; silences of at least [`MIN_STALL_NS`] are kept as candidates and
//! judged against it at the end.

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::{details, Detector, Finding, FrameCtx, Identity, Severity, Summary};
use crate::flow::PerSide;
use crate::units::duration;

/// A silence is a stall when it is at least this many times the usual gap …
pub const STALL_FACTOR: i64 = 20;
/// … and at least this long (shorter pauses are not what users notice).
pub const MIN_STALL_NS: i64 = 200_000_000;
/// A conversation needs this many packets, in both directions, for its usual gap to mean anything.
pub const MIN_PACKETS: u64 = 20;
/// Candidate silences kept per flow (first ones; the rest are counted).
const MAX_CANDIDATES: usize = 64;

#[derive(Debug, Default)]
struct Conv {
    last_ns: Option<i64>,
    last_frame: u64,
    packets: u64,
    sides: PerSide<bool>,
    /// Gaps by bit length of the microseconds (bucket b holds [2^(b-1), 2^b) µs; 31: 18 min+).
    histogram: [u32; 32],
    /// (frame before, frame after, gap) for gaps of at least MIN_STALL_NS.
    candidates: Vec<(u64, u64, i64)>,
    more_candidates: u64,
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
}

#[derive(Default)]
pub struct UdpStall {
    convs: FxHashMap<usize, Conv>,
}

/// `details` of a `udp-stall` finding.
#[derive(Serialize)]
struct Details {
    stalls: usize,
    /// Silences beyond the candidates kept per flow, not judged.
    unjudged_silences: u64,
    longest_s: f64,
    total_stall_s: f64,
    /// The median gap between the conversation's packets.
    usual_gap_s: f64,
    /// The silence a stall needs: the usual gap times the stall factor, at least 200 ms.
    threshold_s: f64,
    packets: u64,
    silences: Vec<Silence>,
}

#[derive(Serialize)]
struct Silence {
    after_frame: u64,
    frame: u64,
    gap_s: f64,
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
        if let Some(last) = c.last_ns {
            // Out-of-order timestamps (merged interfaces) count as no gap.
            let gap = frame.ts_ns.saturating_sub(last).max(0);
            let bucket = (64 - (gap as u64 / 1000).leading_zeros() as usize).min(31);
            c.histogram[bucket] = c.histogram[bucket].saturating_add(1);
            if gap >= MIN_STALL_NS {
                if c.candidates.len() < MAX_CANDIDATES {
                    c.candidates.push((c.last_frame, frame.number, gap));
                } else {
                    c.more_candidates += 1;
                }
            }
        }
        c.last_ns = Some(c.last_ns.map_or(frame.ts_ns, |l| l.max(frame.ts_ns)));
        c.last_frame = frame.number;
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let mut keys: Vec<usize> = self.convs.keys().copied().collect();
        keys.sort_unstable();
        let mut out = Vec::new();
        for i in keys {
            let (Some(c), Some(f)) = (self.convs.get(&i), s.flows.flows.get(i)) else {
                continue;
            };
            if c.packets < MIN_PACKETS || !c.sides.iter().all(|&s| s) {
                continue;
            }
            let Some(usual) = c.median_gap_ns() else {
                continue;
            };
            let limit = (usual.saturating_mul(STALL_FACTOR)).max(MIN_STALL_NS);
            let stalls: Vec<&(u64, u64, i64)> =
                c.candidates.iter().filter(|x| x.2 >= limit).collect();
            if stalls.is_empty() {
                continue;
            }
            let longest = stalls.iter().map(|x| x.2).max().unwrap_or(0);
            let total = stalls.iter().fold(0i64, |t, x| t.saturating_add(x.2));
            let secs = |ns: i64| ns as f64 / 1e9;
            out.push(Finding {
                id: Self::ID,
                severity: Self::SEVERITY,
                flow: Some(f.id),
                frames: stalls
                    .iter()
                    .take(super::MAX_EVIDENCE)
                    .map(|x| x.1)
                    .collect(),
                message: format!(
                    "The UDP conversation {} ↔ {} went silent {} time{} for up to {} ({} in all), \
                     while its packets are usually {} apart.",
                    f.client(),
                    f.server(),
                    stalls.len(),
                    if stalls.len() == 1 { "" } else { "s" },
                    duration(secs(longest)),
                    duration(secs(total)),
                    duration(secs(usual)),
                ),
                hint:
                    "Silences of this length are timeouts: an endpoint waited for datagrams that \
                       never came, then retried. Look for loss around the silences: receive \
                       buffer drops (`netstat -su`, net.core.rmem_max), and for QUIC with UDP GSO \
                       a sender kernel or NIC that mishandles GSO (see udp-gso-superframes)."
                        .into(),
                wireshark_filter: Some(format!(
                    "{} && frame.time_delta_displayed > {:.3}",
                    f.wireshark_filter(),
                    secs(limit)
                )),
                details: details(&Details {
                    stalls: stalls.len(),
                    unjudged_silences: c.more_candidates,
                    longest_s: secs(longest),
                    total_stall_s: secs(total),
                    usual_gap_s: secs(usual),
                    threshold_s: secs(limit),
                    packets: c.packets,
                    silences: stalls
                        .iter()
                        .take(super::MAX_EVIDENCE)
                        .map(|x| Silence {
                            after_frame: x.0,
                            frame: x.1,
                            gap_s: secs(x.2),
                        })
                        .collect(),
                }),
            });
        }
        out
    }
}
