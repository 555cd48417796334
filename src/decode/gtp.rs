//! Checked view of a GTPv1-U header carrying user data (3GPP TS 29.281 §5.1, a G-PDU).
//!
//! ```text
//!   byte 0: Version(3) PT(1) (*)(1) E(1) S(1) PN(1)
//!   byte 1: Message Type (255 = G-PDU)
//!   byte 2-3: Length (bytes after the first 8)
//!   byte 4-7: Tunnel Endpoint Identifier
//!   when E, S or PN: Sequence Number(2), N-PDU Number(1), Next Extension Header Type(1)
//!   each extension header: Length(1, in 4-byte units), content, Next Extension Header Type(1)
//! ```
//!
//! Signalling messages (echo, error indication, end marker) carry no user packet and stay plain
//! UDP. A datagram on port 2152 is taken for GTP-U only when the version is 1, the length field
//! matches the UDP payload and the T-PDU starts like an IP header, so other traffic on that port
//! is never misread.

use super::Truncated;

/// IANA port of GTP-U.
pub const PORT: u16 = 2152;
const FIXED_LEN: usize = 8;
const MSG_G_PDU: u8 = 0xff;

/// A G-PDU: its TEID, flags and the user IP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GtpU<'a> {
    pub flags: u8,
    pub teid: u32,
    /// The T-PDU (an IPv4 or IPv6 packet, as far as it was captured).
    pub payload: &'a [u8],
}

/// Reads a GTP-U header from a UDP payload of `udp_len` bytes (from the IP length fields, so a
/// snaplen-cut capture still checks). `Ok(None)`: not a G-PDU carrying IP.
pub fn parse(p: &[u8], udp_len: u32) -> Result<Option<GtpU<'_>>, Truncated> {
    let fixed = p.get(..FIXED_LEN).ok_or(Truncated)?;
    let flags = fixed[0];
    let length = u32::from(u16::from_be_bytes([fixed[2], fixed[3]]));
    if flags >> 5 != 1 || flags & 0x10 == 0 || fixed[1] != MSG_G_PDU {
        return Ok(None);
    }
    if length + FIXED_LEN as u32 != udp_len {
        return Ok(None);
    }
    let teid = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
    let mut at = FIXED_LEN;
    if flags & 0x07 != 0 {
        let opt = p.get(at..at + 4).ok_or(Truncated)?;
        let mut next = opt[3];
        at += 4;
        // Each extension header is at least 4 bytes, so the walk ends within the datagram.
        while next != 0 {
            let units = *p.get(at).ok_or(Truncated)? as usize;
            if units == 0 {
                return Ok(None);
            }
            at += 4 * units;
            next = *p.get(at - 1).ok_or(Truncated)?;
        }
    }
    let payload = p.get(at..).ok_or(Truncated)?;
    match payload.first().map(|b| b >> 4) {
        Some(4 | 6) => Ok(Some(GtpU {
            flags,
            teid,
            payload,
        })),
        Some(_) => Ok(None),
        None => Err(Truncated),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const WITH_EXTENSION: [u8; 21] = [
        0x34,                   // version 1, PT, E
        0xff,                   // G-PDU
        0x00, 0x0d,             // length 13
        0x00, 0x00, 0x00, 0x2a, // TEID 42
        0x00, 0x00,             // sequence number
        0x00,                   // N-PDU number
        0x85,                   // next: PDU session container
        0x01, 0x00, 0x09,       // length 1 (4 bytes), content
        0x00,                   // next: none
        0x45, 0x00, 0x00, 0x14, // the T-PDU: an IPv4 header starts
        0x00,
    ];

    #[test]
    fn g_pdu_with_an_extension_header() {
        let g = parse(&WITH_EXTENSION, 21).expect("ok").expect("G-PDU");
        assert_eq!((g.flags, g.teid), (0x34, 42));
        assert_eq!(g.payload, &WITH_EXTENSION[16..]);
    }

    #[test]
    fn not_gtp() {
        // The length field disagrees with the UDP length.
        assert_eq!(parse(&WITH_EXTENSION, 30), Ok(None));
        // An echo request.
        let mut echo = WITH_EXTENSION;
        echo[1] = 1;
        assert_eq!(parse(&echo, 21), Ok(None));
        // GTPv2-C.
        let mut v2 = WITH_EXTENSION;
        v2[0] = 0x48;
        assert_eq!(parse(&v2, 21), Ok(None));
    }

    #[test]
    fn truncation_sweep() {
        for n in 0..17 {
            assert!(parse(&WITH_EXTENSION[..n], 21).is_err(), "len {n}");
        }
    }
}
