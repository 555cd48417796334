//! The RTT graph of a direction: every sample (seq/ACK under Karn's rule, and TCP timestamps);
//! the caption summarises the reported RTT (`DirMetrics::rtt`).

use super::chart::{palette, Axis, Chart, PlotKind, Point, Series, Style, Unit};
use super::dir::{x_axis, Canvas, Dir};
use super::thin;
use crate::units;

pub fn rtt(d: &Dir<'_>, cv: &Canvas) -> Option<Chart> {
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
    let (samples, _) = d.conn.dirs()[d.side].rtt();
    let caption = samples.quantiles().map_or(String::new(), |q| {
        format!(
            "{} samples; median {}, p99 {}, max {} (seq/ACK under Karn's rule; timestamps for resent data)",
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
