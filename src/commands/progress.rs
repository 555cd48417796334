//! The progress line on stderr while captures are read: bytes and frames read, the rate, and
//! the time left when the size is known; one line for a whole set of captures (captures done of
//! all). Drawn only when stderr is a terminal, the work takes more than [`DELAY`] and `--quiet`
//! was not given; never on stdout; cleared before the report prints.
//!
//! The read loop only adds to counters (`capture/progress.rs`); a thread of ours wakes every
//! [`TICK`] and redraws from them. Written by hand rather than with indicatif: one line of
//! counts, a carriage return and an erase-line escape are all it takes, and indicatif would add
//! its `console` and `portable-atomic` dependencies and a lock taken on every `inc`.

use std::fs::File;
use std::io::{self, IsTerminal, Read as _, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::capture::progress::{self, Read};
use crate::capture::Input;
use crate::units::{self, thousands};

/// Work shorter than this draws nothing: a line that flashes and vanishes is noise.
pub const DELAY: Duration = Duration::from_secs(1);

/// Between two redraws: five a second, enough for a rate to read as live.
pub const TICK: Duration = Duration::from_millis(200);

/// `OFFLOAD_DOCTOR_PROGRESS=always` draws the line whatever stderr is, from the start, and once
/// more when the work ends (tests); `never` never draws it.
pub const ENV: &str = "OFFLOAD_DOCTOR_PROGRESS";

/// Erases the line the cursor is on (ECMA-48 EL, "erase in line", from the cursor to the end).
const ERASE: &str = "\x1b[K";

/// What the work will read: its bytes when known, its captures when there are several.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Plan {
    /// Bytes all passes read: known when every capture is a file that is not gzip (the counters
    /// count decompressed bytes).
    pub bytes: Option<u64>,
    /// Captures in the set (`None`: one capture, no "n of m" to show).
    pub files: Option<u64>,
}

impl Plan {
    /// `passes` passes over each of `inputs`; the captures are counted when `count_files`.
    pub fn new(inputs: &[Input], passes: u64, count_files: bool) -> Plan {
        let sizes: Option<Vec<u64>> = inputs.iter().map(plain_size).collect();
        Plan {
            bytes: sizes.map(|s| s.iter().sum::<u64>().saturating_mul(passes)),
            files: count_files.then_some(inputs.len() as u64),
        }
    }
}

/// The size of a capture file that is read as it is stored (not gzip, not standard input).
fn plain_size(input: &Input) -> Option<u64> {
    let Input::Path(p) = input else { return None };
    let mut f = File::open(p).ok()?;
    let mut magic = [0u8; 2];
    // gzip magic 1f 8b (RFC 1952 §2.3.1), as the reader decides it.
    if f.read_exact(&mut magic).is_ok() && magic == [0x1f, 0x8b] {
        return None;
    }
    f.metadata().ok().map(|m| m.len())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// On a terminal, after [`DELAY`].
    Auto,
    /// Whatever stderr is, from the start (tests).
    Always,
}

/// The progress line of one command's reading; nothing when it is not drawn.
pub struct Progress(Option<Live>);

struct Live {
    shared: Arc<Shared>,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    start: Instant,
    /// The counters when the work began (earlier passes of the process are not this work's).
    base: Read,
    plan: Plan,
    files_done: AtomicU64,
    mode: Mode,
    /// Whether the line is on the screen; held while drawing, clearing, or writing around it.
    drawn: Mutex<bool>,
}

impl Progress {
    /// Starts the line for `plan` unless `quiet`, `OFFLOAD_DOCTOR_PROGRESS=never`, or stderr
    /// is not a terminal (without `always`).
    pub fn start(quiet: bool, plan: Plan) -> Progress {
        let mode = match std::env::var(ENV).as_deref() {
            _ if quiet => return Progress(None),
            Ok("never") => return Progress(None),
            Ok("always") => Mode::Always,
            _ if io::stderr().is_terminal() => Mode::Auto,
            _ => return Progress(None),
        };
        let shared = Arc::new(Shared {
            start: Instant::now(),
            base: progress::read(),
            plan,
            files_done: AtomicU64::new(0),
            mode,
            drawn: Mutex::new(false),
        });
        let (tx, rx) = mpsc::channel();
        let s = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("progress".into())
            .spawn(move || redraw(&s, &rx))
            .ok();
        Progress(Some(Live {
            shared,
            stop: Some(tx),
            thread,
        }))
    }

