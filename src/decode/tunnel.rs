//! Into the tunnel: UDP overlays (VXLAN, Geneve, GTP-U), IP protocols that carry frames or
//! packets (GRE with gretap, NVGRE and ERSPAN; IP in IP), and the MPLS/PPPoE shims. The inner
//! frame is walked like the outer one (one tunnel level: a tunnel inside a tunnel stays opaque)
//! and the packet keeps the outer headers as its [`Tunnel`].

use etherparse::{EtherType, LaxSlicedPacket};

use super::layers::Ctx;
use super::shim::{self, Inner};
use super::{geneve, gre, gtp, vxlan};
use super::{DecodeConfig, IpFacts, Kind, Packet, Tunnel, TunnelKind, UdpFacts, Undecoded};

/// IP protocol numbers (IANA) that carry a tunnel: IPv4 in IP (RFC 2003), IPv6 in IP (RFC 4213
/// 6in4), GRE (RFC 2784).
const IPPROTO_IPIP: u8 = 4;
const IPPROTO_IPV6: u8 = 41;
const IPPROTO_GRE: u8 = 47;

pub(super) fn is_ip_tunnel(protocol: u8) -> bool {
    matches!(protocol, IPPROTO_IPIP | IPPROTO_IPV6 | IPPROTO_GRE)
}

/// The UDP overlay a datagram carries, by port.
fn udp_kind(udp: &UdpFacts, cfg: &DecodeConfig) -> Option<TunnelKind> {
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
/// 24 bits being the VSID, RFC 7637 §3.2); ERSPAN's mirrored Ethernet frames.
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
    pub(super) fn udp_tunnel<'a>(
        &self,
        outer_ip: IpFacts,
        outer_udp: UdpFacts,
        payload: &'a [u8],
        cfg: &DecodeConfig,
        pkt: Packet<'a>,
    ) -> Packet<'a> {
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
                };
                self.inner(t, inner, cfg)
            }
            // GTP-U's port with something else on it stays a UDP flow.
            Ok(None) => pkt,
            Err(_) if kind == TunnelKind::GtpU => pkt,
            Err(_) => truncated(pkt),
        }
    }

    pub(super) fn ip_tunnel<'a>(
        &self,
        outer_ip: IpFacts,
        payload: &'a [u8],
        cfg: &DecodeConfig,
        pkt: Packet<'a>,
    ) -> Packet<'a> {
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
                };
                self.inner(t, inner, cfg)
            }
            Ok(None) => pkt,
            Err(_) => truncated(pkt),
        }
    }

    fn inner<'a>(&self, t: Tunnel, inner: Payload<'a>, cfg: &DecodeConfig) -> Packet<'a> {
        let sliced = match inner {
            Payload::Ethernet(b) => LaxSlicedPacket::from_ethernet(b).ok(),
            Payload::EtherType(et, b) => Some(LaxSlicedPacket::from_ether_type(EtherType(et), b)),
        };
        let mut p = match sliced {
            Some(s) => self.layers(&s, cfg, false),
            None => Packet::new(Kind::Undecoded(Undecoded::TunnelTruncated)),
        };
        p.tunnel = Some(t);
        p
    }

    /// A frame that stopped at an MPLS or PPPoE session ether type: the packet inside it.
    pub(super) fn unshim<'a>(
        &self,
        p: &LaxSlicedPacket<'a>,
        cfg: &DecodeConfig,
        outer: bool,
    ) -> Option<Packet<'a>> {
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
            Some(s) => self.layers(&s, cfg, outer),
            None => Packet::new(Kind::Undecoded(Undecoded::LinkTruncated)),
        })
    }
}

fn truncated(mut pkt: Packet<'_>) -> Packet<'_> {
    pkt.kind = Kind::Undecoded(Undecoded::TunnelTruncated);
    pkt
}
