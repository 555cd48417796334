//! The connection's round trip from its decrypted ACK frames, wherever the capture was taken:
//! each side's RTT at the capture point covers one leg (capture → peer → capture), and the two
//! legs add up to the path's round trip (on an endpoint's host, one leg is ~0).

use super::decrypt::Decryption;
use super::rtt::GRANULARITY_NS;
use super::transport_params;
use crate::flow::side::{PerSide, Side};

/// What an endpoint that did not say may delay its ACKs ([`transport_params`]).
const DEFAULT_MAX_ACK_DELAY_NS: i64 = transport_params::DEFAULT_MAX_ACK_DELAY_MS as i64 * 1_000_000;

/// The path's round trip, both legs summed, ns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathRtt {
    /// `min_rtt` of each leg summed (RFC 9002 §5.2: the ACK Delay is never taken off it).
    pub min_ns: i64,
    /// `smoothed_rtt` of each leg summed (RFC 9002 §5.3, ACK Delay taken off).
    pub smoothed_ns: i64,
    /// `rttvar` of each leg summed: a bound on the path's (deviations add at most).
    pub var_ns: i64,
    /// Each side's peer's `max_ack_delay`.
    max_ack_delay_ns: PerSide<i64>,
}

impl PathRtt {
    /// The round trip, once the key log opened the connection and both sides' packets were
    /// acknowledged at least once (an ack-eliciting packet each way).
    pub fn of(d: &Decryption) -> Option<PathRtt> {
        if !d.secrets_found || d.recovery.iter().any(|r| r.rtt.samples == 0) {
            return None;
        }
        let r = &d.recovery;
        let sum =
            |f: fn(&super::rtt::Rtt) -> i64| f(&r[Side::A].rtt).saturating_add(f(&r[Side::B].rtt));
        Some(PathRtt {
            min_ns: sum(|x| x.min_ns),
            smoothed_ns: sum(|x| x.smoothed_ns),
            var_ns: sum(|x| x.var_ns),
            max_ack_delay_ns: PerSide::new(
                r[Side::A]
                    .max_ack_delay_ns
                    .unwrap_or(DEFAULT_MAX_ACK_DELAY_NS),
                r[Side::B]
                    .max_ack_delay_ns
                    .unwrap_or(DEFAULT_MAX_ACK_DELAY_NS),
            ),
        })
    }

    /// The probe timeout of `side`'s packets (RFC 9002 §6.2.1): smoothed_rtt + max(4 ×
    /// rttvar, kGranularity) + the peer's max_ack_delay. Each probe that goes unanswered
    /// doubles it.
    pub fn pto_ns(&self, side: Side) -> i64 {
        self.smoothed_ns
            .saturating_add(self.var_ns.saturating_mul(4).max(GRANULARITY_NS))
            .saturating_add(self.max_ack_delay_ns[side])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quic::rtt::Rtt;

    const MS: i64 = 1_000_000;

    fn opened(a: Rtt, b: Rtt) -> Decryption {
        let mut d = Decryption::new(None, 0x1301, 1, Side::A);
        d.secrets_found = true;
        d.recovery[Side::A].rtt = a;
        d.recovery[Side::B].rtt = b;
        d
    }

    fn rtt(samples: u64, min_ms: i64, smoothed_ms: i64, var_ms: i64) -> Rtt {
        Rtt {
            samples,
            min_ns: min_ms * MS,
            smoothed_ns: smoothed_ms * MS,
            var_ns: var_ms * MS,
            ..Rtt::default()
        }
    }

    #[test]
    fn the_legs_add_up_and_the_probe_timeout_follows_rfc_9002() {
        // Captured in the middle: 30 ms to A and back, 10 ms to B and back.
        let mut d = opened(rtt(5, 9, 10, 2), rtt(7, 28, 30, 3));
        d.recovery[Side::B].max_ack_delay_ns = Some(5 * MS);
        let p = PathRtt::of(&d).expect("both legs sampled");
        assert_eq!(
            (p.min_ns, p.smoothed_ns, p.var_ns),
            (37 * MS, 40 * MS, 5 * MS)
        );
        // A's packets: 40 + 4 × 5 + A's peer's default 25 ms; B's: its peer said 5 ms.
        assert_eq!(p.pto_ns(Side::A), 85 * MS);
        assert_eq!(p.pto_ns(Side::B), 65 * MS);
        // A steady path: 4 × rttvar below the 1 ms granularity counts 1 ms.
        let steady = PathRtt::of(&opened(rtt(5, 10, 10, 0), rtt(5, 10, 10, 0))).expect("sampled");
        assert_eq!(steady.pto_ns(Side::A), (20 + 1 + 25) * MS);
    }

    #[test]
    fn no_round_trip_without_keys_or_a_leg() {
        let mut d = opened(rtt(5, 9, 10, 2), rtt(0, 0, 0, 0));
        assert_eq!(PathRtt::of(&d), None, "B's packets were never acknowledged");
        d.recovery[Side::B].rtt = rtt(1, 5, 5, 2);
        assert!(PathRtt::of(&d).is_some());
        d.secrets_found = false;
        assert_eq!(PathRtt::of(&d), None, "the key log lacked a side's secrets");
    }
}
