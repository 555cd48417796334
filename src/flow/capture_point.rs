//! Which end of a TCP flow the capture was taken on, and the evidence for it.
//!
//! Receive offloads (GRO/LRO) run before a receiver's tap and send offloads (TSO/GSO) after a
//! sender's (net/core/dev.c: `napi_gro_receive` before `__netif_receive_skb_core`; the tap sees
//! the GSO skb before `dev_hard_start_xmit` segments it), so the capture point decides what a
//! frame larger than the MTU means.

use serde::Serialize;

use super::{Flow, Side};
use crate::tcp::Handshake;

/// A local host answers within microseconds, the remote one after a round trip: the faster
/// handshake answer must be at least this many times faster to name the capture point.
pub const LOCAL_ANSWER_RATIO: i64 = 10;

/// The slower answer must take at least this long (100 µs) for timing to name the capture point:
/// over a veth or a loopback the "remote" host answers within microseconds too, and which answer
/// was faster says nothing about where the tap sits (the kernel lab's veth shows both orders).
pub const MIN_ROUND_TRIP_NS: i64 = 100_000;

/// RTT samples each direction needs before data/ACK timing may name the capture point.
pub const MIN_TIMING_SAMPLES: u64 = 3;

/// How the capture point was told, strongest evidence first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum CaptureEvidence {
    /// A Linux cooked capture's packet types (`PACKET_OUTGOING` / `PACKET_HOST`).
    SllPacketType,
    /// IPv4 total length 0 on super-segments: only a sender's tap sees TSO packets before the
    /// NIC fills the length in.
    TsoLengthZero,
    /// The local host answered its part of the handshake much faster.
    HandshakeTiming,
    /// The local host ACKs the remote one's data much faster than its own data is ACKed.
    DataAckTiming,
}

impl CaptureEvidence {
    pub fn as_str(self) -> &'static str {
        match self {
            CaptureEvidence::SllPacketType => "sll-packet-type",
            CaptureEvidence::TsoLengthZero => "tso-length-zero",
            CaptureEvidence::HandshakeTiming => "handshake-timing",
            CaptureEvidence::DataAckTiming => "data-ack-timing",
        }
    }
}

/// The host a TCP flow was captured on, and the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapturePoint {
    /// The side of the local host.
    pub side: Side,
    pub how: CaptureEvidence,
}

impl Flow {
    /// Which end of the flow the capture was taken on, when the capture tells: a Linux cooked
    /// capture's packet types, IPv4 total length 0 on super-segments, the handshake's timing
    /// (the local host answers [`LOCAL_ANSWER_RATIO`] times faster than the remote one), or,
    /// with data in both directions, how fast each side's data is acknowledged.
    pub fn capture_point(&self) -> Option<CapturePoint> {
        let at = |side, how| Some(CapturePoint { side, how });
        let d = &self.dirs;
        for s in Side::BOTH {
            if d[s].sll_outgoing > 0 && d[s.other()].sll_outgoing == 0 {
                return at(s, CaptureEvidence::SllPacketType);
            }
            if d[s].sll_incoming > 0 && d[s.other()].sll_incoming == 0 {
                return at(s.other(), CaptureEvidence::SllPacketType);
            }
        }
        if let Some(g) = &self.gro {
            if let Some(s) = Side::BOTH
                .into_iter()
                .find(|&s| g.dirs[s].oversized_len_zero > 0)
            {
                return at(s, CaptureEvidence::TsoLengthZero);
            }
        }
        let conn = self.tcp.as_deref()?;
        if let Some(side) = handshake_local(&conn.handshake) {
            return at(side, CaptureEvidence::HandshakeTiming);
        }
        // Data both ways: the local host ACKs the remote one's data within microseconds, its own
        // data is ACKed a round trip later (RTT as measured at the capture point).
        // Only RTT samples of data count: a pure-ACK direction's timestamp echoes measure when
        // the peer next sent (its pacing), not a round trip.
        let median = |side: Side| {
            if conn.dirs()[side].data_segments < MIN_TIMING_SAMPLES {
                return None;
            }
            conn.dirs()[side]
                .rtt()
                .0
                .quantiles()
                .filter(|q| q.count >= MIN_TIMING_SAMPLES)
                .map(|q| q.median_ns)
        };
        let (a, b) = (median(Side::A)?, median(Side::B)?);
        let fast = |x: u64, y: u64| {
            y >= MIN_ROUND_TRIP_NS as u64 && x.saturating_mul(LOCAL_ANSWER_RATIO as u64) <= y
        };
        // A's data ACKed fast: B (its receiver) is local.
        let side = if fast(a, b) {
            Side::B
        } else if fast(b, a) {
            Side::A
        } else {
            return None;
        };
        at(side, CaptureEvidence::DataAckTiming)
    }
}

/// The side that answered its part of the handshake [`LOCAL_ANSWER_RATIO`] times faster.
fn handshake_local(h: &Handshake) -> Option<Side> {
    let (syn_side, syn) = h.syn?;
    let (syn_ack, ack) = (h.syn_ack_ns?, h.ack_ns?);
    // Timestamps are input: saturate rather than overflow on absurd ones.
    let (answer, reply) = (syn_ack.saturating_sub(syn), ack.saturating_sub(syn_ack));
    let fast = |x: i64, y: i64| {
        x >= 0 && y >= MIN_ROUND_TRIP_NS && x.saturating_mul(LOCAL_ANSWER_RATIO) <= y
    };
    if fast(answer, reply) {
        Some(syn_side.other())
    } else if fast(reply, answer) {
        Some(syn_side)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hs(syn: i64, syn_ack: i64, ack: i64) -> Handshake {
        Handshake {
            syn: Some((Side::A, syn)),
            syn_ack_ns: Some(syn_ack),
            ack_ns: Some(ack),
        }
    }

    #[test]
    fn the_side_that_answers_fast_is_local() {
        // Server capture: SYN/ACK 20 µs after the SYN, the ACK a 10 ms round trip later.
        assert_eq!(handshake_local(&hs(0, 20_000, 10_020_000)), Some(Side::B));
        // Client capture: the other way round.
        assert_eq!(
            handshake_local(&hs(0, 10_000_000, 10_020_000)),
            Some(Side::A)
        );
        // Halfway on the wire: no side is 10 times faster.
        assert_eq!(handshake_local(&hs(0, 5_000_000, 10_000_000)), None);
        // A veth: 3 µs against 40 µs is 10 times faster, but a 40 µs "round trip" is no
        // evidence of distance.
        assert_eq!(handshake_local(&hs(0, 3_000, 43_000)), None);
        assert_eq!(handshake_local(&hs(0, 8_000, 108_000)), Some(Side::B));
    }

    #[test]
    fn absurd_timestamps_do_not_overflow() {
        for (a, b, c) in [
            (i64::MIN, i64::MAX, 0),
            (i64::MAX, i64::MIN, i64::MAX),
            (0, i64::MAX, i64::MIN),
        ] {
            let _ = handshake_local(&hs(a, b, c));
        }
    }
}
