//! With a key log (`--keylog`): the QUIC time-sequence graph in stream bytes, tcptrace's graph
//! for a QUIC direction: its main stream's STREAM frames as bars from offset to end where the
//! capture saw them (data sent again marked `R`), the highest offset the peer had acknowledged
//! as a step line, the peer's MAX_STREAM_DATA limit above it (tcptrace's window line), and the
//! packets declared lost marked `L` at the data they carried.

use super::chart::{palette, Axis, Chart, PlotKind, Point, Series, Style, Unit};
use super::dir::{x_axis, Canvas};
use super::thin;
use crate::flow::{Flow, Side};
use crate::quic::trace::{SideTrace, StreamPoint};
use crate::units;

/// A limit this far above the data would flatten the graph: it is left off, and the caption
/// gives it instead.
const LIMIT_ABOVE_DATA: f64 = 4.0;

/// The direction's graph in stream bytes, when it carried any.
pub fn stream_chart(f: &Flow, side: Side, cv: &Canvas) -> Option<Chart> {
    let t = f.quic_trace(side)?;
    let stream = main_stream(t)?;
    let points: Vec<StreamPoint> = t
        .streams
        .items()
        .iter()
        .filter(|p| p.stream == stream)
        .copied()
        .collect();
    let top = points.iter().map(|p| p.end).max().unwrap_or(0) as f64;
    let (limits, held) = limit_steps(f, side, (t, stream), &points, top, cv);
    let limit_note = match held {
        Some(l) if limits.is_empty() => {
            format!(
                "; the peer's limit, {}, stands above the graph",
                units::bytes(l)
            )
        }
        _ => String::new(),
    };
    let y_top = limits.iter().map(|p| p.y).fold(top, f64::max);
    let x = x_axis(points.iter().map(|p| cv.secs(p.t_ns)));
    let y = Axis::new(
        &format!("stream {stream} offset"),
        Unit::Bytes,
        0.0,
        (y_top * 1.05).max(1.0),
    );
    let grid = cv.grid(&x, &y);
    let bar = |p: &StreamPoint| Point::bar(cv.secs(p.t_ns), p.offset as f64, p.end as f64);
    let bars = |resent: bool| -> Vec<Point> {
        let pts: Vec<Point> = points
            .iter()
            .filter(|p| p.resent == resent)
            .map(bar)
            .collect();
        thin::bars(&pts, &grid)
    };
    let resent = bars(true);
    let resent_labels: Vec<Point> = resent.iter().map(|p| Point::at(p.x, p.top)).collect();
    let lost = lost_marks(t, &points, cv);
    let lost_count = lost.len();
    let mut series = vec![
        Series::new("stream data", Style::Bar, palette::DATA, bars(false)),
        Series::new(
            "data sent again",
            Style::Bar,
            palette::RETRANSMISSION,
            resent,
        ),
        Series::new(
            "data sent again",
            Style::Label('R'),
            palette::RETRANSMISSION,
            resent_labels,
        ),
        Series::new(
            "highest offset acknowledged by the peer",
            Style::Step,
            palette::ACK,
            thin::m4(&acked_steps(t, &points, cv), &grid),
        ),
        Series::new(
            "peer's limit (MAX_STREAM_DATA)",
            Style::Step,
            palette::WINDOW,
            thin::m4(&limits, &grid),
        ),
        Series::new(
            "lost after the capture point (seen here, never acknowledged)",
            Style::Label('L'),
            palette::RETRANSMISSION,
            thin::cells(&lost, &grid),
        ),
    ];
    series.retain(|s| !s.points.is_empty());
    let d = f.direction(side);
    Some(Chart {
        kind: PlotKind::QuicSequence,
        flow: Some(f.id),
        direction: Some(d),
        title: super::quic_sequence::title(f, side, &format!(", stream {stream}")),
        caption: format!(
            "{} STREAM frames of stream {stream} ({} of its data), {} of them data sent again, \
             {} in packets declared lost{limit_note}; decrypted with the key log ({} other \
             streams not drawn: `quic-packets` draws every packet)",
            units::thousands(points.len() as u64),
            units::bytes(top as u64),
            units::thousands(points.iter().filter(|p| p.resent).count() as u64),
            units::thousands(lost_count as u64),
            other_streams(t, stream),
        ),
        x,
        y,
        y2: None,
        series,
    })
}

