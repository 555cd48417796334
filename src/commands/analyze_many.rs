//! `analyze A B C`, `analyze DIR`: every capture analysed in parallel (one per core, at most
//! that many in flight), results in argument order (a directory's captures in name order): one
//! summary row per capture (text), every report (JSON), or every flow (CSV/TSV).

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::analyze::separator;
use super::many::{error_causes, in_order, workers, Inputs};
use super::terminal_width;
use crate::analysis::Settings;
use crate::capture::Input;
use crate::cli::{AnalyzeArgs, AnalyzeFormat};
use crate::decode::DecodeConfig;
use crate::flow::select::Selection;
use crate::pipeline::run_analysis;
use crate::report::many::{self, FileResult, FileStatus, ManyReport};
use crate::report::{csv, json};

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
    let work = |input: &Input| analyse(input, cfg, settings, sel);
    let jobs = workers(inputs.inputs.len());
    in_order(&inputs.inputs, jobs, work, |f: FileResult| {
        if let (FileStatus::Damaged | FileStatus::Unreadable, Some(e)) = (f.status, &f.error) {
            failed = true;
            eprintln!("offload-doctor: {}: {e}", f.path);
        }
        match (args.format, &f.report) {
            (AnalyzeFormat::Text, _) => rows.push(many::row(&f)),
            (AnalyzeFormat::Json, _) => files.push(f),
            (_, Some(r)) => {
                csv::rows(&mut out, r, sep)?;
                out.flush()?;
            }
            (_, None) => {}
        }
        Ok(())
    })?;
    match args.format {
        AnalyzeFormat::Text => {
            let table = many::table(&rows, inputs.skipped, terminal_width());
            out.write_all(table.as_bytes())?;
        }
        AnalyzeFormat::Json => {
            let doc = ManyReport::new(files, inputs.skipped);
            json::write(&mut out, &doc).context("writing the JSON report")?;
        }
        AnalyzeFormat::Csv | AnalyzeFormat::Tsv => {}
    }
    out.flush()?;
    Ok(ExitCode::from(if failed { 2 } else { 0 }))
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
