//! `--flow`, `--host`, `--port`, `--time` and `--filter` in `analyze`, `check` and `plot`
//! (docs/selection.md): the flows selected, their findings, the verdict, ids that do not change,
//! and errors with a caret.

use serde_json::Value;

use crate::common::{json, run};

const STARVED: &str = "testdata/fixtures/tcp_starved_connection.pcap";
const QUIC_SEQ: &str = "testdata/fixtures/quic_sequential_connections.pcap";
const VXLAN: &str = "testdata/fixtures/vxlan_custom_port.pcap";

/// `analyze --format json CAPTURE ARGS`, which must succeed.
fn report(capture: &str, args: &[&str]) -> Value {
    let mut all = vec!["analyze", "--format", "json", capture];
    all.extend(args);
    let r = run(&all);
    assert_eq!(r.code, 0, "{all:?}: {}", r.stderr);
    json(&r.stdout)
}

fn flow_ids(v: &Value) -> Vec<u64> {
    v["flows"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["id"].as_u64()).collect())
        .unwrap_or_default()
}

fn selected(capture: &str, args: &[&str]) -> Vec<u64> {
    flow_ids(&report(capture, args))
}

#[test]
fn options_select_flows_and_ids_stay_those_of_the_whole_capture() {
    let all = report(STARVED, &[]);
    assert_eq!(flow_ids(&all), [1, 2, 3, 4]);
    assert!(all.get("selection").is_none());
    let four = report(STARVED, &["--flow", "4"]);
    assert_eq!(flow_ids(&four), [4]);
    // The same connection under the same id, with the same numbers.
    assert_eq!(four["flows"][0], all["flows"][3]);
    assert_eq!(four["selection"]["flows_selected"], 1);
    assert_eq!(four["selection"]["flows_total"], 4);
    assert_eq!(four["selection"]["options"], "--flow 4");
    assert_eq!(selected(STARVED, &["--flow", "2", "--flow", "3"]), [2, 3]);
    assert_eq!(selected(STARVED, &["--port", "41002"]), [3]);
    assert_eq!(selected(STARVED, &["--port", "8080"]), [1, 2, 3, 4]);
    assert_eq!(selected(STARVED, &["--host", "10.40.0.2"]), [1, 2, 3, 4]);
    assert_eq!(selected(STARVED, &["--host", "10.40.0.9"]), [] as [u64; 0]);
    // Options are all required; values of one option are alternatives.
    assert_eq!(
        selected(
            STARVED,
            &["--port", "41000", "--port", "41003", "--flow", "4"]
        ),
        [4]
    );
}

#[test]
fn findings_and_verdict_follow_the_selection() {
    let all = report(STARVED, &[]);
    assert_eq!(all["verdict"]["status"], "warning");
    let four = report(STARVED, &["--flow", "4"]);
    assert_eq!(four["verdict"]["status"], "warning");
    assert!(four["findings"]
        .as_array()
        .is_some_and(|f| !f.is_empty() && f.iter().all(|x| x["flow"] == 4)));
    // Flow 1 has no finding of its own: the starved connection's warning is not its verdict.
    let one = report(STARVED, &["--flow", "1"]);
    assert_eq!(one["findings"], Value::Array(Vec::new()));
    assert_eq!(one["verdict"]["status"], "ok");
    // A finding about the whole capture (flow null) stays with every selection.
    let q = report(
        "testdata/fixtures/quic_concurrent_memory.pcap",
        &["--flow", "3"],
    );
    assert_eq!(flow_ids(&q), [3]);
    assert!(q["findings"].as_array().is_some_and(|f| f
        .iter()
        .any(|x| x["id"] == "quic-memory" && x["flow"].is_null())));
}

#[test]
fn filter_expressions() {
    let cases: [(&str, &[u64]); 9] = [
        ("port 41000 or port 41003", &[1, 4]),
        ("not port 41000", &[2, 3, 4]),
        ("client port 8080", &[]),
        ("server port 8080 and tcp", &[1, 2, 3, 4]),
        ("udp", &[]),
        ("portrange 41001-41002", &[2, 3]),
        ("net 10.40.0.0/24 and !(flow 1 || flow 2)", &[3, 4]),
        ("client host 10.40.0.1 and server host 10.40.0.1", &[]),
        ("flow 4", &[4]),
    ];
    for (expr, want) in cases {
        assert_eq!(selected(STARVED, &["--filter", expr]), want, "{expr}");
    }
}

