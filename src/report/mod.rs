//! Report: the analysis result as one serialisable document, and its exporters.
//!
//! This stage owns what users read. [`Report`] is the model ([`capture`], [`flow`], the
//! findings and the [`Verdict`]); each exporter is one file: [`text`] (terminal), [`json`]
//! (`--format json`), [`junit`] (`check --junit`). [`check`] and [`compare`] build their own
//! documents from finished reports, each split into a model and its rendering. The JSON shape is
//! an interface (documented field by field in docs/json-format.md); it changes only with
//! [`SCHEMA_VERSION`].

pub mod capture;
pub mod check;
pub mod compare;
pub mod flow;
pub mod json;
pub mod junit;
pub mod text;
pub mod time;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::analysis::{Finding, Severity};

pub use capture::{CaptureReport, Totals};
pub use flow::{DirReport, FlowReport};
pub use time::{format_time, seconds};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub capture: CaptureReport,
    pub flows: Vec<FlowReport>,
    /// Most severe first; among equals, the most important detector first.
    pub findings: Vec<Finding>,
    /// Findings a policy set to `ignore`, per id (absent when none were dropped).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ignored: BTreeMap<&'static str, u64>,
    pub verdict: Verdict,
}

/// How a capture came out: no finding, or the highest severity found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Info,
    Warning,
    Error,
}

impl From<Severity> for Status {
    fn from(s: Severity) -> Status {
        match s {
            Severity::Info => Status::Info,
            Severity::Warning => Status::Warning,
            Severity::Error => Status::Error,
        }
    }
}

/// The conclusion in plain words: the most important finding and what to try next.
#[derive(Debug, Serialize)]
pub struct Verdict {
    /// `ok` (no finding), or the highest severity found: `info`, `warning`, `error`.
    pub status: Status,
    pub summary: String,
    pub next_step: Option<String>,
    /// Index into `findings` of the finding the summary is about.
    pub finding: Option<usize>,
    /// Findings per severity.
    pub counts: BTreeMap<&'static str, usize>,
}

impl Verdict {
    /// From findings already in report order (most important first).
    pub fn new(findings: &[Finding]) -> Self {
        let mut counts = BTreeMap::new();
        for f in findings {
            *counts.entry(f.severity.as_str()).or_default() += 1;
        }
        match findings.first() {
            None => Verdict {
                status: Status::Ok,
                summary: "No problem found: no offload, tunnel or TCP issue in this capture."
                    .into(),
                next_step: None,
                finding: None,
                counts,
            },
            Some(f) if f.severity == Severity::Info => Verdict {
                status: Status::Info,
                summary: format!("No problem found. Of note: {}", f.message),
                next_step: Some(f.hint.clone()),
                finding: Some(0),
                counts,
            },
            Some(f) => Verdict {
                status: f.severity.into(),
                summary: f.message.clone(),
                next_step: Some(f.hint.clone()),
                finding: Some(0),
                counts,
            },
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

impl Default for Tool {
    fn default() -> Self {
        Tool {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}
