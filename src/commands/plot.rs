//! `plot CAPTURE`: graphs of the busiest (or chosen) TCP and UDP flows, written into a directory.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::decode_settings;
use super::progress::{Plan, Progress};
use super::select::selection;
use crate::analysis::Settings;
use crate::capture::Input;
use crate::cli::PlotArgs;
use crate::decode::DecodeConfig;
use crate::flow::select::Selection;
use crate::pipeline::{busiest_where, plot_charts, run_analysis, DamagedInput};
use crate::plot::{self, Format, PlotKind};

/// Flows `analyze --plots` draws.
pub const PLOT_TOP: usize = 3;

/// What to draw and where.
pub struct Graphs<'a> {
    pub out: &'a Path,
    pub kinds: &'a [PlotKind],
    pub format: Format,
    pub size: (u32, u32),
    pub opts: plot::Options,
}

pub fn run(args: &PlotArgs) -> Result<ExitCode> {
    let (cfg, mut settings) = decode_settings(&args.input.decode)?;
    if args.peer.is_none() {
        if let Some(k) = args.kinds.iter().find(|k| k.needs_peer()) {
            anyhow::bail!(
                "--kind {} draws two captures of one path: give the other with --peer CAPTURE",
                k.name()
            );
        }
    }
    settings.qlog = super::read_qlogs(&args.qlog)?;
    let capture = std::slice::from_ref(&args.input.capture);
    super::read_peer(args.peer.as_deref(), capture, &cfg, &mut settings)?;
    let input = Input::from_arg(&args.input.capture);
    let sel = selection(&args.select)?;
    // Two passes unless the flows are given: the first finds the busiest.
    let passes = if sel.only_flows() { 1 } else { 2 };
    let plan = Plan::new(std::slice::from_ref(&input), passes, false);
    let bar = Progress::start(args.progress.quiet, plan);
    let ids = if sel.only_flows() {
        // Only --flow: one pass, and an unknown id is named.
        sel.flows.clone()
    } else {
        if matches!(input, Input::Stdin) {
            anyhow::bail!(
                "plotting the busiest or selected flows of standard input needs two passes: \
                 give a capture file, or pick flows with --flow ID alone"
            );
        }
        chosen(&input, &cfg, &settings, &sel, args.top as usize)?
    };
    let kinds = if args.kinds.is_empty() {
        PlotKind::ALL.to_vec()
    } else {
        args.kinds.clone()
    };
    let graphs = Graphs {
        out: &args.out,
        kinds: &kinds,
        format: args.format,
        size: args.size,
        opts: plot::Options {
            frame_sizes: args.frame_sizes,
            forced: !args.kinds.is_empty(),
        },
    };
    let (written, damaged) = draw(&input, &cfg, &settings, &ids, &graphs)?;
    bar.finish();
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for p in &written {
        writeln!(out, "{}", p.display())?;
    }
    out.flush()?;
    if let Some(d) = damaged {
        eprintln!("offload-doctor: {d}");
        return Ok(ExitCode::from(2));
    }
    if written.is_empty() {
        eprintln!(
            "offload-doctor: no graphs: the flows chosen carried nothing the kinds asked for \
             draw (TCP data, or UDP datagrams)"
        );
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The flows a first pass selects: every `--flow` that matches the other options, else the
/// busiest `top` of the selected flows.
fn chosen(
    input: &Input,
    cfg: &DecodeConfig,
    settings: &Settings,
    sel: &Selection,
    top: usize,
) -> Result<Vec<u32>> {
    let first = run_analysis(input, cfg, settings)?;
    let start = first.report.capture.first_timestamp_ns.unwrap_or(0);
    let n = if sel.flows.is_empty() {
        top
    } else {
        sel.flows.len()
    };
    let ids = busiest_where(&first.flows, n, |f| sel.matches(f, start));
    if ids.is_empty() && !sel.is_empty() {
        anyhow::bail!(
            "{}: no flow with graphs matches {}",
            input.display_name(),
            sel.describe()
        );
    }
    Ok(ids)
}

/// The pass that keeps the full traces of flows `ids`, then their graphs, written into `g.out`.
pub fn draw(
    input: &Input,
    cfg: &DecodeConfig,
    settings: &Settings,
    ids: &[u32],
    g: &Graphs<'_>,
) -> Result<(Vec<PathBuf>, Option<DamagedInput>)> {
    let (charts, damaged) = plot_charts(input, cfg, settings, ids, g.kinds, g.size, g.opts)?;
    std::fs::create_dir_all(g.out).with_context(|| format!("creating {}", g.out.display()))?;
    let stem = match input {
        Input::Path(p) => plot::capture_stem(p),
        Input::Stdin => "stdin".into(),
    };
    Ok((
        plot::write_all(&charts, g.out, &stem, g.format, g.size)?,
        damaged,
    ))
}
