//! The CI gate's result: which captures pass at a severity, as text lines, one JSON document, or
//! JUnit XML (one test suite per capture, one test case per detector).

use std::fmt::Write as _;

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
use serde::Serialize;

use super::{Report, Tool, SCHEMA_VERSION};
use crate::analysis::{Finding, Severity};

/// Exit codes of `check` (README, `--help`).
pub const EXIT_PASS: u8 = 0;
pub const EXIT_FAIL: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

/// Failing findings listed under a capture's line in the text output.
const MAX_LISTED: usize = 5;

/// What happened to one capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// No finding at or above the fail-on severity.
    Pass,
    /// At least one finding at or above it.
    Fail,
    /// Not readable, or damaged mid-file (the findings of what was read are still judged).
    Error,
}

/// One capture's check.
#[derive(Debug, Serialize)]
pub struct CaptureCheck {
    pub path: String,
    pub result: Outcome,
    /// Why the capture could not be read (completely).
    pub error: Option<String>,
    /// Indices into `report.findings` of the findings at or above the fail-on severity.
    pub failing: Vec<usize>,
    /// The analysis of what was read; `None` when nothing could be.
    pub report: Option<Report>,
}

impl CaptureCheck {
    /// A capture that was analysed; `damage` says why it was not read to the end, if it was not.
    pub fn new(report: Report, damage: Option<String>, fail_on: Severity) -> Self {
        let failing: Vec<usize> = report
            .findings
            .iter()
            .enumerate()
            .filter(|(_, f)| f.severity >= fail_on)
            .map(|(i, _)| i)
            .collect();
        let result = match (&damage, failing.is_empty()) {
            (Some(_), _) => Outcome::Error,
            (None, true) => Outcome::Pass,
            (None, false) => Outcome::Fail,
        };
        CaptureCheck {
            path: report.capture.path.clone(),
            result,
            error: damage,
            failing,
            report: Some(report),
        }
    }

    /// A capture that could not be read at all.
    pub fn unreadable(path: String, error: String) -> Self {
        CaptureCheck {
            path,
            result: Outcome::Error,
            error: Some(error),
            failing: Vec::new(),
            report: None,
        }
    }

    fn failing_findings(&self) -> impl Iterator<Item = &Finding> {
        self.failing
            .iter()
            .filter_map(|&i| self.report.as_ref().and_then(|r| r.findings.get(i)))
    }
}

/// A whole `check` run: the JSON document of `check --format json` (docs/json-format.md).
#[derive(Debug, Serialize)]
pub struct CheckRun {
    pub schema_version: u32,
    pub tool: Tool,
    pub fail_on: Severity,
    /// The policy file, if one was given.
    pub policy: Option<String>,
    /// Finding ids the policy ignores.
    pub ignored_ids: Vec<&'static str>,
    /// `pass` when every capture passed, else `error` if any capture could not be read, else
    /// `fail`.
    pub result: Outcome,
    pub exit_code: u8,
    pub captures: Vec<CaptureCheck>,
}

impl CheckRun {
    pub fn new(
        fail_on: Severity,
        policy: Option<String>,
        severities: &[(&'static str, Option<Severity>)],
        captures: Vec<CaptureCheck>,
    ) -> Self {
        // An unreadable capture outranks a failing one: the check could not be done.
        let result = captures
            .iter()
            .map(|c| c.result)
            .max_by_key(|r| match r {
                Outcome::Pass => 0,
                Outcome::Fail => 1,
                Outcome::Error => 2,
            })
            .unwrap_or(Outcome::Pass);
        CheckRun {
            schema_version: SCHEMA_VERSION,
            tool: Tool::default(),
            fail_on,
            policy,
            ignored_ids: severities
                .iter()
                .filter(|(_, s)| s.is_none())
                .map(|(id, _)| *id)
                .collect(),
            result,
            exit_code: match result {
                Outcome::Pass => EXIT_PASS,
                Outcome::Fail => EXIT_FAIL,
                Outcome::Error => EXIT_ERROR,
            },
            captures,
        }
    }

    pub fn exit_code(&self) -> u8 {
        self.exit_code
    }
}

/// `FAIL  path: 1 error, 2 warnings: gro-blocked-ip-id (flow 1)`, then the failing findings.
pub fn text_line(c: &CaptureCheck, fail_on: Severity) -> String {
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
pub fn text_total(run: &CheckRun) -> String {
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

/// The run as JUnit XML: a test suite per capture (named by its path) with a test case per
/// detector (named by its finding id, in `ids` order). A detector fails when it reported a
/// finding at or above the fail-on severity, is skipped when the policy ignores it, and passes
/// otherwise (its lower findings in `system-out`). A capture that could not be read (completely)
/// also has a `read` test case in error.
pub fn junit(run: &CheckRun, ids: &[&'static str]) -> quick_junit::Report {
    let mut report = quick_junit::Report::new("offload-doctor check");
    for c in &run.captures {
        let mut suite = TestSuite::new(c.path.as_str());
        suite.add_property(("fail-on", run.fail_on.as_str()));
        if let Some(p) = &run.policy {
            suite.add_property(("policy", p.as_str()));
        }
        if let Some(e) = &c.error {
            let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
            status.set_message(e.as_str()).set_type("input");
            let mut case = TestCase::new("read", status);
            case.set_classname(c.path.as_str());
            suite.add_test_case(case);
        }
        if let Some(r) = &c.report {
            for &id in ids {
                let mine: Vec<&Finding> = r.findings.iter().filter(|f| f.id == id).collect();
                let worst = mine.iter().map(|f| f.severity).max();
                let status = if run.ignored_ids.contains(&id) {
                    let mut s = TestCaseStatus::skipped();
                    s.set_message("ignored by the policy");
                    s
                } else if let Some(first) = mine.iter().find(|f| f.severity >= run.fail_on) {
                    let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                    s.set_message(first.message.as_str())
                        .set_type(first.severity.as_str())
                        .set_description(describe(&mine));
                    s
                } else {
                    TestCaseStatus::success()
                };
                let mut case = TestCase::new(id, status);
                case.set_classname(c.path.as_str());
                if worst.is_some_and(|w| w < run.fail_on) {
                    case.set_system_out(describe(&mine));
                }
                suite.add_test_case(case);
            }
        }
        report.add_test_suite(suite);
    }
    report
}

/// Every finding of one detector, for a JUnit failure body or `system-out`.
fn describe(findings: &[&Finding]) -> String {
    let mut s = String::new();
    for f in findings {
        let flow = f.flow.map(|n| format!("flow {n}: ")).unwrap_or_default();
        let _ = writeln!(s, "[{}] {flow}{}", f.severity.as_str(), f.message);
        if !f.frames.is_empty() {
            let frames: Vec<String> = f.frames.iter().map(u64::to_string).collect();
            let _ = writeln!(s, "  frames: {}", frames.join(", "));
        }
        if let Some(w) = &f.wireshark_filter {
            let _ = writeln!(s, "  wireshark: {w}");
        }
        let _ = writeln!(s, "  hint: {}", f.hint);
    }
    if let Some(f) = findings.first() {
        let _ = writeln!(s, "offload-doctor explain {}", f.id);
    }
    s
}
