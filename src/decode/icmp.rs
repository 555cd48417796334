//! Checked view of an ICMP or ICMPv6 error message and the packet it quotes: destination
//! unreachable, fragmentation needed / packet too big, time exceeded (RFC 792, RFC 4443 §3).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |     Type      |     Code      |          Checksum             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  unused / next-hop MTU (RFC 1191) / MTU (RFC 4443 §3.2)       |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  the invoking packet: its IP header and at least the first 8  |
//! |  bytes of its payload (RFC 792), as much as fits (RFC 1812    |
//! |  §4.3.2.3: up to 576 bytes; RFC 4443 §2.4 (c): up to 1280)    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! The quoted packet is decoded as far as it goes: its addresses when its IP header is there,
//! its ports when 4 more bytes are (the first 8 bytes of UDP and TCP both start with them).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::Truncated;

mod field {
    use std::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    /// ICMPv4 type 3 code 4: next-hop MTU (RFC 1191 §4) in the low 16 bits; ICMPv6 type 2:
    /// the 32-bit MTU (RFC 4443 §3.2).
    pub const REST: Range<usize> = 4..8;
    pub const QUOTE: usize = 8;
}

/// Length of the fixed header in bytes.
pub const HEADER_LEN: usize = field::QUOTE;

/// What an ICMP error says went wrong, in the groups that tell a user different things.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IcmpKind {
    NetUnreachable,
    HostUnreachable,
    ProtocolUnreachable,
    PortUnreachable,
    /// Communication administratively prohibited (a filter said no).
    AdminProhibited,
    /// Another destination unreachable code (source route failed, host isolated, ...).
    OtherUnreachable,
    /// ICMPv4 fragmentation needed and DF set (RFC 792, RFC 1191); ICMPv6 packet too big.
    PacketTooBig,
    /// TTL / hop limit exceeded in transit, or fragment reassembly time exceeded.
    TimeExceeded,
}

impl IcmpKind {
    /// Every kind, in the order of [`IcmpKind::index`].
    pub const ALL: [IcmpKind; 8] = [
        IcmpKind::NetUnreachable,
        IcmpKind::HostUnreachable,
        IcmpKind::ProtocolUnreachable,
        IcmpKind::PortUnreachable,
        IcmpKind::AdminProhibited,
        IcmpKind::OtherUnreachable,
        IcmpKind::PacketTooBig,
        IcmpKind::TimeExceeded,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    /// Stable kebab-case name (JSON keys).
    pub fn as_str(self) -> &'static str {
        match self {
            IcmpKind::NetUnreachable => "net-unreachable",
            IcmpKind::HostUnreachable => "host-unreachable",
            IcmpKind::ProtocolUnreachable => "protocol-unreachable",
            IcmpKind::PortUnreachable => "port-unreachable",
            IcmpKind::AdminProhibited => "admin-prohibited",
            IcmpKind::OtherUnreachable => "other-unreachable",
            IcmpKind::PacketTooBig => "packet-too-big",
            IcmpKind::TimeExceeded => "time-exceeded",
        }
    }

    /// In words, for messages.
    pub fn describe(self) -> &'static str {
        match self {
            IcmpKind::NetUnreachable => "network unreachable",
            IcmpKind::HostUnreachable => "host unreachable",
            IcmpKind::ProtocolUnreachable => "protocol unreachable",
            IcmpKind::PortUnreachable => "port unreachable",
            IcmpKind::AdminProhibited => "administratively prohibited",
            IcmpKind::OtherUnreachable => "destination unreachable",
            IcmpKind::PacketTooBig => "packet too big",
            IcmpKind::TimeExceeded => "time exceeded",
        }
    }

    /// The kind of an ICMPv4 message, for the error types that quote a packet.
    fn of_v4(icmp_type: u8, code: u8) -> Option<IcmpKind> {
        Some(match (icmp_type, code) {
            // RFC 792 codes 0-5, RFC 1122 §3.2.2.1 codes 6-12, RFC 1812 §5.2.7.1 codes 13-15.
            (3, 0 | 6 | 11) => IcmpKind::NetUnreachable,
            (3, 1 | 7 | 12) => IcmpKind::HostUnreachable,
            (3, 2) => IcmpKind::ProtocolUnreachable,
            (3, 3) => IcmpKind::PortUnreachable,
            (3, 4) => IcmpKind::PacketTooBig,
            (3, 9 | 10 | 13) => IcmpKind::AdminProhibited,
            (3, _) => IcmpKind::OtherUnreachable,
            (11, _) => IcmpKind::TimeExceeded,
            _ => return None,
        })
    }

    /// The kind of an ICMPv6 message (RFC 4443 §3.1-3.3).
    fn of_v6(icmp_type: u8, code: u8) -> Option<IcmpKind> {
        Some(match (icmp_type, code) {
            (1, 0) => IcmpKind::NetUnreachable,
            // 1: administratively prohibited, 5: source address failed policy, 6: reject route.
            (1, 1 | 5 | 6) => IcmpKind::AdminProhibited,
            (1, 3) => IcmpKind::HostUnreachable,
            (1, 4) => IcmpKind::PortUnreachable,
            (1, _) => IcmpKind::OtherUnreachable,
            (2, _) => IcmpKind::PacketTooBig,
            (3, _) => IcmpKind::TimeExceeded,
            _ => return None,
        })
    }
}

