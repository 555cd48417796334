//! SIGINT and SIGTERM: the temporary files being written are removed before the process exits
//! (with 130 or 143, as a shell reports a process killed by those signals), so an interrupted
//! `plot` or `check --junit` leaves no hidden half-written files behind.

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

/// Starts the thread that waits for the signals. The handlers are installed by that thread, so
/// if it cannot start (or cannot install them) the signals keep their default action.
pub fn clean_up_on_interrupt() {
    let _ = std::thread::Builder::new()
        .name("signals".into())
        .spawn(|| {
            let Ok(mut signals) = Signals::new([SIGINT, SIGTERM]) else {
                return;
            };
            if let Some(sig) = signals.forever().next() {
                crate::atomic::cleanup();
                std::process::exit(128 + sig);
            }
        });
}
