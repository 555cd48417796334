//! Shims between the link layer and IP that etherparse does not slice: an MPLS label stack
//! (RFC 3032) and a PPPoE session header with its PPP protocol (RFC 2516, RFC 1661). Each gives
//! back what follows it, for the layer walk to slice again.

use super::Truncated;

pub const ETHERTYPE_MPLS: u16 = 0x8847;
pub const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
pub const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;

/// At most this many labels are walked; real stacks hold a handful.
const MAX_LABELS: usize = 16;

/// What a shim carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inner<'a> {
    /// An IP packet (version from its first nibble, or PPP's protocol).
    Ip(&'a [u8]),
    /// An Ethernet frame (an MPLS pseudowire with the RFC 4448 control word).
    Ethernet(&'a [u8]),
    /// Something else (PPP control protocols, an unknown MPLS payload).
    Other,
}

/// Walks an MPLS label stack to its bottom (S bit). Like Wireshark, the payload's first nibble
/// tells IPv4 (4), IPv6 (6) or a pseudowire control word (0, RFC 4385) before an Ethernet frame.
pub fn mpls(p: &[u8]) -> Result<Inner<'_>, Truncated> {
    let mut at = 0;
    for _ in 0..MAX_LABELS {
        let entry = p.get(at..at + 4).ok_or(Truncated)?;
        at += 4;
        if entry[2] & 0x01 != 0 {
            let rest = &p[at..];
            return Ok(match rest.first().map(|b| b >> 4) {
                Some(4 | 6) => Inner::Ip(rest),
                Some(0) => Inner::Ethernet(rest.get(4..).ok_or(Truncated)?),
                Some(_) => Inner::Other,
                None => return Err(Truncated),
            });
        }
    }
    Ok(Inner::Other)
}

/// Reads a PPPoE session header (version 1, type 1, code 0) and the PPP protocol after it:
/// 0x0021 is IPv4, 0x0057 IPv6 (RFC 1332, RFC 5072). The session's length field bounds the
/// packet, so Ethernet padding is not taken for payload.
pub fn pppoe_session(p: &[u8]) -> Result<Inner<'_>, Truncated> {
    let h = p.get(..8).ok_or(Truncated)?;
    if h[0] != 0x11 || h[1] != 0 {
        return Ok(Inner::Other);
    }
    let len = usize::from(u16::from_be_bytes([h[4], h[5]]));
    let end = (6 + len).min(p.len());
    let body = p.get(8..end.max(8)).unwrap_or(&[]);
    Ok(match u16::from_be_bytes([h[6], h[7]]) {
        0x0021 | 0x0057 => Inner::Ip(body),
        _ => Inner::Other,
    })
}

/// The bytes a PPPoE session header and its payload take by the header's length field.
pub fn pppoe_declared_len(p: &[u8]) -> Option<u32> {
    let h = p.get(..6)?;
    Some(6 + u32::from(u16::from_be_bytes([h[4], h[5]])))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mpls_stack_to_ipv4() {
        #[rustfmt::skip]
        let p = [
            0x00, 0x01, 0x00, 0x40, // label 16, not bottom, TTL 64
            0x00, 0x02, 0x01, 0x40, // label 32, bottom of stack
            0x45, 0x00,             // IPv4
        ];
        assert_eq!(mpls(&p), Ok(Inner::Ip(&p[8..])));
        for n in 0..9 {
            assert_eq!(mpls(&p[..n]), Err(Truncated), "len {n}");
        }
    }

    #[test]
    fn mpls_pseudowire_with_control_word() {
        #[rustfmt::skip]
        let p = [
            0x00, 0x01, 0x01, 0x40, // bottom of stack
            0x00, 0x00, 0x00, 0x00, // control word
            0xaa,                   // Ethernet
        ];
        assert_eq!(mpls(&p), Ok(Inner::Ethernet(&p[8..])));
    }

    #[test]
    fn mpls_without_bottom_stops() {
        let p = [0u8; 4 * (MAX_LABELS + 1)];
        assert_eq!(mpls(&p), Ok(Inner::Other));
    }

    #[test]
    fn pppoe_ipv4_bounded_by_its_length() {
        #[rustfmt::skip]
        let p = [
            0x11, 0x00,             // version 1, type 1, session data
            0x00, 0x07,             // session 7
            0x00, 0x04,             // length: PPP protocol + 2 bytes
            0x00, 0x21,             // IPv4
            0x45, 0x00,             // the IPv4 packet
            0x00, 0x00,             // Ethernet padding
        ];
        assert_eq!(pppoe_session(&p), Ok(Inner::Ip(&p[8..10])));
        assert_eq!(pppoe_declared_len(&p), Some(10));
        for n in 0..8 {
            assert_eq!(pppoe_session(&p[..n]), Err(Truncated), "len {n}");
        }
        let mut lcp = p;
        lcp[6..8].copy_from_slice(&0xc021u16.to_be_bytes());
        assert_eq!(pppoe_session(&lcp), Ok(Inner::Other));
    }
}
