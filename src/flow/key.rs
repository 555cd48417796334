//! Flow keys: the innermost 5-tuple plus tunnel context, direction-independent.

use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use serde::Serialize;

use super::Side;
use crate::decode::{IpFacts, Packet, TunnelKind, Via};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// An address and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub addr: IpAddr,
    pub port: u16,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.addr {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.port),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.port),
        }
    }
}

/// Tunnel context of a flow: the same inner 5-tuple in two VNIs is two flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TunnelKey {
    pub kind: TunnelKind,
    pub vni: u32,
    /// Outer addresses, lower first (direction-independent).
    pub outer: [IpAddr; 2],
    /// The tunnels around this one: a mirror's copy (ERSPAN around VXLAN) is not the original.
    pub via: Via,
}

impl TunnelKey {
    /// The tunnel context of a packet's flow key.
    pub fn of_packet(pkt: &Packet) -> Option<TunnelKey> {
        pkt.tunnel.map(|t| TunnelKey {
            kind: t.kind,
            vni: t.vni,
            outer: sorted(t.outer_ip.src, t.outer_ip.dst),
            via: t.via,
        })
    }
}

/// Two addresses, lower first.
pub fn sorted(a: IpAddr, b: IpAddr) -> [IpAddr; 2] {
    if a <= b {
        [a, b]
    } else {
        [b, a]
    }
}

/// Direction-independent flow key: endpoints sorted, lower first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowKey {
    pub protocol: Protocol,
    pub ends: [Endpoint; 2],
    pub tunnel: Option<TunnelKey>,
}

impl FlowKey {
    /// The key of a packet from `src` to `dst`, and the side that sent it.
    #[inline]
    pub fn of(
        protocol: Protocol,
        src: Endpoint,
        dst: Endpoint,
        tunnel: Option<TunnelKey>,
    ) -> (FlowKey, Side) {
        let (ends, side) = if src <= dst {
            ([src, dst], Side::A)
        } else {
            ([dst, src], Side::B)
        };
        let key = FlowKey {
            protocol,
            ends,
            tunnel,
        };
        (key, side)
    }

    /// The key of a TCP or UDP packet with IP header `ip` and ports `(source, destination)`.
    pub fn of_packet(pkt: &Packet, ip: &IpFacts, protocol: Protocol, ports: (u16, u16)) -> Self {
        let src = Endpoint {
            addr: ip.src,
            port: ports.0,
        };
        let dst = Endpoint {
            addr: ip.dst,
            port: ports.1,
        };
        FlowKey::of(protocol, src, dst, TunnelKey::of_packet(pkt)).0
    }

    /// The endpoint that sends as `side`.
    #[inline]
    pub fn end(&self, side: Side) -> Endpoint {
        self.ends[side.index()]
    }

    /// The key with the VNI blanked, for tunnelled keys: what both directions of an overlay with
    /// a VNI per direction have in common.
    pub fn without_vni(&self) -> Option<FlowKey> {
        let mut k = *self;
        k.tunnel.as_mut()?.vni = 0;
        Some(k)
    }
}

/// Every field, in a few machine words: the table hashes every frame's key, and the derived
/// hash fed each enum tag, array length and address octet to the hasher one at a time.
impl Hash for FlowKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        let [a, b] = self.ends;
        hash_addr(a.addr, h);
        hash_addr(b.addr, h);
        h.write_u64(u64::from(a.port) | u64::from(b.port) << 16 | (self.protocol as u64) << 32);
        if let Some(t) = &self.tunnel {
            h.write_u32(t.vni);
            t.kind.hash(h);
            hash_addr(t.outer[0], h);
            hash_addr(t.outer[1], h);
            t.via.hash(h);
        }
    }
}

fn hash_addr<H: Hasher>(addr: IpAddr, h: &mut H) {
    match addr {
        IpAddr::V4(a) => h.write_u32(a.to_bits()),
        IpAddr::V6(a) => h.write_u128(a.to_bits()),
    }
}

