//! Checked view of a VXLAN header (RFC 7348 §5): 8 bytes, flags with the I bit, 24-bit VNI.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |R|R|R|R|I|R|R|R|            Reserved                           |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                VXLAN Network Identifier (VNI) |   Reserved    |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use super::Truncated;

mod field {
    use std::ops::Range;
    pub const FLAGS: usize = 0;
    pub const VNI: Range<usize> = 4..7;
    pub const PAYLOAD: usize = 8;
}

/// Header length in bytes.
pub const HEADER_LEN: usize = field::PAYLOAD;
/// The I flag: the VNI field is valid (RFC 7348 §5).
pub const FLAG_I: u8 = 0x08;

/// A VXLAN header over a byte slice that is known to hold at least [`HEADER_LEN`] bytes.
#[derive(Debug, Clone, Copy)]
pub struct Vxlan<'a> {
    buffer: &'a [u8],
}

impl<'a> Vxlan<'a> {
    /// Wraps `buffer` after checking that the whole header is present.
    pub fn new_checked(buffer: &'a [u8]) -> Result<Self, Truncated> {
        if buffer.len() < HEADER_LEN {
            return Err(Truncated);
        }
        Ok(Vxlan { buffer })
    }

    pub fn flags(&self) -> u8 {
        self.buffer[field::FLAGS]
    }

    /// Whether the I flag says the VNI is valid.
    pub fn vni_valid(&self) -> bool {
        self.flags() & FLAG_I != 0
    }

    pub fn vni(&self) -> u32 {
        let b = &self.buffer[field::VNI];
        u32::from_be_bytes([0, b[0], b[1], b[2]])
    }

    /// The encapsulated Ethernet frame.
    pub fn payload(&self) -> &'a [u8] {
        &self.buffer[field::PAYLOAD..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const PACKET: [u8; 10] = [
        0x08,             // flags: I
        0x00, 0x00, 0x00, // reserved
        0x00, 0x13, 0x89, // VNI 5001
        0x00,             // reserved
        0xaa, 0xbb,       // payload (start of the inner Ethernet frame)
    ];

    #[test]
    fn fields() {
        let v = Vxlan::new_checked(&PACKET).expect("8 bytes present");
        assert_eq!(v.flags(), 0x08);
        assert!(v.vni_valid());
        assert_eq!(v.vni(), 5001);
        assert_eq!(v.payload(), &[0xaa, 0xbb]);
    }

    #[test]
    fn truncation_sweep() {
        for n in 0..HEADER_LEN {
            assert!(Vxlan::new_checked(&PACKET[..n]).is_err(), "len {n}");
        }
        let v = Vxlan::new_checked(&PACKET[..HEADER_LEN]).expect("exact header");
        assert!(v.payload().is_empty());
    }

    #[test]
    fn vni_without_i_flag() {
        let mut p = PACKET;
        p[0] = 0;
        let v = Vxlan::new_checked(&p).expect("present");
        assert!(!v.vni_valid());
    }
}
