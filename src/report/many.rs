//! Many captures in one run (`analyze A B C`, `analyze DIR`): the JSON document with every
//! file's report (docs/json-format.md, "Many captures") and the text summary, one row per file.

use std::fmt::Write as _;

use comfy_table::{ColumnConstraint, Width};
use serde::Serialize;

use super::{Report, Tool, SCHEMA_VERSION};
use crate::units::thousands;

/// Columns the verdict keeps however narrow the terminal (the path wraps before it).
const VERDICT_MIN: u16 = 32;

/// How one file came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FileStatus {
    Analysed,
    /// Damaged mid-file: the report covers what was read before the damage.
    Damaged,
    /// Not a capture, or not readable: no report.
    Unreadable,
}

/// One file of the run.
#[derive(Debug, Serialize)]
pub struct FileResult {
    pub path: String,
    pub status: FileStatus,
    /// What was wrong (damaged or unreadable files).
    pub error: Option<String>,
    pub report: Option<Report>,
}

impl FileResult {
    /// A file that could not be read.
    pub fn unreadable(path: String, error: String) -> Self {
        FileResult {
            path,
            status: FileStatus::Unreadable,
            error: Some(error),
            report: None,
        }
    }

    /// A file that was read, whole or up to `damage`.
    pub fn analysed(report: Report, damage: Option<String>) -> Self {
        FileResult {
            path: report.capture.path.clone(),
            status: if damage.is_some() {
                FileStatus::Damaged
            } else {
                FileStatus::Analysed
            },
            error: damage,
            report: Some(report),
        }
    }
}

/// The JSON document of a run over many captures, files in the order given (a directory's in
/// name order).
#[derive(Debug, Serialize)]
pub struct ManyReport {
    pub schema_version: u32,
    pub tool: Tool,
    pub files: Vec<FileResult>,
    /// Files in the directories given that were not captures by their first bytes (pcap,
    /// pcapng, gzip), and symbolic links (not followed): skipped.
    pub skipped_files: u64,
}

impl ManyReport {
    pub fn new(files: Vec<FileResult>, skipped_files: u64) -> Self {
        ManyReport {
            schema_version: SCHEMA_VERSION,
            tool: Tool::default(),
            files,
            skipped_files,
        }
    }
}

/// The cells of one file's row: capture, frames, flows, warnings, errors, verdict.
pub fn row(f: &FileResult) -> [String; 6] {
    let Some(r) = &f.report else {
        let why = f.error.as_deref().unwrap_or("unreadable");
        let dash = || "-".to_string();
        return [
            f.path.clone(),
            dash(),
            dash(),
            dash(),
            dash(),
            format!("unreadable: {why}"),
        ];
    };
    let count = |s: &str| r.verdict.counts.get(s).copied().unwrap_or(0) as u64;
    let verdict = match f.status {
        FileStatus::Damaged => format!("damaged; {}", headline(&r.verdict.summary)),
        _ => headline(&r.verdict.summary).to_string(),
    };
    [
        f.path.clone(),
        thousands(r.capture.frames),
        thousands(r.flows.len() as u64),
        thousands(count("warning")),
        thousands(count("error")),
        verdict,
    ]
}

/// The verdict's first sentence: a row per capture stays one line.
fn headline(summary: &str) -> &str {
    summary
        .find(". ")
        .and_then(|i| summary.get(..=i))
        .unwrap_or(summary)
}

/// The summary table of `rows` (from [`row`]), and the counts below it.
pub fn table(rows: &[[String; 6]], skipped: u64, width: Option<u16>) -> String {
    let mut t = super::text::table(width, 80);
    t.set_header(vec![
        "capture", "frames", "flows", "warnings", "errors", "verdict",
    ]);
    for r in rows {
        t.add_row(r.to_vec());
    }
    // Counts are never broken; the verdict keeps room to be read, a long path wraps first.
    for c in 1..5 {
        if let Some(col) = t.column_mut(c) {
            col.set_constraint(ColumnConstraint::ContentWidth);
            col.set_cell_alignment(comfy_table::CellAlignment::Right);
        }
    }
    if let Some(col) = t.column_mut(5) {
        col.set_constraint(ColumnConstraint::LowerBoundary(Width::Fixed(VERDICT_MIN)));
    }
    let mut out = format!("{t}\n");
    let unreadable = rows.iter().filter(|r| r[1] == "-").count();
    let _ = write!(out, "{} captures", rows.len());
    if unreadable > 0 {
        let _ = write!(out, ", {unreadable} unreadable");
    }
    if skipped > 0 {
        let _ = write!(
            out,
            "; {skipped} other files in the directories skipped (not pcap, pcapng or gzip)"
        );
    }
    out.push_str("\n`analyze FILE` prints one capture's flows and findings.\n");
    out
}
