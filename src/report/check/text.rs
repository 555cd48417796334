//! `check`'s text output: one line per capture as it is read, its failing findings under it,
//! and a closing count line.

use std::fmt::Write as _;

use super::{CaptureCheck, CheckRun, Outcome};
use crate::analysis::{Finding, Severity};
use crate::report::Report;

/// Failing findings listed under a capture's line in the text output.
const MAX_LISTED: usize = 5;

/// `FAIL  path: 1 error, 2 warnings: gro-blocked-ip-id (flow 1)`, then the failing findings.
pub fn line(c: &CaptureCheck, fail_on: Severity) -> String {
    let mut s = String::new();
    let label = match c.result {
        Outcome::Pass => "PASS ",
        Outcome::Fail => "FAIL ",
        Outcome::Error => "ERROR",
    };
    let counts = c.report.as_ref().map(counts);
    let _ = write!(s, "{label} {}: ", c.path);
    match (c.result, &c.error) {
        (Outcome::Error, Some(e)) if c.report.is_none() => {
            let _ = write!(s, "{e}");
        }
        (Outcome::Error, Some(e)) => {
            let _ = write!(s, "{e}; {}", counts.unwrap_or_default());
        }
        (Outcome::Pass, _) => {
            let _ = write!(
                s,
                "nothing at or above {} ({})",
                fail_on.as_str(),
                counts.unwrap_or_default()
            );
        }
        _ => {
            let mut ids: Vec<&str> = c.failing_findings().map(|f| f.id).collect();
            ids.dedup();
            let _ = write!(s, "{} ({})", ids.join(", "), counts.unwrap_or_default());
        }
    }
    s.push('\n');
    let failing: Vec<&Finding> = c.failing_findings().collect();
    for f in failing.iter().take(MAX_LISTED) {
        let flow = f.flow.map(|n| format!(" flow {n}")).unwrap_or_default();
        let frames = match f.frames.as_slice() {
            [] => String::new(),
            fr => format!(
                " [frames {}]",
                fr.iter()
                    .take(5)
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let _ = writeln!(
            s,
            "      {} {}{flow}{frames}: {}",
            f.severity.as_str(),
            f.id,
            f.message
        );
    }
    if failing.len() > MAX_LISTED {
        let _ = writeln!(
            s,
            "      … and {} more (--format json lists them)",
            failing.len() - MAX_LISTED
        );
    }
    if let Some(f) = failing.first() {
        let _ = writeln!(
            s,
            "      why and how to fix: offload-doctor explain {}",
            f.id
        );
    }
    s
}

/// The closing line: `3 captures checked (fail on error): 1 passed, 1 failed, 1 not readable`.
pub fn total(run: &CheckRun) -> String {
    let n = |o: Outcome| run.captures.iter().filter(|c| c.result == o).count();
    let plural = if run.captures.len() == 1 { "" } else { "s" };
    let mut s = format!(
        "{} capture{plural} checked (fail on {}",
        run.captures.len(),
        run.fail_on.as_str()
    );
    if let Some(p) = &run.policy {
        let _ = write!(s, ", policy {p}");
    }
    let _ = writeln!(
        s,
        "): {} passed, {} failed, {} not readable",
        n(Outcome::Pass),
        n(Outcome::Fail),
        n(Outcome::Error)
    );
    s
}

/// `1 error, 2 warnings, 0 info` (and `, 3 ignored` when a policy dropped some) of a report.
fn counts(r: &Report) -> String {
    let n = |s: Severity| r.findings.iter().filter(|f| f.severity == s).count();
    let e = n(Severity::Error);
    let w = n(Severity::Warning);
    let ignored: u64 = r.ignored.values().sum();
    format!(
        "{e} error{}, {w} warning{}, {} info{}",
        if e == 1 { "" } else { "s" },
        if w == 1 { "" } else { "s" },
        n(Severity::Info),
        if ignored > 0 {
            format!(", {ignored} ignored")
        } else {
            String::new()
        }
    )
}
