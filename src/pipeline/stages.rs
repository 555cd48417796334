//! The pass on two threads, so that both cores work on one capture: reading and decoding on one,
//! flows, detectors and the caller's tap on the other (the caller's), in frame order. Decoding is
//! shared: the analysis thread decodes the frames the reading thread left it, a share that
//! follows whichever thread waits ([`Share`]), so neither core idles while the other works.
//!
//! Frames cross in batches: a batch is one whole read buffer of the capture reader and the
//! decoded packets of the frames framed in it, so nothing is copied on the way and the
//! synchronisation (a bounded channel) is paid once per about 350 full-size frames. Emptied
//! batches go back to the reader to be refilled, so the pass allocates a few batches in all,
//! never one per frame.
//! The analysis sees exactly the frames, packets and order of the single-threaded pass
//! (`OFFLOAD_DOCTOR_THREADS=1`), so the report is byte-identical; a test compares them.

use std::ops::Range;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};

use rustc_hash::FxHashMap;

use crate::capture::{progress, CaptureError, CaptureReader, Frame, LinkType};
use crate::decode::{self, DecodeConfig, Kind, Packet};
use crate::report::Totals;

/// Batches waiting for the analysis thread: enough that a moment's stall of either thread (the
/// other's batch, a page-cache miss, the host taking the core) does not stall the other, and a
/// bound on the memory (each is a 512 KiB read buffer and its packets). Measured on the 500k
/// bench capture, medians of 13 alternating runs: 1 batch 134 ms, 2 132 ms, 4 124-126 ms, 8
/// 126 ms (peak RSS 16.5 MB with 4, 19.1 MB with 8).
const BATCHES: usize = 4;

/// Frames a fresh batch has room for before it grows (a 512 KiB buffer of ACKs).
const BATCH_FRAMES: usize = 8192;

/// What the pass counts of every frame: the totals where frames are read, the kinds where their
/// packets are analysed (both on one thread, or each on its own of two).
#[derive(Default)]
pub(super) struct Counts {
    pub totals: Totals,
    /// Per-kind counters in a small map, turned into names once at the end (no per-packet
    /// String).
    kinds: FxHashMap<Kind, u64>,
    /// The kind of the last frames and how many in a row: captures are runs of one kind (TCP,
    /// mostly), so the map is touched once a run, not once a frame (a hash lookup per frame was
    /// 3% of the pass).
    run: Option<(Kind, u64)>,
}

impl Counts {
    #[inline]
    pub fn count(&mut self, frame: &Frame<'_>, pkt: &Packet) {
        self.count_kind(pkt.kind);
        self.totals.count(frame);
    }

    /// One frame of `kind` (the two-stage pass counts kinds where the packet is analysed, the
    /// totals where the frame is read).
    #[inline]
    fn count_kind(&mut self, kind: Kind) {
        match &mut self.run {
            Some((k, n)) if *k == kind => *n += 1,
            run => {
                if let Some((k, n)) = run.replace((kind, 1)) {
                    *self.kinds.entry(k).or_default() += n;
                }
            }
        }
    }

    /// The frames of each kind, once the pass is over.
    pub fn take_kinds(&mut self) -> FxHashMap<Kind, u64> {
        if let Some((kind, n)) = self.run.take() {
            *self.kinds.entry(kind).or_default() += n;
        }
        std::mem::take(&mut self.kinds)
    }
}

/// One decoded frame without its borrow of the read buffer.
struct Decoded {
    head: Head,
    /// Decoded in place ([`decode::decode_to`]): it owns nothing of the frame.
    pkt: Packet,
    /// Whether the reading thread decoded `pkt`; if not, the analysis thread does ([`Share`]).
    decoded: bool,
}

/// A frame's fields, its bytes by their place in the batch's buffer.
struct Head {
    number: u64,
    ts_ns: i64,
    ts_known: bool,
    ts_bad_fraction: bool,
    link_type: LinkType,
    interface: Option<u32>,
    wire_len: u32,
    offset: u64,
    /// The frame's bytes in its batch's buffer.
    data: Range<usize>,
    /// Key log text that arrived before the frame (pcapng Decryption Secrets Blocks, rare).
    secrets: Option<Box<[u8]>>,
}

impl Head {
    /// The frame again, borrowing the batch's buffer.
    fn frame<'b>(&'b self, bytes: &'b [u8]) -> Frame<'b> {
        Frame {
            number: self.number,
            ts_ns: self.ts_ns,
            ts_known: self.ts_known,
            ts_bad_fraction: self.ts_bad_fraction,
            link_type: self.link_type,
            interface: self.interface,
            wire_len: self.wire_len,
            data: bytes.get(self.data.clone()).unwrap_or(&[]),
            offset: self.offset,
            secrets: self.secrets.as_deref(),
        }
    }
}

