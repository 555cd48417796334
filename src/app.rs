//! The application: wires capture → decode → flow → analysis → report. The only module that knows
//! them all.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::analysis::{self, Settings, Severity, Summary};
use crate::capture::{CaptureError, CaptureReader, Input, TruncationKind};
use crate::cli::{
    AnalyzeArgs, CaptureArgs, CheckArgs, Cli, Command, CompareArgs, DecodeArgs, DetectorArgs,
    ExplainArgs, FailOn, ManArgs, OutputFormat, PlotArgs,
};
use crate::decode::{self, DecodeConfig, Kind};
use crate::explain;
use crate::flow::{Flow, FlowRef, FlowTable, FullTrace};
use crate::gro::GroConfig;
use crate::plot::{self, Format, PlotKind};
use crate::policy::Policy;
use crate::report::check::{self, CaptureCheck, CheckRun};
use crate::report::compare::{self, Comparison, Matching};
use crate::report::{self, text, CaptureReport, FlowReport, Report, Totals, Verdict};
use crate::tcp::events::Events;

/// An input problem that still produced a report: printed, then exit 2.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {what}")]
pub struct DamagedInput {
    pub path: String,
    pub what: String,
}

/// Runs the command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Analyze(args) => analyze(&args),
        Command::Plot(args) => plot(&args),
        Command::Check(args) => check(&args),
        Command::Compare(args) => compare(&args),
        Command::Explain(args) => explain(&args),
        Command::Completions(args) => {
            let mut cmd = Cli::command();
            clap_complete::generate(args.shell, &mut cmd, "offload-doctor", &mut io::stdout());
            Ok(ExitCode::SUCCESS)
        }
        Command::Man(args) => man(&args),
    }
}

