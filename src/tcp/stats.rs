//! Bounded statistics helpers for the TCP engine: a decimating list (RTT samples, trace
//! summaries), a sample set with quantiles, and a coarsening time series (goodput and throughput
//! per interval).

use std::ops::Range;

/// A list that keeps at most `cap` items spread over everything pushed: when full it drops every
/// other item and from then on takes only every 2nd, 4th, … new one. Items for which `marked`
/// holds are always taken and survive the halving while unmarked items remain to drop.
#[derive(Debug, Clone)]
pub struct Decimated<T> {
    kept: Vec<T>,
    cap: usize,
    stride: u64,
    seen: u64,
}

impl<T> Decimated<T> {
    /// A list bounded to `cap` items (`usize::MAX`: keep everything).
    pub fn new(cap: usize) -> Self {
        Decimated {
            kept: Vec::new(),
            cap,
            stride: 1,
            seen: 0,
        }
    }

    pub fn push(&mut self, item: T, marked: impl Fn(&T) -> bool) {
        let keep = marked(&item);
        if keep || self.due() {
            if self.kept.len() >= self.cap {
                drop_every_other(&mut self.kept, &marked);
                if self.kept.len() >= self.cap {
                    drop_every_other(&mut self.kept, |_| false);
                }
                self.stride = self.stride.checked_mul(2).unwrap_or(self.stride);
            }
            if keep || self.due() {
                self.kept.push(item);
            }
        }
        self.seen += 1;
    }

    /// Whether the next item falls on the stride. The stride is a power of two, so a mask
    /// tells it (a division per item was a measurable part of the analysis).
    #[inline]
    fn due(&self) -> bool {
        self.seen & (self.stride - 1) == 0
    }

    /// The items kept, in push order.
    pub fn items(&self) -> &[T] {
        &self.kept
    }

    /// Items pushed so far (kept or not).
    pub fn seen(&self) -> u64 {
        self.seen
    }
}

/// Drops the 2nd, 4th, … item, except those `keep` protects.
fn drop_every_other<T>(v: &mut Vec<T>, keep: impl Fn(&T) -> bool) {
    let mut i = 0;
    v.retain(|x| {
        i += 1;
        i % 2 == 1 || keep(x)
    });
}

/// Samples kept for quantiles. Beyond this the set keeps every other sample and then accepts
/// every 2nd, 4th, … new one, so memory stays bounded and the sample stays spread over the whole
/// connection (min and max are tracked exactly).
const MAX_SAMPLES: usize = 4096;

/// A set of duration samples in nanoseconds.
#[derive(Debug, Clone)]
pub struct Samples {
    kept: Decimated<u64>,
    min: u64,
    max: u64,
}

impl Samples {
    /// Samples held (at most [`MAX_SAMPLES`]).
    pub fn kept(&self) -> usize {
        self.kept.items().len()
    }
}

impl Default for Samples {
    fn default() -> Self {
        Samples {
            kept: Decimated::new(MAX_SAMPLES),
            min: 0,
            max: 0,
        }
    }
}

/// Summary of a sample set.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quantiles {
    pub count: u64,
    pub min_ns: u64,
    pub median_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
}

impl Samples {
    pub fn push(&mut self, v: u64) {
        if self.kept.seen() == 0 {
            (self.min, self.max) = (v, v);
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.kept.push(v, |_| false);
    }

    pub fn count(&self) -> u64 {
        self.kept.seen()
    }

    /// Min, median, 99th percentile (nearest rank) and max; `None` without samples.
    pub fn quantiles(&self) -> Option<Quantiles> {
        if self.count() == 0 {
            return None;
        }
        let mut v = self.kept.items().to_vec();
        v.sort_unstable();
        let rank = |q: f64| -> u64 {
            let i = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
            v.get(i).copied().unwrap_or(0)
        };
        Some(Quantiles {
            count: self.count(),
            min_ns: self.min,
            median_ns: rank(0.5),
            p99_ns: rank(0.99),
            max_ns: self.max,
        })
    }
}

/// Bins kept per series; past this, adjacent bins are merged and the interval doubles.
pub const MAX_BINS: usize = 8192;

/// Bytes per time interval from a start time, with a bounded number of bins.
#[derive(Debug, Clone)]
pub struct Series {
    start_ns: i64,
    interval_ns: i64,
    /// (all payload bytes, new payload bytes) per bin.
    bins: Vec<(u64, u64)>,
    /// The last bin added to and its time span (from the start): most frames fall in it, and
    /// then no division is needed to find it.
    last: (usize, Range<i64>),
}

impl Series {
    pub fn new(start_ns: i64, interval_ns: i64) -> Self {
        Series {
            start_ns,
            interval_ns: interval_ns.max(1),
            bins: Vec::new(),
            last: (0, 0..0),
        }
    }

    pub fn add(&mut self, ts_ns: i64, bytes: u64, new_bytes: u64) {
        // Frames before the start (out-of-order pcapng) count in the first bin.
        let at = ts_ns.saturating_sub(self.start_ns).max(0);
        let i = if self.last.1.contains(&at) {
            self.last.0
        } else {
            self.bin_of(at)
        };
        if self.bins.len() <= i {
            self.bins.resize(i + 1, (0, 0));
        }
        if let Some(b) = self.bins.get_mut(i) {
            b.0 += bytes;
            b.1 += new_bytes;
        }
    }

