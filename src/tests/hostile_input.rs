//! Every capture byte is hostile: truncated and mutated captures must never panic, hang or
//! allocate without bound, and must either be rejected with a typed error or analysed.

use std::fs;
use std::path::PathBuf;

use offload_doctor::analysis::{Settings, Severity};
use offload_doctor::decode::DecodeConfig;
use offload_doctor::flow::FullTrace;
use offload_doctor::pipeline::analyze_bytes;
use offload_doctor::plot::{self, render, PlotKind};
use offload_doctor::qlog;
use offload_doctor::report::check::{text as check_text, CaptureCheck, CheckRun};
use offload_doctor::report::compare::{self, Comparison, Matching};
use offload_doctor::report::junit;
use proptest::prelude::*;

fn fixture_bytes() -> Vec<(String, Vec<u8>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/fixtures");
    let mut out: Vec<(String, Vec<u8>)> = fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(|e| {
            let p = e.ok()?.path();
            let n = p.file_name()?.to_string_lossy().into_owned();
            let capture = !n.ends_with(".json") && !n.ends_with("qlog");
            capture.then(|| Some((n, fs::read(&p).ok()?)))?
        })
        .collect();
    out.sort();
    out
}

fn analyse(bytes: Vec<u8>) {
    // Either outcome is fine; a panic fails the test.
    let _ = analyze_bytes(bytes, &DecodeConfig::default(), &Settings::default());
}

#[test]
fn every_prefix_of_every_fixture() {
    for (name, bytes) in fixture_bytes() {
        let whole = analyze_bytes(
            bytes.clone(),
            &DecodeConfig::default(),
            &Settings::default(),
        )
        .map(|a| a.report.capture.frames)
        .ok();
        // Every length for small files, a stride for larger ones.
        let step = (bytes.len() / 400).max(1);
        for n in (0..bytes.len()).step_by(step) {
            let r = analyze_bytes(
                bytes[..n].to_vec(),
                &DecodeConfig::default(),
                &Settings::default(),
            );
            if let (Ok(a), Some(whole)) = (&r, whole) {
                // A prefix never has more frames than the whole file.
                assert!(a.report.capture.frames <= whole, "{name} cut at {n}");
            }
        }
    }
}

/// The qlog fixtures (`*.qlog`, `*.sqlog`) cut at every length and with bytes overwritten: the
/// reader returns traces or an error naming the file and a line, never panics, and a prefix never
/// counts more packets than the whole file.
#[test]
fn every_prefix_and_mutation_of_every_qlog_fixture() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/fixtures");
    let mut seen = 0;
    for e in fs::read_dir(&dir).expect("fixtures") {
        let p = e.expect("dir entry").path();
        if !p.to_string_lossy().ends_with("qlog") {
            continue;
        }
        seen += 1;
        let bytes = fs::read(&p).expect("readable");
        let name = std::path::Path::new("q.qlog");
        let whole = qlog::read(name, &bytes[..]).expect("a fixture parses");
        assert_eq!(whole.len(), 1, "{}", p.display());
        let sent = whole[0].tally.sent.packets;
        let step = (bytes.len() / 300).max(1);
        for n in (0..bytes.len()).step_by(step) {
            match qlog::read(name, &bytes[..n]) {
                Ok(t) => assert!(t.iter().all(|t| t.tally.sent.packets <= sent)),
                Err(e) => assert!(e.to_string().starts_with("q.qlog"), "{e}"),
            }
            let mut m = bytes.clone();
            m[n] = [b'{', b'"', b']', 0xff, b'9', 0x1e][n % 6];
            if let Err(e) = qlog::read(name, &m[..]) {
                // A file that names no trace at all (its `traces` key broken) has no line to
                // blame.
                let whole_file = e.what.starts_with("no trace");
                assert!(
                    e.line.is_some() || n < 2 || whole_file,
                    "no line for a byte at {n}: {e}"
                );
            }
        }
    }
    assert_eq!(seen, 12, "the qlog fixtures of testdata/fixtures");
}

