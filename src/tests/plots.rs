//! Graphs: the data behind each graph (facts and golden snapshots), and the files `plot` and
//! `analyze --plots` write (valid PNG/SVG of the requested size, no temporary files left).

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::{root, run};
use offload_doctor::analysis::Settings;
use offload_doctor::capture::Input;
use offload_doctor::decode::DecodeConfig;
use offload_doctor::pipeline::{busiest_flows, plot_charts, run_analysis};
use offload_doctor::plot::chart::{Chart, PlotKind, Point, Style};
use offload_doctor::plot::Options;
use serde_json::Value;

pub(crate) const SIZE: (u32, u32) = (800, 450);

pub(crate) fn fixture(name: &str) -> Input {
    Input::Path(root().join("testdata/fixtures").join(name))
}

/// The charts of every kind for the busiest flows of a fixture, as `plot` draws them.
pub(crate) fn charts(name: &str) -> Vec<Chart> {
    let input = fixture(name);
    let (cfg, settings) = (DecodeConfig::default(), Settings::default());
    let first = run_analysis(&input, &cfg, &settings).expect("fixture reads");
    flow_charts(name, &busiest_flows(&first.flows, 3))
}

/// The charts of every kind for flows `ids` of a fixture.
pub(crate) fn flow_charts(name: &str, ids: &[u32]) -> Vec<Chart> {
    let (cfg, settings) = (DecodeConfig::default(), Settings::default());
    let (charts, damaged) = plot_charts(
        &fixture(name),
        &cfg,
        &settings,
        ids,
        &PlotKind::ALL,
        SIZE,
        Options::default(),
    )
    .expect("charts");
    assert!(damaged.is_none());
    charts
}

/// The charts of `kinds` for flow 1 of a fixture, with its key log (`keys`, a path under the
/// repository) or without one.
pub(crate) fn keyed_charts(name: &str, keys: Option<&str>, kinds: &[PlotKind]) -> Vec<Chart> {
    let mut settings = Settings::default();
    if let Some(keys) = keys {
        let text = fs::read(root().join(keys)).expect("keys");
        let log = offload_doctor::quic::keylog::KeyLog::read(keys, &text[..]).expect("key log");
        settings.flows.keylog = Some(std::sync::Arc::new(log));
    }
    let cfg = DecodeConfig::default();
    plot_charts(
        &fixture(name),
        &cfg,
        &settings,
        &[1],
        kinds,
        SIZE,
        Options::default(),
    )
    .expect("charts")
    .0
}

pub(crate) fn chart(charts: &[Chart], kind: PlotKind, dir: Option<&str>) -> Chart {
    charts
        .iter()
        .find(|c| c.kind == kind && (dir.is_none() || c.direction.map(|d| d.as_str()) == dir))
        .cloned()
        .unwrap_or_else(|| panic!("no {kind:?} chart for {dir:?}"))
}

pub(crate) fn series<'a>(c: &'a Chart, name: &str, style: Style) -> Option<&'a Vec<Point>> {
    c.series
        .iter()
        .find(|s| s.name == name && s.style == style)
        .map(|s| &s.points)
}

