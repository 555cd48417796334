//! Into the tunnel: UDP overlays (VXLAN, Geneve, GTP-U), IP protocols that carry frames or
//! packets (GRE with gretap, NVGRE, ERSPAN and 802.11; IP in IP), and the MPLS/PPPoE shims. The
//! inner frame is walked like the outer one, into further tunnels up to
//! [`MAX_TUNNEL_DEPTH`](super::MAX_TUNNEL_DEPTH) levels (ERSPAN mirroring VXLAN), and the packet keeps the innermost tunnel's outer headers as
//! its [`Tunnel`], the kinds of the ones around it in [`Tunnel::via`].

use etherparse::{EtherType, LaxSlicedPacket};

use super::ctx::Ctx;
use super::shim::{self, Inner};
use super::wlan::{Body, Wlan};
use super::{geneve, gre, gtp, vxlan};
use super::{DecodeConfig, IpFacts, Kind, Packet, Tunnel, TunnelKind, UdpFacts, Undecoded, Via};

/// IP protocol numbers (IANA) that carry a tunnel: IPv4 in IP (RFC 2003), IPv6 in IP (RFC 4213
/// 6in4), GRE (RFC 2784).
const IPPROTO_IPIP: u8 = 4;
const IPPROTO_IPV6: u8 = 41;
const IPPROTO_GRE: u8 = 47;

pub(super) fn is_ip_tunnel(protocol: u8) -> bool {
    matches!(protocol, IPPROTO_IPIP | IPPROTO_IPV6 | IPPROTO_GRE)
}

/// The UDP overlay a datagram carries, by port.
pub(super) fn udp_kind(udp: &UdpFacts, cfg: &DecodeConfig) -> Option<TunnelKind> {
    // The destination port names the tunnel; the source port is a flow hash (RFC 7348 §5).
    // Fall back to the source port for captures of replies from a tunnel endpoint on that port.
    for port in [udp.dst_port, udp.src_port] {
        if cfg.vxlan_ports.contains(&port) {
            return Some(TunnelKind::Vxlan);
        }
        if cfg.geneve_ports.contains(&port) {
            return Some(TunnelKind::Geneve);
        }
        if port == gtp::PORT {
            return Some(TunnelKind::GtpU);
        }
    }
    None
}

/// The inner frame of a tunnel, as the tunnel header announced it.
enum Payload<'a> {
    Ethernet(&'a [u8]),
    EtherType(u16, &'a [u8]),
    /// An IEEE 802.11 frame (no FCS).
    Wlan(&'a [u8]),
}

/// What a tunnel header gave: its identifier and flags, and the inner frame. `Ok(None)`: the
/// header is fine but carries nothing we decode (the packet stays what the outer layers say).
type Opened<'a> = Result<Option<(u32, u8, Payload<'a>)>, super::Truncated>;

fn open_udp<'a>(kind: TunnelKind, payload: &'a [u8], udp: &UdpFacts) -> Opened<'a> {
    Ok(match kind {
        TunnelKind::Vxlan => {
            let v = vxlan::Vxlan::new_checked(payload)?;
            Some((v.vni(), v.flags(), Payload::Ethernet(v.payload())))
        }
        TunnelKind::Geneve => {
            let g = geneve::Geneve::new_checked(payload)?;
            let inner = match g.protocol() {
                geneve::PROTO_ETHERNET => Payload::Ethernet(g.payload()),
                et => Payload::EtherType(et, g.payload()),
            };
            Some((g.vni(), g.flags(), inner))
        }
        _ => gtp::parse(payload, udp.payload_len)?.map(|g| {
            (
                g.teid,
                g.flags,
                Payload::EtherType(ip_ether_type(g.payload), g.payload),
            )
        }),
    })
}

fn ip_ether_type(p: &[u8]) -> u16 {
    match p.first().map(|b| b >> 4) {
        Some(6) => gre::PROTO_IPV6,
        _ => gre::PROTO_IPV4,
    }
}

