//! The latency spin bit (RFC 9000 §17.4): an RTT per connection and direction measured from
//! 1-RTT packets without keys. The bit (0x20 of a short header's first byte) is not header
//! protected: RFC 9001 §5.4.1 masks only the low 5 bits of a short header's first byte.
//!
//! A client sets the bit to the inverse of the last value it received, a server reflects it
//! (RFC 9000 §17.4), so the value each side sends flips once per round trip. An observer
//! anywhere on the path sees, per direction, an edge (a change of the value) once per RTT: the
//! time between two consecutive edges of one direction is one RTT sample (RFC 9312 §3.8.2).
//! Endpoints may not spin: they send a constant value, or (RFC 9000 §17.4: spinning MUST be
//! disabled on at least one in every 16 connections, the bit then set to an arbitrary value)
//! a random one, which flips about every other packet. An RTT is reported only when the edges
//! look like spinning ([`SpinDir::state`]).

use serde::Serialize;

use crate::tcp::stats::Samples;

/// The spin bit in a short header's first byte (RFC 9000 §17.3.1).
pub const SPIN_BIT: u8 = 0x20;
/// Fewer short-header packets than this in a direction say nothing about its spin bit.
pub const MIN_PACKETS: u64 = 8;
/// Edges needed before an RTT is reported: two samples (RFC 9312 §3.8.2 takes one per edge;
/// one sample alone may be the edge of an arbitrary value changing once).
pub const MIN_EDGES: u64 = 3;
/// A spin RTT shorter than half the handshake's first RTT sample is no round trip: edges that
/// come that fast are a random bit flipping between packets. Longer than this many times it is
/// implausible (RFC 9312 §3.8.2: application-limited senders stretch spin periods, not tenfold).
pub const MAX_RTT_FACTOR: u64 = 10;
/// A direction whose bit flips in at least this share of consecutive packets, at intervals that
/// are no RTT, sends random bits (a fair coin flips in half of them).
pub const RANDOM_FLIP_SHARE: f64 = 0.25;
/// A value that stays the same over at least this many RTTs (the handshake's sample, or
/// [`DEFAULT_RTT_NS`] without one) is not spinning.
pub const CONSTANT_RTTS: i64 = 3;
/// RFC 9002 §6.2.2's initial RTT (333 ms): the round trip assumed when none was measured.
pub const DEFAULT_RTT_NS: i64 = 333_000_000;

/// What a direction's spin bit does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SpinState {
    /// Edges once per round trip: the samples are RTTs.
    Spinning,
    /// The same value throughout.
    Constant,
    /// Flips between packets at intervals that are no round trip.
    Random,
    /// Too few packets or edges to tell.
    Unknown,
}

/// The spin bit of the short-header packets one side sent.
#[derive(Debug, Clone, Default)]
pub struct SpinDir {
    last: Option<bool>,
    /// Short-header packets seen, and the times of the first and the last.
    pub packets: u64,
    first_ns: i64,
    last_ns: i64,
    /// Changes of the value, and the time of the latest.
    pub edges: u64,
    last_edge_ns: Option<i64>,
    /// The times between consecutive edges.
    samples: Samples,
}

impl SpinDir {
    /// A short-header packet whose first byte is `first`, seen at `ts_ns`.
    pub fn packet(&mut self, first: u8, ts_ns: i64) {
        let bit = first & SPIN_BIT != 0;
        if self.packets == 0 {
            self.first_ns = ts_ns;
        }
        self.packets += 1;
        self.last_ns = ts_ns;
        if self.last.replace(bit).is_some_and(|was| was != bit) {
            self.edges += 1;
            if let Some(prev) = self.last_edge_ns {
                // A timestamp that goes back (merged captures) gives no sample.
                if let Ok(gap) = u64::try_from(ts_ns - prev) {
                    self.samples.push(gap);
                }
            }
            self.last_edge_ns = Some(ts_ns);
        }
    }

