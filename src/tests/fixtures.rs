//! Every fixture in testdata/fixtures against the facts its generator wrote beside it, plus golden
//! snapshots of the full JSON and text output for a few of them.

use std::collections::BTreeSet;
use std::fs;

use crate::common::{analyze_json, finding, root, run, subset};
use serde_json::Value;

fn fixtures() -> Vec<(String, Value)> {
    let dir = root().join("testdata/fixtures");
    let mut out = Vec::new();
    for e in fs::read_dir(&dir).expect("testdata/fixtures exists") {
        let name = e
            .expect("dir entry")
            .file_name()
            .to_string_lossy()
            .into_owned();
        if let Some(capture) = name.strip_suffix(".expect.json") {
            let text = fs::read_to_string(dir.join(&name)).expect("readable");
            out.push((
                capture.to_string(),
                serde_json::from_str(&text).expect("valid JSON"),
            ));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    assert!(out.len() >= 40, "only {} fixtures found", out.len());
    out
}

fn check_fixture(name: &str, exp: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    let path = std::path::Path::new("testdata/fixtures").join(name);
    let args = crate::common::fixture_args(exp);
    let (run, json) = analyze_json(&path, &args);
    let want_code = exp["exit_code"].as_i64().unwrap_or(0) as i32;
    if run.code != want_code {
        errors.push(format!(
            "exit code {} (expected {want_code}); stderr: {}",
            run.code, run.stderr
        ));
    }
    if run.stderr.contains("panicked") {
        errors.push(format!("panic: {}", run.stderr));
    }
    if let Some(s) = exp["stderr_contains"].as_str() {
        let line = run.stderr.trim_end();
        if !line.contains(s) || !line.contains(name) || line.lines().count() != 1 {
            errors.push(format!(
                "stderr {line:?} should be one line naming the file and saying {s:?}"
            ));
        }
    }
    if want_code == 2 && exp.get("capture").is_none() {
        // No report: the JSON error document, saying what stderr says.
        let doc: Value = serde_json::from_str(&run.stdout).unwrap_or(Value::Null);
        let said = exp["stderr_contains"].as_str().unwrap_or_default();
        if json.is_some()
            || doc["result"] != "error"
            || doc["exit_code"] != 2
            || !doc["path"].as_str().is_some_and(|p| p.ends_with(name))
            || !doc["error"].as_str().is_some_and(|e| e.contains(said))
        {
            errors.push(format!(
                "unreadable input must print the JSON error document: {}",
                run.stdout
            ));
        }
        return errors;
    }
    let Some(json) = json else {
        errors.push(format!("no JSON report; stderr: {}", run.stderr));
        return errors;
    };
    if json["schema_version"] != 1 {
        errors.push("schema_version is not 1".into());
    }
    check_capture(exp, &json, &mut errors);
    check_findings(exp, &json, &mut errors);
    if let Some(v) = exp.get("verdict") {
        subset(v, &json["verdict"], "verdict", &mut errors);
    }
    errors
}

/// The capture's facts and flows, and that every frame is accounted for exactly once.
fn check_capture(exp: &Value, json: &Value, errors: &mut Vec<String>) {
    if let Some(c) = exp.get("capture") {
        subset(c, &json["capture"], "capture", errors);
        // decoded/undecoded are complete maps, not subsets.
        for k in ["decoded", "undecoded"] {
            if let Some(e) = c.get(k) {
                if e != &json["capture"][k] {
                    errors.push(format!("capture.{k}: {} expected {e}", json["capture"][k]));
                }
            }
        }
    }
    // Every frame is accounted for exactly once.
    let total: u64 = ["decoded", "undecoded"]
        .iter()
        .filter_map(|k| json["capture"][k].as_object())
        .flat_map(|m| m.values().filter_map(Value::as_u64))
        .sum();
    if Some(total) != json["capture"]["frames"].as_u64() {
        errors.push(format!(
            "decoded + undecoded = {total} != frames {}",
            json["capture"]["frames"]
        ));
    }
    // Evidence lists are bounded, never silently: `frames_total` counts what was left out.
    for f in json["findings"].as_array().into_iter().flatten() {
        let listed = f["frames"].as_array().map_or(0, Vec::len);
        let total = f["frames_total"].as_u64().unwrap_or(0);
        if listed > offload_doctor::analysis::MAX_EVIDENCE || total < listed as u64 {
            errors.push(format!("{}: {listed} frames listed of {total}", f["id"]));
        }
    }
    if let Some(f) = exp.get("flows") {
        subset(f, &json["flows"], "flows", errors);
    }
    if let Some(n) = exp["flows_count"].as_u64() {
        let got = json["flows"].as_array().map_or(0, |a| a.len()) as u64;
        if got != n {
            errors.push(format!("{got} flows, expected {n}"));
        }
    }
}

/// The exact set of findings, and the severities, details and frames the expectation names.
fn check_findings(exp: &Value, json: &Value, errors: &mut Vec<String>) {
    let want: BTreeSet<&str> = exp["findings"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let got: BTreeSet<&str> = json["findings"]
        .as_array()
        .map(|a| a.iter().filter_map(|f| f["id"].as_str()).collect())
        .unwrap_or_default();
    if want != got {
        errors.push(format!("findings {got:?}, expected exactly {want:?}"));
    }
    if let Some(sev) = exp["finding_severity"].as_object() {
        for (id, want) in sev {
            let got: Vec<&Value> = json["findings"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|f| f["id"] == id.as_str())
                .map(|f| &f["severity"])
                .collect();
            if got.is_empty() || got.iter().any(|g| *g != want) {
                errors.push(format!("finding {id}: severities {got:?}, expected {want}"));
            }
        }
    }
    if let Some(fd) = exp["finding_details"].as_object() {
        for (id, want) in fd {
            let f = finding(json, id.as_str());
            match f {
                Some(f) => subset(want, &f["details"], &format!("{id}.details"), errors),
                None => errors.push(format!("{id} missing")),
            }
        }
    }
    if let Some(ff) = exp["finding_frames"].as_object() {
        for (id, frames) in ff {
            let f = finding(json, id.as_str());
            match f {
                Some(f) if &f["frames"] == frames => {}
                Some(f) => errors.push(format!("{id} frames {} expected {frames}", f["frames"])),
                None => errors.push(format!("{id} missing")),
            }
        }
    }
}

/// The check of one fixture (a case of `fixture_cases`): every fact its expectation file states.
pub fn expect(name: &str) {
    let path = root()
        .join("testdata/fixtures")
        .join(format!("{name}.expect.json"));
    let text = fs::read_to_string(&path).expect("the fixture has an expectation file");
    let exp: Value = serde_json::from_str(&text).expect("valid JSON");
    let errors = check_fixture(name, &exp);
    assert!(errors.is_empty(), "{name}:\n{}", errors.join("\n"));
}

#[test]
fn every_fixture_has_a_case() {
    let names: Vec<String> = fixtures().into_iter().map(|(name, _)| name).collect();
    let cases: Vec<String> = super::fixture_cases::CASES
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(
        names, cases,
        "src/tests/fixture_cases.rs must list every fixture of testdata/fixtures, in order"
    );
}

#[test]
fn the_generator_reproduces_the_committed_fixtures() {
    // Needs python3, which every machine of this project's kind has (see .ci/run).
    let out = std::process::Command::new("python3")
        .arg("testdata/gen_fixtures.py")
        .arg("--check")
        .current_dir(root())
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Full outputs compared with testdata/golden/; `UPDATE_GOLDEN=1 cargo test` rewrites them.
#[test]
fn golden_outputs() {
    let cases: [(&str, &str, &[&str]); 12] = [
        ("vxlan_8472.pcap", "json", &[]),
        ("vxlan_8472.pcap", "text", &[]),
        ("multi_section_le.pcapng", "json", &[]),
        ("cut_mid_record.pcap", "text", &[]),
        ("ipv4_fragments.pcap", "text", &[]),
        ("quic_handshake_ok.pcap", "json", &[]),
        ("quic_handshake_ok.pcap", "text", &[]),
        ("quic_initials_unanswered.pcap", "text", &[]),
        // Every GRO finding names both rules that must go, and so does the verdict.
        ("vxlan_outer_ip_id_and_timestamps.pcap", "text", &[]),
        // PSH ending the trains: the application's messages, info only.
        ("tcp_request_response_psh.pcap", "text", &[]),
        // Two captures through a NAT: the `peer` section and line, and path-loss.
        (
            "peer_nat.pcap",
            "json",
            &["--peer", "testdata/fixtures/peer_nat.peer.pcap"],
        ),
        (
            "peer_nat.pcap",
            "text",
            &["--peer", "testdata/fixtures/peer_nat.peer.pcap"],
        ),
    ];
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for (fixture, format, extra) in cases {
        let path = format!("testdata/fixtures/{fixture}");
        let mut args = vec!["analyze", "--format", format, &path];
        args.extend(extra);
        let r = run(&args);
        let with = if extra.is_empty() { "" } else { ".with-peer" };
        let golden = root().join(format!("testdata/golden/{fixture}{with}.{format}"));
        if update {
            fs::write(&golden, &r.stdout).expect("writable");
            continue;
        }
        let want = fs::read_to_string(&golden).unwrap_or_default();
        if want != r.stdout {
            failures.push(format!(
                "{}: output differs (UPDATE_GOLDEN=1 to accept)\n--- got\n{}",
                golden.display(),
                r.stdout
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn standard_input_plain_and_gzip() {
    for (fixture, gzip) in [("tcp_le_usec.pcap", false), ("tcp_gzip.pcap.gz", true)] {
        let bytes = fs::read(root().join("testdata/fixtures").join(fixture)).expect("fixture");
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_offload-doctor"))
            .args(["analyze", "--format", "json", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("spawns");
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().expect("stdin");
            stdin.write_all(&bytes).expect("written");
        }
        let out = child.wait_with_output().expect("finishes");
        assert!(out.status.success());
        let v: Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(v["capture"]["path"], "-");
        assert_eq!(v["capture"]["gzip"], gzip);
        assert_eq!(v["capture"]["frames"], 12);
    }
}

#[test]
fn usage_errors_exit_2_and_help_exits_0() {
    let r = run(&["analyze"]);
    assert_eq!(r.code, 2, "missing capture argument");
    let r = run(&["analyze", "--format", "xml", "x.pcap"]);
    assert_eq!(r.code, 2);
    let r = run(&["analyze", "--help"]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("--vxlan-port"));
    let r = run(&["analyze", "does-not-exist.pcap"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("does-not-exist.pcap"), "{}", r.stderr);
    assert_eq!(r.stderr.trim_end().lines().count(), 1);
}

/// Every finding id that a fixture expects is documented in docs/detectors.md (its own section)
/// and in docs/json-format.md (its `details` row), and every documented id has a fixture where it
/// fires: a new detector needs both.
#[test]
fn docs_cover_every_finding_id_and_fixtures_cover_every_documented_one() {
    let detectors = fs::read_to_string(root().join("docs/detectors.md")).expect("detectors.md");
    let json_doc = fs::read_to_string(root().join("docs/json-format.md")).expect("json-format.md");
    let documented: BTreeSet<String> = detectors
        .lines()
        .filter_map(|l| l.strip_prefix("## `"))
        .filter_map(|l| l.strip_suffix('`'))
        .map(String::from)
        .collect();
    let fired: BTreeSet<String> = fixtures()
        .iter()
        .flat_map(|(_, e)| {
            e["findings"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|v| v.as_str().map(String::from))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(
        documented, fired,
        "ids with a docs/detectors.md section vs ids some fixture expects"
    );
    for id in &fired {
        assert!(
            json_doc.contains(&format!("| `{id}` |")),
            "{id} has no details row in docs/json-format.md"
        );
    }
    assert_eq!(documented.len(), 31);
}
