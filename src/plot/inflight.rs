//! The bytes-in-flight graph of a direction, with the receive window it is bounded by.

use super::chart::{palette, Axis, Chart, PlotKind, Point, Series, Style, Unit};
use super::dir::{x_axis, Canvas, Dir};
use super::thin;
use crate::units;

pub fn inflight(d: &Dir<'_>, cv: &Canvas) -> Option<Chart> {
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
    let m = &d.conn.dirs()[d.side];
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
