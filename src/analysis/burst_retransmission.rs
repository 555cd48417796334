//! `burst-retransmission`: retransmissions that come in runs of many consecutive segments, sent
//! back to back: the signature of a whole TSO/GSO burst resent after one of its wire segments was
//! lost (the TSO story: turning TSO off cut retransmissions and latency).
//!
//! A run is a sequence of retransmitted data frames of one direction, each starting where the
//! previous ended and sent within [`BURST_GAP_NS`] of it, with no new data between. Its length is
//! counted in wire segments (a retransmitted super-frame counts its MSS multiples).
//!
//! A run is the TSO story only when most of its bytes had already been delivered: the receiver
//! had acknowledged them, cumulatively or by SACK (RFC 2018), before they were resent. A run of
//! data that was lost whole (a burst of drops, a queue overflowing before the receiver's socket)
//! must be resent and costs nothing extra, whatever the sender's offloads. Seen earlier on a
//! receiver's capture is not enough: a tap sees packets that the ingress filter or the backlog
//! then drops, and only the receiver's acknowledgments say what reached TCP.
//!
//! And it starts at a segment the receiver did not hold: the sender retransmits the buffer at
//! snd_una, the first byte not acknowledged (`tcp_retransmit_skb`, acknowledged bytes trimmed
//! off by `tcp_trim_head`), so a TSO burst resent for one lost segment begins with that
//! segment. A run whose first segment had already been delivered is the sender resending what
//! arrived because the receiver's ACKs did not reach it (lost on the way back) or its timer fired
//! early: a spurious retransmission (`retransmissions` counts it, RFC 5682), whatever the
//! sender's offloads, seen once in the kernel lab from a sender with TSO off.

use serde::Serialize;

use super::kit::{flow_filter, sender, share, tcp_flows, SideDetails};
use super::{details, Detector, Finding, FrameCtx, Identity, Severity, Summary};
use crate::decode::tcp_flags;
use crate::flow::{Flow, PerSide, Side};
use crate::tcp::events::Events;
use crate::tcp::metrics::DirMetrics;
use crate::tcp::seq::SeqNum;

/// A run this long, in wire segments, is a burst. Linux TSO bursts carry up to 44 segments of 1448
/// bytes (64 KB, `gso_max_size`), and TSO autosizing sends about 1 ms worth; single losses and
/// RTO slow-start rounds (1, 2, 4 segments) stay below.
pub const MIN_BURST_SEGMENTS: u64 = 8;
/// Resent segments further apart than this are not one burst: a 64 KB TSO burst leaves a 1 Gbit/s
/// NIC in 0.5 ms.
pub const BURST_GAP_NS: i64 = 1_000_000;
/// Runs listed in `details`.
const MAX_LISTED: usize = 20;
/// The share of a run's bytes that must have been delivered before the resend: "most".
pub const MIN_DELIVERED_SHARE: f64 = 0.5;
/// Bytes resent in bursts, as a share of the direction's data, from which the finding is a
/// warning: the same 1% bar as `retransmissions` (below it, info).
pub const WARN_SHARE: f64 = 0.01;
/// SACK ranges remembered per direction (a receiver reports at most 4 per ACK, RFC 2018 §3).
const MAX_SACKED: usize = 8;

#[derive(Debug, Clone, Copy)]
struct Run {
    first_frame: u64,
    frames: u64,
    bytes: u64,
    /// Of `bytes`, those the receiver had acknowledged (cumulatively or by SACK) before.
    delivered: u64,
    /// The receiver held all of the run's first frame: not a resend starting at a loss.
    head_delivered: bool,
    next: SeqNum,
    last_ns: i64,
}

/// A closed run: first frame, frames, bytes resent, bytes of them already delivered, and
/// whether its first frame's were all.
#[derive(Debug, Clone, Copy)]
struct Closed {
    first_frame: u64,
    frames: u64,
    bytes: u64,
    delivered: u64,
    head_delivered: bool,
}

