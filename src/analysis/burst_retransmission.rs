//! `burst-retransmission`: retransmissions that come in runs of many consecutive segments, sent
//! back to back: the signature of a whole TSO/GSO burst resent after one of its wire segments was
//! lost (the TSO story: turning TSO off cut retransmissions and latency).
//!
//! A run is a sequence of retransmitted data frames of one direction, each starting where the
//! previous ended and sent within [`BURST_GAP_NS`] of it, with no new data between. Its length is
//! counted in wire segments (a retransmitted super-frame counts its MSS multiples).

use serde::Serialize;

use super::kit::{flow_filter, sender, share, tcp_flows, SideDetails};
use super::{details, Detector, Finding, FrameCtx, Identity, Severity, Summary};
use crate::decode::tcp_flags;
use crate::flow::{PerSide, Side};
use crate::tcp::events::Events;
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

#[derive(Debug, Clone, Copy)]
struct Run {
    first_frame: u64,
    frames: u64,
    bytes: u64,
    next: SeqNum,
    last_ns: i64,
}

#[derive(Debug, Default)]
struct Dir {
    /// MSS announced by this side's SYN (its peer's segment size).
    mss: Option<u16>,
    /// Largest payload of a frame no larger than 1500 bytes of IP: a wire segment.
    max_wire_payload: u32,
    /// The highest sequence number this side sent so far: only bytes below it were resent.
    highest: Option<SeqNum>,
    open: Option<Run>,
    /// Closed runs as (first frame, frames, bytes), for the segment count at the end.
    runs: Vec<(u64, u64, u64)>,
    dropped_runs: u64,
}

#[derive(Default)]
pub struct BurstRetransmission {
    /// Per flow index, per side.
    dirs: Vec<PerSide<Dir>>,
}

/// Bounded: per direction at most this many closed runs of 2+ frames or 2+ segments are kept.
const MAX_RUNS: usize = 4096;