/// A [`FlowKey`] in a few machine words, for the flow table's index: the lookup every frame
/// makes hashes and compares integers instead of the key's address enums (building, ordering,
/// hashing and comparing `FlowKey`s was a third of the analysis thread on a bulk capture).
/// [`IndexKey::of_packet`] makes it straight from a packet, [`IndexKey::from`] from a key; the
/// two agree (a test holds them to it), so two packets share an index key exactly when they
/// share a flow key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexKey {
    /// The endpoints' addresses, lower endpoint first (IPv4 in the low 32 bits).
    addrs: [u128; 2],
    /// Lower endpoint's port, higher endpoint's port, the protocol and whether each address is
    /// IPv6, packed.
    ports: u64,
    tunnel: Option<IndexTunnel>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct IndexTunnel {
    /// Outer addresses, lower first.
    outer: [u128; 2],
    /// VNI, kind and whether each outer address is IPv6, packed.
    vni: u64,
    via: Via,
}

/// An address as whether it is IPv6 and an integer: ordered as `IpAddr` orders addresses
/// (IPv4 before IPv6, then by value).
#[inline]
fn bits(addr: IpAddr) -> (bool, u128) {
    match addr {
        IpAddr::V4(a) => (false, u128::from(a.to_bits())),
        IpAddr::V6(a) => (true, a.to_bits()),
    }
}

/// The two in order, and whether they already were.
#[inline]
fn ordered<T: PartialOrd>(a: T, b: T) -> (T, T, bool) {
    if a <= b {
        (a, b, true)
    } else {
        (b, a, false)
    }
}

/// The tunnel context an index key holds: kind, VNI, outer source and destination, and the
/// tunnels around it.
type TunnelParts = (TunnelKind, u32, IpAddr, IpAddr, Via);

impl IndexKey {
    /// The index key of a TCP or UDP packet with IP header `ip` and ports `(source,
    /// destination)`, and the side that sent it.
    #[inline]
    pub fn of_packet(
        pkt: &Packet,
        ip: &IpFacts,
        protocol: Protocol,
        ports: (u16, u16),
    ) -> (IndexKey, Side) {
        let tunnel = pkt
            .tunnel
            .map(|t| (t.kind, t.vni, t.outer_ip.src, t.outer_ip.dst, t.via));
        IndexKey::of(protocol, (ip.src, ports.0), (ip.dst, ports.1), tunnel)
    }

    /// The index key of a packet from `src` to `dst` (address and port) and the side that sent
    /// it, ordered as [`FlowKey::of`] orders `Endpoint`s: by address as `IpAddr` orders them,
    /// then by port.
    #[inline]
    fn of(
        protocol: Protocol,
        src: (IpAddr, u16),
        dst: (IpAddr, u16),
        tunnel: Option<TunnelParts>,
    ) -> (IndexKey, Side) {
        let (lo, hi, src_lower) = ordered((bits(src.0), src.1), (bits(dst.0), dst.1));
        let ((lo_v6, lo_addr), lo_port) = lo;
        let ((hi_v6, hi_addr), hi_port) = hi;
        let ports = u64::from(lo_port)
            | u64::from(hi_port) << 16
            | (protocol as u64) << 32
            | u64::from(lo_v6) << 40
            | u64::from(hi_v6) << 41;
        let tunnel = tunnel.map(|(kind, vni, a, b, via)| {
            let ((lo_v6, lo), (hi_v6, hi), _) = ordered(bits(a), bits(b));
            IndexTunnel {
                outer: [lo, hi],
                vni: u64::from(vni)
                    | (kind as u64) << 32
                    | u64::from(lo_v6) << 40
                    | u64::from(hi_v6) << 41,
                via,
            }
        });
        let key = IndexKey {
            addrs: [lo_addr, hi_addr],
            ports,
            tunnel,
        };
        (key, if src_lower { Side::A } else { Side::B })
    }
}

impl From<&FlowKey> for IndexKey {
    fn from(k: &FlowKey) -> IndexKey {
        let [a, b] = k.ends;
        let tunnel = k
            .tunnel
            .map(|t| (t.kind, t.vni, t.outer[0], t.outer[1], t.via));
        IndexKey::of(k.protocol, (a.addr, a.port), (b.addr, b.port), tunnel).0
    }
}

