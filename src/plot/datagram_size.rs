//! The datagram-size graph of a UDP flow direction: each datagram's UDP payload over time, the
//! QUIC handshake's long-header packets marked apart from 1-RTT ones, and the line of the
//! largest payload one MTU-sized packet holds, above which the sender's UDP GSO super-datagrams
//! (or datagrams reassembled from fragments) stand out.

use std::net::IpAddr;

use super::chart::{palette, Chart, PlotKind, Point, Rgb, Series, Style, Unit};
use super::datagrams::{y_axis, Udp};
use super::dir::{describe, x_axis, Canvas};
use super::thin;
use crate::flow::udp_trace::{Datagram, FirstPacket};
use crate::flow::{Flow, Side};
use crate::units;

/// Ethernet's MTU (RFC 894), the line's default when `--mtu` is not given.
const ETHERNET_MTU: u32 = 1500;
/// Linux's loopback MTU (drivers/net/loopback.c), as the GRO model takes it.
const LOOPBACK_MTU: u32 = 65536;
/// UDP header (RFC 768).
const UDP_HEADER: u32 = 8;

/// How a datagram is drawn: one series per class.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Plain,
    OneRtt,
    Gso,
    Initial,
    ZeroRtt,
    Handshake,
    Other,
}

impl Class {
    const ALL: [Class; 7] = [
        Class::Plain,
        Class::OneRtt,
        Class::Gso,
        Class::Initial,
        Class::ZeroRtt,
        Class::Handshake,
        Class::Other,
    ];

    fn of(d: &Datagram) -> Class {
        match d.first {
            _ if d.gso() => Class::Gso,
            FirstPacket::NotQuic => Class::Plain,
            FirstPacket::OneRtt => Class::OneRtt,
            FirstPacket::Initial => Class::Initial,
            FirstPacket::ZeroRtt => Class::ZeroRtt,
            FirstPacket::Handshake => Class::Handshake,
            FirstPacket::Other => Class::Other,
        }
    }

    /// Legend entry, style and colour: long headers as diamonds, the rest as dots.
    fn look(self) -> (&'static str, Style, Rgb) {
        match self {
            Class::Plain => ("datagram", Style::Dot, palette::SIZE),
            Class::OneRtt => ("QUIC 1-RTT (short header)", Style::Dot, palette::SIZE),
            Class::Gso => (
                "QUIC GSO super-datagram (several 1-RTT packets)",
                Style::Dot,
                palette::RETRANSMISSION,
            ),
            Class::Initial => ("QUIC Initial", Style::Diamond, palette::ACK),
            Class::ZeroRtt => ("QUIC 0-RTT", Style::Diamond, palette::OUT_OF_ORDER),
            Class::Handshake => ("QUIC Handshake", Style::Diamond, palette::WINDOW),
            Class::Other => (
                "QUIC other (Retry, Version Negotiation, unparsed)",
                Style::Dot,
                palette::SECOND,
            ),
        }
    }
}

/// The graph of each direction that sent datagrams, client first.
pub fn datagram_sizes(f: &Flow, cv: &Canvas) -> Vec<Chart> {
    let Some(u) = Udp::of(f) else {
        return Vec::new();
    };
    u.sides()
        .into_iter()
        .filter_map(|side| datagram_size(&u, side, cv))
        .collect()
}

/// The largest UDP payload one packet of the link MTU holds, and that MTU.
fn payload_limit(f: &Flow, cv: &Canvas) -> (u32, u32) {
    let (a, b) = (f.key.ends[0].addr, f.key.ends[1].addr);
    let mtu = cv.mtu.unwrap_or(if a.is_loopback() && b.is_loopback() {
        LOOPBACK_MTU
    } else {
        ETHERNET_MTU
    });
    // IPv4 without options (RFC 791), IPv6's fixed header (RFC 8200).
    let ip = if matches!(a, IpAddr::V4(_)) { 20 } else { 40 };
    (mtu.saturating_sub(ip + UDP_HEADER), mtu)
}

fn datagram_size(u: &Udp<'_>, side: Side, cv: &Canvas) -> Option<Chart> {
    let f = u.f;
    let sent: Vec<&Datagram> = u.sent_by(side).collect();
    let point = |d: &Datagram| Point::at(cv.secs(d.t_ns), f64::from(d.len));
    let x = x_axis(sent.iter().map(|d| cv.secs(d.t_ns)));
    let (limit, mtu) = payload_limit(f, cv);
    let max = sent.iter().map(|d| d.len).max()?;
    // The line only when the datagrams come near it: small datagrams (DNS, heartbeats) would
    // otherwise be squeezed into the bottom row of a graph drawn for the line.
    let line = max.saturating_mul(2) >= limit;
    let top = if line { max.max(limit) } else { max };
    let y = y_axis("UDP payload", Unit::Bytes, f64::from(top));
    let grid = cv.grid(&x, &y);
    let mut series = Vec::new();
    if line {
        let at = f64::from(limit);
        series.push(Series::new(
            &format!("largest payload in one {mtu}-byte MTU packet ({limit} bytes)"),
            Style::Line,
            palette::SECOND,
            vec![Point::at(x.min, at), Point::at(x.max, at)],
        ));
    }
    // Path changes under the datagrams, so that none is hidden.
    series.extend(u.path_marks(cv, &y));
    let mut counts = Vec::new();
    for class in Class::ALL {
        let pts: Vec<Point> = sent
            .iter()
            .filter(|d| Class::of(d) == class)
            .map(|d| point(d))
            .collect();
        if pts.is_empty() {
            continue;
        }
        let (name, style, color) = class.look();
        if class != Class::Plain {
            counts.push(format!("{name} {}", units::thousands(pts.len() as u64)));
        }
        series.push(Series::new(name, style, color, thin::cells(&pts, &grid)));
    }
    let above = sent.iter().filter(|d| d.len > limit).count() as u64;
    let mut caption = format!(
        "{} datagrams, {} above the {mtu}-byte MTU ({limit}-byte payload), largest {} bytes",
        units::thousands(sent.len() as u64),
        units::thousands(above),
        units::thousands(u64::from(max)),
    );
    if !counts.is_empty() {
        caption.push_str("; ");
        caption.push_str(&counts.join(", "));
    }
    caption.push_str(&u.notes(cv));
    Some(Chart {
        kind: PlotKind::DatagramSize,
        flow: Some(f.id),
        direction: Some(f.direction(side)),
        title: format!("Datagram size, {}", describe(f, side)),
        caption,
        x,
        y,
        y2: None,
        series,
    })
}
