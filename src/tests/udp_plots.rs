//! Graphs of UDP flows: the datagram-rate and datagram-size graphs of QUIC connections (GSO
//! super-datagrams, a connection on two paths) and of plain UDP, the default choice of flows in
//! a capture mixing TCP and UDP, and the files `plot` and `analyze --plots` write for them.

use std::fs;

use crate::common::{root, run};
use crate::plots::{
    chart, charts, files, fixture, flow_charts, png_size, series, svg_size, temp_dir,
};
use offload_doctor::analysis::Settings;
use offload_doctor::decode::DecodeConfig;
use offload_doctor::pipeline::{busiest_flows, run_analysis};
use offload_doctor::plot::chart::{Chart, PlotKind, Point, Style};

/// The datagrams a per-second step line holds: each bin's rate times the bin width.
fn datagrams_in(points: &[Point]) -> f64 {
    let step = points.get(1).map_or(0.0, |p| p.x) - points.first().map_or(0.0, |p| p.x);
    let n: f64 = points.iter().rev().skip(1).map(|p| p.y * step).sum();
    n.round()
}

/// The payload size line of a datagram-size graph.
fn mtu_line(c: &Chart) -> f64 {
    c.series
        .iter()
        .find(|s| {
            s.name
                .starts_with("largest payload in one 1500-byte MTU packet")
        })
        .and_then(|s| s.points.first())
        .map(|p| p.y)
        .expect("the MTU line")
}

#[test]
fn a_quic_gso_sender_has_its_super_datagrams_above_the_mtu_line() {
    let c = flow_charts("quic_udp_gso_sender.pcap", &[1]);
    // The two UDP graphs only: one rate graph, one size graph per direction.
    let kinds: Vec<(PlotKind, Option<&str>)> = c
        .iter()
        .map(|c| (c.kind, c.direction.map(|d| d.as_str())))
        .collect();
    assert_eq!(
        kinds,
        [
            (PlotKind::DatagramRate, None),
            (PlotKind::DatagramSize, Some("c2s")),
            (PlotKind::DatagramSize, Some("s2c")),
        ]
    );
    let s2c = chart(&c, PlotKind::DatagramSize, Some("s2c"));
    assert_eq!(mtu_line(&s2c), 1472.0);
    let gso = series(
        &s2c,
        "QUIC GSO super-datagram (several 1-RTT packets)",
        Style::Dot,
    )
    .expect("GSO super-datagrams");
    assert_eq!(gso.len(), 6);
    assert!(gso.iter().all(|p| p.y == 12_000.0), "{gso:?}");
    let initial = series(&s2c, "QUIC Initial", Style::Diamond).expect("the server's Initial");
    assert_eq!((initial.len(), initial[0].y), (1, 1200.0));
    assert!(series(&s2c, "QUIC 1-RTT (short header)", Style::Dot).is_none());
    assert!(
        s2c.caption
            .contains("6 above the 1500-byte MTU (1472-byte payload)"),
        "{}",
        s2c.caption
    );
    // The client's ACKs: small 1-RTT datagrams, below the line, none taken for GSO.
    let c2s = chart(&c, PlotKind::DatagramSize, Some("c2s"));
    let acks = series(&c2s, "QUIC 1-RTT (short header)", Style::Dot).expect("1-RTT");
    assert_eq!(acks.len(), 6);
    assert!(acks.iter().all(|p| p.y < 1472.0));
    assert!(series(&c2s, "QUIC Initial", Style::Diamond).is_some_and(|p| p.len() == 1));
    assert!(c2s.series.iter().all(|s| !s.name.contains("GSO")));
    // The rate graph counts every datagram of each direction, on the right axis.
    let rate = chart(&c, PlotKind::DatagramRate, None);
    assert!(rate.y2.is_some());
    for dir in ["c2s", "s2c"] {
        let n = series(&rate, &format!("{dir} datagrams (right axis)"), Style::Step)
            .expect("datagrams/s");
        assert_eq!(datagrams_in(n), 7.0, "{dir}");
        assert!(series(&rate, &format!("{dir} UDP payload"), Style::Step).is_some());
    }
}

#[test]
fn a_quic_connection_on_two_paths_is_drawn_with_its_path_change() {
    let c = flow_charts("quic_rebinding_one_connection.pcap", &[1, 2]);
    let of = |flow: u32, dir: &str| {
        c.iter()
            .find(|c| {
                c.kind == PlotKind::DatagramSize
                    && c.flow == Some(flow)
                    && c.direction.map(|d| d.as_str()) == Some(dir)
            })
            .cloned()
            .unwrap_or_else(|| panic!("flow {flow} {dir}"))
    };
    let points = |c: &Chart| -> Vec<Point> {
        c.series
            .iter()
            .filter(|s| s.style != Style::Line)
            .flat_map(|s| s.points.clone())
            .collect()
    };
    // The connection's flow: its own 6 datagrams each way and the 6 of its other path.
    let conn = of(1, "c2s");
    let all = points(&conn);
    assert_eq!(all.len(), 12);
    let change = series(&conn, "QUIC path change: flow 2", Style::Line).expect("the change");
    assert!((change[0].x - 0.661).abs() < 1e-9, "{change:?}");
    // After the change the client's datagrams (308-byte UDP, 300 payload) keep their side.
    assert!(all.iter().filter(|p| p.x >= 0.661).all(|p| p.y == 300.0));
    assert_eq!(points(&of(1, "s2c")).len(), 12);
    assert!(
        conn.caption.contains("path change to flow 2"),
        "{}",
        conn.caption
    );
    // The path's own flow: its datagrams only, no change to mark.
    let path = of(2, "c2s");
    assert_eq!(points(&path).len(), 6);
    assert!(path.series.iter().all(|s| !s.name.contains("path change")));
}

