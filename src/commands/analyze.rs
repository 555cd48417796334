//! `analyze CAPTURE`: one pass, then the report as text, JSON or the flow table as CSV/TSV
//! (and `--plots`). Many captures or a directory: `analyze_many.rs`.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::many::Inputs;
use super::plot::{draw, Graphs, PLOT_TOP};
use super::select::selection;
use super::{analyze_many, decode_settings, detector_settings, stdout_color, terminal_width};
use crate::capture::Input;
use crate::cli::{AnalyzeArgs, AnalyzeFormat};
use crate::pipeline::{busiest_where, run_analysis};
use crate::plot::{self, Format, PlotKind};
use crate::report::csv::{self, Separator};
use crate::report::{json, text, Report};

pub fn run(args: &AnalyzeArgs) -> Result<ExitCode> {
    let (cfg, mut settings) = decode_settings(&args.decode);
    detector_settings(&mut settings, &args.detectors)?;
    let sel = selection(&args.select)?;
    let inputs = Inputs::expand(&args.captures)?;
    let input = match inputs.inputs.first() {
        Some(i) if inputs.is_single() => i,
        _ => return analyze_many::run(args, &inputs, &cfg, &settings, &sel),
    };
    if args.plots.is_some() && matches!(input, Input::Stdin) {
        anyhow::bail!("--plots needs a capture file: the graphs take a second pass over it");
    }
    let mut analysis = run_analysis(input, &cfg, &settings)?;
    analysis.select(&sel);

    let stdout = io::stdout();
    let mut out = stdout.lock();
    write_report(&mut out, &analysis.report, args)?;
    out.flush()?;
    if let Some(dir) = &args.plots {
        let selected = |id| analysis.report.flows.iter().any(|f| f.id == id);
        let ids = busiest_where(&analysis.flows, PLOT_TOP, |f| selected(f.id));
        let graphs = Graphs {
            out: dir,
            kinds: &PlotKind::ALL,
            format: Format::Png,
            size: plot::DEFAULT_SIZE,
        };
        // The report above already told of any damage.
        let (written, _) = draw(input, &cfg, &settings, &ids, &graphs)?;
        eprintln!(
            "offload-doctor: wrote {} graphs into {}",
            written.len(),
            dir.display()
        );
    }
    if let Some(d) = analysis.damaged {
        eprintln!("offload-doctor: {d}");
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

/// One capture's report in the format asked for.
fn write_report(mut out: &mut dyn Write, report: &Report, args: &AnalyzeArgs) -> Result<()> {
    match args.format {
        AnalyzeFormat::Json => json::write(&mut out, report).context("writing the JSON report")?,
        AnalyzeFormat::Text => {
            let opts = text::TextOptions {
                top: args.top,
                width: terminal_width(),
                color: stdout_color(),
                min_severity: args.min_severity.severity(),
            };
            out.write_all(text::render(report, &opts).as_bytes())?;
        }
        AnalyzeFormat::Csv | AnalyzeFormat::Tsv => {
            csv::write(out, &[report], separator(args.format))?
        }
    }
    Ok(())
}

/// The separator of the flow-table formats.
pub fn separator(f: AnalyzeFormat) -> Separator {
    match f {
        AnalyzeFormat::Tsv => Separator::Tab,
        _ => Separator::Comma,
    }
}
