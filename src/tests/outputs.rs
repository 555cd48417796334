//! Output files in hostile places: planted symlinks, an input named as the JUnit file, FIFOs,
//! `-` for stdout, an interrupted `plot`, and the exit code of a `plot` that drew nothing.

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::common::{root, run};

const VXLAN: &str = "testdata/fixtures/demo_vxlan_gro_regression.pcap";

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
