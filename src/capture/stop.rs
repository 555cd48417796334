//! Stopping a read early: the process-wide "stop reading" request (set on the first Ctrl-C) and
//! a byte source over a pipe whose blocking `read()` that request can end.
//!
//! Why a reader thread: signal-hook installs its handlers with `SA_RESTART`
//! (signal-hook-registry's `lib.rs`), so a `read()` blocked on a quiet pipe is restarted after
//! the signal and never returns; unsafe code (our own `sigaction`) is forbidden. The pipe is read
//! by a thread instead, and the reader waits for its chunks with a timeout, looking at the request
//! between waits. The thread left blocked in `read()` ends with the process.

use std::io::{self, Read};
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender, SyncSender};
use std::time::Duration;

/// 0: reading; [`FINISH`]: a planned end (`live --duration`); [`INTERRUPT`]: Ctrl-C.
static STOP: AtomicU8 = AtomicU8::new(0);
const FINISH: u8 = 1;
const INTERRUPT: u8 = 2;

/// How often a reader blocked on a quiet pipe looks at the request: the delay between Ctrl-C and
/// the report.
const POLL: Duration = Duration::from_millis(50);

/// Bytes per chunk handed over by the reader thread; chunks are recycled, never reallocated.
const CHUNK: usize = 64 * 1024;

/// Chunks in flight between the thread and the reader: bounds the memory to `CHUNKS * CHUNK`.
const CHUNKS: usize = 4;

/// Asks every capture reader to end its stream at the next record, marked interrupted (one
/// atomic store: callable from a signal handler's thread).
pub fn request() {
    STOP.store(INTERRUPT, Ordering::SeqCst);
}

/// Asks every capture reader to end its stream at the next record, as a planned end (the
/// capture ran its course): not marked interrupted.
pub fn finish() {
    let _ = STOP.compare_exchange(0, FINISH, Ordering::SeqCst, Ordering::SeqCst);
}

/// Whether [`request`] or [`finish`] was called.
pub fn requested() -> bool {
    STOP.load(Ordering::Relaxed) != 0
}

/// Whether [`request`] was called: the reading was cut short.
pub fn interrupted() -> bool {
    STOP.load(Ordering::Relaxed) == INTERRUPT
}

/// What the reader thread hands over.
enum Msg {
    Data(Vec<u8>, usize),
    Eof,
    Err(io::Error),
}

/// A [`Read`] over a pipe, read by its own thread, that reports the end of input as soon as a
/// stop is [`request`]ed, even while the pipe is silent.
pub struct Interruptible {
    rx: Receiver<Msg>,
    /// Emptied chunks go back to the thread.
    back: Sender<Vec<u8>>,
    cur: Vec<u8>,
    len: usize,
    pos: usize,
    done: bool,
}

impl Interruptible {
    /// Starts the thread reading `src`. Falls back to nothing: if the thread cannot start, the
    /// reader reports an error on its first read.
    pub fn spawn<R: Read + Send + 'static>(src: R) -> Self {
        let (tx, rx) = mpsc::sync_channel(CHUNKS);
        let (back, recycled) = mpsc::channel();
        let started = std::thread::Builder::new()
            .name("capture-pipe".into())
            .spawn(move || pump(src, &tx, &recycled));
        if let Err(e) = started {
            // The receiver reports it: the sender side of this fresh channel is ours.
            let (tx, rx2) = mpsc::sync_channel(1);
            let _ = tx.send(Msg::Err(e));
            return Self::with(rx2, back);
        }
        Self::with(rx, back)
    }

    fn with(rx: Receiver<Msg>, back: Sender<Vec<u8>>) -> Self {
        Interruptible {
            rx,
            back,
            cur: Vec::new(),
            len: 0,
            pos: 0,
            done: false,
        }
    }

    /// Waits for the next chunk; `false` at the end of input or on a stop request.
    fn next_chunk(&mut self) -> io::Result<bool> {
        loop {
            if requested() {
                self.done = true;
                return Ok(false);
            }
            match self.rx.recv_timeout(POLL) {
                Ok(Msg::Data(buf, n)) => {
                    let old = std::mem::replace(&mut self.cur, buf);
                    if !old.is_empty() {
                        let _ = self.back.send(old);
                    }
                    (self.len, self.pos) = (n, 0);
                    return Ok(true);
                }
                Ok(Msg::Eof) | Err(RecvTimeoutError::Disconnected) => {
                    self.done = true;
                    return Ok(false);
                }
                Ok(Msg::Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(RecvTimeoutError::Timeout) => {}
            }
        }
    }
}

impl Read for Interruptible {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        while self.pos >= self.len {
            if self.done || !self.next_chunk()? {
                return Ok(0);
            }
        }
        let n = out.len().min(self.len - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// The thread: reads `src` into recycled chunks until its end, an error, or the reader is gone.
fn pump<R: Read>(mut src: R, tx: &SyncSender<Msg>, recycled: &Receiver<Vec<u8>>) {
    loop {
        let mut buf = recycled
            .try_recv()
            .ok()
            .filter(|b| b.len() == CHUNK)
            .unwrap_or_else(|| vec![0; CHUNK]);
        let msg = match src.read(&mut buf) {
            Ok(0) => Msg::Eof,
            Ok(n) => Msg::Data(buf, n),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => Msg::Err(e),
        };
        let last = !matches!(msg, Msg::Data(..));
        if tx.send(msg).is_err() || last {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passes_every_byte_through_in_order() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let mut r = Interruptible::spawn(io::Cursor::new(data.clone()));
        let mut got = Vec::new();
        r.read_to_end(&mut got).expect("read");
        assert_eq!(got, data);
        // The end stays the end.
        assert_eq!(r.read(&mut [0u8; 8]).expect("read"), 0);
    }

    #[test]
    fn many_small_reads_lose_nothing() {
        // A source handing out a few bytes at a time: many chunks, every one recycled.
        struct Dribble(Vec<u8>, usize);
        impl Read for Dribble {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                let n = out.len().min(7).min(self.0.len() - self.1);
                out[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
                self.1 += n;
                Ok(n)
            }
        }
        let data: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
        let mut r = Interruptible::spawn(Dribble(data.clone(), 0));
        let mut got = Vec::new();
        let mut buf = [0u8; 5];
        loop {
            match r.read(&mut buf).expect("read") {
                0 => break,
                n => got.extend_from_slice(&buf[..n]),
            }
        }
        assert_eq!(got, data);
    }

    #[test]
    fn read_errors_reach_the_reader() {
        struct Broken;
        impl Read for Broken {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::other("boom"))
            }
        }
        let mut r = Interruptible::spawn(Broken);
        let e = r.read(&mut [0u8; 8]).expect_err("error");
        assert_eq!(e.to_string(), "boom");
    }
}
