//! The common frame shape decoded without etherparse's whole-packet slicing: Ethernet II →
//! IPv4 without options, not a fragment, its total length within the frame → TCP or UDP (and a
//! VXLAN/Geneve frame's inner Ethernet, the same way). Anything else — a VLAN tag, IPv6, IP
//! options, a fragment, a length that overshoots the captured bytes, a header that does not
//! parse — is `None`, and the general walk ([`super::layers`]) decodes it.
//!
//! Why: `LaxSlicedPacket` is a few hundred bytes built and moved by value at each layer; for
//! these frames half of the decoding time was those copies. The result is the general walk's,
//! field for field: the transport headers are still etherparse's (`TcpSlice::from_slice`,
//! `UdpSlice::from_slice_lax`, as its lax cursor calls them), and a test decodes every frame of
//! every fixture and real capture, truncated and mutated, both ways and compares
//! (`fast_path_agrees_with_the_general_walk`).

use std::net::{IpAddr, Ipv4Addr};

use etherparse::{TcpSlice, UdpSlice};

use super::layers::{tcp_facts, Ctx};
use super::{DecodeConfig, IpFacts, Kind, Packet};

/// Ethernet II header: destination(6) source(6) ether type(2) (IEEE 802.3 §3.2.6).
const ETHERNET_LEN: usize = 14;
const ETHERTYPE_IPV4: u16 = 0x0800;
/// IPv4 header without options: version 4, IHL 5 (RFC 791 §3.1).
const IPV4_LEN: usize = 20;
const VERSION_4_IHL_5: u8 = 0x45;
/// Flags and fragment offset (RFC 791 §3.1): DF, MF, the 13-bit offset.
const DF: u16 = 0x4000;
const MF: u16 = 0x2000;
const OFFSET: u16 = 0x1fff;
const TCP: u8 = 6;
const UDP: u8 = 17;

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

impl Ctx {
    /// An Ethernet II frame of the common shape, or `None` for the general walk.
    pub(super) fn fast_ethernet<'a>(
        &self,
        frame: &'a [u8],
        cfg: &DecodeConfig,
    ) -> Option<Packet<'a>> {
        let eth = frame.get(..ETHERNET_LEN)?;
        if be16(eth, 12) != ETHERTYPE_IPV4 {
            return None;
        }
        self.fast_ipv4(&frame[ETHERNET_LEN..], cfg)
    }

    /// An IPv4 packet without options, whole in `b`, carrying TCP or UDP.
    fn fast_ipv4<'a>(&self, b: &'a [u8], cfg: &DecodeConfig) -> Option<Packet<'a>> {
        let h = b.get(..IPV4_LEN)?;
        let total = usize::from(be16(h, 2));
        let flags = be16(h, 6);
        let protocol = h[9];
        if h[0] != VERSION_4_IHL_5
            || !(IPV4_LEN..=b.len()).contains(&total)
            || flags & (MF | OFFSET) != 0
            || !matches!(protocol, TCP | UDP)
        {
            return None;
        }
        // Ethernet padding after the IP packet is not payload (the total length bounds it).
        let payload = &b[IPV4_LEN..total];
        let ip = IpFacts {
            version: 4,
            src: IpAddr::V4(Ipv4Addr::new(h[12], h[13], h[14], h[15])),
            dst: IpAddr::V4(Ipv4Addr::new(h[16], h[17], h[18], h[19])),
            len: total as u32,
            len_from_wire: false,
            header_len: IPV4_LEN as u32,
            protocol,
            id: u32::from(be16(h, 4)),
            df: flags & DF != 0,
            mf: false,
            frag_offset: 0,
            ttl: h[8],
            // DSCP and ECN together are the old TOS byte (RFC 2474 §3, RFC 3168 §5).
            tos: h[1],
            flow_label: 0,
            has_options: false,
            on_wire: self.wire_len_from(h),
        };
        let mut pkt = Packet::new(Kind::OtherIp);
        pkt.ip = Some(ip);
        if protocol == TCP {
            let t = TcpSlice::from_slice(payload).ok()?;
            pkt.kind = Kind::Tcp;
            pkt.tcp = Some(tcp_facts(&t, &ip));
            return Some(pkt);
        }
        let u = UdpSlice::from_slice_lax(payload).ok()?;
        Some(self.udp(&u, ip, cfg, pkt))
    }
}
