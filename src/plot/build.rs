//! From a flow's trace and measurements to the `Chart` of each graph kind, thinned to the pixel
//! grid. What is drawn follows tcptrace's time-sequence graph (tcptrace's `plotter.c`, and the
//! manual's "Time Sequence Graph" section): segments as bars, ACK line, window line, SACK blocks,
//! `R`/`O`/`Z`/`P` marks, PSH diamonds.

use crate::analysis::jain_index;
use crate::decode::tcp_flags;
use crate::flow::Flow;
use crate::tcp::events::Events;
use crate::tcp::trace::{SegPoint, Trace};
use crate::tcp::TcpConn;
use crate::units;

use super::chart::{palette, Axis, Chart, PlotKind, Point, Rgb, Series, Style, Unit};
use super::thin::{self, Grid};

/// Where the graphs go: the capture's first timestamp (x = 0) and the pixel grid.
#[derive(Debug, Clone, Copy)]
pub struct Canvas {
    pub t0_ns: i64,
    /// The analysis interval (`--interval`): the bin width of rate graphs when it suits the span.
    pub interval_ns: i64,
    pub cols: usize,
    pub rows: usize,
}

impl Canvas {
    fn secs(&self, t_ns: i64) -> f64 {
        t_ns.saturating_sub(self.t0_ns) as f64 / 1e9
    }

    fn grid(&self, x: &Axis, y: &Axis) -> Grid {
        Grid {
            x0: x.min,
            x1: x.max,
            cols: self.cols,
            y0: y.min,
            y1: y.max,
            rows: self.rows,
        }
    }
}

/// The graphs of `kind` for one flow: one per direction that sent data, or one for the flow.
pub fn flow_charts(kind: PlotKind, f: &Flow, cv: &Canvas) -> Vec<Chart> {
    let Some(conn) = f.tcp.as_deref() else {
        return Vec::new();
    };
    if kind == PlotKind::Throughput {
        return throughput(f, conn, cv).into_iter().collect();
    }
    [f.client, 1 - f.client]
        .into_iter()
        .filter(|&side| conn.dirs[side].data_segments > 0)
        .filter_map(|side| {
            let d = Dir {
                f,
                conn,
                side,
                trace: &conn.traces[side],
            };
            match kind {
                PlotKind::TimeSequence => time_sequence(&d, cv),
                PlotKind::Rtt => rtt(&d, cv),
                PlotKind::Inflight => inflight(&d, cv),
                PlotKind::SegmentSize => segment_size(&d, cv),
                PlotKind::IpId => ip_id(&d, cv),
                PlotKind::Throughput | PlotKind::Flows => None,
            }
        })
        .collect()
}

/// One direction of a TCP flow: what `side` sent.
struct Dir<'a> {
    f: &'a Flow,
    conn: &'a TcpConn,
    side: usize,
    trace: &'a Trace,
}

impl Dir<'_> {
    fn name(&self) -> &'static str {
        direction(self.f, self.side)
    }

    /// `flow 3 c2s: 10.0.0.1:40000 → 10.0.0.2:5001 (VXLAN VNI 42)`
    fn describe(&self) -> String {
        let (from, to) = (self.f.key.ends[self.side], self.f.key.ends[1 - self.side]);
        format!(
            "flow {} {}: {from} → {to}{}",
            self.f.id,
            self.name(),
            tunnel(self.f)
        )
    }

    fn chart(&self, kind: PlotKind, what: &str, caption: String, x: Axis, y: Axis) -> Chart {
        Chart {
            kind,
            flow: Some(self.f.id),
            direction: Some(self.name()),
            title: format!("{what}, {}", self.describe()),
            caption,
            x,
            y,
            y2: None,
            series: Vec::new(),
        }
    }

    /// Payload bytes of one full-size wire segment: the unit of "segments per frame".
    fn seg_size(&self) -> u32 {
        self.f
            .gro
            .as_ref()
            .map(|g| g.dirs[self.side].seg_size)
            .filter(|&s| s > 0)
            .or(self.conn.options[1 - self.side].mss.map(u32::from))
            .unwrap_or(1460)
            .max(1)
    }

    /// Data segments as (time, payload bytes).
    fn payloads(&self) -> impl Iterator<Item = (&SegPoint, i64)> {
        self.trace.segments().iter().filter_map(|s| {
            let syn_fin = s.tcp_flags & (tcp_flags::SYN | tcp_flags::FIN) != 0;
            let len = s.end - s.start - i64::from(syn_fin);
            (len > 0).then_some((s, len))
        })
    }
}

