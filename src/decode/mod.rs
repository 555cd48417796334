//! Decoding: turns one captured frame into the facts offload analysis needs, without allocating.
//!
//! Link layer (Ethernet, raw IP, Linux SLL/SLL2, BSD null/loop) → VLAN stack → IPv4/IPv6 → TCP/UDP,
//! and for VXLAN or Geneve the inner Ethernet frame decoded the same way. etherparse's
//! `LaxSlicedPacket` does the standard layers and keeps whatever parsed when a frame is cut by the
//! snaplen or has IPv4 total length 0 (TSO / BIG TCP); the tunnel headers have small checked views
//! of their own. A frame is never dropped: what parsed is kept, and where decoding stopped is a
//! [`Undecoded`] reason.
//!
//! Lengths come from the IP headers, never from the captured bytes, so a snaplen-cut frame keeps its
//! real segment length; IPv4 total length 0 and an IPv6 payload length 0 without a jumbo option fall
//! back to the wire length.

pub mod geneve;
pub mod link;
pub mod vxlan;

use std::net::IpAddr;

use etherparse::err::Layer;
use etherparse::{LaxNetSlice, LaxSlicedPacket, TcpOptionElement, TransportSlice};

use crate::capture::{Frame, LinkType};

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

/// Why a frame could not be decoded down to its transport layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Undecoded {
    /// A link type we do not decode (counted, never dropped silently).
    UnsupportedLinkType(LinkType),
    /// A pcapng packet whose interface id names no interface of its section.
    UnknownInterface,
    /// Shorter than its link-layer header.
    LinkTruncated,
    /// The IP header is cut or malformed.
    IpInvalid,
    /// The TCP/UDP header is cut (snaplen) or malformed.
    TransportInvalid,
    /// A tunnel header (VXLAN/Geneve) is cut.
    TunnelTruncated,
    /// A pcapng Custom or Systemd Journal record: numbered like a frame, but not a packet.
    NonPacket,
}

impl Undecoded {
    /// Stable kebab-case name used in reports.
    pub fn name(&self) -> String {
        match self {
            Undecoded::UnsupportedLinkType(lt) => format!("unsupported-link-type-{lt}"),
            Undecoded::UnknownInterface => "pcapng-unknown-interface".into(),
            Undecoded::LinkTruncated => "link-header-truncated".into(),
            Undecoded::IpInvalid => "ip-header-invalid".into(),
            Undecoded::TransportInvalid => "transport-header-invalid".into(),
            Undecoded::TunnelTruncated => "tunnel-header-truncated".into(),
            Undecoded::NonPacket => "pcapng-non-packet-record".into(),
        }
    }
}

/// What a frame turned out to be. Every frame gets exactly one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Tcp,
    Udp,
    Icmp,
    /// IP with another protocol (GRE, SCTP, ...).
    OtherIp,
    /// An IP fragment whose transport header is not in this frame (not reassembled).
    IpFragment,
    /// Decoded, and not IP (ARP, LLDP, ...).
    NonIp,
    Undecoded(Undecoded),
}

impl Kind {
    pub fn name(&self) -> String {
        match self {
            Kind::Tcp => "tcp".into(),
            Kind::Udp => "udp".into(),
            Kind::Icmp => "icmp".into(),
            Kind::OtherIp => "other-ip".into(),
            Kind::IpFragment => "ip-fragment".into(),
            Kind::NonIp => "non-ip".into(),
            Kind::Undecoded(u) => u.name(),
        }
    }
}

/// Facts of one IP header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpFacts {
    pub version: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Length of the IP packet (header included) from the header's length fields.
    pub len: u32,
    /// `len` came from the wire length (IPv4 total length 0, TSO / BIG TCP).
    pub len_from_wire: bool,
    /// Header length including IPv4 options or IPv6 extension headers present in the capture.
    pub header_len: u32,
    /// Transport protocol number (after IPv6 extension headers).
    pub protocol: u8,
    /// IPv4 identification; the fragment header's identification for IPv6 fragments, else 0.
    pub id: u32,
    pub df: bool,
    pub mf: bool,
    /// Fragment offset in 8-byte units.
    pub frag_offset: u16,
    /// TTL or hop limit.
    pub ttl: u8,
    /// IPv4 TOS / IPv6 traffic class (DSCP and ECN).
    pub tos: u8,
    pub flow_label: u32,
    /// IPv4 options or IPv6 extension headers present (Linux GRO never merges those).
    pub has_options: bool,
    /// Bytes from the start of this IP header to the end of the frame on the wire.
    pub on_wire: u32,
}

