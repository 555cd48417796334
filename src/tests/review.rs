//! Precision on real traffic: every warning and error `analyze` gives on ../shared/captures must
//! be in testdata/review.tsv, reviewed as true. A new finding, one reviewed false, or a reviewed
//! line that no longer fires fails the test, so the review always describes today's tool.

use std::collections::BTreeSet;

use crate::common::{analyze_json, root};
use crate::real_captures::shared;

/// (capture, flow or "-", finding id, severity): what identifies a reviewed finding.
type Key = (String, String, String, String);

/// The review file's lines: key and verdict (`true` or `false`).
fn reviewed() -> Vec<(Key, String)> {
    let text = std::fs::read_to_string(root().join("testdata/review.tsv")).expect("review.tsv");
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.starts_with("capture\t") || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 6, "review.tsv line {}: 6 columns", n + 1);
        assert!(
            matches!(cols[4], "true" | "false") && !cols[5].trim().is_empty(),
            "review.tsv line {}: a verdict and a reason",
            n + 1
        );
        let key = (
            cols[0].to_string(),
            cols[1].to_string(),
            cols[2].to_string(),
            cols[3].to_string(),
        );
        out.push((key, cols[4].to_string()));
    }
    out
}

/// Every warning and error of every shared capture.
fn found(dir: &std::path::Path) -> BTreeSet<Key> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("captures dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".md") && !n.ends_with(".json"))
        .collect();
    names.sort();
    let mut out = BTreeSet::new();
    for name in names {
        let (_, json) = analyze_json(&dir.join(&name), &[]);
        let Some(json) = json else { continue };
        for f in json["findings"].as_array().into_iter().flatten() {
            let severity = f["severity"].as_str().unwrap_or("?");
            if severity == "info" {
                continue;
            }
            let flow = f["flow"]
                .as_u64()
                .map_or("-".to_string(), |n| n.to_string());
            let id = f["id"].as_str().unwrap_or("?");
            out.insert((name.clone(), flow, id.to_string(), severity.to_string()));
        }
    }
    out
}

#[test]
fn every_warning_and_error_on_real_captures_is_reviewed_true() {
    let Some(dir) = shared() else { return };
    let review = reviewed();
    let keys: BTreeSet<Key> = review.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(keys.len(), review.len(), "review.tsv lists a finding twice");
    let found = found(&dir);
    let mut problems = Vec::new();
    for k in found.difference(&keys) {
        problems.push(format!("unreviewed: {}\t{}\t{}\t{}", k.0, k.1, k.2, k.3));
    }
    for (k, verdict) in &review {
        if !found.contains(k) {
            problems.push(format!("reviewed but no longer found: {k:?}"));
        } else if verdict != "true" {
            problems.push(format!("reviewed as a false alarm: {k:?}"));
        }
    }
    assert!(
        problems.is_empty(),
        "testdata/review.tsv and today's findings differ:\n{}",
        problems.join("\n")
    );
}
