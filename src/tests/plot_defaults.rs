//! What the default graphs show and leave out: time from the flow's first frame, frame sizes
//! only on request, the unscaled window named, the statistical graphs only for directions with
//! enough data, and the rate graphs' legend above the data.

use offload_doctor::analysis::Settings;
use offload_doctor::decode::DecodeConfig;
use offload_doctor::pipeline::plot_charts;
use offload_doctor::plot::chart::{Chart, PlotKind, Style, Unit};
use offload_doctor::plot::{Options, MIN_DATA_SEGMENTS};

use crate::plots::{chart, fixture, series, SIZE};

fn charts_with(name: &str, ids: &[u32], kinds: &[PlotKind], opts: Options) -> Vec<Chart> {
    let (cfg, settings) = (DecodeConfig::default(), Settings::default());
    let (charts, damaged) =
        plot_charts(&fixture(name), &cfg, &settings, ids, kinds, SIZE, opts).expect("charts");
    assert!(damaged.is_none());
    charts
}

#[test]
fn time_counts_from_the_flows_first_frame_not_the_captures() {
    // Two captures joined 5.8 years apart: flow 2 starts 184,280,000 s after the capture.
    let c = charts_with(
        "pcap_joined_years_apart.pcap",
        &[1, 2],
        &PlotKind::ALL,
        Options::default(),
    );
    let timed: Vec<&Chart> = c
        .iter()
        .filter(|c| c.x.unit == Unit::Seconds && c.kind != PlotKind::Flows)
        .collect();
    assert!(timed.iter().any(|c| c.flow == Some(2)));
    for g in &timed {
        // Each flow lasts 0.15 s: its axis stays within a little of 0 to 0.15 s.
        assert!(g.x.min > -0.01 && g.x.min < 0.05, "{}: {:?}", g.title, g.x);
        assert!(g.x.max < 1.0, "{}: {:?}", g.title, g.x);
    }
    let tsg = chart(&c, PlotKind::TimeSequence, Some("s2c"));
    let last = c
        .iter()
        .rfind(|g| g.kind == PlotKind::TimeSequence && g.flow == Some(2))
        .expect("flow 2's time-sequence graph");
    // The same conversation at the same offsets from its own first frame: the same bars.
    assert_eq!(
        series(&tsg, "data segment", Style::Bar),
        series(last, "data segment", Style::Bar)
    );
    let first_bar = series(last, "data segment", Style::Bar).expect("bars")[0];
    // Its SYN/ACK, frame 2, 10 ms after the flow's first frame.
    assert!((first_bar.x - 0.01).abs() < 1e-6, "{first_bar:?}");
    // The comparison of both flows counts from the earlier one.
    let flows = chart(&c, PlotKind::Flows, None);
    assert!(flows.x.max > 184_000_000.0, "{:?}", flows.x);
    assert_eq!(flows.x.label, "time since the first flow's first frame");
}

#[test]
fn frame_sizes_join_the_time_sequence_graph_only_on_request() {
    let kinds = [PlotKind::TimeSequence];
    let plain = charts_with("offload_gro_receive.pcap", &[1], &kinds, Options::default());
    let tsg = chart(&plain, PlotKind::TimeSequence, None);
    assert!(tsg.y2.is_none());
    assert!(tsg.series.iter().all(|s| !s.secondary), "{:?}", tsg.series);
    assert!(!tsg.caption.contains("MSS"), "{}", tsg.caption);
    let opts = Options {
        frame_sizes: true,
        ..Options::default()
    };
    let asked = charts_with("offload_gro_receive.pcap", &[1], &kinds, opts);
    let tsg = chart(&asked, PlotKind::TimeSequence, None);
    assert!(series(&tsg, "frame size (right axis)", Style::Dot).is_some_and(|p| !p.is_empty()));
    assert!(tsg.y2.is_some());
    assert!(tsg.caption.contains("MSS units"), "{}", tsg.caption);
}

#[test]
fn a_window_without_its_handshake_is_labelled_unscaled() {
    let unscaled = "window (unscaled: no handshake seen)";
    let kinds = [PlotKind::TimeSequence];
    let c = charts_with("tcp_no_handshake.pcap", &[1], &kinds, Options::default());
    let tsg = chart(&c, PlotKind::TimeSequence, Some("s2c"));
    assert!(series(&tsg, unscaled, Style::Step).is_some_and(|p| !p.is_empty()));
    assert!(series(&tsg, "receive window", Style::Step).is_none());
    assert!(tsg.caption.contains(unscaled), "{}", tsg.caption);
    // With the handshake the window is scaled and plainly named.
    let c = charts_with(
        "tcp_span_duplicates_far.pcap",
        &[1],
        &kinds,
        Options::default(),
    );
    let tsg = chart(&c, PlotKind::TimeSequence, Some("s2c"));
    assert!(series(&tsg, "receive window", Style::Step).is_some());
    assert!(!tsg.caption.contains("unscaled"), "{}", tsg.caption);
}

#[test]
fn a_direction_of_a_few_segments_gets_no_statistical_graphs_unless_asked() {
    // Flow 1: a request of 2 data segments (c2s), an answer of 48 (s2c).
    let name = "tcp_span_duplicates_far.pcap";
    let of = |c: &[Chart], dir: &str| -> Vec<PlotKind> {
        c.iter()
            .filter(|g| g.direction.map(|d| d.as_str()) == Some(dir))
            .map(|g| g.kind)
            .collect()
    };
    let c = charts_with(name, &[1], &PlotKind::ALL, Options::default());
    const { assert!(MIN_DATA_SEGMENTS > 2) };
    assert_eq!(of(&c, "c2s"), [PlotKind::TimeSequence]);
    let s2c = of(&c, "s2c");
    for k in [
        PlotKind::TimeSequence,
        PlotKind::Inflight,
        PlotKind::SegmentSize,
    ] {
        assert!(s2c.contains(&k), "{k:?} missing: {s2c:?}");
    }
    // `--kind` forces them.
    let forced = Options {
        forced: true,
        ..Options::default()
    };
    let kinds = [PlotKind::Inflight, PlotKind::SegmentSize];
    let c = charts_with(name, &[1], &kinds, forced);
    assert_eq!(of(&c, "c2s"), kinds);
}

#[test]
fn the_rate_legend_has_room_above_the_data() {
    let c = charts_with(
        "tcp_starved_connection.pcap",
        &[1],
        &[PlotKind::Throughput],
        Options::default(),
    );
    let thr = chart(&c, PlotKind::Throughput, None);
    let top = thr
        .series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.y))
        .fold(0.0f64, f64::max);
    let names = thr.series.len();
    // The legend's lines take about 4% of the height each: the data stays below them.
    assert!(names >= 4);
    let free = 1.0 - top / thr.y.max;
    assert!(
        free >= (names as f64 + 1.5) * 0.04 - 1e-9,
        "{free} for {names} entries"
    );
}
