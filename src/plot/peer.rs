//! The two-point graphs of `plot --peer`: per paired direction of a flow, the upstream capture's
//! sends and the downstream capture's arrivals on one time-sequence graph with the packets lost
//! between them marked, and the one-way delay between the two points over time.
//!
//! Times are this capture's: the peer's are moved by the clock offset `--peer` estimated
//! (docs/peer.md), so an arrival sits one one-way delay right of its send.

use super::chart::{palette, Axis, Chart, PlotKind, Point, Series, Style, Unit};
use super::dir::{tunnel, x_axis, Canvas};
use super::thin;
use crate::flow::{Flow, Side};

/// One paired direction's points (the pipeline gathers them from the comparison), in this
/// capture's clock (ns) and the direction's y values: TCP relative sequence numbers (the
/// segment's start and end), UDP the upstream frame number.
#[derive(Debug, Clone)]
pub struct DirPoints {
    pub flow: u32,
    pub side: Side,
    pub tcp: bool,
    /// Names of the captures upstream and downstream of this direction.
    pub upstream: String,
    pub downstream: String,
    /// (time, y, top).
    pub sent: Vec<(i64, f64, f64)>,
    pub arrived: Vec<(i64, f64, f64)>,
    pub lost: Vec<(i64, f64, f64)>,
    /// (time sent, one-way delay in s), only with a clock offset.
    pub delays: Vec<(i64, f64)>,
}

fn pts(cv: &Canvas, v: &[(i64, f64, f64)]) -> Vec<Point> {
    v.iter()
        .map(|&(t, y, top)| Point {
            x: cv.secs(t),
            y,
            top,
        })
        .collect()
}

/// The time-sequence graph of both points, one per paired direction of `f` that carried data.
pub fn sequence(f: &Flow, cv: &Canvas) -> Vec<Chart> {
    cv.peer
        .iter()
        .filter(|d| d.flow == f.id && !d.sent.is_empty())
        .map(|d| sequence_chart(f, d, cv))
        .collect()
}

fn sequence_chart(f: &Flow, d: &DirPoints, cv: &Canvas) -> Chart {
    let (sent, arrived, lost) = (pts(cv, &d.sent), pts(cv, &d.arrived), pts(cv, &d.lost));
    let x = x_axis(sent.iter().chain(&arrived).map(|p| p.x));
    let y = if d.tcp {
        Axis::fitting(
            "relative sequence number",
            Unit::Bytes,
            sent.iter().chain(&arrived).map(|p| &p.top),
        )
    } else {
        Axis::fitting(
            "upstream frame number",
            Unit::Frame,
            sent.iter().map(|p| &p.top),
        )
    };
    let grid = cv.grid(&x, &y);
    // Segments are bars (tcptrace), datagrams dots; both thinned to the pixel grid.
    let (style, sent_pts, arrived_pts) = if d.tcp {
        (
            Style::Bar,
            thin::bars(&sent, &grid),
            thin::bars(&arrived, &grid),
        )
    } else {
        (
            Style::Dot,
            thin::cells(&sent, &grid),
            thin::cells(&arrived, &grid),
        )
    };
    let series = vec![
        Series::new(
            &format!("sent, seen upstream ({})", d.upstream),
            style,
            palette::DATA,
            sent_pts,
        ),
        Series::new(
            &format!("arrived, seen downstream ({})", d.downstream),
            style,
            palette::ACK,
            arrived_pts,
        ),
        // Every loss drawn: they are what the graph is for.
        Series::new(
            "lost between the two points",
            Style::Label('L'),
            palette::RETRANSMISSION,
            lost,
        ),
    ];
    let dir = f.direction(d.side);
    Chart {
        kind: PlotKind::PeerSequence,
        flow: Some(f.id),
        direction: Some(dir),
        title: format!(
            "Two capture points, flow {} {}: {} ↔ {}{}",
            f.id,
            dir.as_str(),
            f.client(),
            f.server(),
            tunnel(f)
        ),
        caption: format!(
            "{} sent upstream, {} arrived downstream, {} lost between; the peer's times moved by the clock offset",
            d.sent.len(),
            d.arrived.len(),
            d.lost.len()
        ),
        x,
        y,
        y2: None,
        series,
    }
}

/// The one-way delay between the two points, one per paired direction of `f` with a clock
/// offset; losses marked at the top, at the time they were sent.
pub fn delay(f: &Flow, cv: &Canvas) -> Vec<Chart> {
    cv.peer
        .iter()
        .filter(|d| d.flow == f.id && !d.delays.is_empty())
        .filter(|d| !d.tcp || !d.sent.is_empty())
        .map(|d| delay_chart(f, d, cv))
        .collect()
}

fn delay_chart(f: &Flow, d: &DirPoints, cv: &Canvas) -> Chart {
    let samples: Vec<Point> = d
        .delays
        .iter()
        .map(|&(t, s)| Point::at(cv.secs(t), s))
        .collect();
    let x = x_axis(samples.iter().map(|p| p.x));
    let y = Axis::fitting(
        "one-way delay",
        Unit::Duration,
        samples.iter().map(|p| &p.y),
    );
    let grid = cv.grid(&x, &y);
    let top = y.max;
    let lost = d
        .lost
        .iter()
        .map(|&(t, _, _)| Point::at(cv.secs(t), top * 0.97))
        .collect();
    let mut sorted: Vec<f64> = samples.iter().map(|p| p.y).collect();
    sorted.sort_by(f64::total_cmp);
    let median = sorted.get(sorted.len() / 2).copied().unwrap_or(0.0);
    let dir = f.direction(d.side);
    Chart {
        kind: PlotKind::OneWayDelay,
        flow: Some(f.id),
        direction: Some(dir),
        title: format!(
            "One-way delay {} → {}, flow {} {}{}",
            d.upstream,
            d.downstream,
            f.id,
            dir.as_str(),
            tunnel(f)
        ),
        caption: format!(
            "{} matched packets, median {}; delay growing before losses is a queue filling (docs/peer.md)",
            samples.len(),
            crate::units::duration(median)
        ),
        x,
        y,
        y2: None,
        series: vec![
            Series::new(
                "one-way delay",
                Style::Dot,
                palette::SIZE,
                thin::cells(&samples, &grid),
            ),
            Series::new(
                "lost between the two points (time sent)",
                Style::Label('L'),
                palette::RETRANSMISSION,
                lost,
            ),
        ],
    }
}
