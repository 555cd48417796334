//! The spin-bit RTT graph of a QUIC connection: per direction whose sender spins (RFC 9000
//! §17.4, judged by `quic::spin`), one sample at every edge of the spin bit, the time since the
//! previous edge of that direction (RFC 9312 §3.8.2), with the handshake's first RTT sample as a
//! reference line.

use super::chart::{palette, Axis, Chart, PlotKind, Point, Series, Style, Unit};
use super::datagrams::Udp;
use super::dir::{tunnel, x_axis, Canvas};
use super::thin;
use crate::flow::udp_trace::FirstPacket;
use crate::flow::Flow;
use crate::units;

/// The samples of every direction that spins; `None` when none does.
pub fn spin_rtt(f: &Flow, cv: &Canvas) -> Option<Chart> {
    let u = Udp::of(f)?;
    let mut per_dir = Vec::new();
    let mut reference = None;
    for side in u.sides() {
        let (spins, r) = f.quic_spins(side);
        reference = r;
        if !spins {
            continue;
        }
        let (mut last_bit, mut last_edge, mut pts) = (None, None, Vec::new());
        for d in u.sent_by(side).filter(|d| d.first == FirstPacket::OneRtt) {
            if last_bit.is_some_and(|b| b != d.spin()) {
                if let Some(t0) = last_edge {
                    pts.push(Point::at(cv.secs(d.t_ns), (d.t_ns - t0) as f64 / 1e9));
                }
                last_edge = Some(d.t_ns);
            }
            last_bit = Some(d.spin());
        }
        per_dir.push((side, pts));
    }
    if per_dir.iter().all(|(_, p)| p.is_empty()) {
        return None;
    }
    let x = x_axis(per_dir.iter().flat_map(|(_, p)| p.iter().map(|p| p.x)));
    let ys: Vec<f64> = per_dir
        .iter()
        .flat_map(|(_, p)| p.iter().map(|p| p.y))
        .chain(reference.map(|r| r as f64 / 1e9))
        .collect();
    let y = Axis::fitting("spin-bit RTT", Unit::Duration, ys.iter());
    let grid = cv.grid(&x, &y);
    let mut series: Vec<Series> = per_dir
        .iter()
        .zip([palette::SIZE, palette::SECOND])
        .map(|((side, pts), color)| {
            let name = format!("{} spin edges", f.direction(*side).as_str());
            Series::new(&name, Style::Dot, color, thin::cells(pts, &grid))
        })
        .collect();
    if let Some(r) = reference {
        let r = r as f64 / 1e9;
        series.push(Series::new(
            "handshake's first RTT sample",
            Style::Line,
            palette::SACK,
            vec![Point::at(x.min, r), Point::at(x.max, r)],
        ));
    }
    let caption = per_dir
        .iter()
        .map(|(side, p)| {
            let mut v: Vec<f64> = p.iter().map(|p| p.y).collect();
            v.sort_by(f64::total_cmp);
            let median = v.get(v.len().saturating_sub(1) / 2).copied().unwrap_or(0.0);
            format!(
                "{} {} samples, median {}",
                f.direction(*side).as_str(),
                v.len(),
                units::duration(median)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    Some(Chart {
        kind: PlotKind::SpinRtt,
        flow: Some(f.id),
        direction: None,
        title: format!(
            "Spin-bit RTT, flow {}: {} ↔ {}{}",
            f.id,
            f.client(),
            f.server(),
            tunnel(f)
        ),
        caption: format!(
            "one sample per edge of the latency spin bit (RFC 9312 §3.8.2); {caption}"
        ),
        x,
        y,
        y2: None,
        series,
    })
}