#[test]
fn tunnels_match_on_the_vni_and_the_outer_addresses() {
    let v = ["--vxlan-port", "4790"];
    let with = |extra: &[&str]| selected(VXLAN, &[&v[..], extra].concat());
    assert_eq!(with(&["--filter", "vni 7 and tunnel"]), [1]);
    assert_eq!(with(&["--filter", "vni 8"]), [] as [u64; 0]);
    assert_eq!(with(&["--host", "172.16.0.1"]), [1]);
    assert_eq!(with(&["--filter", "host 10.1.0.1"]), [1]);
    assert_eq!(with(&["--filter", "client host 172.16.0.1"]), [1]);
    assert_eq!(
        with(&["--filter", "client host 172.16.0.2"]),
        [] as [u64; 0]
    );
    // Not decoded as VXLAN: twelve UDP flows between the same hosts, none a tunnel.
    assert_eq!(selected(VXLAN, &["--filter", "tunnel"]), [] as [u64; 0]);
    assert_eq!(selected(VXLAN, &["--host", "172.16.0.1"]).len(), 12);
}

#[test]
fn time_windows_select_the_flows_they_overlap() {
    // Connections at 0–2.06 s, 3.1–5.16 s, 6.2–8.26 s, 9.3–11.36 s, 12.4–14.46 s.
    assert_eq!(selected(QUIC_SEQ, &["--time", "3s..6s"]), [2]);
    assert_eq!(selected(QUIC_SEQ, &["--time", "2s..3.2s"]), [1, 2]);
    // END is excluded: flow 2 starts at 3.1 s exactly.
    assert_eq!(selected(QUIC_SEQ, &["--time", "..3.1"]), [1]);
    assert_eq!(selected(QUIC_SEQ, &["--time", "12400ms.."]), [5]);
    assert_eq!(selected(QUIC_SEQ, &["--time", "20s.."]), [] as [u64; 0]);
}

#[test]
fn text_says_what_the_report_covers() {
    let r = run(&["analyze", STARVED, "--filter", "port 41003"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("  selected   1 of 4 flows: --filter 'port 41003'\n"),
        "{}",
        r.stdout
    );
}

#[test]
fn bad_selections_are_usage_errors_with_a_caret() {
    let r = run(&[
        "analyze",
        STARVED,
        "--filter",
        "host 10.40.0.1 and port http",
    ]);
    assert_eq!(r.code, 2);
    let lines: Vec<&str> = r.stderr.lines().collect();
    assert!(
        lines[0].contains("--filter: expected a port number"),
        "{}",
        r.stderr
    );
    assert_eq!(lines[1], "    host 10.40.0.1 and port http");
    assert_eq!(lines[2], "                            ^^^^");
    assert!(r.stdout.is_empty());
    let r = run(&["analyze", STARVED, "--time", "4s..2s"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--time: `4s..2s` is empty"),
        "{}",
        r.stderr
    );
    let r = run(&["check", STARVED, "--filter", "src port 1"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("client host"), "{}", r.stderr);
}

#[test]
fn check_judges_the_selected_flows() {
    let base = ["check", "--fail-on", "warning", STARVED];
    assert_eq!(run(&base).code, 1);
    assert_eq!(
        run(&[&base[..], &["--filter", "not flow 4"]].concat()).code,
        0
    );
    assert_eq!(run(&[&base[..], &["--port", "41003"]].concat()).code, 1);
    let r = run(&[&base[..], &["--flow", "1", "--format", "json"]].concat());
    assert_eq!(r.code, 0);
    let v = json(&r.stdout);
    assert_eq!(flow_ids(&v["captures"][0]["report"]), [1]);
}

#[test]
fn plot_draws_the_selected_flows() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().to_string_lossy().into_owned();
    let plot = |extra: &[&str]| {
        let mut a = vec!["plot", STARVED, "--kind", "throughput", "--out", &out];
        a.extend(extra);
        run(&a)
    };
    let r = plot(&["--filter", "port 41003 or port 41001"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut names: Vec<&str> = r
        .stdout
        .lines()
        .filter_map(|l| l.rsplit('/').next())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "tcp_starved_connection-flow2-throughput.png",
            "tcp_starved_connection-flow4-throughput.png"
        ]
    );
    // --flow alone: those flows, by id (one pass).
    let r = plot(&["--flow", "3"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .ends_with("tcp_starved_connection-flow3-throughput.png\n"),
        "{}",
        r.stdout
    );
    // --flow with another option: the flows given that match it.
    let r = plot(&["--flow", "3", "--flow", "1", "--port", "41000"]);
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);
    assert!(r.stdout.contains("flow1-"), "{}", r.stdout);
    let r = plot(&["--host", "192.0.2.1"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr
            .contains("no flow with graphs matches --host 192.0.2.1"),
        "{}",
        r.stderr
    );
}
