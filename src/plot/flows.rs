//! The flows graph: the goodput of every plotted flow's main data direction on one graph, with
//! Jain's fairness index of their averages.

use super::chart::{palette, Chart, PlotKind, Series, Style};
use super::dir::{Canvas, Dir};
use super::rates::{data_span, fit_rates, rate_bins, rate_grid, rate_line};
use crate::flow::{Flow, Side};
use crate::tcp::stats::jain_index;
use crate::units;

/// their average goodputs.
pub fn flows_chart(flows: &[&Flow], cv: &Canvas) -> Option<Chart> {
    // Each flow's direction that carried the most new data.
    let dirs: Vec<Dir<'_>> = flows
        .iter()
        .filter_map(|f| {
            let conn = f.tcp.as_deref()?;
            let side = if conn.dirs()[Side::A].new_bytes >= conn.dirs()[Side::B].new_bytes {
                Side::A
            } else {
                Side::B
            };
            Dir::of(f, side)
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
    let (mut x, y) = fit_rates("goodput", &mut series, cv);
    x.label = "time since the first flow's first frame".into();
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
