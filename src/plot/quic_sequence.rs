//! With a key log (`--keylog`): the QUIC time-sequence graph of a connection direction (in
//! stream bytes, [`quic_stream`], or where no stream is visible) and `quic-packets`, in
//! tcptrace's spirit with packet numbers on the y axis (QUIC never resends a number, so a lost
//! packet stays a gap in the line of sends): each decrypted packet as the capture saw it, the
//! largest number the peer had acknowledged as a step line, and the packets declared lost by
//! RFC 9002's thresholds, seen here (lost after the capture point) or never seen (before it);
//! and the QUIC RTT graph: the samples at the capture point from the ACK frames.

use super::chart::{palette, Axis, Chart, PlotKind, Point, Series, Style, Unit};
use super::dir::{tunnel, x_axis, Canvas};
use super::quic_stream;
use super::thin;
use crate::flow::{Flow, Side};
use crate::units;

/// One time-sequence graph per direction whose packets were decrypted: in stream bytes when the
/// direction carried stream data ([`quic_stream`]), else in packet numbers.
pub fn quic_sequence(f: &Flow, cv: &Canvas) -> Vec<Chart> {
    f.client_first()
        .into_iter()
        .filter_map(|side| {
            quic_stream::stream_chart(f, side, cv)
                .or_else(|| packets(f, side, cv, PlotKind::QuicSequence))
        })
        .collect()
}

/// One graph of packet numbers per direction whose packets were decrypted.
pub fn quic_packets(f: &Flow, cv: &Canvas) -> Vec<Chart> {
    f.client_first()
        .into_iter()
        .filter_map(|side| packets(f, side, cv, PlotKind::QuicPackets))
        .collect()
}

fn packets(f: &Flow, side: Side, cv: &Canvas, kind: PlotKind) -> Option<Chart> {
    let t = f.quic_trace(side)?;
    let sent = t.sent.items();
    if sent.is_empty() {
        return None;
    }
    let pt = |t_ns: i64, pn: u64| Point::at(cv.secs(t_ns), pn as f64);
    let x = x_axis(sent.iter().map(|p| cv.secs(p.t_ns)));
    let top = sent.iter().map(|p| p.pn).max().unwrap_or(0) as f64;
    let y = Axis::new("packet number", Unit::Frame, 0.0, (top * 1.05).max(1.0));
    let grid = cv.grid(&x, &y);
    let sends = |eliciting: bool| -> Vec<Point> {
        let pts: Vec<Point> = sent
            .iter()
            .filter(|p| p.eliciting == eliciting)
            .map(|p| pt(p.t_ns, p.pn))
            .collect();
        thin::cells(&pts, &grid)
    };
    let acked: Vec<Point> = t
        .acks
        .items()
        .iter()
        .map(|a| pt(a.t_ns, a.largest))
        .collect();
    let lost = |before: bool| -> Vec<Point> {
        let pts: Vec<Point> = t
            .lost
            .items()
            .iter()
            .filter(|l| l.before_capture == before)
            .map(|l| pt(l.t_ns, l.pn))
            .collect();
        thin::cells(&pts, &grid)
    };
    let mut series = vec![
        Series::new("packet sent", Style::Dot, palette::DATA, sends(true)),
        Series::new("ACK-only packet", Style::Dot, palette::SECOND, sends(false)),
        Series::new(
            "largest acknowledged by the peer",
            Style::Step,
            palette::ACK,
            thin::m4(&acked, &grid),
        ),
        Series::new(
            "lost after the capture point (seen here, never acknowledged)",
            Style::Label('L'),
            palette::RETRANSMISSION,
            lost(false),
        ),
        Series::new(
            "lost before the capture point (never seen)",
            Style::Label('M'),
            palette::ZERO_WINDOW,
            lost(true),
        ),
    ];
    series.retain(|s| !s.points.is_empty());
    let d = f.direction(side);
    Some(Chart {
        kind,
        flow: Some(f.id),
        direction: Some(d),
        title: title(f, side, ""),
        caption: format!(
            "{} 1-RTT packets decrypted with the key log, {} declared lost (RFC 9002 \
             thresholds at the peer's ACKs)",
            units::thousands(t.sent.seen()),
            units::thousands(t.lost.seen()),
        ),
        x,
        y,
        y2: None,
        series,
    })
}

/// "QUIC time-sequence, flow 1 s2c: A → B", then `more`.
pub(super) fn title(f: &Flow, side: Side, more: &str) -> String {
    format!(
        "QUIC time-sequence, flow {} {}: {} → {}{}{more}",
        f.id,
        f.direction(side).as_str(),
        f.key.end(side),
        f.key.end(side.other()),
        tunnel(f)
    )
}

/// The RTT samples of both directions, from each side's packets to the peer's ACK of them.
pub fn quic_rtt(f: &Flow, cv: &Canvas) -> Option<Chart> {
    let per_dir: Vec<(Side, Vec<Point>)> = f
        .client_first()
        .into_iter()
        .filter_map(|side| {
            let t = f.quic_trace(side)?;
            let pts: Vec<Point> = t
                .rtts
                .items()
                .iter()
                .map(|r| Point::at(cv.secs(r.t_ns), r.rtt_ns as f64 / 1e9))
                .collect();
            (!pts.is_empty()).then_some((side, pts))
        })
        .collect();
    if per_dir.is_empty() {
        return None;
    }
    let x = x_axis(per_dir.iter().flat_map(|(_, p)| p.iter().map(|p| p.x)));
    let ys: Vec<f64> = per_dir
        .iter()
        .flat_map(|(_, p)| p.iter().map(|p| p.y))
        .collect();
    let y = Axis::fitting("RTT at the capture point", Unit::Duration, ys.iter());
    let grid = cv.grid(&x, &y);
    let series = per_dir
        .iter()
        .zip([palette::SIZE, palette::SECOND])
        .map(|((side, pts), color)| {
            let name = format!(
                "{} packets, acknowledged by the peer",
                f.direction(*side).as_str()
            );
            Series::new(&name, Style::Dot, color, thin::cells(pts, &grid))
        })
        .collect();
    Some(Chart {
        kind: PlotKind::QuicRtt,
        flow: Some(f.id),
        direction: None,
        title: format!(
            "QUIC RTT, flow {}: {} ↔ {}{}",
            f.id,
            f.client(),
            f.server(),
            tunnel(f)
        ),
        caption: "from a packet passing the capture point to the ACK of it passing back, minus \
                  the ACK's ack_delay (RFC 9002 §5.3); the two directions add up to the path's \
                  round trip"
            .to_string(),
        x,
        y,
        y2: None,
        series,
    })
}
