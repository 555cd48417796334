//! RFC 9002 §5's RTT estimator at the capture point: from one side's packets to the peer's
//! ACKs of them, the peer's ACK Delay taken off.

use serde::Serialize;

/// RFC 9002 §6.1.2 kGranularity, the time threshold's floor.
pub const GRANULARITY_NS: i64 = 1_000_000;
/// RFC 9002 §6.2.2 kInitialRtt, the time threshold's base before any sample.
const INITIAL_RTT_NS: i64 = 333_000_000;

/// RTT at the capture point (RFC 9002 §5.3's estimator, from this side's packets and the
/// peer's ACKs), ns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Rtt {
    pub samples: u64,
    pub min_ns: i64,
    pub smoothed_ns: i64,
    pub latest_ns: i64,
    /// The largest sample after ack_delay: the worst round trip the capture point saw.
    pub max_ns: i64,
    /// The last sample after ack_delay.
    #[serde(skip)]
    pub adjusted_ns: i64,
    /// `rttvar` (RFC 9002 §5.3): the mean deviation of the samples, for the probe timeout.
    #[serde(skip)]
    pub var_ns: i64,
}

impl Rtt {
    /// A sample of `latest_ns` whose ACK said the peer held it `ack_delay_ns` (RFC 9002 §5.3:
    /// ack_delay is taken off only where that leaves at least min_rtt).
    pub(super) fn sample(&mut self, latest_ns: i64, ack_delay_ns: i64) {
        let latest_ns = latest_ns.max(0);
        if self.samples == 0 {
            self.min_ns = latest_ns;
            self.smoothed_ns = latest_ns;
            self.var_ns = latest_ns / 2;
        }
        self.min_ns = self.min_ns.min(latest_ns);
        let adjusted = if latest_ns >= self.min_ns.saturating_add(ack_delay_ns) {
            latest_ns - ack_delay_ns
        } else {
            latest_ns
        };
        if self.samples > 0 {
            let deviation = self.smoothed_ns.saturating_sub(adjusted).saturating_abs();
            self.var_ns = (3 * (self.var_ns / 4)).saturating_add(deviation / 4);
            self.smoothed_ns = (7 * (self.smoothed_ns / 8)).saturating_add(adjusted / 8);
        }
        self.latest_ns = latest_ns;
        self.adjusted_ns = adjusted;
        self.max_ns = self.max_ns.max(adjusted);
        self.samples += 1;
    }

    /// RFC 9002 §6.1.2: loss_delay = 9/8 × max(smoothed_rtt, latest_rtt), at least 1 ms.
    pub(super) fn loss_delay_ns(&self) -> i64 {
        let base = if self.samples == 0 {
            INITIAL_RTT_NS
        } else {
            self.smoothed_ns.max(self.latest_ns)
        };
        (base / 8).saturating_mul(9).max(GRANULARITY_NS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    #[test]
    fn the_estimator_follows_rfc_9002_section_5_3() {
        let mut r = Rtt::default();
        // First sample: smoothed = 100 ms, rttvar = 50 ms.
        r.sample(100 * MS, 0);
        assert_eq!(
            (r.min_ns, r.smoothed_ns, r.var_ns),
            (100 * MS, 100 * MS, 50 * MS)
        );
        // 140 ms with 20 ms of ACK Delay: adjusted 120 ms (it leaves more than min_rtt);
        // rttvar = 3/4 × 50 + 1/4 × |100 − 120| = 42.5; smoothed = 7/8 × 100 + 1/8 × 120 = 102.5.
        r.sample(140 * MS, 20 * MS);
        assert_eq!(r.adjusted_ns, 120 * MS);
        assert_eq!(r.var_ns, 42_500_000);
        assert_eq!(r.smoothed_ns, 102_500_000);
        // 105 ms with 20 ms of ACK Delay: taking it off would go below min_rtt, so it stays.
        r.sample(105 * MS, 20 * MS);
        assert_eq!(r.adjusted_ns, 105 * MS);
        assert_eq!((r.min_ns, r.max_ns, r.samples), (100 * MS, 120 * MS, 3));
        // loss_delay = 9/8 × max(smoothed, latest).
        assert_eq!(r.loss_delay_ns(), r.smoothed_ns.max(105 * MS) / 8 * 9);
    }
}
