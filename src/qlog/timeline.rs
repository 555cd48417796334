//! When, in one trace, the endpoint sent packets, declared them lost and saw its probe timer
//! expire: a bounded list of time marks, so a silence in the capture can be held against what
//! the endpoint was doing meanwhile (the `quic-stall` finding).
//!
//! Events close together share one mark. The marks start 1 ms wide; when [`MAX_MARKS`] are in
//! use the width doubles and neighbours merge, so a trace of any length keeps at most
//! [`MAX_MARKS`] marks and the time of each event to within the current width.

/// Marks kept per trace (32 bytes each).
pub const MAX_MARKS: usize = 2048;
/// The first width of a mark: events within 1 ms of a mark's first are one mark.
const FIRST_WIDTH_MS: f64 = 1.0;

/// What an event was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mark {
    Sent,
    Lost,
    /// The probe timeout expired (RFC 9002 §6.2; qlog `loss_timer_updated`, `expired`).
    Pto,
}

/// Events counted over some span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    pub sent: u64,
    pub lost: u64,
    pub probe_timeouts: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.sent += o.sent;
        self.lost += o.lost;
        self.probe_timeouts += o.probe_timeouts;
    }
}

#[derive(Debug, Clone, Copy)]
struct Span {
    first_ms: f64,
    last_ms: f64,
    n: Counts,
}

/// The marks of one trace, in the order the events came.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    marks: Vec<Span>,
    width_ms: f64,
}

impl Timeline {
    pub fn record(&mut self, t_ms: f64, what: Mark) {
        if !t_ms.is_finite() {
            return;
        }
        let mut n = Counts::default();
        match what {
            Mark::Sent => n.sent = 1,
            Mark::Lost => n.lost = 1,
            Mark::Pto => n.probe_timeouts = 1,
        }
        let width = self.width();
        if let Some(m) = self.marks.last_mut() {
            if (t_ms - m.first_ms).abs() < width {
                m.first_ms = m.first_ms.min(t_ms);
                m.last_ms = m.last_ms.max(t_ms);
                m.n.add(&n);
                return;
            }
        }
        if self.marks.len() == MAX_MARKS {
            self.coarsen();
        }
        self.marks.push(Span {
            first_ms: t_ms,
            last_ms: t_ms,
            n,
        });
    }

    fn width(&self) -> f64 {
        if self.width_ms > 0.0 {
            self.width_ms
        } else {
            FIRST_WIDTH_MS
        }
    }

    /// Doubles the width and merges each mark into the one before it when they now fit in one.
    fn coarsen(&mut self) {
        while self.marks.len() * 4 > MAX_MARKS * 3 {
            self.width_ms = self.width() * 2.0;
            let width = self.width_ms;
            let mut kept: Vec<Span> = Vec::with_capacity(self.marks.len());
            for m in self.marks.drain(..) {
                match kept.last_mut() {
                    Some(k) if (m.last_ms - k.first_ms).abs() < width => {
                        k.first_ms = k.first_ms.min(m.first_ms);
                        k.last_ms = k.last_ms.max(m.last_ms);
                        k.n.add(&m.n);
                    }
                    _ => kept.push(m),
                }
            }
            self.marks = kept;
        }
    }

    /// Moves every mark by `offset_ms` (onto the capture's clock).
    pub fn shift(&mut self, offset_ms: f64) {
        for m in &mut self.marks {
            m.first_ms += offset_ms;
            m.last_ms += offset_ms;
        }
    }

    /// Events whose marks lie wholly inside `(from_ms, to_ms)`: a mark that straddles either end
    /// is left out, so the count never takes in an event from outside the span.
    pub fn within(&self, from_ms: f64, to_ms: f64) -> Counts {
        let mut c = Counts::default();
        for m in &self.marks {
            if m.first_ms > from_ms && m.last_ms < to_ms {
                c.add(&m.n);
            }
        }
        c
    }

    /// Every event recorded.
    pub fn total(&self) -> Counts {
        self.within(f64::NEG_INFINITY, f64::INFINITY)
    }

    pub fn marks(&self) -> usize {
        self.marks.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_inside_a_span_are_counted_and_those_at_its_edges_are_not() {
        let mut t = Timeline::default();
        t.record(99.5, Mark::Sent); // the last packet before the silence
        for ms in [300.0, 600.0, 1200.0] {
            t.record(ms, Mark::Sent);
            t.record(ms + 0.2, Mark::Pto);
        }
        t.record(1500.0, Mark::Lost);
        t.record(2000.0, Mark::Sent); // the answer
        let c = t.within(100.0, 2000.0);
        assert_eq!(
            c,
            Counts {
                sent: 3,
                lost: 1,
                probe_timeouts: 3
            }
        );
        assert_eq!(t.total().sent, 5);
        // A mark straddling the start is left out.
        assert_eq!(t.within(300.1, 2500.0).sent, 3);
    }

    #[test]
    fn a_long_trace_stays_bounded_and_keeps_every_event() {
        let mut t = Timeline::default();
        let n = 20 * MAX_MARKS as u64;
        for i in 0..n {
            t.record(
                i as f64 * 5.0,
                if i % 10 == 0 { Mark::Lost } else { Mark::Sent },
            );
        }
        assert!(t.marks() <= MAX_MARKS, "{} marks", t.marks());
        let c = t.total();
        assert_eq!(c.sent + c.lost, n);
        assert_eq!(c.lost, n / 10);
        // Late in the trace, a span 10 widths long still counts what it holds, to a width.
        let mid = n as f64 * 2.5;
        let got =
            t.within(mid, mid + 10.0 * t.width()).sent + t.within(mid, mid + 10.0 * t.width()).lost;
        let exact = (10.0 * t.width() / 5.0) as u64;
        assert!(
            got <= exact && got + 2 * (t.width() / 5.0) as u64 >= exact,
            "{got} vs {exact}"
        );
    }

    #[test]
    fn non_finite_times_are_ignored() {
        let mut t = Timeline::default();
        t.record(f64::NAN, Mark::Sent);
        t.record(f64::INFINITY, Mark::Lost);
        assert_eq!(t.total(), Counts::default());
    }
}