#[test]
fn the_vxlan_story_shows_in_the_ip_id_and_segment_size_graphs() {
    let c = charts("vxlan_outer_ip_id_df0.pcap");
    let id = chart(&c, PlotKind::IpId, Some("s2c"));
    assert!(
        id.title.starts_with("Outer IPv4 ID, flow 1 s2c"),
        "{}",
        id.title
    );
    assert!(id.title.contains("VXLAN VNI 5001"));
    let df0 = series(&id, "DF=0", Style::Dot).expect("DF=0 dots");
    // The 40 data frames (what GRO would merge), as the GRO model judged them: 39 pairs.
    assert_eq!(df0.len(), 40);
    assert!(series(&id, "DF=1", Style::Dot).is_none());
    // 101, 105, 107, …: no step of +1 anywhere, and the steps are drawn.
    let steps = series(&id, "ID step", Style::Dot).expect("steps");
    assert_eq!(steps.len(), 39);
    assert!(steps.iter().all(|p| p.y > 1.0 && p.y <= 5.0), "{steps:?}");
    assert!(id.caption.contains("0 of 39 steps +1"), "{}", id.caption);
    // The steps have a panel of their own below the IDs, never over them.
    assert!(id.y2.as_ref().is_some_and(|a| a.below));
    assert!(id
        .series
        .iter()
        .all(|s| s.secondary == (s.name == "ID step")));
    assert_eq!((df0[0].x, df0[0].y), (4.0, 105.0));
    // Every frame is one wire segment: nothing coalesced.
    let size = chart(&c, PlotKind::SegmentSize, Some("s2c"));
    assert!(series(&size, "one segment or less", Style::Dot).is_some_and(|p| p.len() == 40));
    assert_eq!(size.series.len(), 1);
}

#[test]
fn a_gro_receiver_shows_super_frames_and_a_plain_flow_does_not() {
    let c = charts("offload_gro_receive.pcap");
    let seg = chart(&c, PlotKind::SegmentSize, None);
    let coalesced = seg.series.iter().flat_map(|s| &s.points);
    assert!(coalesced.clone().any(|p| p.y > 2.0), "{:?}", seg.series);
    assert_eq!(seg.series.len(), 2, "single and coalesced frames");
    assert!(seg.caption.contains("captured on the"), "{}", seg.caption);

    let plain = charts("offload_no_coalescing.pcap");
    let seg = chart(&plain, PlotKind::SegmentSize, None);
    let sizes = seg.series.iter().flat_map(|s| &s.points);
    assert!(sizes.clone().all(|p| p.y <= 1.0), "{:?}", seg.series);
}

#[test]
fn retransmissions_sack_and_zero_window_are_marked_like_tcptrace() {
    let c = charts("tcp_sack_fast_retransmission.pcap");
    let tsg = chart(&c, PlotKind::TimeSequence, Some("s2c"));
    let r = series(&tsg, "retransmission", Style::Bar).expect("red bars");
    let labels = series(&tsg, "retransmission", Style::Label('R')).expect("R marks");
    assert_eq!(r.len(), labels.len());
    assert!(!r.is_empty());
    assert!(series(&tsg, "SACK", Style::Bar).is_some_and(|s| !s.is_empty()));
    assert!(tsg.caption.contains("retransmission: "), "{}", tsg.caption);
    // The ACK line never runs ahead of the highest segment end.
    let top = tsg
        .series
        .iter()
        .filter(|s| s.style == Style::Bar && s.name != "SACK")
        .flat_map(|s| s.points.iter().map(|p| p.top))
        .fold(f64::MIN, f64::max);
    let acks = series(&tsg, "ACK", Style::Step).expect("ACK line");
    assert!(acks.iter().all(|p| p.y <= top));

    let z = charts("tcp_zero_window.pcap");
    let zero: Vec<&Chart> = z
        .iter()
        .filter(|c| c.kind == PlotKind::TimeSequence)
        .filter(|c| series(c, "zero window", Style::Label('Z')).is_some())
        .collect();
    assert_eq!(
        zero.len(),
        1,
        "exactly the direction whose receiver closed its window"
    );
    // And a clean transfer has no marks at all.
    let clean = charts("offload_no_coalescing.pcap");
    let tsg = chart(&clean, PlotKind::TimeSequence, None);
    assert!(tsg
        .series
        .iter()
        .all(|s| !matches!(s.style, Style::Label(_))));
}

