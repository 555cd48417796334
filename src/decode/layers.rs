//! The layer walk: from etherparse's lax slices to a [`Packet`], with lengths taken from the IP
//! headers, and into a tunnel's inner frame.

use std::net::IpAddr;

use etherparse::err::Layer;
use etherparse::{LaxNetSlice, LaxSlicedPacket, TcpOptionElement, TcpSlice, TransportSlice};

use super::ctx::Ctx;
use super::ipv6_ext::{ipv6_fragment, jumbo_payload_len};
use super::tcp_header::TcpHeader;
use super::tunnel::is_ip_tunnel;
use super::{DecodeConfig, IpFacts, Kind, Packet, TcpFacts, TcpOptions, UdpFacts, Undecoded};

/// What a frame without a network layer is, from where slicing stopped.
fn no_network(stop: &Option<(etherparse::err::packet::SliceError, Layer)>) -> Kind {
    match stop {
        Some((_, Layer::Ethernet2Header | Layer::VlanHeader | Layer::LinuxSllHeader)) => {
            Kind::Undecoded(Undecoded::LinkTruncated)
        }
        Some((_, Layer::EtherPayload | Layer::MacsecHeader | Layer::MacsecPacket)) => Kind::NonIp,
        Some(_) => Kind::Undecoded(Undecoded::IpInvalid),
        None => Kind::NonIp,
    }
}

/// The TCP options etherparse parsed (RFC 9293 §3.2, RFC 7323, RFC 2018).
fn tcp_options(t: &TcpSlice<'_>) -> TcpOptions {
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
    options
}

pub(super) fn tcp_facts(t: &TcpSlice<'_>, ip: &IpFacts, options_at: u32) -> TcpFacts {
    let header_len = t.header_slice().len() as u32;
    TcpFacts {
        src_port: t.source_port(),
        dst_port: t.destination_port(),
        seq: t.sequence_number(),
        ack: t.acknowledgment_number(),
        flags: t.header_slice().get(13).copied().unwrap_or(0),
        window: t.window_size(),
        header_len,
        payload_len: ip.transport_len().saturating_sub(header_len),
        checksum: t.checksum(),
        options: tcp_options(t),
        options_at,
        options_len: t.header_slice().len().saturating_sub(20).min(40) as u8,
    }
}

/// An IP packet with no transport slice: what stopped the slicing decides what the frame is.
fn no_transport(
    ctx: &Ctx,
    net: &LaxNetSlice<'_>,
    stop: Option<Layer>,
    ip: &IpFacts,
    pkt: &mut Packet,
) {
    pkt.kind = match stop {
        // The options are cut (snaplen) or the data offset is bogus. Wireshark still tracks the
        // segment when the fixed 20 bytes are there; so do we.
        Some(Layer::TcpHeader) => {
            let fixed = net
                .ip_payload_ref()
                .and_then(|pl| TcpHeader::new_checked(pl.payload).ok())
                .and_then(|h| h.facts(ip, ctx.offset_of(h.option_bytes())));
            match fixed {
                Some(t) => {
                    pkt.tcp = Some(t);
                    Kind::Tcp
                }
                None => Kind::Undecoded(Undecoded::TransportInvalid),
            }
        }
        Some(Layer::UdpHeader | Layer::UdpPayload) => Kind::Undecoded(Undecoded::TransportInvalid),
        Some(Layer::Icmpv4 | Layer::Icmpv6 | Layer::Igmp) => Kind::Icmp,
        Some(
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
        ) => Kind::Undecoded(Undecoded::IpInvalid),
        // TCP/UDP with nothing sliced: cut before the transport header.
        _ if ip.protocol == 6 || ip.protocol == 17 => Kind::Undecoded(Undecoded::TransportInvalid),
        _ => pkt.kind,
    };
}

impl Ctx {
    pub fn layers<'a>(&self, p: &LaxSlicedPacket<'a>, cfg: &DecodeConfig) -> Packet {
        let Some(net) = &p.net else {
            if let Some(pkt) = self.unshim(p, cfg) {
                return pkt;
            }
            return Packet::new(no_network(&p.stop_err));
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
                pkt.kind = Kind::Tcp;
                pkt.tcp = Some(tcp_facts(t, &ip, self.offset_of(t.header_slice()) + 20));
            }
            Some(TransportSlice::Udp(u)) => return self.udp(u, ip, cfg, pkt),
            Some(TransportSlice::Icmpv4(i)) => pkt.set_icmp(4, i.slice()),
            Some(TransportSlice::Icmpv6(i)) => pkt.set_icmp(6, i.slice()),
            Some(TransportSlice::Igmp(_)) => {}
            None if self.may_open_tunnel() && is_ip_tunnel(ip.protocol) => {
                let payload = net.ip_payload_ref().map_or(&[][..], |pl| pl.payload);
                return self.ip_tunnel(ip, payload, cfg, pkt);
            }
            None => no_transport(self, net, p.stop_err.as_ref().map(|e| e.1), &ip, &mut pkt),
        }
        pkt
    }

    /// The UDP header's facts; the payload length from the IP length (RFC 768's length field
    /// is kept apart: it may disagree).
    pub(super) fn udp_facts(&self, u: &etherparse::UdpSlice<'_>, ip: &IpFacts) -> UdpFacts {
        UdpFacts {
            src_port: u.source_port(),
            dst_port: u.destination_port(),
            payload_len: ip.transport_len().saturating_sub(8),
            checksum_zero: u.checksum() == 0,
            length_field: u.length(),
            payload_offset: self.offset_of(u.payload()),
        }
    }

    fn udp<'a>(
        &self,
        u: &etherparse::UdpSlice<'a>,
        ip: IpFacts,
        cfg: &DecodeConfig,
        mut pkt: Packet,
    ) -> Packet {
        let udp = self.udp_facts(u, &ip);
        pkt.kind = Kind::Udp;
        pkt.udp = Some(udp);
        if !self.may_open_tunnel() {
            return pkt;
        }
        self.udp_tunnel(ip, udp, u.payload(), cfg, pkt)
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