#[test]
fn plain_udp_flows_get_both_graphs_and_few_datagrams_are_not_picked() {
    // A DNS lookup (flow 1): one query, one answer, drawn when named.
    let c = flow_charts("quic_initials_unanswered.pcap", &[1]);
    let q = chart(&c, PlotKind::DatagramSize, Some("c2s"));
    assert_eq!(
        series(&q, "datagram", Style::Dot).map(|p| p.to_vec()),
        Some(vec![Point::at(0.0, 24.0)])
    );
    let a = chart(&c, PlotKind::DatagramSize, Some("s2c"));
    assert!(series(&a, "datagram", Style::Dot).is_some_and(|p| p.len() == 1 && p[0].y == 44.0));
    assert!(a.series.iter().all(|s| !s.name.starts_with("QUIC")));
    assert_eq!(
        c.iter()
            .filter(|c| c.kind == PlotKind::DatagramRate)
            .count(),
        1
    );
    // Too few datagrams to be among the busiest flows by default: the DNS lookup never is;
    // the 4 unanswered Initials are, since no flow of the capture has more.
    let (cfg, settings) = (DecodeConfig::default(), Settings::default());
    let first = run_analysis(&fixture("quic_initials_unanswered.pcap"), &cfg, &settings)
        .expect("fixture reads");
    assert_eq!(busiest_flows(&first.flows, 3), [2]);
    // A heartbeat of 30 datagrams is.
    let c = charts("udp_heartbeat.pcap");
    assert_eq!(c.len(), 3, "rate and two size graphs");
    let beat = chart(&c, PlotKind::DatagramSize, Some("c2s"));
    assert!(series(&beat, "datagram", Style::Dot).is_some_and(|p| p.len() == 15));
    // 40-byte datagrams far below the MTU: no line to squeeze them into the bottom row.
    assert_eq!(beat.series.len(), 1);
    assert!(beat.y.max < 100.0, "{:?}", beat.y);
}