impl Decoded {
    /// The frame's fields without its bytes (their range is set once the reader says where
    /// they are); its packet is decoded into the slot afterwards.
    fn frame(frame: &Frame<'_>) -> Self {
        let head = Head {
            number: frame.number,
            ts_ns: frame.ts_ns,
            ts_known: frame.ts_known,
            ts_bad_fraction: frame.ts_bad_fraction,
            link_type: frame.link_type,
            interface: frame.interface,
            wire_len: frame.wire_len,
            offset: frame.offset,
            data: 0..0,
            secrets: frame.secrets.map(Box::from),
        };
        Decoded {
            head,
            pkt: Packet::new(Kind::OtherIp),
            decoded: false,
        }
    }

    /// Decodes the packet here if the reading thread left it to this thread ([`Share`]).
    #[inline]
    fn decode(&mut self, bytes: &[u8], cfg: &DecodeConfig) {
        if !self.decoded {
            decode::decode_to(&self.head.frame(bytes), cfg, &mut self.pkt);
            self.decoded = true;
        }
    }
}

/// A read buffer and the frames framed in it.
struct Batch {
    bytes: Vec<u8>,
    frames: Vec<Decoded>,
}

/// Which frames the reading thread decodes, in sixteenths of each batch; the analysis thread
/// decodes the others. The two threads' work differs from capture to capture (decoding is a
/// large part of a frame's cost on busy links, a small one next to QUIC or many flows), so the
/// split follows whoever waits: the reading thread takes a sixteenth more when it finds the
/// queue full, the analysis thread a sixteenth more when it finds the queue empty. Which thread
/// decodes a frame never changes its packet (decoding is a function of the frame's bytes), so
/// the report stays byte-identical. `OFFLOAD_DOCTOR_READER_SHARE=N` (hidden, for the test that
/// holds fixed splits to the one-thread report) fixes the split at N sixteenths.
struct Share {
    sixteenths: AtomicU32,
    fixed: bool,
}

impl Share {
    const STEPS: u32 = 16;

    fn new() -> Self {
        let fixed = std::env::var("OFFLOAD_DOCTOR_READER_SHARE")
            .ok()
            .and_then(|v| v.parse::<u32>().ok());
        Share {
            sixteenths: AtomicU32::new(fixed.unwrap_or(Self::STEPS).min(Self::STEPS)),
            fixed: fixed.is_some(),
        }
    }

    /// Whether the reading thread decodes the frame at `index` of its batch.
    #[inline]
    fn reader_decodes(sixteenths: u32, index: usize) -> bool {
        (index as u32 % Self::STEPS) < sixteenths
    }

    fn get(&self) -> u32 {
        self.sixteenths.load(Ordering::Relaxed)
    }

    /// The reading thread waited for the analysis: it decodes more.
    fn to_reader(&self) {
        self.shift(|s| (s < Self::STEPS).then_some(s + 1));
    }

    /// The analysis thread waited for the reading: it decodes more.
    fn to_analysis(&self) {
        self.shift(|s| s.checked_sub(1));
    }

    fn shift(&self, f: impl FnMut(u32) -> Option<u32>) {
        if !self.fixed {
            let _ = self
                .sixteenths
                .fetch_update(Ordering::Relaxed, Ordering::Relaxed, f);
        }
    }
}

