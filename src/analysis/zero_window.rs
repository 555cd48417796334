//! `zero-window`: a receiver advertised a zero window (`tcp.analysis.zero_window`): its
//! application stopped reading, and the sender had to stop.
//!
//! The io_uring story: a server's fourth connection got no throughput, only ZeroWindow and
//! keep-alive exchanges, while the other flows ran. Reports who advertised it, how often, for how
//! long in total, and whether it was still closed when the capture ended.
//!
//! Severity follows the cost: a window that closes for moments is flow control doing its job
//! (info; a healthy iperf3 run shows a few sub-millisecond zero windows), a closed window that
//! holds the sender for a real share of the connection, or is still closed at the end, is a
//! warning.

use serde::Serialize;

use super::events::{EventReport, Said};
use super::{details, Identity, Severity, Summary};
use crate::flow::{Flow, Side};
use crate::tcp::evidence::EventClass;
use crate::tcp::TcpConn;
use crate::units::duration;

pub struct ZeroWindow;

/// A warning when the window stayed closed for at least this share of the connection's life …
pub const MIN_STALL_SHARE: f64 = 0.05;
/// … and at least this long (a few RTOs' worth of a LAN: what a user notices).
pub const MIN_STALL_S: f64 = 0.05;

/// `details` of a `zero-window` finding.
#[derive(Serialize)]
struct Details {
    /// `client` or `server`: who advertised it.
    side: &'static str,
    advertised_by: String,
    zero_windows: u64,
    periods: u64,
    zero_window_time_s: f64,
    still_zero_at_end: bool,
    /// Probes the other side sent into the closed window.
    zero_window_probes: u64,
}

impl Identity for ZeroWindow {
    const ID: &'static str = "zero-window";
    const SEVERITY: Severity = Severity::Warning;
}

impl EventReport for ZeroWindow {
    const CLASS: EventClass = EventClass::ZeroWindow;
    const FILTER: &'static str = "tcp.analysis.zero_window";

    fn report(&self, _: &Summary<'_>, f: &Flow, conn: &TcpConn) -> Vec<Said> {
        let mut out = Vec::new();
        for side in Side::BOTH {
            let m = &conn.dirs()[side];
            if m.counts.zero_windows == 0 {
                continue;
            }
            let time = m.zero_window_time(f.last_ts_ns()) as f64 / 1e9;
            let open = m.zero_window_open();
            let life = (f.last_ts_ns() - f.first_ts_ns()) as f64 / 1e9;
            let costly = time >= MIN_STALL_S && (open || time >= MIN_STALL_SHARE * life);
            out.push(Said {
                severity: if costly {
                    Self::SEVERITY
                } else {
                    Severity::Info
                },
                message: format!(
                    "The {} ({}) advertised a zero window {}, {} in total{}.",
                    f.role(side),
                    f.key.end(side),
                    crate::units::plural(m.counts.zero_windows, "time"),
                    duration(time),
                    if open {
                        ", and was still at zero when the capture ended"
                    } else {
                        ""
                    }
                ),
                hint: "The receiving application is not reading its socket fast enough (a \
                       stalled event loop or io_uring completion queue, a slow consumer), or its \
                       receive buffer is too small (net.ipv4.tcp_rmem, SO_RCVBUF). Look at the \
                       receiver, not the network.",
                details: details(&Details {
                    side: f.role(side),
                    advertised_by: f.key.end(side).to_string(),
                    zero_windows: m.counts.zero_windows,
                    periods: m.zero_window_periods,
                    zero_window_time_s: time,
                    still_zero_at_end: open,
                    zero_window_probes: conn.dirs()[side.other()].counts.zero_window_probes,
                }),
            });
        }
        out
    }
}
