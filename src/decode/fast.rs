//! The fast path: the common frame shapes decoded straight from the bytes, without building
//! etherparse's `LaxSlicedPacket` (300+ bytes, moved several times a frame on the general path).
//!
//! Shapes taken: Ethernet, Linux SLL/SLL2 or raw IP; up to three VLAN tags; IPv4 (options
//! allowed, not a fragment) or IPv6 without extension headers; TCP whose header is all there, or
//! UDP; and UDP to a VXLAN port carrying one such Ethernet frame with TCP or UDP inside. Anything
//! else (fragments, IPv4 AH, IPv6 extensions, a cut TCP header, ARP, MPLS, other tunnels, other
//! link types ...) returns `None` and the general path ([`super::layers`]) decodes the frame: it
//! is the reference, and `src/tests/fast_decode.rs` checks that both give the same `Packet` on
//! every frame of the fixtures and the real captures, and on cut and mutated frames.
//!
//! Every rule below mirrors what etherparse 0.21's lax slicing does for the same bytes
//! (`LaxSlicedPacketCursor::slice_ether_type`, `LaxIpSlice::from_slice`, `TcpSlice::from_slice`,
//! `UdpSlice::from_slice_lax`), and the facts are computed as [`super::layers`] computes them.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use etherparse::{TcpSlice, UdpSlice};

use super::ctx::Ctx;
use super::layers::tcp_facts;
use super::link;
use super::tunnel::udp_kind;
use super::vxlan::Vxlan;
use super::{DecodeConfig, IpFacts, Kind, Packet, Tunnel, TunnelKind, Via};
use crate::capture::Frame;

/// EtherTypes (IEEE 802 numbers): IPv4, IPv6, and the VLAN tags etherparse walks through:
/// 802.1Q, 802.1ad, and the pre-standard 0x9100 double tag.
const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const VLAN_TYPES: [u16; 3] = [0x8100, 0x88a8, 0x9100];
/// VLAN tags etherparse keeps (`LaxSlicedPacket::LINK_EXTS_CAP`): a fourth stops its walk.
const MAX_VLAN_TAGS: u8 = 3;
/// Ethernet II header (IEEE 802.3 §3.1.1): destination, source, EtherType.
const ETHERNET_LEN: usize = 14;
/// One 802.1Q tag (IEEE 802.1Q §9.6): TCI, then the EtherType of what follows.
const VLAN_LEN: usize = 4;
/// Linux cooked headers (`sll_header`, `sll2_header`, <https://www.tcpdump.org/linktypes.html>).
const SLL_LEN: usize = 16;
const SLL2_LEN: usize = 20;
/// IP protocol numbers (IANA).
const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

/// Decodes `frame` into `pkt` (a fresh [`Packet::new`]) when it has one of the common shapes;
/// `None` sends it to the general path. The packet is filled in place, never moved: it is
/// hundreds of bytes, and moving it layer by layer cost more than reading the headers.
pub(super) fn decode_into<'a>(
    frame: &Frame<'a>,
    cfg: &DecodeConfig,
    pkt: &mut Packet,
) -> Option<()> {
    let data = frame.data;
    let ctx = Ctx::new(data, frame.wire_len);
    let (et, payload, sll_pkttype) = match frame.link_type {
        link::ETHERNET => (be16(data, 12)?, data.get(ETHERNET_LEN..)?, None),
        link::LINUX_SLL => (be16(data, 14)?, data.get(SLL_LEN..)?, Some(be16(data, 0)?)),
        link::LINUX_SLL2 => {
            let pkttype = u16::from(*data.get(10)?);
            (be16(data, 0)?, data.get(SLL2_LEN..)?, Some(pkttype))
        }
        link::RAW | link::RAW_BSD12 | link::RAW_BSD14 | link::IPV4 | link::IPV6 => {
            return ctx.fast_ip(data, cfg, pkt);
        }
        _ => return None,
    };
    pkt.vlan_tags = ctx.fast_ether_type(et, payload, cfg, pkt)?;
    pkt.sll_pkttype = sll_pkttype;
    Some(())
}

impl Ctx {
    /// A payload of EtherType `et`: through the VLAN tags to IP. Returns the tag count.
    fn fast_ether_type(
        &self,
        mut et: u16,
        mut payload: &[u8],
        cfg: &DecodeConfig,
        pkt: &mut Packet,
    ) -> Option<u8> {
        let mut tags = 0;
        while VLAN_TYPES.contains(&et) {
            if tags == MAX_VLAN_TAGS {
                return None;
            }
            et = be16(payload, 2)?;
            payload = payload.get(VLAN_LEN..)?;
            tags += 1;
        }
        match et {
            ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => {
                self.fast_ip(payload, cfg, pkt)?;
                Some(tags)
            }
            _ => None,
        }
    }