/// An ICMP or ICMPv6 message over a byte slice that holds at least [`HEADER_LEN`] bytes.
#[derive(Debug, Clone, Copy)]
pub struct IcmpMessage<'a> {
    buffer: &'a [u8],
}

impl<'a> IcmpMessage<'a> {
    /// Wraps `buffer` after checking that the fixed header is present.
    pub fn new_checked(buffer: &'a [u8]) -> Result<Self, Truncated> {
        if buffer.len() < HEADER_LEN {
            return Err(Truncated);
        }
        Ok(IcmpMessage { buffer })
    }

    pub fn icmp_type(&self) -> u8 {
        self.buffer[field::TYPE]
    }
    pub fn code(&self) -> u8 {
        self.buffer[field::CODE]
    }
    pub fn checksum(&self) -> u16 {
        let b = &self.buffer[field::CHECKSUM];
        u16::from_be_bytes([b[0], b[1]])
    }
    /// The second word: the MTU of a packet too big / fragmentation needed message.
    pub fn rest(&self) -> u32 {
        let b = &self.buffer[field::REST];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }
    /// The quoted invoking packet, as much as the message carries.
    pub fn quote(&self) -> &'a [u8] {
        &self.buffer[field::QUOTE..]
    }
}

/// The transport ports of a quoted packet (the first 4 bytes of its UDP or TCP header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotedPorts {
    pub src: u16,
    pub dst: u16,
}

/// What the quoted invoking packet says: the original direction (`src` sent it to `dst`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quoted {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// Transport protocol number (after IPv6 extension headers).
    pub protocol: u8,
    /// Absent when the quote ends before them, or quotes a non-first fragment.
    pub ports: Option<QuotedPorts>,
}

/// The facts of one ICMP error message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpFacts {
    pub kind: IcmpKind,
    pub icmp_type: u8,
    pub code: u8,
    /// The MTU a packet too big / fragmentation needed message reports.
    pub mtu: Option<u32>,
    /// The quoted packet, when its IP header is in the message.
    pub quoted: Option<Quoted>,
}

/// The facts of an ICMP (`ip_version` 4) or ICMPv6 (6) message that reports an error about a
/// packet; `None` for other messages (echo, neighbour discovery, ...) and for a cut header.
pub fn error_facts(ip_version: u8, icmp: &[u8]) -> Option<IcmpFacts> {
    let m = IcmpMessage::new_checked(icmp).ok()?;
    let (t, c) = (m.icmp_type(), m.code());
    let kind = match ip_version {
        4 => IcmpKind::of_v4(t, c)?,
        _ => IcmpKind::of_v6(t, c)?,
    };
    let mtu = match kind {
        // The next-hop MTU is the low 16 bits; 0 from pre-RFC 1191 routers means unknown.
        IcmpKind::PacketTooBig if ip_version == 4 => Some(m.rest() & 0xffff).filter(|&v| v > 0),
        IcmpKind::PacketTooBig => Some(m.rest()),
        _ => None,
    };
    Some(IcmpFacts {
        kind,
        icmp_type: t,
        code: c,
        mtu,
        quoted: quoted(m.quote()),
    })
}

/// The quoted packet's addresses, protocol and ports, as far as the quote goes.
pub fn quoted(q: &[u8]) -> Option<Quoted> {
    match q.first()? >> 4 {
        4 => quoted_v4(q),
        6 => quoted_v6(q),
        _ => None,
    }
}

fn ports(transport: Option<&[u8]>) -> Option<QuotedPorts> {
    let t = transport?.get(..4)?;
    Some(QuotedPorts {
        src: u16::from_be_bytes([t[0], t[1]]),
        dst: u16::from_be_bytes([t[2], t[3]]),
    })
}

