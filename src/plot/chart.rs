//! The data behind one graph (axes, series, marks), independent of how it is drawn: the
//! renderer only draws a `Chart`, and tests snapshot it as JSON.

use serde::ser::{SerializeTuple, Serializer};
use serde::Serialize;

/// The graphs `plot` can draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlotKind {
    /// tcptrace's time-sequence graph, plus each frame's size in MSS units on a second axis.
    TimeSequence,
    /// Goodput and throughput per interval, with their averages.
    Throughput,
    /// RTT samples over time.
    Rtt,
    /// Bytes in flight with the receive window.
    Inflight,
    /// Wire segments per frame over time (coalescing and super-frames).
    SegmentSize,
    /// IPv4 ID against frame number (the outer header in a tunnel), DF marked.
    IpId,
    /// Goodput of every plotted flow on one graph (fairness).
    Flows,
    /// Datagrams per second and bit/s of a UDP flow, both directions.
    DatagramRate,
    /// Each datagram of a UDP flow direction as a point (time, size), QUIC packet types and
    /// GSO super-datagrams marked, with the MTU line.
    DatagramSize,
    /// The latency spin bit's RTT samples of a QUIC connection, per direction that spins.
    SpinRtt,
    /// With `--peer`: upstream sends and downstream arrivals of a direction on one graph, the
    /// packets lost between the two points marked.
    PeerSequence,
    /// With `--peer`: the one-way delay between the two points over time, losses marked.
    OneWayDelay,
    /// With `--keylog`: a QUIC direction's main stream in bytes over time (packet numbers where
    /// no stream is visible), what the peer acknowledged, its flow-control limit and the losses.
    QuicSequence,
    /// With `--keylog`: a QUIC direction's decrypted packets by number over time, the peer's
    /// largest acknowledged and the losses marked, before and after the capture point.
    QuicPackets,
    /// With `--keylog`: RTT samples of a QUIC connection from its ACK frames.
    QuicRtt,
}

impl PlotKind {
    pub const ALL: [PlotKind; 15] = [
        PlotKind::TimeSequence,
        PlotKind::Throughput,
        PlotKind::Rtt,
        PlotKind::Inflight,
        PlotKind::SegmentSize,
        PlotKind::IpId,
        PlotKind::Flows,
        PlotKind::DatagramRate,
        PlotKind::DatagramSize,
        PlotKind::SpinRtt,
        PlotKind::PeerSequence,
        PlotKind::OneWayDelay,
        PlotKind::QuicSequence,
        PlotKind::QuicPackets,
        PlotKind::QuicRtt,
    ];

    /// The name on the command line and in file names.
    pub fn name(self) -> &'static str {
        match self {
            PlotKind::TimeSequence => "time-sequence",
            PlotKind::Throughput => "throughput",
            PlotKind::Rtt => "rtt",
            PlotKind::Inflight => "inflight",
            PlotKind::SegmentSize => "segment-size",
            PlotKind::IpId => "ip-id",
            PlotKind::Flows => "flows",
            PlotKind::DatagramRate => "datagram-rate",
            PlotKind::DatagramSize => "datagram-size",
            PlotKind::SpinRtt => "spin-rtt",
            PlotKind::PeerSequence => "peer-sequence",
            PlotKind::OneWayDelay => "one-way-delay",
            PlotKind::QuicSequence => "quic-sequence",
            PlotKind::QuicPackets => "quic-packets",
            PlotKind::QuicRtt => "quic-rtt",
        }
    }

    /// Whether this kind draws two captures of one path (`--peer`).
    pub fn needs_peer(self) -> bool {
        matches!(self, PlotKind::PeerSequence | PlotKind::OneWayDelay)
    }

    /// Whether this kind draws UDP flows (the others draw TCP flows).
    pub fn is_udp(self) -> bool {
        matches!(
            self,
            PlotKind::DatagramRate
                | PlotKind::DatagramSize
                | PlotKind::SpinRtt
                | PlotKind::PeerSequence
                | PlotKind::OneWayDelay
                | PlotKind::QuicSequence
                | PlotKind::QuicPackets
                | PlotKind::QuicRtt
        )
    }

    pub fn parse(s: &str) -> Result<PlotKind, String> {
        PlotKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = PlotKind::ALL.iter().map(|k| k.name()).collect();
                format!("unknown graph kind `{s}`: use {}", names.join(", "))
            })
    }
}

