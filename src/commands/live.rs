//! `live -i IFACE`: runs the system's tcpdump (or dumpcap) writing pcap to a pipe and analyses
//! the stream as it comes, with a progress line on stderr, until `--duration` or Ctrl-C.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{Context, Result};

use super::analyze::write_report;
use super::{decode_settings, detector_settings, signals};
use crate::capture::{stop, CaptureReader};
use crate::cli::LiveArgs;
use crate::pipeline::{analyze_reader, Analysis};
use crate::units::{bytes, thousands};

/// Seconds between progress lines on stderr.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// The capture tool's stderr kept for error messages (its last bytes).
const STDERR_KEEP: usize = 4096;

/// The capture tools, in order of preference.
#[derive(Debug, Clone, Copy)]
enum Tool {
    Tcpdump,
    Dumpcap,
}

impl Tool {
    fn name(self) -> &'static str {
        match self {
            Tool::Tcpdump => "tcpdump",
            Tool::Dumpcap => "dumpcap",
        }
    }

    /// Its command line: the capture as a stream on stdout, written as each packet arrives
    /// (tcpdump `-U`, and `--immediate-mode` so libpcap does not hold packets for its buffer
    /// timeout), without name resolution.
    fn args(self, args: &LiveArgs) -> Vec<String> {
        let i = args.interface.as_str();
        let mut v: Vec<&str> = match self {
            Tool::Tcpdump => vec!["-n", "-U", "--immediate-mode", "-w", "-", "-i", i],
            Tool::Dumpcap => vec!["-q", "-w", "-", "-i", i],
        };
        if let Some(f) = &args.filter {
            // tcpdump takes the filter as its last arguments, dumpcap after -f.
            if let Tool::Dumpcap = self {
                v.push("-f");
            }
            v.push(f);
        }
        v.into_iter().map(String::from).collect()
    }
}

/// The first of tcpdump and dumpcap found in `PATH`.
fn find_tool() -> Result<(Tool, PathBuf)> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for tool in [Tool::Tcpdump, Tool::Dumpcap] {
        if let Some(p) = std::env::split_paths(&path)
            .map(|d| d.join(tool.name()))
            .find(|p| p.is_file())
        {
            return Ok((tool, p));
        }
    }
    anyhow::bail!(
        "live capture needs tcpdump or dumpcap, and neither is in PATH: install tcpdump \
         (`apt install tcpdump`, `dnf install tcpdump`), or capture elsewhere and run \
         `offload-doctor analyze CAPTURE`"
    )
}

pub fn run(args: &LiveArgs) -> Result<ExitCode> {
    let (cfg, mut settings) = decode_settings(&args.decode)?;
    detector_settings(&mut settings, &args.detectors)?;
    super::refuse_peer(&args.detectors, "live")?;
    let (tool, exe) = find_tool()?;
    let mut child = spawn(tool, &exe, args)?;
    let err_text = child.stderr.take().map(keep_stderr);
    let name = format!("live:{}", args.interface);
    if let Some(ns) = args.duration {
        let d = Duration::from_nanos(u64::try_from(ns).unwrap_or(0));
        let _ = std::thread::Builder::new()
            .name("live-duration".into())
            .spawn(move || {
                std::thread::sleep(d);
                stop::finish();
            });
    }
    signals::stop_reading_on_signal(true);
    let analysis = read(&mut child, name, &cfg, &settings);
    signals::stop_reading_on_signal(false);
    // Ours, by its handle: it is still capturing after --duration or a signal sent to us alone.
    let _ = child.kill();
    let status = child.wait();
    let tool_said = err_text.and_then(|h| h.join().ok()).unwrap_or_default();
    let analysis = analysis.map_err(|e| match status.ok().and_then(|s| s.code()) {
        // It failed (no permission, no such interface, a bad filter): its own words.
        Some(c) if c != 0 => anyhow::anyhow!(
            "{} failed (exit code {c}): {}",
            tool.name(),
            tool_said.trim()
        ),
        _ => e.context(format!(
            "no capture from {} on {}{}",
            tool.name(),
            args.interface,
            if tool_said.trim().is_empty() {
                String::new()
            } else {
                format!(" (it said: {})", tool_said.trim())
            }
        )),
    })?;
    write_report(
        args.format,
        args.top,
        crate::analysis::Severity::Info,
        &analysis.report,
        signals::stopped_by(),
    )?;
    if let Some(d) = &analysis.damaged {
        eprintln!("offload-doctor: {d}");
        return Ok(ExitCode::from(2));
    }
    // Ctrl-C is how a live capture ends: 0, as tcpdump and tshark exit.
    Ok(ExitCode::SUCCESS)
}

