//! An endpoint's own congestion window and bytes in flight over time, as its qlog logged them,
//! drawn on a QUIC connection's datagram-rate graph on the capture's time axis. The pipeline
//! joins the qlog with the capture and hands the samples here already on the capture's clock:
//! plots read flows and these samples, never the qlog or the analysis.

use super::chart::{palette, Point, Series, Style};
use super::dir::Canvas;

/// One moment of an endpoint's recovery state (capture clock, ns).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    pub t_ns: i64,
    pub cwnd: Option<u64>,
    pub in_flight: Option<u64>,
}

/// What one endpoint of flow `flow` logged (`endpoint`: "client" or "server").
#[derive(Debug, Clone, Default)]
pub struct EndpointWindow {
    pub flow: u32,
    pub endpoint: &'static str,
    pub samples: Vec<Sample>,
}

/// The windows logged for flow `id`, at most one per endpoint.
pub fn of_flow(cv: &Canvas, id: u32) -> impl Iterator<Item = &EndpointWindow> {
    cv.windows
        .iter()
        .filter(move |w| w.flow == id && !w.samples.is_empty())
}

/// The congestion window and bytes in flight lines of `w` (steps: each value holds until the
/// next), on the second axis, and their largest value.
pub fn series(w: &EndpointWindow, cv: &Canvas) -> (Vec<Series>, f64) {
    let line = |pick: fn(&Sample) -> Option<u64>| -> Vec<Point> {
        w.samples
            .iter()
            .filter_map(|s| pick(s).map(|v| Point::at(cv.secs(s.t_ns), v as f64)))
            .collect()
    };
    let (cwnd, in_flight) = (line(|s| s.cwnd), line(|s| s.in_flight));
    let max = cwnd
        .iter()
        .chain(&in_flight)
        .map(|p| p.y)
        .fold(0.0, f64::max);
    let mut out = Vec::new();
    for (name, points, color) in [
        ("congestion window", cwnd, palette::WINDOW),
        ("bytes in flight", in_flight, palette::SACK),
    ] {
        if !points.is_empty() {
            out.push(
                Series::new(
                    &format!("{}'s {name} (qlog, right axis)", w.endpoint),
                    Style::Step,
                    color,
                    points,
                )
                .on_second_axis(),
            );
        }
    }
    (out, max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_value_becomes_a_point_of_its_own_line_on_the_second_axis() {
        let mut cv = crate::plot::canvas(1_000_000_000, 100_000_000, (100, 100));
        let w = EndpointWindow {
            flow: 3,
            endpoint: "server",
            samples: vec![
                Sample {
                    t_ns: 1_500_000_000,
                    cwnd: Some(14_720),
                    in_flight: None,
                },
                Sample {
                    t_ns: 2_000_000_000,
                    cwnd: Some(20_000),
                    in_flight: Some(4_800),
                },
            ],
        };
        cv.windows.push(w.clone());
        assert_eq!(of_flow(&cv, 3).count(), 1);
        assert_eq!(of_flow(&cv, 4).count(), 0);
        let (s, max) = series(&w, &cv);
        assert_eq!(s.len(), 2);
        assert!(s.iter().all(|s| s.secondary));
        assert_eq!(
            s[0].points,
            vec![Point::at(0.5, 14_720.0), Point::at(1.0, 20_000.0)]
        );
        assert_eq!(s[1].points, vec![Point::at(1.0, 4_800.0)]);
        assert_eq!(max, 20_000.0);
        assert!(s[0].name.starts_with("server's congestion window"));
    }
}