    /// One capture of the set is done.
    pub fn file_done(&self) {
        if let Some(l) = &self.0 {
            l.shared.files_done.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Runs `f` (which writes to stdout or stderr) with the line cleared and not redrawn until
    /// `f` returns.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        let Some(l) = &self.0 else { return f() };
        let mut drawn = l.shared.screen();
        clear(&mut drawn);
        f()
    }

    /// Stops the line and clears it: what follows prints on a clean line.
    pub fn finish(self) {}
}

impl Drop for Live {
    fn drop(&mut self) {
        // A dropped sender wakes the thread, which clears the line and ends.
        self.stop = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Shared {
    fn screen(&self) -> MutexGuard<'_, bool> {
        self.drawn.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn status(&self) -> Status {
        let now = progress::read();
        Status {
            elapsed: self.start.elapsed(),
            read: Read {
                frames: now.frames.saturating_sub(self.base.frames),
                bytes: now.bytes.saturating_sub(self.base.bytes),
            },
            files_done: self.files_done.load(Ordering::Relaxed),
            plan: self.plan,
        }
    }

    fn draw(&self) {
        let line = fit(&self.status().line(), width());
        let mut drawn = self.screen();
        let mut err = io::stderr().lock();
        let _ = write!(err, "\r{line}{ERASE}");
        let _ = err.flush();
        *drawn = true;
    }
}

/// The drawing thread: a redraw every [`TICK`] until the sender is dropped, then the line
/// cleared.
fn redraw(s: &Shared, stop: &Receiver<()>) {
    while let Err(RecvTimeoutError::Timeout) = stop.recv_timeout(TICK) {
        if s.mode == Mode::Always || s.start.elapsed() >= DELAY {
            s.draw();
        }
    }
    if s.mode == Mode::Always {
        s.draw();
    }
    clear(&mut s.screen());
}

fn clear(drawn: &mut MutexGuard<'_, bool>) {
    if **drawn {
        let mut err = io::stderr().lock();
        let _ = write!(err, "\r{ERASE}");
        let _ = err.flush();
        **drawn = false;
    }
}

/// Columns of the terminal stderr is, when it is one.
fn width() -> Option<usize> {
    terminal_size::terminal_size_of(io::stderr()).map(|(w, _)| usize::from(w.0))
}

/// `line` cut to fit in `width` columns less one (a line that fills the last column wraps on
/// some terminals, and the carriage return would then redraw only its second row).
fn fit(line: &str, width: Option<usize>) -> String {
    match width {
        Some(w) => line.chars().take(w.saturating_sub(1)).collect(),
        None => line.to_string(),
    }
}

/// What the line shows at one moment.
#[derive(Debug, Clone, Copy)]
pub struct Status {
    pub elapsed: Duration,
    pub read: Read,
    pub files_done: u64,
    pub plan: Plan,
}

impl Status {
    /// `3 of 12 captures, 120.5 MB of 480.0 MB (25%), 1,234,567 frames, 60.2 MB/s, 6s left`.
    pub fn line(&self) -> String {
        let mut parts = Vec::with_capacity(5);
        if let Some(n) = self.plan.files {
            parts.push(format!("{} of {} captures", self.files_done.min(n), n));
        }
        let read = self.read.bytes;
        parts.push(match self.plan.bytes {
            Some(total) if total > 0 => format!(
                "{} of {} ({:.0}%)",
                units::bytes(read.min(total)),
                units::bytes(total),
                100.0 * read.min(total) as f64 / total as f64
            ),
            _ => units::bytes(read),
        });
        parts.push(format!("{} frames", thousands(self.read.frames)));
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            parts.push(format!("{}/s", units::bytes((read as f64 / secs) as u64)));
        }
        if let Some(left) = self.left() {
            parts.push(format!("{} left", eta(left)));
        }
        format!("offload-doctor: {}", parts.join(", "))
    }

    /// The time left: the bytes left at the rate so far, else the captures left at the time
    /// per capture so far; unknown before anything was read.
    pub fn left(&self) -> Option<Duration> {
        let secs = self.elapsed.as_secs_f64();
        let share = match (self.plan.bytes, self.plan.files) {
            (Some(total), _) if total > 0 && self.read.bytes > 0 => {
                self.read.bytes.min(total) as f64 / total as f64
            }
            (None, Some(n)) if n > 0 && self.files_done > 0 => {
                self.files_done.min(n) as f64 / n as f64
            }
            _ => return None,
        };
        Some(Duration::from_secs_f64(secs * (1.0 - share) / share))
    }
}

/// A time left as people read it, to the nearest second: `45s`, `3m 05s`, `2h 07m`.
pub fn eta(d: Duration) -> String {
    let s = d.as_secs_f64().round() as u64;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        _ => format!("{}h {:02}m", s / 3600, s % 3600 / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(secs: f64, bytes: u64, frames: u64, plan: Plan, files_done: u64) -> Status {
        Status {
            elapsed: Duration::from_secs_f64(secs),
            read: Read { frames, bytes },
            files_done,
            plan,
        }
    }

    #[test]
    fn eta_reads_as_seconds_minutes_or_hours() {
        assert_eq!(eta(Duration::ZERO), "0s");
        assert_eq!(eta(Duration::from_millis(44_200)), "44s");
        assert_eq!(eta(Duration::from_millis(400)), "0s");
        assert_eq!(eta(Duration::from_secs(59)), "59s");
        assert_eq!(eta(Duration::from_secs(60)), "1m 00s");
        assert_eq!(eta(Duration::from_secs(185)), "3m 05s");
        assert_eq!(eta(Duration::from_secs(3600 * 2 + 7 * 60 + 30)), "2h 07m");
    }

    #[test]
    fn one_file_of_known_size_shows_share_rate_and_time_left() {
        let plan = Plan {
            bytes: Some(400_000_000),
            files: None,
        };
        // A quarter in 2 s: 50 MB/s, 6 s left.
        let s = status(2.0, 100_000_000, 1_234_567, plan, 0);
        assert_eq!(s.left(), Some(Duration::from_secs(6)));
        assert_eq!(
            s.line(),
            "offload-doctor: 100.0 MB of 400.0 MB (25%), 1,234,567 frames, 50.0 MB/s, 6s left"
        );
    }

    #[test]
    fn unknown_size_shows_no_share_and_no_time_left() {
        // Standard input or gzip: the bytes read and the rate only.
        let s = status(4.0, 8_000_000, 10_000, Plan::default(), 0);
        assert_eq!(s.left(), None);
        assert_eq!(s.line(), "offload-doctor: 8.0 MB, 10,000 frames, 2.0 MB/s");
    }

    #[test]
    fn a_set_of_captures_counts_files_and_falls_back_to_them_for_the_time_left() {
        let plan = Plan {
            bytes: None,
            files: Some(12),
        };
        let s = status(30.0, 5_000, 20, plan, 3);
        // 3 of 12 in 30 s: 90 s for the other 9.
        assert_eq!(s.left(), Some(Duration::from_secs(90)));
        assert_eq!(
            s.line(),
            "offload-doctor: 3 of 12 captures, 5000 B, 20 frames, 166 B/s, 1m 30s left"
        );
        // Nothing done yet: no estimate.
        assert_eq!(status(30.0, 5_000, 20, plan, 0).left(), None);
    }

    #[test]
    fn bytes_beyond_the_plan_do_not_go_past_all_of_it() {
        let plan = Plan {
            bytes: Some(1000),
            files: Some(2),
        };
        let s = status(1.0, 1500, 3, plan, 5);
        assert_eq!(s.left(), Some(Duration::ZERO));
        assert!(s
            .line()
            .contains("2 of 2 captures, 1000 B of 1000 B (100%)"));
    }

    #[test]
    fn the_line_is_cut_to_the_terminal_less_one_column() {
        assert_eq!(fit("abcdef", Some(4)), "abc");
        assert_eq!(fit("abcdef", None), "abcdef");
        assert_eq!(fit("abc", Some(0)), "");
    }
}