    /// What the bit does, judged against the connection's first RTT sample when known.
    pub fn state(&self, rtt_ns: Option<u64>) -> SpinState {
        if self.packets < MIN_PACKETS {
            return SpinState::Unknown;
        }
        if self.edges == 0 {
            let rtt = rtt_ns.map_or(DEFAULT_RTT_NS, |r| i64::try_from(r).unwrap_or(i64::MAX));
            let span = self.last_ns.saturating_sub(self.first_ns);
            return if span >= rtt.saturating_mul(CONSTANT_RTTS) {
                SpinState::Constant
            } else {
                SpinState::Unknown
            };
        }
        let Some(median) = self.samples.quantiles().map(|q| q.median_ns) else {
            return SpinState::Unknown;
        };
        if self.edges < MIN_EDGES {
            return SpinState::Unknown;
        }
        let share = self.edges as f64 / (self.packets - 1) as f64;
        let plausible = match rtt_ns {
            Some(rtt) => {
                median.saturating_mul(2) >= rtt && median <= rtt.saturating_mul(MAX_RTT_FACTOR)
            }
            // Without a handshake sample only few flips per packet vouch for a round trip.
            None => share < RANDOM_FLIP_SHARE,
        };
        if plausible {
            SpinState::Spinning
        } else if share >= RANDOM_FLIP_SHARE {
            SpinState::Random
        } else {
            SpinState::Unknown
        }
    }

    /// The RTT samples' count, median and minimum (ns), when the bit spins.
    pub fn rtt(&self, rtt_ns: Option<u64>) -> Option<(u64, u64, u64)> {
        if self.state(rtt_ns) != SpinState::Spinning {
            return None;
        }
        self.samples
            .quantiles()
            .map(|q| (q.count, q.median_ns, q.min_ns))
    }

    /// RTT samples taken (consistent or not).
    pub fn samples(&self) -> u64 {
        self.samples.count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    /// `n` packets `gap` ms apart with the spin bits of `bit(i)`.
    fn dir(n: i64, gap: i64, bit: impl Fn(i64) -> bool) -> SpinDir {
        let mut d = SpinDir::default();
        for i in 0..n {
            d.packet(0x41 | if bit(i) { SPIN_BIT } else { 0 }, i * gap * MS);
        }
        d
    }

    #[test]
    fn a_spinning_bit_gives_its_period() {
        // Packets 5 ms apart, a 40 ms round trip: the bit flips every 8th packet.
        let d = dir(64, 5, |i| (i / 8) % 2 == 1);
        assert_eq!(d.edges, 7);
        assert_eq!(d.state(Some(40 * MS as u64)), SpinState::Spinning);
        assert_eq!(
            d.rtt(Some(40 * MS as u64)),
            Some((6, 40 * MS as u64, 40 * MS as u64))
        );
        // Without a handshake sample: flips in 7 of 63 packets.
        assert_eq!(d.state(None), SpinState::Spinning);
    }

    #[test]
    fn a_constant_bit_gives_no_rtt() {
        let d = dir(64, 5, |_| false);
        assert_eq!(d.state(Some(40 * MS as u64)), SpinState::Constant);
        assert_eq!(d.rtt(Some(40 * MS as u64)), None);
        // 320 ms is less than three default RTTs: too short to say.
        assert_eq!(d.state(None), SpinState::Unknown);
    }

    #[test]
    fn a_random_bit_gives_no_rtt() {
        // A fixed pseudo-random sequence (xorshift), packets 2 ms apart, RTT 40 ms.
        let mut x: u32 = 0x9e37_79b9;
        let bits: Vec<bool> = (0..200)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                x & 1 == 1
            })
            .collect();
        let d = dir(200, 2, |i| bits[i as usize]);
        assert!(d.edges > 60, "{}", d.edges);
        assert_eq!(d.state(Some(40 * MS as u64)), SpinState::Random);
        assert_eq!(d.state(None), SpinState::Random);
        assert_eq!(d.rtt(Some(40 * MS as u64)), None);
    }

    #[test]
    fn few_packets_or_edges_say_nothing() {
        assert_eq!(dir(5, 40, |i| i % 2 == 1).state(None), SpinState::Unknown);
        // Two edges: one sample.
        let d = dir(30, 5, |i| (8..16).contains(&i));
        assert_eq!(d.state(Some(40 * MS as u64)), SpinState::Unknown);
    }
}
