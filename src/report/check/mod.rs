//! The CI gate's result: which captures pass at a severity. This is the model (also the JSON
//! document of `check --format json`); [`text`] renders it as lines, and
//! [`crate::report::junit`] as JUnit XML.

pub mod text;

use serde::Serialize;

use super::{Report, Tool, SCHEMA_VERSION};
use crate::analysis::{Finding, Severity};

/// Exit codes of `check` (README, `--help`).
pub const EXIT_PASS: u8 = 0;
pub const EXIT_FAIL: u8 = 1;
pub const EXIT_ERROR: u8 = 2;

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
