//! The subcommands, one thin file each: they turn the command line into settings, call the
//! [`crate::pipeline`], and hand its results to an exporter. `main.rs` only maps the returned
//! exit code (or error) to the process's.

mod analyze;
mod analyze_many;
mod check;
mod compare;
mod completions;
mod evidence;
mod explain;
mod live;
mod man;
mod many;
mod plot;
mod progress;
mod select;
mod signals;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Result;

use crate::analysis::Settings;
use crate::cli::{Cli, ColorWhen, Command, DecodeArgs, DetectorArgs};
use crate::decode::DecodeConfig;
use crate::gro::GroConfig;
use crate::policy::Policy;

/// Runs the command line; returns the process exit code.
pub fn run(cli: Cli) -> Result<ExitCode> {
    signals::clean_up_on_interrupt();
    set_color(cli.color);
    crate::atomic::protect_inputs(inputs(&cli.command));
    crate::atomic::allow_replacing(force(&cli.command));
    match cli.command {
        Command::Analyze(args) => analyze::run(&args),
        Command::Live(args) => live::run(&args),
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
        Command::Plot(a) => (vec![a.input.capture.as_path()], &a.qlog),
        Command::Live(a) => (Vec::new(), &a.detectors.qlog),
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
    // The endpoints' logs and the peer capture are inputs too.
    paths.extend(logs.iter().map(PathBuf::as_path));
    let peer = match command {
        Command::Analyze(a) => a.detectors.peer.as_deref(),
        Command::Check(a) => a.detectors.peer.as_deref(),
        Command::Plot(a) => a.peer.as_deref(),
        _ => None,
    };
    paths.extend(peer);
    // And the key log.
    let decode = match command {
        Command::Analyze(a) => Some(&a.decode),
        Command::Check(a) => Some(&a.decode),
        Command::Compare(a) => Some(&a.decode),
        Command::Live(a) => Some(&a.decode),
        Command::Plot(a) => Some(&a.input.decode),
        _ => None,
    };
    paths.extend(decode.and_then(|d| d.keylog.as_deref()));
    paths
}

/// `--peer`: the other capture's packets, indexed for `path-loss` and the two-point graphs
/// (analyze, check, plot). `captures` are the command's own: one stream cannot be both.
fn read_peer(
    peer: Option<&Path>,
    captures: &[PathBuf],
    cfg: &DecodeConfig,
    settings: &mut Settings,
) -> Result<()> {
    let Some(p) = peer else { return Ok(()) };
    let input = crate::capture::Input::from_arg(p);
    if matches!(input, crate::capture::Input::Stdin)
        && captures.iter().any(|c| c.as_os_str() == "-")
    {
        anyhow::bail!(
            "--peer -: standard input is already the capture; give one of the two as a file"
        );
    }
    let index = crate::pipeline::peer_index(&input, cfg, settings)?;
    settings.peer = Some(std::sync::Arc::new(index));
    Ok(())
}

/// Commands that compare nothing refuse `--peer` rather than ignore it.
fn refuse_peer(args: &DetectorArgs, command: &str) -> Result<()> {
    match args.peer {
        Some(_) => anyhow::bail!("--peer is for `analyze`, `check` and `plot`, not `{command}`"),
        None => Ok(()),
    }
}

/// `--force`, on the commands that write files.
fn force(command: &Command) -> bool {
    match command {
        Command::Analyze(a) => a.output.force,
        Command::Plot(a) => a.output.force,
        Command::Check(a) => a.output.force,
        Command::Compare(a) => a.output.force,
        Command::Man(a) => a.output.force,
        Command::Live(_) | Command::Explain(_) | Command::Completions(_) => false,
    }
}

/// Decoding and flow settings from the decoding options.
fn decode_settings(args: &DecodeArgs) -> Result<(DecodeConfig, Settings)> {
    let mut cfg = DecodeConfig::default();
    cfg.vxlan_ports.extend(&args.vxlan_ports);
    cfg.geneve_ports.extend(&args.geneve_ports);
    let mut settings = Settings::default();
    settings.flows.tcp.interval_ns = args.interval;
    settings.flows.max_memory = args.max_memory;
    settings.flows.gro = GroConfig {
        kernel: args.kernel,
        mtu: args.mtu,
    };
    if let Some(path) = &args.keylog {
        let name = path.display().to_string();
        let file = std::fs::File::open(path)
            .map_err(|e| anyhow::anyhow!("{name}: cannot open the key log: {e}"))?;
        let log = crate::quic::keylog::KeyLog::read(&name, std::io::BufReader::new(file))?;
        settings.flows.keylog = Some(std::sync::Arc::new(log));
    }
    Ok((cfg, settings))
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
    settings.qlog = read_qlogs(&args.qlog)?;
    Ok(policy)
}

/// An error and its causes on one line, `a: b: c`. A cause whose text its parent's message
/// already ends with is left out: our error enums print their source in their own message
/// (`cannot open: No such file or directory`) and still expose it as the source, which
/// `{:#}` would print a second time.
pub fn error_message(err: &anyhow::Error) -> String {
    join_causes(err.chain().map(ToString::to_string))
}

/// An error about capture `name`, without the name when it is the error's first line (the
/// caller shows the name apart): what `check` and `analyze --format json` say in `error`.
pub fn unreadable_message(err: &anyhow::Error, name: &str) -> String {
    let named = err.chain().nth(1).is_some() && err.to_string() == name;
    let msg = join_causes(err.chain().skip(usize::from(named)).map(|c| c.to_string()));
    // "X is a directory: …" about capture X.
    match msg.strip_prefix(name).and_then(|m| m.strip_prefix(' ')) {
        Some(rest) if !named => rest.to_string(),
        _ => msg,
    }
}

fn join_causes(causes: impl Iterator<Item = String>) -> String {
    let mut parts: Vec<String> = Vec::new();
    for c in causes {
        if parts.last().is_some_and(|p| p.ends_with(&c)) {
            continue;
        }
        parts.push(c);
    }
    parts.join(": ")
}

/// The traces of every `--qlog` file or directory.
fn read_qlogs(paths: &[PathBuf]) -> Result<std::sync::Arc<[crate::qlog::QlogTrace]>> {
    let mut traces = Vec::new();
    for path in paths {
        traces.extend(crate::qlog::read_path(path)?);
    }
    Ok(traces.into())
}

/// The width the text report is laid out to: `COLUMNS` when set (as clap and most tools honour
/// it), else the terminal's when standard output is one. Standard output to a pipe or a file
/// gets none: lines are not wrapped and every column is kept, as ripgrep and tshark do, so that
/// `grep`, `less -S` and scripts see whole records.
fn terminal_width() -> Option<u16> {
    if let Some(c) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<u16>().ok())
        .filter(|&c| c > 0)
    {
        return Some(c);
    }
    terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| w.0)
}

/// `--color`, set for the whole process: every writer through anstream (the text report, the
/// explain renderer) follows it; `auto` leaves the choice to anstream (a terminal, `NO_COLOR`,
/// `CLICOLOR_FORCE`).
fn set_color(when: ColorWhen) {
    let choice = match when {
        ColorWhen::Auto => anstream::ColorChoice::Auto,
        ColorWhen::Always => anstream::ColorChoice::Always,
        ColorWhen::Never => anstream::ColorChoice::Never,
    };
    choice.write_global();
}

/// Whether standard output gets colour, after `--color` and the environment.
fn stdout_color() -> bool {
    anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never
}
