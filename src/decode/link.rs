//! Link layers: maps a LINKTYPE_* value and the frame bytes to etherparse's lax slicing.
//! Values and header layouts from <https://www.tcpdump.org/linktypes.html>.

use etherparse::{EtherType, LaxSlicedPacket};

use super::Undecoded;
use crate::capture::{LinkType, NON_PACKET, UNKNOWN_INTERFACE};

pub const NULL: LinkType = 0;
pub const ETHERNET: LinkType = 1;
/// PPP (RFC 1661), with or without the RFC 1662 address/control bytes 0xff 0x03.
pub const PPP: LinkType = 9;
pub const PPP_HDLC: LinkType = 50;
/// LINKTYPE_RAW; 12 and 14 are the DLT_RAW values some BSDs write into files.
pub const RAW: LinkType = 101;
pub const RAW_BSD12: LinkType = 12;
pub const RAW_BSD14: LinkType = 14;
pub const LOOP: LinkType = 108;
pub const LINUX_SLL: LinkType = 113;
pub const IPV4: LinkType = 228;
pub const IPV6: LinkType = 229;
/// Linux NFLOG (what `tcpdump -i nflog` writes): a 4-byte header, then TLVs.
pub const NFLOG: LinkType = 239;
pub const LINUX_SLL2: LinkType = 276;

/// Short human name of a link type, for reports.
pub fn name(lt: LinkType) -> &'static str {
    match lt {
        NULL => "null",
        ETHERNET => "ethernet",
        RAW | RAW_BSD12 | RAW_BSD14 => "raw-ip",
        LOOP => "loop",
        NON_PACKET => "pcapng-non-packet",
        LINUX_SLL => "linux-sll",
        IPV4 => "ipv4",
        IPV6 => "ipv6",
        LINUX_SLL2 => "linux-sll2",
        PPP | PPP_HDLC => "ppp",
        NFLOG => "nflog",
        _ => "unsupported",
    }
}

/// Linux `sll_header`: pkttype(2) hatype(2) halen(2) addr(8) protocol(2).
const SLL_LEN: usize = 16;
/// Linux `sll2_header`: protocol(2) reserved(2) ifindex(4) hatype(2) pkttype(1) halen(1) addr(8).
const SLL2_LEN: usize = 20;

