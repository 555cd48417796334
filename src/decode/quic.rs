//! Checked views of QUIC packet headers in a UDP payload: the version-independent invariants
//! (RFC 8999), the long header's packet types (RFC 9000 §17.2, RFC 9369 §3.2 for v2), the
//! short header (RFC 9000 §17.3) and the packets coalesced in one datagram (RFC 9000 §12.2).
//!
//! ```text
//! Long Header Packet {                      Short Header Packet {
//!   Header Form (1) = 1,                      Header Form (1) = 0,
//!   Fixed Bit (1) = 1,                        Fixed Bit (1) = 1,
//!   Long Packet Type (2),                     Spin Bit (1), …,
//!   Type-Specific Bits (4),                   Destination Connection ID (0..160),
//!   Version (32),                             Packet Number (8..32), Packet Payload (..)
//!   Destination Connection ID Length (8),   }
//!   Destination Connection ID (0..160),
//!   Source Connection ID Length (8),
//!   Source Connection ID (0..160),
//!   [Initial: Token Length (i), Token (..)]
//!   [Initial, 0-RTT, Handshake: Length (i), Packet Number (8..32), Payload (..)]
//! }
//! ```
//!
//! Header protection hides the packet number and the low bits of the first byte; everything
//! read here is in the clear.

use super::Truncated;

/// QUIC version 1 (RFC 9000).
pub const V1: u32 = 0x0000_0001;
/// QUIC version 2 (RFC 9369), whose long packet types are numbered differently.
pub const V2: u32 = 0x6b33_43cf;
/// The last draft seen in the wild (draft-ietf-quic-transport-29), laid out as v1.
pub const DRAFT_29: u32 = 0xff00_001d;

/// The longest connection ID version 1 allows (RFC 9000 §17.2); the invariants allow 255.
pub const MAX_CID_LEN: usize = 20;

/// The type of a long-header packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LongType {
    Initial,
    ZeroRtt,
    Handshake,
    Retry,
}

impl LongType {
    /// The type from the first byte's type bits, by version (RFC 9369 §3.2 reorders them).
    fn of(first: u8, version: u32) -> LongType {
        let bits = (first >> 4) & 3;
        let bits = if version == V2 { (bits + 3) % 4 } else { bits };
        match bits {
            0 => LongType::Initial,
            1 => LongType::ZeroRtt,
            2 => LongType::Handshake,
            _ => LongType::Retry,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LongType::Initial => "initial",
            LongType::ZeroRtt => "0-rtt",
            LongType::Handshake => "handshake",
            LongType::Retry => "retry",
        }
    }
}

/// Whether the version's packet layout is one this decoder knows (v1, v2, draft-29).
pub fn known_version(version: u32) -> bool {
    matches!(version, V1 | V2 | DRAFT_29)
}

/// A version reserved for negotiation tests (`0x?a?a?a?a`, RFC 9000 §15): a client offers it
/// to see that the server answers with Version Negotiation.
pub fn reserved_version(version: u32) -> bool {
    version & 0x0f0f_0f0f == 0x0a0a_0a0a
}

/// One QUIC packet at the start of `buffer`, as far as it can be read without keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuicPacket<'a> {
    /// Version 0: the server lists the versions it supports (RFC 8999 §6).
    VersionNegotiation {
        dcid: &'a [u8],
        scid: &'a [u8],
    },
    Long(LongHeader<'a>),
    /// A short header (1-RTT) packet: it runs to the end of the datagram; its DCID length is
    /// not in the packet.
    Short {
        first: u8,
    },
    /// A long header of a reserved version ([`reserved_version`]): only the invariant fields
    /// can be read, and it runs to the end of the datagram.
    Reserved {
        version: u32,
        dcid: &'a [u8],
        scid: &'a [u8],
    },
}

/// A long-header packet of a known version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LongHeader<'a> {
    pub first: u8,
    pub version: u32,
    pub kind: LongType,
    pub dcid: &'a [u8],
    pub scid: &'a [u8],
    /// The Initial's token (empty for other types).
    pub token: &'a [u8],
    /// Offset of the (protected) packet number from the packet's start.
    pub pn_offset: usize,
    /// The packet's length from its start: up to the end of its payload (a Retry, and a long
    /// header of an unknown version, take the rest of the datagram).
    pub len: usize,
}

