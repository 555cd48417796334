//! `analyze --format ndjson`: every line read back by Python's `json` module (an independent
//! reader), each record's fields checked against docs/ndjson-format.md, one JSON type per field
//! name across record types (what a warehouse infers a column from), many captures in argument
//! order; and the progress line: nothing on a stderr that is not a terminal, nothing with
//! `--quiet`, drawn and cleared when forced, never on stdout.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::common::{json, root, run, Run, CLEAN, CUT_SHORT, DAMAGED, NOT_A_CAPTURE, VXLAN_DF0};

const QUIC: &str = "testdata/fixtures/quic_handshake_ok.pcap";
const GZIP: &str = "testdata/fixtures/tcp_gzip.pcap.gz";

/// Fields per record type as docs/ndjson-format.md lists them (the names in backquotes in the
/// first cell of each table row), those of "Every line" in each.
fn documented() -> BTreeMap<String, Vec<String>> {
    let doc = fs::read_to_string(root().join("docs/ndjson-format.md")).expect("the doc");
    let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut section = String::new();
    for line in doc.lines() {
        if let Some(h) = line.strip_prefix("## ") {
            section = h.trim_matches('`').to_string();
            continue;
        }
        let Some(cell) = line.strip_prefix("| ").and_then(|l| l.split(" | ").next()) else {
            continue;
        };
        let names = cell.split('`').skip(1).step_by(2).map(str::to_string);
        fields.entry(section.clone()).or_default().extend(names);
    }
    let common = fields
        .remove("Every line")
        .expect("the fields of every line");
    let mut out = BTreeMap::new();
    for record in ["capture", "flow", "finding"] {
        let mut f = common.clone();
        f.extend(fields.get(record).cloned().unwrap_or_default());
        out.insert(record.to_string(), f);
    }
    out
}

/// Reads NDJSON from stdin, checks every line against the documented fields (argv[1]) and
/// prints what the Rust side asserts: the captures in order, per capture its status, flow ids,
/// finding ids, and the endpoints of each finding.
const READER: &str = r#"
import json, sys
documented = {k: set(v) for k, v in json.loads(sys.argv[1]).items()}
types, captures, problems = {}, [], []
for n, raw in enumerate(sys.stdin.buffer.read().split(b"\n")[:-1], 1):
    o = json.loads(raw.decode("utf-8"))
    rec = o.get("record")
    if set(o) != documented.get(rec, set()):
        problems.append([n, rec, sorted(set(o) ^ documented.get(rec, set()))])
    if o.get("schema_version") != 1 or not isinstance(o.get("capture"), str):
        problems.append([n, "schema_version or capture", o.get("schema_version")])
    for k, v in o.items():
        if v is not None:
            types.setdefault(k, set()).add(type(v).__name__)
    if rec == "capture":
        captures.append({"capture": o["capture"], "status": o["status"],
                         "flow_count": o["flow_count"], "flows": [], "findings": []})
    elif not captures or captures[-1]["capture"] != o["capture"]:
        problems.append([n, "a line away from its capture's", o["capture"]])
    elif rec == "flow":
        captures[-1]["flows"].append(o["flow"])
    else:
        captures[-1]["findings"].append([o["id"], o["flow"], o["server_address"], o["server_port"]])
mixed = {k: sorted(t) for k, t in types.items() if len(t) > 1}
print(json.dumps({"captures": captures, "problems": problems, "mixed_types": mixed}))
"#;

fn read_back(ndjson: &str) -> Value {
    let spec = serde_json::to_string(&documented()).expect("spec");
    let mut child = Command::new("python3")
        .args(["-c", READER, &spec])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs (the fixture generator needs it too)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(ndjson.as_bytes())
        .expect("feed python");
    let out = child.wait_with_output().expect("python ends");
    assert!(out.status.success(), "the Python reader failed");
    json(&String::from_utf8_lossy(&out.stdout))
}