impl Dir {
    fn close(&mut self) {
        if let Some(r) = self.open.take() {
            if r.frames > 1 || r.bytes > u64::from(self.max_wire_payload) {
                if self.runs.len() < MAX_RUNS {
                    self.runs.push((r.first_frame, r.frames, r.bytes));
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
}

impl Identity for BurstRetransmission {
    const ID: &'static str = "burst-retransmission";
    const SEVERITY: Severity = Severity::Warning;
}

impl Detector for BurstRetransmission {
    fn on_frame(&mut self, ctx: &FrameCtx<'_>) {
        let frame = ctx.frame;
        let (Some(t), Some(fr), Some(ip)) = (&ctx.pkt.tcp, ctx.flow, &ctx.pkt.ip) else {
            return;
        };
        let syn = t.flags & tcp_flags::SYN != 0;
        if t.payload_len == 0 && !syn {
            return;
        }
        if self.dirs.len() <= fr.index {
            self.dirs.resize_with(fr.index + 1, Default::default);
        }
        let d = &mut self.dirs[fr.index][fr.side];
        if syn {
            d.mss = t.options.mss.or(d.mss);
        }
        if t.payload_len == 0 {
            return;
        }
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
        let into_new_data = resent < t.payload_len;
        match &mut d.open {
            Some(r) if r.next == seq && frame.ts_ns.saturating_sub(r.last_ns) <= BURST_GAP_NS => {
                r.frames += 1;
                r.bytes += len;
                r.next = seq.plus(resent);
                r.last_ns = frame.ts_ns;
            }
            _ => {
                d.close();
                d.open = Some(Run {
                    first_frame: frame.number,
                    frames: 1,
                    bytes: len,
                    next: seq.plus(resent),
                    last_ns: frame.ts_ns,
                });
            }
        }
        if into_new_data {
            d.close();
        }
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        for pair in self.dirs.iter_mut() {
            for side in Side::BOTH {
                pair[side].close();
            }
        }
        let mut out = Vec::new();
        for (f, conn) in tcp_flows(s.flows) {
            let Some(pair) = self.dirs.get(f.index()) else {
                continue;
            };
            if Side::BOTH.iter().all(|&side| pair[side].runs.is_empty()) {
                continue;
            }
            let point = f.capture_point();
            for side in Side::BOTH {
                let (d, peer_mss) = (&pair[side], pair[side.other()].mss);
                let seg = peer_mss
                    .map(u64::from)
                    .or((d.max_wire_payload > 0).then_some(u64::from(d.max_wire_payload)))
                    .unwrap_or(1460);
                // On the receiver's capture frame boundaries are GRO's: one merged frame of
                // resent segments says nothing about how the sender sent them (after an RTO
                // over a microsecond RTT, slow start's 1, 2, 4 segments arrive merged). There a
                // burst needs that many separate frames.
                let at_receiver = point.is_some_and(|p| p.side == side.other());
                // On the sender's own capture TSO/GSO shows as frames above the MTU; without
                // one, the sender sends wire-size segments and a run of resends is loss
                // recovery after a burst of drops, not a TSO burst resent.
                let sender_without_tso = point.is_some_and(|p| p.side == side)
                    && f.gro
                        .as_ref()
                        .is_none_or(|g| g.dirs[side].oversized.total == 0);
                if sender_without_tso {
                    continue;
                }
                let bursts: Vec<(u64, u64, u64)> = d
                    .runs
                    .iter()
                    .filter(|&&(_, frames, _)| !at_receiver || frames >= MIN_BURST_SEGMENTS)
                    .map(|&(frame, _, bytes)| (frame, bytes.div_ceil(seg), bytes))
                    .filter(|&(_, segs, _)| segs >= MIN_BURST_SEGMENTS)
                    .collect();
                if bursts.is_empty() {
                    continue;
                }
                let m = &conn.dirs[side];
                let resent: u64 = bursts.iter().map(|b| b.2).sum();
                let longest = bursts.iter().map(|b| b.1).max().unwrap_or(0);
                out.push(Finding {
                    id: Self::ID,
                    severity: Self::SEVERITY,
                    flow: Some(f.id),
                    frames: bursts.iter().take(MAX_LISTED).map(|b| b.0).collect(),
                    message: format!(
                        "{} resent {} burst{} of consecutive segments back to back (the longest \
                         {} segments), {} in all: {:.0}% of its retransmitted bytes.",
                        sender(f, side),
                        bursts.len(),
                        if bursts.len() == 1 { "" } else { "s" },
                        longest,
                        crate::units::bytes(resent),
                        100.0 * share(resent, m.retransmitted_bytes.max(resent)),
                    ),
                    hint: "Whole TSO/GSO bursts are being resent: one lost wire segment costs the \
                           burst. Look for tail drops on a shallow-buffered hop (switch, policer); \
                           pace the sender (`tc qdisc replace dev IFACE root fq`), cap burst size \
                           (`ip link set dev IFACE gso_max_size 16384`), make sure SACK is on \
                           (net.ipv4.tcp_sack=1), and compare with `ethtool -K IFACE tso off gso \
                           off`."
                        .into(),
                    wireshark_filter: flow_filter(f, "tcp.analysis.retransmission"),
                    details: details(&Details {
                        side: SideDetails::of(f, side),
                        bursts: bursts.len(),
                        longest_segments: longest,
                        segment_size: seg,
                        bytes_resent_in_bursts: resent,
                        retransmitted_bytes: m.retransmitted_bytes,
                        runs_not_kept: d.dropped_runs,
                        runs: bursts
                            .iter()
                            .take(MAX_LISTED)
                            .map(|b| BurstRun {
                                first_frame: b.0,
                                segments: b.1,
                                bytes: b.2,
                            })
                            .collect(),
                    }),
                });
            }
        }
        out
    }
}