fn direction(f: &Flow, side: usize) -> &'static str {
    if side == f.client {
        "c2s"
    } else {
        "s2c"
    }
}

fn tunnel(f: &Flow) -> String {
    f.key.tunnel.map_or(String::new(), |t| {
        format!(" ({} VNI {})", t.kind.as_str().to_uppercase(), t.vni)
    })
}

fn x_axis(xs: impl Iterator<Item = f64>) -> Axis {
    let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    if !lo.is_finite() {
        return Axis::new(
            "time since the capture's first frame",
            Unit::Seconds,
            0.0,
            1.0,
        );
    }
    // A little room either side so the first and last marks are not on the frame.
    let pad = ((hi - lo) * 0.02).max(1e-6);
    Axis::new(
        "time since the capture's first frame",
        Unit::Seconds,
        lo - pad,
        hi + pad,
    )
}

/// Letters and colours of the marked segments, as tcptrace draws them.
const SEGMENT_MARKS: [(Events, char, &str, Rgb); 4] = [
    (
        Events::ANY_RETRANSMISSION,
        'R',
        "retransmission",
        palette::RETRANSMISSION,
    ),
    (
        Events::OUT_OF_ORDER,
        'O',
        "out of order",
        palette::OUT_OF_ORDER,
    ),
    (
        Events::ZERO_WINDOW_PROBE,
        'P',
        "zero-window probe",
        palette::ZERO_WINDOW,
    ),
    (Events::KEEP_ALIVE, 'K', "keep-alive", palette::SECOND),
];

