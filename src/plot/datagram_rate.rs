//! The datagram-rate graph of a UDP flow: per direction, the UDP payload in bit/s (left axis)
//! and the datagrams per second (right axis) per interval, in the throughput graph's bins.

use super::chart::{palette, Chart, PlotKind, Series, Style, Unit};
use super::datagrams::{y_axis, Udp};
use super::dir::{tunnel, x_axis, Canvas};
use super::rates::{per_second_line, rate_interval, rate_line, sum_bins};
use super::thin;
use super::window;
use crate::flow::Flow;
use crate::units;

/// Both directions' payload bit rate and datagram rate.
pub fn datagram_rate(f: &Flow, cv: &Canvas) -> Option<Chart> {
    let u = Udp::of(f)?;
    let (start, end) = u.span()?;
    let step_ns = rate_interval(cv.interval_ns, end.saturating_sub(start));
    let step = step_ns as f64 / 1e9;
    let x0 = cv.secs(start);
    let (mut bits, mut counts, mut averages) = (Vec::new(), Vec::new(), Vec::new());
    for side in u.sides() {
        let dir = f.direction(side).as_str();
        let [c_bits, c_count] =
            if side == f.client { [0, 5] } else { [1, 4] }.map(|i| palette::FLOWS[i]);
        let items = u.sent_by(side).map(|d| (d.t_ns, u64::from(d.len), 1));
        let bins = sum_bins(items, start, step_ns);
        let (bytes, n) = bins.iter().fold((0, 0), |(b, n), x| (b + x.0, n + x.1));
        let secs = (end.saturating_sub(start) as f64 / 1e9).max(step);
        averages.push(format!(
            "{dir} {} datagrams, on average {} and {:.0}/s",
            units::thousands(n),
            units::rate(bytes as f64 * 8.0 / secs),
            n as f64 / secs
        ));
        bits.push(Series::new(
            &format!("{dir} UDP payload"),
            Style::Step,
            c_bits,
            rate_line(&bins, |b| b.0, x0, step),
        ));
        counts.push(
            Series::new(
                &format!("{dir} datagrams (right axis)"),
                Style::Step,
                c_count,
                per_second_line(&bins, |b| b.1, x0, step, 1.0),
            )
            .on_second_axis(),
        );
    }
    let x = x_axis(
        bits.iter()
            .chain(&counts)
            .flat_map(|s| s.points.iter().map(|p| p.x)),
    );
    let fit = |label: &str, unit: Unit, series: &mut [Series]| {
        let max = series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.y))
            .fold(0.0, f64::max);
        let axis = y_axis(label, unit, max);
        let grid = cv.grid(&x, &axis);
        for s in series.iter_mut() {
            s.points = thin::m4(&s.points, &grid);
        }
        axis
    };
    let y = fit("payload rate", Unit::BitsPerSecond, &mut bits);
    // With an endpoint's qlog, its window takes the right axis (the datagram rates follow the
    // payload rates and stay in the caption).
    let (y2, counts) = match window::of_flow(cv, f.id).next() {
        Some(w) => {
            let (mut lines, _) = window::series(w, cv);
            (fit("bytes (qlog)", Unit::Bytes, &mut lines), lines)
        }
        None => (
            fit("datagram rate", Unit::DatagramsPerSecond, &mut counts),
            counts,
        ),
    };
    // Datagrams first, so that the payload lines, drawn over them, stay visible.
    let mut series = counts;
    series.append(&mut bits);
    series.extend(u.path_marks(cv, &y));
    Some(Chart {
        kind: PlotKind::DatagramRate,
        flow: Some(f.id),
        direction: None,
        title: format!(
            "Datagram rate, flow {}: {} ↔ {}{}",
            f.id,
            f.client(),
            f.server(),
            tunnel(f)
        ),
        caption: format!(
            "per {} interval; {}{}",
            units::duration(step),
            averages.join("; "),
            u.notes(cv)
        ),
        x,
        y,
        y2: Some(y2),
        series,
    })
}
