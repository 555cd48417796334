//! `no-coalescing`: a bulk flow captured on its receiver, where back-to-back full-size segments
//! arrive and still no frame is larger than the MTU: GRO/LRO is off, or something defeats it.
//!
//! GRO and LRO run before the capture tap on the receiver (`napi_gro_receive` →
//! `__netif_receive_skb_core`), so on a receiver with working coalescing a bulk flow shows frames
//! of several MSS. The GRO model says whether the headers would have allowed it.
//!
//! Only where the capture is known to be on a Linux receiver: its own frames leave with the
//! initial TTL Linux uses ([`LINUX_TTLS`]; one lower and they crossed a router before the tap,
//! 128 is Windows, whose receive segment coalescing this model does not describe), and the
//! flow has no capture duplicates (a mirror port is not the receiver). A warning only for a bulk
//! flow big enough for per-packet receive cost to matter ([`WARN_BACK_TO_BACK`]); smaller ones
//! are info.

use std::net::IpAddr;

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::kit::{
    flow_filter, frees, gro_dirs, most, psh_sentence, sender, share, GroBlame, SideDetails,
};
use super::{details, Detector, Finding, Identity, Severity, Summary};
use crate::flow::{CaptureEvidence, FlowTable};
use crate::gro::Blocker;

/// A bulk flow: at least this many full-size segments arrived right after another segment.
pub const MIN_BACK_TO_BACK: u64 = 32;
/// … and they are at least this share of the direction's data frames.
pub const MIN_BULK_SHARE: f64 = 0.5;
/// Below this many back-to-back full-size segments (about 700 kB at a 1448-byte MSS) the
/// receiver spends well under a millisecond of CPU on the packets GRO would have saved
/// (net/core/gro.c's saving is one stack traversal per merged segment): info, not a warning.
pub const WARN_BACK_TO_BACK: u64 = 500;
/// Initial TTLs of Linux (`net.ipv4.ip_default_ttl` = 64; 255 for some raw and ICMP paths).
pub const LINUX_TTLS: [u8; 2] = [64, 255];

pub struct NoCoalescing;

/// `details` of a `no-coalescing` finding.
#[derive(Serialize)]
struct Details {
    #[serde(flatten)]
    side: SideDetails,
    /// The receiving endpoint, where the capture was taken.
    receiver: String,
    capture_point_evidence: CaptureEvidence,
    data_frames: u64,
    back_to_back_full_size: u64,
    mtu: u32,
    merge_rate: Option<f64>,
    /// The rule that explains it, when one blocks most pairs (the first of `must_fix`, else
    /// `psh` or a rule of the traffic's shape).
    blocker: Option<&'static str>,
    /// Every rule a device or stack writes that blocks most pairs, in the order they must go.
    must_fix: Vec<&'static str>,
    /// Other flows to the same receiver whose frames were coalesced.
    receiver_coalesced_flows: usize,
}

impl Identity for NoCoalescing {
    const ID: &'static str = "no-coalescing";
    const SEVERITY: Severity = Severity::Warning;
}

impl Detector for NoCoalescing {
    /// Judges the flows at the end: never called per frame.
    fn watches(&self) -> super::Watch {
        super::Watch::Nothing
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let coalesced_by_receiver = coalesced_by_receiver(s.flows);
        let mut out = Vec::new();
        for (f, side, g) in gro_dirs(s.flows) {
            let Some(point) = f.capture_point() else {
                continue;
            };
            let receiver = side.other();
            if point.side != receiver
                || !linux_local(f.dirs[receiver].ttl)
                || f.tcp
                    .as_ref()
                    .is_some_and(|t| t.dirs().map(|d| d.counts.capture_duplicates).sum() > 0)
                || g.oversized.total > 0
                || g.full_size.total < MIN_BACK_TO_BACK
                || share(g.full_size.total, g.data_frames) < MIN_BULK_SHARE
            {
                continue;
            }
            let blame = GroBlame::of(g);
            let blocker = named_blocker(&blame);
            // Other flows to the same receiver with coalesced frames: GRO is on for this host.
            // This direction has none; the reverse one counts only when both ends share an
            // address (loopback), and it is not another flow.
            let addr = f.key.end(receiver).addr;
            let own = f.key.end(side).addr == addr
                && f.gro
                    .as_ref()
                    .is_some_and(|o| o.dirs[receiver].oversized.total > 0);
            let coalesced_elsewhere =
                coalesced_by_receiver.get(&addr).copied().unwrap_or(0) - usize::from(own);
            let (why, hint) = explain(&blame, blocker, coalesced_elsewhere);
            out.push(Finding {
                id: Self::ID,
                // PSH ending most trains: the data comes as the application's messages, which GRO
                // hands up one by one by design. Never a warning.
                severity: if g.full_size.total >= WARN_BACK_TO_BACK && !blame.psh_most() {
                    Self::SEVERITY
                } else {
                    Severity::Info
                },
                flow: Some(f.id),
                frames: g.full_size.frames(),
                frames_total: g.full_size.total,
                message: format!(
                    "The capture was taken on the receiver ({}), which got {} back-to-back \
                     full-size segments from {} and not one frame above the {}-byte MTU: {why}.",
                    f.key.end(receiver),
                    g.full_size.total,
                    sender(f, side),
                    g.mtu,
                ),
                hint,
                wireshark_filter: flow_filter(f, "tcp.len > 0"),
                details: details(&Details {
                    side: SideDetails::of(f, side),
                    receiver: f.key.end(receiver).to_string(),
                    capture_point_evidence: point.how,
                    data_frames: g.data_frames,
                    back_to_back_full_size: g.full_size.total,
                    mtu: g.mtu,
                    merge_rate: g.merge_rate(),
                    blocker: blocker.map(|(b, _)| b.name()),
                    must_fix: blame.names(),
                    receiver_coalesced_flows: coalesced_elsewhere,
                }),
            });
        }
        out
    }
}

