//! Rate graphs' shared arithmetic: bin widths that suit a span, payload per bin (all bytes and
//! new bytes, for throughput and goodput), and axes fitted to the lines.

use super::chart::{Axis, Point, Series, Unit};
use super::dir::{x_axis, Canvas, Dir};
use super::thin;

/// Most bins a rate graph computes (before thinning): bounds memory for any timestamps.
pub const MAX_RATE_BINS: i64 = 100_000;
/// Fewest bins a rate graph should show: below this the configured interval gives way to one of
/// a hundredth of the span, so a 50 ms transfer is not a single 100 ms bar.
const MIN_RATE_BINS: i64 = 20;

/// The bin width for a span of `span_ns`: the configured interval when it gives a readable
/// number of bins, else a 1-2-5 step near a hundredth of the span.
pub fn rate_interval(configured_ns: i64, span_ns: i64) -> i64 {
    let span = span_ns.max(1);
    let bins = span / configured_ns.max(1);
    if (MIN_RATE_BINS..=MAX_RATE_BINS).contains(&bins) {
        return configured_ns.max(1);
    }
    let want = (span / 100).max(1_000);
    let mut nice = 1_000i64;
    'outer: while nice < i64::MAX / 10 {
        for m in [1, 2, 5] {
            if nice.saturating_mul(m) >= want {
                nice = nice.saturating_mul(m);
                break 'outer;
            }
        }
        nice = nice.saturating_mul(10);
    }
    nice.max(span / MAX_RATE_BINS + 1)
}

/// A direction's payload per bin from its full trace: (all bytes, new bytes), where new bytes lie
/// beyond the highest sequence number sent before (goodput), from `start_ns` in `step_ns` bins.
pub fn rate_bins(d: &Dir<'_>, start_ns: i64, step_ns: i64) -> Vec<(u64, u64)> {
    let mut highest = i64::MIN;
    let items = d.payloads().map(|(s, len)| {
        let new = (s.end - s.start.max(highest)).clamp(0, len);
        highest = highest.max(s.end);
        (s.t_ns, len as u64, new as u64)
    });
    sum_bins(items, start_ns, step_ns)
}

/// Two sums per bin of `(time, a, b)` items, from `start_ns` in `step_ns` bins; items beyond
/// [`MAX_RATE_BINS`] bins are left out.
pub fn sum_bins(
    items: impl Iterator<Item = (i64, u64, u64)>,
    start_ns: i64,
    step_ns: i64,
) -> Vec<(u64, u64)> {
    let mut bins: Vec<(u64, u64)> = Vec::new();
    for (t_ns, a, b) in items {
        let i = (t_ns.saturating_sub(start_ns).max(0) / step_ns.max(1)) as usize;
        if i >= MAX_RATE_BINS as usize {
            continue;
        }
        if bins.len() <= i {
            bins.resize(i + 1, (0, 0));
        }
        if let Some(bin) = bins.get_mut(i) {
            bin.0 += a;
            bin.1 += b;
        }
    }
    bins
}

/// First and last data segment times of a direction.
pub fn data_span(d: &Dir<'_>) -> Option<(i64, i64)> {
    let mut it = d.payloads().map(|(s, _)| s.t_ns);
    let first = it.next()?;
    Some(it.fold((first, first), |(lo, hi), t| (lo.min(t), hi.max(t))))
}

/// The bins shared by the rate graphs of `dirs`: from their first data segment, at
/// [`rate_interval`] over their span; `None` without data.
pub fn rate_grid(dirs: &[Dir<'_>], cv: &Canvas) -> Option<(i64, i64)> {
    let spans: Vec<(i64, i64)> = dirs.iter().filter_map(data_span).collect();
    let start = spans.iter().map(|s| s.0).min()?;
    let end = spans.iter().map(|s| s.1).max()?;
    Some((
        start,
        rate_interval(cv.interval_ns, end.saturating_sub(start)),
    ))
}

/// Fits the axes of a rate graph to its series, then thins the lines to the pixel grid.
pub fn fit_rates(label: &str, series: &mut [Series], cv: &Canvas) -> (Axis, Axis) {
    let x = x_axis(series.iter().flat_map(|s| s.points.iter().map(|p| p.x)));
    let mut y = Axis::fitting(
        label,
        Unit::BitsPerSecond,
        series.iter().flat_map(|s| s.points.iter().map(|p| &p.y)),
    );
    // Rate lines cross the whole width, so no corner is free of them: room above the data for
    // the legend instead, whose upper corners the renderer then finds empty.
    let mut names: Vec<&str> = series.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    y.max /= 1.0 - legend_share(names.len());
    let grid = cv.grid(&x, &y);
    for s in series.iter_mut() {
        s.points = thin::m4(&s.points, &grid);
    }
    (x, y)
}

/// Share of a plotting area's height a legend of `entries` lines takes: about 4% a line (the
/// renderer's legend font is 0.9 of its base size, a plotting area about 37 base sizes high at
/// 16:9) plus its frame, at most half the area.
pub fn legend_share(entries: usize) -> f64 {
    ((entries as f64 + 1.5) * 0.04).min(0.5)
}

/// A rate step line: bin i holds from start + i·step to its end.
pub fn rate_line(
    bins: &[(u64, u64)],
    pick: fn(&(u64, u64)) -> u64,
    x0: f64,
    step: f64,
) -> Vec<Point> {
    per_second_line(bins, pick, x0, step, 8.0)
}

/// A step line of `scale` × the picked sum per second (8 for bytes as bits, 1 for counts).
pub fn per_second_line(
    bins: &[(u64, u64)],
    pick: fn(&(u64, u64)) -> u64,
    x0: f64,
    step: f64,
    scale: f64,
) -> Vec<Point> {
    let rate = |b: u64| b as f64 * scale / step;
    let mut v: Vec<Point> = bins
        .iter()
        .enumerate()
        .map(|(i, b)| Point::at(x0 + i as f64 * step, rate(pick(b))))
        .collect();
    if let Some(l) = v.last().copied() {
        v.push(Point::at(l.x + step, l.y));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_bins_follow_the_interval_unless_it_hides_the_flow() {
        // 10 s at 100 ms: 100 bins, as configured.
        assert_eq!(rate_interval(100_000_000, 10_000_000_000), 100_000_000);
        // A 50 ms transfer: a hundredth of the span, on a 1-2-5 step.
        assert_eq!(rate_interval(100_000_000, 50_000_000), 500_000);
        assert_eq!(rate_interval(100_000_000, 30_000_000), 500_000);
        assert_eq!(rate_interval(100_000_000, 150_000_000), 2_000_000);
        // Hostile spans stay within the bin budget.
        for span in [0, 1, i64::MAX / 2, i64::MAX] {
            let step = rate_interval(1_000, span);
            assert!(step >= 1 && span / step <= MAX_RATE_BINS, "{span} {step}");
        }
    }
}
