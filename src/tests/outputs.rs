//! Output files in hostile places: planted symlinks, an input named as the JUnit file, a
//! capture or a text file where a report or graph would go (and `--force`), FIFOs, `-` for
//! stdout, an interrupted `plot`, and the exit code of a `plot` that drew nothing.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{root, run, Run};

const VXLAN: &str = "testdata/fixtures/demo_vxlan_gro_regression.pcap";
/// A capture that passes the gate (exit 0).
const CLEAN: &str = "testdata/fixtures/ipv4_fragments.pcap";

/// Runs `offload-doctor ARGS` in `dir`, so that the command line is the user's, names and all.
fn run_in(dir: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_offload-doctor"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("the binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// The one line a refused output prints.
fn one_line(r: &Run) -> &str {
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    r.stderr.trim_end()
}

fn hidden_files(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .expect("listable")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect()
}

#[test]
fn planted_symlinks_in_the_output_directory_are_never_followed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = dir.path().join("graphs");
    fs::create_dir(&out).expect("out");
    let victim = dir.path().join("victim");
    fs::write(&victim, b"precious").expect("victim");
    // The names the old writer used (`.NAME.PID.tmp.png`) for the PIDs around ours, and the
    // final graph path itself.
    let target = "demo_vxlan_gro_regression-flow1-s2c-time-sequence.png";
    let me = std::process::id();
    for pid in me..me + 200 {
        let _ = symlink(&victim, out.join(format!(".{target}.{pid}.tmp.png")));
    }
    symlink(&victim, out.join(target)).expect("planted at the target");
    let o = out.to_string_lossy().into_owned();
    let r = run(&["plot", VXLAN, "--kind", "time-sequence", "--out", &o]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(fs::read(&victim).expect("victim"), b"precious");
    let meta = fs::symlink_metadata(out.join(target)).expect("graph");
    assert!(meta.is_file(), "the graph replaced the planted link");
    assert!(fs::read(out.join(target))
        .expect("graph")
        .starts_with(b"\x89PNG"));
}

#[test]
fn junit_never_overwrites_an_input_capture() {
    let dir = tempfile::tempdir().expect("temp dir");
    let copy = dir.path().join("a.pcap");
    fs::copy(root().join(VXLAN), &copy).expect("copy");
    let before = fs::read(&copy).expect("readable");
    let c = copy.to_string_lossy().into_owned();
    // As `check --junit t/*.pcap` expands: the first capture becomes the JUnit path.
    let r = run(&["check", "--junit", &c, &c, VXLAN]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("refusing to overwrite"), "{}", r.stderr);
    assert_eq!(fs::read(&copy).expect("readable"), before);
}

#[test]
fn junit_without_its_name_never_takes_the_first_capture() {
    // Issue 32: the report's name forgotten, `a.pcap` became the JUnit path. Every capture
    // container: pcap (both byte orders, µs and ns), pcapng, gzip.
    for (fixture, format) in [
        (VXLAN, "pcap"),
        ("testdata/fixtures/tcp_be_nsec.pcap", "pcap"),
        ("testdata/fixtures/multi_section_le.pcapng", "pcapng"),
        ("testdata/fixtures/tcp_gzip.pcap.gz", "gzip"),
    ] {
        let dir = tempfile::tempdir().expect("temp dir");
        fs::copy(root().join(fixture), dir.path().join("a.pcap")).expect("a");
        fs::copy(root().join(CLEAN), dir.path().join("b.pcap")).expect("b");
        let before = fs::read(dir.path().join("a.pcap")).expect("readable");
        let r = run_in(dir.path(), &["check", "--junit", "a.pcap", "b.pcap"]);
        assert_eq!(r.code, 2, "{fixture}: {}", r.stderr);
        assert_eq!(
            one_line(&r),
            format!(
                "offload-doctor: --junit a.pcap looks like a capture ({format}): refusing to \
                 replace it; did you mean --junit report.xml a.pcap?"
            )
        );
        assert!(r.stdout.is_empty(), "refused before any capture is read");
        assert_eq!(fs::read(dir.path().join("a.pcap")).expect("a"), before);
        assert_eq!(hidden_files(dir.path()), Vec::<String>::new());
    }
}

#[test]
fn junit_replaces_the_report_of_a_previous_run() {
    let dir = tempfile::tempdir().expect("temp dir");
    fs::copy(root().join(CLEAN), dir.path().join("clean.pcap")).expect("clean");
    fs::copy(root().join(VXLAN), dir.path().join("vxlan.pcap")).expect("vxlan");
    let r = run_in(
        dir.path(),
        &["check", "--junit", "report.xml", "clean.pcap"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let first = fs::read_to_string(dir.path().join("report.xml")).expect("report");
    // The CI job re-run, on another capture: the report of the first run is replaced.
    let r = run_in(
        dir.path(),
        &["check", "--junit", "report.xml", "vxlan.pcap"],
    );
    assert_eq!(r.code, 1, "the VXLAN fixture fails the gate: {}", r.stderr);
    let second = fs::read_to_string(dir.path().join("report.xml")).expect("report");
    assert!(
        first.contains("clean.pcap") && !first.contains("vxlan.pcap"),
        "{first}"
    );
    assert!(
        second.contains("vxlan.pcap") && !second.contains("clean.pcap"),
        "{second}"
    );
    // An empty file (`touch report.xml`) is replaced too.
    fs::write(dir.path().join("empty.xml"), b"").expect("empty");
    let r = run_in(dir.path(), &["check", "--junit", "empty.xml", "clean.pcap"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(fs::read_to_string(dir.path().join("empty.xml"))
        .expect("report")
        .contains("<testsuites"));
}

#[test]
fn junit_over_a_text_file_needs_force() {
    let dir = tempfile::tempdir().expect("temp dir");
    fs::copy(root().join(CLEAN), dir.path().join("b.pcap")).expect("b");
    let notes = dir.path().join("notes.txt");
    fs::write(&notes, "meeting notes\n").expect("notes");
    let r = run_in(dir.path(), &["check", "--junit", "notes.txt", "b.pcap"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(
        one_line(&r),
        "offload-doctor: --junit notes.txt looks like text, not a JUnit report: refusing to \
         replace it (--force replaces it)"
    );
    assert_eq!(fs::read(&notes).expect("notes"), b"meeting notes\n");
    let r = run_in(
        dir.path(),
        &["check", "--force", "--junit", "notes.txt", "b.pcap"],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(fs::read_to_string(&notes)
        .expect("notes")
        .contains("<testsuites"));
}

#[test]
fn force_never_replaces_a_capture_the_run_reads() {
    let dir = tempfile::tempdir().expect("temp dir");
    fs::copy(root().join(CLEAN), dir.path().join("a.pcap")).expect("a");
    let before = fs::read(dir.path().join("a.pcap")).expect("readable");
    let r = run_in(
        dir.path(),
        &["check", "--force", "--junit", "a.pcap", "a.pcap"],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        one_line(&r).contains("refusing to overwrite"),
        "{}",
        r.stderr
    );
    assert_eq!(fs::read(dir.path().join("a.pcap")).expect("a"), before);
}

#[test]
fn plot_refuses_a_capture_named_like_a_graph() {
    let dir = tempfile::tempdir().expect("temp dir");
    // The last graph `plot` draws of the flow: a check at write time alone would leave the
    // others written beside it.
    let graph = dir
        .path()
        .join("demo_vxlan_gro_regression-flow1-s2c-ip-id.png");
    fs::copy(root().join(VXLAN), &graph).expect("a capture under a graph's name");
    let before = fs::read(&graph).expect("readable");
    let o = dir.path().to_string_lossy().into_owned();
    let r = run(&["plot", VXLAN, "--out", &o]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        one_line(&r).ends_with(
            "-flow1-s2c-ip-id.png looks like a capture (pcap), not a PNG graph: refusing to \
             replace it (--force replaces it)"
        ),
        "{}",
        r.stderr
    );
    assert_eq!(fs::read(&graph).expect("graph"), before);
    assert_eq!(
        fs::read_dir(dir.path()).expect("listable").count(),
        1,
        "no half set"
    );
    // `analyze --plots` writes through the same check.
    let r = run(&["analyze", VXLAN, "--plots", &o]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(fs::read(&graph).expect("graph"), before);
    // An SVG replaces an SVG; --force replaces the capture.
    let ip_id = ["plot", VXLAN, "--kind", "ip-id", "--out", &o];
    for _ in 0..2 {
        let r = run(&[&ip_id[..], &["--format", "svg"]].concat());
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let r = run(&[&ip_id[..], &["--force"]].concat());
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(fs::read(&graph).expect("graph").starts_with(b"\x89PNG"));
}

#[test]
fn man_pages_replace_man_pages_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let o = dir.path().to_string_lossy().into_owned();
    for _ in 0..2 {
        let r = run(&["man", "--out", &o]);
        assert_eq!(r.code, 0, "a re-run replaces its pages: {}", r.stderr);
    }
    let page = dir.path().join("offload-doctor-check.1");
    fs::write(&page, "my notes\n").expect("notes");
    let r = run(&["man", "--out", &o]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(one_line(&r).contains("not a man page"), "{}", r.stderr);
    assert_eq!(fs::read(&page).expect("notes"), b"my notes\n");
    let r = run(&["man", "--force", "--out", &o]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(fs::read(&page).expect("page").starts_with(b"."));
}

#[test]
fn junit_to_stdout_and_through_a_fifo() {
    let r = run(&["check", "--junit", "-", VXLAN]);
    assert!(r.stdout.starts_with("<?xml"), "{}", r.stdout);
    assert!(!r.stdout.contains("FAIL "), "the XML replaces the lines");

    let dir = tempfile::tempdir().expect("temp dir");
    let fifo = dir.path().join("junit.fifo");
    let made = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(made.success());
    let reader = {
        let fifo = fifo.clone();
        std::thread::spawn(move || fs::read_to_string(fifo).expect("read the fifo"))
    };
    let f = fifo.to_string_lossy().into_owned();
    let r = run(&["check", "--junit", &f, VXLAN]);
    assert_eq!(r.code, 1, "the VXLAN fixture fails the gate: {}", r.stderr);
    let xml = reader.join().expect("reader");
    assert!(xml.contains("<testsuites"), "{xml}");
    let still = fs::symlink_metadata(&fifo).expect("exists");
    assert!(
        std::os::unix::fs::FileTypeExt::is_fifo(&still.file_type()),
        "the FIFO was written through, not replaced"
    );
}

#[test]
fn plot_that_draws_nothing_exits_1() {
    let dir = tempfile::tempdir().expect("temp dir");
    let o = dir.path().to_string_lossy().into_owned();
    // Flow 1 of this fixture is TCP without data.
    let r = run(&[
        "plot",
        "testdata/fixtures/ipv4_fragments.pcap",
        "--flow",
        "1",
        "--out",
        &o,
    ]);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("no graphs"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
}

#[test]
fn interrupted_plot_leaves_no_temporary_files() {
    let dir = tempfile::tempdir().expect("temp dir");
    let o = dir.path().to_string_lossy().into_owned();
    // Every graph kind at the largest size: long enough to be interrupted while writing.
    for delay_ms in [50u64, 150, 400] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_offload-doctor"))
            .args(["plot", VXLAN, "--size", "6000x6000", "--out", &o])
            .current_dir(root())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("starts");
        std::thread::sleep(Duration::from_millis(delay_ms));
        let _ = Command::new("kill")
            .args(["-INT", &child.id().to_string()])
            .status();
        let status = child.wait().expect("exits");
        assert!(
            matches!(status.code(), Some(0 | 130)),
            "interrupted plot exited {status:?}"
        );
        assert_eq!(hidden_files(dir.path()), Vec::<String>::new());
    }
}
