//! Bounds-checked walks of IPv6 extension headers (RFC 8200 §4): the fragment header and the
//! RFC 2675 jumbo payload option.

/// The fragment header's (identification, more fragments, offset) among the IPv6 extension headers.
///
/// A bounds-checked walk of our own: etherparse 0.21's `Ipv6ExtensionsSlice::into_iter()` trusts the
/// last header's next-header field and reads the following header with `from_slice_unchecked` even
/// when lax parsing stopped there, an out-of-bounds read on cut or corrupt frames (found by the
/// property test in src/tests/hostile_input.rs).
pub fn ipv6_fragment(mut next_header: u8, mut ext: &[u8]) -> Option<(u32, bool, u16)> {
    loop {
        match next_header {
            // hop-by-hop, routing, destination options: length in 8-byte units, not counting the first 8
            0 | 43 | 60 => {
                let len = (*ext.get(1)? as usize + 1) * 8;
                next_header = *ext.first()?;
                ext = ext.get(len..)?;
            }
            // authentication header: length in 4-byte units, not counting the first 2 (RFC 4302 §2.2)
            51 => {
                let len = (*ext.get(1)? as usize + 2) * 4;
                next_header = *ext.first()?;
                ext = ext.get(len..)?;
            }
            44 => {
                let f = etherparse::Ipv6FragmentHeaderSlice::from_slice(ext).ok()?;
                return Some((
                    f.identification(),
                    f.more_fragments(),
                    f.fragment_offset().value(),
                ));
            }
            _ => return None,
        }
    }
}

/// The Jumbo Payload option (type 0xC2, RFC 2675 §2) in a hop-by-hop header that directly follows
/// the IPv6 header.
pub fn jumbo_payload_len(next_header: u8, ext: &[u8]) -> Option<u32> {
    if next_header != 0 || ext.len() < 8 {
        return None;
    }
    let hbh_len = (ext[1] as usize + 1) * 8;
    let opts = ext.get(2..hbh_len.min(ext.len()))?;
    let mut i = 0;
    while i < opts.len() {
        match opts[i] {
            0 => i += 1, // Pad1
            0xC2 => {
                let v = opts.get(i + 2..i + 6)?;
                return Some(u32::from_be_bytes([v[0], v[1], v[2], v[3]]));
            }
            _ => i += 2 + *opts.get(i + 1)? as usize,
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_fragment_walk_is_bounded() {
        // hop-by-hop (8 bytes) then a fragment header: id 0xabcd, offset 0, more fragments
        #[rustfmt::skip]
        let ext = [
            44, 0, 1, 4, 0, 0, 0, 0,          // HBH: next = fragment, len 0, PadN
            17, 0, 0x00, 0x01, 0, 0, 0xab, 0xcd, // fragment: next UDP, offset 0, M=1, id
        ];
        assert_eq!(ipv6_fragment(0, &ext), Some((0xabcd, true, 0)));
        // The HBH header says a fragment header follows, but the bytes stop: no read past the end.
        assert_eq!(ipv6_fragment(0, &ext[..8]), None);
        for n in 0..ext.len() {
            let _ = ipv6_fragment(0, &ext[..n]);
        }
    }
}
