//! `analyze CAPTURE`: one pass, then the report as text or JSON (and `--plots`).

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::evidence;
use super::plot::{draw, Graphs, PLOT_TOP};
use super::{decode_settings, detector_settings, stdout_color, terminal_width};
use crate::capture::Input;
use crate::cli::{AnalyzeArgs, OutputFormat};
use crate::pipeline::{busiest_flows, run_analysis};
use crate::plot::{self, Format, PlotKind};
use crate::report::{json, text};

pub fn run(args: &AnalyzeArgs) -> Result<ExitCode> {
    let (cfg, mut settings) = decode_settings(&args.input.decode);
    let input = Input::from_arg(&args.input.capture);
    detector_settings(&mut settings, &args.detectors)?;
    if args.plots.is_some() && matches!(input, Input::Stdin) {
        anyhow::bail!("--plots needs a capture file: the graphs take a second pass over it");
    }
    if let Some(dir) = &args.write_evidence {
        evidence::check(dir, &input)?;
    }
    let analysis = run_analysis(&input, &cfg, &settings)?;

    let stdout = io::stdout();
    let mut out = stdout.lock();
    match args.format {
        OutputFormat::Json => {
            json::write(&mut out, &analysis.report).context("writing the JSON report")?
        }
        OutputFormat::Text => {
            let opts = text::TextOptions {
                top: args.top,
                width: terminal_width(),
                color: stdout_color(),
                min_severity: args.min_severity.severity(),
            };
            out.write_all(text::render(&analysis.report, &opts).as_bytes())?;
        }
    }
    out.flush()?;
    if let Some(dir) = &args.plots {
        let ids = busiest_flows(&analysis.flows, PLOT_TOP);
        let graphs = Graphs {
            out: dir,
            kinds: &PlotKind::ALL,
            format: Format::Png,
            size: plot::DEFAULT_SIZE,
            opts: plot::Options::default(),
        };
        // The report above already told of any damage.
        let (written, _) = draw(&input, &cfg, &settings, &ids, &graphs)?;
        eprintln!(
            "offload-doctor: wrote {} graphs into {}",
            written.len(),
            dir.display()
        );
    }
    if let Some(dir) = &args.write_evidence {
        evidence::write(dir, &input, &analysis.report)?;
    }
    if let Some(d) = analysis.damaged {
        eprintln!("offload-doctor: {d}");
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}