/// Every frame the receiver sent left it with one of Linux's initial TTLs: the tap is on that
/// host, and it is Linux.
fn linux_local(ttl: Option<(u8, u8)>) -> bool {
    ttl.is_some_and(|(lo, hi)| lo == hi && LINUX_TTLS.contains(&lo))
}

/// Directions with coalesced frames, per receiving address: counted once.
fn coalesced_by_receiver(flows: &FlowTable) -> FxHashMap<IpAddr, usize> {
    let mut by_receiver: FxHashMap<IpAddr, usize> = FxHashMap::default();
    for (f, side, g) in gro_dirs(flows) {
        if g.oversized.total > 0 {
            *by_receiver.entry(f.key.end(side.other()).addr).or_default() += 1;
        }
    }
    by_receiver
}

/// The rule the finding names first: the first header rule that must go, else PSH or any other
/// rule that refuses most pairs.
fn named_blocker(blame: &GroBlame<'_>) -> Option<(Blocker, u64)> {
    let g = blame.g;
    match blame.plan.first() {
        Some(s) => Some((s.blocker, s.refused)),
        None if blame.psh_most() => Some((Blocker::Psh, blame.psh())),
        None => g
            .top_blockers()
            .into_iter()
            .next()
            .filter(|&(_, n)| most(n, g.judged_pairs)),
    }
}

/// Why nothing was coalesced, and what to do: the header rules that block most pairs (all of
/// them, in the order they must go), PSH ending the trains, another rule blocking most pairs, or
/// GRO working for other flows to the host, or GRO off.
fn explain(
    blame: &GroBlame<'_>,
    blocker: Option<(Blocker, u64)>,
    coalesced_elsewhere: usize,
) -> (String, String) {
    let judged = blame.g.judged_pairs;
    let check_gro = "Then check that GRO is on: `ethtool -k IFACE | grep -E \
                     'generic-receive|large-receive'`.";
    match blocker {
        Some(_) if !blame.plan.is_empty() => (
            format!(
                "the headers explain it: {}{}",
                blame.sentence(),
                blame.caveat()
            ),
            format!("{} {check_gro}", blame.hints()),
        ),
        Some((Blocker::Psh, n)) => {
            let rest = blame.g.mergeable_pairs;
            let (left, then) = if rest > 0 {
                (
                    format!("; the other {} would merge", frees(rest, judged)),
                    format!(
                        " For the pairs that would merge, {}",
                        check_gro.replacen("Then check", "check", 1)
                    ),
                )
            } else {
                (String::new(), String::new())
            };
            (
                format!(
                    "the sender's messages explain {}: {}{left}",
                    if rest > 0 { "most of it" } else { "it" },
                    psh_sentence(n, judged)
                ),
                format!("{}{then}", Blocker::Psh.hint()),
            )
        }
        Some((b, n)) => (
            format!(
                "the headers explain it: `{}` blocks {:.0}% of the segment pairs",
                b.name(),
                100.0 * share(n, judged)
            ),
            format!("{} {check_gro}", b.hint()),
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
    }
}
