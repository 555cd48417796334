//! `gro-blocked-ip-id`: the IPv4 ID sequence of a flow breaks Linux GRO's ID rule, so back-to-back
//! segments are not merged (the VXLAN story: outer DF=0 with IDs 101, 105, 107, …).
//!
//! The pairs and their ID steps come from the GRO model ([`crate::gro`]); this detector judges
//! them under every kernel generation ([`Kernel::id_ok`]) and tells the ID patterns apart: fixed,
//! per-flow increments, a counter shared with interleaved traffic (the host's own IDs towards that
//! destination increase by one, the flow's jump), and random IDs.

use std::net::IpAddr;

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::kit::{frees, gro_dirs, name_list, psh_sentence, sender, share, GroBlame, SideDetails};
use super::{details, Detector, Finding, FrameCtx, Identity, Severity, Summary};
use crate::decode::{link, IpLayer};
use crate::flow::{Flow, Side};
use crate::gro::{Blocker, GroDir, IdLayer, IdStep, Kernel};

/// Fewer judged pairs than this say nothing about a pattern.
pub const MIN_PAIRS: u64 = 8;
/// The rule must fail for at least this share of the pairs.
pub const MIN_SHARE: f64 = 0.5;

pub struct GroBlockedIpId {
    kernel: Kernel,
    /// Per (outer layer?, source, destination): the last ID, pairs, and +1 steps, over every
    /// IPv4 TCP or tunnel packet between the two hosts (Linux keeps ID counters per destination,
    /// net/ipv4/route.c `ip_idents`).
    hosts: FxHashMap<HostKey, usize>,
    /// The counters, each with its key, in order of first appearance.
    counters: Vec<(HostKey, IdCounter)>,
    /// Per flow index, per (side, outer layer?): the counter its latest frame used, or
    /// [`NO_COUNTER`]. A flow's frames come from the same hosts, so this finds the counter
    /// without hashing two addresses (checked against the key: an outer source may change).
    by_flow: Vec<[u32; 4]>,
}

/// (outer layer?, source, destination).
type HostKey = (bool, IpAddr, IpAddr);
/// The last ID, the pairs, and the +1 steps.
type IdCounter = (u16, u64, u64);
/// An empty slot of `by_flow`.
const NO_COUNTER: u32 = u32::MAX;

impl GroBlockedIpId {
    pub fn new(kernel: Kernel) -> Self {
        GroBlockedIpId {
            kernel,
            hosts: FxHashMap::default(),
            counters: Vec::new(),
            by_flow: Vec::new(),
        }
    }

    /// The counter of `key`, through the flow's slot `slot` when the frame has a flow, created
    /// (its last ID one before `id`) for a new host pair.
    fn counter(&mut self, key: HostKey, id: u16, slot: Option<(usize, usize)>) -> &mut IdCounter {
        let cached = slot
            .and_then(|(f, s)| self.by_flow.get(f).map(|slots| slots[s] as usize))
            .filter(|&i| self.counters.get(i).is_some_and(|(k, _)| *k == key));
        let i = match cached {
            Some(i) => i,
            None => {
                let counters = &mut self.counters;
                let i = *self.hosts.entry(key).or_insert_with(|| {
                    counters.push((key, (id.wrapping_sub(1), 0, 0)));
                    counters.len() - 1
                });
                if let Some((f, s)) = slot {
                    if self.by_flow.len() <= f {
                        self.by_flow.resize(f + 1, [NO_COUNTER; 4]);
                    }
                    self.by_flow[f][s] = u32::try_from(i).unwrap_or(NO_COUNTER);
                }
                i
            }
        };
        &mut self.counters[i].1
    }

    /// Share of +1 steps in the host-to-host ID sequence.
    fn host_increment_share(&self, outer: bool, src: IpAddr, dst: IpAddr) -> Option<f64> {
        let (_, pairs, inc) = self.counters.get(*self.hosts.get(&(outer, src, dst))?)?.1;
        (pairs >= MIN_PAIRS).then(|| share(inc, pairs))
    }
}

/// The ID pattern a finding names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Pattern {
    Fixed,
    Increment,
    /// Jumps because one counter is shared with interleaved traffic.
    SharedCounter,
    SmallJump,
    Other,
}

