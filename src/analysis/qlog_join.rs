//! The join of an endpoint's qlog trace with the capture: the same QUIC connection (by
//! connection ID), counted twice. What the endpoint says it sent against what the capture shows
//! leaving it, what the capture shows arriving against what the endpoint says it received, and
//! whether the capture was taken on the endpoint's host (where the difference is its own
//! kernel's doing). Shared by the `quic-qlog-mismatch` detector and the JSON report.

use serde::Serialize;

use crate::flow::{Flow, Side};
use crate::qlog::{Clock, Counts, QlogTrace, Vantage};
use crate::quic::QuicConn;

/// A capture whose packets from the endpoint lie within this of the endpoint's own send times
/// (qlog on the same clock) was taken on the endpoint's host: the stack between the QUIC
/// library's sendmsg and the capture tap takes microseconds, a network hop milliseconds.
pub const SAME_HOST_MS: f64 = 2.0;

/// Where the capture was taken, as seen from the qlog's endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CapturePoint {
    /// On the endpoint's host: Linux cooked headers mark its packets outgoing, or they appear
    /// within [`SAME_HOST_MS`] of the qlog's send times.
    Endpoint,
    /// Elsewhere: cooked headers mark its packets incoming, or the capture saw them later.
    Elsewhere,
    /// The qlog's clock is not the capture's (relative times, another host's clock).
    Unknown,
}

/// What tells where the capture was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PointEvidence {
    /// Linux cooked capture headers (SLL/SLL2 packet type: outgoing or incoming): certain.
    SllPacketType,
    /// The capture's times against the qlog's: the capture saw the endpoint's packets within
    /// [`SAME_HOST_MS`] of its sends. A tap one short hop away (a veth peer, a LAN switch port)
    /// sees them as soon, so this says "on the host or next to it".
    Timing,
    /// Nothing tells.
    None,
}

/// One trace joined with one connection of the capture.
#[derive(Debug, Clone, Serialize)]
pub struct QlogJoin {
    pub file: String,
    pub vantage: Vantage,
    #[serde(skip)]
    pub endpoint: Side,
    /// Packets the endpoint's qlog logged as sent, and those the capture shows from it.
    pub qlog_sent: u64,
    pub capture_sent: u64,
    /// Packets the capture shows from the peer, and those the qlog logged as received (or as
    /// dropped: they arrived, and the stack discarded them).
    pub capture_from_peer: u64,
    pub qlog_received: u64,
    /// Packets the endpoint declared lost (its loss detection, RFC 9002 §6).
    pub qlog_lost: u64,
    /// Probe timeouts the endpoint logged as expired (RFC 9002 §6.2).
    pub qlog_probe_timeouts: u64,
    pub capture_point: CapturePoint,
    pub capture_point_evidence: PointEvidence,
    /// Capture time minus qlog time of the endpoint's first packet, ms (same clock only).
    pub clock_offset_ms: Option<f64>,
    /// What to add to a qlog time to put it on the capture's clock: the clock offset, or, on
    /// another clock, the offset of the endpoint's first packet (ms).
    #[serde(skip)]
    pub align_ms: f64,
    /// The capture ran until after the trace's last packet sent, and its last received: the
    /// counts of that direction cover the same span.
    pub covered_sent: bool,
    pub covered_received: bool,
    pub min_rtt_ms: Option<f64>,
    /// The last smoothed RTT logged, and the largest latest RTT sample (round trips of seconds
    /// in the quic-go story).
    pub smoothed_rtt_ms: Option<f64>,
    pub max_latest_rtt_ms: Option<f64>,
    pub max_cwnd: Option<u64>,
    pub max_bytes_in_flight: Option<u64>,
    /// The qlog's last record was cut short.
    pub truncated: bool,
}

impl QlogJoin {
    /// Packets the endpoint sent that the capture does not show.
    pub fn unseen_sent(&self) -> u64 {
        self.qlog_sent.saturating_sub(self.capture_sent)
    }

    /// Packets the capture shows arriving that the endpoint never received.
    pub fn unreceived(&self) -> u64 {
        self.capture_from_peer.saturating_sub(self.qlog_received)
    }
}

/// Whether `trace` is about the connection `q`: its original DCID, or a connection ID of its
/// headers that the capture's handshake showed.
pub fn matches(trace: &QlogTrace, q: &QuicConn) -> bool {
    let ids = [Some(q.original_dcid), Some(q.client_cid), q.server_cid];
    ids.iter().flatten().any(|c| trace.names(c.as_bytes()))
}

/// How much later than the capture an endpoint may log the peer's first packet as received, on
/// the same host: the stack parses and decrypts it first (aioquic takes 2-3 ms for the first
/// Initial, measured in the kernel lab's QUIC scenarios).
pub const RECEIVE_LAG_MS: f64 = 5.0;

/// Capture time minus qlog time, ms, of the endpoint's first send, and of the peer's first
/// packet (capture ns, qlog ms), and which of them puts the capture on the endpoint's host: its
/// first send within [`SAME_HOST_MS`], or the peer's first packet seen at most
/// [`RECEIVE_LAG_MS`] before the endpoint logged it. Either may fail alone: a first send lost
/// between the stack and the tap (the sender-drop story) moves the capture's first send to the
/// retransmission, hundreds of ms later.
fn clock_offset(sent: Option<(i64, f64)>, received: Option<(i64, f64)>) -> (Option<f64>, bool) {
    let delta = |(ns, ms): (i64, f64)| ns as f64 / 1e6 - ms;
    let (s, r) = (sent.map(delta), received.map(delta));
    let s_near = s.filter(|o| (-SAME_HOST_MS..=SAME_HOST_MS).contains(o));
    let r_near = r.filter(|o| (-RECEIVE_LAG_MS..=SAME_HOST_MS).contains(o));
    match s_near.or(r_near) {
        Some(o) => (Some(o), true),
        None => (s.or(r), false),
    }
}

