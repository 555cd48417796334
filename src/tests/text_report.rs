//! The text report on terminals of several widths (goldens in testdata/golden/text_width/),
//! colour on and off, `--min-severity`, findings grouped per id, and plurals.

use std::fs;
use std::process::Command;

use unicode_width::UnicodeWidthStr;

use super::common::{root, Run};

/// `offload-doctor ARGS` with the environment given (and no COLUMNS unless given).
fn run_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = Command::new(env!("CARGO_BIN_EXE_offload-doctor"));
    c.args(args)
        .current_dir(root())
        .env_remove("COLUMNS")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("the binary runs");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Three idle connections with keep-alives (one info id on three flows) beside a busy one; two
/// tunnelled flows with the same error.
const GROUPED: &str = "testdata/fixtures/tcp_idle_pool_beside_busy.pcap";
const ERRORS: &str = "testdata/fixtures/vxlan_outer_ip_id_shared_counter.pcap";

#[test]
fn every_width_fits_and_matches_the_golden() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let mut failures = Vec::new();
    for fixture in [GROUPED, ERRORS] {
        for width in [60u16, 80, 120, 200] {
            let w = width.to_string();
            let r = run_env(&["analyze", fixture], &[("COLUMNS", &w)]);
            assert_eq!(r.code, 0, "{}", r.stderr);
            // These fixtures hold IPv4 endpoints and short words: everything fits but the
            // title's path, which is never split.
            for line in r.stdout.lines().skip(1) {
                assert!(
                    line.width() <= usize::from(width),
                    "{fixture} at {width}: {} columns: {line}",
                    line.width()
                );
            }
            assert!(!r.stdout.contains('\u{1b}'), "no colour into a pipe");
            let name = fixture.rsplit('/').next().unwrap_or(fixture);
            let golden = root().join(format!("testdata/golden/text_width/{name}.{width}.text"));
            if update {
                fs::create_dir_all(golden.parent().expect("dir")).expect("writable");
                fs::write(&golden, &r.stdout).expect("writable");
                continue;
            }
            if fs::read_to_string(&golden).unwrap_or_default() != r.stdout {
                failures.push(format!(
                    "{}: differs (UPDATE_GOLDEN=1 to accept)\n{}",
                    golden.display(),
                    r.stdout
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn narrow_terminals_leave_columns_out_and_never_split_a_cell() {
    let r = run_env(&["analyze", ERRORS], &[("COLUMNS", "60")]);
    let out = &r.stdout;
    // Whole addresses, whole numbers: no cell broken over two lines.
    assert!(out.contains("10.1.0.1:33000"), "{out}");
    assert!(out.contains("10.1.0.2:443"), "{out}");
    assert!(
        out.contains("left out for the terminal's width: frames"),
        "{out}"
    );
    // The least important columns go first; the endpoints stay.
    let header = out
        .lines()
        .find(|l| l.trim_start().starts_with("id "))
        .expect("header");
    assert!(
        header.contains("client") && header.contains("server"),
        "{header}"
    );
    assert!(
        !header.contains("frames") && !header.contains("c→s data"),
        "{header}"
    );
    // A pipe without COLUMNS: every column, lines not wrapped.
    let piped = run_env(&["analyze", ERRORS], &[]).stdout;
    assert!(!piped.contains("left out"), "{piped}");
    assert!(
        piped
            .lines()
            .any(|l| l.contains("frames") && l.contains("c→s data")),
        "{piped}"
    );
    assert!(
        piped.lines().any(|l| l.width() > 200),
        "one line per sentence"
    );
}

#[test]
fn colour_follows_the_flag_and_no_color() {
    let esc = |r: &Run| r.stdout.contains("\u{1b}[");
    let always = run_env(&["analyze", "--color", "always", ERRORS], &[]);
    assert!(esc(&always), "{}", always.stdout);
    // The severity is painted, its padding outside the escapes.
    assert!(
        always.stdout.contains("error\u{1b}[0m  "),
        "{}",
        always.stdout
    );
    // `--color` is global: accepted before the subcommand too.
    assert!(esc(&run_env(
        &["--color", "always", "analyze", ERRORS],
        &[]
    )));
    assert!(!esc(&run_env(
        &["analyze", "--color", "never", ERRORS],
        &[]
    )));
    // auto: a pipe, or NO_COLOR, gets none.
    assert!(!esc(&run_env(&["analyze", ERRORS], &[])));
    assert!(!esc(&run_env(&["analyze", ERRORS], &[("NO_COLOR", "1")])));
    // Explicit `always` wins over NO_COLOR, as anstream has it.
    assert!(esc(&run_env(
        &["analyze", "--color=always", ERRORS],
        &[("NO_COLOR", "1")]
    )));
    // Without colour the text is the same as with it, escapes aside.
    let never = run_env(&["analyze", "--color", "never", ERRORS], &[]).stdout;
    let stripped = strip(&always.stdout);
    assert_eq!(stripped, never);
}

/// Text without its SGR escapes (`ESC [ … m`).
fn strip(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn min_severity_hides_the_text_not_the_json() {
    let all = run_env(&["analyze", GROUPED], &[("COLUMNS", "120")]).stdout;
    assert!(all.contains("  info     keep-alive"), "{all}");
    let warn = run_env(
        &["analyze", "--min-severity", "warning", GROUPED],
        &[("COLUMNS", "120")],
    )
    .stdout;
    assert!(!warn.contains("  info     "), "{warn}");
    assert!(
        warn.contains("(3 findings below warning not shown; --format json lists every one)"),
        "{warn}"
    );
    // The errors stay above it.
    let err = run_env(&["analyze", "--min-severity", "error", ERRORS], &[]).stdout;
    assert!(err.contains("  error    gro-blocked-ip-id"), "{err}");
    let json = run_env(
        &[
            "analyze",
            "--format",
            "json",
            "--min-severity",
            "error",
            GROUPED,
        ],
        &[],
    );
    let v: serde_json::Value = serde_json::from_str(&json.stdout).expect("json");
    assert_eq!(v["findings"].as_array().map(Vec::len), Some(3));
    let bad = run_env(&["analyze", "--min-severity", "loud", GROUPED], &[]);
    assert_eq!(bad.code, 2);
}

#[test]
fn one_heading_per_group_and_the_hint_once() {
    let out = run_env(&["analyze", GROUPED], &[("COLUMNS", "120")]).stdout;
    assert_eq!(out.matches("keep-alive [").count(), 1, "{out}");
    assert!(
        out.contains("  info     keep-alive [3 flows: 2-4]"),
        "{out}"
    );
    assert_eq!(out.matches("hint: Normal on an idle connection").count(), 1);
    for flow in ["flow 2  ", "flow 3  ", "flow 4  "] {
        assert!(out.contains(flow), "{flow}: {out}");
    }
    let errors = run_env(&["analyze", ERRORS], &[("COLUMNS", "120")]).stdout;
    assert!(
        errors.contains("  error    gro-blocked-ip-id [2 flows: 1, 2]"),
        "{errors}"
    );
    assert_eq!(
        errors.matches("hint: Set DF on the encapsulating").count(),
        1
    );
}

#[test]
fn counts_of_one_are_singular() {
    let out = run_env(&["analyze", "../shared/captures/ndpi__waze_gro.pcap"], &[]);
    if out.code != 0 && std::env::var_os("OFFLOAD_DOCTOR_REQUIRE_SHARED").is_none() {
        eprintln!("SKIPPED: ../shared/captures not present");
        return;
    }
    let text = out.stdout;
    assert!(text.contains("1 keep-alive ("), "{text}");
    for wrong in ["1 keep-alives", "1 times", "in 1 places", " 1 interfaces"] {
        assert!(!text.contains(wrong), "{wrong}: {text}");
    }
}
