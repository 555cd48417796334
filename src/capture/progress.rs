//! The process-wide count of frames and bytes read, for the progress line on stderr
//! (`commands/progress.rs` draws it). A pass adds to it every [`EVERY`] frames and when it ends;
//! nothing on the per-frame path but two stores and a test.
//!
//! Process-wide like [`super::stop`]: the passes of many captures run on several threads and the
//! one progress line counts them all, without every pass being handed a counter.

use std::sync::atomic::{AtomicU64, Ordering};

use super::Frame;

/// Frames between two additions to the shared counters: two uncontended atomic additions per
/// 128 frames are well under a nanosecond a frame, and a pipe of a thousand frames per second
/// (`tcpdump -w - | offload-doctor analyze -`) still moves the line several times a second.
pub const EVERY: u64 = 128;

static FRAMES: AtomicU64 = AtomicU64::new(0);
static BYTES: AtomicU64 = AtomicU64::new(0);

/// Frames and bytes read so far by every pass of the process (bytes: of the capture as read,
/// decompressed when it is gzip).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Read {
    pub frames: u64,
    pub bytes: u64,
}

/// What every pass has read so far.
pub fn read() -> Read {
    Read {
        frames: FRAMES.load(Ordering::Relaxed),
        bytes: BYTES.load(Ordering::Relaxed),
    }
}

/// One pass's share of the counters: what it saw, and what it has added.
#[derive(Debug, Default)]
pub struct Tally {
    seen: Read,
    added: Read,
}

impl Tally {
    /// Notes `frame` (the read loop calls this once per frame); adds to the shared counters
    /// every [`EVERY`] frames.
    #[inline]
    pub fn frame(&mut self, frame: &Frame<'_>) {
        self.seen = Read {
            frames: frame.number,
            bytes: frame.offset + frame.data.len() as u64,
        };
        if frame.number.is_multiple_of(EVERY) {
            self.add();
        }
    }

    fn add(&mut self) {
        FRAMES.fetch_add(
            self.seen.frames.saturating_sub(self.added.frames),
            Ordering::Relaxed,
        );
        BYTES.fetch_add(
            self.seen.bytes.saturating_sub(self.added.bytes),
            Ordering::Relaxed,
        );
        self.added = self.seen;
    }
}

impl Drop for Tally {
    /// The frames since the last addition: a pass that ended is counted whole.
    fn drop(&mut self) {
        self.add();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(number: u64, offset: u64, data: &[u8]) -> Frame<'_> {
        Frame {
            number,
            ts_ns: 0,
            ts_known: true,
            ts_bad_fraction: false,
            link_type: 1,
            interface: Some(0),
            wire_len: data.len() as u32,
            data,
            offset,
            secrets: None,
        }
    }

    #[test]
    fn a_pass_adds_every_128_frames_and_the_rest_at_its_end() {
        // Other tests' passes run in this process too: only a lower bound holds for the
        // shared counters, the pass's own share is exact.
        let data = [0u8; 100];
        let before = read();
        let mut t = Tally::default();
        for n in 1..EVERY {
            t.frame(&frame(n, 24 + (n - 1) * 116, &data));
        }
        assert_eq!(t.added, Read::default(), "nothing added before frame 128");
        t.frame(&frame(EVERY, 24 + (EVERY - 1) * 116, &data));
        let end = 24 + (EVERY - 1) * 116 + 100;
        assert_eq!(
            t.added,
            Read {
                frames: EVERY,
                bytes: end
            }
        );
        t.frame(&frame(EVERY + 1, end + 16, &data));
        drop(t);
        let after = read();
        assert!(after.frames - before.frames > EVERY);
        assert!(after.bytes - before.bytes >= end + 116);
    }
}
