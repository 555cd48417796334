//! The metrics `compare` puts side by side: sums over a capture's or a flow's TCP directions,
//! and the GRO model's verdict.

use serde::Serialize;

use crate::flow::Direction;
use crate::report::{DirReport, FlowReport, Report};

/// What a metric measures, for formatting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unit {
    BitsPerSecond,
    /// A plain number (segments per frame, frames).
    Number,
    /// A share from 0 to 1, shown as a percentage; its change in percentage points.
    Share,
    Milliseconds,
    Seconds,
}

/// The metrics compared, in table order. Serialised as stable snake_case names (JSON consumers
/// key on them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MetricName {
    Duration,
    Frames,
    Throughput,
    Goodput,
    SegmentsPerFrame,
    OversizedShare,
    GroMergeRate,
    RetransmissionRate,
    RttMedian,
    ZeroWindowTime,
}

/// One metric, before and after.
#[derive(Debug, Clone, Serialize)]
pub struct Metric {
    pub name: MetricName,
    pub unit: Unit,
    pub before: Option<f64>,
    pub after: Option<f64>,
    /// `after − before`.
    pub delta: Option<f64>,
    /// `delta / before`, when `before` is not 0 (not for shares, whose delta is the change).
    pub relative: Option<f64>,
}

impl Metric {
    fn new(name: MetricName, unit: Unit, before: Option<f64>, after: Option<f64>) -> Self {
        let delta = before.zip(after).map(|(b, a)| a - b);
        let relative = match (unit, before, delta) {
            (Unit::Share, _, _) => None,
            (_, Some(b), Some(d)) if b != 0.0 => Some(d / b),
            _ => None,
        };
        Metric {
            name,
            unit,
            before,
            after,
            delta,
            relative,
        }
    }

    pub fn label(&self) -> &'static str {
        match self.name {
            MetricName::Duration => "duration",
            MetricName::Frames => "frames",
            MetricName::Throughput => "TCP throughput",
            MetricName::Goodput => "TCP goodput",
            MetricName::SegmentsPerFrame => "segments per frame",
            MetricName::OversizedShare => "oversized frames",
            MetricName::GroMergeRate => "GRO model: mergeable pairs",
            MetricName::RetransmissionRate => "retransmission rate",
            MetricName::RttMedian => "RTT median",
            MetricName::ZeroWindowTime => "zero-window time",
        }
    }
}

/// What the GRO merge model says of one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum GroState {
    /// At least half the judged pairs would merge.
    Merges,
    /// Most judged pairs would not.
    Blocked,
    /// No pair to judge: most data frames hold several segments, merged by GRO/LRO or not yet
    /// cut by TSO/GSO.
    Coalesced,
    NotJudged,
}

impl GroState {
    pub fn as_str(self) -> &'static str {
        match self {
            GroState::Merges => "merges",
            GroState::Blocked => "blocked",
            GroState::Coalesced => "coalesced",
            GroState::NotJudged => "not-judged",
        }
    }
}

/// The GRO merge model's verdict for one side.
#[derive(Debug, Clone, Serialize)]
pub struct GroVerdict {
    pub verdict: GroState,
    pub merge_rate: Option<f64>,
    /// The rule that failed most often, when `blocked`.
    pub blocker: Option<String>,
}

/// Sums over the TCP directions that sent data (a flow, or a whole capture).
#[derive(Debug, Default, Clone, Copy)]
struct Sums {
    data_bytes: u64,
    new_bytes: u64,
    data_frames: u64,
    wire_segments: u64,
    oversized: u64,
    judged: u64,
    mergeable: u64,
    retransmissions: u64,
    seq_segments: u64,
    zero_window_s: f64,
}

