//! `analyze CAPTURE`: one pass, then the report as text, JSON, JSON lines or the flow table as CSV/TSV
//! (and `--plots`, `--write-evidence`). Many captures or a directory: `analyze_many.rs`. The
//! first Ctrl-C ends the reading and the report of what was read is printed, marked interrupted.

use std::io::{self, Write};
use std::process::ExitCode;
use std::slice;

use anyhow::{Context, Result};

use super::evidence;
use super::many::Inputs;
use super::plot::{draw, Graphs, PLOT_TOP};
use super::progress::{Plan, Progress};
use super::select::selection;
use super::signals::{self, Stopped};
use super::{analyze_many, decode_settings, detector_settings, stdout_color, terminal_width};
use crate::analysis::Severity;
use crate::capture::Input;
use crate::cli::{AnalyzeArgs, AnalyzeFormat, OutputFormat};
use crate::pipeline::{busiest_where, run_analysis, Analysis};
use crate::plot::{self, Format, PlotKind};
use crate::report::csv::{self, Separator};
use crate::report::error::ErrorReport;
use crate::report::many::FileStatus;
use crate::report::{json, ndjson, text, Report};
use crate::units::thousands;

pub fn run(args: &AnalyzeArgs) -> Result<ExitCode> {
    let result = analyze(args);
    if let (Err(e), AnalyzeFormat::Json) = (&result, args.format) {
        // stdout carries one JSON document even when there is no report, as `check` does; the
        // message also goes to stderr (main.rs).
        let name = match args.captures.as_slice() {
            [one] => Input::from_arg(one).display_name(),
            _ => "the captures".to_string(),
        };
        let doc = ErrorReport::new(name.clone(), super::unreadable_message(e, &name));
        let _ = json::write(&mut io::stdout().lock(), &doc);
    }
    if let (Err(e), AnalyzeFormat::Ndjson, [one]) = (&result, args.format, &args.captures[..]) {
        // The capture's line says it could not be read, as for one of many.
        let name = Input::from_arg(one).display_name();
        let why = super::unreadable_message(e, &name);
        let _ = ndjson::write_unreadable(&mut io::stdout().lock(), &name, &why);
    }
    result
}

fn analyze(args: &AnalyzeArgs) -> Result<ExitCode> {
    let (cfg, mut settings) = decode_settings(&args.decode)?;
    detector_settings(&mut settings, &args.detectors)?;
    super::read_peer(
        args.detectors.peer.as_deref(),
        &args.captures,
        &cfg,
        &mut settings,
    )?;
    let sel = selection(&args.select)?;
    let inputs = Inputs::expand(&args.captures)?;
    let input = match inputs.inputs.first() {
        Some(i) if inputs.is_single() => i,
        _ => return analyze_many::run(args, &inputs, &cfg, &settings, &sel),
    };
    if args.plots.is_some() && matches!(input, Input::Stdin) {
        anyhow::bail!("--plots needs a capture file: the graphs take a second pass over it");
    }
    if let Some(dir) = &args.write_evidence {
        evidence::check(dir, input)?;
    }
    signals::stop_reading_on_signal(true);
    let bar = Progress::start(
        args.progress.quiet,
        Plan::new(slice::from_ref(input), 1, false),
    );
    let analysis = run_analysis(input, &cfg, &settings);
    bar.finish();
    signals::stop_reading_on_signal(false);
    let mut analysis = analysis?;
    analysis.select(&sel);
    let stopped = stopped(&analysis.report);
    let min_severity = args.min_severity.severity();
    match args.format {
        AnalyzeFormat::Json => write_report(
            OutputFormat::Json,
            args.top,
            min_severity,
            &analysis.report,
            stopped,
        )?,
        AnalyzeFormat::Text => write_report(
            OutputFormat::Text,
            args.top,
            min_severity,
            &analysis.report,
            stopped,
        )?,
        AnalyzeFormat::Csv | AnalyzeFormat::Tsv => {
            let mut out = io::stdout().lock();
            csv::write(&mut out, &[&analysis.report], separator(args.format))?;
            out.flush()?;
        }
        AnalyzeFormat::Ndjson => {
            let mut out = io::stdout().lock();
            let status = match analysis.damaged {
                Some(_) => FileStatus::Damaged,
                None => FileStatus::Analysed,
            };
            let damage = analysis.damaged.as_ref().map(|d| d.what.as_str());
            ndjson::write(&mut out, &analysis.report, status, damage)?;
            out.flush()?;
        }
    }
    match (&args.plots, stopped) {
        (Some(_), Some(_)) => eprintln!("offload-doctor: interrupted: no graphs drawn"),
        (Some(dir), None) => {
            let selected = |id| analysis.report.flows.iter().any(|f| f.id == id);
            let ids = busiest_where(&analysis.flows, PLOT_TOP, |f| selected(f.id));
            let graphs = Graphs {
                out: dir,
                kinds: &PlotKind::ALL,
                format: Format::Png,
                size: plot::DEFAULT_SIZE,
                opts: plot::Options::default(),
            };
            // The report above already told of any damage.
            let (written, _) = draw(input, &cfg, &settings, &ids, &graphs)?;
            eprintln!(
                "offload-doctor: wrote {} graphs into {}",
                written.len(),
                dir.display()
            );
        }
        (None, _) => {}
    }
    match (&args.write_evidence, stopped) {
        (Some(_), Some(_)) => eprintln!("offload-doctor: interrupted: no evidence written"),
        (Some(dir), None) => evidence::write(dir, input, &analysis.report)?,
        (None, _) => {}
    }
    Ok(exit_code(&analysis, stopped))
}