fn check(args: &CheckArgs) -> Result<ExitCode> {
    let (cfg, mut settings) = decode_settings(&args.decode);
    let policy = detector_settings(&mut settings, &args.detectors)?;
    let fail_on = args
        .fail_on
        .map(FailOn::severity)
        .or(policy.fail_on)
        .unwrap_or(Severity::Error);
    if args
        .captures
        .iter()
        .filter(|p| p.as_os_str() == "-")
        .count()
        > 1
    {
        anyhow::bail!("standard input (`-`) can be checked once per run");
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut captures = Vec::with_capacity(args.captures.len());
    for path in &args.captures {
        let input = Input::from_arg(path);
        let name = input.display_name();
        let checked = match run_analysis(&input, &cfg, &settings) {
            Ok(a) => CaptureCheck::new(a.report, a.damaged.map(|d| d.what), fail_on),
            Err(e) => {
                // `run_analysis` puts the file name on top of the cause; the result carries the
                // name already, so keep the causes below it.
                let causes: Vec<String> = e.chain().skip(1).map(ToString::to_string).collect();
                let msg = if causes.is_empty() {
                    e.to_string()
                } else {
                    causes.join(": ")
                };
                CaptureCheck::unreadable(name, msg)
            }
        };
        if args.format == OutputFormat::Text {
            // Line by line as the captures are read: a long CI job shows progress.
            out.write_all(check::text_line(&checked, fail_on).as_bytes())?;
            out.flush()?;
        }
        captures.push(checked);
    }
    let run = CheckRun::new(
        fail_on,
        args.detectors
            .policy
            .as_ref()
            .map(|p| p.display().to_string()),
        &policy.severities,
        captures,
    );
    match args.format {
        OutputFormat::Text => out.write_all(check::text_total(&run).as_bytes())?,
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &run)
                .map_err(io::Error::from)
                .context("writing the JSON result")?;
            writeln!(out)?;
        }
    }
    out.flush()?;
    if let Some(path) = &args.junit {
        let xml = check::junit(&run, &analysis::finding_ids())
            .to_string()
            .context("serialising the JUnit report")?;
        crate::atomic::write(path, xml.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(ExitCode::from(run.exit_code()))
}

fn explain(args: &ExplainArgs) -> Result<ExitCode> {
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match &args.id {
        None => out.write_all(explain::list().as_bytes())?,
        Some(id) => match explain::section(id) {
            Some(text) => out.write_all(text.as_bytes())?,
            None => anyhow::bail!("{}", explain::unknown(id)),
        },
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

fn man(args: &ManArgs) -> Result<ExitCode> {
    let cmd = Cli::command();
    match &args.out {
        None => {
            let stdout = io::stdout();
            let mut out = stdout.lock();
            clap_mangen::Man::new(cmd).render(&mut out)?;
            out.flush()?;
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(cmd, dir)
                .with_context(|| format!("writing man pages into {}", dir.display()))?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Result of one pass over a capture.
pub struct Analysis {
    pub report: Report,
    /// Set when the capture was damaged mid-file (as opposed to cut short): exit code 2.
    pub damaged: Option<DamagedInput>,
    /// The flows, with full traces for those the settings asked for (graphs).
    pub flows: FlowTable,
}

/// Decoding and flow settings from the shared capture options.
fn capture_settings(args: &CaptureArgs) -> (Input, DecodeConfig, Settings) {
    let (cfg, settings) = decode_settings(&args.decode);
    (Input::from_arg(&args.capture), cfg, settings)
}

/// Decoding and flow settings from the decoding options.
fn decode_settings(args: &DecodeArgs) -> (DecodeConfig, Settings) {
    let mut cfg = DecodeConfig::default();
    cfg.vxlan_ports.extend(&args.vxlan_ports);
    cfg.geneve_ports.extend(&args.geneve_ports);
    let mut settings = Settings::default();
    settings.flows.tcp.interval_ns = args.interval;
    settings.flows.gro = GroConfig {
        kernel: args.kernel,
        mtu: args.mtu,
    };
    (cfg, settings)
}

/// Applies the detector options: the command line wins over the policy file, which wins over
/// the defaults. Returns the policy (empty without `--policy`).
fn detector_settings(settings: &mut Settings, args: &DetectorArgs) -> Result<Policy> {
    let policy = match &args.policy {
        Some(p) => Policy::load(p)?,
        None => Policy::default(),
    };
    if let Some(r) = args
        .retransmission_threshold
        .map(|p| p / 100.0)
        .or(policy.retransmission_rate)
    {
        settings.retransmission_threshold = r;
    }
    if let Some(b) = args.inflight_budget.or(policy.inflight_budget) {
        settings.inflight_budget = b;
    }
    settings.severities = policy.severities.clone();
    Ok(policy)
}

fn analyze(args: &AnalyzeArgs) -> Result<ExitCode> {
    let (input, cfg, mut settings) = capture_settings(&args.input);
    detector_settings(&mut settings, &args.detectors)?;
    if args.plots.is_some() && matches!(input, Input::Stdin) {
        anyhow::bail!("--plots needs a capture file: the graphs take a second pass over it");
    }
    let analysis = run_analysis(&input, &cfg, &settings)?;

    let stdout = io::stdout();
    let mut out = stdout.lock();
    match args.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &analysis.report)
                .map_err(io::Error::from)
                .context("writing the JSON report")?;
            writeln!(out)?;
        }
        OutputFormat::Text => {
            let width = terminal_width();
            let opts = text::TextOptions {
                top: args.top,
                width,
            };
            out.write_all(text::render(&analysis.report, &opts).as_bytes())?;
        }
    }
    out.flush()?;
    if let Some(dir) = &args.plots {
        let ids = busiest_tcp_flows(&analysis.flows, PLOT_TOP);
        let graphs = Graphs {
            out: dir,
            kinds: &PlotKind::ALL,
            format: Format::Png,
            size: plot::DEFAULT_SIZE,
        };
        // The report above already told of any damage.
        let (written, _) = draw(&input, &cfg, &settings, &ids, &graphs)?;
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

/// Flows `analyze --plots` draws.
const PLOT_TOP: usize = 3;

/// What to draw and where.
struct Graphs<'a> {
    out: &'a Path,
    kinds: &'a [PlotKind],
    format: Format,
    size: (u32, u32),
}

fn plot(args: &PlotArgs) -> Result<ExitCode> {
    let (input, cfg, settings) = capture_settings(&args.input);
    let ids = if args.flows.is_empty() {
        if matches!(input, Input::Stdin) {
            anyhow::bail!(
                "plotting the busiest flows of standard input needs two passes: give a capture \
                 file, or pick flows with --flow ID"
            );
        }
        let first = run_analysis(&input, &cfg, &settings)?;
        busiest_tcp_flows(&first.flows, args.top as usize)
    } else {
        args.flows.clone()
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
    };
    let (written, damaged) = draw(&input, &cfg, &settings, &ids, &graphs)?;
    let stdout = io::stdout();
    let mut out = stdout.lock();
    for p in &written {
        writeln!(out, "{}", p.display())?;
    }
    out.flush()?;
    if written.is_empty() {
        eprintln!("offload-doctor: no graphs: the flows chosen carried no TCP data");
    }
    if let Some(d) = damaged {
        eprintln!("offload-doctor: {d}");
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
}

/// Ids of the `n` TCP flows with the most bytes that carried data.
pub fn busiest_tcp_flows(flows: &FlowTable, n: usize) -> Vec<u32> {
    let mut tcp: Vec<&Flow> = flows
        .flows
        .iter()
        .filter(|f| {
            f.tcp
                .as_ref()
                .is_some_and(|c| c.dirs.iter().any(|d| d.data_segments > 0))
        })
        .collect();
    tcp.sort_by_key(|f| (std::cmp::Reverse(f.bytes()), f.id));
    tcp.into_iter().take(n).map(|f| f.id).collect()
}

/// The pass that keeps the full traces of flows `ids`, then their graphs, written into `g.out`.
fn draw(
    input: &Input,
    cfg: &DecodeConfig,
    settings: &Settings,
    ids: &[u32],
    g: &Graphs<'_>,
) -> Result<(Vec<PathBuf>, Option<DamagedInput>)> {
    let (charts, damaged) = plot_charts(input, cfg, settings, ids, g.kinds, g.size)?;
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

/// The data of the graphs of `kinds` for flows `ids`, for a picture of `size`: one pass that
/// keeps those flows' full traces. An unknown or non-TCP flow id is an error; a capture damaged
/// mid-file still gives the graphs of what was read, and the damage.
pub fn plot_charts(
    input: &Input,
    cfg: &DecodeConfig,
    settings: &Settings,
    ids: &[u32],
    kinds: &[PlotKind],
    size: (u32, u32),
) -> Result<(Vec<plot::Chart>, Option<DamagedInput>)> {
    let mut settings = settings.clone();
    settings.flows.full_trace = FullTrace::Flows(ids.to_vec());
    let a = run_analysis(input, cfg, &settings)?;
    let mut chosen = Vec::with_capacity(ids.len());
    for &id in ids {
        let f = a.flows.by_id(id).ok_or_else(|| {
            anyhow::anyhow!(
                "{}: there is no flow {id} (the capture has {} flows; `analyze` lists them)",
                input.display_name(),
                a.flows.flows.len()
            )
        })?;
        if f.tcp.is_none() {
            anyhow::bail!(
                "{}: flow {id} is not TCP; graphs are drawn for TCP flows",
                input.display_name()
            );
        }
        chosen.push(f);
    }
    let t0 = a.report.capture.first_timestamp_ns.unwrap_or(0);
    let cv = plot::canvas(t0, settings.flows.tcp.interval_ns, size);
    let charts = plot::charts(&chosen, kinds, &cv);
    Ok((charts, a.damaged))
}

fn terminal_width() -> Option<u16> {
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok())
}

/// One streaming pass: every frame is decoded, accounted to a flow and shown to every detector.
pub fn run_analysis(input: &Input, cfg: &DecodeConfig, settings: &Settings) -> Result<Analysis> {
    let name = input.display_name();
    let reader = CaptureReader::open(input).with_context(|| name.clone())?;
    analyze_stream(reader, name.clone(), cfg, settings, &mut |_, _| {}).with_context(|| name)
}

/// The TCP analysis flags of every frame that has any, with its frame number: what the
/// agreement test compares with tshark's `tcp.analysis.*` fields.
pub fn frame_events(
    input: &Input,
    cfg: &DecodeConfig,
    settings: &Settings,
) -> Result<Vec<(u64, Events)>> {
    let name = input.display_name();
    let reader = CaptureReader::open(input).with_context(|| name.clone())?;
    let mut out = Vec::new();
    analyze_stream(reader, name.clone(), cfg, settings, &mut |number, flow| {
        if let Some(f) = flow.filter(|f| !f.events.is_empty()) {
            out.push((number, f.events));
        }
    })
    .with_context(|| name)?;
    Ok(out)
}

/// The same pass over bytes in memory (tests, fuzzing).
pub fn analyze_bytes(
    bytes: Vec<u8>,
    cfg: &DecodeConfig,
    settings: &Settings,
) -> Result<Analysis, CaptureError> {
    let reader = CaptureReader::from_reader(Box::new(io::Cursor::new(bytes)))?;
    analyze_stream(reader, "<memory>".into(), cfg, settings, &mut |_, _| {})
}

/// The pass itself; `tap` sees each frame's number and where it landed.
fn analyze_stream(
    mut reader: CaptureReader,
    name: String,
    cfg: &DecodeConfig,
    settings: &Settings,
    tap: &mut dyn FnMut(u64, Option<FlowRef>),
) -> Result<Analysis, CaptureError> {
    let mut flows = FlowTable::new(settings.flows.clone());
    let mut detectors = analysis::registry(settings);
    let mut totals = Totals::default();
    // Per-kind counters in a small fixed map, turned into names once at the end (no per-packet
    // String).
    let mut kinds: rustc_hash::FxHashMap<Kind, u64> = Default::default();

    while let Some(frame) = reader.next_frame()? {
        let pkt = decode::decode(&frame, cfg);
        *kinds.entry(pkt.kind).or_default() += 1;
        let flow = flows.observe(&frame, &pkt);
        tap(frame.number, flow);
        for r in detectors.iter_mut() {
            r.detector.observe(&frame, &pkt, flow);
        }
        totals.frames += 1;
        totals.bytes += frame.wire_len as u64;
        totals.captured_bytes += frame.data.len() as u64;
        if frame.ts_known {
            // Earliest and latest, as capinfos reports them: multi-interface pcapng files are often
            // slightly out of order, and a duration must never be negative.
            let ts = frame.ts_ns;
            totals.first_ts_ns = Some(totals.first_ts_ns.map_or(ts, |t| t.min(ts)));
            totals.last_ts_ns = Some(totals.last_ts_ns.map_or(ts, |t| t.max(ts)));
        }
        if let Some(i) = frame.interface {
            let i = i as usize;
            if totals.per_interface.len() <= i {
                totals.per_interface.resize(i + 1, 0);
            }
            totals.per_interface[i] += 1;
        }
    }

    for (kind, n) in kinds {
        match kind {
            Kind::Undecoded(u) => *totals.undecoded.entry(u.name()).or_default() += n,
            k => *totals.decoded.entry(k.name()).or_default() += n,
        }
    }
    let meta = &reader.meta;
    let summary = Summary {
        meta,
        frames: totals.frames,
        flows: &flows,
    };
    let analysis::Findings { findings, ignored } =
        analysis::finish_all(&mut detectors, &summary, settings);
    let damaged = meta.truncation.as_ref().and_then(|t| match t.kind {
        TruncationKind::Corrupt(_) => Some(DamagedInput {
            path: name.clone(),
            what: t.to_string(),
        }),
        TruncationKind::CutShort => None,
    });
    let report = Report {
        schema_version: report::SCHEMA_VERSION,
        tool: Default::default(),
        capture: CaptureReport::new(name, meta, &totals),
        flows: flows
            .flows
            .iter()
            .map(|f| FlowReport::new(f, settings.flows.gro.kernel))
            .collect(),
        verdict: Verdict::new(&findings),
        findings,
        ignored: ignored.into_iter().collect(),
    };
    Ok(Analysis {
        report,
        damaged,
        flows,
    })
}

fn compare(args: &CompareArgs) -> Result<ExitCode> {
    let (cfg, mut settings) = decode_settings(&args.decode);
    detector_settings(&mut settings, &args.detectors)?;
    let inputs = [Input::from_arg(&args.before), Input::from_arg(&args.after)];
    if inputs.iter().all(|i| matches!(i, Input::Stdin)) {
        anyhow::bail!("BEFORE and AFTER cannot both be standard input");
    }
    if args.plots.is_some() && inputs.iter().any(|i| matches!(i, Input::Stdin)) {
        anyhow::bail!("--plots needs capture files: the graphs take a second pass over them");
    }
    let before = run_analysis(&inputs[0], &cfg, &settings)?;
    let after = run_analysis(&inputs[1], &cfg, &settings)?;
    let matching = if args.ignore_ephemeral_ports {
        Matching::IgnoreEphemeralPorts
    } else {
        Matching::Endpoints
    };
    let cmp = Comparison::new(&before.report, &after.report, matching);

    let stdout = io::stdout();
    let mut out = stdout.lock();
    match args.format {
        OutputFormat::Json => {
            serde_json::to_writer_pretty(&mut out, &cmp)
                .map_err(io::Error::from)
                .context("writing the JSON comparison")?;
            writeln!(out)?;
        }
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
    Ok(if damaged.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}

/// Matched TCP flows `compare --plots` draws.
const COMPARE_PLOT_TOP: usize = 3;

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
        .filter(|p| p.protocol == "tcp")
        .take(COMPARE_PLOT_TOP)
        .collect();
    let traced = |input: &Input, ids: Vec<u32>| {
        let mut s = settings.clone();
        s.flows.full_trace = FullTrace::Flows(ids);
        run_analysis(input, cfg, &s)
    };
    let b = traced(&inputs[0], pairs.iter().map(|p| p.before.id).collect())?;
    let a = traced(&inputs[1], pairs.iter().map(|p| p.after.id).collect())?;
    let cv = plot::canvas(0, settings.flows.tcp.interval_ns, plot::DEFAULT_SIZE);
    let mut charts = Vec::new();
    for p in &pairs {
        let (Some(fb), Some(fa)) = (b.flows.by_id(p.before.id), a.flows.by_id(p.after.id)) else {
            continue;
        };
        // `c2s` is what the flow's client sent.
        let side = |f: &Flow, dir: &str| if dir == "c2s" { f.client } else { 1 - f.client };
        let (side_b, side_a) = (side(fb, p.direction), side(fa, p.after_direction));
        charts.extend(plot::overlay_charts(
            [
                plot::Side {
                    label: "before",
                    flow: fb,
                    side: side_b,
                },
                plot::Side {
                    label: "after",
                    flow: fa,
                    side: side_a,
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
