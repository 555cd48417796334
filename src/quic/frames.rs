//! The frames of a decrypted Initial or Handshake packet (RFC 9000 §12.4, §19): the ones those
//! packets may carry — PADDING, PING, ACK, CRYPTO and CONNECTION_CLOSE (RFC 9000 §17.2.2, Table 3).

use crate::decode::quic::varint;

/// One frame, borrowed from the plaintext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    Padding,
    Ping,
    /// The largest packet number acknowledged and the sender's ack delay (in its
    /// `ack_delay_exponent` units, 2^3 µs by default).
    Ack {
        largest: u64,
        delay: u64,
    },
    Crypto {
        offset: u64,
        data: &'a [u8],
    },
    /// CONNECTION_CLOSE: the error code (a TLS alert is 0x0100 + alert, RFC 9001 §4.8) and its
    /// reason phrase.
    Close {
        code: u64,
        reason: &'a [u8],
    },
}

/// The frames of `plain`, in order; stops at the end, at a frame type Initial packets may not
/// carry, or at a frame cut short.
pub fn frames(plain: &[u8]) -> Frames<'_> {
    Frames { b: plain, at: 0 }
}

pub struct Frames<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Frames<'a> {
    fn next_frame(&mut self) -> Option<Frame<'a>> {
        let b = self.b;
        let at = &mut self.at;
        let kind = varint(b, at).ok()?;
        Some(match kind {
            0x00 => {
                // A run of padding is one frame.
                while b.get(*at) == Some(&0) {
                    *at += 1;
                }
                Frame::Padding
            }
            0x01 => Frame::Ping,
            0x02 | 0x03 => {
                let largest = varint(b, at).ok()?;
                let delay = varint(b, at).ok()?;
                let ranges = varint(b, at).ok()?;
                varint(b, at).ok()?; // first ACK range
                for _ in 0..ranges {
                    // Each range is two varints of at least one byte: a count beyond the bytes
                    // left is a lie, stopped by the first failed read.
                    varint(b, at).ok()?;
                    varint(b, at).ok()?;
                }
                if kind == 0x03 {
                    for _ in 0..3 {
                        varint(b, at).ok()?; // ECT0, ECT1, ECN-CE counts
                    }
                }
                Frame::Ack { largest, delay }
            }
            0x06 => {
                let offset = varint(b, at).ok()?;
                let data = take(b, at)?;
                Frame::Crypto { offset, data }
            }
            0x1c | 0x1d => {
                let code = varint(b, at).ok()?;
                if kind == 0x1c {
                    varint(b, at).ok()?; // the frame type that caused it
                }
                let reason = take(b, at)?;
                Frame::Close { code, reason }
            }
            _ => return None,
        })
    }
}

/// A varint length and that many bytes.
fn take<'a>(b: &'a [u8], at: &mut usize) -> Option<&'a [u8]> {
    let n = usize::try_from(varint(b, at).ok()?).ok()?;
    let data = b.get(*at..at.checked_add(n)?)?;
    *at += n;
    Some(data)
}

impl<'a> Iterator for Frames<'a> {
    type Item = Frame<'a>;

    fn next(&mut self) -> Option<Frame<'a>> {
        let f = self.next_frame();
        if f.is_none() {
            // Never resume after a frame we could not read.
            self.at = self.b.len();
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_frames() {
        let plain = [
            0x02, 0x05, 0x0a, 0x01, 0x00, 0x01, 0x02, // ACK largest 5, delay 10, 1 range
            0x06, 0x00, 0x03, b'a', b'b', b'c', // CRYPTO offset 0, "abc"
            0x01, // PING
            0x1c, 0x41, 0x2a, 0x00, 0x02, b'n', b'o', // CONNECTION_CLOSE 0x12a "no"
            0x00, 0x00, 0x00, // padding
        ];
        let got: Vec<_> = frames(&plain).collect();
        assert_eq!(
            got,
            [
                Frame::Ack {
                    largest: 5,
                    delay: 10
                },
                Frame::Crypto {
                    offset: 0,
                    data: b"abc"
                },
                Frame::Ping,
                Frame::Close {
                    code: 0x12a,
                    reason: b"no"
                },
                Frame::Padding,
            ]
        );
    }

    #[test]
    fn cut_and_unknown_frames_stop_the_walk() {
        let plain = [0x06, 0x00, 0x09, b'a', 0x01];
        assert_eq!(frames(&plain).count(), 0);
        // STREAM (0x08) is not allowed in an Initial: stop there.
        assert_eq!(frames(&[0x01, 0x08, 0x01]).count(), 1);
        // An ACK claiming a huge range count ends at the data's end.
        assert_eq!(frames(&[0x02, 0x01, 0x00, 0x7f, 0xff, 0x00]).count(), 0);
    }
}