/// A few words to the hasher, as [`FlowKey`]'s hash does.
impl Hash for IndexKey {
    fn hash<H: Hasher>(&self, h: &mut H) {
        h.write_u128(self.addrs[0]);
        h.write_u128(self.addrs[1]);
        h.write_u64(self.ports);
        if let Some(t) = &self.tunnel {
            t.hash(h);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Packets of many shapes: both versions, addresses that differ only in the port, mixed
    /// versions (never in one header, but the order must still be `IpAddr`'s), tunnels.
    fn packets() -> Vec<(Protocol, Endpoint, Endpoint, Option<TunnelKey>)> {
        let addrs: [IpAddr; 5] = [
            IpAddr::from([10, 0, 0, 1]),
            IpAddr::from([10, 0, 0, 2]),
            IpAddr::from([0, 0, 0, 0, 0, 0, 0x0a00, 1u16]),
            IpAddr::from([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1u16]),
            IpAddr::from([255, 255, 255, 255]),
        ];
        let tunnels = [
            None,
            Some((TunnelKind::Vxlan, 7, addrs[0], addrs[1])),
            Some((TunnelKind::Vxlan, 7, addrs[1], addrs[0])),
            Some((TunnelKind::Vxlan, 8, addrs[0], addrs[1])),
            Some((TunnelKind::Geneve, 7, addrs[2], addrs[3])),
        ];
        let mut out = Vec::new();
        for protocol in [Protocol::Tcp, Protocol::Udp] {
            for &a in &addrs {
                for &b in &addrs {
                    for (pa, pb) in [(80, 443), (443, 80), (80, 80)] {
                        for t in tunnels {
                            let tunnel = t.map(|(kind, vni, x, y)| TunnelKey {
                                kind,
                                vni,
                                outer: sorted(x, y),
                                via: Via::default(),
                            });
                            let src = Endpoint { addr: a, port: pa };
                            let dst = Endpoint { addr: b, port: pb };
                            out.push((protocol, src, dst, tunnel));
                        }
                    }
                }
            }
        }
        out
    }

    fn index_of(p: &(Protocol, Endpoint, Endpoint, Option<TunnelKey>)) -> (IndexKey, Side) {
        let t = p.3.map(|t| (t.kind, t.vni, t.outer[1], t.outer[0], t.via));
        IndexKey::of(p.0, (p.1.addr, p.1.port), (p.2.addr, p.2.port), t)
    }

    #[test]
    fn index_key_agrees_with_the_flow_key() {
        let all = packets();
        for p in &all {
            let (key, side) = FlowKey::of(p.0, p.1, p.2, p.3);
            let (index, index_side) = index_of(p);
            assert_eq!(side, index_side, "{p:?}");
            assert_eq!(IndexKey::from(&key), index, "{p:?}");
        }
        // Equal flow keys exactly when equal index keys: no two flows share an index entry.
        for p in &all {
            for q in &all {
                let same_flow =
                    FlowKey::of(p.0, p.1, p.2, p.3).0 == FlowKey::of(q.0, q.1, q.2, q.3).0;
                assert_eq!(same_flow, index_of(p).0 == index_of(q).0, "{p:?} {q:?}");
            }
        }
    }

    #[test]
    fn both_directions_share_the_index_key() {
        let a = Endpoint {
            addr: IpAddr::from([192, 0, 2, 1]),
            port: 40000,
        };
        let b = Endpoint {
            addr: IpAddr::from([192, 0, 2, 9]),
            port: 443,
        };
        let there = IndexKey::of(Protocol::Tcp, (a.addr, a.port), (b.addr, b.port), None);
        let back = IndexKey::of(Protocol::Tcp, (b.addr, b.port), (a.addr, a.port), None);
        assert_eq!(there.0, back.0);
        assert_eq!((there.1, back.1), (Side::A, Side::B));
        let udp = IndexKey::of(Protocol::Udp, (a.addr, a.port), (b.addr, b.port), None);
        assert_ne!(there.0, udp.0);
    }
}
