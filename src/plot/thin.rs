//! Thinning: fewer points, same picture. A graph is a grid of pixels, so a series needs at most a
//! few points per pixel column (lines, bars) or one per pixel cell (dots) to look exactly as it
//! would with every point. Nothing that stands out is dropped: the marked series (retransmissions,
//! out-of-order, zero window) go through the same per-pixel rule, so every pixel that would show
//! a mark still shows one, and a stall stays an empty stretch of columns.

use super::chart::Point;

/// Below this many points per column a series is drawn as it is.
const KEEP_ALL_PER_COLUMN: usize = 2;

/// The pixel grid of the plotting area.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    pub x0: f64,
    pub x1: f64,
    pub cols: usize,
    pub y0: f64,
    pub y1: f64,
    pub rows: usize,
}

impl Grid {
    fn col(&self, x: f64) -> usize {
        cell(x, self.x0, self.x1, self.cols)
    }
    fn row(&self, y: f64) -> usize {
        cell(y, self.y0, self.y1, self.rows)
    }
    fn small(&self, n: usize) -> bool {
        n <= self.cols.saturating_mul(KEEP_ALL_PER_COLUMN)
    }
}

fn cell(v: f64, lo: f64, hi: f64, n: usize) -> usize {
    let f = if hi > lo { (v - lo) / (hi - lo) } else { 0.0 };
    // NaN and out-of-range values land on the edges; `as` saturates.
    ((f * n as f64) as usize).min(n.saturating_sub(1))
}

/// Lines: per run of points in one pixel column, the first, lowest, highest and last point (M4:
/// Jugel et al., "M4: A Visualization-Oriented Time Series Data Aggregation", VLDB 2014). Drawn
/// as a line, the result is pixel-identical to the full series.
pub fn m4(points: &[Point], grid: &Grid) -> Vec<Point> {
    if grid.small(points.len()) {
        return points.to_vec();
    }
    let mut out = Vec::with_capacity(grid.cols * 4);
    let mut i = 0;
    while i < points.len() {
        let col = grid.col(points[i].x);
        let mut j = i;
        let (mut lo, mut hi) = (i, i);
        while j < points.len() && grid.col(points[j].x) == col {
            if points[j].y < points[lo].y {
                lo = j;
            }
            if points[j].y > points[hi].y {
                hi = j;
            }
            j += 1;
        }
        let mut keep = [i, lo, hi, j - 1];
        keep.sort_unstable();
        let mut last = usize::MAX;
        for k in keep {
            if k != last {
                out.push(points[k]);
                last = k;
            }
        }
        i = j;
    }
    out
}

/// Bars: per run of bars in one pixel column, one bar from the lowest start to the highest end.
pub fn bars(points: &[Point], grid: &Grid) -> Vec<Point> {
    if grid.small(points.len()) {
        return points.to_vec();
    }
    let mut out: Vec<Point> = Vec::with_capacity(grid.cols);
    let mut last_col = usize::MAX;
    for p in points {
        let col = grid.col(p.x);
        match out.last_mut() {
            Some(b) if col == last_col => {
                b.y = b.y.min(p.y);
                b.top = b.top.max(p.top);
            }
            _ => out.push(*p),
        }
        last_col = col;
    }
    out
}

/// Dots and marks: the first point in each pixel cell (for bars, the cell of the bar's top).
pub fn cells(points: &[Point], grid: &Grid) -> Vec<Point> {
    if grid.small(points.len()) {
        return points.to_vec();
    }
    let rows = grid.rows as u64;
    let mut keys: Vec<(u64, u32)> = points
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let k = grid.col(p.x) as u64 * rows + grid.row(p.top) as u64;
            (k, i as u32)
        })
        .collect();
    // Stable order within a cell keeps its first point; then back to drawing order.
    keys.sort_unstable();
    keys.dedup_by_key(|k| k.0);
    let mut idx: Vec<u32> = keys.into_iter().map(|k| k.1).collect();
    idx.sort_unstable();
    idx.into_iter()
        .filter_map(|i| points.get(i as usize).copied())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grid(cols: usize) -> Grid {
        Grid {
            x0: 0.0,
            x1: cols as f64,
            cols,
            y0: 0.0,
            y1: 100.0,
            rows: 100,
        }
    }

    #[test]
    fn small_series_are_kept_whole() {
        let pts: Vec<Point> = (0..20).map(|i| Point::at(i as f64, i as f64)).collect();
        assert_eq!(m4(&pts, &grid(10)), pts);
        assert_eq!(bars(&pts, &grid(10)), pts);
        assert_eq!(cells(&pts, &grid(10)), pts);
    }

    #[test]
    fn m4_keeps_first_last_and_extremes_of_each_column() {
        // 1000 points in 10 columns; a spike in column 3 and a dip in column 7.
        let pts: Vec<Point> = (0..1000)
            .map(|i| {
                let y = match i {
                    345 => 99.0,
                    777 => -5.0,
                    _ => 50.0,
                };
                Point::at(i as f64 / 100.0, y)
            })
            .collect();
        let t = m4(&pts, &grid(10));
        assert!(t.len() <= 40, "{}", t.len());
        assert!(t.contains(&pts[345]) && t.contains(&pts[777]));
        assert!(t.contains(&pts[0]) && t.contains(&pts[999]));
        assert!(t.windows(2).all(|w| w[0].x <= w[1].x));
    }

    #[test]
    fn bars_become_column_envelopes_and_gaps_stay() {
        // Segments 0..500 in the first half, a stall, then 500..1000 in the last fifth.
        let mut pts = Vec::new();
        for i in 0..500 {
            pts.push(Point::bar(i as f64 / 100.0, i as f64, i as f64 + 1.0));
        }
        for i in 500..1000 {
            pts.push(Point::bar(
                8.0 + (i - 500) as f64 / 250.0,
                i as f64,
                i as f64 + 1.0,
            ));
        }
        let t = bars(&pts, &grid(10));
        assert_eq!(t.len(), 5 + 2);
        assert_eq!((t[0].y, t[0].top), (0.0, 100.0));
        // No bar in the stalled columns 5, 6, 7.
        assert!(t.iter().all(|p| !(5.0..8.0).contains(&p.x)));
        assert_eq!(t.last().map(|p| p.top), Some(1000.0));
    }

    #[test]
    fn cells_keep_one_mark_per_pixel_and_never_lose_an_isolated_one() {
        let mut pts: Vec<Point> = (0..5000)
            .map(|i| Point::at(i as f64 / 500.0, 10.0))
            .collect();
        pts.push(Point::at(9.99, 90.0));
        let t = cells(&pts, &grid(10));
        assert_eq!(t.len(), 11);
        assert!(t.contains(&Point::at(9.99, 90.0)));
    }

    #[test]
    fn hostile_values_do_not_panic() {
        let pts: Vec<Point> = (0..100)
            .map(|i| Point::at(if i % 2 == 0 { f64::NAN } else { 1e300 }, -1e300))
            .collect();
        for f in [m4, bars, cells] {
            assert!(!f(&pts, &grid(3)).is_empty());
        }
    }
}