/// IPv4 header (RFC 791 §3.1): IHL at byte 0, fragment offset 6..8, protocol 9, addresses 12..20.
fn quoted_v4(q: &[u8]) -> Option<Quoted> {
    let h = q.get(..20)?;
    let ihl = usize::from(h[0] & 0x0f) * 4;
    let frag_offset = u16::from_be_bytes([h[6], h[7]]) & 0x1fff;
    let addr = |r: std::ops::Range<usize>| {
        let b = &h[r];
        IpAddr::V4(Ipv4Addr::new(b[0], b[1], b[2], b[3]))
    };
    let first = ihl >= 20 && frag_offset == 0;
    Some(Quoted {
        src: addr(12..16),
        dst: addr(16..20),
        protocol: h[9],
        ports: if first { ports(q.get(ihl..)) } else { None },
    })
}

/// IPv6 header (RFC 8200 §3): next header at 6, addresses 8..40, then extension headers.
fn quoted_v6(q: &[u8]) -> Option<Quoted> {
    let h = q.get(..40)?;
    let addr = |r: std::ops::Range<usize>| {
        let mut b = [0u8; 16];
        b.copy_from_slice(&h[r]);
        IpAddr::V6(Ipv6Addr::from(b))
    };
    let (protocol, transport) = skip_extensions(h[6], q.get(40..).unwrap_or(&[]));
    Some(Quoted {
        src: addr(8..24),
        dst: addr(24..40),
        protocol,
        ports: ports(transport),
    })
}

/// Extension headers a quoted IPv6 packet may carry before its transport header; at most this
/// many are walked, so that a hostile quote cannot loop.
const MAX_EXTENSIONS: usize = 8;