/// Reads a variable-length integer (RFC 9000 §16) at `*at`, advancing it.
pub fn varint(b: &[u8], at: &mut usize) -> Result<u64, Truncated> {
    let first = *b.get(*at).ok_or(Truncated)?;
    let len = 1usize << (first >> 6);
    let bytes = b.get(*at..*at + len).ok_or(Truncated)?;
    let mut v = u64::from(first & 0x3f);
    for &x in &bytes[1..] {
        v = (v << 8) | u64::from(x);
    }
    *at += len;
    Ok(v)
}

/// A length-prefixed connection ID at `*at` (one length byte), advancing past it.
fn cid<'a>(b: &'a [u8], at: &mut usize) -> Result<&'a [u8], Truncated> {
    let len = usize::from(*b.get(*at).ok_or(Truncated)?);
    let id = b.get(*at + 1..*at + 1 + len).ok_or(Truncated)?;
    *at += 1 + len;
    Ok(id)
}

/// The packet at the start of `b`. Not QUIC (the fixed bit clear on a version-1-like header,
/// an unknown version, a connection ID longer than the version allows): `None`.
pub fn packet(b: &[u8]) -> Result<Option<QuicPacket<'_>>, Truncated> {
    let first = *b.first().ok_or(Truncated)?;
    if first & 0x80 == 0 {
        // RFC 9000 §17.3: the fixed bit is 1 (RFC 9287 lets peers grease it; we do not guess).
        return Ok((first & 0x40 != 0).then_some(QuicPacket::Short { first }));
    }
    let version = u32::from_be_bytes(
        b.get(1..5)
            .ok_or(Truncated)?
            .try_into()
            .map_err(|_| Truncated)?,
    );
    let mut at = 5;
    let dcid = cid(b, &mut at)?;
    let scid = cid(b, &mut at)?;
    if version == 0 {
        return Ok(Some(QuicPacket::VersionNegotiation { dcid, scid }));
    }
    if reserved_version(version) && first & 0x40 != 0 {
        return Ok(Some(QuicPacket::Reserved {
            version,
            dcid,
            scid,
        }));
    }
    if !known_version(version)
        || first & 0x40 == 0
        || dcid.len() > MAX_CID_LEN
        || scid.len() > MAX_CID_LEN
    {
        return Ok(None);
    }
    let kind = LongType::of(first, version);
    let mut token: &[u8] = &[];
    if kind == LongType::Initial {
        let n = usize::try_from(varint(b, &mut at)?).map_err(|_| Truncated)?;
        token = b
            .get(at..at.checked_add(n).ok_or(Truncated)?)
            .ok_or(Truncated)?;
        at += n;
    }
    // A Retry has no Length: it takes the rest of the datagram.
    let (pn_offset, len) = if kind == LongType::Retry {
        (at, b.len())
    } else {
        let length = usize::try_from(varint(b, &mut at)?).map_err(|_| Truncated)?;
        let len = at
            .checked_add(length)
            .filter(|&l| l <= b.len())
            .ok_or(Truncated)?;
        (at, len)
    };
    Ok(Some(QuicPacket::Long(LongHeader {
        first,
        version,
        kind,
        dcid,
        scid,
        token,
        pn_offset,
        len,
    })))
}

/// The QUIC packets coalesced in one UDP payload (RFC 9000 §12.2), in order. Stops at the first
/// that is not QUIC or is cut short; a short header packet is always the last.
pub fn packets(payload: &[u8]) -> Packets<'_> {
    Packets { rest: payload }
}