    /// An IPv4 or IPv6 packet (the version nibble decides, as etherparse's does): sets the
    /// packet's kind, IP, TCP and UDP facts.
    fn fast_ip(&self, b: &[u8], cfg: &DecodeConfig, pkt: &mut Packet) -> Option<()> {
        let (ip, payload) = match b.first()? >> 4 {
            4 => self.fast_ipv4(Ipv4::new_checked(b)?)?,
            6 => self.fast_ipv6(Ipv6::new_checked(b)?)?,
            _ => return None,
        };
        pkt.ip = Some(ip);
        match ip.protocol {
            IPPROTO_TCP => {
                let t = TcpSlice::from_slice(payload).ok()?;
                pkt.kind = Kind::Tcp;
                pkt.tcp = Some(tcp_facts(&t, &ip, self.offset_of(payload) + 20));
                pkt.udp = None;
                Some(())
            }
            IPPROTO_UDP => self.fast_udp(UdpSlice::from_slice_lax(payload).ok()?, ip, cfg, pkt),
            _ => None,
        }
    }

    /// As `Ctx::udp` of the general path; of the tunnels only VXLAN is opened here, and only
    /// around a frame that holds no further tunnel.
    fn fast_udp<'a>(
        &self,
        u: UdpSlice<'a>,
        ip: IpFacts,
        cfg: &DecodeConfig,
        pkt: &mut Packet,
    ) -> Option<()> {
        let udp = self.udp_facts(&u, &ip);
        pkt.kind = Kind::Udp;
        pkt.udp = Some(udp);
        pkt.tcp = None;
        let outermost = self.tunnels_left.get() == super::MAX_TUNNEL_DEPTH as u8;
        match udp_kind(&udp, cfg) {
            None => Some(()),
            Some(TunnelKind::Vxlan) if outermost => {
                let v = Vxlan::new_checked(u.payload()).ok()?;
                self.tunnels_left
                    .set(self.tunnels_left.get().saturating_sub(1));
                let inner = v.payload();
                // The inner frame's VLAN tags are not the packet's (those of the outer one).
                self.fast_ether_type(be16(inner, 12)?, inner.get(ETHERNET_LEN..)?, cfg, pkt)?;
                pkt.tunnel = Some(Tunnel {
                    kind: TunnelKind::Vxlan,
                    vni: v.vni(),
                    outer_ip: ip,
                    outer_udp: Some(udp),
                    flags: v.flags(),
                    via: Via::default(),
                });
                Some(())
            }
            Some(_) => None,
        }
    }

    /// IPv4 facts as `Ctx::ipv4` computes them, and the payload as etherparse bounds it: by the
    /// total length when the capture holds it all, else what was captured.
    fn fast_ipv4<'a>(&self, h: Ipv4<'a>) -> Option<(IpFacts, &'a [u8])> {
        if h.is_fragment() || !matches!(h.protocol(), IPPROTO_TCP | IPPROTO_UDP) {
            return None;
        }
        let (b, header_len, total) = (h.buffer, h.header_len(), h.total_len());
        let (len, len_from_wire) = if total >= header_len {
            (total, false)
        } else {
            (self.wire_len_from(b), true)
        };
        let end = if total < header_len || (total as usize) > b.len() {
            b.len()
        } else {
            total as usize
        };
        let facts = IpFacts {
            version: 4,
            src: IpAddr::V4(h.src()),
            dst: IpAddr::V4(h.dst()),
            len,
            len_from_wire,
            header_len,
            protocol: h.protocol(),
            id: u32::from(h.id()),
            df: h.df(),
            mf: false,
            frag_offset: 0,
            ttl: h.ttl(),
            tos: h.tos(),
            flow_label: 0,
            has_options: header_len > 20,
            on_wire: self.wire_len_from(b),
        };
        Some((facts, b.get(header_len as usize..end)?))
    }

    /// IPv6 facts as `Ctx::ipv6` computes them for a header followed directly by TCP or UDP;
    /// the payload bounded by the payload length when it is non-zero and all captured.
    fn fast_ipv6<'a>(&self, h: Ipv6<'a>) -> Option<(IpFacts, &'a [u8])> {
        if !matches!(h.next_header(), IPPROTO_TCP | IPPROTO_UDP) {
            return None;
        }
        let b = h.buffer;
        let plen = u32::from(h.payload_len());
        // No hop-by-hop header, so no RFC 2675 jumbo length: 0 means the wire length.
        let (len, len_from_wire) = if plen != 0 {
            (40 + plen, false)
        } else {
            (self.wire_len_from(b), true)
        };
        let rest = b.get(ipv6::HEADER_LEN..)?;
        let payload = match rest.get(..plen as usize) {
            Some(p) if plen != 0 => p,
            _ => rest,
        };
        let facts = IpFacts {
            version: 6,
            src: IpAddr::V6(h.src()),
            dst: IpAddr::V6(h.dst()),
            len,
            len_from_wire,
            header_len: ipv6::HEADER_LEN as u32,
            protocol: h.next_header(),
            id: 0,
            df: false,
            mf: false,
            frag_offset: 0,
            ttl: h.hop_limit(),
            tos: h.traffic_class(),
            flow_label: h.flow_label(),
            has_options: false,
            on_wire: self.wire_len_from(b),
        };
        Some((facts, payload))
    }
}

