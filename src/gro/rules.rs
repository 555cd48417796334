//! The merge rules: whether Linux GRO would merge one judged pair of consecutive segments, and
//! which rules refuse it.
//!
//! net/ipv4/af_inet.c `inet_gro_receive` and net/ipv6/ip6_offload.c `ipv6_gro_receive` (IP),
//! net/ipv4/udp_offload.c `udp_gro_receive` and drivers/net/vxlan/vxlan_core.c
//! `vxlan_gro_receive` (tunnel), net/ipv4/tcp_offload.c `tcp_gro_receive` (TCP).

use super::{Blocker, Blockers, DataFrame, GroDir, IdLayer, IdStep, IdTrain, Kernel, PairVerdict};
use crate::decode::{tcp_flags, IpFacts};
use crate::tcp::seq::SeqNum;

/// The header facts of a data segment that a merge decision compares.
#[derive(Debug, Clone, Copy)]
pub(super) struct Head {
    pub frame: u64,
    pub ts_ns: i64,
    pub payload: u32,
    seq: SeqNum,
    seq_end: SeqNum,
    ack: u32,
    flags: u8,
    window: u16,
    options: [u8; 40],
    options_len: usize,
    inner: IpHead,
    outer: Option<(IpHead, TunHead)>,
    pub oversized: bool,
}