/// What the receiver said it holds of one direction's data: its highest cumulative ACK and the
/// most recent SACK ranges above it.
#[derive(Debug, Default)]
struct Delivery {
    acked: Option<SeqNum>,
    sacked: [(SeqNum, SeqNum); MAX_SACKED],
    count: usize,
}

impl Delivery {
    /// An ACK from the receiver, with its SACK blocks. An acknowledgment of data never sent (a
    /// challenge ACK, RFC 5961 §4, or another incarnation) is ignored.
    fn ack(&mut self, ack: SeqNum, sack: &[(u32, u32)], highest: Option<SeqNum>) {
        let Some(h) = highest.filter(|&h| h.bytes_after(ack).is_some()) else {
            return;
        };
        self.acked = Some(self.acked.map_or(ack, |a| a.max(ack)));
        for &(l, r) in sack {
            let (l, r) = (SeqNum(l), SeqNum(r));
            if r.bytes_after(l).is_some_and(|n| n > 0) && h.bytes_after(r).is_some() {
                self.sacked[self.count % MAX_SACKED] = (l, r);
                self.count += 1;
            }
        }
    }

    /// Bytes of `[start, start + len)` the receiver had acknowledged or SACKed.
    fn delivered(&self, start: SeqNum, len: u32) -> u32 {
        let end = start.plus(len);
        let mut covered = self.acked.map_or(0, |a| overlap(start, end, start, a));
        let kept = self.count.min(MAX_SACKED);
        // Blocks may repeat or overlap (every duplicate ACK repeats them): count each byte once
        // by walking the range from the cumulative ACK up, block by block.
        let mut from = self.acked.map_or(start, |a| a.max(start));
        while let Some(&(l, r)) = self.sacked[..kept]
            .iter()
            .filter(|(l, r)| r.distance(from) > 0 && end.distance(*l) > 0)
            .min_by_key(|(l, _)| l.distance(from))
        {
            let l = l.max(from);
            covered += overlap(start, end, l, r);
            from = r;
        }
        covered.min(len)
    }
}

/// Bytes of `[a, b)` inside `[l, r)`.
fn overlap(a: SeqNum, b: SeqNum, l: SeqNum, r: SeqNum) -> u32 {
    let lo = a.max(l);
    let hi = if b.distance(r) < 0 { b } else { r };
    hi.bytes_after(lo).unwrap_or(0)
}

#[derive(Debug, Default)]
struct Dir {
    /// Largest payload of a frame no larger than 1500 bytes of IP: a wire segment.
    max_wire_payload: u32,
    /// The highest sequence number this side sent so far: only bytes below it were resent.
    highest: Option<SeqNum>,
    open: Option<Run>,
    /// Closed runs, for the segment count at the end.
    runs: Vec<Closed>,
    dropped_runs: u64,
    /// What the peer acknowledged of this side's data.
    delivery: Delivery,
}

#[derive(Default)]
pub struct BurstRetransmission {
    /// Per flow index, per side; boxed at the flow's first data segment (a scan's flows carry
    /// none and cost a pointer here).
    dirs: Vec<Option<Box<PerSide<Dir>>>>,
}

/// Bounded: per direction at most this many closed runs of 2+ frames or 2+ segments are kept.
const MAX_RUNS: usize = 4096;

impl Dir {
    fn close(&mut self) {
        if let Some(r) = self.open.take() {
            if r.frames > 1 || r.bytes > u64::from(self.max_wire_payload) {
                if self.runs.len() < MAX_RUNS {
                    self.runs.push(Closed {
                        first_frame: r.first_frame,
                        frames: r.frames,
                        bytes: r.bytes,
                        delivered: r.delivered,
                        head_delivered: r.head_delivered,
                    });
                } else {
                    self.dropped_runs += 1;
                }
            }
        }
    }
}