/// What an axis measures; the renderer picks a readable scale (SI: kB, MB, Mbit/s, ms; as `units` writes them) from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unit {
    /// Seconds since the first frame of the capture (Wireshark's relative time), shown in ms
    /// when short.
    Seconds,
    Bytes,
    BitsPerSecond,
    DatagramsPerSecond,
    /// Durations in seconds, shown as ms or µs.
    Duration,
    /// Frames as multiples of the full-size wire segment.
    Segments,
    /// Wireshark's 1-based frame number.
    Frame,
    /// A 16-bit IP ID.
    Id,
}

impl Unit {
    /// Divisor and unit name for values up to `max`.
    pub fn scale(self, max: f64) -> (f64, &'static str) {
        let m = max.abs();
        match self {
            Unit::Bytes if m >= 1e9 => (1e9, "GB"),
            Unit::Bytes if m >= 1e6 => (1e6, "MB"),
            Unit::Bytes if m >= 1e4 => (1e3, "kB"),
            Unit::Bytes => (1.0, "bytes"),
            Unit::BitsPerSecond if m >= 1e9 => (1e9, "Gbit/s"),
            Unit::BitsPerSecond if m >= 1e6 => (1e6, "Mbit/s"),
            Unit::BitsPerSecond if m >= 1e3 => (1e3, "kbit/s"),
            Unit::BitsPerSecond => (1.0, "bit/s"),
            Unit::DatagramsPerSecond if m >= 1e6 => (1e6, "M datagrams/s"),
            Unit::DatagramsPerSecond if m >= 1e4 => (1e3, "k datagrams/s"),
            Unit::DatagramsPerSecond => (1.0, "datagrams/s"),
            Unit::Duration if m >= 2.0 => (1.0, "s"),
            Unit::Duration if m >= 2e-3 => (1e-3, "ms"),
            Unit::Duration => (1e-6, "µs"),
            Unit::Seconds if m >= 2.0 => (1.0, "s"),
            Unit::Seconds => (1e-3, "ms"),
            Unit::Segments => (1.0, "× MSS"),
            // Frame numbers and IDs are plain numbers: no unit in the axis label.
            Unit::Frame | Unit::Id => (1.0, ""),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Axis {
    /// What is measured, without the unit (`relative sequence number`).
    pub label: String,
    pub unit: Unit,
    /// Range shown, in base units (bytes, seconds, bit/s).
    pub min: f64,
    pub max: f64,
    /// For a second y axis: drawn as its own panel below the main one (sharing the x axis)
    /// instead of on the right, so that its series never cover the main ones.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub below: bool,
}

impl Axis {
    pub fn new(label: &str, unit: Unit, min: f64, max: f64) -> Axis {
        // An empty or inverted range would divide by zero in the renderer.
        let max = if max > min { max } else { min + 1.0 };
        Axis {
            label: label.to_string(),
            unit,
            min,
            max,
            below: false,
        }
    }

    /// This axis as a panel of its own below the main one ([`Axis::below`]).
    pub fn in_panel_below(mut self) -> Axis {
        self.below = true;
        self
    }

    /// An axis from 0 (or the data's minimum, if negative) to just above the data's maximum.
    pub fn fitting<'a>(label: &str, unit: Unit, values: impl Iterator<Item = &'a f64>) -> Axis {
        let (lo, hi) = values.fold((0.0f64, 0.0f64), |(lo, hi), &v| (lo.min(v), hi.max(v)));
        Axis::new(label, unit, lo, hi * 1.05)
    }
}

/// How a series is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Style {
    /// A vertical bar from `y` to `top` at `x` (a data segment, a SACK block).
    Bar,
    /// A step line (holds its value until the next point): ACK, window, in flight.
    Step,
    Line,
    Dot,
    /// tcptrace's PSH diamond.
    Diamond,
    /// A letter at the point (tcptrace's `R`, `O`, `Z`, `P`).
    Label(char),
}

/// An sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Rgb(pub u8, pub u8, pub u8);

/// Colours as tcptrace/xplot use them where they have one; the rest from a colour-blind safe
/// palette (Okabe & Ito, "Color Universal Design", 2008).
pub mod palette {
    use super::Rgb;
    pub const DATA: Rgb = Rgb(0, 0, 0);
    pub const ACK: Rgb = Rgb(0, 158, 115);
    pub const WINDOW: Rgb = Rgb(230, 159, 0);
    pub const SACK: Rgb = Rgb(148, 0, 211);
    pub const RETRANSMISSION: Rgb = Rgb(213, 0, 0);
    pub const OUT_OF_ORDER: Rgb = Rgb(204, 121, 167);
    pub const ZERO_WINDOW: Rgb = Rgb(213, 94, 0);
    pub const PSH: Rgb = Rgb(86, 180, 233);
    pub const SIZE: Rgb = Rgb(0, 114, 178);
    pub const SECOND: Rgb = Rgb(120, 120, 120);
    /// One colour per flow on the comparison graph.
    pub const FLOWS: [Rgb; 8] = [
        Rgb(0, 114, 178),
        Rgb(213, 94, 0),
        Rgb(0, 158, 115),
        Rgb(204, 121, 167),
        Rgb(230, 159, 0),
        Rgb(86, 180, 233),
        Rgb(0, 0, 0),
        Rgb(240, 228, 66),
    ];
}

/// One point; `top` is the upper end of a bar and equals `y` for everything else.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub x: f64,
    pub y: f64,
    pub top: f64,
}

