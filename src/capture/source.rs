//! The byte source under the format readers: one large buffer that the kernel (or the gzip
//! decoder) writes into and that records are framed in place from, so a packet's bytes are
//! copied once on their way to the decoder (a record cut by the buffer's end moves to the front).
//!
//! For the two-stage pipeline the buffer can be handed over whole: given a spare buffer
//! ([`Source::give_spare`]), the source continues in it when the current one is used up and
//! keeps the finished one for [`Source::take_retired`], so the frames framed in it stay valid
//! while another thread analyses them. Without a spare it reuses its one buffer.

use std::io::{self, Read};
use std::ops::Range;

use super::{CaptureError, MAX_RECORD_LEN};

/// Buffer size: large enough that the kernel copy dominates a read call and that a batch of
/// frames handed to the analysis thread amortises the hand-over (about 350 full-size Ethernet
/// frames). Measured on the 500k-frame bench capture with page-aligned reads and shared
/// decoding, medians of 15 alternating runs: 128 KiB 137 ms, 256 KiB 132-135 ms, 512 KiB
/// 126-127 ms, 1 MiB 126 ms; so 512 KiB, the smaller of the fastest. (Before reads were aligned,
/// 256 KiB had run about 10% faster than 1 MiB.)
pub(crate) const CHUNK: usize = 512 << 10;

/// Reads land on a page boundary of the buffer and start at a page boundary of the file: the
/// kernel's copy (`copy_to_user`, `rep movsb`) runs about 13% faster with both aligned than with
/// malloc's 16-byte alignment (measured on the 525 MB bench capture: 72 against 83 ms). So the
/// unread tail of a buffer moves to just before a page boundary, and a read asks for whole pages.
const PAGE: usize = 4096;

/// Result of trying to read a given number of bytes.
pub(crate) enum Fill {
    Full,
    /// End of input before the first byte.
    Eof,
    /// End of input after `n` bytes.
    Short(usize),
}

/// A byte source that counts what it hands out, so errors can name offsets.
pub(crate) struct Source {
    inner: Box<dyn Read + Send>,
    buf: Vec<u8>,
    /// Unconsumed bytes are `buf[pos..end]`.
    pos: usize,
    end: usize,
    /// Input offset of `buf[pos]`.
    pub(crate) offset: u64,
    spare: Option<Vec<u8>>,
    retired: Option<Vec<u8>>,
}

impl Source {
    pub(crate) fn new(inner: Box<dyn Read + Send>) -> Self {
        let buf = vec![0; CHUNK + PAGE];
        let start = aligned(&buf, 0);
        Source {
            inner,
            buf,
            pos: start,
            end: start,
            offset: 0,
            spare: None,
            retired: None,
        }
    }

    /// The bytes of a range [`Source::take`] returned, valid until the buffer moves on.
    pub(crate) fn bytes(&self, r: Range<usize>) -> &[u8] {
        self.buf.get(r).unwrap_or(&[])
    }

    /// A buffer to continue in when the current one is used up (its contents are overwritten).
    pub(crate) fn give_spare(&mut self, spare: Vec<u8>) {
        self.spare = Some(spare);
    }

    /// The buffer left behind when the source moved to the spare: every range taken before the
    /// move indexes it.
    pub(crate) fn take_retired(&mut self) -> Option<Vec<u8>> {
        self.retired.take()
    }

    /// The current buffer, leaving an empty one (what is unconsumed in it is dropped: call at the
    /// end of the stream).
    pub(crate) fn take_buffer(&mut self) -> Vec<u8> {
        self.pos = 0;
        self.end = 0;
        std::mem::take(&mut self.buf)
    }

    /// Reads exactly `out.len()` bytes unless the input ends.
    pub(crate) fn fill(&mut self, out: &mut [u8]) -> Result<Fill, CaptureError> {
        let (fill, r) = self.take(out.len())?;
        let got = r.len();
        out[..got].copy_from_slice(&self.buf[r]);
        Ok(fill)
    }

    /// The next `len` bytes, in place: their range in the buffer (shorter when the input ends
    /// first). `len` must already be bounded by about [`MAX_RECORD_LEN`].
    pub(crate) fn take(&mut self, len: usize) -> Result<(Fill, Range<usize>), CaptureError> {
        self.ensure(len)?;
        let got = len.min(self.end - self.pos);
        let r = self.pos..self.pos + got;
        self.pos += got;
        self.offset += got as u64;
        let fill = match got {
            n if n == len => Fill::Full,
            0 => Fill::Eof,
            n => Fill::Short(n),
        };
        Ok((fill, r))
    }

    /// Reads until `len` bytes are available or the input ends.
    fn ensure(&mut self, len: usize) -> Result<(), CaptureError> {
        while self.end - self.pos < len {
            // A sliver of room left is not read into (the next read would start off a page of
            // the file): the tail moves on instead, unless it is a record too large to move.
            let sliver = self.buf.len() - self.end < PAGE && self.end - self.pos < CHUNK;
            if self.buf.len() - self.pos < len || sliver {
                self.make_room(len);
            }
            let mut room = &mut self.buf[self.end..];
            if room.len() >= PAGE {
                // Whole pages, so that the next read starts on a page of the file too.
                let pages = room.len() / PAGE * PAGE;
                room = &mut room[..pages];
            }
            match self.inner.read(room) {
                Ok(0) => return Ok(()),
                Ok(n) => self.end += n.min(room.len()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // A gzip stream that ends early reports UnexpectedEof: that is a cut, not an error.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                Err(source) => {
                    return Err(CaptureError::Io {
                        offset: self.offset + (self.end - self.pos) as u64,
                        source,
                    })
                }
            }
        }
        Ok(())
    }

