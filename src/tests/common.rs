//! Helpers shared by the integration tests: run the binary, compare JSON subsets.

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

/// `analyze --format json` on `path` (relative to the crate root) with extra args, and the report
/// it printed (`None` for none, or for the error document of an unreadable capture).
pub fn analyze_json(path: &Path, extra: &[String]) -> (Run, Option<Value>) {
    let p = path.to_string_lossy().into_owned();
    let mut args: Vec<&str> = vec!["analyze", "--format", "json"];
    args.extend(extra.iter().map(String::as_str));
    args.push(&p);
    let r = run(&args);
    // An unreadable capture prints a JSON error document, not a report: no report then.
    let v = serde_json::from_str::<Value>(&r.stdout)
        .ok()
        .filter(|v| v.get("capture").is_some());
    (r, v)
}

/// The JSON report of `capture` (exit 0 asserted), decrypted with the key log `keys` (a path
/// under the repository) when one is given.
pub fn keyed_report(capture: &Path, keys: Option<&str>) -> Value {
    let args: Vec<String> = keys
        .map(|k| {
            vec![
                "--keylog".into(),
                root().join(k).to_string_lossy().into_owned(),
            ]
        })
        .unwrap_or_default();
    let (r, json) = analyze_json(capture, &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    json.expect("report")
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

/// Fixtures the command tests share.
pub const CLEAN: &str = "testdata/fixtures/tcp_clean_transfer.pcap";
pub const NEW_PORT: &str = "testdata/fixtures/tcp_clean_transfer_new_port.pcap";
/// gro-blocked-ip-id (error under the default kernel) and no-coalescing (warning).
pub const VXLAN_DF0: &str = "testdata/fixtures/vxlan_outer_ip_id_df0.pcap";
pub const VXLAN_OK: &str = "testdata/fixtures/vxlan_outer_ip_id_incrementing.pcap";
/// One retransmission in 203 segments (0.49%): info under the default 1% threshold.
pub const RETX_LOW: &str = "testdata/fixtures/tcp_retransmission_below_threshold.pcap";
pub const ZERO_WINDOW: &str = "testdata/fixtures/tcp_zero_window.pcap";
pub const KEEPALIVE: &str = "testdata/fixtures/tcp_keepalive.pcap";
pub const NOT_A_CAPTURE: &str = "testdata/fixtures/not_a_capture.txt";
pub const DAMAGED: &str = "testdata/fixtures/corrupt_record_length.pcap";
pub const CUT_SHORT: &str = "testdata/fixtures/cut_mid_record.pcap";

pub fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// A policy file in a fresh temporary directory.
pub fn policy(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("od-policy-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let p = dir.join("policy.toml");
    std::fs::write(&p, text).expect("policy written");
    p
}

pub fn ids_of(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|f| f["id"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// One TCP segment over raw IPv4 (20-byte headers, DF set, TTL 64, a zero payload of `len`):
/// `ends` are (address, port) of the sender, then the receiver.
pub fn ipv4_tcp(
    ends: (([u8; 4], u16), ([u8; 4], u16)),
    seq: u32,
    ack: u32,
    flags: u8,
    len: u16,
) -> Vec<u8> {
    let ((src, sport), (dst, dport)) = ends;
    let total = 40 + len;
    let mut p = vec![0x45, 0];
    p.extend_from_slice(&total.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
    p.extend_from_slice(&src);
    p.extend_from_slice(&dst);
    p.extend_from_slice(&sport.to_be_bytes());
    p.extend_from_slice(&dport.to_be_bytes());
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ack.to_be_bytes());
    p.extend_from_slice(&[0x50, flags, 0xff, 0xff, 0, 0, 0, 0]);
    p.resize(total as usize, 0);
    p
}

/// A classic pcap (raw IP link type 101) of `packets`, `gap_us` apart.
pub fn raw_ip_pcap(packets: &[Vec<u8>], gap_us: u32) -> Vec<u8> {
    let mut b = vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0];
    b.extend_from_slice(&65535u32.to_le_bytes());
    b.extend_from_slice(&101u32.to_le_bytes());
    for (i, p) in packets.iter().enumerate() {
        let us = gap_us * i as u32;
        b.extend_from_slice(&(1_700_000_000 + us / 1_000_000).to_le_bytes());
        b.extend_from_slice(&(us % 1_000_000).to_le_bytes());
        b.extend_from_slice(&(p.len() as u32).to_le_bytes());
        b.extend_from_slice(&(p.len() as u32).to_le_bytes());
        b.extend_from_slice(p);
    }
    b
}

/// The command-line arguments a fixture's expectation file gives (`"args"`).
pub fn fixture_args(exp: &Value) -> Vec<String> {
    exp["args"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}
