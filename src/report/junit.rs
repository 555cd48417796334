//! JUnit XML of a `check` run (quick-junit): a test suite per capture, a test case per detector.

use std::fmt::Write as _;

use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};

use super::check::CheckRun;
use crate::analysis::Finding;

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