/// `details` of a `burst-retransmission` finding.
#[derive(Serialize)]
struct Details {
    #[serde(flatten)]
    side: SideDetails,
    bursts: usize,
    longest_segments: u64,
    /// The wire segment size runs are counted in.
    segment_size: u64,
    bytes_resent_in_bursts: u64,
    /// Of those, bytes the receiver had acknowledged (cumulatively or by SACK) before the resend.
    bytes_already_delivered: u64,
    /// `bytes_resent_in_bursts` over the direction's data bytes: what the severity follows.
    share_of_data: f64,
    retransmitted_bytes: u64,
    /// Runs beyond the per-direction cap, not judged.
    runs_not_kept: u64,
    runs: Vec<BurstRun>,
}

#[derive(Serialize)]
struct BurstRun {
    first_frame: u64,
    segments: u64,
    bytes: u64,
    delivered: u64,
}

impl Identity for BurstRetransmission {
    const ID: &'static str = "burst-retransmission";
    const SEVERITY: Severity = Severity::Warning;
}

impl Detector for BurstRetransmission {
    fn watches(&self) -> super::Watch {
        super::Watch::Tcp
    }

    fn on_frame(&mut self, ctx: &FrameCtx<'_>) {
        let frame = ctx.frame;
        let (Some(t), Some(fr), Some(ip)) = (&ctx.pkt.tcp, ctx.flow, &ctx.pkt.ip) else {
            return;
        };
        if self.dirs.len() <= fr.index {
            if t.payload_len == 0 {
                return;
            }
            self.dirs.resize_with(fr.index + 1, Default::default);
        }
        let Some(slot) = self.dirs.get_mut(fr.index) else {
            return;
        };
        if slot.is_none() && t.payload_len == 0 {
            // An ACK before either side sent data acknowledges no data a burst could resend.
            return;
        }
        let pair = slot.get_or_insert_with(Default::default);
        if t.flags & tcp_flags::ACK != 0 {
            let peer = &mut pair[fr.side.other()];
            let n = usize::from(t.options.sack_count).min(t.options.sack.len());
            let highest = peer.highest;
            peer.delivery
                .ack(SeqNum(t.ack), &t.options.sack[..n], highest);
        }
        if t.payload_len == 0 {
            return;
        }
        let d = &mut pair[fr.side];
        if ip.len <= 1500 {
            d.max_wire_payload = d.max_wire_payload.max(t.payload_len);
        }
        let seq = SeqNum(t.seq);
        let end = seq.plus(t.payload_len);
        let highest = d.highest.map_or(end, |h| h.max(end));
        // Wireshark flags a whole frame that starts below the highest sequence sent; a frame a
        // receiver's GRO merged from one resent segment and the new data after it resent only
        // the part below that mark (and ends the run: new data follows).
        let resent = d
            .highest
            .and_then(|h| h.bytes_after(seq))
            .map_or(0, |below| below.min(t.payload_len));
        d.highest = Some(highest);
        if !fr.events.any(Events::ANY_RETRANSMISSION) || resent == 0 {
            d.close();
            return;
        }
        let len = u64::from(resent);
        let delivered = u64::from(d.delivery.delivered(seq, resent));
        let into_new_data = resent < t.payload_len;
        match &mut d.open {
            Some(r) if r.next == seq && frame.ts_ns.saturating_sub(r.last_ns) <= BURST_GAP_NS => {
                r.frames += 1;
                r.bytes += len;
                r.delivered += delivered;
                r.next = seq.plus(resent);
                r.last_ns = frame.ts_ns;
            }
            _ => {
                d.close();
                d.open = Some(Run {
                    first_frame: frame.number,
                    frames: 1,
                    bytes: len,
                    delivered,
                    head_delivered: delivered >= len,
                    next: seq.plus(resent),
                    last_ns: frame.ts_ns,
                });
            }
        }
        if into_new_data {
            d.close();
        }
    }

