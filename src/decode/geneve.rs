//! Checked view of a Geneve header (RFC 8926 §3.4): 8 fixed bytes, variable-length options,
//! a protocol type naming the payload.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |Ver|  Opt Len  |O|C|    Rsvd.  |          Protocol Type        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |        Virtual Network Identifier (VNI)       |    Reserved   |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Variable-Length Options                    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use super::Truncated;

mod field {
    use std::ops::Range;
    pub const VER_OPTLEN: usize = 0;
    pub const FLAGS: usize = 1;
    pub const PROTOCOL: Range<usize> = 2..4;
    pub const VNI: Range<usize> = 4..7;
    pub const OPTIONS: usize = 8;
}

/// Length of the fixed part of the header.
pub const FIXED_LEN: usize = field::OPTIONS;
/// Protocol type of an encapsulated Ethernet frame ("Transparent Ethernet Bridging").
pub const PROTO_ETHERNET: u16 = 0x6558;

/// A Geneve header whose fixed part and options are known to be present.
#[derive(Debug, Clone, Copy)]
pub struct Geneve<'a> {
    buffer: &'a [u8],
}

impl<'a> Geneve<'a> {
    /// Wraps `buffer` after checking that the fixed header and all options are present.
    pub fn new_checked(buffer: &'a [u8]) -> Result<Self, Truncated> {
        if buffer.len() < FIXED_LEN {
            return Err(Truncated);
        }
        let g = Geneve { buffer };
        if buffer.len() < g.header_len() {
            return Err(Truncated);
        }
        Ok(g)
    }

    pub fn version(&self) -> u8 {
        self.buffer[field::VER_OPTLEN] >> 6
    }

    /// Options length in bytes (the field counts 4-byte words).
    pub fn options_len(&self) -> usize {
        (self.buffer[field::VER_OPTLEN] & 0x3f) as usize * 4
    }

    /// The flags byte (O and C bits plus reserved ones), compared whole by GRO.
    pub fn flags(&self) -> u8 {
        self.buffer[field::FLAGS]
    }

    /// O bit: control packet.
    pub fn oam(&self) -> bool {
        self.buffer[field::FLAGS] & 0x80 != 0
    }

    /// C bit: critical options present.
    pub fn critical(&self) -> bool {
        self.buffer[field::FLAGS] & 0x40 != 0
    }

    pub fn protocol(&self) -> u16 {
        let b = &self.buffer[field::PROTOCOL];
        u16::from_be_bytes([b[0], b[1]])
    }

    pub fn vni(&self) -> u32 {
        let b = &self.buffer[field::VNI];
        u32::from_be_bytes([0, b[0], b[1], b[2]])
    }

    pub fn header_len(&self) -> usize {
        FIXED_LEN + self.options_len()
    }

    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[self.header_len()..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const PACKET: [u8; 18] = [
        0x01,             // version 0, options length 1 word (4 bytes)
        0x40,             // C bit set
        0x65, 0x58,       // protocol: Ethernet
        0x00, 0x00, 0x0a, // VNI 10
        0x00,             // reserved
        0x01, 0x02, 0x80, 0x00, // one option header (class 0x0102, type 0x80, len 0)
        0xde, 0xad, 0xbe, 0xef, 0x00, 0x01, // payload
    ];

    #[test]
    fn fields() {
        let g = Geneve::new_checked(&PACKET).expect("present");
        assert_eq!(g.version(), 0);
        assert_eq!(g.options_len(), 4);
        assert!(g.critical());
        assert!(!g.oam());
        assert_eq!(g.protocol(), PROTO_ETHERNET);
        assert_eq!(g.vni(), 10);
        assert_eq!(g.header_len(), 12);
        assert_eq!(g.payload(), &PACKET[12..]);
    }

    #[test]
    fn truncation_sweep() {
        // Anything shorter than fixed header + options is rejected.
        for n in 0..12 {
            assert!(Geneve::new_checked(&PACKET[..n]).is_err(), "len {n}");
        }
        assert!(Geneve::new_checked(&PACKET[..12]).is_ok());
    }

    #[test]
    fn maximum_options_length_is_bounded_by_buffer() {
        let mut p = [0u8; 16];
        p[0] = 0x3f; // 63 words = 252 bytes of options, not present
        assert!(Geneve::new_checked(&p).is_err());
    }
}
