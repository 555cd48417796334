//! What decoding found in one frame: the facts offload analysis needs, as plain `Copy` values
//! that borrow the frame (no allocation per packet).

use std::net::IpAddr;

use super::icmp::IcmpFacts;
use crate::capture::LinkType;

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
    /// A tunnel header (VXLAN, Geneve, GRE, ERSPAN, 802.11 in GRE, ...) is cut.
    TunnelTruncated,
    /// An 802.11 frame with the Protected bit set: its body is encrypted (WEP, TKIP, CCMP,
    /// GCMP), so what it carries cannot be read without the keys.
    WlanProtected,
    /// An 802.11 data frame we do not open: an A-MSDU (several packets in one frame) or a
    /// protocol version other than 0.
    WlanNotDecoded,
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
            Undecoded::WlanProtected => "wlan-protected".into(),
            Undecoded::WlanNotDecoded => "wlan-not-decoded".into(),
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
    /// Whether the analysis looks into frames of this kind: not into undecoded frames, nor into
    /// IP payloads of a protocol that is not decoded (GRE, IP-in-IP, ESP, …).
    pub fn is_analysed(&self) -> bool {
        !matches!(self, Kind::Undecoded(_) | Kind::OtherIp)
    }

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TcpFacts {
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
    /// Where the raw option bytes are in the frame's data ([`TcpFacts::option_bytes`]): an
    /// offset, not a borrow, so a packet owns nothing of its frame and can be decoded straight
    /// into the batch that crosses to the analysis thread.
    pub options_at: u32,
    pub options_len: u8,
}

impl TcpFacts {
    /// The raw option bytes (Linux GRO requires them byte-identical to merge), from the data of
    /// the frame this segment was decoded from.
    pub fn option_bytes<'d>(&self, frame_data: &'d [u8]) -> &'d [u8] {
        let start = self.options_at as usize;
        frame_data
            .get(start..start + usize::from(self.options_len))
            .unwrap_or(&[])
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UdpFacts {
    pub src_port: u16,
    pub dst_port: u16,
    /// Payload length from the IP length fields.
    pub payload_len: u32,
    pub checksum_zero: bool,
    /// The header's own length field (header included): 0 on BIG UDP / some GSO captures, and
    /// on broken or fuzzed frames it disagrees with the IP length.
    pub length_field: u16,
    /// Byte offset of the payload in the frame's captured data (it may be cut by the snaplen).
    pub payload_offset: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TunnelKind {
    /// RFC 7348, over UDP.
    Vxlan,
    /// RFC 8926, over UDP.
    Geneve,
    /// RFC 2784/2890 GRE carrying IP, or Ethernet (gretap, protocol 0x6558) without a key.
    Gre,
    /// RFC 7637: GRE with protocol 0x6558 and a key (the 24-bit VSID is the `vni`).
    Nvgre,
    /// Cisco ERSPAN type I, II or III over GRE (draft-foschiano-erspan): a port mirror, so the
    /// inner frames are copies of traffic between other hosts.
    Erspan,
    /// IP in IP: IPv4 or IPv6 in IPv4 or IPv6 (RFC 2003, RFC 4213 6in4, RFC 2473).
    IpInIp,
    /// 3GPP TS 29.281 GTP-U over UDP 2152 (the TEID is the `vni`).
    GtpU,
    /// IEEE 802.11 frames in GRE, as WLAN controllers tunnel them from their access points
    /// (Aruba's protocol types 0x8200 to 0x8370; the GRE key, if any, is the `vni`).
    GreWlan,
}

impl TunnelKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TunnelKind::Vxlan => "vxlan",
            TunnelKind::Geneve => "geneve",
            TunnelKind::Gre => "gre",
            TunnelKind::Nvgre => "nvgre",
            TunnelKind::Erspan => "erspan",
            TunnelKind::IpInIp => "ip-in-ip",
            TunnelKind::GtpU => "gtp-u",
            TunnelKind::GreWlan => "gre-wlan",
        }
    }

    /// The Wireshark protocol whose presence marks a frame of this tunnel (display filter
    /// names of epan/dissectors: packet-vxlan.c, packet-geneve.c, packet-gtp.c, packet-gre.c,
    /// packet-erspan.c, packet-ieee80211.c). IP in IP has none short of the outer protocol.
    pub fn wireshark_proto(self) -> Option<&'static str> {
        match self {
            TunnelKind::Vxlan => Some("vxlan"),
            TunnelKind::Geneve => Some("geneve"),
            TunnelKind::GtpU => Some("gtp"),
            TunnelKind::Gre | TunnelKind::Nvgre => Some("gre"),
            TunnelKind::Erspan => Some("erspan"),
            TunnelKind::GreWlan => Some("wlan"),
            TunnelKind::IpInIp => None,
        }
    }

    /// The UDP overlays whose outer headers Linux GRO judges the way the GRO model does
    /// (udp_gro_receive → vxlan/geneve gro_receive): the outer-header rules apply only to these.
    pub fn is_udp_overlay(self) -> bool {
        matches!(self, TunnelKind::Vxlan | TunnelKind::Geneve)
    }

    /// A port mirror: the capture point sees copies, never the endpoints' own stack.
    pub fn is_mirror(self) -> bool {
        matches!(self, TunnelKind::Erspan)
    }
}

