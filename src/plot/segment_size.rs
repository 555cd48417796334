//! The segment-size graph of a direction: wire segments per frame, and where the capture was
//! taken (which tells GRO/LRO from TSO/GSO).

use super::chart::{palette, Chart, PlotKind, Point, Series, Style};
use super::dir::{segments_axis, x_axis, Canvas, Dir};
use super::thin;
use crate::units;

pub fn segment_size(d: &Dir<'_>, cv: &Canvas) -> Option<Chart> {
    let seg_size = f64::from(d.seg_size());
    let pts: Vec<Point> = d
        .payloads()
        .map(|(s, len)| Point::at(cv.secs(s.t_ns), len as f64 / seg_size))
        .collect();
    if pts.is_empty() {
        return None;
    }
    let x = x_axis(pts.iter().map(|p| p.x));
    let max = pts.iter().map(|p| p.y).fold(1.0f64, f64::max);
    let y = segments_axis(max);
    let grid = cv.grid(&x, &y);
    let (multi, single): (Vec<Point>, Vec<Point>) = pts.iter().partition(|p| p.y > 1.0);
    let mean = pts.iter().map(|p| p.y.ceil()).sum::<f64>() / pts.len() as f64;
    let mut series = vec![Series::new(
        "one segment or less",
        Style::Dot,
        palette::SIZE,
        thin::cells(&single, &grid),
    )];
    if !multi.is_empty() {
        series.push(Series::new(
            "several segments (GRO/LRO-coalesced, or TSO/GSO before segmentation)",
            Style::Dot,
            palette::ZERO_WINDOW,
            thin::cells(&multi, &grid),
        ));
    }
    let at =
        d.f.capture_point()
            .map_or("capture point unknown".to_string(), |c| {
                format!(
                    "captured on the {} ({})",
                    d.f.role(c.side),
                    if c.side == d.side {
                        "sender: above 1 is TSO/GSO"
                    } else {
                        "receiver: above 1 is GRO/LRO"
                    }
                )
            });
    let caption = format!(
        "{} frames, {mean:.2} wire segments per frame on average, max {max:.1}; 1 MSS = {} \
         bytes; {at}",
        units::thousands(pts.len() as u64),
        seg_size
    );
    let caption = caption + &super::dir::sample_note(d.trace);
    let mut c = d.chart(PlotKind::SegmentSize, "Segment size", caption, x, y);
    c.series = series;
    Some(c)
}