impl IpFacts {
    /// A fragment of a larger datagram (first, middle or last).
    pub fn is_fragment(&self) -> bool {
        self.mf || self.frag_offset != 0
    }

    /// Bytes the transport layer gets, as Wireshark dissects them: the IP length, but never more
    /// than the frame carried on the wire (a length field that overshoots the frame is an error,
    /// not data).
    pub fn transport_len(&self) -> u32 {
        self.len.min(self.on_wire).saturating_sub(self.header_len)
    }
}

/// TCP flags as on the wire (byte 13 of the header).
pub mod tcp_flags {
    pub const FIN: u8 = 0x01;
    pub const SYN: u8 = 0x02;
    pub const RST: u8 = 0x04;
    pub const PSH: u8 = 0x08;
    pub const ACK: u8 = 0x10;
    pub const URG: u8 = 0x20;
    pub const ECE: u8 = 0x40;
    pub const CWR: u8 = 0x80;
}

/// Parsed TCP options (RFC 9293 §3.2, RFC 7323, RFC 2018).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TcpOptions {
    pub mss: Option<u16>,
    pub window_scale: Option<u8>,
    pub sack_permitted: bool,
    /// Up to 4 SACK blocks (left, right); only the first `sack_count` are valid.
    pub sack: [(u32, u32); 4],
    pub sack_count: u8,
    /// (TSval, TSecr).
    pub timestamp: Option<(u32, u32)>,
    /// The option bytes could not be fully parsed (cut or malformed).
    pub malformed: bool,
}

#[derive(Debug, Clone, Copy)]
pub struct TcpFacts<'a> {
    pub src_port: u16,
    pub dst_port: u16,
    pub seq: u32,
    pub ack: u32,
    pub flags: u8,
    pub window: u16,
    pub header_len: u32,
    /// Payload length from the IP length fields (not the captured bytes).
    pub payload_len: u32,
    pub checksum: u16,
    pub options: TcpOptions,
    /// Raw option bytes (Linux GRO requires them byte-identical to merge).
    pub option_bytes: &'a [u8],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpFacts {
    pub src_port: u16,
    pub dst_port: u16,
    /// Payload length from the IP length fields.
    pub payload_len: u32,
    pub checksum_zero: bool,
    /// Byte offset of the payload in the frame's captured data (it may be cut by the snaplen).
    pub payload_offset: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TunnelKind {
    Vxlan,
    Geneve,
}

impl TunnelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TunnelKind::Vxlan => "vxlan",
            TunnelKind::Geneve => "geneve",
        }
    }
}

/// The encapsulating headers of a tunnelled frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tunnel {
    pub kind: TunnelKind,
    pub vni: u32,
    pub outer_ip: IpFacts,
    pub outer_udp: UdpFacts,
    /// VXLAN flags byte, or Geneve's O/C flags byte.
    pub flags: u8,
}

/// Everything decoded from one frame.
#[derive(Debug, Clone, Copy)]
pub struct Packet<'a> {
    pub kind: Kind,
    /// Linux cooked capture packet type (0 to us, 4 outgoing, ...), when the link type has one.
    pub sll_pkttype: Option<u16>,
    /// 802.1Q / 802.1ad tags on the outermost Ethernet header.
    pub vlan_tags: u8,
    pub tunnel: Option<Tunnel>,
    /// The innermost IP header.
    pub ip: Option<IpFacts>,
    pub tcp: Option<TcpFacts<'a>>,
    pub udp: Option<UdpFacts>,
}

impl<'a> Packet<'a> {
    fn new(kind: Kind) -> Self {
        Packet {
            kind,
            sll_pkttype: None,
            vlan_tags: 0,
            tunnel: None,
            ip: None,
            tcp: None,
            udp: None,
        }
    }

