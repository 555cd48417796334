//! The frames of a decrypted QUIC packet (RFC 9000 §12.4, §19, and RFC 9221's DATAGRAM), read
//! in place: the ones analysis uses with their fields, the others skipped by their length.

use crate::decode::quic::varint;

/// One frame, borrowed from the plaintext.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frame<'a> {
    Padding,
    Ping,
    /// The largest packet number acknowledged, the sender's ack delay (in its
    /// `ack_delay_exponent` units, 2^3 µs by default) and the ranges acknowledged.
    Ack {
        largest: u64,
        delay: u64,
        ranges: AckRanges<'a>,
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
    /// STREAM: the stream, the offset of the data and its length, and whether it ends the
    /// stream.
    Stream {
        id: u64,
        offset: u64,
        len: u64,
        fin: bool,
    },
    /// MAX_DATA, MAX_STREAM_DATA: the receiver's flow control limits (RFC 9000 §4).
    MaxData(u64),
    MaxStreamData {
        id: u64,
        max: u64,
    },
    /// DATA_BLOCKED, STREAM_DATA_BLOCKED: the sender is held at the peer's limit.
    DataBlocked(u64),
    StreamDataBlocked {
        id: u64,
        limit: u64,
    },
    HandshakeDone,
    /// Any other frame of RFC 9000 §19 or RFC 9221 (DATAGRAM), by its type.
    Other(u64),
}

/// The packet numbers an ACK frame acknowledges (RFC 9000 §19.3.1): the first range below its
/// largest, then (gap, length) pairs going down, already read whole by the frame walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckRanges<'a> {
    largest: u64,
    first: u64,
    /// The encoded (gap, ACK range length) varint pairs after the first range.
    more: &'a [u8],
}

impl AckRanges<'_> {
    /// The ranges, inclusive `(smallest, largest)`, from the top down; a range that would go
    /// below packet number 0 (a malformed frame) ends them.
    pub fn iter(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        let mut at = 0;
        let mut next = self
            .largest
            .checked_sub(self.first)
            .map(|lo| (lo, self.largest));
        std::iter::from_fn(move || {
            let this = next?;
            next = (|| {
                let gap = varint(self.more, &mut at).ok()?;
                let len = varint(self.more, &mut at).ok()?;
                // RFC 9000 §19.3.1: largest = previous smallest - gap - 2.
                let hi = this.0.checked_sub(gap)?.checked_sub(2)?;
                Some((hi.checked_sub(len)?, hi))
            })();
            Some(this)
        })
    }
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
                let count = varint(b, at).ok()?;
                let first = varint(b, at).ok()?;
                let start = *at;
                for _ in 0..count {
                    // Each range is two varints of at least one byte: a count beyond the bytes
                    // left is a lie, stopped by the first failed read.
                    varint(b, at).ok()?;
                    varint(b, at).ok()?;
                }
                let ranges = AckRanges {
                    largest,
                    first,
                    more: b.get(start..*at)?,
                };
                if kind == 0x03 {
                    for _ in 0..3 {
                        varint(b, at).ok()?; // ECT0, ECT1, ECN-CE counts
                    }
                }
                Frame::Ack {
                    largest,
                    delay,
                    ranges,
                }
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
            0x08..=0x0f => {
                let id = varint(b, at).ok()?;
                let offset = if kind & 0x04 != 0 {
                    varint(b, at).ok()?
                } else {
                    0
                };
                let len = if kind & 0x02 != 0 {
                    varint(b, at).ok()?
                } else {
                    (b.len() - (*at).min(b.len())) as u64
                };
                let end = at.checked_add(usize::try_from(len).ok()?)?;
                b.get(*at..end)?;
                *at = end;
                Frame::Stream {
                    id,
                    offset,
                    len,
                    fin: kind & 0x01 != 0,
                }
            }
            0x10 => Frame::MaxData(varint(b, at).ok()?),
            0x11 => Frame::MaxStreamData {
                id: varint(b, at).ok()?,
                max: varint(b, at).ok()?,
            },
            0x14 => Frame::DataBlocked(varint(b, at).ok()?),
            0x15 => Frame::StreamDataBlocked {
                id: varint(b, at).ok()?,
                limit: varint(b, at).ok()?,
            },
            0x1e => Frame::HandshakeDone,
            _ => {
                skip_other(kind, b, at)?;
                Frame::Other(kind)
            }
        })
    }
}

