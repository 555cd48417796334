//! Drawing a `Chart` with plotters into a PNG or SVG file: the embedded font, axes with readable
//! units, the legend, and a write to a temporary file renamed into place, so no half-written
//! graph is ever left behind.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::{register_font, FontStyle};

use plotters::chart::DualCoordChartContext;
use plotters::coord::types::RangedCoordf64;

use super::chart::{Axis, Chart, Point, Rgb, Series, Style, Unit};

/// DejaVu Sans (Bitstream Vera license, `fonts/LICENSE-DejaVu`), embedded so that drawing text
/// needs no fontconfig and no installed fonts (see the notes on plotters' `ttf` feature).
static FONT: &[u8] = include_bytes!("fonts/DejaVuSans.ttf");
const FAMILY: &str = "sans-serif";

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// The error names the path already ([`crate::atomic::write`]); transparent, so that a
    /// chain of causes does not print it twice.
    #[error(transparent)]
    Write(std::io::Error),
    #[error("{path}: drawing failed: {what}")]
    Draw { path: PathBuf, what: String },
    #[error("the embedded font could not be loaded")]
    Font,
}

/// Image file format (also the `--format` values of `plot`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Portable Network Graphics (raster).
    Png,
    /// Scalable Vector Graphics (points are thinned to the pixel grid first).
    Svg,
}

impl Format {
    pub fn extension(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Svg => "svg",
        }
    }

    /// The output a graph file of this format is, for [`crate::atomic`].
    pub fn output_kind(self) -> crate::atomic::OutputKind {
        match self {
            Format::Png => crate::atomic::OutputKind::Png,
            Format::Svg => crate::atomic::OutputKind::Svg,
        }
    }
}

fn font() -> Result<(), RenderError> {
    static LOADED: OnceLock<bool> = OnceLock::new();
    let ok = *LOADED.get_or_init(|| register_font(FAMILY, FontStyle::Normal, FONT).is_ok());
    if ok {
        Ok(())
    } else {
        Err(RenderError::Font)
    }
}

/// Draws `chart` into `path` (`size` = width, height in pixels), written whole and safely
/// ([`crate::atomic`]): the picture is drawn in memory, then written.
pub fn write(
    chart: &Chart,
    path: &Path,
    format: Format,
    size: (u32, u32),
) -> Result<(), RenderError> {
    font()?;
    let draw_err = |what: String| RenderError::Draw {
        path: path.to_path_buf(),
        what,
    };
    let bytes = match format {
        Format::Png => png(chart, size).map_err(draw_err)?,
        Format::Svg => svg(chart, size).map_err(draw_err)?.into_bytes(),
    };
    crate::atomic::write(path, format.output_kind(), &bytes).map_err(RenderError::Write)
}

/// Draws `chart` as a PNG file's bytes.
pub fn png(chart: &Chart, size: (u32, u32)) -> Result<Vec<u8>, String> {
    font().map_err(|e| e.to_string())?;
    let (w, h) = size;
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        draw(&root, chart)?;
        root.present().map_err(|e| e.to_string())?;
    }
    let mut out = Vec::new();
    let mut encoder = ::png::Encoder::new(&mut out, w, h);
    encoder.set_color(::png::ColorType::Rgb);
    encoder.set_depth(::png::BitDepth::Eight);
    // As plotters' own encoder (the image crate) did: a filter chosen per row, which keeps
    // graphs of flat colours small.
    encoder.set_adaptive_filter(::png::AdaptiveFilterType::Adaptive);
    let mut writer = encoder.write_header().map_err(|e| e.to_string())?;
    writer.write_image_data(&rgb).map_err(|e| e.to_string())?;
    writer.finish().map_err(|e| e.to_string())?;
    Ok(out)
}

