//! `--peer`: two captures of one path. The fixture pairs' facts are in their expectation files
//! (testdata/peer_fixtures.py); here, what holds across them: the same losses whichever capture
//! is analysed, no loss between a capture and itself or an unrelated one (fixtures and every
//! real capture), and a damaged peer as a clear error.

use std::path::Path;

use serde_json::Value;

use crate::common::{analyze_json, root, run};
use crate::real_captures::shared;

fn path_loss(json: &Option<Value>) -> Vec<Value> {
    json.as_ref()
        .and_then(|j| j["findings"].as_array().cloned())
        .unwrap_or_default()
        .into_iter()
        .filter(|f| f["id"] == "path-loss")
        .collect()
}

fn with_peer(capture: &Path, peer: &Path) -> Vec<Value> {
    let (r, json) = analyze_json(capture, &["--peer".into(), peer.display().to_string()]);
    assert!(
        r.code == 0 || r.code == 2,
        "{}: {}",
        capture.display(),
        r.stderr
    );
    assert!(!r.stderr.contains("panicked"), "{}", r.stderr);
    path_loss(&json)
}

#[test]
fn the_same_losses_whichever_capture_is_analysed() {
    let dir = root().join("testdata/fixtures");
    let (a, b) = (
        dir.join("peer_path_loss.pcap"),
        dir.join("peer_path_loss.peer.pcap"),
    );
    let here = with_peer(&a, &b);
    let there = with_peer(&b, &a);
    assert_eq!((here.len(), there.len()), (1, 1), "{here:?}\n{there:?}");
    let (h, t) = (&here[0]["details"], &there[0]["details"]);
    assert_eq!(h["upstream"], "this");
    assert_eq!(t["upstream"], "peer");
    assert_eq!(h["lost_frames_upstream"], t["lost_frames_upstream"]);
    assert_eq!(h["lost"], 6);
    assert_eq!(t["lost"], 6);
    // Analysing the downstream capture, its evidence is where the gaps are in it.
    assert_eq!(there[0]["frames"], h["frames_before_runs_downstream"]);
    let offset = t["offset_ms"].as_f64().expect("offset");
    assert!((offset + 2500.0).abs() < 0.01, "{offset}");
}

/// Every capture against itself: all matched, nothing lost, clocks 0 apart.
fn self_compare(files: &[std::path::PathBuf]) -> Vec<String> {
    let mut bad = Vec::new();
    for f in files {
        for x in with_peer(f, f) {
            let lost = x["details"]["lost"].as_u64().unwrap_or(0);
            let offset = x["details"]["offset_ms"].as_f64().unwrap_or(0.0);
            if x["severity"] != "info" || lost != 0 || offset != 0.0 {
                bad.push(format!("{}: {}", f.display(), x["message"]));
            }
        }
    }
    bad
}

/// Each capture against the next one: unrelated, so never a loss.
fn unrelated(files: &[std::path::PathBuf]) -> Vec<String> {
    let mut bad = Vec::new();
    for w in files.windows(2) {
        for x in with_peer(&w[0], &w[1]) {
            if x["severity"] != "info" {
                bad.push(format!(
                    "{} vs {}: {}",
                    w[0].display(),
                    w[1].display(),
                    x["message"]
                ));
            }
        }
    }
    bad
}

fn captures(dir: &Path, skip_peer_pairs: bool) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .expect("readable")
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            let s = p.to_string_lossy();
            (s.ends_with(".pcap") || s.ends_with(".pcapng") || s.ends_with(".gz"))
                && !(skip_peer_pairs && s.contains("/peer_"))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn no_loss_against_itself_or_an_unrelated_capture_on_the_fixtures() {
    let files = captures(&root().join("testdata/fixtures"), true);
    assert!(files.len() > 100);
    let mut bad = self_compare(&files);
    bad.extend(unrelated(&files));
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn no_loss_against_itself_or_an_unrelated_capture_on_the_real_captures() {
    let Some(dir) = shared() else { return };
    let files = captures(&dir, false);
    assert!(files.len() > 50);
    let mut bad = self_compare(&files);
    bad.extend(unrelated(&files));
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

#[test]
fn a_damaged_peer_is_an_error_naming_it() {
    let r = run(&[
        "analyze",
        "testdata/fixtures/peer_path_loss.pcap",
        "--peer",
        "testdata/fixtures/corrupt_record_length.pcap",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let line = r.stderr.trim_end();
    assert_eq!(line.lines().count(), 1, "{line}");
    assert!(
        line.contains("--peer") && line.contains("corrupt_record_length.pcap"),
        "{line}"
    );
    assert!(line.contains("offset"), "{line}");
}

#[test]
fn commands_that_compare_nothing_refuse_a_peer() {
    let r = run(&[
        "compare",
        "testdata/fixtures/peer_path_loss.pcap",
        "testdata/fixtures/peer_nat.pcap",
        "--peer",
        "testdata/fixtures/peer_nat.peer.pcap",
    ]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("--peer is for `analyze`, `check` and `plot`"),
        "{}",
        r.stderr
    );
}