fn time_sequence(d: &Dir<'_>, cv: &Canvas) -> Option<Chart> {
    let segs = d.trace.segments();
    let acks = d.trace.acks();
    if segs.is_empty() {
        return None;
    }
    let x = x_axis(
        segs.iter()
            .map(|s| s.t_ns)
            .chain(acks.iter().map(|a| a.t_ns))
            .map(|t| cv.secs(t)),
    );
    let (lo, hi) = segs
        .iter()
        .flat_map(|s| [s.start, s.end])
        .chain(acks.iter().flat_map(|a| [a.ack, a.window_edge]))
        .fold((i64::MAX, i64::MIN), |(lo, hi), v| (lo.min(v), hi.max(v)));
    let span = (hi - lo).max(1) as f64;
    let y = Axis::new(
        "relative sequence number",
        Unit::Bytes,
        lo as f64 - span * 0.02,
        hi as f64 + span * 0.02,
    );
    let seg_size = d.seg_size();
    let sizes: Vec<Point> = d
        .payloads()
        .map(|(s, len)| Point::at(cv.secs(s.t_ns), len as f64 / f64::from(seg_size)))
        .collect();
    let max_size = sizes.iter().map(|p| p.y).fold(1.0f64, f64::max);
    // Head room so that one-MSS frames sit low and super-frames stand out.
    let y2 = Axis::new(
        "frame size",
        Unit::Segments,
        0.0,
        (max_size * 1.25).max(4.0).ceil(),
    );
    let grid = cv.grid(&x, &y);
    let grid2 = cv.grid(&x, &y2);

    let marked = |s: &SegPoint| SEGMENT_MARKS.iter().any(|m| s.events.any(m.0));
    let plain: Vec<Point> = segs
        .iter()
        .filter(|s| !marked(s))
        .map(|s| Point::bar(cv.secs(s.t_ns), s.start as f64, s.end as f64))
        .collect();
    let mut counts = Vec::new();
    let mut series = vec![Series::new(
        "data segment",
        Style::Bar,
        palette::DATA,
        thin::bars(&plain, &grid),
    )];
    let mut assigned = Events::default();
    for (ev, letter, name, color) in SEGMENT_MARKS {
        // A segment with several flags is drawn once, under the first mark that applies.
        let pts: Vec<Point> = segs
            .iter()
            .filter(|s| s.events.any(ev) && !s.events.any(assigned))
            .map(|s| Point::bar(cv.secs(s.t_ns), s.start as f64, s.end as f64))
            .collect();
        assigned = assigned | ev;
        if pts.is_empty() {
            continue;
        }
        counts.push(format!("{name}: {}", units::thousands(pts.len() as u64)));
        let pts = thin::cells(&pts, &grid);
        let labels = pts.iter().map(|p| Point::at(p.x, p.top)).collect();
        series.push(Series::new(name, Style::Bar, color, pts));
        series.push(Series::new(name, Style::Label(letter), color, labels));
    }
    let psh: Vec<Point> = segs
        .iter()
        .filter(|s| s.tcp_flags & tcp_flags::PSH != 0)
        .map(|s| Point::at(cv.secs(s.t_ns), s.end as f64))
        .collect();
    let ack: Vec<Point> = acks
        .iter()
        .map(|a| Point::at(cv.secs(a.t_ns), a.ack as f64))
        .collect();
    let window: Vec<Point> = acks
        .iter()
        .map(|a| Point::at(cv.secs(a.t_ns), a.window_edge as f64))
        .collect();
    let zero: Vec<Point> = acks
        .iter()
        .filter(|a| a.events.any(Events::ZERO_WINDOW))
        .map(|a| Point::at(cv.secs(a.t_ns), a.ack as f64))
        .collect();
    let sacks: Vec<Point> = d
        .trace
        .sacks()
        .iter()
        .map(|s| Point::bar(cv.secs(s.t_ns), s.left as f64, s.right as f64))
        .collect();
    if !zero.is_empty() {
        counts.push(format!(
            "zero window: {}",
            units::thousands(zero.len() as u64)
        ));
    }
    for (name, style, color, pts) in [
        (
            "PSH",
            Style::Diamond,
            palette::PSH,
            thin::cells(&psh, &grid),
        ),
        ("ACK", Style::Step, palette::ACK, thin::m4(&ack, &grid)),
        (
            "receive window",
            Style::Step,
            palette::WINDOW,
            thin::m4(&window, &grid),
        ),
        (
            "SACK",
            Style::Bar,
            palette::SACK,
            thin::cells(&sacks, &grid),
        ),
        (
            "zero window",
            Style::Label('Z'),
            palette::ZERO_WINDOW,
            thin::cells(&zero, &grid),
        ),
    ] {
        if !pts.is_empty() {
            series.push(Series::new(name, style, color, pts));
        }
    }
    series.push(
        Series::new(
            "frame size (right axis)",
            Style::Dot,
            palette::SIZE,
            thin::cells(&sizes, &grid2),
        )
        .on_second_axis(),
    );
    let caption = format!(
        "{} segments{}{}; frame size in MSS units on the right (1 MSS = {seg_size} bytes)",
        units::thousands(segs.len() as u64),
        if counts.is_empty() { "" } else { ", " },
        counts.join(", "),
    );
    let mut c = d.chart(PlotKind::TimeSequence, "Time-sequence", caption, x, y);
    c.y2 = Some(y2);
    c.series = series;
    Some(c)
}

/// Most bins a rate graph computes (before thinning): bounds memory for any timestamps.
const MAX_RATE_BINS: i64 = 100_000;
/// Fewest bins a rate graph should show: below this the configured interval gives way to one of
/// a hundredth of the span, so a 50 ms transfer is not a single 100 ms bar.
const MIN_RATE_BINS: i64 = 20;