/// Draws `chart` as an SVG document.
pub fn svg(chart: &Chart, size: (u32, u32)) -> Result<String, String> {
    font().map_err(|e| e.to_string())?;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        draw(&root, chart)?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

/// The corner of a plotting area with the fewest points of `series` (each with whether it is
/// drawn against the right axis `y2`), for the legend.
fn quiet_corner<'a>(
    series: impl Iterator<Item = (&'a Series, bool)>,
    x: &Axis,
    y: &Axis,
    y2: Option<&Axis>,
) -> SeriesLabelPosition {
    use SeriesLabelPosition::{LowerLeft, LowerRight, UpperLeft, UpperRight};
    let corners = [
        (UpperLeft, 0, 1),
        (UpperRight, 1, 1),
        (LowerRight, 1, 0),
        (LowerLeft, 0, 0),
    ];
    let mut counts = [0usize; 4];
    for (s, on_right) in series {
        let y = if on_right { y2.unwrap_or(y) } else { y };
        for p in &s.points {
            let fx = (p.x - x.min) / (x.max - x.min);
            let fy = (p.top - y.min) / (y.max - y.min);
            for (n, &(_, cx, cy)) in counts.iter_mut().zip(&corners) {
                // The legend's box takes roughly a third of the width and height.
                let near = |f: f64, c: i32| if c == 0 { f < 0.35 } else { f > 0.65 };
                if near(fx, cx) && near(fy, cy) {
                    *n += 1;
                }
            }
        }
    }
    let best = (0..4).min_by_key(|&i| (counts[i], i)).unwrap_or(0);
    corners[best].0.clone()
}

fn color(c: Rgb) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

/// Tick labels with as many decimals as the axis span needs.
fn tick(v: f64, axis: &Axis) -> String {
    let (div, _) = axis.unit.scale(axis.max);
    let span = (axis.max - axis.min).abs() / div;
    let decimals = if matches!(axis.unit, Unit::Frame | Unit::Id) || span >= 20.0 {
        0
    } else if span >= 2.0 {
        1
    } else if span > 0.0 {
        (2.0 - span.log10().floor()).clamp(2.0, 6.0) as usize
    } else {
        0
    };
    format!("{:.*}", decimals, v / div)
}

fn desc(axis: &Axis) -> String {
    match axis.unit.scale(axis.max) {
        (_, "") => axis.label.clone(),
        (_, unit) => format!("{} ({unit})", axis.label),
    }
}

type DrawResult = Result<(), String>;

/// Both coordinate systems of a graph: seconds (or frames) against the left and right axes.
type Coords = Cartesian2d<RangedCoordf64, RangedCoordf64>;
type Ctx<'a, DB> = DualCoordChartContext<'a, DB, Coords, Coords>;

fn err<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> String {
    e.to_string()
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, chart: &Chart) -> DrawResult {
    let chart = &super::reach::within_reach(chart);
    root.fill(&WHITE).map_err(err)?;
    let (w, h) = root.dim_in_pixel();
    // Type sizes follow the picture so a 4K graph and a thumbnail both read well.
    let base = (f64::from(w.min(h * 16 / 9)) / 80.0).clamp(9.0, 28.0);
    let (head, body) = root.split_vertically((base * 3.6) as u32);
    heading(&head, chart, base)?;
    match chart.y2.as_ref().filter(|a| a.below) {
        // A second axis of its own: the main panel on top, the secondary series below it.
        Some(lower) => {
            let (_, body_h) = body.dim_in_pixel();
            let (top, bottom) = body.split_vertically(f64::from(body_h) * 0.62);
            panel(&top, chart, (&chart.y, None), false, base)?;
            panel(&bottom, chart, (lower, None), true, base)
        }
        None => panel(&body, chart, (&chart.y, chart.y2.as_ref()), false, base),
    }
}

/// One plotting area with its axes, the series drawn against them (`secondary`: those of the
/// second axis, drawn as this area's main ones) and their legend.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    chart: &Chart,
    (y, y2): (&Axis, Option<&Axis>),
    secondary: bool,
    base: f64,
) -> DrawResult {
    let mut ctx = axes(area, &chart.x, y, y2, base)?;
    let shown = || {
        chart
            .series
            .iter()
            .filter(move |s| y2.is_some() || s.secondary == secondary)
    };
    // In a panel of its own, a second axis's series are that panel's main ones.
    let on_right = |s: &Series| s.secondary && y2.is_some();
    let mut named: Vec<&str> = Vec::new();
    for s in shown() {
        series(
            &mut ctx,
            s,
            on_right(s),
            base,
            !named.contains(&s.name.as_str()),
        )?;
        named.push(&s.name);
    }
    let corner = quiet_corner(shown().map(|s| (s, on_right(s))), &chart.x, y, y2);
    ctx.configure_series_labels()
        .position(corner)
        .background_style(WHITE.mix(0.85))
        .border_style(RGBColor(190, 190, 190))
        .label_font((FAMILY, base * 0.9))
        .draw()
        .map_err(err)?;
    Ok(())
}

/// The title and the caption under it.
fn heading<DB: DrawingBackend>(
    head: &DrawingArea<DB, Shift>,
    chart: &Chart,
    base: f64,
) -> DrawResult {
    head.draw_text(
        &chart.title,
        &(FAMILY, base * 1.35).into_font().color(&BLACK),
        ((base * 0.8) as i32, (base * 0.5) as i32),
    )
    .map_err(err)?;
    head.draw_text(
        &chart.caption,
        &(FAMILY, base * 0.95)
            .into_font()
            .color(&RGBColor(80, 80, 80)),
        ((base * 0.8) as i32, (base * 2.2) as i32),
    )
    .map_err(err)
}

