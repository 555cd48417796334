//! Checked view of the fixed part of a TCP header (RFC 9293 §3.1), for segments etherparse
//! rejects as a whole: options cut by the snaplen, or a data offset pointing past the segment.
//! Wireshark still tracks such a segment when the fixed 20 bytes are there; so do we.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |          Source Port          |       Destination Port        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                        Sequence Number                        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |                    Acknowledgment Number                      |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |  Data |       |C|E|U|A|P|R|S|F|                               |
//! | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |           Checksum            |         Urgent Pointer        |
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! ```

use super::{IpFacts, TcpFacts, TcpOptions, Truncated};

mod field {
    use std::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ: Range<usize> = 4..8;
    pub const ACK: Range<usize> = 8..12;
    pub const DATA_OFFSET: usize = 12;
    pub const FLAGS: usize = 13;
    pub const WINDOW: Range<usize> = 14..16;
    pub const CHECKSUM: Range<usize> = 16..18;
    pub const OPTIONS: usize = 20;
}

/// Length of the fixed header in bytes.
pub const HEADER_LEN: usize = field::OPTIONS;

/// A TCP header over a byte slice that is known to hold at least [`HEADER_LEN`] bytes.
#[derive(Debug, Clone, Copy)]
pub struct TcpHeader<'a> {
    buffer: &'a [u8],
}

impl<'a> TcpHeader<'a> {
    /// Wraps `buffer` after checking that the fixed header is present.
    pub fn new_checked(buffer: &'a [u8]) -> Result<Self, Truncated> {
        if buffer.len() < HEADER_LEN {
            return Err(Truncated);
        }
        Ok(TcpHeader { buffer })
    }

    fn be16(&self, r: std::ops::Range<usize>) -> u16 {
        let b = &self.buffer[r];
        u16::from_be_bytes([b[0], b[1]])
    }

    fn be32(&self, r: std::ops::Range<usize>) -> u32 {
        let b = &self.buffer[r];
        u32::from_be_bytes([b[0], b[1], b[2], b[3]])
    }

    pub fn src_port(&self) -> u16 {
        self.be16(field::SRC_PORT)
    }
    pub fn dst_port(&self) -> u16 {
        self.be16(field::DST_PORT)
    }
    pub fn seq(&self) -> u32 {
        self.be32(field::SEQ)
    }
    pub fn ack(&self) -> u32 {
        self.be32(field::ACK)
    }
    /// The data offset in bytes (header length the segment claims).
    pub fn header_len(&self) -> u32 {
        u32::from(self.buffer[field::DATA_OFFSET] >> 4) * 4
    }
    pub fn flags(&self) -> u8 {
        self.buffer[field::FLAGS]
    }
    pub fn window(&self) -> u16 {
        self.be16(field::WINDOW)
    }
    pub fn checksum(&self) -> u16 {
        self.be16(field::CHECKSUM)
    }
    /// The option bytes present in the buffer, up to the data offset.
    pub fn option_bytes(&self) -> &'a [u8] {
        let end = (self.header_len() as usize).min(self.buffer.len());
        self.buffer.get(field::OPTIONS..end).unwrap_or(&[])
    }

    /// The segment's facts with options reported as malformed; `None` when the data offset is
    /// below the fixed header. `options_at`: where the option bytes are in the frame's data.
    pub fn facts(&self, ip: &IpFacts, options_at: u32) -> Option<TcpFacts> {
        let header_len = self.header_len();
        if header_len < HEADER_LEN as u32 {
            return None;
        }
        Some(TcpFacts {
            src_port: self.src_port(),
            dst_port: self.dst_port(),
            seq: self.seq(),
            ack: self.ack(),
            flags: self.flags(),
            window: self.window(),
            header_len,
            payload_len: ip.transport_len().saturating_sub(header_len),
            checksum: self.checksum(),
            options: TcpOptions {
                malformed: true,
                ..TcpOptions::default()
            },
            options_at,
            options_len: self.option_bytes().len().min(40) as u8,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    const SEGMENT: [u8; 24] = [
        0x9c, 0x40,             // source port 40000
        0x01, 0xbb,             // destination port 443
        0x00, 0x00, 0x03, 0xe8, // sequence number 1000
        0x00, 0x00, 0x07, 0xd0, // acknowledgment number 2000
        0x80,                   // data offset 8 (32 bytes: 12 of options claimed)
        0x18,                   // flags PSH, ACK
        0xfa, 0xf0,             // window 64240
        0x12, 0x34,             // checksum
        0x00, 0x00,             // urgent pointer
        0x01, 0x01, 0x08, 0x0a, // options: NOP, NOP, timestamps… (cut by the snaplen)
    ];

    #[test]
    fn fields() {
        let t = TcpHeader::new_checked(&SEGMENT).expect("20 bytes present");
        assert_eq!((t.src_port(), t.dst_port()), (40000, 443));
        assert_eq!((t.seq(), t.ack()), (1000, 2000));
        assert_eq!(t.header_len(), 32);
        assert_eq!(t.flags(), 0x18);
        assert_eq!(t.window(), 64240);
        assert_eq!(t.checksum(), 0x1234);
        // Only the option bytes the capture holds.
        assert_eq!(t.option_bytes(), &[0x01, 0x01, 0x08, 0x0a]);
    }

    #[test]
    fn truncation_sweep() {
        for n in 0..HEADER_LEN {
            assert!(TcpHeader::new_checked(&SEGMENT[..n]).is_err(), "len {n}");
        }
        let t = TcpHeader::new_checked(&SEGMENT[..HEADER_LEN]).expect("exact header");
        assert!(t.option_bytes().is_empty());
    }

    #[test]
    fn a_data_offset_below_the_fixed_header_is_refused() {
        let mut s = SEGMENT;
        s[field::DATA_OFFSET] = 0x40; // 16 bytes
        let t = TcpHeader::new_checked(&s).expect("present");
        let ip = crate::decode::IpFacts {
            version: 4,
            src: [10, 0, 0, 1].into(),
            dst: [10, 0, 0, 2].into(),
            len: 44,
            len_from_wire: false,
            header_len: 20,
            protocol: 6,
            id: 0,
            df: true,
            mf: false,
            frag_offset: 0,
            ttl: 64,
            tos: 0,
            flow_label: 0,
            has_options: false,
            on_wire: 44,
        };
        assert!(t.facts(&ip, 20).is_none());
        let t = TcpHeader::new_checked(&SEGMENT).expect("present");
        let f = t.facts(&ip, 20).expect("offset 32");
        assert!(f.options.malformed);
        // 44 - 20 (IP) - 32 (claimed TCP header): nothing left for payload.
        assert_eq!(f.payload_len, 0);
    }
}