impl Pattern {
    /// The IDs as the message describes them.
    fn describe(self, src: IpAddr, dst: IpAddr) -> String {
        match self {
            Pattern::Fixed => "a fixed ID".to_string(),
            Pattern::Increment => "IDs that increase by one".to_string(),
            Pattern::SharedCounter => format!(
                "IDs that jump because one counter is shared with interleaved traffic (from {src} \
                 to {dst} the IDs increase by one)"
            ),
            Pattern::SmallJump => "IDs that increase in small jumps".to_string(),
            Pattern::Other => "random IDs".to_string(),
        }
    }

    fn of(step: IdStep, shared: bool) -> Pattern {
        match step {
            IdStep::SmallJump if shared => Pattern::SharedCounter,
            IdStep::Fixed => Pattern::Fixed,
            IdStep::Increment => Pattern::Increment,
            IdStep::SmallJump => Pattern::SmallJump,
            IdStep::Other => Pattern::Other,
        }
    }
}

/// `details` of a `gro-blocked-ip-id` finding.
#[derive(Serialize)]
struct Details {
    #[serde(flatten)]
    side: SideDetails,
    /// `outer` (the tunnel's header) or `inner`.
    layer: &'static str,
    df: bool,
    pattern: Pattern,
    /// Judged pairs, and those failing the selected kernel's ID rule (and their share).
    pairs: u64,
    failing_pairs: u64,
    share: f64,
    kernel: &'static str,
    /// Per kernel generation: whether its ID rule refuses most pairs.
    blocked_by_kernel: BTreeMap<&'static str, bool>,
    id_sample: Vec<IdSample>,
    /// Refused pairs that only ID rules refused (fixing the IDs would let them merge).
    only_ids_blocked: u64,
    /// The rule other than the IDs that refused most judged pairs, or null.
    other_blocker: Option<&'static str>,
    /// Every rule a device or stack writes that refuses most judged pairs (the IDs included), in
    /// the order they must go (as `no-coalescing` and `gro-blocked-headers` name them).
    must_fix: Vec<&'static str>,
    /// Share of +1 steps between the two hosts over all their packets (a shared counter).
    host_increment_share: Option<f64>,
}

#[derive(Serialize)]
struct IdSample {
    frame: u64,
    id: u16,
}

impl Identity for GroBlockedIpId {
    const ID: &'static str = "gro-blocked-ip-id";
    const SEVERITY: Severity = Severity::Error;
}

impl Detector for GroBlockedIpId {
    fn watches(&self) -> super::Watch {
        super::Watch::Tcp
    }

    fn on_frame(&mut self, ctx: &FrameCtx<'_>) {
        let pkt = ctx.pkt;
        if pkt.tcp.is_none() {
            return;
        }
        for (layer, ip) in pkt.ip_headers() {
            if ip.version != 4 {
                continue;
            }
            let id = ip.id as u16;
            let outer = layer == IpLayer::Outer;
            let slot = ctx
                .flow
                .map(|f| (f.index, f.side.index() * 2 + usize::from(outer)));
            let e = self.counter((outer, ip.src, ip.dst), id, slot);
            e.1 += 1;
            e.2 += u64::from(id.wrapping_sub(e.0) == 1);
            e.0 = id;
        }
    }

    fn evicted(&mut self, indexes: &[usize]) {
        for &i in indexes {
            if let Some(slots) = self.by_flow.get_mut(i) {
                *slots = [NO_COUNTER; 4];
            }
        }
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        // GRO does not run on loopback (lo has no NAPI; BSD null/loop captures are loopback too):
        // IDs there cost nothing.
        let loopback_capture = !s.meta.interfaces.is_empty()
            && s.meta
                .interfaces
                .iter()
                .all(|&lt| matches!(lt, link::NULL | link::LOOP));
        for (f, side, g) in gro_dirs(s.flows) {
            if loopback_capture || f.key.ends.iter().all(|e| e.addr.is_loopback()) {
                continue;
            }
            for layer in [IdLayer::Outer, IdLayer::Inner] {
                let ids = &g.ids[layer.index()];
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
                if let Some(fd) = self.finding(f, side, (g, layer), &blocked) {
                    out.push(fd);
                }
            }
        }
        out
    }
}

