//! The heavy part of a TCP connection's state, allocated only when the connection needs it.
//!
//! A port scan or a SYN flood makes millions of flows that never carry a byte; each must cost a
//! few hundred bytes, not the kilobytes of sequence tracking, RTT sampling, duplicate detection
//! and graph traces a connection with data needs. [`TcpData`] holds those and is boxed at the
//! first segment after a lone opening SYN; that SYN waits in a [`PendingSyn`] and is replayed
//! into the new [`TcpData`] first, so every measurement is what it would have been had the
//! state existed from the start.

use std::sync::LazyLock;

use super::duplicates::{Fingerprint, Recent};
use super::metrics::DirMetrics;
use super::seq::Unwrapper;
use super::trace::{IdMark, Trace};
use crate::flow::side::{PerSide, Side};

/// What a connection with more than an opening SYN keeps: sequence tracking and measurements
/// per side, the duplicate detector's recent frames, and the graph traces.
#[derive(Debug, Clone)]
pub struct TcpData {
    /// What each side sent, like `Flow::dirs`.
    pub dirs: PerSide<DirMetrics>,
    pub traces: PerSide<Trace>,
    pub(super) recent: PerSide<Recent>,
    pub(super) unwrap: PerSide<Option<Unwrapper>>,
}

impl TcpData {
    pub fn new(full_trace: bool) -> Self {
        TcpData {
            dirs: Default::default(),
            traces: PerSide::new(Trace::new(full_trace), Trace::new(full_trace)),
            recent: Default::default(),
            unwrap: PerSide::default(),
        }
    }
}

/// The state of a connection that has sent nothing but an opening SYN: nothing measured yet.
pub static EMPTY: LazyLock<TcpData> = LazyLock::new(|| TcpData::new(false));

/// A lone SYN (no ACK, RST, FIN or payload) that opened a connection whose [`TcpData`] does not
/// exist yet: what replaying it needs.
#[derive(Debug, Clone, Copy)]
pub struct PendingSyn {
    pub side: Side,
    pub number: u64,
    pub ts_ns: i64,
    pub flags: u8,
    pub ip_len: u32,
    pub ip_id: Option<IdMark>,
    pub fingerprint: Fingerprint,
    pub events: super::events::Events,
}