/// Iterator of [`packets`]: each item is the packet and the bytes it spans.
pub struct Packets<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for Packets<'a> {
    type Item = (QuicPacket<'a>, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        // Padding after the last packet (zero bytes) is not a packet.
        if self.rest.first().is_none_or(|&b| b == 0) {
            return None;
        }
        let p = packet(self.rest).ok().flatten()?;
        let len = match p {
            QuicPacket::Long(h) => h.len,
            QuicPacket::VersionNegotiation { .. }
            | QuicPacket::Short { .. }
            | QuicPacket::Reserved { .. } => self.rest.len(),
        };
        let (this, rest) = self.rest.split_at(len.min(self.rest.len()));
        self.rest = rest;
        Some((p, this))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A v1 client Initial: first byte, version, DCID, SCID, token, length, 1 byte of PN and
    /// 2 of payload; then a Handshake packet coalesced behind it.
    const COALESCED: &[u8] = &[
        0xc0, // long header, fixed bit, type 0 (Initial), PN length 1
        0x00, 0x00, 0x00, 0x01, // version 1
        0x04, 0xaa, 0xbb, 0xcc, 0xdd, // DCID (4)
        0x02, 0x11, 0x22, // SCID (2)
        0x01, 0x77, // token length 1, token
        0x03, // length 3 (PN + payload)
        0x00, 0x01, 0x02, // PN, payload
        0xe0, // long header, type 2 (Handshake)
        0x00, 0x00, 0x00, 0x01, 0x00, 0x00, // version 1, empty CIDs
        0x40, 0x02, // length 2 (a two-byte varint)
        0x09, 0x09,
    ];

    #[test]
    fn coalesced_packets_are_read_in_order() {
        let all: Vec<_> = packets(COALESCED).collect();
        assert_eq!(all.len(), 2);
        let QuicPacket::Long(a) = all[0].0 else {
            panic!("{:?}", all[0])
        };
        assert_eq!(a.kind, LongType::Initial);
        assert_eq!(
            (a.dcid, a.scid, a.token),
            (
                &[0xaa, 0xbb, 0xcc, 0xdd][..],
                &[0x11, 0x22][..],
                &[0x77][..]
            )
        );
        assert_eq!((a.pn_offset, a.len, all[0].1.len()), (16, 19, 19));
        let QuicPacket::Long(b) = all[1].0 else {
            panic!("{:?}", all[1])
        };
        assert_eq!((b.kind, b.len), (LongType::Handshake, 11));
    }

    #[test]
    fn version_2_numbers_its_types_differently() {
        // RFC 9369 §3.2: 0b01 is Initial, 0b00 Retry.
        assert_eq!(LongType::of(0xd0, V2), LongType::Initial);
        assert_eq!(LongType::of(0xc0, V2), LongType::Retry);
        assert_eq!(LongType::of(0xf0, V2), LongType::Handshake);
        assert_eq!(LongType::of(0xc0, V1), LongType::Initial);
    }

    #[test]
    fn version_negotiation_short_headers_and_strangers() {
        let vn = [0x80, 0, 0, 0, 0, 1, 0x01, 1, 0x02, 0, 0, 0, 1];
        assert_eq!(
            packet(&vn),
            Ok(Some(QuicPacket::VersionNegotiation {
                dcid: &[1],
                scid: &[2]
            }))
        );
        assert_eq!(
            packet(&[0x41, 1, 2]),
            Ok(Some(QuicPacket::Short { first: 0x41 }))
        );
        // DNS-like first byte: neither long nor fixed bit.
        assert_eq!(packet(&[0x12, 0x34]), Ok(None));
        // An unknown version is not decoded further; a reserved one only to its invariants.
        assert_eq!(packet(&[0xc0, 0x0b, 0x0a, 0x0a, 0x0a, 0, 0]), Ok(None));
        assert_eq!(
            packet(&[0xc0, 0x1a, 0x2a, 0x3a, 0x4a, 1, 7, 0]),
            Ok(Some(QuicPacket::Reserved {
                version: 0x1a2a3a4a,
                dcid: &[7],
                scid: &[]
            }))
        );
    }

    /// Every cut of a valid packet is an error or a shorter read, never a panic.
    #[test]
    fn truncation_sweep() {
        for n in 0..COALESCED.len() {
            let _ = packet(&COALESCED[..n]);
            let _ = packets(&COALESCED[..n]).count();
        }
        assert_eq!(packet(&COALESCED[..15]), Err(Truncated));
    }

    #[test]
    fn varints() {
        let mut at = 0;
        // RFC 9000 §A.1 examples.
        let b = [
            0xc2, 0x19, 0x7c, 0x5e, 0xff, 0x14, 0xe8, 0x8c, 0x9d, 0x7f, 0x3e, 0x7d, 0x25,
        ];
        assert_eq!(varint(&b, &mut at), Ok(151_288_809_941_952_652));
        assert_eq!(varint(&b, &mut at), Ok(494_878_333));
        assert_eq!(varint(&b, &mut at), Ok(37));
        assert_eq!(varint(&[0x40], &mut 0), Err(Truncated));
    }
}