impl Sums {
    fn add(&mut self, d: &DirReport) {
        if let Some(t) = &d.tcp {
            self.data_bytes += t.data_bytes;
            self.new_bytes += t.new_bytes;
            self.retransmissions += t.counts.retransmissions;
            self.seq_segments += t.seq_segments;
            self.zero_window_s += t.zero_window_time_s;
        }
        if let Some(o) = &d.offload {
            self.data_frames += o.data_frames;
            self.wire_segments += o.wire_segments;
            self.oversized += o.oversized_frames;
            self.judged += o.gro.judged_pairs;
            self.mergeable += o.gro.mergeable_pairs;
        }
    }
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

fn gro_verdict(s: &Sums, blocker: Option<String>) -> GroVerdict {
    let merge_rate = ratio(s.mergeable, s.judged);
    let verdict = match merge_rate {
        Some(r) if r >= 0.5 => GroState::Merges,
        Some(_) => GroState::Blocked,
        // Pairs with an oversized frame are not judged (src/gro/mod.rs): the frames themselves
        // show the coalescing (or the segmentation offload, on a sender).
        None if ratio(s.oversized, s.data_frames).is_some_and(|r| r >= 0.5) => GroState::Coalesced,
        None => GroState::NotJudged,
    };
    GroVerdict {
        verdict,
        merge_rate,
        blocker: (verdict == GroState::Blocked).then_some(blocker).flatten(),
    }
}

/// The blocker with the highest count over `dirs`.
fn top_blocker<'a>(dirs: impl Iterator<Item = &'a DirReport>) -> Option<String> {
    let mut counts: std::collections::BTreeMap<&str, u64> = Default::default();
    for d in dirs {
        if let Some(o) = &d.offload {
            for (b, n) in &o.gro.blockers {
                *counts.entry(b).or_default() += n;
            }
        }
    }
    counts
        .into_iter()
        .max_by_key(|(b, n)| (*n, std::cmp::Reverse(*b)))
        .map(|(b, _)| b.to_string())
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

fn dirs(r: &Report) -> impl Iterator<Item = &DirReport> {
    r.flows.iter().flat_map(|f| [&f.c2s, &f.s2c])
}

pub(super) fn capture_metrics(r: &Report) -> (Vec<Option<f64>>, GroVerdict) {
    let mut s = Sums::default();
    dirs(r).for_each(|d| s.add(d));
    let dur = r.capture.duration_s.filter(|d| *d > 0.0);
    let per_s = |bytes: u64| dur.map(|d| bytes as f64 * 8.0 / d);
    let rtt = median(
        dirs(r)
            .filter_map(|d| d.tcp.as_ref()?.rtt.as_ref().map(|x| x.median_ms))
            .collect(),
    );
    let gro = gro_verdict(&s, top_blocker(dirs(r)));
    (
        vec![
            r.capture.duration_s,
            Some(r.capture.frames as f64),
            per_s(s.data_bytes),
            per_s(s.new_bytes),
            ratio(s.wire_segments, s.data_frames),
            ratio(s.oversized, s.data_frames),
            ratio(s.mergeable, s.judged),
            ratio(s.retransmissions, s.seq_segments),
            rtt,
            Some(s.zero_window_s),
        ],
        gro,
    )
}

/// The metrics of a capture, in `capture_metrics` order; a flow's are the same from the third
/// on ([`FLOW_METRICS`]).
pub(super) const CAPTURE_METRICS: [(MetricName, Unit); 10] = [
    (MetricName::Duration, Unit::Seconds),
    (MetricName::Frames, Unit::Number),
    (MetricName::Throughput, Unit::BitsPerSecond),
    (MetricName::Goodput, Unit::BitsPerSecond),
    (MetricName::SegmentsPerFrame, Unit::Number),
    (MetricName::OversizedShare, Unit::Share),
    (MetricName::GroMergeRate, Unit::Share),
    (MetricName::RetransmissionRate, Unit::Share),
    (MetricName::RttMedian, Unit::Milliseconds),
    (MetricName::ZeroWindowTime, Unit::Seconds),
];

/// The metrics of a flow, in `flow_metrics` order.
pub(super) const FLOW_METRICS: &[(MetricName, Unit)] = CAPTURE_METRICS.split_at(2).1;

/// The metrics of one flow's direction `d`, and its GRO verdict.
pub(super) fn flow_metrics(f: &FlowReport, d: Direction) -> (Vec<Option<f64>>, Option<GroVerdict>) {
    let d = f.dir(d);
    let mut s = Sums::default();
    s.add(d);
    let t = d.tcp.as_ref();
    let zero_window = f
        .c2s
        .tcp
        .as_ref()
        .map(|c| c.zero_window_time_s)
        .unwrap_or(0.0)
        + f.s2c
            .tcp
            .as_ref()
            .map(|c| c.zero_window_time_s)
            .unwrap_or(0.0);
    // UDP and other flows: bytes over the flow's duration.
    let throughput = t.and_then(|t| t.throughput_bps).or_else(|| {
        (t.is_none() && f.duration_s > 0.0).then(|| d.bytes as f64 * 8.0 / f.duration_s)
    });
    let gro = d
        .offload
        .as_ref()
        .map(|_| gro_verdict(&s, top_blocker(std::iter::once(d))));
    (
        vec![
            throughput,
            t.and_then(|t| t.goodput_bps),
            ratio(s.wire_segments, s.data_frames),
            ratio(s.oversized, s.data_frames),
            ratio(s.mergeable, s.judged),
            t.map(|t| t.retransmission_rate),
            t.and_then(|t| t.rtt.as_ref().map(|r| r.median_ms)),
            t.map(|_| zero_window),
        ],
        gro,
    )
}

pub(super) fn metrics(
    names: &[(MetricName, Unit)],
    b: &[Option<f64>],
    a: &[Option<f64>],
) -> Vec<Metric> {
    names
        .iter()
        .zip(b.iter().zip(a))
        .map(|(&(n, u), (&b, &a))| Metric::new(n, u, b, a))
        .collect()
}
