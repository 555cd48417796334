//! `check CAPTURE...`: the CI gate. Every capture is analysed and judged against a fail-on
//! severity, in parallel (one capture per core) and in argument order: lines as they are done,
//! or one JSON document, and optionally a JUnit file.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};

use super::many::{error_causes, in_order, workers, Inputs};
use super::progress::{Plan, Progress};
use super::select::selection;
use super::{decode_settings, detector_settings};
use crate::analysis::{self, Settings, Severity};
use crate::atomic::{self, Found, OutputKind, Refusal};
use crate::capture::Input;
use crate::cli::{CheckArgs, FailOn, OutputFormat};
use crate::decode::DecodeConfig;
use crate::flow::select::Selection;
use crate::pipeline::run_analysis;
use crate::report::check::{text, CaptureCheck, CheckRun};
use crate::report::{json, junit};

pub fn run(args: &CheckArgs) -> Result<ExitCode> {
    let (cfg, mut settings) = decode_settings(&args.decode)?;
    let policy = detector_settings(&mut settings, &args.detectors)?;
    super::read_peer(
        args.detectors.peer.as_deref(),
        &args.captures,
        &cfg,
        &mut settings,
    )?;
    let fail_on = args
        .fail_on
        .map(FailOn::severity)
        .or(policy.fail_on)
        .unwrap_or(Severity::Error);
    refuse_junit_path(args)?;
    let sel = selection(&args.select)?;
    let inputs = Inputs::expand(&args.captures)?;
    if inputs.skipped > 0 {
        eprintln!(
            "offload-doctor: {} other files in the directories skipped (not pcap, pcapng or gzip)",
            inputs.skipped
        );
    }
    let stdout = io::stdout();
    let mut out = stdout.lock();
    let mut captures = Vec::with_capacity(inputs.inputs.len());
    // `--junit -`: the XML is what stdout carries.
    let junit_to_stdout = args.junit.as_ref().is_some_and(|p| p.as_os_str() == "-");
    let many = inputs.inputs.len() > 1;
    let bar = Progress::start(args.progress.quiet, Plan::new(&inputs.inputs, 1, many));
    let work = |input: &Input| {
        let checked = check_one(input, &cfg, &settings, &sel, fail_on);
        bar.file_done();
        checked
    };
    let jobs = workers(inputs.inputs.len());
    in_order(&inputs.inputs, jobs, work, |checked| {
        if args.format == OutputFormat::Text && !junit_to_stdout {
            // Line by line as the captures are done, in argument order: a long CI job shows
            // progress.
            bar.suspend(|| {
                out.write_all(text::line(&checked, fail_on).as_bytes())?;
                out.flush()
            })?;
        }
        captures.push(checked);
        Ok(())
    })?;
    bar.finish();
    let policy_path = args
        .detectors
        .policy
        .as_ref()
        .map(|p| p.display().to_string());
    let run = CheckRun::new(fail_on, policy_path, &policy.severities, captures);
    match args.format {
        _ if junit_to_stdout => {}
        OutputFormat::Text => out.write_all(text::total(&run).as_bytes())?,
        OutputFormat::Json => json::write(&mut out, &run).context("writing the JSON result")?,
    }
    out.flush()?;
    if let Some(path) = &args.junit {
        let xml = junit::junit(&run, &analysis::finding_ids())
            .to_string()
            .context("serialising the JUnit report")?;
        if path.as_os_str() == "-" {
            out.write_all(xml.as_bytes())?;
            out.flush()?;
        } else {
            atomic::write(path, OutputKind::JUnit, xml.as_bytes())
                .context("writing the JUnit report")?;
        }
    }
    Ok(ExitCode::from(run.exit_code()))
}

/// `check --junit t/*.pcap` puts a capture right after `--junit`, and `check --junit a.pcap
/// b.pcap` forgot the report's name: writing there would destroy a capture. Refused before
/// anything is read, with the command line that was likely meant.
fn refuse_junit_path(args: &CheckArgs) -> Result<()> {
    let Some(junit) = args.junit.as_ref().filter(|p| p.as_os_str() != "-") else {
        return Ok(());
    };
    let j = junit.display();
    match atomic::check(junit, OutputKind::JUnit) {
        Ok(()) => Ok(()),
        Err(Refusal::Input { .. }) => anyhow::bail!(
            "--junit {j} is a capture this run checks: refusing to overwrite it; did you mean \
             --junit report.xml {j}?"
        ),
        Err(Refusal::Foreign {
            found: Found::Capture(format),
            ..
        }) => anyhow::bail!(
            "--junit {j} looks like a capture ({format}): refusing to replace it; did you mean \
             --junit report.xml {j}?"
        ),
        Err(other) => anyhow::bail!("--junit {other}"),
    }
}

/// One capture analysed and judged; a capture that cannot be read is an `ERROR` result, not
/// the end of the run.
fn check_one(
    input: &Input,
    cfg: &DecodeConfig,
    settings: &Settings,
    sel: &Selection,
    fail_on: Severity,
) -> CaptureCheck {
    match run_analysis(input, cfg, settings) {
        Ok(mut a) => {
            a.select(sel);
            CaptureCheck::new(a.report, a.damaged.map(|d| d.what), fail_on)
        }
        Err(e) => CaptureCheck::unreadable(
            input.display_name(),
            error_causes(&e, &input.display_name()),
        ),
    }
}