    fn evicted(&mut self, indexes: &[usize]) {
        for &i in indexes {
            if let Some(slot) = self.dirs.get_mut(i) {
                *slot = None;
            }
        }
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        for pair in self.dirs.iter_mut().flatten() {
            for side in Side::BOTH {
                pair[side].close();
            }
        }
        let mut out = Vec::new();
        for (f, conn) in tcp_flows(s.flows) {
            let Some(pair) = self.dirs.get(f.index()).and_then(|p| p.as_deref()) else {
                continue;
            };
            for side in Side::BOTH {
                // The MSS the peer's SYN announced: this side's segment size.
                let seg = conn.options[side.other()]
                    .mss
                    .map(u64::from)
                    .or((pair[side].max_wire_payload > 0)
                        .then_some(u64::from(pair[side].max_wire_payload)))
                    .unwrap_or(1460);
                let bursts = bursts(f, side, &pair[side], seg);
                if !bursts.is_empty() {
                    let data = conn.dirs()[side].data_bytes;
                    out.push(finding(
                        f,
                        side,
                        &pair[side],
                        &conn.dirs()[side],
                        &bursts,
                        seg,
                        data,
                    ));
                }
            }
        }
        out
    }
}

/// A burst as reported: first frame, wire segments, bytes resent, bytes of them delivered.
type Burst = (u64, u64, u64, u64);

/// The runs of `side` that are whole TSO/GSO bursts resent: long enough, and mostly data the
/// receiver already held.
fn bursts(f: &Flow, side: Side, d: &Dir, seg: u64) -> Vec<Burst> {
    let point = f.capture_point();
    // On the receiver's capture frame boundaries are GRO's: one merged frame of resent segments
    // says nothing about how the sender sent them (after an RTO over a microsecond RTT, slow
    // start's 1, 2, 4 segments arrive merged). There a burst needs that many separate frames.
    let at_receiver = point.is_some_and(|p| p.side == side.other());
    // On the sender's own capture TSO/GSO shows as frames above the MTU; without one, the
    // sender sends wire-size segments and a run of resends is loss recovery after a burst of
    // drops, not a TSO burst resent.
    let sender_without_tso = point.is_some_and(|p| p.side == side)
        && f.gro
            .as_ref()
            .is_none_or(|g| g.dirs[side].oversized.total == 0);
    if sender_without_tso {
        return Vec::new();
    }
    d.runs
        .iter()
        .filter(|r| !at_receiver || r.frames >= MIN_BURST_SEGMENTS)
        .filter(|r| !r.head_delivered)
        .filter(|r| r.delivered as f64 >= MIN_DELIVERED_SHARE * r.bytes as f64)
        .map(|r| (r.first_frame, r.bytes.div_ceil(seg), r.bytes, r.delivered))
        .filter(|&(_, segs, _, _)| segs >= MIN_BURST_SEGMENTS)
        .collect()
}

