//! The time-sequence graph, as tcptrace draws it (tcptrace's `plotter.c`, and the manual's "Time
//! Sequence Graph" section): segments as bars, ACK line, window line, SACK blocks, `R`/`O`/`Z`/`P`
//! marks, PSH diamonds, and on request (`--frame-sizes`) each frame's size in MSS units on a
//! second axis.

use super::chart::{palette, Axis, Chart, PlotKind, Point, Rgb, Series, Style, Unit};
use super::dir::{x_axis, Canvas, Dir};
use super::thin::{self, Grid};
use crate::decode::tcp_flags;
use crate::tcp::events::Events;
use crate::tcp::trace::SegPoint;
use crate::units;

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

pub fn time_sequence(d: &Dir<'_>, cv: &Canvas) -> Option<Chart> {
    let segs = d.trace.segments();
    if segs.is_empty() {
        return None;
    }
    let (x, y) = axes(d, cv);
    let grid = cv.grid(&x, &y);
    let mut counts = Vec::new();
    let mut series = segment_series(d, cv, &grid, &mut counts);
    series.extend(line_series(d, cv, &grid, &mut counts));
    // The flow's count, not the kept sample's: a long flow's trace is thinned while it is read.
    let seen = d.trace.segments_seen().max(segs.len() as u64);
    let mut notes = vec![format!("{} segments", units::thousands(seen))];
    notes.extend(counts);
    if window_unscaled(d) {
        notes.push(WINDOW_UNSCALED.into());
    }
    // Frame sizes have their own graph (segment-size); on request they join this one.
    let y2 = cv.opts.frame_sizes.then(|| {
        let (axis, sizes, seg_size) = frame_sizes(d, cv, &x);
        series.push(sizes);
        notes.push(format!(
            "frame size in MSS units on the right (1 MSS = {seg_size} bytes)"
        ));
        axis
    });
    let caption = notes.join(", ");
    let mut c = d.chart(PlotKind::TimeSequence, "Time-sequence", caption, x, y);
    c.y2 = y2;
    c.series = series;
    Some(c)
}

/// The receive window's legend entry and caption note when the window scale is unknown.
const WINDOW_UNSCALED: &str = "window (unscaled: no handshake seen)";

/// Whether the receiver's window scale is unknown: without its SYN (RFC 7323 §2.2: the shift is
/// sent only there) the advertised window is drawn as it was sent, maybe 2^14 times too small.
fn window_unscaled(d: &Dir<'_>) -> bool {
    d.conn.window_scale(d.side.other()).is_none()
}

/// Each frame's size in MSS units on a right axis with head room, so that one-MSS frames sit low
/// and super-frames stand out; the series, and the MSS it counts in.
fn frame_sizes(d: &Dir<'_>, cv: &Canvas, x: &Axis) -> (Axis, Series, u32) {
    let seg_size = d.seg_size();
    let sizes: Vec<Point> = d
        .payloads()
        .map(|(s, len)| Point::at(cv.secs(s.t_ns), len as f64 / f64::from(seg_size)))
        .collect();
    let max_size = sizes.iter().map(|p| p.y).fold(1.0f64, f64::max);
    let y2 = Axis::new(
        "frame size",
        Unit::Segments,
        0.0,
        (max_size * 1.25).max(4.0).ceil(),
    );
    let series = Series::new(
        "frame size (right axis)",
        Style::Dot,
        palette::SIZE,
        thin::cells(&sizes, &cv.grid(x, &y2)),
    )
    .on_second_axis();
    (y2, series, seg_size)
}

/// Time over segments and ACKs; relative sequence numbers over segments, ACKs and windows.
fn axes(d: &Dir<'_>, cv: &Canvas) -> (Axis, Axis) {
    let (segs, acks) = (d.trace.segments(), d.trace.acks());
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
    (x, y)
}

/// The segment bars: plain ones, then each mark's with its letter; `counts` gets a note per mark.
fn segment_series(d: &Dir<'_>, cv: &Canvas, grid: &Grid, counts: &mut Vec<String>) -> Vec<Series> {
    let segs = d.trace.segments();
    let bar = |s: &SegPoint| Point::bar(cv.secs(s.t_ns), s.start as f64, s.end as f64);
    let marked = |s: &SegPoint| SEGMENT_MARKS.iter().any(|m| s.events.any(m.0));
    let plain: Vec<Point> = segs.iter().filter(|s| !marked(s)).map(bar).collect();
    let mut series = vec![Series::new(
        "data segment",
        Style::Bar,
        palette::DATA,
        thin::bars(&plain, grid),
    )];
    let mut assigned = Events::default();
    for (ev, letter, name, color) in SEGMENT_MARKS {
        // A segment with several flags is drawn once, under the first mark that applies.
        let pts: Vec<Point> = segs
            .iter()
            .filter(|s| s.events.any(ev) && !s.events.any(assigned))
            .map(bar)
            .collect();
        assigned = assigned | ev;
        if pts.is_empty() {
            continue;
        }
        counts.push(format!("{name}: {}", units::thousands(pts.len() as u64)));
        let pts = thin::cells(&pts, grid);
        let labels = pts.iter().map(|p| Point::at(p.x, p.top)).collect();
        series.push(Series::new(name, Style::Bar, color, pts));
        series.push(Series::new(name, Style::Label(letter), color, labels));
    }
    series
}

/// PSH diamonds, the ACK and window lines, SACK blocks and zero-window marks.
fn line_series(d: &Dir<'_>, cv: &Canvas, grid: &Grid, counts: &mut Vec<String>) -> Vec<Series> {
    let (segs, acks) = (d.trace.segments(), d.trace.acks());
    let psh: Vec<Point> = segs
        .iter()
        .filter(|s| s.tcp_flags & tcp_flags::PSH != 0)
        .map(|s| Point::at(cv.secs(s.t_ns), s.end as f64))
        .collect();
    let at = |t_ns: i64, v: i64| Point::at(cv.secs(t_ns), v as f64);
    let ack: Vec<Point> = acks.iter().map(|a| at(a.t_ns, a.ack)).collect();
    let window: Vec<Point> = acks.iter().map(|a| at(a.t_ns, a.window_edge)).collect();
    let zero: Vec<Point> = acks
        .iter()
        .filter(|a| a.events.any(Events::ZERO_WINDOW))
        .map(|a| at(a.t_ns, a.ack))
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
    [
        ("PSH", Style::Diamond, palette::PSH, thin::cells(&psh, grid)),
        ("ACK", Style::Step, palette::ACK, thin::m4(&ack, grid)),
        (
            if window_unscaled(d) {
                WINDOW_UNSCALED
            } else {
                "receive window"
            },
            Style::Step,
            palette::WINDOW,
            thin::m4(&window, grid),
        ),
        ("SACK", Style::Bar, palette::SACK, thin::cells(&sacks, grid)),
        (
            "zero window",
            Style::Label('Z'),
            palette::ZERO_WINDOW,
            thin::cells(&zero, grid),
        ),
    ]
    .into_iter()
    .filter(|(_, _, _, pts)| !pts.is_empty())
    .map(|(name, style, color, pts)| Series::new(name, style, color, pts))
    .collect()
}