#[test]
fn a_cut_capture_keeps_what_was_read() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("testdata/fixtures/tcp_le_usec.pcap");
    let bytes = fs::read(path).expect("fixture");
    let whole = analyze_bytes(
        bytes.clone(),
        &DecodeConfig::default(),
        &Settings::default(),
    )
    .expect("readable");
    let n = whole.report.capture.frames;
    // Cut one byte before the end: all frames but the last, and the truncation is reported.
    let cut = analyze_bytes(
        bytes[..bytes.len() - 1].to_vec(),
        &DecodeConfig::default(),
        &Settings::default(),
    )
    .expect("readable");
    assert_eq!(cut.report.capture.frames, n - 1);
    assert!(cut.report.capture.file_truncated);
    assert!(cut.damaged.is_none(), "a cut is not damage: exit 0");
}

#[test]
fn huge_claimed_lengths_are_damage_not_records() {
    // Classic pcap header + a record claiming 4 GiB, then nothing.
    let mut b = vec![
        0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0,
    ];
    b.extend_from_slice(&[0; 8]);
    b.extend_from_slice(&u32::MAX.to_le_bytes());
    b.extend_from_slice(&u32::MAX.to_le_bytes());
    let a = analyze_bytes(b, &DecodeConfig::default(), &Settings::default()).expect("header ok");
    assert_eq!(a.report.capture.frames, 0);
    assert!(a.damaged.is_some());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn mutated_fixtures_never_panic(
        which in 0usize..1000,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
        cut in any::<prop::sample::Index>(),
    ) {
        let all = fixture_bytes();
        let (_, mut bytes) = all[which % all.len()].clone();
        if !bytes.is_empty() {
            for (i, v) in flips {
                let at = i.index(bytes.len());
                bytes[at] = v;
            }
            let keep = cut.index(bytes.len() + 1);
            bytes.truncate(keep.max(bytes.len() / 2));
        }
        analyse(bytes);
    }

    /// The graphs of every TCP and UDP flow of a mutated capture: hostile sequence numbers, timestamps
    /// and IDs become coordinates, and must be drawn without a panic.
    #[test]
    fn graphs_of_mutated_fixtures_never_panic(
        which in 0usize..1000,
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..16),
    ) {
        let all = fixture_bytes();
        let (_, mut bytes) = all[which % all.len()].clone();
        for (i, v) in flips {
            if !bytes.is_empty() {
                let at = i.index(bytes.len());
                bytes[at] = v;
            }
        }
        let mut settings = Settings::default();
        settings.flows.full_trace = FullTrace::All;
        if let Ok(a) = analyze_bytes(bytes, &DecodeConfig::default(), &settings) {
            let flows: Vec<_> = a.flows.flows.iter().collect();
            let size = (400, 300);
            let t0 = a.report.capture.first_timestamp_ns.unwrap_or(0);
            for c in plot::charts(&flows, &PlotKind::ALL, &plot::canvas(t0, 100_000_000, size)) {
                prop_assert!(render::svg(&c, size).is_ok(), "{}", c.title);
            }
        }
    }

    /// `compare` (text, JSON and overlay graphs) and `check` (text, JSON, JUnit) of mutated
    /// captures: every figure a report holds reaches them.
    #[test]
    fn comparisons_and_checks_of_mutated_fixtures_never_panic(
        which in (0usize..1000, 0usize..1000),
        flips in prop::collection::vec((any::<bool>(), any::<prop::sample::Index>(), any::<u8>()), 1..16),
        ignore_ports in any::<bool>(),
    ) {
        let all = fixture_bytes();
        let mut pair = [all[which.0 % all.len()].1.clone(), all[which.1 % all.len()].1.clone()];
        for (second, i, v) in flips {
            let b = &mut pair[usize::from(second)];
            if !b.is_empty() {
                let at = i.index(b.len());
                b[at] = v;
            }
        }
        let mut settings = Settings::default();
        settings.flows.full_trace = FullTrace::All;
        let [b, a] = pair.map(|bytes| analyze_bytes(bytes, &DecodeConfig::default(), &settings));
        if let (Ok(b), Ok(a)) = (b, a) {
            let matching = if ignore_ports { Matching::IgnoreEphemeralPorts } else { Matching::Endpoints };
            let cmp = Comparison::new(&b.report, &a.report, matching);
            prop_assert!(!compare::render(&cmp, 5, Some(120)).is_empty());
            prop_assert!(serde_json::to_string(&cmp).is_ok());
            let cv = plot::canvas(0, 100_000_000, (400, 300));
            for p in cmp.flows.iter().filter(|p| p.protocol == offload_doctor::flow::Protocol::Tcp) {
                if let (Some(fb), Some(fa)) = (b.flows.by_id(p.before.id), a.flows.by_id(p.after.id)) {
                    let sides = [
                        plot::OverlaySide { label: "before", flow: fb, side: fb.client },
                        plot::OverlaySide { label: "after", flow: fa, side: fa.client.other() },
                    ];
                    for c in plot::overlay_charts(sides, &cv) {
                        prop_assert!(render::svg(&c, (400, 300)).is_ok(), "{}", c.title);
                    }
                }
            }
            let checks = vec![
                CaptureCheck::new(b.report, b.damaged.map(|d| d.what), Severity::Warning),
                CaptureCheck::new(a.report, None, Severity::Warning),
            ];
            let line = check_text::line(&checks[0], Severity::Warning);
            let run = CheckRun::new(Severity::Warning, None, &[], checks);
            prop_assert!(!line.is_empty());
            prop_assert!(serde_json::to_string(&run).is_ok());
            prop_assert!(junit::junit(&run, &offload_doctor::analysis::finding_ids()).to_string().is_ok());
        }
    }

    #[test]
    fn random_bytes_after_a_valid_header_never_panic(
        body in prop::collection::vec(any::<u8>(), 0..4096),
        ng in any::<bool>(),
    ) {
        let mut b = if ng {
            // pcapng SHB (28 bytes) + IDB for Ethernet (20 bytes)
            let mut v = vec![0x0a, 0x0d, 0x0d, 0x0a, 28, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0];
            v.extend_from_slice(&[0xff; 8]);
            v.extend_from_slice(&[28, 0, 0, 0, 1, 0, 0, 0, 20, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 20, 0, 0, 0]);
            v
        } else {
            vec![0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0, 0, 1, 0, 0, 0]
        };
        b.extend_from_slice(&body);
        analyse(b);
    }
}

/// Found by `graphs_of_mutated_fixtures_never_panic`: one byte of a QUIC fixture's timestamp
/// changed puts a datagram millions of axis spans away, which plotters' pixel mapping overflowed
/// on (`plot::reach` keeps coordinates within reach).
#[test]
fn a_point_millions_of_spans_away_is_drawn() {
    let mut bytes = fs::read(
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("testdata/fixtures/quic_rebinding_one_connection.pcap"),
    )
    .expect("fixture");
    bytes[10222] = 166;
    let mut settings = Settings::default();
    settings.flows.full_trace = FullTrace::All;
    let a = analyze_bytes(bytes, &DecodeConfig::default(), &settings).expect("analysed");
    let flows: Vec<_> = a.flows.flows.iter().collect();
    let size = (400, 300);
    let t0 = a.report.capture.first_timestamp_ns.unwrap_or(0);
    let charts = plot::charts(&flows, &PlotKind::ALL, &plot::canvas(t0, 100_000_000, size));
    assert!(!charts.is_empty());
    for c in charts {
        assert!(render::svg(&c, size).is_ok(), "{}", c.title);
    }
}