#[test]
fn a_capture_mixing_tcp_and_udp_plots_both_and_udp_kinds_only_for_udp() {
    // Four TCP flows (three of 25 KB, one of 1 KB), then a 14 KB UDP flow of 58 datagrams.
    let mut bytes =
        fs::read(root().join("testdata/fixtures/tcp_starved_connection.pcap")).expect("fixture");
    let udp = fs::read(root().join("testdata/fixtures/udp_stall.pcap")).expect("fixture");
    bytes.extend_from_slice(&udp[24..]);
    let dir = temp_dir("mixed");
    fs::create_dir_all(&dir).expect("temp dir");
    let cap = dir.join("mixed.pcap");
    fs::write(&cap, bytes).expect("writable");
    let (c, out) = (cap.to_string_lossy().into_owned(), dir.join("g"));
    let o = out.to_string_lossy().into_owned();
    let r = run(&[
        "plot",
        &c,
        "--out",
        &o,
        "--top",
        "3",
        "--kind",
        "throughput",
        "--kind",
        "datagram-rate",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // The three busiest are the large TCP flows, as before.
    assert_eq!(
        files(&out),
        [
            "mixed-flow1-throughput.png",
            "mixed-flow2-throughput.png",
            "mixed-flow3-throughput.png"
        ]
    );
    let _ = fs::remove_dir_all(&out);
    let r = run(&["plot", &c, "--out", &o, "--top", "5"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let names = files(&out);
    for want in [
        "mixed-flow5-datagram-rate.png",
        "mixed-flow5-c2s-datagram-size.png",
        "mixed-flow5-s2c-datagram-size.png",
        "mixed-flow4-throughput.png",
        "mixed-flows.png",
    ] {
        assert!(names.contains(&want.to_string()), "{want}: {names:?}");
    }
    // No TCP graph of the UDP flow, no UDP graph of a TCP flow.
    assert!(
        names
            .iter()
            .filter(|n| n.starts_with("mixed-flow5-"))
            .count()
            == 3,
        "{names:?}"
    );
    assert!(!names
        .iter()
        .any(|n| n.contains("datagram") && !n.starts_with("mixed-flow5-")));
    // A UDP flow asked only for TCP graphs has none: the one case left for "not TCP".
    let r = run(&["plot", &c, "--out", &o, "--flow", "5", "--kind", "rtt"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("flow 5 is not TCP"), "{}", r.stderr);
    assert!(r.stderr.contains("--kind datagram-rate"), "{}", r.stderr);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn udp_graphs_render_as_png_and_svg() {
    for format in ["png", "svg"] {
        let dir = temp_dir(&format!("udp-{format}"));
        let d = dir.to_string_lossy().into_owned();
        let fixture = "testdata/fixtures/quic_udp_gso_sender.pcap";
        let r = run(&[
            "plot", fixture, "--out", &d, "--flow", "1", "--format", format, "--size", "800x450",
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let names = files(&dir);
        let want: Vec<String> = ["c2s-datagram-size", "datagram-rate", "s2c-datagram-size"]
            .iter()
            .map(|k| format!("quic_udp_gso_sender-flow1-{k}.{format}"))
            .collect();
        assert_eq!(names, want);
        for n in &names {
            let p = dir.join(n);
            let got = if format == "png" {
                png_size(&p)
            } else {
                svg_size(&p)
            };
            assert_eq!(got, (800, 450), "{n}");
        }
        let _ = fs::remove_dir_all(&dir);
    }
    // `analyze --plots` draws a UDP-only capture's busiest flow too.
    let dir = temp_dir("udp-analyze");
    let d = dir.to_string_lossy().into_owned();
    let r = run(&[
        "analyze",
        "--plots",
        &d,
        "testdata/fixtures/quic_stall.pcap",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        files(&dir),
        [
            "quic_stall-flow1-c2s-datagram-size.png",
            "quic_stall-flow1-datagram-rate.png",
            "quic_stall-flow1-s2c-datagram-size.png"
        ]
    );
    let _ = fs::remove_dir_all(&dir);
}

/// The spin-bit RTT graph: a connection whose endpoints spin with a 40 ms round trip has one
/// sample per edge in each direction, every one 40 ms; a constant or random bit draws nothing.
#[test]
fn a_spinning_connection_has_its_spin_rtt_graph_and_others_none() {
    let c = flow_charts("quic_spin_40ms.pcap", &[1]);
    let spin = chart(&c, PlotKind::SpinRtt, None);
    for dir in ["c2s", "s2c"] {
        let pts = series(&spin, &format!("{dir} spin edges"), Style::Dot)
            .unwrap_or_else(|| panic!("{dir} samples"));
        assert_eq!(pts.len(), 11, "{dir}");
        assert!(
            pts.iter().all(|p| (p.y - 0.040).abs() < 1e-6),
            "{dir}: {pts:?}"
        );
    }
    for name in ["quic_spin_constant.pcap", "quic_spin_random.pcap"] {
        let c = flow_charts(name, &[1]);
        assert!(
            c.iter().all(|c| c.kind != PlotKind::SpinRtt),
            "{name}: a spin-rtt graph"
        );
    }
}

/// The datagram-rate graph of flow 1 of a fixture, with the endpoints' qlog files `qlogs`.
fn rate_with_qlog(name: &str, qlogs: &[&str]) -> Chart {
    let mut settings = Settings::default();
    let mut traces = Vec::new();
    for q in qlogs {
        traces.extend(
            offload_doctor::qlog::read_path(&root().join("testdata/fixtures").join(q))
                .expect("qlog reads"),
        );
    }
    settings.qlog = traces.into();
    let (charts, _) = offload_doctor::pipeline::plot_charts(
        &fixture(name),
        &DecodeConfig::default(),
        &settings,
        &[1],
        &[PlotKind::DatagramRate],
        crate::plots::SIZE,
        offload_doctor::plot::Options::default(),
    )
    .expect("charts");
    chart(&charts, PlotKind::DatagramRate, None)
}

#[test]
fn an_endpoints_qlog_draws_its_window_on_the_datagram_rate_graph() {
    let c = rate_with_qlog("quic_qlog_silence.pcap", &["quic_qlog_silence.server.qlog"]);
    let y2 = c.y2.as_ref().expect("a right axis");
    assert_eq!(y2.label, "bytes (qlog)");
    let cwnd = series(
        &c,
        "server's congestion window (qlog, right axis)",
        Style::Step,
    )
    .expect("the server's congestion window");
    let in_flight = series(
        &c,
        "server's bytes in flight (qlog, right axis)",
        Style::Step,
    )
    .expect("the server's bytes in flight");
    // The qlog's first metrics come 4 ms after the capture's first frame (the handshake), on
    // the capture's clock; its window grows by 100 bytes per ACK to 26,620 bytes.
    let first = cwnd.first().expect("points");
    assert!((first.x - 0.004).abs() < 1e-6, "{first:?}");
    assert_eq!(first.y, 14_720.0);
    assert_eq!(cwnd.iter().map(|p| p.y).fold(0.0, f64::max), 26_620.0);
    assert!(in_flight.iter().all(|p| p.y == 0.0 || p.y == 4_800.0));
    // Without the qlog the right axis counts datagrams.
    let plain = rate_with_qlog("quic_qlog_silence.pcap", &[]);
    assert_eq!(
        plain.y2.as_ref().map(|a| a.label.as_str()),
        Some("datagram rate")
    );
    assert!(plain.series.iter().all(|s| !s.name.contains("qlog")));
}