fn spawn(tool: Tool, exe: &Path, args: &LiveArgs) -> Result<Child> {
    Command::new(exe)
        .args(tool.args(args))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {}", exe.display()))
}

/// The pass over the tool's stdout, with the progress line.
fn read(
    child: &mut Child,
    name: String,
    cfg: &crate::decode::DecodeConfig,
    settings: &crate::analysis::Settings,
) -> Result<Analysis> {
    let out = child.stdout.take().context("the capture tool's stdout")?;
    let progress = Arc::new(Progress::default());
    let ticker = progress.clone().start();
    let result = CaptureReader::from_reader(Box::new(stop::Interruptible::spawn(out)))
        .map_err(anyhow::Error::new)
        .and_then(|reader| {
            analyze_reader(reader, name, cfg, settings, &mut |frame, _, flow| {
                progress.count(frame.wire_len, flow.map(|f| f.index as u64 + 1));
            })
        });
    progress.done.store(true, Ordering::SeqCst);
    if let Ok(t) = ticker {
        let _ = t.join();
    }
    result
}

/// Counters the pass updates and the progress thread prints.
#[derive(Default)]
struct Progress {
    frames: AtomicU64,
    bytes: AtomicU64,
    flows: AtomicU64,
    done: AtomicBool,
}

impl Progress {
    fn count(&self, wire_len: u32, flow: Option<u64>) {
        self.frames.fetch_add(1, Ordering::Relaxed);
        self.bytes.fetch_add(u64::from(wire_len), Ordering::Relaxed);
        if let Some(n) = flow {
            self.flows.fetch_max(n, Ordering::Relaxed);
        }
    }

    /// The thread printing a line every [`PROGRESS_EVERY`] until the pass is done (it looks
    /// at `done` every 100 ms so the report is not held up).
    fn start(self: Arc<Self>) -> std::io::Result<JoinHandle<()>> {
        std::thread::Builder::new()
            .name("live-progress".into())
            .spawn(move || {
                let step = Duration::from_millis(100);
                let mut waited = Duration::ZERO;
                while !self.done.load(Ordering::SeqCst) {
                    std::thread::sleep(step);
                    waited += step;
                    if waited >= PROGRESS_EVERY {
                        waited = Duration::ZERO;
                        eprintln!("{}", self.line());
                    }
                }
            })
    }

    fn line(&self) -> String {
        let f = self.frames.load(Ordering::Relaxed);
        format!(
            "offload-doctor: live: {} frames, {}, {} flows so far",
            thousands(f),
            bytes(self.bytes.load(Ordering::Relaxed)),
            thousands(self.flows.load(Ordering::Relaxed))
        )
    }
}

/// A thread reading the tool's stderr to its end, keeping the last [`STDERR_KEEP`] bytes.
fn keep_stderr(mut err: ChildStderr) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut kept: Vec<u8> = Vec::new();
        let mut buf = [0u8; 1024];
        while let Ok(n) = err.read(&mut buf) {
            if n == 0 {
                break;
            }
            kept.extend_from_slice(&buf[..n]);
            if kept.len() > STDERR_KEEP {
                kept.drain(..kept.len() - STDERR_KEEP);
            }
        }
        String::from_utf8_lossy(&kept).into_owned()
    })
}