/// GRE (version 0) by protocol type: IP; Ethernet (gretap; NVGRE when keyed, the key's upper
/// 24 bits being the VSID, RFC 7637 §3.2); ERSPAN's mirrored Ethernet frames; 802.11 frames of
/// WLAN controller tunnels.
fn open_gre(
    payload: &[u8],
) -> Result<Option<(TunnelKind, u32, u8, Payload<'_>)>, super::Truncated> {
    let g = gre::Gre::new_checked(payload)?;
    if g.version() != 0 || g.flags() & gre::FLAG_R != 0 {
        return Ok(None);
    }
    let (proto, key) = (g.protocol(), g.key());
    Ok(match proto {
        gre::PROTO_TEB if key.is_some() => Some((
            TunnelKind::Nvgre,
            key.unwrap_or(0) >> 8,
            g.flags(),
            Payload::Ethernet(g.payload()),
        )),
        gre::PROTO_TEB => Some((
            TunnelKind::Gre,
            0,
            g.flags(),
            Payload::Ethernet(g.payload()),
        )),
        gre::PROTO_ERSPAN_II | gre::PROTO_ERSPAN_III => {
            gre::erspan(proto, g.sequence().is_some(), g.payload())?.map(|e| {
                (
                    TunnelKind::Erspan,
                    u32::from(e.session),
                    g.flags(),
                    Payload::Ethernet(e.frame),
                )
            })
        }
        p if gre::is_wlan(p) => Some((
            TunnelKind::GreWlan,
            key.unwrap_or(0),
            g.flags(),
            Payload::Wlan(g.payload()),
        )),
        gre::PROTO_IPV4 | gre::PROTO_IPV6 | shim::ETHERTYPE_MPLS => Some((
            TunnelKind::Gre,
            key.unwrap_or(0),
            g.flags(),
            Payload::EtherType(proto, g.payload()),
        )),
        _ => None,
    })
}

impl Ctx {
    pub(super) fn udp_tunnel(
        &self,
        outer_ip: IpFacts,
        outer_udp: UdpFacts,
        payload: &[u8],
        cfg: &DecodeConfig,
        pkt: Packet,
    ) -> Packet {
        let Some(kind) = udp_kind(&outer_udp, cfg) else {
            return pkt;
        };
        match open_udp(kind, payload, &outer_udp) {
            Ok(Some((vni, flags, inner))) => {
                let t = Tunnel {
                    kind,
                    vni,
                    outer_ip,
                    outer_udp: Some(outer_udp),
                    flags,
                    via: Via::default(),
                };
                self.inner(t, inner, cfg)
            }
            // GTP-U's port with something else on it stays a UDP flow.
            Ok(None) => pkt,
            Err(_) if kind == TunnelKind::GtpU => pkt,
            Err(_) => truncated(pkt),
        }
    }

    pub(super) fn ip_tunnel(
        &self,
        outer_ip: IpFacts,
        payload: &[u8],
        cfg: &DecodeConfig,
        pkt: Packet,
    ) -> Packet {
        let opened = match outer_ip.protocol {
            IPPROTO_GRE => open_gre(payload),
            IPPROTO_IPIP => Ok(Some((
                TunnelKind::IpInIp,
                0,
                0,
                Payload::EtherType(gre::PROTO_IPV4, payload),
            ))),
            _ => Ok(Some((
                TunnelKind::IpInIp,
                0,
                0,
                Payload::EtherType(gre::PROTO_IPV6, payload),
            ))),
        };
        match opened {
            Ok(Some((kind, vni, flags, inner))) => {
                let t = Tunnel {
                    kind,
                    vni,
                    outer_ip,
                    outer_udp: None,
                    flags,
                    via: Via::default(),
                };
                self.inner(t, inner, cfg)
            }
            Ok(None) => pkt,
            Err(_) => truncated(pkt),
        }
    }

