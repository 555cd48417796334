//! `analyze A B C`, `analyze DIR`: every capture analysed in parallel (one per core, at most
//! that many in flight), results in argument order (a directory's captures in name order): one
//! summary row per capture (text), every report (JSON), every flow (CSV/TSV), or every
//! capture's lines (NDJSON).

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::analyze::separator;
use super::many::{error_causes, in_order, workers, Inputs};
use super::progress::{Plan, Progress};
use super::terminal_width;
use crate::analysis::Settings;
use crate::capture::Input;
use crate::cli::{AnalyzeArgs, AnalyzeFormat};
use crate::decode::DecodeConfig;
use crate::flow::select::Selection;
use crate::pipeline::run_analysis;
use crate::report::many::{self, FileResult, FileStatus, ManyReport};
use crate::report::{csv, json, ndjson};

pub fn run(
    args: &AnalyzeArgs,
    inputs: &Inputs,
    cfg: &DecodeConfig,
    settings: &Settings,
    sel: &Selection,
) -> Result<ExitCode> {
    if args.plots.is_some() {
        anyhow::bail!("--plots draws the graphs of one capture: give one capture file");
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let sep = separator(args.format);
    if matches!(args.format, AnalyzeFormat::Csv | AnalyzeFormat::Tsv) {
        csv::header(&mut out, sep)?;
    }
    // JSON keeps every report for the one document; text only each capture's row.
    let (mut files, mut rows, mut failed) = (Vec::new(), Vec::new(), false);
    let plan = Plan::new(&inputs.inputs, 1, true);
    let bar = Progress::start(args.progress.quiet, plan);
    let work = |input: &Input| {
        let r = analyse(input, cfg, settings, sel);
        bar.file_done();
        r
    };
    let jobs = workers(inputs.inputs.len());
    in_order(&inputs.inputs, jobs, work, |f: FileResult| {
        bar.suspend(|| emit(&mut out, args.format, f, &mut files, &mut rows, &mut failed))
    })?;
    bar.finish();
    match args.format {
        AnalyzeFormat::Text => {
            let table = many::table(&rows, inputs.skipped, terminal_width());
            out.write_all(table.as_bytes())?;
        }
        AnalyzeFormat::Json => {
            let doc = ManyReport::new(files, inputs.skipped);
            json::write(&mut out, &doc).context("writing the JSON report")?;
        }
        AnalyzeFormat::Csv | AnalyzeFormat::Tsv | AnalyzeFormat::Ndjson => {}
    }
    out.flush()?;
    Ok(ExitCode::from(if failed { 2 } else { 0 }))
}

/// One capture's result as it comes, in argument order: its error on stderr, its rows or lines
/// on stdout (CSV, TSV, NDJSON: streamed), or kept for the end (text, JSON).
fn emit(
    out: &mut dyn Write,
    format: AnalyzeFormat,
    f: FileResult,
    files: &mut Vec<FileResult>,
    rows: &mut Vec<[String; 6]>,
    failed: &mut bool,
) -> Result<()> {
    if let (FileStatus::Damaged | FileStatus::Unreadable, Some(e)) = (f.status, &f.error) {
        *failed = true;
        eprintln!("offload-doctor: {}: {e}", f.path);
    }
    match (format, &f.report) {
        (AnalyzeFormat::Text, _) => rows.push(many::row(&f)),
        (AnalyzeFormat::Json, _) => files.push(f),
        (AnalyzeFormat::Ndjson, _) => {
            ndjson::write_file(out, &f)?;
            out.flush()?;
        }
        (_, Some(r)) => {
            csv::rows(out, r, separator(format))?;
            out.flush()?;
        }
        (_, None) => {}
    }
    Ok(())
}

/// One capture: its (selected) report, or why there is none.
fn analyse(input: &Input, cfg: &DecodeConfig, settings: &Settings, sel: &Selection) -> FileResult {
    match run_analysis(input, cfg, settings) {
        Ok(mut a) => {
            a.select(sel);
            FileResult::analysed(a.report, a.damaged.map(|d| d.what))
        }
        Err(e) => FileResult::unreadable(
            input.display_name(),
            error_causes(&e, &input.display_name()),
        ),
    }
}