/// The traces of `traces` that are about flow `f`'s connection, joined with it.
pub fn joins(f: &Flow, traces: &[QlogTrace], capture_end_ns: i64) -> Vec<QlogJoin> {
    joined(f, traces, capture_end_ns)
        .into_iter()
        .map(|(_, j)| j)
        .collect()
}

/// [`joins`], each with its trace.
pub fn joined<'a>(
    f: &Flow,
    traces: &'a [QlogTrace],
    capture_end_ns: i64,
) -> Vec<(&'a QlogTrace, QlogJoin)> {
    let Some(q) = f.quic.as_deref() else {
        return Vec::new();
    };
    traces
        .iter()
        .filter(|t| matches(t, q))
        .map(|t| (t, join(f, q, t, capture_end_ns)))
        .collect()
}

/// What a trace's endpoint logged between two capture times (ns): packets sent, declared lost
/// and probe timeouts, counting only what lies wholly inside and at least as far from either
/// end as the two clocks may disagree, so an event at the edge of a silence is never taken for
/// one in it: [`SAME_HOST_MS`] when the capture was taken at the endpoint, and 2% of the span
/// more elsewhere (the alignment on the first packet misses the path's jitter).
pub fn logged_between(t: &QlogTrace, j: &QlogJoin, from_ns: i64, to_ns: i64) -> Counts {
    let ms = |ns: i64| ns as f64 / 1e6 - j.align_ms;
    let span_ms = to_ns.saturating_sub(from_ns) as f64 / 1e6;
    let margin = match j.capture_point {
        CapturePoint::Endpoint if j.clock_offset_ms.is_some() => SAME_HOST_MS,
        _ => SAME_HOST_MS + 0.02 * span_ms,
    };
    t.tally
        .timeline
        .within(ms(from_ns) + margin, ms(to_ns) - margin)
}

fn join(f: &Flow, q: &QuicConn, t: &QlogTrace, capture_end_ns: i64) -> QlogJoin {
    let y = &t.tally;
    let endpoint = match t.vantage {
        Vantage::Client => q.client,
        Vantage::Server => q.client.other(),
        // The client sends first.
        Vantage::Unknown => match (y.first_sent_ms, y.first_received_ms) {
            (Some(s), Some(r)) if r < s => q.client.other(),
            _ => q.client,
        },
    };
    let first_ns = |side: Side| {
        if side == q.client {
            Some(q.first_initial_ns)
        } else {
            q.first_server_ns
        }
    };
    let (offset, near) = match y.clock {
        Clock::Absolute => clock_offset(
            first_ns(endpoint).zip(y.first_sent_ms),
            first_ns(endpoint.other()).zip(y.first_received_ms),
        ),
        Clock::Relative => (None, false),
    };
    let dir = &f.dirs[endpoint];
    // A router's `-i any` capture marks forwarded packets incoming and outgoing: only one of
    // the two tells.
    let (capture_point, capture_point_evidence) = if dir.sll_outgoing > 0 && dir.sll_incoming == 0 {
        (CapturePoint::Endpoint, PointEvidence::SllPacketType)
    } else if dir.sll_incoming > 0 && dir.sll_outgoing == 0 {
        (CapturePoint::Elsewhere, PointEvidence::SllPacketType)
    } else {
        match offset {
            Some(_) if near => (CapturePoint::Endpoint, PointEvidence::Timing),
            Some(o) if o > SAME_HOST_MS && o < 60_000.0 => {
                (CapturePoint::Elsewhere, PointEvidence::Timing)
            }
            _ => (CapturePoint::Unknown, PointEvidence::None),
        }
    };
    // With the capture's clock, the capture must have run past the trace's last packet; with
    // another clock, align the two on the endpoint's first packet. The capture sees a sent
    // packet after the endpoint logs it, and a received one before (by up to the one-way delay
    // to the capture point, which the alignment adds once and the arrival takes off again).
    let align = match (capture_point, offset) {
        (CapturePoint::Endpoint, Some(o)) => o,
        _ => match (first_ns(endpoint), y.first_sent_ms) {
            (Some(ns), Some(ms)) => ns as f64 / 1e6 - ms,
            _ => 0.0,
        },
    };
    let end_ms = capture_end_ns as f64 / 1e6;
    let ran_past =
        |last: Option<f64>, slack: f64| last.is_some_and(|t| end_ms + slack >= t + align);
    let covered_sent = ran_past(y.last_sent_ms, 0.0);
    let covered_received = ran_past(y.last_received_ms, SAME_HOST_MS + 2.0 * align.max(0.0));
    QlogJoin {
        file: t.file.display().to_string(),
        vantage: t.vantage,
        endpoint,
        qlog_sent: y.sent.packets,
        capture_sent: q.packets[endpoint].packets(),
        capture_from_peer: q.packets[endpoint.other()].packets(),
        qlog_received: y.received.packets + y.dropped,
        qlog_lost: y.lost,
        qlog_probe_timeouts: y.probe_timeouts,
        capture_point,
        capture_point_evidence,
        clock_offset_ms: offset,
        align_ms: align,
        covered_sent,
        covered_received,
        min_rtt_ms: y.min_rtt_ms,
        smoothed_rtt_ms: y.smoothed_rtt_ms,
        max_latest_rtt_ms: y.max_latest_rtt_ms,
        max_cwnd: y.max_cwnd,
        max_bytes_in_flight: y.max_in_flight,
        truncated: y.truncated,
    }
}