/// Field byte ranges of the IPv4 header (RFC 791 §3.1).
mod ipv4 {
    use std::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const TOS: usize = 1;
    pub const TOTAL_LEN: Range<usize> = 2..4;
    pub const ID: Range<usize> = 4..6;
    pub const FLAGS_FRAG: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const SRC: Range<usize> = 12..16;
    pub const DST: Range<usize> = 16..20;
    pub const MIN_HEADER_LEN: usize = 20;
    /// Flags (RFC 791): DF and MF, above the 13-bit fragment offset.
    pub const DF: u16 = 0x4000;
    pub const MF: u16 = 0x2000;
    pub const FRAG_OFFSET: u16 = 0x1fff;
}

/// An IPv4 header whose IHL is at least 5 and whose whole header is in the buffer.
#[derive(Clone, Copy)]
struct Ipv4<'a> {
    buffer: &'a [u8],
}

impl<'a> Ipv4<'a> {
    fn new_checked(buffer: &'a [u8]) -> Option<Self> {
        let ihl = usize::from(buffer.get(ipv4::VER_IHL)? & 0x0f);
        (ihl * 4 >= ipv4::MIN_HEADER_LEN && buffer.len() >= ihl * 4).then_some(Ipv4 { buffer })
    }
    fn be16(&self, r: std::ops::Range<usize>) -> u16 {
        u16::from_be_bytes([self.buffer[r.start], self.buffer[r.start + 1]])
    }
    fn addr(&self, r: std::ops::Range<usize>) -> Ipv4Addr {
        let b = &self.buffer[r];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }
    fn header_len(&self) -> u32 {
        u32::from(self.buffer[ipv4::VER_IHL] & 0x0f) * 4
    }
    fn tos(&self) -> u8 {
        self.buffer[ipv4::TOS]
    }
    fn total_len(&self) -> u32 {
        u32::from(self.be16(ipv4::TOTAL_LEN))
    }
    fn id(&self) -> u16 {
        self.be16(ipv4::ID)
    }
    fn df(&self) -> bool {
        self.be16(ipv4::FLAGS_FRAG) & ipv4::DF != 0
    }
    /// More fragments, or a fragment offset: etherparse's `is_fragmenting_payload`.
    fn is_fragment(&self) -> bool {
        self.be16(ipv4::FLAGS_FRAG) & (ipv4::MF | ipv4::FRAG_OFFSET) != 0
    }
    fn ttl(&self) -> u8 {
        self.buffer[ipv4::TTL]
    }
    fn protocol(&self) -> u8 {
        self.buffer[ipv4::PROTOCOL]
    }
    fn src(&self) -> Ipv4Addr {
        self.addr(ipv4::SRC)
    }
    fn dst(&self) -> Ipv4Addr {
        self.addr(ipv4::DST)
    }
}

/// Field byte ranges of the IPv6 header (RFC 8200 §3).
mod ipv6 {
    use std::ops::Range;
    pub const VER_TC_FLOW: Range<usize> = 0..4;
    pub const PAYLOAD_LEN: Range<usize> = 4..6;
    pub const NEXT_HEADER: usize = 6;
    pub const HOP_LIMIT: usize = 7;
    pub const SRC: Range<usize> = 8..24;
    pub const DST: Range<usize> = 24..40;
    pub const HEADER_LEN: usize = 40;
}