    /// The packet inside tunnel `t`; a tunnel found inside it becomes the packet's tunnel, with
    /// `t` among those it came through.
    fn inner<'a>(&self, t: Tunnel, inner: Payload<'a>, cfg: &DecodeConfig) -> Packet {
        self.tunnels_left
            .set(self.tunnels_left.get().saturating_sub(1));
        let truncated = Kind::Undecoded(Undecoded::TunnelTruncated);
        let sliced = match inner {
            Payload::Ethernet(b) => LaxSlicedPacket::from_ethernet(b).map_err(|_| truncated),
            Payload::EtherType(et, b) => Ok(LaxSlicedPacket::from_ether_type(EtherType(et), b)),
            Payload::Wlan(b) => wlan_body(b),
        };
        let mut p = match sliced {
            Ok(s) => self.layers(&s, cfg),
            Err(kind) => Packet::new(kind),
        };
        p.tunnel = Some(match p.tunnel {
            Some(nested) => Tunnel {
                via: nested.via.behind(t.kind),
                ..nested
            },
            None => t,
        });
        p
    }

    /// A frame that stopped at an MPLS or PPPoE session ether type: the packet inside it.
    pub(super) fn unshim<'a>(&self, p: &LaxSlicedPacket<'a>, cfg: &DecodeConfig) -> Option<Packet> {
        let ep = p.ether_payload()?;
        let inner = match ep.ether_type.0 {
            shim::ETHERTYPE_MPLS | shim::ETHERTYPE_MPLS_MULTICAST => shim::mpls(ep.payload),
            shim::ETHERTYPE_PPPOE_SESSION => {
                if let Some(len) = shim::pppoe_declared_len(ep.payload) {
                    let end = self.offset_of(ep.payload).saturating_add(len);
                    self.wire_end.set(self.wire_end.get().min(end));
                }
                shim::pppoe_session(ep.payload)
            }
            _ => return None,
        };
        let left = self.shims_left.get().checked_sub(1)?;
        self.shims_left.set(left);
        let sliced = match inner {
            Ok(Inner::Ip(b)) => LaxSlicedPacket::from_ip(b).ok(),
            Ok(Inner::Ethernet(b)) => LaxSlicedPacket::from_ethernet(b).ok(),
            Ok(Inner::Other) => return Some(Packet::new(Kind::NonIp)),
            Err(_) => None,
        };
        Some(match sliced {
            Some(s) => self.layers(&s, cfg),
            None => Packet::new(Kind::Undecoded(Undecoded::LinkTruncated)),
        })
    }
}

/// What an 802.11 frame in a tunnel carries, sliced; else what the frame is and why decoding
/// stopped there.
fn wlan_body(frame: &[u8]) -> Result<LaxSlicedPacket<'_>, Kind> {
    let body = Wlan::new_checked(frame).and_then(|w| w.body());
    match body {
        Ok(Body::EtherType(et, p)) => Ok(LaxSlicedPacket::from_ether_type(EtherType(et), p)),
        Ok(Body::NotData) => Err(Kind::NonIp),
        Ok(Body::Protected) => Err(Kind::Undecoded(Undecoded::WlanProtected)),
        Ok(Body::NotDecoded) => Err(Kind::Undecoded(Undecoded::WlanNotDecoded)),
        Err(_) => Err(Kind::Undecoded(Undecoded::TunnelTruncated)),
    }
}

fn truncated(mut pkt: Packet) -> Packet {
    pkt.kind = Kind::Undecoded(Undecoded::TunnelTruncated);
    pkt
}

#[cfg(test)]
mod tests {
    use super::super::{decode, link, MAX_TUNNEL_DEPTH};
    use super::*;
    use crate::capture::Frame;

    fn ipv4(proto: u8, last: u8, payload: &[u8]) -> Vec<u8> {
        let len = (20 + payload.len()) as u16;
        let mut h = vec![
            0x45, 0, 0, 0, 0, 1, 0, 0, 64, proto, 0, 0, 10, 0, 0, 1, 10, 0, 0, last,
        ];
        h[2..4].copy_from_slice(&len.to_be_bytes());
        h.extend_from_slice(payload);
        h
    }

    fn tcp_segment() -> Vec<u8> {
        #[rustfmt::skip]
        let t = [
            0x9c, 0x40, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff, 0, 0, 0, 0,
        ];
        ipv4(6, 99, &t)
    }

    fn ethernet(payload: &[u8]) -> Vec<u8> {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
        f.extend_from_slice(payload);
        f
    }

    fn decode_raw(ip: &[u8]) -> Packet {
        let frame = Frame {
            number: 1,
            ts_ns: 0,
            ts_known: true,
            ts_bad_fraction: false,
            link_type: link::RAW,
            interface: Some(0),
            wire_len: ip.len() as u32,
            data: ip,
            offset: 0,
            secrets: None,
        };
        decode(&frame, &DecodeConfig::default())
    }