#[test]
fn every_line_reads_back_as_documented_in_argument_order() {
    let files = [
        VXLAN_DF0,
        NOT_A_CAPTURE,
        QUIC,
        CUT_SHORT,
        DAMAGED,
        GZIP,
        CLEAN,
    ];
    let mut args = vec!["analyze", "--format", "ndjson"];
    args.extend(files);
    let r = run(&args);
    assert_eq!(
        r.code, 2,
        "an unreadable and a damaged capture: {}",
        r.stderr
    );
    let back = read_back(&r.stdout);
    assert_eq!(back["problems"], Value::Array(vec![]), "{back}");
    assert_eq!(back["mixed_types"], serde_json::json!({}), "{back}");
    let captures = back["captures"].as_array().expect("captures");
    let paths: Vec<&str> = captures
        .iter()
        .filter_map(|c| c["capture"].as_str())
        .collect();
    assert_eq!(paths, files, "one capture line each, in argument order");
    let status: Vec<&str> = captures
        .iter()
        .filter_map(|c| c["status"].as_str())
        .collect();
    let expected = [
        "analysed",
        "unreadable",
        "analysed",
        "analysed",
        "damaged",
        "analysed",
        "analysed",
    ];
    assert_eq!(status, expected);
    // Each capture's flows and findings are those of its JSON report.
    for (c, path) in captures.iter().zip(files) {
        let report = json(&run(&["analyze", "--format", "json", path]).stdout);
        let Some(flows) = report["flows"].as_array() else {
            assert_eq!(c["flows"], Value::Array(vec![]), "{path}");
            continue;
        };
        let ids: Vec<Value> = flows.iter().map(|f| f["id"].clone()).collect();
        assert_eq!(c["flows"], Value::Array(ids), "{path}");
        assert_eq!(c["flow_count"], flows.len(), "{path}");
        let found: Vec<Value> = report["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .map(|f| f["id"].clone())
            .collect();
        let lines: Vec<Value> = c["findings"]
            .as_array()
            .expect("finding lines")
            .iter()
            .map(|f| f[0].clone())
            .collect();
        assert_eq!(lines, found, "{path}");
    }
    // A finding names its flow's server, so hosts rank without a join; one about the whole
    // capture names none.
    let vxlan = captures[0]["findings"].as_array().expect("findings");
    assert!(
        vxlan.contains(&serde_json::json!([
            "gro-blocked-ip-id",
            1,
            "10.1.0.2",
            443
        ])),
        "{vxlan:?}"
    );
    let cut = captures[3]["findings"].as_array().expect("findings");
    assert!(cut.contains(&serde_json::json!([
        "capture-file-truncated",
        null,
        null,
        null
    ])));
}

#[test]
fn one_unreadable_capture_is_one_capture_line() {
    let r = run(&["analyze", "--format", "ndjson", NOT_A_CAPTURE]);
    assert_ne!(r.code, 0);
    let lines: Vec<Value> = r.stdout.lines().map(json).collect();
    assert_eq!(lines.len(), 1, "{}", r.stdout);
    assert_eq!(lines[0]["record"], "capture");
    assert_eq!(lines[0]["status"], "unreadable");
    assert_eq!(lines[0]["capture"], NOT_A_CAPTURE);
    assert!(lines[0]["error"]
        .as_str()
        .is_some_and(|e| e.contains("not a pcap")));
}

/// `offload-doctor ARGS` with the progress mode `mode` (`None`: unset), stderr a pipe.
fn with_progress(mode: Option<&str>, args: &[&str]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_offload-doctor"));
    cmd.args(args).current_dir(root()).env("COLUMNS", "200");
    match mode {
        Some(m) => cmd.env("OFFLOAD_DOCTOR_PROGRESS", m),
        None => cmd.env_remove("OFFLOAD_DOCTOR_PROGRESS"),
    };
    let out = cmd.output().expect("the binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

#[test]
fn no_progress_line_on_a_stderr_that_is_not_a_terminal_or_with_quiet() {
    let plot_dir = tempfile::tempdir().expect("temp dir");
    let out = plot_dir.path().to_string_lossy().into_owned();
    let runs: [&[&str]; 5] = [
        &["analyze", VXLAN_DF0],
        &["analyze", "--format", "ndjson", VXLAN_DF0, CLEAN],
        &["check", VXLAN_DF0, CLEAN],
        &["compare", VXLAN_DF0, CLEAN],
        &["plot", "--out", &out, "--kind", "throughput", CLEAN],
    ];
    for args in runs {
        let r = with_progress(None, args);
        assert_eq!(r.stderr, "", "{args:?}");
        // Forced, `--quiet` still wins.
        let mut quiet = args.to_vec();
        quiet.insert(1, "-q");
        let r = with_progress(Some("always"), &quiet);
        assert_eq!(r.stderr, "", "{quiet:?}");
    }
}

#[test]
fn a_forced_progress_line_is_drawn_and_cleared_on_stderr_only() {
    let plain = with_progress(None, &["analyze", "--format", "ndjson", VXLAN_DF0]);
    let forced = with_progress(
        Some("always"),
        &["analyze", "--format", "ndjson", VXLAN_DF0],
    );
    assert_eq!(forced.stdout, plain.stdout, "stdout is the report alone");
    let err = &forced.stderr;
    // The last drawing is of the whole file, then the line is erased.
    assert!(err.starts_with("\roffload-doctor: "), "{err:?}");
    assert!(err.ends_with("\r\x1b[K"), "{err:?}");
    let report = json(&run(&["analyze", "--format", "json", VXLAN_DF0]).stdout);
    let frames = report["capture"]["frames"].as_u64().expect("frames");
    let frames = offload_doctor::units::thousands(frames);
    assert!(
        err.contains(&format!("(100%), {frames} frames, ")),
        "{err:?}"
    );
    // A set of captures: one line for all of them.
    let many = with_progress(Some("always"), &["check", VXLAN_DF0, CLEAN]);
    assert!(many.stderr.contains("2 of 2 captures"), "{:?}", many.stderr);
    assert!(!many.stdout.contains("offload-doctor: "), "{}", many.stdout);
}