/// Runs the pass: `reader` is read and decoded on a second thread while `analyse` sees every
/// frame here, in order. Returns the reader (its meta) and the counts once the input ends.
pub(super) fn run(
    reader: CaptureReader,
    cfg: &DecodeConfig,
    analyse: &mut dyn FnMut(&Frame<'_>, &Packet),
) -> Result<(CaptureReader, Counts), CaptureError> {
    let (tx, rx) = mpsc::sync_channel::<Batch>(BATCHES);
    // Sized above the batches that can exist at once (queued, analysed, filling, spare), so
    // handing one back never blocks nor allocates.
    let (back, recycled) = mpsc::sync_channel::<Batch>(BATCHES + 4);
    let share = Share::new();
    let mut kinds = Counts::default();
    std::thread::scope(|s| {
        let share = &share;
        let reading = s.spawn(move || read_and_decode(reader, cfg, tx, recycled, share));
        loop {
            let mut batch = match rx.try_recv() {
                Ok(b) => b,
                Err(TryRecvError::Empty) => {
                    share.to_analysis();
                    match rx.recv() {
                        Ok(b) => b,
                        Err(_) => break,
                    }
                }
                Err(TryRecvError::Disconnected) => break,
            };
            let Batch { bytes, frames } = &mut batch;
            for d in frames.iter_mut() {
                d.decode(bytes, cfg);
                kinds.count_kind(d.pkt.kind);
                analyse(&d.head.frame(bytes), &d.pkt);
            }
            // The reader may have finished: then the batch is simply dropped.
            let _ = back.try_send(batch);
        }
        let (reader, mut counts) = match reading.join() {
            Ok(r) => r?,
            Err(panic) => std::panic::resume_unwind(panic),
        };
        counts.kinds = kinds.kinds;
        counts.run = kinds.run;
        Ok((reader, counts))
    })
}

/// The reading thread: frames, decodes its share ([`Share`]) and counts, and sends a batch each
/// time the reader moves on to a new buffer (and the last one at the end).
fn read_and_decode(
    mut reader: CaptureReader,
    cfg: &DecodeConfig,
    tx: SyncSender<Batch>,
    recycled: Receiver<Batch>,
    share: &Share,
) -> Result<(CaptureReader, Counts), CaptureError> {
    let mut counts = Counts::default();
    // The progress line's counters (capture/progress.rs): two stores a frame.
    let mut tally = progress::Tally::default();
    let mut frames = Vec::with_capacity(BATCH_FRAMES);
    let mut sixteenths = share.get();
    reader.give_spare(Vec::new());
    loop {
        {
            let Some(frame) = reader.next_frame()? else {
                break;
            };
            tally.frame(&frame);
            counts.totals.count(&frame);
            let here = Share::reader_decodes(sixteenths, frames.len());
            frames.push(Decoded::frame(&frame));
            if here {
                let Some(d) = frames.last_mut() else {
                    break; // never: just pushed
                };
                decode::decode_to(&frame, cfg, &mut d.pkt);
                d.decoded = true;
            }
        }
        let data = reader.last_frame_range();
        if let Some(full) = reader.take_retired() {
            // Every frame before this one is in the retired buffer; this one is in the new one.
            let next = recycled.try_recv().unwrap_or_else(|_| Batch {
                bytes: Vec::new(),
                frames: Vec::with_capacity(BATCH_FRAMES),
            });
            let mut next_frames = next.frames;
            next_frames.clear();
            let mut full_frames = std::mem::replace(&mut frames, next_frames);
            if let Some(this) = full_frames.pop() {
                frames.push(this);
            }
            reader.give_spare(next.bytes);
            let batch = Batch {
                bytes: full,
                frames: full_frames,
            };
            let sent = match tx.try_send(batch) {
                Ok(()) => Ok(()),
                Err(TrySendError::Full(batch)) => {
                    share.to_reader();
                    tx.send(batch).map_err(drop)
                }
                Err(TrySendError::Disconnected(_)) => Err(()),
            };
            if sent.is_err() {
                break; // the analysis thread is gone (it panicked): nothing left to do
            }
            sixteenths = share.get();
        }
        if let Some(d) = frames.last_mut() {
            d.head.data = data;
        }
    }
    if !frames.is_empty() {
        // Looking for the next record may have moved the reader to a fresh buffer (a sliver of
        // room left at the end of the input): then the last frames are in the one it retired.
        let bytes = reader
            .take_retired()
            .unwrap_or_else(|| reader.take_buffer());
        let _ = tx.send(Batch { bytes, frames });
    }
    Ok((reader, counts))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::CHUNK;

    /// A pcap of Ethernet frames of 1,000 bytes each (the last one shorter) whose file is
    /// exactly `size` bytes long; each frame's bytes name its number.
    fn pcap_of(size: usize) -> Vec<u8> {
        let mut f = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        f.extend_from_slice(&[0, 0, 4, 0, 1, 0, 0, 0]);
        let mut n = 0u32;
        while f.len() < size {
            // The last record takes what is left; the one before leaves it room for a header.
            let rem = size - f.len();
            let len = match rem {
                r if r <= 1016 => r - 16,
                r if r < 1016 + 32 => 900,
                _ => 1000,
            };
            n += 1;
            for v in [n, 0, len as u32, len as u32] {
                f.extend_from_slice(&v.to_le_bytes());
            }
            f.extend((0..len).map(|i| (n as usize + i) as u8));
        }
        f
    }

    /// Every frame reaches the analysis with its own bytes, whatever the file's length does to
    /// the last read: a file that fills the read buffer to within a page of its end makes the
    /// reader move to a fresh buffer while it finds the end, and the last frames were then
    /// handed over with that empty buffer instead of theirs (frames cut to 0 bytes).
    #[test]
    fn the_last_frames_keep_their_bytes_at_every_end_of_buffer() {
        for size in [
            CHUNK - 2048,
            CHUNK,
            CHUNK + 2048,
            2 * CHUNK,
            2 * CHUNK + 3000,
        ] {
            let data = pcap_of(size);
            assert_eq!(data.len(), size);
            let reader = CaptureReader::from_reader(Box::new(std::io::Cursor::new(data)))
                .expect("a capture");
            let mut seen = Vec::new();
            run(reader, &DecodeConfig::default(), &mut |frame, _| {
                let ok = frame.data.len() as u32 == frame.wire_len
                    && frame
                        .data
                        .iter()
                        .enumerate()
                        .all(|(i, &b)| b == (frame.number as usize + i) as u8);
                seen.push((frame.number, ok));
            })
            .expect("the pass");
            assert!(seen.len() > 500, "{size}: {} frames", seen.len());
            let bad: Vec<u64> = seen.iter().filter(|s| !s.1).map(|s| s.0).collect();
            assert!(bad.is_empty(), "{size}: frames {bad:?} lost their bytes");
        }
    }
}