/// Skips the body of the other frames of RFC 9000 §19 and RFC 9221's DATAGRAM; `None` for a
/// type none of them has (the walk stops there: its length is unknown).
fn skip_other(kind: u64, b: &[u8], at: &mut usize) -> Option<()> {
    let fields = |n: usize, at: &mut usize| -> Option<()> {
        for _ in 0..n {
            varint(b, at).ok()?;
        }
        Some(())
    };
    match kind {
        0x04 => fields(3, at),           // RESET_STREAM: id, error, final size
        0x05 => fields(2, at),           // STOP_SENDING: id, error
        0x07 => take(b, at).map(|_| ()), // NEW_TOKEN
        0x12 | 0x13 | 0x16 | 0x17 | 0x19 => fields(1, at), // MAX_STREAMS, STREAMS_BLOCKED, RETIRE_CONNECTION_ID
        0x18 => {
            // NEW_CONNECTION_ID: sequence, retire prior to, a CID of 1-20 bytes, a 16-byte token.
            fields(2, at)?;
            let n = usize::from(*b.get(*at)?);
            let end = at.checked_add(1 + n + 16)?;
            b.get(*at..end)?;
            *at = end;
            Some(())
        }
        0x1a | 0x1b => {
            // PATH_CHALLENGE, PATH_RESPONSE: 8 bytes.
            b.get(*at..*at + 8)?;
            *at += 8;
            Some(())
        }
        0x30 => {
            *at = b.len(); // DATAGRAM to the end of the packet
            Some(())
        }
        0x31 => take(b, at).map(|_| ()),
        _ => None,
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
        let Frame::Ack { ranges, .. } = got[0] else {
            panic!("{got:?}");
        };
        // Largest 5, first range 0: 5; gap 1 (3 and 4 missing), length 2: 0-2.
        assert_eq!(ranges.iter().collect::<Vec<_>>(), [(5, 5), (0, 2)]);
        assert_eq!(
            got,
            [
                Frame::Ack {
                    largest: 5,
                    delay: 10,
                    ranges,
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
    fn one_rtt_frames() {
        let plain = [
            0x0e, 0x04, 0x40, 0x64, 0x03, b'a', b'b', b'c', // STREAM 4, offset 100, len 3
            0x10, 0x44, 0x00, // MAX_DATA 1024
            0x15, 0x04, 0x44, 0x00, // STREAM_DATA_BLOCKED 4 at 1024
            0x1a, 1, 2, 3, 4, 5, 6, 7, 8, // PATH_CHALLENGE
            0x18, 0x01, 0x00, 0x02, 0xaa, 0xbb, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
            0,    // NEW_CONNECTION_ID
            0x1e, // HANDSHAKE_DONE
            0x09, 0x00, b'x', b'y', // STREAM 0, FIN, to the end
        ];
        let got: Vec<_> = frames(&plain).collect();
        assert_eq!(
            got,
            [
                Frame::Stream {
                    id: 4,
                    offset: 100,
                    len: 3,
                    fin: false
                },
                Frame::MaxData(1024),
                Frame::StreamDataBlocked { id: 4, limit: 1024 },
                Frame::Other(0x1a),
                Frame::Other(0x18),
                Frame::HandshakeDone,
                Frame::Stream {
                    id: 0,
                    offset: 0,
                    len: 2,
                    fin: true
                },
            ]
        );
        // A STREAM frame longer than the packet stops the walk.
        assert_eq!(frames(&[0x0a, 0x00, 0x05, b'a']).count(), 0);
    }

    #[test]
    fn cut_and_unknown_frames_stop_the_walk() {
        let plain = [0x06, 0x00, 0x09, b'a', 0x01];
        assert_eq!(frames(&plain).count(), 0);
        // An unassigned frame type (0x21): its length is unknown, the walk stops there.
        assert_eq!(frames(&[0x01, 0x21, 0x01]).count(), 1);
        // An ACK claiming a huge range count ends at the data's end.
        assert_eq!(frames(&[0x02, 0x01, 0x00, 0x7f, 0xff, 0x00]).count(), 0);
    }

    /// Ranges that would go below packet number 0 end the walk instead of wrapping.
    #[test]
    fn ack_ranges_never_wrap_below_zero() {
        let ranges = |plain: &[u8]| match frames(plain).next() {
            Some(Frame::Ack { ranges, .. }) => ranges.iter().collect::<Vec<_>>(),
            f => panic!("{f:?}"),
        };
        // Largest 3, first range 5: below 0.
        assert_eq!(ranges(&[0x02, 0x03, 0x00, 0x00, 0x05]), []);
        // Largest 10, first 0 (10); gap 3 (6..9 missing), length 9: 5 - 9 < 0, stops.
        assert_eq!(
            ranges(&[0x02, 0x0a, 0x00, 0x01, 0x00, 0x03, 0x09]),
            [(10, 10)]
        );
        // Largest 10, first 0; gap 0 (9 missing), length 8: 0-8.
        assert_eq!(
            ranges(&[0x02, 0x0a, 0x00, 0x01, 0x00, 0x00, 0x08]),
            [(10, 10), (0, 8)]
        );
        // ACK_ECN: the three counts after the ranges are not ranges.
        assert_eq!(
            ranges(&[0x03, 0x0a, 0x00, 0x00, 0x02, 0x01, 0x02, 0x03]),
            [(8, 10)]
        );
    }
}
