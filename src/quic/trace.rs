//! The points of a decrypted QUIC connection's graphs, per side: each packet as the capture saw
//! it (number, time, frame), its STREAM frames (stream, offsets), the peer's ACKs (the largest
//! number acknowledged over time) and flow-control limits, RTT samples and the packets declared
//! lost. Kept only for a flow a graph needs, and bounded like
//! TCP's traces ([`crate::tcp::stats::Decimated`]): a graph's memory does not grow with the
//! connection.

use crate::tcp::stats::Decimated;

/// Points kept per list: over 200 per pixel column of the widest graph (as TCP's
/// `FULL_POINTS`), about 8 MB a side at most.
pub const POINTS: usize = 1 << 18;

/// A decrypted packet of this side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SentPoint {
    pub t_ns: i64,
    pub frame: u64,
    pub pn: u64,
    /// Carries more than ACK, PADDING and CONNECTION_CLOSE frames.
    pub eliciting: bool,
}

/// The largest packet number of this side the peer had acknowledged, from an ACK at `t_ns`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckStep {
    pub t_ns: i64,
    pub largest: u64,
}

/// An RTT sample at the capture point (after ack_delay), timed at its ACK.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RttStep {
    pub t_ns: i64,
    pub rtt_ns: i64,
}

/// A packet declared lost (RFC 9002 thresholds): when it passed the capture point, or for a
/// number never seen (`before_capture`), when the packet after it did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LostPoint {
    pub t_ns: i64,
    pub pn: u64,
    pub before_capture: bool,
}

/// A STREAM frame of this side's packet `pn`: bytes `[offset, end)` of stream `stream`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamPoint {
    pub t_ns: i64,
    pub pn: u64,
    pub stream: u64,
    pub offset: u64,
    pub end: u64,
    /// Ends at or below the stream's largest offset sent before: data sent again.
    pub resent: bool,
}

/// A flow-control limit the peer gave this side at `t_ns`: MAX_STREAM_DATA for `stream`, or
/// MAX_DATA (`stream: None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitStep {
    pub t_ns: i64,
    pub stream: Option<u64>,
    pub limit: u64,
}

/// One side's points.
#[derive(Debug, Clone)]
pub struct SideTrace {
    pub sent: Decimated<SentPoint>,
    pub acks: Decimated<AckStep>,
    pub rtts: Decimated<RttStep>,
    pub lost: Decimated<LostPoint>,
    pub streams: Decimated<StreamPoint>,
    pub limits: Decimated<LimitStep>,
}

impl Default for SideTrace {
    fn default() -> Self {
        SideTrace {
            sent: Decimated::new(POINTS),
            acks: Decimated::new(POINTS),
            rtts: Decimated::new(POINTS),
            lost: Decimated::new(POINTS),
            streams: Decimated::new(POINTS),
            limits: Decimated::new(POINTS),
        }
    }
}