/// The finding for one direction's bursts; a warning when they carry at least [`WARN_SHARE`]
/// of the direction's data.
fn finding(
    f: &Flow,
    side: Side,
    d: &Dir,
    m: &DirMetrics,
    bursts: &[Burst],
    seg: u64,
    data: u64,
) -> Finding {
    let resent: u64 = bursts.iter().map(|b| b.2).sum();
    let delivered: u64 = bursts.iter().map(|b| b.3).sum();
    let longest = bursts.iter().map(|b| b.1).max().unwrap_or(0);
    let of_data = share(resent, data);
    let severity = if of_data >= WARN_SHARE {
        BurstRetransmission::SEVERITY
    } else {
        Severity::Info
    };
    Finding {
        id: BurstRetransmission::ID,
        severity,
        flow: Some(f.id),
        frames: bursts.iter().take(MAX_LISTED).map(|b| b.0).collect(),
        frames_total: bursts.len() as u64,
        message: format!(
            "{} resent {} burst{} of consecutive segments back to back (the longest {} \
             segments), {} in all, {:.0}% of which the receiver had already acknowledged: {:.1}% \
             of the data it sent, {:.0}% of its retransmitted bytes.",
            sender(f, side),
            bursts.len(),
            if bursts.len() == 1 { "" } else { "s" },
            longest,
            crate::units::bytes(resent),
            100.0 * share(delivered, resent),
            100.0 * of_data,
            100.0 * share(resent, m.retransmitted_bytes.max(resent)),
        ),
        hint: "Whole TSO/GSO bursts are being resent: one lost wire segment costs the burst. \
               Look for tail drops on a shallow-buffered hop (switch, policer); pace the sender \
               (`tc qdisc replace dev IFACE root fq`), cap burst size (`ip link set dev IFACE \
               gso_max_size 16384`), make sure SACK is on (net.ipv4.tcp_sack=1), and compare \
               with `ethtool -K IFACE tso off gso off`."
            .into(),
        wireshark_filter: flow_filter(f, "tcp.analysis.retransmission"),
        details: details(&Details {
            side: SideDetails::of(f, side),
            bursts: bursts.len(),
            longest_segments: longest,
            segment_size: seg,
            bytes_resent_in_bursts: resent,
            bytes_already_delivered: delivered,
            share_of_data: of_data,
            retransmitted_bytes: m.retransmitted_bytes,
            runs_not_kept: d.dropped_runs,
            runs: bursts
                .iter()
                .take(MAX_LISTED)
                .map(|b| BurstRun {
                    first_frame: b.0,
                    segments: b.1,
                    bytes: b.2,
                    delivered: b.3,
                })
                .collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivery(acked: u32, sacks: &[(u32, u32)]) -> Delivery {
        let mut d = Delivery::default();
        d.ack(SeqNum(acked), sacks, Some(SeqNum(100_000)));
        d
    }

    #[test]
    fn delivered_bytes_count_the_cumulative_ack_and_sack_blocks_once() {
        // ACK 1000, SACK 2000-3000 and 2500-4000 (overlapping, as repeated blocks are).
        let d = delivery(1000, &[(2000, 3000), (2500, 4000)]);
        assert_eq!(d.delivered(SeqNum(0), 5000), 1000 + 2000);
        assert_eq!(d.delivered(SeqNum(1000), 1000), 0, "the hole");
        assert_eq!(d.delivered(SeqNum(2200), 300), 300);
        assert_eq!(d.delivered(SeqNum(3900), 1000), 100);
        // The same blocks again (every duplicate ACK repeats them) change nothing.
        let mut again = delivery(1000, &[(2000, 3000), (2500, 4000)]);
        again.ack(
            SeqNum(1000),
            &[(2000, 3000), (2500, 4000)],
            Some(SeqNum(100_000)),
        );
        assert_eq!(again.delivered(SeqNum(0), 5000), 3000);
    }

    #[test]
    fn an_ack_of_data_never_sent_is_not_delivery() {
        // A challenge ACK (RFC 5961 §4) far above anything sent.
        let mut d = Delivery::default();
        d.ack(SeqNum(900_000_000), &[], Some(SeqNum(5000)));
        assert_eq!(d.delivered(SeqNum(0), 5000), 0);
        // Nor a SACK block above it.
        d.ack(SeqNum(1000), &[(6000, 9000)], Some(SeqNum(5000)));
        assert_eq!(d.delivered(SeqNum(0), 9000), 1000);
    }

    #[test]
    fn delivery_across_the_sequence_wrap() {
        let start = SeqNum(u32::MAX - 999);
        let mut d = Delivery::default();
        d.ack(
            start.plus(500),
            &[(start.plus(1500).0, start.plus(2000).0)],
            Some(start.plus(4000)),
        );
        assert_eq!(d.delivered(start, 2000), 500 + 500);
    }
}
