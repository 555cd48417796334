//! Flow keys: the innermost 5-tuple plus tunnel context, direction-independent.

use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use serde::Serialize;

use super::Side;
use crate::decode::{TunnelKind, Via};

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
