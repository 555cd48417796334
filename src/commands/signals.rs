//! SIGINT and SIGTERM. While a command reads a capture it asked to be stoppable (`analyze`,
//! `live`), the first signal ends the reading and the report of what was read is printed; any
//! other signal (a second Ctrl-C, or one during `plot`, `check`, `compare`) removes the temporary
//! files being written and exits at once with 130 or 143, as a shell reports a process killed by
//! those signals, so an interrupted `plot` or `check --junit` leaves no half-written files behind.

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// The first signal stops the reading instead of ending the process.
static STOP_READING: AtomicBool = AtomicBool::new(false);

/// The signal that stopped the reading (0: none).
static STOPPED_BY: AtomicI32 = AtomicI32::new(0);

/// Starts the thread that waits for the signals. The handlers are installed by that thread, so
/// if it cannot start (or cannot install them) the signals keep their default action.
pub fn clean_up_on_interrupt() {
    let _ = std::thread::Builder::new()
        .name("signals".into())
        .spawn(|| {
            let Ok(mut signals) = Signals::new([SIGINT, SIGTERM]) else {
                return;
            };
            for sig in signals.forever() {
                if STOP_READING.load(Ordering::SeqCst)
                    && STOPPED_BY
                        .compare_exchange(0, sig, Ordering::SeqCst, Ordering::SeqCst)
                        .is_ok()
                {
                    crate::capture::stop::request();
                    continue;
                }
                crate::atomic::cleanup();
                std::process::exit(128 + sig);
            }
        });
}

/// From now on the first signal ends the reading (`true`), or ends the process (`false`: after
/// the reading, while files are written).
pub fn stop_reading_on_signal(on: bool) {
    STOP_READING.store(on, Ordering::SeqCst);
}

/// A signal that stopped the reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stopped(i32);

impl Stopped {
    /// 128 + the signal number: what a shell reports for a process ended by it.
    pub fn exit_code(self) -> u8 {
        u8::try_from(128 + self.0).unwrap_or(130)
    }

    pub fn name(self) -> &'static str {
        match self.0 {
            SIGINT => "SIGINT",
            SIGTERM => "SIGTERM",
            _ => "a signal",
        }
    }
}

/// The signal that stopped the reading, if one did.
pub fn stopped_by() -> Option<Stopped> {
    match STOPPED_BY.load(Ordering::SeqCst) {
        0 => None,
        s => Some(Stopped(s)),
    }
}