    /// Moves the unconsumed tail to the front of the spare buffer (retiring this one) or of this
    /// one, growing it to hold `len` bytes (bounded by the record limit).
    fn make_room(&mut self, len: usize) {
        let tail = self.end - self.pos;
        // Room for the tail before a page boundary, then a chunk (or the rest of the record).
        let want = (tail + PAGE + len.saturating_sub(tail).max(CHUNK))
            .min(MAX_RECORD_LEN as usize * 2 + PAGE)
            .max(tail);
        let start = match self.spare.take() {
            Some(mut next) => {
                if next.len() < want {
                    next.resize(want, 0);
                }
                let start = aligned(&next, tail);
                next[start - tail..start].copy_from_slice(&self.buf[self.pos..self.end]);
                self.retired = Some(std::mem::replace(&mut self.buf, next));
                start
            }
            None => {
                if self.buf.len() < want {
                    self.buf.resize(want, 0);
                }
                let start = aligned(&self.buf, tail);
                self.buf.copy_within(self.pos..self.end, start - tail);
                start
            }
        };
        self.pos = start - tail;
        self.end = start;
    }
}

/// Where reading continues in `buf` after a tail of `tail` bytes: the first page boundary at or
/// after `tail`, or `tail` itself when the boundary is past the end (a buffer at its size limit).
fn aligned(buf: &[u8], tail: usize) -> usize {
    let addr = buf.as_ptr().addr();
    let start = (addr + tail).next_multiple_of(PAGE) - addr;
    if start <= buf.len() {
        start
    } else {
        tail
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out at most 7 bytes per call, as a pipe may.
    struct Trickle(io::Cursor<Vec<u8>>);
    impl Read for Trickle {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let n = out.len().min(7);
            self.0.read(&mut out[..n])
        }
    }

    #[test]
    fn takes_across_buffer_ends_and_retires_with_a_spare() {
        let data: Vec<u8> = (0..3 * CHUNK + 11).map(|i| (i % 251) as u8).collect();
        let mut s = Source::new(Box::new(io::Cursor::new(data.clone())));
        let mut seen = Vec::new();
        let mut retired = 0;
        loop {
            s.give_spare(vec![0; 16]);
            let (fill, r) = s.take(1000).expect("reads");
            seen.extend_from_slice(s.bytes(r));
            if s.take_retired().is_some() {
                retired += 1;
            }
            if !matches!(fill, Fill::Full) {
                break;
            }
        }
        assert_eq!(seen, data);
        assert_eq!(retired, 3);
        assert_eq!(s.offset, data.len() as u64);
    }

    #[test]
    fn short_reads_fill_whole_records() {
        let data: Vec<u8> = (0..5000u32).map(|i| i as u8).collect();
        let mut s = Source::new(Box::new(Trickle(io::Cursor::new(data.clone()))));
        let mut head = [0u8; 3000];
        assert!(matches!(s.fill(&mut head).expect("reads"), Fill::Full));
        assert_eq!(&head[..], &data[..3000]);
        let (fill, r) = s.take(3000).expect("reads");
        assert!(matches!(fill, Fill::Short(2000)));
        assert_eq!(s.bytes(r), &data[3000..]);
        assert!(matches!(s.take(1).expect("reads").0, Fill::Eof));
    }

    /// Records, for every read call, whether the destination and the input offset were on a
    /// page boundary.
    struct Recorder {
        data: io::Cursor<Vec<u8>>,
        calls: std::sync::Arc<std::sync::Mutex<Vec<(bool, bool)>>>,
    }
    impl Read for Recorder {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            // A read at the end of the input (after the short last one) reads nothing.
            if self.data.position() < self.data.get_ref().len() as u64 {
                let aligned = (
                    out.as_ptr().addr().is_multiple_of(PAGE),
                    self.data.position().is_multiple_of(PAGE as u64),
                );
                self.calls.lock().expect("not poisoned").push(aligned);
            }
            self.data.read(out)
        }
    }

    #[test]
    fn reads_land_on_pages_of_buffer_and_file() {
        let data: Vec<u8> = (0..6 * CHUNK + 11).map(|i| (i % 253) as u8).collect();
        let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let rec = Recorder {
            data: io::Cursor::new(data.clone()),
            calls: calls.clone(),
        };
        let mut s = Source::new(Box::new(rec));
        let mut seen = Vec::new();
        // Small records, so that one ending in a buffer's last part-page is the rule.
        for (i, len) in [1517usize, 60, 9, 1, 333, 77].iter().cycle().enumerate() {
            if i % 2 == 0 {
                s.give_spare(Vec::new());
            }
            let (fill, r) = s.take(*len).expect("reads");
            seen.extend_from_slice(s.bytes(r));
            if !matches!(fill, Fill::Full) {
                break;
            }
        }
        assert_eq!(seen, data);
        let calls = calls.lock().expect("not poisoned");
        assert!(calls.len() >= 6, "{} reads", calls.len());
        assert!(calls.iter().all(|&(buf, file)| buf && file), "{calls:?}");
    }
}
