//! The throughput graph of a flow: goodput and throughput per interval in both directions, with
//! the averages over each direction's data period.

use super::chart::{palette, Chart, PlotKind, Point, Series, Style};
use super::dir::{tunnel, Canvas, Dir};
use super::rates::{data_span, fit_rates, rate_bins, rate_grid, rate_line};
use crate::flow::Flow;
use crate::units;

/// Goodput and throughput of both directions of a flow, with their averages.
pub fn throughput(f: &Flow, cv: &Canvas) -> Option<Chart> {
    let dirs: Vec<Dir<'_>> = f
        .client_first()
        .into_iter()
        .filter_map(|side| Dir::of(f, side))
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
