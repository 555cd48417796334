//! A/B overlays (`compare --plots`): one flow direction from each of two captures on shared axes,
//! each timed from its own first data segment and binned alike: throughput, and segments per
//! frame.

use super::chart::{palette, Chart, PlotKind, Point, Rgb, Series, Style};
use super::dir::{segments_axis, x_axis, Canvas, Dir};
use super::rates::{data_span, fit_rates, rate_bins, rate_interval, rate_line, MAX_RATE_BINS};
use super::thin;
use crate::flow::{Flow, Side};
use crate::units;

/// The time axis of overlays: each capture's flow starts at 0.
const SINCE_FLOW_START: &str = "time since the flow's first data segment";

/// One side of an A/B overlay: what `side` of `flow` sent, labelled.
pub struct OverlaySide<'a> {
    pub label: &'static str,
    pub flow: &'a Flow,
    pub side: Side,
}

/// The series one side contributes, and its note for the caption.
struct Drawn {
    rates: [Series; 2],
    sizes: Series,
    note: String,
}

/// Throughput and segments per frame of two flow directions (before and after a change) on
/// shared axes, each in seconds from its own first data segment, binned alike. Empty when either
/// side sent no TCP data.
pub fn overlay_charts(sides: [OverlaySide<'_>; 2], cv: &Canvas) -> Vec<Chart> {
    let dirs: Vec<Dir<'_>> = sides
        .iter()
        .filter_map(|s| Dir::of(s.flow, s.side))
        .collect();
    let spans: Vec<(i64, i64)> = dirs.iter().filter_map(data_span).collect();
    if dirs.len() != 2 || spans.len() != 2 {
        return Vec::new();
    }
    let longest = spans
        .iter()
        .map(|(a, b)| b.saturating_sub(*a))
        .max()
        .unwrap_or(0);
    let step_ns = rate_interval(cv.interval_ns, longest);
    let (mut rates, mut sizes, mut notes) = (Vec::new(), Vec::new(), Vec::new());
    // BEFORE in the first flow colour, AFTER in the second.
    for (((d, s), span), color) in dirs.iter().zip(&sides).zip(&spans).zip(palette::FLOWS) {
        let drawn = draw(d, s.label, *span, step_ns, color);
        rates.extend(drawn.rates);
        sizes.push(drawn.sizes);
        notes.push(drawn.note);
    }
    let [b, a] = [&dirs[0], &dirs[1]];
    let what = format!(
        "before: flow {} {}, after: flow {} {}",
        b.f.id,
        b.name(),
        a.f.id,
        a.name()
    );
    let caption = format!(
        "seconds from each flow's first data segment, per {} interval; {}",
        units::duration(step_ns as f64 / 1e9),
        notes.join("; ")
    );
    let (mut x, y) = fit_rates("throughput", &mut rates, cv);
    x.label = SINCE_FLOW_START.into();
    let rate_chart = Chart {
        kind: PlotKind::Throughput,
        flow: Some(b.f.id),
        direction: Some(b.direction()),
        title: format!("Throughput, {what}"),
        caption: caption.clone(),
        x,
        y,
        y2: None,
        series: rates,
    };
    let mut size_chart = sizes_chart(sizes, cv);
    size_chart.flow = Some(b.f.id);
    size_chart.direction = Some(b.direction());
    size_chart.title = format!("Segments per frame, {what}");
    size_chart.caption = caption;
    vec![rate_chart, size_chart]
}

/// One side's throughput line, its average, and its mean segments per frame per bin.
fn draw(d: &Dir<'_>, label: &str, (start, end): (i64, i64), step_ns: i64, color: Rgb) -> Drawn {
    let step = step_ns as f64 / 1e9;
    let bins = rate_bins(d, start, step_ns);
    let bytes: u64 = bins.iter().map(|b| b.0).sum();
    let secs = (end.saturating_sub(start) as f64 / 1e9).max(step);
    let avg = bytes as f64 * 8.0 / secs;
    let rates = [
        Series::new(
            &format!("{label} throughput (flow {} {})", d.f.id, d.name()),
            Style::Step,
            color,
            rate_line(&bins, |b| b.0, 0.0, step),
        ),
        Series::new(
            &format!("{label} average"),
            Style::Line,
            color,
            vec![Point::at(0.0, avg), Point::at(secs, avg)],
        ),
    ];
    let per_bin = segments_per_bin(d, start, step_ns);
    let (frames, segments) = per_bin
        .iter()
        .fold((0u64, 0.0), |(f, g), b| (f + b.0, g + b.1));
    let note = format!(
        "{label}: {:.2} segments per frame, {}",
        segments / (frames.max(1) as f64),
        units::rate(avg)
    );
    let sizes = Series::new(
        &format!("{label} segments per frame (flow {} {})", d.f.id, d.name()),
        Style::Line,
        color,
        per_bin
            .iter()
            .enumerate()
            .filter(|(_, b)| b.0 > 0)
            .map(|(i, b)| Point::at((i as f64 + 0.5) * step, b.1 / b.0 as f64))
            .collect(),
    );
    Drawn { rates, sizes, note }
}

/// (data frames, wire segments) per bin from `start`.
fn segments_per_bin(d: &Dir<'_>, start: i64, step_ns: i64) -> Vec<(u64, f64)> {
    let seg = f64::from(d.seg_size());
    let mut per_bin: Vec<(u64, f64)> = Vec::new();
    for (p, len) in d.payloads() {
        let i = (p.t_ns.saturating_sub(start) / step_ns.max(1)) as usize;
        if i >= MAX_RATE_BINS as usize {
            continue;
        }
        if per_bin.len() <= i {
            per_bin.resize(i + 1, (0, 0.0));
        }
        if let Some(b) = per_bin.get_mut(i) {
            b.0 += 1;
            b.1 += (len as f64 / seg).ceil();
        }
    }
    per_bin
}

/// The segments-per-frame chart of both sides, its axes fitted and its lines thinned.
fn sizes_chart(mut sizes: Vec<Series>, cv: &Canvas) -> Chart {
    let mut x = x_axis(sizes.iter().flat_map(|s| s.points.iter().map(|p| p.x)));
    x.label = SINCE_FLOW_START.into();
    let max = sizes
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.y))
        .fold(1.0f64, f64::max);
    let y = segments_axis(max);
    let grid = cv.grid(&x, &y);
    for s in sizes.iter_mut() {
        s.points = thin::m4(&s.points, &grid);
    }
    Chart {
        kind: PlotKind::SegmentSize,
        flow: None,
        direction: None,
        title: String::new(),
        caption: String::new(),
        x,
        y,
        y2: None,
        series: sizes,
    }
}
