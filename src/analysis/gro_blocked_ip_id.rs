//! `gro-blocked-ip-id`: the IPv4 ID sequence of a flow breaks Linux GRO's ID rule, so back-to-back
//! segments are not merged (the VXLAN story: outer DF=0 with IDs 101, 105, 107, …).
//!
//! The pairs and their ID steps come from the GRO model ([`crate::gro`]); this detector judges
//! them under every kernel generation ([`Kernel::id_ok`]) and tells the ID patterns apart: fixed,
//! per-flow increments, a counter shared with interleaved traffic (the host's own IDs towards that
//! destination increase by one, the flow's jump), and random IDs.

use std::net::IpAddr;

use rustc_hash::FxHashMap;
use serde_json::json;

use super::{
    details, gro_dirs, sender, share, side_details, Detector, Finding, Identity, Severity, Summary,
};
use crate::capture::Frame;
use crate::decode::{IpLayer, Packet};
use crate::flow::{Flow, FlowRef};
use crate::gro::{IdFacts, IdLayer, IdStep, Kernel};

/// Fewer judged pairs than this say nothing about a pattern.
pub const MIN_PAIRS: u64 = 8;
/// The rule must fail for at least this share of the pairs.
pub const MIN_SHARE: f64 = 0.5;

pub struct GroBlockedIpId {
    kernel: Kernel,
    /// Per (outer layer?, source, destination): the last ID, pairs, and +1 steps, over every
    /// IPv4 TCP or tunnel packet between the two hosts (Linux keeps ID counters per destination,
    /// net/ipv4/route.c `ip_idents`).
    hosts: FxHashMap<(bool, IpAddr, IpAddr), (u16, u64, u64)>,
}

impl GroBlockedIpId {
    pub fn new(kernel: Kernel) -> Self {
        GroBlockedIpId {
            kernel,
            hosts: FxHashMap::default(),
        }
    }

    /// Share of +1 steps in the host-to-host ID sequence.
    fn host_increment_share(&self, outer: bool, src: IpAddr, dst: IpAddr) -> Option<f64> {
        let &(_, pairs, inc) = self.hosts.get(&(outer, src, dst))?;
        (pairs >= MIN_PAIRS).then(|| share(inc, pairs))
    }
}

impl Identity for GroBlockedIpId {
    const ID: &'static str = "gro-blocked-ip-id";
    const SEVERITY: Severity = Severity::Error;
}

impl Detector for GroBlockedIpId {
    fn observe(&mut self, _frame: &Frame<'_>, pkt: &Packet<'_>, _flow: Option<FlowRef>) {
        if pkt.tcp.is_none() {
            return;
        }
        for (layer, ip) in pkt.ip_headers() {
            if ip.version != 4 {
                continue;
            }
            let id = ip.id as u16;
            let e = self
                .hosts
                .entry((layer == IpLayer::Outer, ip.src, ip.dst))
                .or_insert((id.wrapping_sub(1), 0, 0));
            e.1 += 1;
            e.2 += u64::from(id.wrapping_sub(e.0) == 1);
            e.0 = id;
        }
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for (_, f, side, g) in gro_dirs(s.flows) {
            for (slot, layer) in [(0, IdLayer::Outer), (1, IdLayer::Inner)] {
                let ids = &g.ids[slot];
                let pairs = ids.pairs();
                if pairs < MIN_PAIRS {
                    continue;
                }
                let blocked: Vec<(Kernel, f64)> = Kernel::ALL
                    .iter()
                    .map(|&k| (k, share(ids.failing(k, layer), pairs)))
                    .collect();
                if blocked.iter().all(|&(_, x)| x < MIN_SHARE) {
                    continue;
                }
                if let Some(fd) = self.finding(f, side, layer, ids, &blocked) {
                    out.push(fd);
                }
            }
        }
        out
    }
}

