//! The pass on two threads, so that both cores work on one capture: reading and decoding on one,
//! flows, detectors and the caller's tap on the other (the caller's), in frame order.
//!
//! Frames cross in batches: a batch is one whole read buffer of the capture reader and the
//! decoded packets of the frames framed in it, so nothing is copied on the way and the
//! synchronisation (a bounded channel) is paid once per about 175 full-size frames. Emptied batches go back
//! to the reader to be refilled, so the pass allocates a few batches in all, never one per frame.
//! The analysis sees exactly the frames, packets and order of the single-threaded pass
//! (`OFFLOAD_DOCTOR_THREADS=1`), so the report is byte-identical; a test compares them.

use std::ops::Range;
use std::sync::mpsc::{self, Receiver, SyncSender};

use rustc_hash::FxHashMap;

use crate::capture::{progress, CaptureError, CaptureReader, Frame, LinkType};
use crate::decode::{self, DecodeConfig, Kind, Packet};
use crate::report::Totals;

/// Batches waiting for the analysis thread: two keep the reader busy while one is analysed,
/// and bound the memory (each is a 256 KiB read buffer and its packets).
const BATCHES: usize = 2;

/// Frames a fresh batch has room for before it grows (a 256 KiB buffer of ACKs).
const BATCH_FRAMES: usize = 4096;

/// What the pass counts of every frame, on the reading thread.
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
        match &mut self.run {
            Some((kind, n)) if *kind == pkt.kind => *n += 1,
            run => {
                if let Some((kind, n)) = run.replace((pkt.kind, 1)) {
                    *self.kinds.entry(kind).or_default() += n;
                }
            }
        }
        self.totals.count(frame);
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
    /// Decoded in place ([`decode::decode_to`]): it owns nothing of the frame.
    pkt: Packet,
    /// Key log text that arrived before the frame (pcapng Decryption Secrets Blocks, rare).
    secrets: Option<Box<[u8]>>,
}

impl Decoded {
    /// The frame's fields without its bytes (their range is set once the reader says where
    /// they are); its packet is decoded into the slot afterwards.
    fn frame(frame: &Frame<'_>) -> Self {
        Decoded {
            number: frame.number,
            ts_ns: frame.ts_ns,
            ts_known: frame.ts_known,
            ts_bad_fraction: frame.ts_bad_fraction,
            link_type: frame.link_type,
            interface: frame.interface,
            wire_len: frame.wire_len,
            offset: frame.offset,
            data: 0..0,
            pkt: Packet::new(Kind::OtherIp),
            secrets: frame.secrets.map(Box::from),
        }
    }

    /// The frame again, borrowing the batch's buffer.
    fn get<'b>(&'b self, bytes: &'b [u8]) -> Frame<'b> {
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

/// A read buffer and the frames framed in it.
struct Batch {
    bytes: Vec<u8>,
    frames: Vec<Decoded>,
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
    std::thread::scope(|s| {
        let reading = s.spawn(move || read_and_decode(reader, cfg, tx, recycled));
        for batch in rx.iter() {
            for d in &batch.frames {
                analyse(&d.get(&batch.bytes), &d.pkt);
            }
            // The reader may have finished: then the batch is simply dropped.
            let _ = back.try_send(batch);
        }
        match reading.join() {
            Ok(r) => r,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    })
}

/// The reading thread: frames, decodes and counts, and sends a batch each time the reader moves
/// on to a new buffer (and the last one at the end).
fn read_and_decode(
    mut reader: CaptureReader,
    cfg: &DecodeConfig,
    tx: SyncSender<Batch>,
    recycled: Receiver<Batch>,
) -> Result<(CaptureReader, Counts), CaptureError> {
    let mut counts = Counts::default();
    // The progress line's counters (capture/progress.rs): two stores a frame.
    let mut tally = progress::Tally::default();
    let mut frames = Vec::with_capacity(BATCH_FRAMES);
    reader.give_spare(Vec::new());
    loop {
        {
            let Some(frame) = reader.next_frame()? else {
                break;
            };
            tally.frame(&frame);
            frames.push(Decoded::frame(&frame));
            let Some(d) = frames.last_mut() else {
                break; // never: just pushed
            };
            decode::decode_to(&frame, cfg, &mut d.pkt);
            counts.count(&frame, &d.pkt);
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
            if tx
                .send(Batch {
                    bytes: full,
                    frames: full_frames,
                })
                .is_err()
            {
                break; // the analysis thread is gone (it panicked): nothing left to do
            }
        }
        if let Some(d) = frames.last_mut() {
            d.data = data;
        }
    }
    if !frames.is_empty() {
        let bytes = reader.take_buffer();
        let _ = tx.send(Batch { bytes, frames });
    }
    Ok((reader, counts))
}