/// The plotting area with its mesh, axis descriptions and tick labels (and the right axis when
/// the chart has one).
fn axes<'a, DB: DrawingBackend>(
    body: &'a DrawingArea<DB, Shift>,
    x: &Axis,
    y: &Axis,
    right: Option<&Axis>,
    base: f64,
) -> Result<Ctx<'a, DB>, String> {
    let y2 = right.unwrap_or(y).clone();
    let label_font = (FAMILY, base);
    let mut ctx = ChartBuilder::on(body)
        .margin((base * 0.8) as u32)
        .x_label_area_size((base * 3.2) as u32)
        .y_label_area_size((base * 5.5) as u32)
        .right_y_label_area_size(if right.is_some() {
            (base * 4.5) as u32
        } else {
            0
        })
        .build_cartesian_2d(x.min..x.max, y.min..y.max)
        .map_err(err)?
        .set_secondary_coord(x.min..x.max, y2.min..y2.max);
    ctx.configure_mesh()
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(215, 215, 215))
        .x_desc(desc(x))
        .y_desc(desc(y))
        .label_style(label_font)
        .axis_desc_style(label_font)
        .x_label_formatter(&|v| tick(*v, x))
        .y_label_formatter(&|v| tick(*v, y))
        .draw()
        .map_err(err)?;
    if right.is_some() {
        ctx.configure_secondary_axes()
            .y_desc(desc(&y2))
            .label_style(label_font)
            .axis_desc_style(label_font)
            .y_label_formatter(&|v| tick(*v, &y2))
            .draw()
            .map_err(err)?;
    }
    Ok(ctx)
}

/// A line's path: a step line holds each value until the next point.
fn path(s: &Series) -> Vec<(f64, f64)> {
    let pts = &s.points;
    let mut path: Vec<(f64, f64)> = Vec::with_capacity(pts.len() * 2);
    for (i, p) in pts.iter().enumerate() {
        if let (Style::Step, Some(prev)) = (s.style, i.checked_sub(1).and_then(|j| pts.get(j))) {
            path.push((p.x, prev.y));
        }
        path.push((p.x, p.y));
    }
    path
}

/// One series in its style, against the right axis when `on_right`; `legend` gives it a legend
/// entry (the first series of each name).
fn series<'a, DB: DrawingBackend + 'a>(
    ctx: &mut Ctx<'a, DB>,
    s: &Series,
    on_right: bool,
    base: f64,
    legend: bool,
) -> DrawResult {
    let c = color(s.color);
    let stroke = c.stroke_width(1);
    let r = (base / 4.0).max(2.0) as i32;
    let pts = &s.points;
    // Each style has its own element type: plotters' `DynElement` needs a `'static` backend,
    // which a PNG backend borrowing its path is not.
    macro_rules! series {
        ($iter:expr) => {
            if on_right {
                ctx.draw_secondary_series($iter)
            } else {
                ctx.draw_series($iter)
            }
            .map_err(err)?
        };
    }
    let anno = match s.style {
        Style::Step | Style::Line => {
            series!(std::iter::once(PathElement::new(
                path(s),
                c.stroke_width(2)
            )))
        }
        Style::Bar => {
            // End ticks (tcptrace's arrow heads) only while bars are far enough apart to see.
            if pts.len() < 400 {
                series!(pts
                    .iter()
                    .flat_map(|p| [(p.x, p.y), (p.x, p.top)])
                    .map(|at| {
                        EmptyElement::at(at) + PathElement::new(vec![(-r, 0), (r, 0)], stroke)
                    }));
            }
            series!(pts
                .iter()
                .map(|p: &Point| PathElement::new(vec![(p.x, p.y), (p.x, p.top)], stroke)))
        }
        Style::Dot => {
            series!(pts
                .iter()
                .map(|p| Circle::new((p.x, p.y), (r - 1).max(2), c.filled())))
        }
        Style::Diamond => series!(pts.iter().map(|p| {
            EmptyElement::at((p.x, p.y))
                + Polygon::new(vec![(0, -r), (r, 0), (0, r), (-r, 0)], c.filled())
        })),
        Style::Label(letter) => {
            let font = (FAMILY, base * 0.9).into_font().color(&c);
            let text = letter.to_string();
            series!(pts.iter().map(|p| {
                EmptyElement::at((p.x, p.y))
                    + Text::new(text.clone(), (r, -(base as i32)), font.clone())
            }))
        }
    };
    if legend {
        let style = s.style;
        let font = (FAMILY, base * 0.9).into_font().color(&c);
        anno.label(s.name.clone())
            .legend(move |(lx, ly)| match style {
                Style::Dot | Style::Diamond => Circle::new((lx + 8, ly), 4, c.filled()).into_dyn(),
                Style::Label(letter) => {
                    Text::new(letter.to_string(), (lx + 3, ly - 7), font.clone()).into_dyn()
                }
                Style::Step | Style::Line | Style::Bar => {
                    PathElement::new(vec![(lx, ly), (lx + 16, ly)], c.stroke_width(2)).into_dyn()
                }
            });
    }
    Ok(())
}
