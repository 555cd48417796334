//! Ctrl-C and live capture end to end: a real SIGINT sent to the binary reading a pipe that
//! stays open, and `live` with the system's tcpdump (when present and root) or without it.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::common::{root, run};

/// Large frames (GRO-merged): part of it stops in the middle of a record.
const CAPTURE: &str = "testdata/fixtures/demo_vxlan_before.pcap";

/// Waits for `child` at most `limit`; kills it (ours, by its handle) and fails on a hang.
fn wait_for(child: &mut Child, limit: Duration) -> (i32, String, String) {
    let start = Instant::now();
    loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            let mut out = String::new();
            let mut err = String::new();
            if let Some(mut o) = child.stdout.take() {
                o.read_to_string(&mut out).expect("stdout");
            }
            if let Some(mut e) = child.stderr.take() {
                e.read_to_string(&mut err).expect("stderr");
            }
            return (st.code().unwrap_or(-1), out, err);
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("offload-doctor still running {limit:?} after the signal");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// `analyze FORMAT -` fed part of a capture through a pipe left open, then SIGINT.
fn interrupted_analyze(format: &str) -> (i32, String, String) {
    let bytes = std::fs::read(root().join(CAPTURE)).expect("fixture");
    let mut child = Command::new(env!("CARGO_BIN_EXE_offload-doctor"))
        .args(["analyze", "--format", format, "-"])
        .current_dir(root())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let mut stdin = child.stdin.take().expect("stdin");
    // Ends in the middle of a record: the read blocks there, in read(), until the signal.
    stdin.write_all(&bytes[..400_000]).expect("written");
    stdin.flush().expect("flushed");
    std::thread::sleep(Duration::from_millis(800));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let got = wait_for(&mut child, Duration::from_secs(20));
    // The writer stays open until the end: the signal alone ended the reading.
    drop(stdin);
    got
}

#[test]
fn ctrl_c_on_a_pipe_prints_the_report_of_what_was_read() {
    let (code, out, err) = interrupted_analyze("json");
    assert_eq!(code, 130, "stderr: {err}");
    let v: Value = serde_json::from_str(&out).expect("one JSON report on stdout");
    let c = &v["capture"];
    assert_eq!(c["interrupted"], true);
    // The record cut by the stop is not damage.
    assert_eq!(c["file_truncated"], false);
    assert!(
        c["frames"].as_u64().is_some_and(|n| n > 10),
        "{}",
        c["frames"]
    );
    assert!(v["flows"].as_array().is_some_and(|f| !f.is_empty()));
    assert!(
        v["findings"]
            .as_array()
            .is_some_and(|f| f.iter().all(|f| f["id"] != "capture-file-truncated")),
        "{out}"
    );
    assert!(err.contains("Interrupted by SIGINT"), "{err}");
}

#[test]
fn ctrl_c_is_said_in_the_text_report() {
    let (code, out, _) = interrupted_analyze("text");
    assert_eq!(code, 130);
    assert!(out.contains("Verdict"), "{out}");
    let last = out.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("Interrupted by SIGINT: reading stopped after "),
        "{last}"
    );
}

#[test]
fn a_whole_capture_is_not_marked_interrupted() {
    let r = run(&["analyze", "--format", "json", CAPTURE]);
    assert_eq!(r.code, 0);
    let v: Value = serde_json::from_str(&r.stdout).expect("JSON");
    assert_eq!(v["capture"]["interrupted"], false);
}

#[test]
fn live_without_tcpdump_or_dumpcap_says_so() {
    let empty = tempfile::tempdir().expect("temp dir");
    let out = Command::new(env!("CARGO_BIN_EXE_offload-doctor"))
        .args(["live", "-i", "lo", "--duration", "1s"])
        .env("PATH", empty.path())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("needs tcpdump or dumpcap, and neither is in PATH"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

/// Whether `live` can capture here: tcpdump installed and running as root.
fn can_capture() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    let tcpdump = Command::new("tcpdump")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    root && tcpdump
}

#[test]
fn live_on_lo_shows_a_connection_made_during_it() {
    if !can_capture() {
        // Past the harness's capture, as the real-capture tests say it.
        let _ = writeln!(
            std::io::stderr(),
            "\n*** SKIPPED live_on_lo_shows_a_connection_made_during_it: needs tcpdump and root ***"
        );
        return;
    }
    let listener = TcpListener::bind("127.0.0.1:0").expect("listener");
    let port = listener.local_addr().expect("addr").port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_offload-doctor"))
        .args(["live", "-i", "lo", "--duration", "3s", "--format", "json"])
        .args(["-f", &format!("tcp port {port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    // tcpdump needs a moment before it captures.
    std::thread::sleep(Duration::from_millis(1200));
    let mut client = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    let (mut server, _) = listener.accept().expect("accept");
    client.write_all(&[7u8; 5000]).expect("send");
    let mut buf = [0u8; 5000];
    server.read_exact(&mut buf).expect("receive");
    drop(client);
    drop(server);
    let (code, out, err) = wait_for(&mut child, Duration::from_secs(20));
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).expect("JSON report");
    // The capture ran its course: not interrupted.
    assert_eq!(v["capture"]["interrupted"], false, "{err}");
    let server_end = format!("127.0.0.1:{port}");
    let flows = v["flows"].as_array().expect("flows");
    assert!(
        flows
            .iter()
            .any(|f| f["server"] == server_end.as_str() && f["c2s"]["payload_bytes"] == 5000),
        "no flow to {server_end} with 5000 bytes: {out}"
    );
}