impl GroBlockedIpId {
    fn finding(
        &self,
        f: &Flow,
        side: usize,
        layer: IdLayer,
        ids: &IdFacts,
        blocked: &[(Kernel, f64)],
    ) -> Option<Finding> {
        let pairs = ids.pairs();
        let selected = blocked.iter().find(|(k, _)| *k == self.kernel)?.1;
        let df = ids.df();
        let pattern = ids.pattern();
        let (src, dst) = match layer {
            IdLayer::Outer => {
                let (c, s) = f.outer_client_server()?;
                if side == f.client {
                    (c, s)
                } else {
                    (s, c)
                }
            }
            IdLayer::Inner => (f.key.ends[side].addr, f.key.ends[1 - side].addr),
        };
        let host_inc = self.host_increment_share(layer == IdLayer::Outer, src, dst);
        let shared = pattern == IdStep::SmallJump && host_inc.is_some_and(|x| x >= 0.9);
        let pattern_name = if shared {
            "shared-counter"
        } else {
            IdStep::NAMES[pattern as usize]
        };
        let described = match pattern_name {
            "fixed" => "a fixed ID".to_string(),
            "increment" => "IDs that increase by one".to_string(),
            "shared-counter" => format!(
                "IDs that jump because one counter is shared with interleaved traffic (from {src} \
                 to {dst} the IDs increase by one)"
            ),
            "small-jump" => "IDs that increase in small jumps".to_string(),
            _ => "random IDs".to_string(),
        };
        let sample: Vec<String> = ids.samples().iter().map(|s| s.1.to_string()).collect();
        let blocking: Vec<&str> = blocked
            .iter()
            .filter(|(_, x)| *x >= MIN_SHARE)
            .map(|(k, _)| k.range())
            .collect();
        let header = match layer {
            IdLayer::Outer => "outer (tunnel) IPv4 headers",
            IdLayer::Inner if f.key.tunnel.is_some() => "inner IPv4 headers",
            IdLayer::Inner => "IPv4 headers",
        };
        // Error when the selected kernel refuses: a configuration fault with a known fix and a
        // measured cost (the VXLAN story); info when only other generations would refuse.
        let severity = if selected >= MIN_SHARE {
            Self::SEVERITY
        } else {
            Severity::Info
        };
        let verdict = if severity == Self::SEVERITY {
            format!(
                "Linux GRO ({}) refuses to merge {:.0}% of the back-to-back segment pairs",
                self.kernel.range(),
                100.0 * selected
            )
        } else {
            format!(
                "Linux GRO ({}) merges them, but {} would not",
                self.kernel.range(),
                blocking.join(" or ")
            )
        };
        let message = format!(
            "The {header} from {} have DF={} and {described} ({}{}): {verdict}.",
            sender(f, side),
            u8::from(df),
            sample.join(", "),
            if ids.sample_count == crate::gro::ID_SAMPLES {
                ", …"
            } else {
                ""
            },
        );
        let hint = match (layer, df, pattern_name) {
            (IdLayer::Outer, false, _) => {
                "Set DF on the encapsulating device (Linux: `ip link set DEV type vxlan df set`; \
                 other VTEPs: their 'copy/set DF' option) or make it increment the outer ID by one \
                 per packet of a flow; from Linux 6.18 a fixed ID is accepted too."
            }
            (IdLayer::Outer, true, _) => {
                "Linux 6.18+ also checks outer IDs with DF set: make the tunnel endpoint use a fixed \
                 or per-flow incrementing outer ID, or keep the receiver on older GRO rules."
            }
            (IdLayer::Inner, false, _) => {
                "The sender clears DF (path MTU discovery off: net.ipv4.ip_no_pmtu_disc, or a \
                 middlebox clearing it) without per-flow incrementing IDs: turn PMTU discovery \
                 back on, or make the sender increment IDs per flow."
            }
            (IdLayer::Inner, true, "fixed") => {
                "Kernels before 4.7 need incrementing IDs even with DF set: upgrade the receiver, \
                 or make the sender increment IDs."
            }
            (IdLayer::Inner, true, _) => {
                "With DF set GRO still needs a fixed or incrementing ID: the sender (or a NAT or \
                 load balancer rewriting IDs) randomises them; make it keep them fixed or \
                 incrementing."
            }
        };
        let filter_layer = match layer {
            IdLayer::Outer => " && (vxlan || geneve)",
            IdLayer::Inner => "",
        };
        let blocked_by: serde_json::Map<String, serde_json::Value> = blocked
            .iter()
            .map(|(k, x)| (k.name().to_string(), json!(*x >= MIN_SHARE)))
            .collect();
        Some(Finding {
            id: Self::ID,
            severity,
            flow: Some(f.id),
            frames: ids.samples().iter().map(|s| s.0).collect(),
            message,
            hint: hint.into(),
            wireshark_filter: Some(format!(
                "{}{filter_layer} && tcp.len > 0 && ip.flags.df == {}",
                f.wireshark_filter(),
                u8::from(df)
            )),
            details: details(side_details(f, side).into_iter().chain([
                ("layer", json!(layer.name())),
                ("df", json!(df)),
                ("pattern", json!(pattern_name)),
                ("pairs", json!(pairs)),
                ("failing_pairs", json!(ids.failing(self.kernel, layer))),
                ("share", json!(selected)),
                ("kernel", json!(self.kernel.name())),
                ("blocked_by_kernel", serde_json::Value::Object(blocked_by)),
                (
                    "id_sample",
                    json!(ids
                        .samples()
                        .iter()
                        .map(|s| json!({"frame": s.0, "id": s.1}))
                        .collect::<Vec<_>>()),
                ),
                ("host_increment_share", json!(host_inc)),
            ])),
        })
    }
}