/// BSD address families in the 4-byte null/loop header (tcpdump print-null.c): IPv4 is 2
/// everywhere; IPv6 is 24 (NetBSD/OpenBSD), 28 (FreeBSD), 30 (macOS), and 10 on Linux.
fn af_is_ipv4(af: u32) -> bool {
    af == 2
}
fn af_is_ipv6(af: u32) -> bool {
    matches!(af, 10 | 24 | 28 | 30)
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// Slices the frame from its link layer down. Also returns the Linux packet type when the link
/// layer carries one (0 = to us, 4 = outgoing).
pub fn slice(lt: LinkType, data: &[u8]) -> Result<(LaxSlicedPacket<'_>, Option<u16>), Undecoded> {
    match lt {
        ETHERNET => LaxSlicedPacket::from_ethernet(data)
            .map(|p| (p, None))
            .map_err(|_| Undecoded::LinkTruncated),
        RAW | RAW_BSD12 | RAW_BSD14 | IPV4 | IPV6 => from_ip(data).map(|p| (p, None)),
        LINUX_SLL => {
            if data.len() < SLL_LEN {
                return Err(Undecoded::LinkTruncated);
            }
            let proto = be16(data, 14);
            let p = LaxSlicedPacket::from_ether_type(EtherType(proto), &data[SLL_LEN..]);
            Ok((p, Some(be16(data, 0))))
        }
        LINUX_SLL2 => {
            if data.len() < SLL2_LEN {
                return Err(Undecoded::LinkTruncated);
            }
            let proto = be16(data, 0);
            let p = LaxSlicedPacket::from_ether_type(EtherType(proto), &data[SLL2_LEN..]);
            Ok((p, Some(data[10] as u16)))
        }
        NULL | LOOP => {
            if data.len() < 4 {
                return Err(Undecoded::LinkTruncated);
            }
            let raw = [data[0], data[1], data[2], data[3]];
            // NULL is in the capturing host's byte order, LOOP in network order; accept both.
            let (le, be) = (u32::from_le_bytes(raw), u32::from_be_bytes(raw));
            let payload = &data[4..];
            let et = if af_is_ipv4(le) || af_is_ipv4(be) {
                EtherType::IPV4
            } else if af_is_ipv6(le) || af_is_ipv6(be) {
                EtherType::IPV6
            } else {
                // Not IP: decoded as far as it goes.
                EtherType(0)
            };
            Ok((LaxSlicedPacket::from_ether_type(et, payload), None))
        }
        PPP | PPP_HDLC => ppp(data).map(|p| (p, None)),
        NFLOG => nflog(data).map(|p| (p, None)),
        UNKNOWN_INTERFACE => Err(Undecoded::UnknownInterface),
        NON_PACKET => Err(Undecoded::NonPacket),
        other => Err(Undecoded::UnsupportedLinkType(other)),
    }
}

/// PPP: optional 0xff 0x03, then the protocol, one byte when compressed (odd first byte, RFC
/// 1661 §6.5) or two; 0x21 is IPv4, 0x57 IPv6. Other protocols (LCP, IPCP, ...) are not IP.
fn ppp(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Undecoded> {
    let body = data.strip_prefix(&[0xff, 0x03]).unwrap_or(data);
    let first = *body.first().ok_or(Undecoded::LinkTruncated)?;
    let (proto, rest) = if first & 1 == 1 {
        (u16::from(first), &body[1..])
    } else {
        let b = body.get(..2).ok_or(Undecoded::LinkTruncated)?;
        (u16::from_be_bytes([b[0], b[1]]), &body[2..])
    };
    let et = match proto {
        0x21 => EtherType::IPV4,
        0x57 => EtherType::IPV6,
        _ => EtherType(0),
    };
    Ok(LaxSlicedPacket::from_ether_type(et, rest))
}

/// TLV type of the packet payload (NFULA_PAYLOAD, include/uapi/linux/netfilter/nfnetlink_log.h).
const NFULA_PAYLOAD: u16 = 9;

/// NFLOG: family(1) version(1) resource id(2, network order), then TLVs of length(2) type(2)
/// value, padded to 4 bytes. TLV fields are in the capturing host's byte order (tcpdump
/// print-nflog.c); a length that fits the frame in one order decides it, little-endian first.
fn nflog(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Undecoded> {
    let family = *data.first().ok_or(Undecoded::LinkTruncated)?;
    for le in [true, false] {
        if let Some(payload) = nflog_payload(data, le) {
            let et = match family {
                2 => EtherType::IPV4,
                10 => EtherType::IPV6,
                _ => EtherType(0),
            };
            return Ok(LaxSlicedPacket::from_ether_type(et, payload));
        }
    }
    Err(Undecoded::LinkTruncated)
}

fn nflog_payload(data: &[u8], le: bool) -> Option<&[u8]> {
    let mut at = 4;
    while let Some(h) = data.get(at..at + 4) {
        let num = |a, b| {
            if le {
                u16::from_le_bytes([a, b])
            } else {
                u16::from_be_bytes([a, b])
            }
        };
        let (len, kind) = (usize::from(num(h[0], h[1])), num(h[2], h[3]));
        if len < 4 {
            return None;
        }
        let value = data.get(at + 4..at + len)?;
        if kind == NFULA_PAYLOAD {
            return Some(value);
        }
        at += len.div_ceil(4) * 4;
    }
    None
}

fn from_ip(data: &[u8]) -> Result<LaxSlicedPacket<'_>, Undecoded> {
    if data.is_empty() {
        return Err(Undecoded::LinkTruncated);
    }
    LaxSlicedPacket::from_ip(data).map_err(|_| Undecoded::IpInvalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const IPV4_UDP: [u8; 28] = [
        0x45, 0x00, 0x00, 0x1c, // v4, ihl 5, total length 28
        0x00, 0x01, 0x40, 0x00, // id 1, DF
        0x40, 0x11, 0x00, 0x00, // ttl 64, UDP, checksum
        10, 0, 0, 1,            // src
        10, 0, 0, 2,            // dst
        0x30, 0x39, 0x00, 0x35, // 12345 -> 53
        0x00, 0x08, 0x00, 0x00, // length 8, checksum 0
    ];

    #[test]
    fn sll2_protocol_and_pkttype() {
        let mut f = vec![0u8; SLL2_LEN];
        f[0..2].copy_from_slice(&0x0800u16.to_be_bytes()); // protocol IPv4
        f[10] = 4; // outgoing
        f.extend_from_slice(&IPV4_UDP);
        let (p, pkttype) = slice(LINUX_SLL2, &f).expect("decodes");
        assert_eq!(pkttype, Some(4));
        assert!(p.transport.is_some());
    }

    #[test]
    fn null_both_byte_orders() {
        for hdr in [[2u8, 0, 0, 0], [0, 0, 0, 2]] {
            let mut f = hdr.to_vec();
            f.extend_from_slice(&IPV4_UDP);
            let (p, _) = slice(NULL, &f).expect("decodes");
            assert!(p.net.is_some());
        }
    }

    #[test]
    fn ppp_with_and_without_hdlc_bytes() {
        for hdr in [&[0xff, 0x03, 0x00, 0x21][..], &[0x00, 0x21], &[0x21]] {
            let mut f = hdr.to_vec();
            f.extend_from_slice(&IPV4_UDP);
            let (p, _) = slice(PPP, &f).expect("decodes");
            assert!(p.transport.is_some(), "{hdr:?}");
        }
        let lcp = [0xff, 0x03, 0xc0, 0x21, 0x01];
        assert!(slice(PPP, &lcp).expect("not IP").0.net.is_none());
    }

    #[test]
    fn nflog_payload_tlv_in_either_byte_order() {
        for le in [true, false] {
            let tlv = |len: u16, kind: u16| {
                let (l, k) = if le {
                    (len.to_le_bytes(), kind.to_le_bytes())
                } else {
                    (len.to_be_bytes(), kind.to_be_bytes())
                };
                [l[0], l[1], k[0], k[1]]
            };
            let mut f = vec![2, 0, 0, 0]; // AF_INET, version 0, resource 0
            f.extend_from_slice(&tlv(8, 1)); // NFULA_PACKET_HDR, 4 value bytes
            f.extend_from_slice(&[0x08, 0x00, 0x01, 0x00]);
            f.extend_from_slice(&tlv(6, 10)); // a prefix "a\0", padded to 8
            f.extend_from_slice(&[b'a', 0, 0, 0]);
            f.extend_from_slice(&tlv(4 + IPV4_UDP.len() as u16, NFULA_PAYLOAD));
            f.extend_from_slice(&IPV4_UDP);
            let (p, _) = slice(NFLOG, &f).expect("decodes");
            assert!(p.transport.is_some(), "le {le}");
        }
        assert_eq!(
            slice(NFLOG, &[2, 0, 0, 0]).err(),
            Some(Undecoded::LinkTruncated)
        );
    }

    #[test]
    fn truncation_sweep_never_panics() {
        let mut f = vec![0u8; SLL2_LEN];
        f[0..2].copy_from_slice(&0x0800u16.to_be_bytes());
        f.extend_from_slice(&IPV4_UDP);
        for lt in [
            ETHERNET, RAW, LINUX_SLL, LINUX_SLL2, NULL, LOOP, PPP, NFLOG, 9999,
        ] {
            for n in 0..f.len() {
                let _ = slice(lt, &f[..n]);
            }
        }
        assert_eq!(
            slice(LINUX_SLL2, &f[..19]).err(),
            Some(Undecoded::LinkTruncated)
        );
        assert_eq!(
            slice(9999, &f).err(),
            Some(Undecoded::UnsupportedLinkType(9999))
        );
    }
}