/// The separator of the flow-table formats.
pub fn separator(f: AnalyzeFormat) -> Separator {
    match f {
        AnalyzeFormat::Tsv => Separator::Tab,
        _ => Separator::Comma,
    }
}

/// The signal that cut the reading short, when one did (a signal that came after the last
/// frame was read left the report whole).
fn stopped(report: &Report) -> Option<Stopped> {
    signals::stopped_by().filter(|_| report.capture.interrupted)
}

/// 128 + the signal when the reading was interrupted (130 for Ctrl-C: the shell's convention,
/// so a script sees that the report covers only part of its input), else 2 for a capture
/// damaged mid-file, else 0.
fn exit_code(analysis: &Analysis, stopped: Option<Stopped>) -> ExitCode {
    if let Some(d) = &analysis.damaged {
        eprintln!("offload-doctor: {d}");
    }
    match (stopped, &analysis.damaged) {
        (Some(s), _) => ExitCode::from(s.exit_code()),
        (None, Some(_)) => ExitCode::from(2),
        (None, None) => ExitCode::SUCCESS,
    }
}

/// The report on stdout, as text or JSON; an interrupted reading is said at the end of the text
/// (JSON: `capture.interrupted`) and on stderr. `stopped`: the signal, if one stopped it.
pub(super) fn write_report(
    format: OutputFormat,
    top: usize,
    min_severity: Severity,
    report: &Report,
    stopped: Option<Stopped>,
) -> Result<()> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match format {
        OutputFormat::Json => json::write(&mut out, report).context("writing the JSON report")?,
        OutputFormat::Text => {
            let opts = text::TextOptions {
                top,
                width: terminal_width(),
                color: stdout_color(),
                min_severity,
            };
            out.write_all(text::render(report, &opts).as_bytes())?;
            if report.capture.interrupted {
                writeln!(out, "\n{}", interrupted_line(report, stopped))?;
            }
        }
    }
    out.flush()?;
    if report.capture.interrupted {
        eprintln!("offload-doctor: {}", interrupted_line(report, stopped));
    }
    Ok(())
}

/// What the text report and stderr say about an interrupted reading.
fn interrupted_line(report: &Report, stopped: Option<Stopped>) -> String {
    let by = stopped.map_or(String::new(), |s| format!(" by {}", s.name()));
    let frames = report.capture.frames;
    format!(
        "Interrupted{by}: reading stopped after {} frame{}; this report covers only those.",
        thousands(frames),
        if frames == 1 { "" } else { "s" }
    )
}