    /// The bin of time `at` (from the start), coarsening until it is within [`MAX_BINS`];
    /// remembered as the last bin.
    fn bin_of(&mut self, at: i64) -> usize {
        let mut i = (at / self.interval_ns) as usize;
        while i >= MAX_BINS {
            self.coarsen();
            i = (at / self.interval_ns) as usize;
        }
        // i * interval <= at, so only the end can overflow.
        let from = i as i64 * self.interval_ns;
        self.last = (i, from..from.saturating_add(self.interval_ns));
        i
    }

    fn coarsen(&mut self) {
        let merged: Vec<(u64, u64)> = self
            .bins
            .chunks(2)
            .map(|c| c.iter().fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1)))
            .collect();
        self.bins = merged;
        self.interval_ns = self.interval_ns.saturating_mul(2);
    }

    pub fn interval_ns(&self) -> i64 {
        self.interval_ns
    }
    pub fn bins(&self) -> &[(u64, u64)] {
        &self.bins
    }
}

/// Jain's fairness index of `x` (1.0 for an empty or all-zero list): J = (Σx)² / (n·Σx²)
/// (Jain, Chiu, Hawe, DEC-TR-301, 1984): 1 when all are equal, 1/n when one takes everything.
pub fn jain_index(x: &[f64]) -> f64 {
    let sum: f64 = x.iter().sum();
    let sq: f64 = x.iter().map(|v| v * v).sum();
    if sq == 0.0 {
        1.0
    } else {
        sum * sum / (x.len() as f64 * sq)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn marked_items_past_every_halving_never_overflow_the_stride() {
        // Every item marked (a flow of back-to-back retransmissions): the list halves again
        // and again; the stride saturates instead of overflowing, and the cap holds.
        let mut d = Decimated::new(4);
        for i in 0..200u32 {
            d.push(i, |_| true);
        }
        assert!(d.items().len() <= 4);
        assert_eq!(d.seen(), 200);
    }

    use super::*;

    #[test]
    fn quantiles_of_a_small_set_are_exact() {
        let mut s = Samples::default();
        for v in [5, 1, 4, 2, 3] {
            s.push(v);
        }
        let q = s.quantiles().expect("samples");
        assert_eq!(
            (q.count, q.min_ns, q.median_ns, q.p99_ns, q.max_ns),
            (5, 1, 3, 5, 5)
        );
        assert!(Samples::default().quantiles().is_none());
    }

    #[test]
    fn samples_stay_bounded_and_spread() {
        let mut s = Samples::default();
        for v in 0..100_000u64 {
            s.push(v);
        }
        assert!(s.kept.items().len() <= MAX_SAMPLES);
        let q = s.quantiles().expect("samples");
        assert_eq!((q.min_ns, q.max_ns, q.count), (0, 99_999, 100_000));
        // Spread over the whole range: the median of the kept set is near the true median.
        assert!(
            (q.median_ns as i64 - 50_000).abs() < 1_000,
            "{}",
            q.median_ns
        );
    }

    #[test]
    fn series_bins_every_sample_where_its_time_falls() {
        // Mostly forward in small steps, sometimes back (out-of-order pcapng), sometimes far
        // ahead (coarsening): every byte lands in the bin its time gives at the final interval.
        let mut s = Series::new(5_000, 7);
        let (mut ts, mut x, mut added) = (5_000i64, 12345u64, Vec::new());
        for _ in 0..200_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ts += match x >> 58 {
                0 => -((x >> 40) as i64 % 50),
                1 => (x >> 30) as i64 % 5_000,
                _ => (x >> 40) as i64 % 5,
            };
            s.add(ts, 3, 1);
            added.push(ts);
        }
        let mut want = vec![(0u64, 0u64); s.bins().len()];
        for ts in added {
            let i = ((ts - 5_000).max(0) / s.interval_ns()) as usize;
            want[i].0 += 3;
            want[i].1 += 1;
        }
        assert!(s.interval_ns() > 7, "never coarsened");
        assert_eq!(s.bins(), &want[..]);
    }

    #[test]
    fn series_bins_and_coarsens() {
        let mut s = Series::new(1_000, 100);
        s.add(1_000, 10, 10);
        s.add(1_099, 5, 0);
        s.add(1_250, 7, 7);
        assert_eq!(s.bins(), &[(15, 10), (0, 0), (7, 7)]);
        s.add(1_000 + 100 * MAX_BINS as i64, 1, 1);
        assert_eq!(s.interval_ns(), 200);
        assert!(s.bins().len() <= MAX_BINS);
        assert_eq!(s.bins()[0], (15, 10));
        assert_eq!(s.bins()[1], (7, 7));
        let total: u64 = s.bins().iter().map(|b| b.0).sum();
        assert_eq!(total, 23);
    }

    #[test]
    fn jain() {
        assert!((jain_index(&[5.0, 5.0, 5.0, 5.0]) - 1.0).abs() < 1e-12);
        assert!((jain_index(&[1.0, 0.0, 0.0, 0.0]) - 0.25).abs() < 1e-12);
        assert!((jain_index(&[3.0, 1.0]) - 0.8).abs() < 1e-12);
        assert_eq!(jain_index(&[]), 1.0);
    }
}