/// The stream that carried the most data (the largest offset): a download's response stream,
/// rather than HTTP/3's control streams.
fn main_stream(t: &SideTrace) -> Option<u64> {
    let items = t.streams.items();
    let best = items
        .iter()
        .filter(|p| p.end > 0)
        .max_by_key(|p| (p.end, u64::MAX - p.stream))?;
    Some(best.stream)
}

fn other_streams(t: &SideTrace, main: u64) -> usize {
    let mut ids: Vec<u64> = t
        .streams
        .items()
        .iter()
        .map(|p| p.stream)
        .filter(|&s| s != main)
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids.len()
}

/// The highest offset of the stream in packets the peer had acknowledged, at each ACK that
/// moved it: the largest acknowledged packet number mapped to the data of the packets up to it
/// (QUIC numbers never repeat, so a packet number says which frames it carried).
fn acked_steps(t: &SideTrace, points: &[StreamPoint], cv: &Canvas) -> Vec<Point> {
    let mut by_pn: Vec<(u64, u64)> = points.iter().map(|p| (p.pn, p.end)).collect();
    by_pn.sort_unstable();
    let mut high = 0;
    for e in &mut by_pn {
        high = high.max(e.1);
        e.1 = high;
    }
    let mut out: Vec<Point> = Vec::new();
    let mut last = 0;
    for a in t.acks.items() {
        let upto = by_pn.partition_point(|&(pn, _)| pn <= a.largest);
        let Some(&(_, end)) = upto.checked_sub(1).and_then(|i| by_pn.get(i)) else {
            continue;
        };
        if end > last {
            last = end;
            out.push(Point::at(cv.secs(a.t_ns), end as f64));
        }
    }
    out
}

/// The peer's limit on the stream as a step line: the initial one from its transport
/// parameters at the first STREAM frame, then each MAX_STREAM_DATA, held to the last frame;
/// none when it stood far above the data. Also the last limit, when there was one.
fn limit_steps(
    f: &Flow,
    side: Side,
    (t, stream): (&SideTrace, u64),
    points: &[StreamPoint],
    top: f64,
    cv: &Canvas,
) -> (Vec<Point>, Option<u64>) {
    let (Some(first), Some(last)) = (points.first(), points.last()) else {
        return (Vec::new(), None);
    };
    let initial = f
        .quic
        .as_deref()
        .and_then(|q| q.decryption.as_deref())
        .and_then(|d| d.flow[side].initial_limit(stream));
    let mut out: Vec<Point> = initial
        .map(|l| Point::at(cv.secs(first.t_ns), l as f64))
        .into_iter()
        .collect();
    let mut held = initial.unwrap_or(0);
    for l in t.limits.items().iter().filter(|l| l.stream == Some(stream)) {
        if l.limit > held {
            held = l.limit;
            out.push(Point::at(cv.secs(l.t_ns), l.limit as f64));
        }
    }
    if out.is_empty() {
        return (out, None);
    }
    if held as f64 > top * LIMIT_ABOVE_DATA {
        return (Vec::new(), Some(held));
    }
    out.push(Point::at(cv.secs(last.t_ns), held as f64));
    (out, Some(held))
}

/// An `L` at the top of the data each packet declared lost carried (lost after the capture
/// point: the capture saw what it held), at the time the capture saw it.
fn lost_marks(t: &SideTrace, points: &[StreamPoint], cv: &Canvas) -> Vec<Point> {
    let mut by_pn: Vec<&StreamPoint> = points.iter().collect();
    by_pn.sort_unstable_by_key(|p| p.pn);
    t.lost
        .items()
        .iter()
        .filter(|l| !l.before_capture)
        .flat_map(|l| {
            let from = by_pn.partition_point(|p| p.pn < l.pn);
            by_pn[from..]
                .iter()
                .take_while(move |p| p.pn == l.pn)
                .map(|p| Point::at(cv.secs(p.t_ns), p.end as f64))
        })
        .collect()
}