    /// Every IP header of the frame, outer first.
    pub fn ip_headers(&self) -> impl Iterator<Item = (IpLayer, &IpFacts)> {
        self.tunnel
            .as_ref()
            .map(|t| (IpLayer::Outer, &t.outer_ip))
            .into_iter()
            .chain(self.ip.as_ref().map(|ip| {
                let l = if self.tunnel.is_some() {
                    IpLayer::Inner
                } else {
                    IpLayer::Only
                };
                (l, ip)
            }))
    }
}

/// Where an IP header sits in a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IpLayer {
    /// No tunnel: the only IP header.
    Only,
    /// The encapsulating header of a tunnel.
    Outer,
    /// The header inside the tunnel.
    Inner,
}

/// Decodes one frame.
pub fn decode<'a>(frame: &Frame<'a>, cfg: &DecodeConfig) -> Packet<'a> {
    let data = frame.data;
    let (sliced, sll_pkttype) = match link::slice(frame.link_type, data) {
        Ok(x) => x,
        Err(u) => return Packet::new(Kind::Undecoded(u)),
    };
    let ctx = Ctx {
        frame_start: data.as_ptr() as usize,
        wire_len: frame.wire_len,
    };
    let mut pkt = ctx.layers(&sliced, cfg, true);
    pkt.sll_pkttype = sll_pkttype;
    pkt.vlan_tags = sliced
        .link_exts
        .iter()
        .filter(|e| matches!(e, etherparse::LaxLinkExtSlice::Vlan(_)))
        .count() as u8;
    pkt
}

/// Per-frame context for turning header slices into lengths.
struct Ctx {
    frame_start: usize,
    wire_len: u32,
}

impl Ctx {
    /// Byte offset of `s` inside the frame (s always points into the frame).
    fn offset_of(&self, s: &[u8]) -> u32 {
        (s.as_ptr() as usize).saturating_sub(self.frame_start) as u32
    }

    /// What the wire says the rest of the frame from `s` on is.
    fn wire_len_from(&self, s: &[u8]) -> u32 {
        self.wire_len.saturating_sub(self.offset_of(s))
    }