/// An IPv6 fixed header that is all in the buffer.
#[derive(Clone, Copy)]
struct Ipv6<'a> {
    buffer: &'a [u8],
}

impl<'a> Ipv6<'a> {
    fn new_checked(buffer: &'a [u8]) -> Option<Self> {
        (buffer.len() >= ipv6::HEADER_LEN).then_some(Ipv6 { buffer })
    }
    /// Version (4 bits), traffic class (8), flow label (20).
    fn first_word(&self) -> u32 {
        let b = &self.buffer[ipv6::VER_TC_FLOW];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }
    fn traffic_class(&self) -> u8 {
        (self.first_word() >> 20) as u8
    }
    fn flow_label(&self) -> u32 {
        self.first_word() & 0x000f_ffff
    }
    fn payload_len(&self) -> u16 {
        let b = &self.buffer[ipv6::PAYLOAD_LEN];
        u16::from_be_bytes([b[0], b[1]])
    }
    fn next_header(&self) -> u8 {
        self.buffer[ipv6::NEXT_HEADER]
    }
    fn hop_limit(&self) -> u8 {
        self.buffer[ipv6::HOP_LIMIT]
    }
    fn addr(&self, r: std::ops::Range<usize>) -> Ipv6Addr {
        let mut a = [0u8; 16];
        a.copy_from_slice(&self.buffer[r]);
        Ipv6Addr::from(a)
    }
    fn src(&self) -> Ipv6Addr {
        self.addr(ipv6::SRC)
    }
    fn dst(&self) -> Ipv6Addr {
        self.addr(ipv6::DST)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const IPV4: [u8; 24] = [
        0x46, 0xb8,             // version 4, IHL 6 (4 bytes of options); DSCP EF, ECN 0
        0x00, 0x2c,             // total length 44
        0x12, 0x34,             // identification
        0x40, 0x00,             // DF, fragment offset 0
        0x40, 0x06,             // TTL 64, TCP
        0x00, 0x00,             // header checksum
        10, 0, 0, 1,            // source
        10, 0, 0, 2,            // destination
        0x01, 0x01, 0x01, 0x00, // options: NOP NOP NOP EOL
    ];

    #[rustfmt::skip]
    const IPV6: [u8; 40] = [
        0x6b, 0x81, 0x23, 0x45, // version 6, traffic class 0xb8, flow label 0x12345
        0x00, 0x14, 0x11, 0x3f, // payload length 20, UDP, hop limit 63
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, // source
        0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, // destination
    ];

    #[test]
    fn ipv4_fields() {
        let h = Ipv4::new_checked(&IPV4).expect("24 bytes for IHL 6");
        assert_eq!((h.header_len(), h.total_len(), h.tos()), (24, 44, 0xb8));
        assert_eq!((h.id(), h.df(), h.is_fragment()), (0x1234, true, false));
        assert_eq!((h.ttl(), h.protocol()), (64, IPPROTO_TCP));
        assert_eq!(
            (h.src(), h.dst()),
            ([10, 0, 0, 1].into(), [10, 0, 0, 2].into())
        );
        let mut f = IPV4;
        f[6] = 0x20; // MF
        assert!(Ipv4::new_checked(&f).is_some_and(|h| h.is_fragment()));
        f[6..8].copy_from_slice(&[0x00, 0x01]); // offset 8 bytes
        assert!(Ipv4::new_checked(&f).is_some_and(|h| h.is_fragment() && !h.df()));
    }

    #[test]
    fn ipv6_fields() {
        let h = Ipv6::new_checked(&IPV6).expect("40 bytes");
        assert_eq!((h.traffic_class(), h.flow_label()), (0xb8, 0x12345));
        assert_eq!(
            (h.payload_len(), h.next_header(), h.hop_limit()),
            (20, IPPROTO_UDP, 63)
        );
        assert_eq!(h.dst().segments()[7], 2);
    }

    #[test]
    fn truncation_sweep() {
        for n in 0..IPV4.len() {
            assert!(Ipv4::new_checked(&IPV4[..n]).is_none(), "ipv4 len {n}");
        }
        let mut short_ihl = IPV4;
        short_ihl[0] = 0x44; // IHL 4: below the fixed header
        assert!(Ipv4::new_checked(&short_ihl).is_none());
        for n in 0..IPV6.len() {
            assert!(Ipv6::new_checked(&IPV6[..n]).is_none(), "ipv6 len {n}");
        }
    }
}