impl GroBlockedIpId {
    /// What the selected kernel does with the pairs, and which generations refuse them.
    fn verdict(&self, refused: bool, selected: f64, blocked: &[(Kernel, f64)]) -> String {
        if refused {
            return format!(
                "Linux GRO ({}) refuses to merge {:.0}% of the back-to-back segment pairs",
                self.kernel.range(),
                100.0 * selected
            );
        }
        let blocking: Vec<&str> = blocked
            .iter()
            .filter(|(_, x)| *x >= MIN_SHARE)
            .map(|(k, _)| k.range())
            .collect();
        format!(
            "Linux GRO ({}) merges them, but {} would not",
            self.kernel.range(),
            blocking.join(" or ")
        )
    }

    fn finding(
        &self,
        f: &Flow,
        side: Side,
        (g, layer): (&GroDir, IdLayer),
        blocked: &[(Kernel, f64)],
    ) -> Option<Finding> {
        let ids = &g.ids[layer.index()];
        let pairs = ids.pairs();
        let other = other_blocker(g);
        let blame = GroBlame::of(g);
        let only_ids = g.only_ids_blocked(layer);
        let selected = blocked.iter().find(|(k, _)| *k == self.kernel)?.1;
        let df = ids.df();
        let pattern = ids.pattern();
        let (src, dst) = hosts(f, side, layer)?;
        let host_inc = self.host_increment_share(layer == IdLayer::Outer, src, dst);
        let shared = pattern == IdStep::SmallJump && host_inc.is_some_and(|x| x >= 0.9);
        let pattern = Pattern::of(pattern, shared);
        let described = pattern.describe(src, dst);
        let sample: Vec<String> = ids.samples().iter().map(|s| s.1.to_string()).collect();
        let header = match layer {
            IdLayer::Outer => "outer (tunnel) IPv4 headers",
            IdLayer::Inner if f.key.tunnel.is_some() => "inner IPv4 headers",
            IdLayer::Inner => "IPv4 headers",
        };
        // Error when the selected kernel refuses and the IDs are all that stops most pairs: a
        // configuration fault with a known fix and a measured cost (the VXLAN story). Info when
        // only other generations would refuse, or when other rules (PSH or short segments ending
        // every train, changing headers) would stop the merges anyway.
        let sole = share(only_ids, pairs) >= MIN_SHARE;
        let severity = if selected >= MIN_SHARE && sole {
            Self::SEVERITY
        } else {
            Severity::Info
        };
        let mut verdict = self.verdict(selected >= MIN_SHARE, selected, blocked);
        if selected >= MIN_SHARE && !sole {
            verdict += &not_alone(&blame, other, frees(only_ids, pairs));
        }
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
        let hint = hint(layer, df, pattern);
        let filter_layer = match layer {
            IdLayer::Outer => " && (vxlan || geneve)",
            IdLayer::Inner => "",
        };
        Some(Finding {
            id: Self::ID,
            severity,
            flow: Some(f.id),
            frames: ids.samples().iter().map(|s| s.0).collect(),
            // The first frame of the first judged pair and the second of every pair were
            // judged; the first of them are sampled.
            frames_total: (ids.pairs() + 1).max(ids.sample_count as u64),
            message,
            hint: hint.into(),
            wireshark_filter: Some(format!(
                "{}{filter_layer} && tcp.len > 0 && ip.flags.df == {}",
                f.wireshark_filter(),
                u8::from(df)
            )),
            details: details(&Details {
                side: SideDetails::of(f, side),
                layer: layer.name(),
                df,
                pattern,
                pairs,
                failing_pairs: ids.failing(self.kernel, layer),
                share: selected,
                kernel: self.kernel.name(),
                blocked_by_kernel: blocked
                    .iter()
                    .map(|(k, x)| (k.name(), *x >= MIN_SHARE))
                    .collect(),
                id_sample: ids
                    .samples()
                    .iter()
                    .map(|s| IdSample {
                        frame: s.0,
                        id: s.1,
                    })
                    .collect(),
                host_increment_share: host_inc,
                only_ids_blocked: only_ids,
                other_blocker: other.map(Blocker::name),
                must_fix: blame.names(),
            }),
        })
    }
}