/// The transport protocol and its bytes after the IPv6 extension headers (RFC 8200 §4); no bytes
/// when the quote ends inside them or quotes a non-first fragment.
fn skip_extensions(mut next: u8, mut rest: &[u8]) -> (u8, Option<&[u8]>) {
    for _ in 0..MAX_EXTENSIONS {
        let len = match next {
            // hop-by-hop, routing, destination options: 8-byte units beyond the first 8.
            0 | 43 | 60 => rest.get(1).map(|&n| (usize::from(n) + 1) * 8),
            // fragment: 8 bytes; a non-first fragment has no transport header.
            44 => match rest.get(2..4) {
                Some(o) if u16::from_be_bytes([o[0], o[1]]) >> 3 != 0 => return (next, None),
                Some(_) => Some(8),
                None => None,
            },
            _ => return (next, Some(rest)),
        };
        match (rest.first(), len.and_then(|l| rest.get(l..))) {
            (Some(&n), Some(r)) => (next, rest) = (n, r),
            _ => return (next, None),
        }
    }
    (next, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ICMP port unreachable from 10.0.0.2 quoting a UDP datagram 10.0.0.1:51000 → 10.0.0.2:443.
    #[rustfmt::skip]
    const PORT_UNREACHABLE: [u8; 36] = [
        0x03, 0x03, 0xab, 0xcd,             // type 3 (unreachable), code 3 (port), checksum
        0x00, 0x00, 0x00, 0x00,             // unused
        0x45, 0x00, 0x04, 0xcc,             // quoted IPv4: IHL 5, total length 1228
        0x30, 0x00, 0x40, 0x00,             // ID, DF
        0x40, 0x11, 0x00, 0x00,             // TTL 64, protocol 17 (UDP), checksum
        10, 0, 0, 1,                        // source
        10, 0, 0, 2,                        // destination
        0xc7, 0x38, 0x01, 0xbb,             // UDP ports 51000 → 443
        0x04, 0xb8, 0x12, 0x34,             // UDP length, checksum
    ];

    #[test]
    fn fields() {
        let m = IcmpMessage::new_checked(&PORT_UNREACHABLE).expect("8 bytes present");
        assert_eq!((m.icmp_type(), m.code(), m.checksum()), (3, 3, 0xabcd));
        assert_eq!(m.rest(), 0);
        assert_eq!(m.quote().len(), 28);
        let f = error_facts(4, &PORT_UNREACHABLE).expect("an error message");
        assert_eq!(f.kind, IcmpKind::PortUnreachable);
        assert_eq!(f.mtu, None);
        let q = f.quoted.expect("quoted IP header");
        assert_eq!(q.src, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(q.dst, IpAddr::V4(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(q.protocol, 17);
        assert_eq!(
            q.ports,
            Some(QuotedPorts {
                src: 51000,
                dst: 443
            })
        );
    }

    #[test]
    fn truncation_sweep() {
        for n in 0..HEADER_LEN {
            assert!(
                IcmpMessage::new_checked(&PORT_UNREACHABLE[..n]).is_err(),
                "len {n}"
            );
            assert!(error_facts(4, &PORT_UNREACHABLE[..n]).is_none(), "len {n}");
        }
        // The kind is known from 8 bytes on, the addresses from 28, the ports from 32.
        for n in HEADER_LEN..=PORT_UNREACHABLE.len() {
            let f = error_facts(4, &PORT_UNREACHABLE[..n]).expect("header present");
            assert_eq!(f.kind, IcmpKind::PortUnreachable, "len {n}");
            assert_eq!(f.quoted.is_some(), n >= 28, "len {n}");
            assert_eq!(f.quoted.and_then(|q| q.ports).is_some(), n >= 32, "len {n}");
        }
    }

    #[test]
    fn fragmentation_needed_carries_the_mtu() {
        let mut m = PORT_UNREACHABLE;
        m[1] = 4;
        m[6..8].copy_from_slice(&1400u16.to_be_bytes());
        let f = error_facts(4, &m).expect("an error message");
        assert_eq!((f.kind, f.mtu), (IcmpKind::PacketTooBig, Some(1400)));
    }

    #[test]
    fn a_quoted_later_fragment_has_no_ports() {
        let mut m = PORT_UNREACHABLE;
        m[14..16].copy_from_slice(&[0x00, 0xb9]); // fragment offset 185 (1480 bytes)
        let q = error_facts(4, &m).and_then(|f| f.quoted).expect("quoted");
        assert_eq!(q.ports, None);
    }

    #[test]
    fn not_errors() {
        let mut m = PORT_UNREACHABLE;
        m[0] = 8; // echo request
        assert!(error_facts(4, &m).is_none());
        m[0] = 128; // ICMPv6 echo request
        assert!(error_facts(6, &m).is_none());
    }

    #[test]
    fn kinds() {
        let k4 = |t, c| IcmpKind::of_v4(t, c);
        assert_eq!(k4(3, 0), Some(IcmpKind::NetUnreachable));
        assert_eq!(k4(3, 1), Some(IcmpKind::HostUnreachable));
        assert_eq!(k4(3, 2), Some(IcmpKind::ProtocolUnreachable));
        assert_eq!(k4(3, 10), Some(IcmpKind::AdminProhibited));
        assert_eq!(k4(3, 13), Some(IcmpKind::AdminProhibited));
        assert_eq!(k4(3, 5), Some(IcmpKind::OtherUnreachable));
        assert_eq!(k4(11, 0), Some(IcmpKind::TimeExceeded));
        let k6 = |t, c| IcmpKind::of_v6(t, c);
        assert_eq!(k6(1, 4), Some(IcmpKind::PortUnreachable));
        assert_eq!(k6(1, 3), Some(IcmpKind::HostUnreachable));
        assert_eq!(k6(1, 1), Some(IcmpKind::AdminProhibited));
        assert_eq!(k6(3, 0), Some(IcmpKind::TimeExceeded));
        for (i, k) in IcmpKind::ALL.iter().enumerate() {
            assert_eq!(k.index(), i);
        }
    }

    /// ICMPv6 packet too big (MTU 1280) quoting UDP [2001:db8::1]:5000 → [2001:db8::2]:443
    /// behind a destination options header.
    #[test]
    fn icmpv6_packet_too_big_through_an_extension_header() {
        #[rustfmt::skip]
        let mut m = vec![
            0x02, 0x00, 0x00, 0x00,       // type 2 (packet too big), code 0, checksum
            0x00, 0x00, 0x05, 0x00,       // MTU 1280
            0x60, 0x00, 0x00, 0x00,       // quoted IPv6
            0x05, 0xd0, 60, 64,           // payload length, next header: destination options
        ];
        m.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        m.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        m.extend_from_slice(&[17, 0, 1, 4, 0, 0, 0, 0]); // destination options: next UDP
        m.extend_from_slice(&[0x13, 0x88, 0x01, 0xbb, 0, 8, 0, 0]); // UDP 5000 → 443
        let f = error_facts(6, &m).expect("an error message");
        assert_eq!((f.kind, f.mtu), (IcmpKind::PacketTooBig, Some(1280)));
        let q = f.quoted.expect("quoted");
        assert_eq!(q.protocol, 17);
        assert_eq!(
            q.ports,
            Some(QuotedPorts {
                src: 5000,
                dst: 443
            })
        );
        // Cut inside the extension header: addresses, no ports.
        let q = error_facts(6, &m[..52])
            .and_then(|f| f.quoted)
            .expect("quoted");
        assert_eq!(q.ports, None);
    }
}
