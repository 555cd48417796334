//! The subcommands, one thin file each: they turn the command line into settings, call the
//! [`crate::pipeline`], and hand its results to an exporter. `main.rs` only maps the returned
//! exit code (or error) to the process's.

mod analyze;
mod analyze_many;
mod check;
mod compare;
mod completions;
mod explain;
mod man;
mod many;
mod plot;
mod select;
mod signals;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;

use crate::analysis::Settings;
use crate::cli::{Cli, Command, DecodeArgs, DetectorArgs};
use crate::decode::DecodeConfig;
use crate::gro::GroConfig;
use crate::policy::Policy;

/// Runs the command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<ExitCode> {
    signals::clean_up_on_interrupt();
    crate::atomic::protect_inputs(inputs(&cli.command));
    crate::atomic::allow_replacing(force(&cli.command));
    match cli.command {
        Command::Analyze(args) => analyze::run(&args),
        Command::Plot(args) => plot::run(&args),
        Command::Check(args) => check::run(&args),
        Command::Compare(args) => compare::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Completions(args) => completions::run(&args),
        Command::Man(args) => man::run(&args),
    }
}

/// The captures a command reads: no output may be written over them.
fn inputs(command: &Command) -> Vec<&Path> {
    let (mut paths, logs): (Vec<&Path>, &[PathBuf]) = match command {
        Command::Analyze(a) => (
            a.captures.iter().map(PathBuf::as_path).collect(),
            &a.detectors.qlog,
        ),
        Command::Plot(a) => (vec![a.input.capture.as_path()], &[]),
        Command::Check(a) => (
            a.captures.iter().map(PathBuf::as_path).collect(),
            &a.detectors.qlog,
        ),
        Command::Compare(a) => (
            vec![a.before.as_path(), a.after.as_path()],
            &a.detectors.qlog,
        ),
        Command::Explain(_) | Command::Completions(_) | Command::Man(_) => (Vec::new(), &[]),
    };
    // The endpoints' logs are inputs too.
    paths.extend(logs.iter().map(PathBuf::as_path));
    paths
}

/// `--force`, on the commands that write files.
fn force(command: &Command) -> bool {
    match command {
        Command::Analyze(a) => a.output.force,
        Command::Plot(a) => a.output.force,
        Command::Check(a) => a.output.force,
        Command::Compare(a) => a.output.force,
        Command::Man(a) => a.output.force,
        Command::Explain(_) | Command::Completions(_) => false,
    }
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
    settings.conn_buffer = args.conn_buffer.or(policy.conn_buffer);
    settings.memory_budget = args.memory_budget.or(policy.memory_budget);
    settings.severities = policy.severities.clone();
    let mut traces = Vec::new();
    for path in &args.qlog {
        traces.extend(crate::qlog::read_path(path)?);
    }
    settings.qlog = traces.into();
    Ok(policy)
}

fn terminal_width() -> Option<u16> {
    std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok())
}