impl Point {
    pub fn at(x: f64, y: f64) -> Point {
        Point { x, y, top: y }
    }
    pub fn bar(x: f64, y: f64, top: f64) -> Point {
        Point { x, y, top }
    }
}

/// `[x, y]`, or `[x, y, top]` for a bar: compact snapshots.
impl Serialize for Point {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bar = self.top != self.y;
        let mut t = s.serialize_tuple(if bar { 3 } else { 2 })?;
        t.serialize_element(&self.x)?;
        t.serialize_element(&self.y)?;
        if bar {
            t.serialize_element(&self.top)?;
        }
        t.end()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    pub style: Style,
    pub color: Rgb,
    /// Plotted against the second y axis.
    pub secondary: bool,
    pub points: Vec<Point>,
}

impl Series {
    pub fn new(name: &str, style: Style, color: Rgb, points: Vec<Point>) -> Series {
        Series {
            name: name.to_string(),
            style,
            color,
            secondary: false,
            points,
        }
    }

    pub fn on_second_axis(mut self) -> Series {
        self.secondary = true;
        self
    }
}

/// One graph.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chart {
    pub kind: PlotKind,
    /// Flow id, or none for the comparison of flows.
    pub flow: Option<u32>,
    /// `c2s` or `s2c` for per-direction graphs.
    pub direction: Option<crate::flow::Direction>,
    pub title: String,
    /// A line under the title: what was thinned, averages, the fairness index.
    pub caption: String,
    pub x: Axis,
    pub y: Axis,
    pub y2: Option<Axis>,
    pub series: Vec<Series>,
}

impl Chart {
    /// `<stem>-flow<ID>[-<dir>]-<kind>`, or `<stem>-flows` for the comparison.
    pub fn file_stem(&self, capture_stem: &str) -> String {
        match (self.flow, self.direction) {
            (Some(id), Some(d)) => {
                format!(
                    "{capture_stem}-flow{id}-{}-{}",
                    d.as_str(),
                    self.kind.name()
                )
            }
            (Some(id), None) => format!("{capture_stem}-flow{id}-{}", self.kind.name()),
            (None, _) => format!("{capture_stem}-{}", self.kind.name()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_and_units_scale() {
        for k in PlotKind::ALL {
            assert_eq!(PlotKind::parse(k.name()), Ok(k));
        }
        assert!(PlotKind::parse("pie").is_err_and(|e| e.contains("time-sequence")));
        assert_eq!(Unit::Bytes.scale(64_000.0), (1e3, "kB"));
        assert_eq!(Unit::Bytes.scale(2.5e6), (1e6, "MB"));
        assert_eq!(Unit::BitsPerSecond.scale(220e6), (1e6, "Mbit/s"));
        assert_eq!(
            Unit::DatagramsPerSecond.scale(250e3),
            (1e3, "k datagrams/s")
        );
        assert!(PlotKind::DatagramSize.is_udp() && !PlotKind::Throughput.is_udp());
        assert_eq!(Unit::Duration.scale(0.040), (1e-3, "ms"));
        assert_eq!(Unit::Duration.scale(0.0004), (1e-6, "µs"));
    }

    #[test]
    fn empty_ranges_are_widened_and_points_serialise_compactly() {
        let a = Axis::new("x", Unit::Seconds, 3.0, 3.0);
        assert!(a.max > a.min);
        let j = serde_json::to_string(&[Point::at(1.0, 2.0), Point::bar(1.0, 2.0, 5.0)]);
        assert_eq!(j.ok().as_deref(), Some("[[1.0,2.0],[1.0,2.0,5.0]]"));
    }
}