#[test]
fn concurrent_flows_share_one_goodput_graph_with_their_fairness() {
    let c = charts("tcp_starved_connection.pcap");
    let flows = chart(&c, PlotKind::Flows, None);
    assert_eq!(flows.series.len(), 3);
    assert!(flows.caption.contains("Jain's fairness index"));
    let thr = chart(&c, PlotKind::Throughput, None);
    assert!(thr
        .series
        .iter()
        .any(|s| s.name.ends_with("average goodput")));
    // One throughput graph per flow, one comparison for the run.
    assert_eq!(
        c.iter().filter(|c| c.kind == PlotKind::Throughput).count(),
        3
    );
    assert_eq!(c.iter().filter(|c| c.kind == PlotKind::Flows).count(), 1);
}

/// Prints JSON with objects indented and each array of numbers on one line.
pub(crate) fn compact(v: &Value, indent: usize, out: &mut String) {
    let pad = "  ".repeat(indent + 1);
    match v {
        Value::Object(m) => {
            out.push_str("{\n");
            for (i, (k, x)) in m.iter().enumerate() {
                out.push_str(&format!("{pad}{}: ", Value::String(k.clone())));
                compact(x, indent + 1, out);
                out.push_str(if i + 1 < m.len() { ",\n" } else { "\n" });
            }
            out.push_str(&format!("{}}}", "  ".repeat(indent)));
        }
        Value::Array(a) if a.iter().any(|x| x.is_object()) => {
            out.push_str("[\n");
            for (i, x) in a.iter().enumerate() {
                out.push_str(&pad);
                compact(x, indent + 1, out);
                out.push_str(if i + 1 < a.len() { ",\n" } else { "\n" });
            }
            out.push_str(&format!("{}]", "  ".repeat(indent)));
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The data behind every graph of a few fixtures, compared with testdata/golden/plots/;
/// `UPDATE_GOLDEN=1 cargo test` rewrites them.
#[test]
fn plotted_series_match_the_golden_snapshots() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for (name, ids) in [
        ("vxlan_outer_ip_id_df0.pcap", None),
        ("tcp_sack_fast_retransmission.pcap", None),
        ("tcp_zero_window.pcap", None),
        ("offload_gro_receive.pcap", None),
        ("quic_udp_gso_sender.pcap", Some(&[1][..])),
        ("quic_rebinding_one_connection.pcap", Some(&[1, 2][..])),
        ("udp_heartbeat.pcap", None),
    ] {
        let c = ids.map_or_else(|| charts(name), |ids| flow_charts(name, ids));
        let v = serde_json::to_value(c).expect("serialisable");
        let mut got = String::new();
        compact(&v, 0, &mut got);
        got.push('\n');
        let golden = root().join(format!("testdata/golden/plots/{name}.json"));
        if update {
            fs::create_dir_all(golden.parent().expect("dir")).expect("writable");
            fs::write(&golden, &got).expect("writable");
            continue;
        }
        if fs::read_to_string(&golden).unwrap_or_default() != got {
            failures.push(format!(
                "{}: plotted data differs (UPDATE_GOLDEN=1 to accept)",
                golden.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

pub(crate) fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("offload-doctor-test-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    d
}

pub(crate) fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|r| {
            r.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Width and height from a PNG's IHDR, after checking the whole file decodes.
pub(crate) fn png_size(path: &Path) -> (u32, u32) {
    let file = fs::File::open(path).expect("png exists");
    let mut reader = png::Decoder::new(std::io::BufReader::new(file))
        .read_info()
        .expect("a valid PNG header");
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("valid PNG data");
    // Not blank: the graph drew something besides the white background.
    assert!(buf.iter().any(|&b| b != 255), "{} is blank", path.display());
    (info.width, info.height)
}

pub(crate) fn svg_size(path: &Path) -> (u32, u32) {
    let text = fs::read_to_string(path).expect("svg exists");
    let doc = roxmltree::Document::parse(&text).expect("well-formed XML");
    let svg = doc.root_element();
    assert_eq!(svg.tag_name().name(), "svg");
    assert!(doc.descendants().any(|n| n.has_tag_name("text")));
    let dim = |a: &str| svg.attribute(a).and_then(|v| v.parse().ok()).unwrap_or(0);
    (dim("width"), dim("height"))
}

#[test]
fn plot_writes_valid_png_and_svg_of_the_requested_size() {
    for (format, size) in [("png", (800u32, 450u32)), ("svg", (640, 480))] {
        let dir = temp_dir(format);
        let d = dir.to_string_lossy().into_owned();
        let s = format!("{}x{}", size.0, size.1);
        let r = run(&[
            "plot",
            "testdata/fixtures/vxlan_outer_ip_id_df0.pcap",
            "--out",
            &d,
            "--format",
            format,
            "--size",
            &s,
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let names = files(&dir);
        let want: Vec<String> = [
            "flow1-s2c-inflight",
            "flow1-s2c-ip-id",
            "flow1-s2c-rtt",
            "flow1-s2c-segment-size",
            "flow1-s2c-time-sequence",
            "flow1-throughput",
        ]
        .iter()
        .map(|k| format!("vxlan_outer_ip_id_df0-{k}.{format}"))
        .collect();
        // Exactly the graphs, no temporary file left beside them.
        assert_eq!(names, want);
        assert_eq!(r.stdout.lines().count(), want.len(), "{}", r.stdout);
        for n in &names {
            let p = dir.join(n);
            let got = if format == "png" {
                png_size(&p)
            } else {
                svg_size(&p)
            };
            assert_eq!(got, size, "{n}");
        }
        let _ = fs::remove_dir_all(&dir);
    }
}

#[test]
fn plot_picks_flows_and_kinds_and_rejects_unknown_ones() {
    let dir = temp_dir("pick");
    let d = dir.to_string_lossy().into_owned();
    let cap = "testdata/fixtures/tcp_starved_connection.pcap";
    let r = run(&[
        "plot",
        cap,
        "--out",
        &d,
        "--flow",
        "2",
        "--kind",
        "throughput",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(files(&dir), ["tcp_starved_connection-flow2-throughput.png"]);

    let r = run(&["plot", cap, "--out", &d, "--flow", "99"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("there is no flow 99"), "{}", r.stderr);
    let r = run(&["plot", cap, "--kind", "pie"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("time-sequence"), "{}", r.stderr);
    let r = run(&["plot", cap, "--size", "10x10"]);
    assert_eq!(r.code, 2);
    let r = run(&["plot", "-"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("--flow"), "{}", r.stderr);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn analyze_plots_writes_graphs_beside_a_valid_report() {
    let dir = temp_dir("analyze");
    let d = dir.to_string_lossy().into_owned();
    let r = run(&[
        "analyze",
        "--format",
        "json",
        "--plots",
        &d,
        "testdata/fixtures/tcp_starved_connection.pcap",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let report: Value = serde_json::from_str(&r.stdout).expect("the report stays valid JSON");
    assert_eq!(report["flows"].as_array().map(Vec::len), Some(4));
    let names = files(&dir);
    assert!(names.contains(&"tcp_starved_connection-flows.png".to_string()));
    assert_eq!(
        names
            .iter()
            .filter(|n| n.ends_with("-throughput.png"))
            .count(),
        3
    );
    assert!(r.stderr.contains(&format!("wrote {} graphs", names.len())));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_capture_cut_mid_record_still_gets_its_graphs() {
    let dir = temp_dir("cut");
    let d = dir.to_string_lossy().into_owned();
    let r = run(&["plot", "testdata/fixtures/cut_mid_record.pcap", "--out", &d]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(files(&dir).contains(&"cut_mid_record-flow1-s2c-time-sequence.png".to_string()));
    // Damaged mid-file: the graphs of what was read, the damage named, exit 2.
    let r = run(&[
        "plot",
        "testdata/fixtures/corrupt_record_length.pcap",
        "--out",
        &d,
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("offset 1782"), "{}", r.stderr);
    assert!(files(&dir)
        .iter()
        .any(|n| n.starts_with("corrupt_record_length-flow1")));
    let _ = fs::remove_dir_all(&dir);
}
