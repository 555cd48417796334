//! The two-thread pass (reading and decoding beside flows and detectors) against the one-thread
//! pass (`OFFLOAD_DOCTOR_THREADS=1`): the same report, byte for byte, on every fixture, every
//! shared real capture, and a pcapng capture of several read buffers (batches cross threads).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::root;

/// How the pass runs: on one thread, or on two with the reading thread decoding a share of
/// the frames (sixteenths; `None` for the adaptive split) and the analysis thread the rest.
#[derive(Debug, Clone, Copy)]
enum Threads {
    One,
    Two(Option<u32>),
}

/// `analyze --format json ARGS PATH` with the given thread setting: exit code and stdout.
fn analyze(path: &Path, args: &[String], threads: Threads) -> (Option<i32>, Vec<u8>) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_offload-doctor"));
    cmd.args(["analyze", "--format", "json"])
        .args(args)
        .arg(path)
        .current_dir(root())
        .env_remove("OFFLOAD_DOCTOR_THREADS")
        .env_remove("OFFLOAD_DOCTOR_READER_SHARE");
    match threads {
        Threads::One => {
            cmd.env("OFFLOAD_DOCTOR_THREADS", "1");
        }
        Threads::Two(Some(share)) => {
            cmd.env("OFFLOAD_DOCTOR_READER_SHARE", share.to_string());
        }
        Threads::Two(None) => {}
    }
    let out = cmd.output().expect("the binary runs");
    (out.status.code(), out.stdout)
}

/// The one-thread report against the two-thread reports: adaptive, the analysis thread decoding
/// every frame, and an uneven split (7 of 16 on the reading thread).
fn assert_same(path: &Path, args: &[String]) {
    let one = analyze(path, args, Threads::One);
    assert!(!one.1.is_empty(), "{}: no output", path.display());
    for threads in [
        Threads::Two(None),
        Threads::Two(Some(0)),
        Threads::Two(Some(7)),
    ] {
        let two = analyze(path, args, threads);
        assert!(
            one == two,
            "{}: the two-thread report ({threads:?}) differs from the one-thread report",
            path.display()
        );
    }
}

/// Every fixture, with the arguments its expectation names.
#[test]
fn fixtures_report_the_same_on_one_and_two_threads() {
    let dir = root().join("testdata/fixtures");
    let mut n = 0;
    for e in fs::read_dir(&dir).expect("fixtures") {
        let p = e.expect("entry").path();
        let name = p.to_string_lossy().into_owned();
        let Some(capture) = name.strip_suffix(".expect.json") else {
            continue;
        };
        let exp: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&p).expect("readable")).expect("JSON");
        let args = crate::common::fixture_args(&exp);
        assert_same(Path::new(capture), &args);
        n += 1;
    }
    assert!(n >= 40, "only {n} fixtures");
}

/// The shared real captures (some span several read buffers).
#[test]
fn real_captures_report_the_same_on_one_and_two_threads() {
    let dir = root().join("../shared/captures");
    let Ok(entries) = fs::read_dir(&dir) else {
        assert!(
            std::env::var_os("OFFLOAD_DOCTOR_REQUIRE_SHARED").is_none(),
            "../shared/captures is missing"
        );
        return;
    };
    let mut paths: Vec<PathBuf> = entries
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "pcap" || x == "pcapng"))
        .collect();
    paths.sort();
    for p in &paths {
        assert_same(p, &[]);
    }
}

/// A pcapng capture of 4,000 full-size TCP segments (about 6 MB, many 512 KiB batches, records
/// cut by buffer ends), with TCP options whose bytes the analysis thread borrows back.
#[test]
fn a_capture_of_many_batches_reports_the_same() {
    let mut f = Vec::new();
    // Section Header Block (little-endian) and one Ethernet interface (pcapng §4.1, §4.2).
    f.extend_from_slice(&[0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a]);
    f.extend_from_slice(&[
        1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 28, 0, 0, 0,
    ]);
    f.extend_from_slice(&[1, 0, 0, 0, 20, 0, 0, 0, 1, 0, 0, 0, 0, 0, 4, 0, 20, 0, 0, 0]);
    for i in 0..4000u32 {
        let frame = segment(i);
        let padded = frame.len().div_ceil(4) * 4;
        let len = (32 + padded) as u32;
        f.extend_from_slice(&6u32.to_le_bytes());
        f.extend_from_slice(&len.to_le_bytes());
        f.extend_from_slice(&0u32.to_le_bytes()); // interface 0
        let ts = 1_700_000_000_000_000u64 + u64::from(i) * 10;
        f.extend_from_slice(&((ts >> 32) as u32).to_le_bytes());
        f.extend_from_slice(&(ts as u32).to_le_bytes());
        f.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        f.extend_from_slice(&(frame.len() as u32).to_le_bytes());
        f.extend_from_slice(&frame);
        f.resize(f.len() + padded - frame.len(), 0);
        f.extend_from_slice(&len.to_le_bytes());
    }
    let path = std::env::temp_dir().join(format!("od-threads-{}.pcapng", std::process::id()));
    fs::write(&path, &f).expect("temp file");
    assert_same(&path, &[]);
    let _ = fs::remove_file(&path);
}

/// Ethernet, IPv4 and TCP with a timestamp option, 1,448 bytes of data; every 10th segment an
/// ACK from the other side, every 97th a retransmission.
fn segment(i: u32) -> Vec<u8> {
    let ack = i % 10 == 9;
    let payload = if ack { 0 } else { 1448 };
    let seq = 1 + 1448 * if i % 97 == 96 { i - 3 } else { i };
    let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x00];
    let total = (20 + 32 + payload) as u16;
    let (src, dst) = if ack {
        ([10, 0, 0, 2], [10, 0, 0, 1])
    } else {
        ([10, 0, 0, 1], [10, 0, 0, 2])
    };
    f.extend_from_slice(&[
        0x45,
        0,
        (total >> 8) as u8,
        total as u8,
        0,
        0,
        0x40,
        0,
        64,
        6,
        0,
        0,
    ]);
    f.extend_from_slice(&src);
    f.extend_from_slice(&dst);
    let (sp, dp, s, a) = if ack {
        (443u16, 40000u16, 1, seq)
    } else {
        (40000, 443, seq, 1)
    };
    f.extend_from_slice(&sp.to_be_bytes());
    f.extend_from_slice(&dp.to_be_bytes());
    f.extend_from_slice(&s.to_be_bytes());
    f.extend_from_slice(&a.to_be_bytes());
    f.extend_from_slice(&[0x80, 0x10, 0x01, 0x00, 0, 0, 0, 0]);
    f.extend_from_slice(&[1, 1, 8, 10]);
    f.extend_from_slice(&(i * 3).to_be_bytes());
    f.extend_from_slice(&(i * 2).to_be_bytes());
    f.resize(f.len() + payload, b'd');
    f
}