/// Why fixing the IDs alone would not let most pairs merge, and what must go with them: the other
/// header rules that refuse most pairs too (the same fix plan `no-coalescing` and
/// `gro-blocked-headers` name), or PSH ending the trains (the application's messages), or else
/// the rule refusing most pairs besides the IDs.
fn not_alone(blame: &GroBlame<'_>, other: Option<Blocker>, freed: String) -> String {
    let co: Vec<Blocker> = blame
        .plan
        .iter()
        .map(|s| s.blocker)
        .filter(|b| !b.is_ip_id())
        .collect();
    let judged = blame.g.judged_pairs;
    match co.as_slice() {
        [] if blame.psh_most() => format!(
            ", but {}, so fixing the IDs alone frees {freed}",
            psh_sentence(blame.psh(), judged)
        ),
        [] => format!(
            ", but {} stops most of them anyway, so fixing the IDs alone frees {freed}",
            other.map_or_else(|| "another rule".to_string(), |b| format!("`{}`", b.name()))
        ),
        [one] => format!(
            ", but `{}` blocks {:.0}% of them too; fix both — fixing the IDs alone frees {freed}",
            one.name(),
            100.0 * share(blame.g.blockers[*one as usize], judged)
        ),
        many => format!(
            ", but {} each block most of them too; fix all {} — fixing the IDs alone frees \
             {freed}",
            name_list(many.iter().copied()),
            many.len() + 1
        ),
    }
}

/// The rule other than the IP IDs that refused most judged pairs, when it refused any.
fn other_blocker(g: &GroDir) -> Option<Blocker> {
    Blocker::ALL
        .iter()
        .copied()
        .filter(|b| !b.is_ip_id() && g.blockers[*b as usize] > 0)
        .max_by_key(|b| (g.blockers[*b as usize], std::cmp::Reverse(*b as usize)))
}

/// The sending and receiving addresses of the IPv4 header at `layer` of `side`'s packets.
fn hosts(f: &Flow, side: Side, layer: IdLayer) -> Option<(IpAddr, IpAddr)> {
    Some(match layer {
        IdLayer::Outer => {
            let (c, s) = f.outer_client_server()?;
            if side == f.client {
                (c, s)
            } else {
                (s, c)
            }
        }
        IdLayer::Inner => (f.key.end(side).addr, f.key.end(side.other()).addr),
    })
}

/// What to do, by the layer, DF and pattern of the IDs.
fn hint(layer: IdLayer, df: bool, pattern: Pattern) -> &'static str {
    match (layer, df, pattern) {
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
        (IdLayer::Inner, true, Pattern::Fixed) => {
            "Kernels before 4.7 need incrementing IDs even with DF set: upgrade the receiver, \
             or make the sender increment IDs."
        }
        (IdLayer::Inner, true, _) => {
            "With DF set GRO still needs a fixed or incrementing ID: the sender (or a NAT or \
             load balancer rewriting IDs) randomises them; make it keep them fixed or \
             incrementing."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gro::Kernel;

    fn addr(last: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, last])
    }

    /// The per-flow slot is a shortcut, never a different answer: a flow whose outer source
    /// changes (two VTEPs in turn) keeps one counter per host pair, and a flow shares its
    /// host pair's counter with the other flows between the same hosts.
    #[test]
    fn the_flow_slot_finds_the_host_pairs_own_counter() {
        let mut d = GroBlockedIpId::new(Kernel::V6_18);
        let (a, b, c) = (
            (true, addr(1), addr(2)),
            (true, addr(3), addr(2)),
            (true, addr(1), addr(2)),
        );
        for (i, key) in [a, b, a, b, a].into_iter().enumerate() {
            let e = d.counter(key, 100 + i as u16, Some((0, 1)));
            e.1 += 1;
        }
        // Another flow (index 5) between the hosts of `a`.
        d.counter(c, 7, Some((5, 1))).1 += 1;
        d.counter(c, 8, None).1 += 1;
        assert_eq!(d.counters.len(), 2, "one counter per host pair");
        assert_eq!(
            d.counters[0].1 .1, 5,
            "a: three frames of flow 0, two of flow 5"
        );
        assert_eq!(d.counters[1].1 .1, 2, "b: two frames of flow 0");
        // An evicted flow's slots are forgotten; its next frame finds the counter by hash.
        d.evicted(&[0]);
        assert_eq!(d.by_flow[0], [NO_COUNTER; 4]);
        d.counter(b, 9, Some((0, 1))).1 += 1;
        assert_eq!(d.counters[1].1 .1, 3);
    }
}