    fn layers<'a>(&self, p: &LaxSlicedPacket<'a>, cfg: &DecodeConfig, outer: bool) -> Packet<'a> {
        let Some(net) = &p.net else {
            return Packet::new(match &p.stop_err {
                Some((_, Layer::Ethernet2Header | Layer::VlanHeader | Layer::LinuxSllHeader)) => {
                    Kind::Undecoded(Undecoded::LinkTruncated)
                }
                Some((_, Layer::EtherPayload | Layer::MacsecHeader | Layer::MacsecPacket)) => {
                    Kind::NonIp
                }
                Some(_) => Kind::Undecoded(Undecoded::IpInvalid),
                None => Kind::NonIp,
            });
        };
        let ip = match net {
            LaxNetSlice::Ipv4(v4) => self.ipv4(v4),
            LaxNetSlice::Ipv6(v6) => self.ipv6(v6),
            LaxNetSlice::Arp(_) => return Packet::new(Kind::NonIp),
        };
        let mut pkt = Packet::new(Kind::OtherIp);
        pkt.ip = Some(ip);
        // etherparse slices no transport from a fragmented payload; a first fragment whose
        // transport header did parse is still a TCP/UDP frame.
        if ip.is_fragment() && p.transport.is_none() {
            pkt.kind = Kind::IpFragment;
            return pkt;
        }
        match &p.transport {
            Some(TransportSlice::Tcp(t)) => {
                let header_len = t.header_slice().len() as u32;
                let mut options = TcpOptions::default();
                for o in t.options_iterator() {
                    match o {
                        Ok(TcpOptionElement::MaximumSegmentSize(m)) => options.mss = Some(m),
                        Ok(TcpOptionElement::WindowScale(s)) => options.window_scale = Some(s),
                        Ok(TcpOptionElement::SelectiveAcknowledgementPermitted) => {
                            options.sack_permitted = true
                        }
                        Ok(TcpOptionElement::SelectiveAcknowledgement(first, rest)) => {
                            options.sack[0] = first;
                            let mut n = 1;
                            for b in rest.iter().flatten() {
                                options.sack[n] = *b;
                                n += 1;
                            }
                            options.sack_count = n as u8;
                        }
                        Ok(TcpOptionElement::Timestamp(v, e)) => options.timestamp = Some((v, e)),
                        Ok(TcpOptionElement::Noop) => {}
                        Err(_) => {
                            options.malformed = true;
                            break;
                        }
                    }
                }
                let flags = t.header_slice().get(13).copied().unwrap_or(0);
                pkt.kind = Kind::Tcp;
                pkt.tcp = Some(TcpFacts {
                    src_port: t.source_port(),
                    dst_port: t.destination_port(),
                    seq: t.sequence_number(),
                    ack: t.acknowledgment_number(),
                    flags,
                    window: t.window_size(),
                    header_len,
                    payload_len: ip.transport_len().saturating_sub(header_len),
                    checksum: t.checksum(),
                    options,
                    // `TcpSlice::options` borrows the slice struct; the header slice lives as long as the frame.
                    option_bytes: t.header_slice().get(20..).unwrap_or(&[]),
                });
                pkt
            }
            Some(TransportSlice::Udp(u)) => {
                let udp = UdpFacts {
                    src_port: u.source_port(),
                    dst_port: u.destination_port(),
                    payload_len: ip.transport_len().saturating_sub(8),
                    checksum_zero: u.checksum() == 0,
                    payload_offset: self.offset_of(u.payload()),
                };
                pkt.kind = Kind::Udp;
                pkt.udp = Some(udp);
                if outer {
                    if let Some(kind) = tunnel_kind(&udp, cfg) {
                        return self.tunnel(kind, ip, udp, u.payload(), cfg, pkt);
                    }
                }
                pkt
            }
            Some(TransportSlice::Icmpv4(_) | TransportSlice::Icmpv6(_)) => {
                pkt.kind = Kind::Icmp;
                pkt
            }
            Some(TransportSlice::Igmp(_)) => pkt,
            None => {
                match &p.stop_err {
                    Some((_, Layer::TcpHeader)) => {
                        // The options are cut (snaplen) or the data offset is bogus. Wireshark
                        // still tracks the segment when the fixed 20 bytes are there; so do we.
                        match net
                            .ip_payload_ref()
                            .and_then(|pl| tcp_fixed_header(pl.payload, &ip))
                        {
                            Some(t) => {
                                pkt.kind = Kind::Tcp;
                                pkt.tcp = Some(t);
                            }
                            None => pkt.kind = Kind::Undecoded(Undecoded::TransportInvalid),
                        }
                    }
                    Some((_, Layer::UdpHeader | Layer::UdpPayload)) => {
                        pkt.kind = Kind::Undecoded(Undecoded::TransportInvalid)
                    }
                    Some((_, Layer::Icmpv4 | Layer::Icmpv6 | Layer::Igmp)) => pkt.kind = Kind::Icmp,
                    Some((
                        _,
                        Layer::Ipv4Header
                        | Layer::Ipv4Packet
                        | Layer::Ipv6Header
                        | Layer::Ipv6Packet
                        | Layer::IpHeader
                        | Layer::IpAuthHeader
                        | Layer::Ipv6ExtHeader
                        | Layer::Ipv6HopByHopHeader
                        | Layer::Ipv6DestOptionsHeader
                        | Layer::Ipv6RouteHeader
                        | Layer::Ipv6FragHeader,
                    )) => pkt.kind = Kind::Undecoded(Undecoded::IpInvalid),
                    _ => {
                        // TCP/UDP with nothing sliced: cut before the transport header.
                        if ip.protocol == 6 || ip.protocol == 17 {
                            pkt.kind = Kind::Undecoded(Undecoded::TransportInvalid)
                        }
                    }
                }
                pkt
            }
        }
    }

    fn tunnel<'a>(
        &self,
        kind: TunnelKind,
        outer_ip: IpFacts,
        outer_udp: UdpFacts,
        payload: &'a [u8],
        cfg: &DecodeConfig,
        mut pkt: Packet<'a>,
    ) -> Packet<'a> {
        let (vni, flags, inner) = match kind {
            TunnelKind::Vxlan => match vxlan::Vxlan::new_checked(payload) {
                Ok(v) => (
                    v.vni(),
                    v.flags(),
                    LaxSlicedPacket::from_ethernet(v.payload()).ok(),
                ),
                Err(_) => {
                    pkt.kind = Kind::Undecoded(Undecoded::TunnelTruncated);
                    return pkt;
                }
            },
            TunnelKind::Geneve => match geneve::Geneve::new_checked(payload) {
                Ok(g) => {
                    let inner = match g.protocol() {
                        geneve::PROTO_ETHERNET => LaxSlicedPacket::from_ethernet(g.payload()).ok(),
                        et => Some(LaxSlicedPacket::from_ether_type(
                            etherparse::EtherType(et),
                            g.payload(),
                        )),
                    };
                    (g.vni(), payload[1], inner)
                }
                Err(_) => {
                    pkt.kind = Kind::Undecoded(Undecoded::TunnelTruncated);
                    return pkt;
                }
            },
        };
        let tunnel = Tunnel {
            kind,
            vni,
            outer_ip,
            outer_udp,
            flags,
        };
        let mut inner_pkt = match inner {
            Some(p) => self.layers(&p, cfg, false),
            None => Packet::new(Kind::Undecoded(Undecoded::TunnelTruncated)),
        };
        inner_pkt.tunnel = Some(tunnel);
        inner_pkt
    }

    fn ipv4(&self, v4: &etherparse::LaxIpv4Slice<'_>) -> IpFacts {
        let h = v4.header();
        let header_len = h.slice().len() as u32;
        let total = h.total_len() as u32;
        let (len, len_from_wire) = if total >= header_len {
            (total, false)
        } else {
            // 0 (TSO/BIG TCP) or smaller than the header: what the wire carried from here on.
            (self.wire_len_from(h.slice()), true)
        };
        // The AH header (if any) is an extension for etherparse; count it in the header.
        let ext_len = v4
            .extensions()
            .auth
            .map(|a| a.slice().len() as u32)
            .unwrap_or(0);
        IpFacts {
            version: 4,
            src: IpAddr::V4(h.source_addr()),
            dst: IpAddr::V4(h.destination_addr()),
            len,
            len_from_wire,
            header_len: header_len + ext_len,
            protocol: v4.payload_ip_number().0,
            id: h.identification() as u32,
            df: h.dont_fragment(),
            mf: h.more_fragments(),
            frag_offset: h.fragments_offset().value(),
            ttl: h.ttl(),
            tos: (h.dcp().value() << 2) | h.ecn().value(),
            flow_label: 0,
            has_options: header_len > 20,
            on_wire: self.wire_len_from(h.slice()),
        }
    }

    fn ipv6(&self, v6: &etherparse::LaxIpv6Slice<'_>) -> IpFacts {
        let h = v6.header();
        let exts = v6.extensions();
        let ext_bytes = exts.slice();
        let plen = h.payload_length() as u32;
        let (len, len_from_wire) = if plen != 0 {
            (40 + plen, false)
        } else if let Some(j) = jumbo_payload_len(h.next_header().0, ext_bytes) {
            // RFC 2675 jumbogram (BIG TCP over IPv6): the length is in the hop-by-hop option.
            (40u32.saturating_add(j), false)
        } else {
            (self.wire_len_from(h.slice()), true)
        };
        let (id, mf, frag_offset) =
            ipv6_fragment(h.next_header().0, ext_bytes).unwrap_or((0, false, 0));
        IpFacts {
            version: 6,
            src: IpAddr::V6(h.source_addr()),
            dst: IpAddr::V6(h.destination_addr()),
            len,
            len_from_wire,
            header_len: 40 + ext_bytes.len() as u32,
            protocol: v6.payload().ip_number.0,
            id,
            df: false,
            mf,
            frag_offset,
            ttl: h.hop_limit(),
            tos: h.traffic_class(),
            flow_label: h.flow_label().value(),
            has_options: !ext_bytes.is_empty(),
            on_wire: self.wire_len_from(h.slice()),
        }
    }
}

