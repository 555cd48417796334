//! Keeps every coordinate a chart hands the renderer within reach of its axes: plotters maps a
//! value to a pixel with `i32` arithmetic that overflows (a panic in debug builds, a wrapped
//! line in release) for a value millions of axis spans away, which a hostile capture's
//! sequence numbers or timestamps can produce. A point beyond the axis is drawn clipped
//! anyway; moving it to [`REACH`] spans away keeps the direction of its line and the pixels
//! within `i32`.

use super::chart::{Axis, Chart, Point};

/// How many axis spans beyond either end a coordinate may lie: 1000 spans of a 10,000-pixel
/// picture is 10^7 pixels, far inside `i32`.
pub const REACH: f64 = 1000.0;

/// `chart` with every point moved within [`REACH`] spans of its axes, and points with a
/// coordinate that is not a number left out.
pub fn within_reach(chart: &Chart) -> Chart {
    let mut c = chart.clone();
    let y2 = c.y2.clone();
    for s in &mut c.series {
        let y = if s.secondary {
            y2.as_ref().unwrap_or(&chart.y)
        } else {
            &chart.y
        };
        s.points
            .retain(|p| p.x.is_finite() && p.y.is_finite() && p.top.is_finite());
        for p in &mut s.points {
            *p = Point {
                x: clamp(p.x, &chart.x),
                y: clamp(p.y, y),
                top: clamp(p.top, y),
            };
        }
    }
    c
}

fn clamp(v: f64, a: &Axis) -> f64 {
    let span = (a.max - a.min).abs().max(f64::MIN_POSITIVE);
    let reach = span * REACH;
    if !(a.min.is_finite() && a.max.is_finite() && reach.is_finite()) {
        return v;
    }
    v.clamp(a.min.min(a.max) - reach, a.max.max(a.min) + reach)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plot::chart::{palette, PlotKind, Series, Style, Unit};

    #[test]
    fn far_and_broken_points_are_brought_within_reach() {
        let chart = Chart {
            kind: PlotKind::DatagramSize,
            flow: Some(1),
            direction: None,
            title: String::new(),
            caption: String::new(),
            x: Axis::new("t", Unit::Seconds, 0.0, 10.0),
            y: Axis::new("size", Unit::Bytes, 0.0, 1500.0),
            y2: None,
            series: vec![Series::new(
                "s",
                Style::Dot,
                palette::SIZE,
                vec![
                    Point::at(5.0, 1000.0),
                    Point::at(1e300, -1e300),
                    Point::at(f64::NAN, 1.0),
                ],
            )],
        };
        let c = within_reach(&chart);
        let p = &c.series[0].points;
        assert_eq!(p.len(), 2);
        assert_eq!(p[0], Point::at(5.0, 1000.0));
        assert_eq!(p[1], Point::at(10.0 + 10.0 * REACH, -1500.0 * REACH));
    }
}
