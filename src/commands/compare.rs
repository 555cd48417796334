//! `compare BEFORE AFTER`: two captures and their matched flows side by side (and `--plots`).

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::progress::{Plan, Progress};
use super::{decode_settings, detector_settings, terminal_width};
use crate::analysis::Settings;
use crate::capture::Input;
use crate::cli::{CompareArgs, OutputFormat};
use crate::decode::DecodeConfig;
use crate::flow::Protocol;
use crate::pipeline::{run_analysis, traced, DamagedInput};
use crate::plot::{self, Format, OverlaySide};
use crate::report::compare::regression::{self, Unjudged};
use crate::report::compare::{self, Comparison, Matching};
use crate::report::json;

/// Matched TCP flows `compare --plots` draws.
const COMPARE_PLOT_TOP: usize = 3;

pub fn run(args: &CompareArgs) -> Result<ExitCode> {
    let (cfg, mut settings) = decode_settings(&args.decode)?;
    detector_settings(&mut settings, &args.detectors)?;
    super::refuse_peer(&args.detectors, "compare")?;
    let inputs = [Input::from_arg(&args.before), Input::from_arg(&args.after)];
    if inputs.iter().all(|i| matches!(i, Input::Stdin)) {
        anyhow::bail!("BEFORE and AFTER cannot both be standard input");
    }
    if args.plots.is_some() && inputs.iter().any(|i| matches!(i, Input::Stdin)) {
        anyhow::bail!("--plots needs capture files: the graphs take a second pass over them");
    }
    let bar = Progress::start(args.progress.quiet, Plan::new(&inputs, 1, true));
    let before = run_analysis(&inputs[0], &cfg, &settings)?;
    bar.file_done();
    let after = run_analysis(&inputs[1], &cfg, &settings)?;
    bar.finish();
    let matching = if args.ignore_ephemeral_ports {
        Matching::IgnoreEphemeralPorts
    } else {
        Matching::Endpoints
    };
    let mut cmp = Comparison::new(&before.report, &after.report, matching);
    let judged = args
        .fail_on_regression
        .map(|pct| (pct, regression::regressions(&cmp, pct)));
    if let Some((_, Ok(found))) = &judged {
        cmp.regressions = Some(found.clone());
    }

    let stdout = io::stdout();
    let mut out = stdout.lock();
    match args.format {
        OutputFormat::Json => json::write(&mut out, &cmp).context("writing the JSON comparison")?,
        OutputFormat::Text => {
            out.write_all(compare::render(&cmp, args.top, terminal_width()).as_bytes())?
        }
    }
    out.flush()?;
    if let Some(dir) = &args.plots {
        let written = compare_plots(&inputs, &cfg, &settings, &cmp, dir)?;
        if written.is_empty() {
            eprintln!("offload-doctor: no graphs: no matched TCP flow carried data in both");
        } else {
            eprintln!(
                "offload-doctor: wrote {} graphs into {}",
                written.len(),
                dir.display()
            );
        }
    }
    let damaged: Vec<DamagedInput> = [before.damaged, after.damaged]
        .into_iter()
        .flatten()
        .collect();
    for d in &damaged {
        eprintln!("offload-doctor: {d}");
    }
    if !damaged.is_empty() {
        return Ok(ExitCode::from(2));
    }
    Ok(judge(judged))
}

/// `--fail-on-regression`: 1 when AFTER is worse, 2 when the pair cannot be judged (no shared
/// flow: CI must not pass a comparison of unrelated captures), else 0.
fn judge(judged: Option<(f64, Result<Vec<String>, Unjudged>)>) -> ExitCode {
    match judged {
        None => ExitCode::SUCCESS,
        Some((_, Err(Unjudged::NoSharedFlows))) => {
            eprintln!(
                "offload-doctor: --fail-on-regression: the captures share no flow, so AFTER \
                 cannot be judged against BEFORE"
            );
            ExitCode::from(2)
        }
        Some((pct, Ok(found))) if found.is_empty() => {
            eprintln!("offload-doctor: no regression above {pct}%");
            ExitCode::SUCCESS
        }
        Some((_, Ok(found))) => {
            for r in &found {
                eprintln!("offload-doctor: regression: {r}");
            }
            ExitCode::from(1)
        }
    }
}

/// Second passes over both captures keeping the full traces of the largest matched TCP flows,
/// then their overlays, written into `dir`.
fn compare_plots(
    inputs: &[Input; 2],
    cfg: &DecodeConfig,
    settings: &Settings,
    cmp: &Comparison,
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    let pairs: Vec<&compare::FlowPair> = cmp
        .flows
        .iter()
        .filter(|p| p.protocol == Protocol::Tcp)
        .take(COMPARE_PLOT_TOP)
        .collect();
    let b = traced(
        &inputs[0],
        cfg,
        settings,
        pairs.iter().map(|p| p.before.id).collect(),
    )?;
    let a = traced(
        &inputs[1],
        cfg,
        settings,
        pairs.iter().map(|p| p.after.id).collect(),
    )?;
    let cv = plot::canvas(0, settings.flows.tcp.interval_ns, plot::DEFAULT_SIZE);
    let mut charts = Vec::new();
    for p in &pairs {
        let (Some(fb), Some(fa)) = (b.flows.by_id(p.before.id), a.flows.by_id(p.after.id)) else {
            continue;
        };
        charts.extend(plot::overlay_charts(
            [
                OverlaySide {
                    label: "before",
                    flow: fb,
                    side: fb.side_of(p.direction),
                },
                OverlaySide {
                    label: "after",
                    flow: fa,
                    side: fa.side_of(p.after_direction),
                },
            ],
            &cv,
        ));
    }
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let stem = match inputs {
        [Input::Path(x), Input::Path(y)] => {
            format!("{}-vs-{}", plot::capture_stem(x), plot::capture_stem(y))
        }
        _ => "compare".into(),
    };
    Ok(plot::write_all(
        &charts,
        dir,
        &stem,
        Format::Png,
        plot::DEFAULT_SIZE,
    )?)
}
