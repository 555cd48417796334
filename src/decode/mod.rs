//! Decoding: turns one captured frame into the facts offload analysis needs, without allocating.
//!
//! Link layer (Ethernet, raw IP, Linux SLL/SLL2, BSD null/loop, NFLOG: [`link`]) → VLAN stack
//! → MPLS / PPPoE ([`shim`]) → IPv4/IPv6 → TCP/UDP ([`layers`]), and for a tunnel — VXLAN
//! ([`vxlan`]), Geneve ([`geneve`]), GTP-U ([`gtp`]), GRE with gretap, NVGRE, ERSPAN and
//! 802.11 ([`gre`], [`wlan`]), IP in IP — the inner frame decoded the same way, tunnels inside
//! it too up to [`MAX_TUNNEL_DEPTH`] levels ([`tunnel`]). etherparse's `LaxSlicedPacket` does
//! the standard layers and keeps whatever parsed when a frame is cut by the snaplen or has IPv4
//! total length 0 (TSO / BIG TCP); the tunnel headers, the TCP fixed header ([`tcp_header`]) and
//! the IPv6 extension walk ([`ipv6_ext`]) are small checked views of our own, as is the ICMP
//! error message with the packet it quotes ([`icmp`]). The common shapes (Ethernet/SLL/raw IP,
//! VLAN, IPv4/IPv6 without extensions, TCP/UDP, VXLAN around them) take a fast path of checked
//! views ([`fast`]) that agrees with the general one frame by frame. A frame is never dropped: what parsed
//! is kept, and where decoding stopped is an [`Undecoded`] reason. The results are the plain
//! values of [`facts`].
//!
//! Lengths come from the IP headers, never from the captured bytes, so a snaplen-cut frame keeps
//! its real segment length; IPv4 total length 0 and an IPv6 payload length 0 without a jumbo
//! option fall back to the wire length.

mod ctx;
pub mod facts;
mod fast;
pub mod geneve;
pub mod gre;
pub mod gtp;
pub mod icmp;
pub mod ipv6_ext;
mod layers;
pub mod link;
pub mod quic;
pub mod shim;
pub mod tcp_header;
mod tunnel;
pub mod vxlan;
pub mod wlan;

use crate::capture::Frame;

pub use facts::{
    tcp_flags, IpFacts, IpLayer, Kind, Packet, TcpFacts, TcpOptions, Tunnel, TunnelKind, UdpFacts,
    Undecoded, Via, MAX_TUNNEL_DEPTH,
};

/// A header was shorter than its fixed part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated;

/// Which UDP ports carry which tunnel.
#[derive(Debug, Clone)]
pub struct DecodeConfig {
    /// IANA 4789 (RFC 7348) and 8472, the Linux vxlan driver's default when `ip link add ... type
    /// vxlan` is given no `dstport` (module parameter `udp_port`, drivers/net/vxlan/vxlan_core.c).
    pub vxlan_ports: Vec<u16>,
    /// IANA 6081 (RFC 8926).
    pub geneve_ports: Vec<u16>,
}

impl Default for DecodeConfig {
    fn default() -> Self {
        DecodeConfig {
            vxlan_ports: vec![4789, 8472],
            geneve_ports: vec![6081],
        }
    }
}

/// Decodes one frame: the common shapes on the fast path ([`fast`]), the rest on the general one.
pub fn decode(frame: &Frame<'_>, cfg: &DecodeConfig) -> Packet {
    let mut pkt = Packet::new(Kind::OtherIp);
    decode_to(frame, cfg, &mut pkt);
    pkt
}

/// [`decode`] into a packet that already has a place (the two-stage pass's batch): a packet is
/// a few hundred bytes, and moving it twice a frame was a tenth of the reading thread.
pub fn decode_to(frame: &Frame<'_>, cfg: &DecodeConfig, pkt: &mut Packet) {
    *pkt = Packet::new(Kind::OtherIp);
    if fast::decode_into(frame, cfg, pkt).is_none() {
        *pkt = decode_general(frame, cfg);
    }
}

/// The fast path alone: `None` for a frame it leaves to the general path. Public for the test
/// that compares it with [`decode_general`] frame by frame.
pub fn decode_fast<'a>(frame: &Frame<'a>, cfg: &DecodeConfig) -> Option<Packet> {
    let mut pkt = Packet::new(Kind::OtherIp);
    fast::decode_into(frame, cfg, &mut pkt).map(|()| pkt)
}

/// The general path, through etherparse's lax slicing: every frame, and the reference the fast
/// path must agree with.
pub fn decode_general<'a>(frame: &Frame<'a>, cfg: &DecodeConfig) -> Packet {
    let data = frame.data;
    let (sliced, sll_pkttype) = match link::slice(frame.link_type, data) {
        Ok(x) => x,
        Err(u) => return Packet::new(Kind::Undecoded(u)),
    };
    let ctx = ctx::Ctx::new(data, frame.wire_len);
    let mut pkt = ctx.layers(&sliced, cfg);
    pkt.sll_pkttype = sll_pkttype;
    pkt.vlan_tags = sliced
        .link_exts
        .iter()
        .filter(|e| matches!(e, etherparse::LaxLinkExtSlice::Vlan(_)))
        .count() as u8;
    pkt
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Regression: an IPv6 frame whose hop-by-hop header names a destination-options header that is
    /// not there made etherparse's extension iterator read out of bounds.
    #[test]
    fn ipv6_next_header_pointing_past_the_end() {
        #[rustfmt::skip]
        let mut f = vec![
            0x60, 0, 0, 0, 0, 8, 0, 64,     // IPv6, payload length 8, next header HBH
        ];
        f.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        f.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        f.extend_from_slice(&[60, 0, 1, 4, 0, 0, 0, 0]); // HBH: next = destination options (absent)
        let frame = Frame {
            number: 1,
            ts_ns: 0,
            ts_known: true,
            ts_bad_fraction: false,
            link_type: link::RAW,
            interface: Some(0),
            wire_len: f.len() as u32,
            data: &f,
            offset: 0,
            secrets: None,
        };
        let p = decode(&frame, &DecodeConfig::default());
        assert_eq!(p.ip.map(|ip| ip.version), Some(6));
        assert!(!p.ip.is_some_and(|ip| ip.is_fragment()));
    }
}
