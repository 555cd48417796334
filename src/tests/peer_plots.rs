//! `plot --peer`: the two-point graphs hold the comparison's facts (every loss marked where it
//! was sent, every arrival one one-way delay later), their data is snapshot-tested, and the
//! commands refuse what cannot work.

use std::fs;
use std::sync::Arc;

use offload_doctor::analysis::Settings;
use offload_doctor::capture::Input;
use offload_doctor::decode::DecodeConfig;
use offload_doctor::pipeline::{peer_index, plot_charts};
use offload_doctor::plot::chart::{Chart, PlotKind, Style};
use offload_doctor::plot::Options;
use serde_json::Value;

use crate::common::{root, run};
use crate::plots::{compact, series, SIZE};

const KINDS: [PlotKind; 2] = [PlotKind::PeerSequence, PlotKind::OneWayDelay];

fn peer_charts(name: &str, peer: &str) -> Vec<Chart> {
    // Relative paths: the graphs name the captures, and the snapshot must not depend on where
    // the repository is checked out (tests run from its root).
    let dir = std::path::Path::new("testdata/fixtures");
    let cfg = DecodeConfig::default();
    let mut settings = Settings::default();
    let index = peer_index(&Input::Path(dir.join(peer)), &cfg, &settings).expect("peer reads");
    settings.peer = Some(Arc::new(index));
    let (charts, damaged) = plot_charts(
        &Input::Path(dir.join(name)),
        &cfg,
        &settings,
        &[1],
        &KINDS,
        SIZE,
        Options::default(),
    )
    .expect("charts");
    assert!(damaged.is_none());
    charts
}

#[test]
fn every_loss_is_marked_where_it_was_sent_and_arrivals_come_one_delay_later() {
    let charts = peer_charts("peer_path_loss.pcap", "peer_path_loss.peer.pcap");
    // The client sent only ACKs: one data direction, two graphs.
    let kinds: Vec<(PlotKind, Option<&str>)> = charts
        .iter()
        .map(|c| (c.kind, c.direction.map(|d| d.as_str())))
        .collect();
    assert_eq!(
        kinds,
        [
            (PlotKind::PeerSequence, Some("s2c")),
            (PlotKind::OneWayDelay, Some("s2c"))
        ]
    );
    let seq = &charts[0];
    let lost = series(seq, "lost between the two points", Style::Label('L')).expect("losses");
    // path-loss's 6 (frames 49, 50, 52, 139, 229, 259 of this capture), at their send times.
    assert_eq!(lost.len(), 6);
    let delay = &charts[1];
    let d = series(delay, "one-way delay", Style::Dot).expect("delays");
    // The fixture's path delays every packet by 1 ms.
    assert!(
        !d.is_empty() && d.iter().all(|p| (p.y - 0.001).abs() < 1e-6),
        "{d:?}"
    );
    assert_eq!(delay.series[1].points.len(), 6);
}

#[test]
fn two_point_graph_data_matches_the_golden_snapshot() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    for (name, peer) in [
        ("peer_path_loss.pcap", "peer_path_loss.peer.pcap"),
        ("peer_udp.pcap", "peer_udp.peer.pcap"),
    ] {
        let v: Value = serde_json::to_value(peer_charts(name, peer)).expect("serialisable");
        let mut got = String::new();
        compact(&v, 0, &mut got);
        got.push('\n');
        let golden = root().join(format!("testdata/golden/plots/{name}.with-peer.json"));
        if update {
            fs::write(&golden, &got).expect("writable");
            continue;
        }
        assert!(
            fs::read_to_string(&golden).unwrap_or_default() == got,
            "{}: plotted data differs (UPDATE_GOLDEN=1 to accept)",
            golden.display()
        );
    }
}

#[test]
fn two_point_graphs_need_a_peer_and_one_stream_cannot_be_both() {
    let r = run(&[
        "plot",
        "testdata/fixtures/peer_path_loss.pcap",
        "--kind",
        "peer-sequence",
        "-o",
        "/nonexistent-dir-never-written",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--peer"), "{}", r.stderr);
    let r = run(&["analyze", "-", "--peer", "-"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("standard input"), "{}", r.stderr);
}
