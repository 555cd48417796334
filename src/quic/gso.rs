//! UDP GSO super-datagrams of a QUIC connection: a capture on a sender that uses `UDP_SEGMENT`
//! sees one datagram holding several QUIC packets of `gso_size` bytes each, which the kernel or
//! the NIC cuts apart later (udp(7)). A short header runs to the end of its datagram (RFC 9000
//! §17.3), so without this the packets after the first would go uncounted.
//!
//! Packet starts are found as the `udp-gso-superframes` detector finds them: every `gso_size`
//! bytes a short header with the fixed bit set and the connection's destination connection ID.

/// Datagrams longer than this are looked into: more than any single QUIC packet on a
/// 1500-byte path (RFC 9000 §14: senders stay within the path MTU).
pub const MIN_SUPER_LEN: usize = 1500;
/// The smallest segment looked for (below any sender's datagram size; RFC 9000 §14 has 1200 as
/// the smallest maximum).
const MIN_SEGMENT: usize = 256;
/// Connection IDs shorter than this cannot tell a packet start from ciphertext.
const MIN_DCID: usize = 4;

/// The segment size and the number of segments of the short-header packet `bytes` (to the end
/// of its datagram), when it is a GSO super-datagram for connection ID `dcid`. `hint` is the
/// size found last time, tried first.
pub fn segments(bytes: &[u8], dcid: &[u8], hint: Option<usize>) -> Option<(usize, u32)> {
    if bytes.len() <= MIN_SUPER_LEN || dcid.len() < MIN_DCID {
        return None;
    }
    // At least two whole segments: a coarser reading (one segment of most of the datagram)
    // is left to decryption, which checks it ([`find`]).
    let size = hint
        .filter(|s| fits(bytes, dcid, *s))
        .or_else(|| find(bytes, dcid, bytes.len() / 2))?;
    Some((size, bytes.len().div_ceil(size) as u32))
}

/// The smallest segment size up to `max` at which `bytes` holds a short header for `dcid` at
/// every boundary, whatever its length. Decryption asks up to the last byte (two segments of
/// 1,014 and 93 bytes have their boundary past the middle: udp(7) lets the last segment be any
/// shorter size), and only for a packet that did not open whole; each piece must then open.
pub fn find(bytes: &[u8], dcid: &[u8], max: usize) -> Option<usize> {
    if dcid.len() < MIN_DCID {
        return None;
    }
    (MIN_SEGMENT..=max.min(bytes.len().saturating_sub(1)))
        .find(|&s| starts_packet(bytes, s, dcid) && fits(bytes, dcid, s))
}

/// Whether `bytes` (longer than `size`) holds a short header for `dcid` every `size` bytes: GSO
/// segments of that size, whatever the total length.
pub fn fits(bytes: &[u8], dcid: &[u8], size: usize) -> bool {
    size >= MIN_SEGMENT
        && dcid.len() >= MIN_DCID
        && bytes.len() > size
        && (size..bytes.len())
            .step_by(size)
            .all(|at| starts_packet(bytes, at, dcid))
}

fn starts_packet(bytes: &[u8], at: usize, dcid: &[u8]) -> bool {
    bytes[at] & 0xc0 == 0x40 && bytes.get(at + 1..at + 1 + dcid.len()) == Some(dcid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packet(dcid: &[u8], len: usize, fill: u8) -> Vec<u8> {
        let mut p = vec![0x41];
        p.extend_from_slice(dcid);
        p.resize(len, fill);
        p
    }

    #[test]
    fn finds_the_segments_of_a_super_datagram() {
        let dcid = [9, 8, 7, 6, 5, 4, 3, 2];
        let mut d = Vec::new();
        for i in 0..5 {
            d.extend(packet(&dcid, 1200, i));
        }
        d.extend(packet(&dcid, 300, 0xee));
        assert_eq!(segments(&d, &dcid, None), Some((1200, 6)));
        assert_eq!(segments(&d, &dcid, Some(1200)), Some((1200, 6)));
        // A wrong hint falls back to the search.
        assert_eq!(segments(&d, &dcid, Some(1000)), Some((1200, 6)));
        // Another connection's ID, a short ID, a single packet: not a super-datagram.
        assert_eq!(segments(&d, &[1, 2, 3, 4, 5, 6, 7, 8], None), None);
        assert_eq!(segments(&d, &dcid[..3], None), None);
        assert_eq!(segments(&packet(&dcid, 1400, 0), &dcid, None), None);
        // One large packet (a jumbo path) whose bytes never repeat the header.
        assert_eq!(segments(&packet(&dcid, 8000, 0), &dcid, None), None);
        // A boundary that breaks the pattern: the 1200-byte reading is refused, and only a
        // coarser size whose every boundary still holds a header is left (udp(7): the kernel
        // needs every segment but the last to be gso_size long).
        let mut broken = d.clone();
        broken[3 * 1200] = 0xc0;
        assert_eq!(segments(&broken, &dcid, Some(1200)), Some((2400, 3)));
        broken[2 * 1200] = 0xc0;
        broken[4 * 1200] = 0xc0;
        assert_eq!(segments(&broken, &dcid, Some(1200)), None);
        // Two segments within 1500 bytes: only a known size finds them.
        let mut small = packet(&dcid, 1200, 1);
        small.extend(packet(&dcid, 40, 2));
        assert_eq!(segments(&small, &dcid, Some(1200)), None);
        assert!(fits(&small, &dcid, 1200));
        assert!(!fits(&small, &dcid, 1000));
        assert!(
            !fits(&packet(&dcid, 1200, 1), &dcid, 1200),
            "one packet is no super-datagram"
        );
    }
}
