//! The application: wires capture → decode → flow → analysis → report. The only module that knows
//! them all.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::analysis::{self, Settings, Summary};
use crate::capture::{CaptureError, CaptureReader, Input, TruncationKind};
use crate::cli::{AnalyzeArgs, Cli, Command, OutputFormat};
use crate::decode::{self, DecodeConfig, Kind};
use crate::flow::{FlowRef, FlowTable};
use crate::gro::GroConfig;
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
    }
}

/// Result of one pass over a capture.
pub struct Analysis {
    pub report: Report,
    /// Set when the capture was damaged mid-file (as opposed to cut short): exit code 2.
    pub damaged: Option<DamagedInput>,
}

fn analyze(args: &AnalyzeArgs) -> Result<ExitCode> {
    let input = Input::from_arg(&args.capture);
    let mut cfg = DecodeConfig::default();
    cfg.vxlan_ports.extend(&args.vxlan_ports);
    cfg.geneve_ports.extend(&args.geneve_ports);
    let mut settings = Settings::default();
    settings.flows.tcp.interval_ns = args.interval;
    settings.retransmission_threshold = args.retransmission_threshold / 100.0;
    settings.inflight_budget = args.inflight_budget;
    settings.flows.gro = GroConfig {
        kernel: args.kernel,
        mtu: args.mtu,
    };
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
    if let Some(d) = analysis.damaged {
        eprintln!("offload-doctor: {d}");
        return Ok(ExitCode::from(2));
    }
    Ok(ExitCode::SUCCESS)
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
        for d in detectors.iter_mut() {
            d.observe(&frame, &pkt, flow);
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
    let findings = analysis::finish_all(&mut detectors, &summary);
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
    };
    Ok(Analysis { report, damaged })
}