/// Tunnels one frame may nest, the outermost counted: ERSPAN mirroring VXLAN is two. Each level
/// is decoded by recursion, so hostile nesting (GRE in GRE in GRE ...) must stop somewhere; a
/// tunnel below the last level stays what its carrier says (UDP, other-ip).
pub const MAX_TUNNEL_DEPTH: usize = 4;

/// The encapsulating headers of a tunnelled frame: the innermost tunnel, whose inner frame holds
/// the packet, and the kinds of the tunnels around it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tunnel {
    pub kind: TunnelKind,
    /// The tunnel's identifier: VXLAN/Geneve VNI, NVGRE VSID, GRE key, ERSPAN session ID,
    /// GTP-U TEID; 0 when the encapsulation has none.
    pub vni: u32,
    pub outer_ip: IpFacts,
    /// The outer UDP header of UDP encapsulations (VXLAN, Geneve, GTP-U).
    pub outer_udp: Option<UdpFacts>,
    /// VXLAN flags byte, Geneve's O/C flags byte, GRE's first flags byte, GTP-U's flags byte.
    pub flags: u8,
    /// The tunnels that carry this one, outermost first, then `None`: ERSPAN around the VXLAN
    /// it mirrored. Their headers are the carriers' business, not the endpoints' stacks'.
    pub via: Via,
}

/// The kinds of the tunnels around the innermost one, outermost first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Via([Option<TunnelKind>; MAX_TUNNEL_DEPTH - 1]);

impl Via {
    /// The enclosing tunnels, outermost first.
    pub fn kinds(&self) -> impl Iterator<Item = TunnelKind> + '_ {
        self.0.iter().map_while(|k| *k)
    }

    /// This list with `outer` in front (the last kind falls off when full, which the depth
    /// bound of the decoder never lets happen).
    pub fn behind(self, outer: TunnelKind) -> Via {
        let mut v = [None; MAX_TUNNEL_DEPTH - 1];
        v[0] = Some(outer);
        v[1..].copy_from_slice(&self.0[..MAX_TUNNEL_DEPTH - 2]);
        Via(v)
    }
}

/// Everything decoded from one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet {
    pub kind: Kind,
    /// Linux cooked capture packet type (0 to us, 4 outgoing, ...), when the link type has one.
    pub sll_pkttype: Option<u16>,
    /// 802.1Q / 802.1ad tags on the outermost Ethernet header.
    pub vlan_tags: u8,
    pub tunnel: Option<Tunnel>,
    /// The innermost IP header.
    pub ip: Option<IpFacts>,
    pub tcp: Option<TcpFacts>,
    pub udp: Option<UdpFacts>,
    /// An ICMP error message and the packet it quotes ([`super::icmp`]).
    pub icmp: Option<IcmpFacts>,
}

impl Packet {
    pub fn new(kind: Kind) -> Self {
        Packet {
            kind,
            sll_pkttype: None,
            vlan_tags: 0,
            tunnel: None,
            ip: None,
            tcp: None,
            udp: None,
            icmp: None,
        }
    }

    /// An ICMP or ICMPv6 message (`ip_version` 4 or 6): its error facts, when it reports one.
    pub(super) fn set_icmp(&mut self, ip_version: u8, icmp: &[u8]) {
        self.kind = Kind::Icmp;
        self.icmp = super::icmp::error_facts(ip_version, icmp);
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