/// The fixed part of a TCP header (RFC 9293 §3.1) when etherparse rejected the whole header:
/// options cut by the snaplen, or a data offset pointing past the segment. Options are then
/// reported as malformed.
fn tcp_fixed_header<'a>(b: &'a [u8], ip: &IpFacts) -> Option<TcpFacts<'a>> {
    let h = b.get(..20)?;
    let data_offset = (h[12] >> 4) as u32 * 4;
    if data_offset < 20 {
        return None;
    }
    let be32 = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
    let be16 = |i: usize| u16::from_be_bytes([h[i], h[i + 1]]);
    Some(TcpFacts {
        src_port: be16(0),
        dst_port: be16(2),
        seq: be32(4),
        ack: be32(8),
        flags: h[13],
        window: be16(14),
        header_len: data_offset,
        payload_len: ip.transport_len().saturating_sub(data_offset),
        checksum: be16(16),
        options: TcpOptions {
            malformed: true,
            ..TcpOptions::default()
        },
        option_bytes: b
            .get(20..(data_offset as usize).min(b.len()))
            .unwrap_or(&[]),
    })
}

fn tunnel_kind(udp: &UdpFacts, cfg: &DecodeConfig) -> Option<TunnelKind> {
    // The destination port names the tunnel; the source port is a flow hash (RFC 7348 §5).
    // Fall back to the source port for captures of replies from a tunnel endpoint on that port.
    for port in [udp.dst_port, udp.src_port] {
        if cfg.vxlan_ports.contains(&port) {
            return Some(TunnelKind::Vxlan);
        }
        if cfg.geneve_ports.contains(&port) {
            return Some(TunnelKind::Geneve);
        }
    }
    None
}

