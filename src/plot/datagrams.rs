//! What the UDP graphs share: a flow's datagram trace as graphs see it ([`Udp`]), where a QUIC
//! connection moved to another path, and the note of a trace that reached its cap.

use super::chart::{palette, Axis, Point, Series, Style, Unit};
use super::dir::Canvas;
use crate::flow::udp_trace::{Datagram, UdpTrace};
use crate::flow::{Flow, Side};
use crate::units;

/// The datagrams of one UDP flow (with its QUIC connection's other paths, when it keeps them).
pub struct Udp<'a> {
    pub f: &'a Flow,
    pub trace: &'a UdpTrace,
}

impl<'a> Udp<'a> {
    /// The flow's trace (`None` for a TCP flow, or one whose trace was not kept or is empty).
    pub fn of(f: &'a Flow) -> Option<Udp<'a>> {
        let trace = f
            .udp_trace
            .as_deref()
            .filter(|t| !t.datagrams().is_empty())?;
        Some(Udp { f, trace })
    }

    /// What `side` sent.
    pub fn sent_by(&self, side: Side) -> impl Iterator<Item = &'a Datagram> + 'a {
        self.trace
            .datagrams()
            .iter()
            .filter(move |d| d.side == side)
    }

    /// The sides that sent datagrams, client first.
    pub fn sides(&self) -> Vec<Side> {
        let f = self.f;
        f.client_first()
            .into_iter()
            .filter(|&s| self.sent_by(s).next().is_some())
            .collect()
    }

    /// First and last datagram times.
    pub fn span(&self) -> Option<(i64, i64)> {
        let mut t = self.trace.datagrams().iter().map(|d| d.t_ns);
        let first = t.next()?;
        Some(t.fold((first, first), |(lo, hi), t| (lo.min(t), hi.max(t))))
    }

    /// Each other path of the QUIC connection in the trace: (its flow id, its first datagram).
    pub fn path_changes(&self) -> Vec<(u32, i64)> {
        let Some(q) = self.f.quic.as_deref() else {
            return Vec::new();
        };
        let mut out: Vec<(u32, i64)> = Vec::new();
        for d in self.trace.datagrams().iter().filter(|d| d.path > 0) {
            let Some(p) = q.paths.get(usize::from(d.path) - 1) else {
                continue;
            };
            let id = p.flow as u32 + 1;
            if !out.iter().any(|(i, _)| *i == id) {
                out.push((id, d.t_ns));
            }
        }
        out
    }

    /// A vertical line at each path change, across `y`.
    pub fn path_marks(&self, cv: &Canvas, y: &Axis) -> Vec<Series> {
        self.path_changes()
            .into_iter()
            .map(|(id, t)| {
                let x = cv.secs(t);
                Series::new(
                    &format!("QUIC path change: flow {id}"),
                    Style::Line,
                    palette::SACK,
                    vec![Point::at(x, y.min), Point::at(x, y.max)],
                )
            })
            .collect()
    }

    /// What the caption must add: the connection's other paths drawn with it, and a trace that
    /// stopped at its cap.
    pub fn notes(&self, cv: &Canvas) -> String {
        let mut notes = String::new();
        for (id, t) in self.path_changes() {
            notes.push_str(&format!(
                "; QUIC path change to flow {id} at {}",
                units::duration(cv.secs(t))
            ));
        }
        if let Some(c) = capped(self.trace) {
            notes.push_str("; ");
            notes.push_str(&c);
        }
        notes
    }
}

/// Share of the height the data may use: the top third stays free for the legend, so that it
/// never hides a datagram (the renderer puts the legend in the corner with the fewest points).
const DATA_HEIGHT: f64 = 0.62;

/// An axis from 0 to above `max` with room for the legend over the data.
pub fn y_axis(label: &str, unit: Unit, max: f64) -> Axis {
    Axis::new(label, unit, 0.0, max.max(0.0) / DATA_HEIGHT)
}

/// The note of a trace that reached its cap: the graph stops at its last kept datagram.
pub fn capped(t: &UdpTrace) -> Option<String> {
    (t.not_kept() > 0).then(|| {
        format!(
            "capped: only the first {} datagrams are kept per flow, {} later ones are not drawn",
            units::thousands(t.cap() as u64),
            units::thousands(t.not_kept())
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::udp_trace::FirstPacket;

    #[test]
    fn a_capped_trace_says_so() {
        let mut t = UdpTrace::with_cap(2);
        assert_eq!(capped(&t), None);
        for i in 0..5 {
            t.push(Datagram {
                t_ns: i,
                len: 100,
                side: Side::A,
                first: FirstPacket::NotQuic,
                bits: 0,
                path: 0,
            });
        }
        let note = capped(&t).unwrap_or_default();
        assert!(note.contains("first 2 datagrams"), "{note}");
        assert!(note.contains("3 later ones"), "{note}");
    }
}
