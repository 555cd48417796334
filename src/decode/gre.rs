//! Checked views of GRE (RFC 2784 with RFC 2890's key and sequence number) and of the ERSPAN
//! type II and III headers GRE carries (draft-foschiano-erspan-03).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |C|R|K|S|s|Recur|  Flags  | Ver |         Protocol Type         |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |      Checksum (optional)      |       Offset (optional)       |  C or R
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                         Key (optional)                        |  K
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                 Sequence Number (optional)                    |  S
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```
//!
//! Only version 0 is GRE; version 1 is PPTP's enhanced GRE (RFC 2637), which carries PPP and is
//! not decoded. RFC 1701 source routing (R with routing entries) is obsolete and not decoded.

use super::Truncated;

mod field {
    pub const FLAGS: usize = 0;
    pub const VERSION: usize = 1;
    pub const PROTOCOL: std::ops::Range<usize> = 2..4;
    pub const OPTIONAL: usize = 4;
}

/// The fixed part, bytes.
pub const HEADER_LEN: usize = field::OPTIONAL;
pub const FLAG_C: u8 = 0x80;
pub const FLAG_R: u8 = 0x40;
pub const FLAG_K: u8 = 0x20;
pub const FLAG_S: u8 = 0x10;

/// Protocol types (IEEE EtherType registry) GRE payloads use.
pub const PROTO_IPV4: u16 = 0x0800;
pub const PROTO_IPV6: u16 = 0x86dd;
/// Transparent Ethernet Bridging: gretap, and NVGRE when keyed (RFC 7637 §3.2).
pub const PROTO_TEB: u16 = 0x6558;
/// ERSPAN type I (no ERSPAN header, no sequence number) and type II (sequence number set).
pub const PROTO_ERSPAN_II: u16 = 0x88be;
pub const PROTO_ERSPAN_III: u16 = 0x22eb;

/// Aruba's protocol types for 802.11 frames from its access points: 0x8200 to 0x8370 in steps of
/// 0x10 (Wireshark's packet-gre.h `GRE_ARUBA_8200` ... `GRE_ARUBA_8370`, each registered in the
/// `gre.proto` table for the `wlan` dissector; `tshark -G decodes` lists those 24 values).
/// `GRE_ARUBA_9000` is Aruba's too but is not 802.11.
pub fn is_wlan(proto: u16) -> bool {
    (0x8200..=0x8370).contains(&proto) && proto & 0x000f == 0
}

/// A GRE header whose fixed part and every optional field its flags announce are present.
#[derive(Debug, Clone, Copy)]
pub struct Gre<'a> {
    buffer: &'a [u8],
    header_len: usize,
}

impl<'a> Gre<'a> {
    pub fn new_checked(buffer: &'a [u8]) -> Result<Self, Truncated> {
        let flags = *buffer.get(field::FLAGS).ok_or(Truncated)?;
        let words = [FLAG_C | FLAG_R, FLAG_K, FLAG_S]
            .iter()
            .filter(|&&f| flags & f != 0)
            .count();
        let header_len = HEADER_LEN + 4 * words;
        if buffer.len() < header_len {
            return Err(Truncated);
        }
        Ok(Gre { buffer, header_len })
    }

    pub fn flags(&self) -> u8 {
        self.buffer[field::FLAGS]
    }

    pub fn version(&self) -> u8 {
        self.buffer[field::VERSION] & 0x07
    }

    pub fn protocol(&self) -> u16 {
        let b = &self.buffer[field::PROTOCOL];
        u16::from_be_bytes([b[0], b[1]])
    }

    fn word(&self, flag: u8) -> Option<u32> {
        if self.flags() & flag == 0 {
            return None;
        }
        // Optional words sit in the order checksum/offset, key, sequence.
        let before = [FLAG_C | FLAG_R, FLAG_K]
            .iter()
            .take_while(|&&f| f & flag == 0)
            .filter(|&&f| self.flags() & f != 0)
            .count();
        let at = field::OPTIONAL + 4 * before;
        let b = &self.buffer[at..at + 4];
        Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn key(&self) -> Option<u32> {
        self.word(FLAG_K)
    }

    pub fn sequence(&self) -> Option<u32> {
        self.word(FLAG_S)
    }

    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[self.header_len..]
    }
}

/// What an ERSPAN header says about the mirrored frame after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Erspan<'a> {
    /// 10-bit session ID.
    pub session: u16,
    /// The mirrored frame, always Ethernet here (type III frame type 0).
    pub frame: &'a [u8],
}

/// Reads the ERSPAN header of a GRE payload with protocol `proto` and the GRE `sequence`
/// presence: type I has no header, type II has 8 bytes (version 1), type III 12 bytes (version 2)
/// plus an 8-byte platform subheader when its O bit is set. `Ok(None)`: a frame type other
/// than Ethernet or an unknown version.
pub fn erspan(proto: u16, has_sequence: bool, p: &[u8]) -> Result<Option<Erspan<'_>>, Truncated> {
    if proto == PROTO_ERSPAN_II && !has_sequence {
        return Ok(Some(Erspan {
            session: 0,
            frame: p,
        }));
    }
    let word0 = p.get(0..4).ok_or(Truncated)?;
    let version = word0[0] >> 4;
    let session = u16::from_be_bytes([word0[2], word0[3]]) & 0x03ff;
    let (len, ethernet) = match (proto, version) {
        (PROTO_ERSPAN_II, 1) => (8, true),
        (PROTO_ERSPAN_III, 2) => {
            let last = *p.get(11).ok_or(Truncated)?;
            let frame_type = (p[10] >> 2) & 0x1f;
            (if last & 0x01 != 0 { 20 } else { 12 }, frame_type == 0)
        }
        _ => return Ok(None),
    };
    let frame = p.get(len..).ok_or(Truncated)?;
    Ok(ethernet.then_some(Erspan { session, frame }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const KEYED: [u8; 14] = [
        0x30, 0x00,             // K, S; version 0
        0x65, 0x58,             // Transparent Ethernet Bridging
        0x00, 0x00, 0x13, 0x01, // key: VSID 19, flow ID 1
        0x00, 0x00, 0x00, 0x07, // sequence 7
        0xaa, 0xbb,             // payload
    ];

    #[test]
    fn fields_of_a_keyed_header() {
        let g = Gre::new_checked(&KEYED).expect("16 bytes present");
        assert_eq!((g.flags(), g.version(), g.protocol()), (0x30, 0, PROTO_TEB));
        assert_eq!(g.key(), Some(0x1301));
        assert_eq!(g.sequence(), Some(7));
        assert_eq!(g.payload(), &[0xaa, 0xbb]);
    }

    #[test]
    fn checksum_word_shifts_the_key() {
        #[rustfmt::skip]
        let p = [
            0xa0, 0x00, 0x08, 0x00, // C, K; IPv4
            0x12, 0x34, 0x00, 0x00, // checksum, reserved
            0x00, 0x00, 0x00, 0x2a, // key 42
            0x45,                   // payload
        ];
        let g = Gre::new_checked(&p).expect("present");
        assert_eq!((g.key(), g.sequence()), (Some(42), None));
        assert_eq!(g.payload(), &[0x45]);
    }

    #[test]
    fn truncation_sweep() {
        for n in 0..12 {
            assert!(Gre::new_checked(&KEYED[..n]).is_err(), "len {n}");
        }
        assert!(Gre::new_checked(&KEYED[..12]).is_ok());
        let plain = [0u8, 0, 8, 0];
        assert!(Gre::new_checked(&plain)
            .expect("4 bytes")
            .payload()
            .is_empty());
    }

    #[test]
    fn aruba_wlan_protocol_types() {
        let wlan: Vec<u16> = (0..=u16::MAX).filter(|&p| is_wlan(p)).collect();
        assert_eq!(wlan.len(), 24);
        assert_eq!((wlan[0], wlan[23]), (0x8200, 0x8370));
        assert!(!is_wlan(0x8208) && !is_wlan(0x8380) && !is_wlan(0x9000));
    }

    #[test]
    fn erspan_types() {
        #[rustfmt::skip]
        let ii = [
            0x10, 0x64, 0x00, 0x05, // version 1, VLAN 100, session 5
            0x00, 0x00, 0x00, 0x00, // reserved, index
            0xee,                   // mirrored frame
        ];
        let e = erspan(PROTO_ERSPAN_II, true, &ii)
            .expect("ok")
            .expect("ethernet");
        assert_eq!((e.session, e.frame), (5, &[0xee][..]));
        let e = erspan(PROTO_ERSPAN_II, false, &ii)
            .expect("ok")
            .expect("type I");
        assert_eq!(e.frame.len(), ii.len());
        #[rustfmt::skip]
        let iii = [
            0x20, 0x00, 0x00, 0x09, // version 2, session 9
            0x00, 0x00, 0x00, 0x01, // timestamp
            0x00, 0x00, 0x00, 0x01, // SGT, P/FT 0 (Ethernet)/HW ID, O set
            0, 0, 0, 0, 0, 0, 0, 0, // platform subheader
            0xee,
        ];
        let e = erspan(PROTO_ERSPAN_III, true, &iii)
            .expect("ok")
            .expect("ethernet");
        assert_eq!((e.session, e.frame), (9, &[0xee][..]));
        for n in 0..12 {
            assert!(
                erspan(PROTO_ERSPAN_III, true, &iii[..n]).is_err(),
                "len {n}"
            );
        }
        let mut ip_frame = iii;
        ip_frame[10] = 2 << 2; // frame type 2: IP
        assert_eq!(erspan(PROTO_ERSPAN_III, true, &ip_frame), Ok(None));
    }
}