    /// `levels` IP-in-IP headers around a TCP segment.
    fn ipip(levels: usize) -> Vec<u8> {
        (0..levels).fold(tcp_segment(), |p, i| ipv4(4, i as u8, &p))
    }

    #[test]
    fn nested_tunnels_open_down_to_the_depth_bound() {
        let f = ipip(MAX_TUNNEL_DEPTH);
        let p = decode_raw(&f);
        assert_eq!(p.kind, Kind::Tcp);
        let t = p.tunnel.expect("tunnelled");
        assert_eq!(t.outer_ip.dst, std::net::IpAddr::from([10, 0, 0, 0]));
        let via: Vec<_> = t.via.kinds().collect();
        assert_eq!(via, [TunnelKind::IpInIp; MAX_TUNNEL_DEPTH - 1]);
        // One level more: the last tunnel stays what its carrier says.
        let f = ipip(MAX_TUNNEL_DEPTH + 1);
        let p = decode_raw(&f);
        assert_eq!(p.kind, Kind::OtherIp);
        assert_eq!(p.ip.map(|ip| ip.protocol), Some(IPPROTO_IPIP));
        assert_eq!(
            p.tunnel.map(|t| t.via.kinds().count()),
            Some(MAX_TUNNEL_DEPTH - 1)
        );
    }

    #[test]
    fn vxlan_inside_erspan() {
        let mut vx = vec![0x08, 0, 0, 0, 0, 0, 42, 0];
        vx.extend_from_slice(&ethernet(&tcp_segment()));
        let mut udp = vec![0xc3, 0x50, 0x12, 0xb5, 0, 0, 0, 0];
        udp[4..6].copy_from_slice(&((8 + vx.len()) as u16).to_be_bytes());
        udp.extend_from_slice(&vx);
        let mirrored = ethernet(&ipv4(17, 7, &udp));
        #[rustfmt::skip]
        let mut gre = vec![
            0x10, 0x00, 0x88, 0xbe, 0, 0, 0, 1, // S; ERSPAN II; sequence 1
            0x10, 0x64, 0x00, 0x05, 0, 0, 0, 0, // ERSPAN version 1, session 5
        ];
        gre.extend_from_slice(&mirrored);
        let f = ipv4(47, 200, &gre);
        let p = decode_raw(&f);
        assert_eq!(p.kind, Kind::Tcp);
        let t = p.tunnel.expect("tunnelled");
        assert_eq!((t.kind, t.vni), (TunnelKind::Vxlan, 42));
        assert_eq!(t.via.kinds().collect::<Vec<_>>(), [TunnelKind::Erspan]);
        // The outer header is the VXLAN's, not the mirror's.
        assert_eq!(t.outer_ip.dst, std::net::IpAddr::from([10, 0, 0, 7]));
        assert_eq!(t.outer_udp.map(|u| u.dst_port), Some(4789));
    }

    fn gre_wlan(fc_flags: u8) -> Vec<u8> {
        #[rustfmt::skip]
        let mut f = vec![
            0x00, 0x00, 0x82, 0x00,             // GRE, Aruba 0x8200
            0x88, fc_flags, 0, 0,               // QoS data, flags; duration
            2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 3, 0, 0, // addresses, sequence
            0, 0,                               // QoS control
            0xaa, 0xaa, 0x03, 0, 0, 0, 0x08, 0x00, // LLC/SNAP, IPv4
        ];
        f.extend_from_slice(&tcp_segment());
        ipv4(47, 200, &f)
    }

    #[test]
    fn wlan_frames_in_gre() {
        let f = gre_wlan(0x01);
        let p = decode_raw(&f);
        assert_eq!(p.kind, Kind::Tcp);
        assert_eq!(p.tcp.map(|t| t.dst_port), Some(80));
        assert_eq!(p.tunnel.map(|t| t.kind), Some(TunnelKind::GreWlan));
        let f = gre_wlan(0x41);
        let p = decode_raw(&f);
        assert_eq!(p.kind, Kind::Undecoded(Undecoded::WlanProtected));
        assert_eq!(p.tunnel.map(|t| t.kind), Some(TunnelKind::GreWlan));
        let mut f = gre_wlan(0x01);
        f.truncate(20 + 4 + 20);
        assert_eq!(
            decode_raw(&f).kind,
            Kind::Undecoded(Undecoded::TunnelTruncated)
        );
    }
}
