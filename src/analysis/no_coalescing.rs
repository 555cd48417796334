//! `no-coalescing`: a bulk flow captured on its receiver, where back-to-back full-size segments
//! arrive and still no frame is larger than the MTU: GRO/LRO is off, or something defeats it.
//!
//! GRO and LRO run before the capture tap on the receiver (`napi_gro_receive` →
//! `__netif_receive_skb_core`), so on a receiver with working coalescing a bulk flow shows frames
//! of several MSS. The GRO model says whether the headers would have allowed it.

use std::net::IpAddr;

use rustc_hash::FxHashMap;
use serde_json::json;

use super::{
    details, flow_filter, gro_dirs, sender, share, side_details, Detector, Finding, Identity,
    Severity, Summary,
};

/// A bulk flow: at least this many full-size segments arrived right after another segment.
pub const MIN_BACK_TO_BACK: u64 = 32;
/// … and they are at least this share of the direction's data frames.
pub const MIN_BULK_SHARE: f64 = 0.5;
/// A rule that fails for at least this share of the judged pairs explains the lack of merging.
pub const BLOCKER_SHARE: f64 = 0.5;

pub struct NoCoalescing;

impl Identity for NoCoalescing {
    const ID: &'static str = "no-coalescing";
    const SEVERITY: Severity = Severity::Warning;
}

impl Detector for NoCoalescing {
    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        // Directions with coalesced frames, per receiving address: counted once.
        let mut coalesced_by_receiver: FxHashMap<IpAddr, usize> = FxHashMap::default();
        for (_, f, side, g) in gro_dirs(s.flows) {
            if g.oversized.total > 0 {
                *coalesced_by_receiver
                    .entry(f.key.ends[1 - side].addr)
                    .or_default() += 1;
            }
        }
        let mut out = Vec::new();
        for (_, f, side, g) in gro_dirs(s.flows) {
            let Some(point) = f.capture_point() else {
                continue;
            };
            let receiver = 1 - side;
            if point.side != receiver
                || g.oversized.total > 0
                || g.full_size.total < MIN_BACK_TO_BACK
                || share(g.full_size.total, g.data_frames) < MIN_BULK_SHARE
            {
                continue;
            }
            let blocker = g
                .top_blockers()
                .into_iter()
                .next()
                .filter(|&(_, n)| share(n, g.judged_pairs) >= BLOCKER_SHARE);
            // Other flows to the same receiver with coalesced frames: GRO is on for this host.
            // This direction has none; the reverse one counts only when both ends share an
            // address (loopback), and it is not another flow.
            let addr = f.key.ends[receiver].addr;
            let own = f.key.ends[side].addr == addr
                && f.gro
                    .as_ref()
                    .is_some_and(|o| o.dirs[receiver].oversized.total > 0);
            let coalesced_elsewhere =
                coalesced_by_receiver.get(&addr).copied().unwrap_or(0) - usize::from(own);
            let (why, hint) = match blocker {
                Some((b, n)) => (
                    format!(
                        "the headers explain it: `{}` blocks {:.0}% of the segment pairs",
                        b.name(),
                        100.0 * share(n, g.judged_pairs)
                    ),
                    format!(
                        "{} Then check that GRO is on: `ethtool -k IFACE | grep -E \
                         'generic-receive|large-receive'`.",
                        b.hint()
                    ),
                ),
                None if coalesced_elsewhere > 0 => (
                    format!(
                        "the headers would merge and GRO works for {coalesced_elsewhere} other \
                         flow{} to this host, so these segments reached it apart (another queue \
                         or interface, or paced wider than one NAPI poll)",
                        if coalesced_elsewhere == 1 { "" } else { "s" }
                    ),
                    "Check which interface and receive queue this flow arrives on (`ethtool -S \
                     IFACE`, RSS/RPS settings) and whether GRO is on there; a flow paced below \
                     the interrupt-coalescing interval cannot be merged (`ethtool -c IFACE`)."
                        .to_string(),
                ),
                None => (
                    "the headers would merge, so GRO/LRO is off or not reached".to_string(),
                    "Turn receive coalescing on: `ethtool -K IFACE gro on` (and `lro on` where \
                     the NIC supports it); for VXLAN/Geneve check the tunnel device and \
                     `rx-udp_tunnel-port-offload` too, and that no XDP program or tap disables \
                     GRO."
                        .to_string(),
                ),
            };
            out.push(Finding {
                id: Self::ID,
                severity: Self::SEVERITY,
                flow: Some(f.id),
                frames: g.full_size.frames(),
                message: format!(
                    "The capture was taken on the receiver ({}), which got {} back-to-back \
                     full-size segments from {} and not one frame above the {}-byte MTU: {why}.",
                    f.key.ends[receiver],
                    g.full_size.total,
                    sender(f, side),
                    g.mtu,
                ),
                hint,
                wireshark_filter: flow_filter(f, "tcp.len > 0"),
                details: details(side_details(f, side).into_iter().chain([
                    ("receiver", json!(f.key.ends[receiver].to_string())),
                    ("capture_point_evidence", json!(point.how)),
                    ("data_frames", json!(g.data_frames)),
                    ("back_to_back_full_size", json!(g.full_size.total)),
                    ("mtu", json!(g.mtu)),
                    ("merge_rate", json!(g.merge_rate())),
                    ("blocker", json!(blocker.map(|(b, _)| b.name()))),
                    ("receiver_coalesced_flows", json!(coalesced_elsewhere)),
                ])),
            });
        }
        out
    }
}
