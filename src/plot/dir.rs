//! What every graph builder shares: the [`Canvas`] (time origin and pixel grid), one direction
//! of a TCP flow as graphs see it ([`Dir`]), and the common axes.

use crate::decode::tcp_flags;
use crate::flow::{Direction, Flow, Side};
use crate::tcp::trace::{SegPoint, Trace};
use crate::tcp::TcpConn;

use super::chart::{Axis, Chart, PlotKind, Unit};
use super::thin::Grid;

#[derive(Debug, Clone)]
pub struct Canvas {
    pub t0_ns: i64,
    /// The analysis interval (`--interval`): the bin width of rate graphs when it suits the span.
    pub interval_ns: i64,
    pub cols: usize,
    pub rows: usize,
    /// `--mtu`: the link MTU the datagram-size graph draws its line at (1500 when not given).
    pub mtu: Option<u32>,
    /// QUIC endpoints' congestion window and bytes in flight from their qlog (`--qlog`), on
    /// the capture's clock.
    pub windows: std::sync::Arc<[super::window::EndpointWindow]>,
    /// With `--peer`: the paired directions' points at both capture points.
    pub peer: std::sync::Arc<[super::peer::DirPoints]>,
    /// What the command line asks beyond kinds and size.
    pub opts: Options,
}

/// Choices of `plot` beyond the kinds and the picture size.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options {
    /// `--frame-sizes`: each frame's size in MSS units on the time-sequence graph's right axis
    /// (the `segment-size` graph shows them by default).
    pub frame_sizes: bool,
    /// The kinds were named with `--kind`: drawn even for a direction below the default set's
    /// minimum ([`MIN_DATA_SEGMENTS`], [`MIN_RTT_SAMPLES`]).
    pub forced: bool,
}

/// Fewest data segments (frames, or full-size wire segments' worth of payload) a direction needs
/// for its `rtt`, `inflight`, `segment-size` and `ip-id` graphs in the default set: a request
/// of a few hundred bytes gives one or two points, no picture of a trend (`--kind` draws them
/// anyway).
pub const MIN_DATA_SEGMENTS: u64 = 10;

/// Fewest RTT samples a direction needs for its `rtt` graph in the default set.
pub const MIN_RTT_SAMPLES: usize = 5;

impl Canvas {
    /// The same picture with time counted from `t0_ns` (a flow's first frame).
    pub fn from(&self, t0_ns: i64) -> Canvas {
        Canvas {
            t0_ns,
            ..self.clone()
        }
    }
}

impl Canvas {
    pub fn secs(&self, t_ns: i64) -> f64 {
        t_ns.saturating_sub(self.t0_ns) as f64 / 1e9
    }

    pub fn grid(&self, x: &Axis, y: &Axis) -> Grid {
        Grid {
            x0: x.min,
            x1: x.max,
            cols: self.cols,
            y0: y.min,
            y1: y.max,
            rows: self.rows,
        }
    }
}

/// One direction of a TCP flow: what `side` sent.
pub struct Dir<'a> {
    pub f: &'a Flow,
    pub conn: &'a TcpConn,
    pub side: Side,
    pub trace: &'a Trace,
}

impl<'a> Dir<'a> {
    /// What `side` of `f` sent (`None` for a flow that is not TCP).
    pub fn of(f: &'a Flow, side: Side) -> Option<Dir<'a>> {
        let conn = f.tcp.as_deref()?;
        Some(Dir {
            f,
            conn,
            side,
            trace: &conn.traces()[side],
        })
    }

    pub fn direction(&self) -> Direction {
        self.f.direction(self.side)
    }

    pub fn name(&self) -> &'static str {
        self.direction().as_str()
    }

    /// `flow 3 c2s: 10.0.0.1:40000 → 10.0.0.2:5001 (VXLAN VNI 42)`
    pub fn describe(&self) -> String {
        describe(self.f, self.side)
    }

    pub fn chart(&self, kind: PlotKind, what: &str, caption: String, x: Axis, y: Axis) -> Chart {
        Chart {
            kind,
            flow: Some(self.f.id),
            direction: Some(self.direction()),
            title: format!("{what}, {}", self.describe()),
            caption,
            x,
            y,
            y2: None,
            series: Vec::new(),
        }
    }

    /// Payload bytes of one full-size wire segment: the unit of "segments per frame".
    pub fn seg_size(&self) -> u32 {
        self.f
            .gro
            .as_ref()
            .map(|g| g.dirs[self.side].seg_size)
            .filter(|&s| s > 0)
            .or(self.conn.options[self.side.other()].mss.map(u32::from))
            .unwrap_or(1460)
            .max(1)
    }

    /// Data segments as (time, payload bytes).
    pub fn payloads(&self) -> impl Iterator<Item = (&'a SegPoint, i64)> + 'a {
        self.trace.segments().iter().filter_map(|s| {
            let syn_fin = s.tcp_flags & (tcp_flags::SYN | tcp_flags::FIN) != 0;
            let len = s.end - s.start - i64::from(syn_fin);
            (len > 0).then_some((s, len))
        })
    }
}

/// `flow 3 c2s: 10.0.0.1:40000 → 10.0.0.2:5001 (VXLAN VNI 42)`: what `side` of `f` sent.
pub fn describe(f: &Flow, side: Side) -> String {
    let (from, to) = (f.key.end(side), f.key.end(side.other()));
    format!(
        "flow {} {}: {from} → {to}{}",
        f.id,
        f.direction(side).as_str(),
        tunnel(f)
    )
}

pub fn tunnel(f: &Flow) -> String {
    f.key.tunnel.map_or(String::new(), |t| {
        format!(" ({} VNI {})", t.kind.as_str().to_uppercase(), t.vni)
    })
}

pub fn x_axis(xs: impl Iterator<Item = f64>) -> Axis {
    let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), x| {
        (lo.min(x), hi.max(x))
    });
    if !lo.is_finite() {
        return Axis::new("time since the flow's first frame", Unit::Seconds, 0.0, 1.0);
    }
    // A little room either side so the first and last marks are not on the frame.
    let pad = ((hi - lo) * 0.02).max(1e-6);
    Axis::new(
        "time since the flow's first frame",
        Unit::Seconds,
        lo - pad,
        hi + pad,
    )
}

/// Segments per frame, from 0 to a little above `max` (at least 2, so 1 is mid-height).
pub fn segments_axis(max: f64) -> Axis {
    Axis::new(
        "segments per frame",
        Unit::Segments,
        0.0,
        (max * 1.1).max(2.0),
    )
}

/// What a caption adds when the flow's trace was thinned while it was read (its counts are of
/// the sample drawn).
pub fn sample_note(trace: &Trace) -> String {
    if trace.thinned() {
        format!(
            " (a sample spread over the flow's {} segments, every flagged one kept)",
            crate::units::thousands(trace.segments_seen())
        )
    } else {
        String::new()
    }
}
