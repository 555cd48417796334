//! Helpers shared by the integration tests: run the binary, compare JSON subsets.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `offload-doctor ARGS` from the crate root.
pub fn run(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_offload-doctor"))
        .args(args)
        .current_dir(root())
        .env("COLUMNS", "200")
        .output()
        .expect("the binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `analyze --format json` on `path` (relative to the crate root) with extra args.
pub fn analyze_json(path: &Path, extra: &[String]) -> (Run, Option<Value>) {
    let p = path.to_string_lossy().into_owned();
    let mut args: Vec<&str> = vec!["analyze", "--format", "json"];
    args.extend(extra.iter().map(String::as_str));
    args.push(&p);
    let r = run(&args);
    let v = serde_json::from_str(&r.stdout).ok();
    (r, v)
}

/// Checks that every field of `expected` is in `actual` with the same value. Arrays must have the
/// same length and match element by element; floats match to 1e-9.
/// The first finding with `id` in a report.
pub fn finding<'a>(report: &'a Value, id: &str) -> Option<&'a Value> {
    report["findings"]
        .as_array()
        .and_then(|a| a.iter().find(|f| f["id"] == id))
}

pub fn subset(expected: &Value, actual: &Value, path: &str, errors: &mut Vec<String>) {
    match (expected, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                match a.get(k) {
                    Some(av) => subset(ev, av, &format!("{path}.{k}"), errors),
                    None => errors.push(format!("{path}.{k}: missing")),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if e.len() != a.len() {
                errors.push(format!(
                    "{path}: {} elements, expected {}",
                    a.len(),
                    e.len()
                ));
            }
            for (i, (ev, av)) in e.iter().zip(a).enumerate() {
                subset(ev, av, &format!("{path}[{i}]"), errors);
            }
        }
        (Value::Number(e), Value::Number(a)) if e.is_f64() || a.is_f64() => {
            let (x, y) = (
                e.as_f64().unwrap_or(f64::NAN),
                a.as_f64().unwrap_or(f64::NAN),
            );
            if (x - y).abs() > 1e-9 {
                errors.push(format!("{path}: {a}, expected {e}"));
            }
        }
        (e, a) => {
            if e != a {
                errors.push(format!("{path}: {a}, expected {e}"));
            }
        }
    }
}
