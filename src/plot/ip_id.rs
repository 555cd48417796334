//! The IP ID graph of a direction: the (outer, in a tunnel) IPv4 ID of every data frame against
//! its frame number, DF coloured, and the step from the previous ID in a panel below: Linux GRO
//! merges only IDs that stay fixed or increase by one.

use super::chart::{palette, Axis, Chart, PlotKind, Point, Series, Style, Unit};
use super::dir::{Canvas, Dir};
use super::thin;
use crate::units;

/// One data frame's ID: (frame, id, DF, outer header).
type Id = (u64, u16, bool, bool);

/// Steps beyond this view are drawn on its edge: the axis stays readable at the scale where +1, 0
/// and small jumps differ, and a wrap or a random ID still shows as an outlier.
const STEP_VIEW: (f64, f64) = (-8.0, 16.0);

pub fn ip_id(d: &Dir<'_>, cv: &Canvas) -> Option<Chart> {
    // Data frames only: what GRO would merge.
    let ids: Vec<Id> = d
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
    let (steps, y2) = steps(&ids);
    if !steps.is_empty() {
        series.push(
            Series::new(
                "ID step",
                Style::Dot,
                palette::SECOND,
                thin::cells(&steps, &cv.grid(&x, &y2)),
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
    let caption = caption + &super::dir::sample_note(d.trace);
    let mut c = d.chart(PlotKind::IpId, layer, caption, x, y);
    c.y2 = Some(y2);
    c.series = series;
    Some(c)
}

/// The step from the previous data frame's ID, clamped to [`STEP_VIEW`], and its axis: +1 (or 0)
/// is what GRO merges, anything else shows as a dot off that line.
fn steps(ids: &[Id]) -> (Vec<Point>, Axis) {
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
    // In a panel of its own below the IDs: a cloud of random IDs never hides the steps.
    let y2 = Axis::new(
        "ID step from the previous frame",
        Unit::Id,
        s_lo - 1.0,
        s_hi + 1.0,
    )
    .in_panel_below();
    (steps, y2)
}