impl Head {
    pub fn of(f: &DataFrame<'_>, oversized: bool) -> Head {
        let t = f.tcp;
        let mut options = [0u8; 40];
        let bytes = t.option_bytes(f.data);
        let options_len = bytes.len().min(40);
        options[..options_len].copy_from_slice(&bytes[..options_len]);
        Head {
            frame: f.number,
            ts_ns: f.ts_ns,
            payload: t.payload_len,
            seq: SeqNum(t.seq),
            seq_end: SeqNum(t.seq).plus(t.payload_len),
            ack: t.ack,
            flags: t.flags,
            window: t.window,
            options,
            options_len,
            inner: IpHead::of(f.ip),
            // Only the UDP overlays' outer headers are judged (udp_gro_receive → vxlan/geneve
            // gro_receive, net/ipv4/udp_offload.c); other encapsulations are judged by their
            // inner headers alone rather than by rules we have not proven against the kernel.
            outer: f
                .pkt
                .tunnel
                .filter(|tun| tun.kind.is_udp_overlay())
                .and_then(|tun| Some((tun, tun.outer_udp?)))
                .map(|(tun, udp)| {
                    (
                        IpHead::of(&tun.outer_ip),
                        TunHead {
                            ports: (udp.src_port, udp.dst_port),
                            checksum_zero: udp.checksum_zero,
                            vni: tun.vni,
                            flags: tun.flags,
                        },
                    )
                }),
            oversized,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IpHead {
    v4: bool,
    ttl: u8,
    tos: u8,
    df: bool,
    id: u16,
    options: bool,
    fragment: bool,
    flow_label: u32,
}

impl IpHead {
    fn of(ip: &IpFacts) -> Self {
        IpHead {
            v4: ip.version == 4,
            ttl: ip.ttl,
            tos: ip.tos,
            df: ip.df,
            id: ip.id as u16,
            options: ip.has_options,
            fragment: ip.is_fragment(),
            flow_label: ip.flow_label,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TunHead {
    ports: (u16, u16),
    checksum_zero: bool,
    vni: u32,
    flags: u8,
}

/// IP rules (inet_gro_receive / ipv6_gro_receive, and for the outer header the same code called
/// from udp_gro_receive): options and fragments never merge; TTL, TOS and DF must match; the ID
/// rule is the generation's, against the train's first ID.
fn ip_rules(p: &IpHead, c: &IpHead, ids: (IdLayer, IdTrain), kernel: Kernel, v: &mut Blockers) {
    let (layer, train) = ids;
    let pick = |o: Blocker, i: Blocker| if layer == IdLayer::Outer { o } else { i };
    if p.options || c.options {
        v.insert(pick(Blocker::OuterIpOptions, Blocker::IpOptions));
    }
    if p.fragment || c.fragment {
        v.insert(pick(Blocker::OuterFragment, Blocker::Fragment));
    }
    if p.ttl != c.ttl {
        v.insert(pick(Blocker::OuterTtl, Blocker::Ttl));
    }
    if p.tos != c.tos {
        v.insert(pick(Blocker::OuterTos, Blocker::Tos));
    }
    if p.v4 && c.v4 {
        if p.df != c.df {
            v.insert(pick(Blocker::OuterDf, Blocker::Df));
        } else if !kernel.id_joins(layer, c.df, train, c.id) {
            v.insert(pick(Blocker::OuterIpId, Blocker::IpId));
        }
    } else if p.flow_label != c.flow_label {
        v.insert(pick(Blocker::OuterFlowLabel, Blocker::FlowLabel));
    }
}

/// udp_gro_receive / vxlan_gro_receive: same ports, same checksum presence, same VXLAN flags
/// and VNI.
fn tunnel_rules(p: &TunHead, c: &TunHead, v: &mut Blockers) {
    if p.ports != c.ports {
        v.insert(Blocker::OuterUdpPorts);
    }
    if p.checksum_zero != c.checksum_zero {
        v.insert(Blocker::OuterUdpChecksum);
    }
    if p.vni != c.vni {
        v.insert(Blocker::Vni);
    }
    if p.flags != c.flags {
        v.insert(Blocker::TunnelFlags);
    }
}

/// tcp_gro_receive: flags equal except CWR/FIN/PSH and no CWR on the new one; same ACK number,
/// window and option bytes; contiguous; not larger than the train's first segment. The previous
/// segment ended the train when it had PSH, FIN, URG, RST or SYN, or was shorter than the train's
/// segment size (`out_check_final`: `flush = len < mss; flush |= flags & (URG | PSH | RST | SYN |
/// FIN)`). PSH is counted apart: it is the application's message boundary, not a fault.
fn tcp_rules(p: &Head, c: &Head, train_first: u32, v: &mut Blockers) {
    use tcp_flags::{CWR, FIN, PSH, RST, SYN, URG};
    if c.flags & CWR != 0 || (c.flags ^ p.flags) & !(CWR | FIN | PSH) != 0 {
        v.insert(Blocker::TcpFlags);
    }
    if c.ack != p.ack {
        v.insert(Blocker::Ack);
    }
    if c.window != p.window {
        v.insert(Blocker::Window);
    }
    if p.options[..p.options_len] != c.options[..c.options_len] {
        v.insert(Blocker::TcpOptions);
    }
    if p.flags & PSH != 0 {
        v.insert(Blocker::Psh);
    }
    if p.flags & (FIN | URG | RST | SYN) != 0 || p.payload < train_first {
        v.insert(Blocker::TrainEnded);
    }
    if p.seq_end != c.seq {
        v.insert(Blocker::NotContiguous);
    }
    if c.payload > train_first {
        v.insert(Blocker::LargerSegment);
    }
}

impl GroDir {
    /// Applies the merge rules to one judged pair and tallies the result.
    pub(super) fn judge(&mut self, p: &Head, c: &Head, kernel: Kernel) -> PairVerdict {
        let mut v = Blockers::default();
        let [outer_ids, inner_ids] = self.id_trains;
        if let (Some((po, pt)), Some((co, ct))) = (p.outer, c.outer) {
            ip_rules(&po, &co, (IdLayer::Outer, outer_ids), kernel, &mut v);
            tunnel_rules(&pt, &ct, &mut v);
        }
        ip_rules(
            &p.inner,
            &c.inner,
            (IdLayer::Inner, inner_ids),
            kernel,
            &mut v,
        );
        tcp_rules(p, c, self.train_first, &mut v);

        self.judged_pairs += 1;
        self.record_ids(p, c);
        if !v.is_empty() {
            for b in v.iter() {
                self.blockers[b as usize] += 1;
            }
            self.refused_sets.add(v);
            // A header rule (not the IP ID, not the traffic's shape or a message boundary)
            // failed.
            if v.iter().any(|b| !b.is_ip_id() && b.is_fixable()) {
                self.header_blocked.push(c.frame);
            }
            self.start_train(c);
            PairVerdict::Blocked(v)
        } else {
            self.mergeable_pairs += 1;
            self.join_train(c, kernel);
            PairVerdict::Mergeable
        }
    }

    /// A new GRO train starts at `c`: the segment size and first IDs every later segment of it
    /// is compared with.
    pub(super) fn start_train(&mut self, c: &Head) {
        self.train_first = c.payload;
        self.id_trains = [
            IdTrain::start(c.outer.map_or(0, |o| o.0.id)),
            IdTrain::start(c.inner.id),
        ];
    }

    /// `c` joined the current train.
    fn join_train(&mut self, c: &Head, kernel: Kernel) {
        let [outer, inner] = &mut self.id_trains;
        if let Some((o, _)) = c.outer {
            *outer = outer.joined(kernel, o.df, o.id);
        }
        *inner = inner.joined(kernel, c.inner.df, c.inner.id);
    }

    /// The ID facts cover judged pairs with equal DF, whatever else blocked them. The IDs a
    /// finding quotes come from judged pairs only too: in a capture that spans the moment
    /// coalescing stopped, the merged frames before it say nothing about the IDs after.
    fn record_ids(&mut self, p: &Head, c: &Head) {
        for (layer, heads) in [
            (
                IdLayer::Outer,
                p.outer.map(|o| o.0).zip(c.outer.map(|o| o.0)),
            ),
            (IdLayer::Inner, Some((p.inner, c.inner))),
        ] {
            let Some((ph, ch)) = heads.filter(|(a, b)| a.v4 && b.v4) else {
                continue;
            };
            let ids = &mut self.ids[layer.index()];
            if ids.sample_count == 0 {
                ids.sample(p.frame, ph.id, ph.df);
            }
            ids.sample(c.frame, ch.id, ch.df);
            if ph.df == ch.df {
                let step = IdStep::of(ch.id.wrapping_sub(ph.id));
                ids.steps[usize::from(ch.df)][step as usize] += 1;
            }
        }
    }
}
