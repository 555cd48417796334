//! `quic-flow-control`: with keys (`--keylog`), one side of a QUIC connection spent a real share
//! of its sending time held at the peer's flow-control limit (RFC 9000 §4): its stream reached
//! the MAX_STREAM_DATA the peer advertised, or its streams the MAX_DATA, and it waited for the
//! peer to raise it ([`crate::quic::flow_control`]). The io_uring story in QUIC: a receiver whose
//! application does not read keeps its window shut, and the sender idles on a fast path.
//!
//! A warning from [`MIN_SHARE`] of the time from the side's first STREAM frame to its last (to
//! the connection's last packet when it is still held then), and at least [`MIN_HELD_NS`] in
//! all (a pause a user notices, as `quic-stall` counts one).

use serde::Serialize;

use super::kit::{decrypted_sides, flow_filter, SideDetails};
use super::{details, Detector, Finding, Identity, Severity, Summary};
use crate::flow::{Flow, Side};
use crate::quic::flow_control::{FlowControl, Limit};
use crate::quic::QuicConn;
use crate::units::{bytes, duration, thousands};

/// The share of its sending time a side must spend held.
pub const MIN_SHARE: f64 = 0.2;
/// And at least this long in all: 200 ms.
pub const MIN_HELD_NS: i64 = 200_000_000;

pub struct QuicFlowControl;

impl Identity for QuicFlowControl {
    const ID: &'static str = "quic-flow-control";
    const SEVERITY: Severity = Severity::Warning;
}

/// `details` of a `quic-flow-control` finding.
#[derive(Serialize)]
struct Details {
    #[serde(flatten)]
    side: SideDetails,
    held_s: f64,
    /// From the side's first STREAM frame to its last (to the capture's end if still held),
    /// seconds.
    sending_s: f64,
    share: f64,
    /// Times the side came to be held, by the connection's limit and by a stream's.
    held_by_connection: u64,
    held_by_stream: u64,
    /// What held it most often.
    limit: Limit,
    /// The largest MAX_DATA and MAX_STREAM_DATA the peer sent, bytes.
    max_data: Option<u64>,
    max_stream_data: Option<u64>,
    /// DATA_BLOCKED and STREAM_DATA_BLOCKED frames the side sent.
    blocked_frames: u64,
}

impl Detector for QuicFlowControl {
    /// Judges the flows at the end: never called per frame.
    fn watches(&self) -> super::Watch {
        super::Watch::Nothing
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        decrypted_sides(s)
            .filter_map(|(f, q, d, side)| finding(f, q, side, &d.flow[side]))
            .collect()
    }
}

fn finding(f: &Flow, q: &QuicConn, side: Side, fc: &FlowControl) -> Option<Finding> {
    let first = fc.first_data_ns?;
    // A side still held when the capture ends was held to its end (a window that never
    // reopened: the side sends nothing more, and that is the harm).
    let end = f.last_ts_ns();
    let held = fc.held_until(end);
    let until = if held > fc.held_ns {
        end
    } else {
        fc.last_data_ns
    };
    let sending = (until - first).max(1);
    let share = held as f64 / sending as f64;
    if share < MIN_SHARE || held < MIN_HELD_NS {
        return None;
    }
    let (who, peer) = if side == q.client {
        ("client", "server")
    } else {
        ("server", "client")
    };
    let limit = fc.mostly();
    let (what, value) = match limit {
        Limit::Stream => ("MAX_STREAM_DATA", fc.max_stream_limit),
        Limit::Connection => ("MAX_DATA", fc.max_conn_limit),
    };
    let times = fc.held_conn + fc.held_stream;
    let message = format!(
        "The QUIC {who} {} was held at the {peer}'s flow-control limit for {} of its {} of \
         sending ({:.0}%): {} times its data reached the limit the {peer} advertised ({what}, \
         at most {}) and it waited for the {peer} to raise it.",
        f.key.end(side),
        duration(held as f64 / 1e9),
        duration(sending as f64 / 1e9),
        share * 100.0,
        thousands(times),
        value.map_or_else(|| "unknown".into(), bytes),
    );
    Some(Finding {
        id: QuicFlowControl::ID,
        severity: QuicFlowControl::SEVERITY,
        flow: Some(f.id),
        frames: fc.evidence.frames(),
        frames_total: fc.evidence.total,
        message,
        hint: format!(
            "The {peer} keeps its receive window small or opens it only as its application \
             reads: look for an application that does not read (a stalled event loop, a full \
             consumer), or raise the window (quic-go: MaxStreamReceiveWindow, \
             MaxConnectionReceiveWindow; aioquic: max_stream_data, max_data; HAProxy: \
             tune.quic.frontend.max-window-size)."
        ),
        wireshark_filter: flow_filter(
            f,
            "(quic.frame_type == 0x10 || quic.frame_type == 0x11 || quic.frame_type == 0x14 \
             || quic.frame_type == 0x15)",
        ),
        details: details(&Details {
            side: SideDetails::of(f, side),
            held_s: held as f64 / 1e9,
            sending_s: sending as f64 / 1e9,
            share,
            held_by_connection: fc.held_conn,
            held_by_stream: fc.held_stream,
            limit,
            max_data: fc.max_conn_limit,
            max_stream_data: fc.max_stream_limit,
            blocked_frames: fc.blocked_frames,
        }),
    })
}