/// The bin width for a span of `span_ns`: the configured interval when it gives a readable
/// number of bins, else a 1-2-5 step near a hundredth of the span.
fn rate_interval(configured_ns: i64, span_ns: i64) -> i64 {
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
fn rate_bins(d: &Dir<'_>, start_ns: i64, step_ns: i64) -> Vec<(u64, u64)> {
    let mut bins: Vec<(u64, u64)> = Vec::new();
    let mut highest = i64::MIN;
    for (s, len) in d.payloads() {
        let i = (s.t_ns.saturating_sub(start_ns).max(0) / step_ns.max(1)) as usize;
        let new = (s.end - s.start.max(highest)).clamp(0, len);
        highest = highest.max(s.end);
        if i >= MAX_RATE_BINS as usize {
            continue;
        }
        if bins.len() <= i {
            bins.resize(i + 1, (0, 0));
        }
        if let Some(b) = bins.get_mut(i) {
            b.0 += len as u64;
            b.1 += new as u64;
        }
    }
    bins
}

/// First and last data segment times of a direction.
fn data_span(d: &Dir<'_>) -> Option<(i64, i64)> {
    let mut it = d.payloads().map(|(s, _)| s.t_ns);
    let first = it.next()?;
    Some(it.fold((first, first), |(lo, hi), t| (lo.min(t), hi.max(t))))
}

/// The bins shared by the rate graphs of `dirs`: from their first data segment, at
/// [`rate_interval`] over their span; `None` without data.
fn rate_grid(dirs: &[Dir<'_>], cv: &Canvas) -> Option<(i64, i64)> {
    let spans: Vec<(i64, i64)> = dirs.iter().filter_map(data_span).collect();
    let start = spans.iter().map(|s| s.0).min()?;
    let end = spans.iter().map(|s| s.1).max()?;
    Some((
        start,
        rate_interval(cv.interval_ns, end.saturating_sub(start)),
    ))
}

/// Fits the axes of a rate graph to its series, then thins the lines to the pixel grid.
fn fit_rates(label: &str, series: &mut [Series], cv: &Canvas) -> (Axis, Axis) {
    let x = x_axis(series.iter().flat_map(|s| s.points.iter().map(|p| p.x)));
    let y = Axis::fitting(
        label,
        Unit::BitsPerSecond,
        series.iter().flat_map(|s| s.points.iter().map(|p| &p.y)),
    );
    let grid = cv.grid(&x, &y);
    for s in series.iter_mut() {
        s.points = thin::m4(&s.points, &grid);
    }
    (x, y)
}

/// A rate step line: bin i holds from start + i·step to its end.
fn rate_line(bins: &[(u64, u64)], pick: fn(&(u64, u64)) -> u64, x0: f64, step: f64) -> Vec<Point> {
    let rate = |b: u64| b as f64 * 8.0 / step;
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

/// Segments per frame, from 0 to a little above `max` (at least 2, so 1 is mid-height).
fn segments_axis(max: f64) -> Axis {
    Axis::new(
        "segments per frame",
        Unit::Segments,
        0.0,
        (max * 1.1).max(2.0),
    )
}

/// The time axis of overlays: each capture's flow starts at 0.
const SINCE_FLOW_START: &str = "time since the flow's first data segment";

/// One side of an A/B overlay (`compare --plots`): what `side` of `flow` sent, labelled.
pub struct Side<'a> {
    pub label: &'static str,
    pub flow: &'a Flow,
    pub side: usize,
}

/// Throughput and segments per frame of two flow directions (before and after a change) on
/// shared axes, each in seconds from its own first data segment, binned alike. Empty when either
/// side sent no TCP data.
pub fn overlay_charts(sides: [Side<'_>; 2], cv: &Canvas) -> Vec<Chart> {
    let dirs: Vec<Dir<'_>> = sides
        .iter()
        .filter_map(|s| {
            let conn = s.flow.tcp.as_deref()?;
            Some(Dir {
                f: s.flow,
                conn,
                side: s.side,
                trace: &conn.traces[s.side],
            })
        })
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
    let step = step_ns as f64 / 1e9;
    let mut rates = Vec::new();
    let mut sizes = Vec::new();
    let mut notes = Vec::new();
    for ((d, s), (start, end)) in dirs.iter().zip(&sides).zip(&spans) {
        let color = if s.label == "before" {
            palette::FLOWS[0]
        } else {
            palette::FLOWS[1]
        };
        let bins = rate_bins(d, *start, step_ns);
        let bytes: u64 = bins.iter().map(|b| b.0).sum();
        let secs = (end.saturating_sub(*start) as f64 / 1e9).max(step);
        rates.push(Series::new(
            &format!("{} throughput (flow {} {})", s.label, d.f.id, d.name()),
            Style::Step,
            color,
            rate_line(&bins, |b| b.0, 0.0, step),
        ));
        rates.push(Series::new(
            &format!("{} average", s.label),
            Style::Line,
            color,
            vec![
                Point::at(0.0, bytes as f64 * 8.0 / secs),
                Point::at(secs, bytes as f64 * 8.0 / secs),
            ],
        ));
        // Mean wire segments per frame in each bin that had data.
        let seg = f64::from(d.seg_size());
        let mut per_bin: Vec<(u64, f64)> = Vec::new();
        for (p, len) in d.payloads() {
            let i = (p.t_ns.saturating_sub(*start) / step_ns.max(1)) as usize;
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
        let (frames, segments) = per_bin
            .iter()
            .fold((0u64, 0.0), |(f, g), b| (f + b.0, g + b.1));
        notes.push(format!(
            "{}: {:.2} segments per frame, {}",
            s.label,
            segments / (frames.max(1) as f64),
            units::rate(bytes as f64 * 8.0 / secs)
        ));
        sizes.push(Series::new(
            &format!(
                "{} segments per frame (flow {} {})",
                s.label,
                d.f.id,
                d.name()
            ),
            Style::Line,
            color,
            per_bin
                .iter()
                .enumerate()
                .filter(|(_, b)| b.0 > 0)
                .map(|(i, b)| Point::at((i as f64 + 0.5) * step, b.1 / b.0 as f64))
                .collect(),
        ));
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
        units::duration(step),
        notes.join("; ")
    );
    let (mut x, y) = fit_rates("throughput", &mut rates, cv);
    x.label = SINCE_FLOW_START.into();
    let rate_chart = Chart {
        kind: PlotKind::Throughput,
        flow: Some(b.f.id),
        direction: Some(b.name()),
        title: format!("Throughput, {what}"),
        caption: caption.clone(),
        x,
        y,
        y2: None,
        series: rates,
    };
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
    let size_chart = Chart {
        kind: PlotKind::SegmentSize,
        flow: Some(b.f.id),
        direction: Some(b.name()),
        title: format!("Segments per frame, {what}"),
        caption,
        x,
        y,
        y2: None,
        series: sizes,
    };
    vec![rate_chart, size_chart]
}

fn throughput(f: &Flow, conn: &TcpConn, cv: &Canvas) -> Option<Chart> {
    let dirs: Vec<Dir<'_>> = [f.client, 1 - f.client]
        .into_iter()
        .map(|side| Dir {
            f,
            conn,
            side,
            trace: &conn.traces[side],
        })
        .collect();
    let (start, step_ns) = rate_grid(&dirs, cv)?;
    let step = step_ns as f64 / 1e9;
    let mut series = Vec::new();
    let mut averages = Vec::new();
    for (d, colors) in dirs.iter().zip([[0, 5], [1, 4]]) {
        let Some((first, last)) = data_span(d) else {
            continue;
        };
        let dir = d.name();
        let bins = rate_bins(d, start, step_ns);
        let x0 = cv.secs(start);
        let (good, all) = (
            rate_line(&bins, |b| b.1, x0, step),
            rate_line(&bins, |b| b.0, x0, step),
        );
        let (new_bytes, all_bytes) = bins.iter().fold((0, 0), |(n, a), b| (n + b.1, a + b.0));
        // Averages over the data period, at least one bin long.
        let secs = (last.saturating_sub(first) as f64 / 1e9).max(step);
        let avg = |bytes: u64| bytes as f64 * 8.0 / secs;
        let (x1, x2) = (cv.secs(first), cv.secs(first) + secs);
        let [c_good, c_all] = colors.map(|i| palette::FLOWS[i]);
        averages.push(format!(
            "{dir} average goodput {}, throughput {}",
            units::rate(avg(new_bytes)),
            units::rate(avg(all_bytes))
        ));
        // Throughput first, so that goodput, drawn over it, shows where they differ.
        series.push(Series::new(
            &format!("{dir} throughput"),
            Style::Step,
            c_all,
            all,
        ));
        series.push(Series::new(
            &format!("{dir} goodput"),
            Style::Step,
            c_good,
            good,
        ));
        for (what, bytes, color) in [
            ("goodput", new_bytes, c_good),
            ("throughput", all_bytes, c_all),
        ] {
            series.push(Series::new(
                &format!("{dir} average {what}"),
                Style::Line,
                color,
                vec![Point::at(x1, avg(bytes)), Point::at(x2, avg(bytes))],
            ));
        }
    }
    let (x, y) = fit_rates("rate", &mut series, cv);
    Some(Chart {
        kind: PlotKind::Throughput,
        flow: Some(f.id),
        direction: None,
        title: format!(
            "Throughput, flow {}: {} ↔ {}{}",
            f.id,
            f.client(),
            f.server(),
            tunnel(f)
        ),
        caption: format!(
            "per {} interval; goodput counts new bytes only; {}",
            units::duration(step),
            averages.join("; ")
        ),
        x,
        y,
        y2: None,
        series,
    })
}

fn rtt(d: &Dir<'_>, cv: &Canvas) -> Option<Chart> {
    let pts = d.trace.rtts();
    if pts.is_empty() {
        return None;
    }
    let x = x_axis(pts.iter().map(|p| cv.secs(p.t_ns)));
    let y = Axis::fitting(
        "RTT",
        Unit::Duration,
        pts.iter()
            .map(|p| p.rtt_ns as f64 / 1e9)
            .collect::<Vec<_>>()
            .iter(),
    );
    let grid = cv.grid(&x, &y);
    let mut series = Vec::new();
    for (ts, name, color) in [
        (false, "seq/ACK sample", palette::SIZE),
        (true, "TCP timestamps sample", palette::SECOND),
    ] {
        let v: Vec<Point> = pts
            .iter()
            .filter(|p| p.timestamps == ts)
            .map(|p| Point::at(cv.secs(p.t_ns), p.rtt_ns as f64 / 1e9))
            .collect();
        if !v.is_empty() {
            series.push(Series::new(name, Style::Dot, color, thin::cells(&v, &grid)));
        }
    }
    let (samples, _) = d.conn.dirs[d.side].rtt();
    let caption = samples.quantiles().map_or(String::new(), |q| {
        format!(
            "{} samples; median {}, p99 {}, max {} (Karn's rule: no samples from retransmitted data)",
            units::thousands(q.count),
            units::duration(q.median_ns as f64 / 1e9),
            units::duration(q.p99_ns as f64 / 1e9),
            units::duration(q.max_ns as f64 / 1e9),
        )
    });
    let mut c = d.chart(PlotKind::Rtt, "RTT", caption, x, y);
    c.series = series;
    Some(c)
}

fn inflight(d: &Dir<'_>, cv: &Canvas) -> Option<Chart> {
    let pts = d.trace.inflight();
    if pts.is_empty() {
        return None;
    }
    let flight: Vec<Point> = pts
        .iter()
        .map(|p| Point::at(cv.secs(p.t_ns), f64::from(p.bytes)))
        .collect();
    let window: Vec<Point> = d
        .trace
        .acks()
        .iter()
        .map(|a| Point::at(cv.secs(a.t_ns), (a.window_edge - a.ack) as f64))
        .collect();
    let x = x_axis(flight.iter().chain(&window).map(|p| p.x));
    let y = Axis::fitting(
        "bytes",
        Unit::Bytes,
        flight.iter().chain(&window).map(|p| &p.y),
    );
    let grid = cv.grid(&x, &y);
    let m = &d.conn.dirs[d.side];
    let caption = format!(
        "peak {} in flight{}; in flight = highest sequence sent − cumulative ACK − SACKed",
        units::bytes(u64::from(m.inflight_peak)),
        m.inflight_mean().map_or(String::new(), |v| format!(
            ", mean {}",
            units::bytes(v as u64)
        )),
    );
    let mut c = d.chart(PlotKind::Inflight, "Bytes in flight", caption, x, y);
    c.series = vec![
        Series::new(
            "bytes in flight",
            Style::Step,
            palette::SIZE,
            thin::m4(&flight, &grid),
        ),
        Series::new(
            "receive window",
            Style::Step,
            palette::WINDOW,
            thin::m4(&window, &grid),
        ),
    ];
    Some(c)
}

fn segment_size(d: &Dir<'_>, cv: &Canvas) -> Option<Chart> {
    let seg_size = f64::from(d.seg_size());
    let pts: Vec<Point> = d
        .payloads()
        .map(|(s, len)| Point::at(cv.secs(s.t_ns), len as f64 / seg_size))
        .collect();
    if pts.is_empty() {
        return None;
    }
    let x = x_axis(pts.iter().map(|p| p.x));
    let max = pts.iter().map(|p| p.y).fold(1.0f64, f64::max);
    let y = segments_axis(max);
    let grid = cv.grid(&x, &y);
    let (multi, single): (Vec<Point>, Vec<Point>) = pts.iter().partition(|p| p.y > 1.0);
    let mean = pts.iter().map(|p| p.y.ceil()).sum::<f64>() / pts.len() as f64;
    let mut series = vec![Series::new(
        "one segment or less",
        Style::Dot,
        palette::SIZE,
        thin::cells(&single, &grid),
    )];
    if !multi.is_empty() {
        series.push(Series::new(
            "several segments (GRO/LRO-coalesced, or TSO/GSO before segmentation)",
            Style::Dot,
            palette::ZERO_WINDOW,
            thin::cells(&multi, &grid),
        ));
    }
    let at =
        d.f.capture_point()
            .map_or("capture point unknown".to_string(), |c| {
                format!(
                    "captured on the {} ({})",
                    d.f.role(c.side),
                    if c.side == d.side {
                        "sender: above 1 is TSO/GSO"
                    } else {
                        "receiver: above 1 is GRO/LRO"
                    }
                )
            });
    let caption = format!(
        "{} frames, {mean:.2} wire segments per frame on average, max {max:.1}; 1 MSS = {} \
         bytes; {at}",
        units::thousands(pts.len() as u64),
        seg_size
    );
    let mut c = d.chart(PlotKind::SegmentSize, "Segment size", caption, x, y);
    c.series = series;
    Some(c)
}

fn ip_id(d: &Dir<'_>, cv: &Canvas) -> Option<Chart> {
    // Data frames only: what GRO would merge.
    let ids: Vec<(u64, u16, bool, bool)> = d
        .payloads()
        .filter_map(|(s, _)| s.ip_id.map(|i| (s.frame, i.id, i.df, i.outer)))
        .collect();
    let outer = ids.first()?.3;
    let (lo, hi) = ids
        .iter()
        .fold((u64::MAX, 0), |(lo, hi), i| (lo.min(i.0), hi.max(i.0)));
    let pad = ((hi - lo) as f64 * 0.02).max(1.0);
    let x = Axis::new(
        "frame number",
        Unit::Frame,
        lo as f64 - pad,
        hi as f64 + pad,
    );
    // Fitted to the IDs seen, so that steps of a few (101, 105, 107, …) are visible; a random
    // pattern fills the range anyway.
    let (id_lo, id_hi) = ids
        .iter()
        .fold((u16::MAX, 0), |(lo, hi), i| (lo.min(i.1), hi.max(i.1)));
    let id_pad = ((f64::from(id_hi) - f64::from(id_lo)) * 0.05).max(5.0);
    let y = Axis::new(
        "IP ID",
        Unit::Id,
        (f64::from(id_lo) - id_pad).max(0.0),
        (f64::from(id_hi) + id_pad).min(65_535.0),
    );
    let grid = cv.grid(&x, &y);
    let mut series = Vec::new();
    for (df, name, color) in [
        (true, "DF=1", palette::SIZE),
        (false, "DF=0", palette::RETRANSMISSION),
    ] {
        let v: Vec<Point> = ids
            .iter()
            .filter(|i| i.2 == df)
            .map(|i| Point::at(i.0 as f64, f64::from(i.1)))
            .collect();
        if !v.is_empty() {
            series.push(Series::new(name, Style::Dot, color, thin::cells(&v, &grid)));
        }
    }
    // The step from the previous data frame's ID, on the right axis: +1 (or 0) is what GRO
    // merges, anything else is visible as a dot off that line.
    // Steps beyond STEP_VIEW are drawn on its edge: the axis stays readable at the scale where
    // +1, 0 and small jumps differ, and a wrap or a random ID still shows as an outlier.
    const STEP_VIEW: (f64, f64) = (-8.0, 16.0);
    let steps: Vec<Point> = ids
        .windows(2)
        .map(|w| {
            let step = f64::from(w[1].1.wrapping_sub(w[0].1) as i16);
            Point::at(w[1].0 as f64, step.clamp(STEP_VIEW.0, STEP_VIEW.1))
        })
        .collect();
    let (s_lo, s_hi) = steps
        .iter()
        .fold((0.0f64, 1.0f64), |(lo, hi), p| (lo.min(p.y), hi.max(p.y)));
    let y2 = Axis::new(
        "ID step from the previous frame",
        Unit::Id,
        s_lo - 1.0,
        s_hi + 1.0,
    );
    if !steps.is_empty() {
        let grid2 = cv.grid(&x, &y2);
        series.push(
            Series::new(
                "ID step (right axis)",
                Style::Dot,
                palette::SECOND,
                thin::cells(&steps, &grid2),
            )
            .on_second_axis(),
        );
    }
    let df0 = ids.iter().filter(|i| !i.2).count();
    let plus_one = steps.iter().filter(|p| p.y == 1.0).count();
    let layer = if outer { "Outer IPv4 ID" } else { "IPv4 ID" };
    let caption = format!(
        "{} data frames, {} with DF=0, {} of {} steps +1 (steps beyond −8…+16 on the edge); \
         Linux GRO merges only IDs that stay fixed or increase by one",
        units::thousands(ids.len() as u64),
        units::thousands(df0 as u64),
        units::thousands(plus_one as u64),
        units::thousands(steps.len() as u64),
    );
    let mut c = d.chart(PlotKind::IpId, layer, caption, x, y);
    c.y2 = Some(y2);
    c.series = series;
    Some(c)
}

/// The goodput of each flow's main data direction on one graph, with Jain's fairness index of
/// their average goodputs.
pub fn flows_chart(flows: &[&Flow], cv: &Canvas) -> Option<Chart> {
    // Each flow's direction that carried the most new data.
    let dirs: Vec<Dir<'_>> = flows
        .iter()
        .filter_map(|f| {
            let conn = f.tcp.as_deref()?;
            let side = if conn.dirs[0].new_bytes >= conn.dirs[1].new_bytes {
                0
            } else {
                1
            };
            Some(Dir {
                f,
                conn,
                side,
                trace: &conn.traces[side],
            })
        })
        .filter(|d| data_span(d).is_some())
        .collect();
    if dirs.len() < 2 {
        return None;
    }
    let (start, step_ns) = rate_grid(&dirs, cv)?;
    let step = step_ns as f64 / 1e9;
    let mut series = Vec::new();
    let mut averages = Vec::new();
    for (i, d) in dirs.iter().enumerate() {
        let Some((first, last)) = data_span(d) else {
            continue;
        };
        let bins = rate_bins(d, start, step_ns);
        let new_bytes: u64 = bins.iter().map(|b| b.1).sum();
        let secs = (last.saturating_sub(first) as f64 / 1e9).max(step);
        averages.push(new_bytes as f64 * 8.0 / secs);
        series.push(Series::new(
            &format!("flow {} {}", d.f.id, d.name()),
            Style::Step,
            palette::FLOWS[i % palette::FLOWS.len()],
            rate_line(&bins, |b| b.1, cv.secs(start), step),
        ));
    }
    let (x, y) = fit_rates("goodput", &mut series, cv);
    Some(Chart {
        kind: PlotKind::Flows,
        flow: None,
        direction: None,
        title: format!("Goodput of {} flows", series.len()),
        caption: format!(
            "per {} interval; Jain's fairness index of their average goodputs {:.2} (1 = equal \
             shares, 1/n = one flow takes all)",
            units::duration(step),
            jain_index(&averages)
        ),
        x,
        y,
        y2: None,
        series,
    })
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