/// The fragment header's (identification, more fragments, offset) among the IPv6 extension headers.
///
/// A bounds-checked walk of our own: etherparse 0.21's `Ipv6ExtensionsSlice::into_iter()` trusts the
/// last header's next-header field and reads the following header with `from_slice_unchecked` even
/// when lax parsing stopped there, an out-of-bounds read on cut or corrupt frames (found by the
/// property test in src/tests/hostile_input.rs).
fn ipv6_fragment(mut next_header: u8, mut ext: &[u8]) -> Option<(u32, bool, u16)> {
    loop {
        match next_header {
            // hop-by-hop, routing, destination options: length in 8-byte units, not counting the first 8
            0 | 43 | 60 => {
                let len = (*ext.get(1)? as usize + 1) * 8;
                next_header = *ext.first()?;
                ext = ext.get(len..)?;
            }
            // authentication header: length in 4-byte units, not counting the first 2 (RFC 4302 §2.2)
            51 => {
                let len = (*ext.get(1)? as usize + 2) * 4;
                next_header = *ext.first()?;
                ext = ext.get(len..)?;
            }
            44 => {
                let f = etherparse::Ipv6FragmentHeaderSlice::from_slice(ext).ok()?;
                return Some((
                    f.identification(),
                    f.more_fragments(),
                    f.fragment_offset().value(),
                ));
            }
            _ => return None,
        }
    }
}

/// The Jumbo Payload option (type 0xC2, RFC 2675 §2) in a hop-by-hop header that directly follows
/// the IPv6 header.
fn jumbo_payload_len(next_header: u8, ext: &[u8]) -> Option<u32> {
    if next_header != 0 || ext.len() < 8 {
        return None;
    }
    let hbh_len = (ext[1] as usize + 1) * 8;
    let opts = ext.get(2..hbh_len.min(ext.len()))?;
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => i += 1, // Pad1
            0xC2 => {
                let v = opts.get(i + 2..i + 6)?;
                return Some(u32::from_be_bytes([v[0], v[1], v[2], v[3]]));
            }
            _ => i += 2 + *opts.get(i + 1)? as usize,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_fragment_walk_is_bounded() {
        // hop-by-hop (8 bytes) then a fragment header: id 0xabcd, offset 0, more fragments
        #[rustfmt::skip]
        let ext = [
            44, 0, 1, 4, 0, 0, 0, 0,          // HBH: next = fragment, len 0, PadN
            17, 0, 0x00, 0x01, 0, 0, 0xab, 0xcd, // fragment: next UDP, offset 0, M=1, id
        ];
        assert_eq!(ipv6_fragment(0, &ext), Some((0xabcd, true, 0)));
        // The HBH header says a fragment header follows, but the bytes stop: no read past the end.
        assert_eq!(ipv6_fragment(0, &ext[..8]), None);
        for n in 0..ext.len() {
            let _ = ipv6_fragment(0, &ext[..n]);
        }
    }

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
            link_type: link::RAW,
            interface: Some(0),
            wire_len: f.len() as u32,
            data: &f,
            offset: 0,
        };
        let p = decode(&frame, &DecodeConfig::default());
        assert_eq!(p.ip.map(|ip| ip.version), Some(6));
        assert!(!p.ip.is_some_and(|ip| ip.is_fragment()));
    }
}
