//! What `analyze` and `check` share for many captures: the inputs a command line names (a
//! directory stands for the captures in it, found by content) and the analysis of many files in
//! parallel, results handed on in argument order.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;

use anyhow::{Context, Result};

use crate::atomic::{sniff, Found};
use crate::capture::Input;

/// Directories nested deeper than this are not entered (their files count as skipped).
const MAX_DEPTH: usize = 32;

/// The captures of a command line.
#[derive(Debug, Default)]
pub struct Inputs {
    pub inputs: Vec<Input>,
    /// Files in the directories that are not captures, and symbolic links there: skipped.
    pub skipped: u64,
    /// Whether a directory was given: a run over many captures even when it holds one.
    pub directory: bool,
}

impl Inputs {
    /// Files as given (`-` is standard input, a file that is not a capture is an error of its
    /// own later); a directory is walked in name order, recursively, and its files kept when
    /// their first bytes are a capture's (pcap, pcapng, gzip), whatever their names.
    pub fn expand(args: &[PathBuf]) -> Result<Inputs> {
        let mut out = Inputs::default();
        for a in args {
            if a.as_os_str() != "-" && a.is_dir() {
                out.directory = true;
                walk(a, 0, &mut out)
                    .with_context(|| format!("reading directory {}", a.display()))?;
            } else {
                out.inputs.push(Input::from_arg(a));
            }
        }
        if out
            .inputs
            .iter()
            .filter(|i| matches!(i, Input::Stdin))
            .count()
            > 1
        {
            anyhow::bail!("standard input (`-`) can be read once per run");
        }
        Ok(out)
    }

    /// One capture given as a file (or `-`): the single-capture report.
    pub fn is_single(&self) -> bool {
        !self.directory && self.inputs.len() == 1
    }
}

/// The captures under `dir`, in name order; symbolic links are not followed (no loops, no file
/// twice).
fn walk(dir: &Path, depth: usize, out: &mut Inputs) -> Result<()> {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for path in entries {
        let Ok(meta) = fs::symlink_metadata(&path) else {
            out.skipped += 1;
            continue;
        };
        if meta.is_dir() {
            if depth + 1 < MAX_DEPTH && walk(&path, depth + 1, out).is_ok() {
                continue;
            }
            out.skipped += 1;
        } else if let Ok(Some(Found::Capture(_))) = sniff(&path) {
            out.inputs.push(Input::Path(path));
        } else {
            out.skipped += 1;
        }
    }
    Ok(())
}

/// Why the pass over capture `name` failed, on one line without the name (the result names it
/// already) and without a cause said twice.
pub fn error_causes(e: &anyhow::Error, name: &str) -> String {
    super::unreadable_message(e, name)
}

/// Workers for many files: one per core, never more than the files.
pub fn workers(files: usize) -> usize {
    let cores = thread::available_parallelism().map_or(1, |n| n.get());
    cores.min(files).max(1)
}

/// `work` on every item on `jobs` threads, at most `jobs` items in flight; `emit` sees the
/// results in the order of `items`, each as soon as those before it are done (a long run shows
/// progress). An error from `emit` (a closed pipe) stops the run once the items being worked on
/// are finished.
pub fn in_order<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    work: impl Fn(&T) -> R + Sync,
    mut emit: impl FnMut(R) -> Result<()>,
) -> Result<()> {
    let next = AtomicUsize::new(0);
    thread::scope(|s| {
        let (tx, rx) = mpsc::channel();
        for _ in 0..jobs.max(1) {
            let (tx, next, work) = (tx.clone(), &next, &work);
            s.spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(i) else { break };
                if tx.send((i, work(item))).is_err() {
                    break;
                }
            });
        }
        drop(tx);
        // Results that finished before an earlier item wait here for their turn.
        let mut waiting = BTreeMap::new();
        let mut due = 0;
        for (i, r) in rx {
            waiting.insert(i, r);
            while let Some(r) = waiting.remove(&due) {
                emit(r)?;
                due += 1;
            }
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_come_in_argument_order_whatever_finishes_first() {
        let items: Vec<u64> = (0..40).collect();
        // Early items take longest: they finish last.
        let work = |&n: &u64| {
            thread::sleep(std::time::Duration::from_millis(40 - n));
            n * 10
        };
        let mut seen = Vec::new();
        in_order(&items, 4, work, |r| {
            seen.push(r);
            Ok(())
        })
        .expect("run");
        assert_eq!(seen, items.iter().map(|n| n * 10).collect::<Vec<_>>());
    }

    #[test]
    fn at_most_jobs_items_are_in_flight() {
        let busy = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let items: Vec<u32> = (0..24).collect();
        let work = |_: &u32| {
            let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            thread::sleep(std::time::Duration::from_millis(5));
            busy.fetch_sub(1, Ordering::SeqCst);
        };
        in_order(&items, 3, work, |_| Ok(())).expect("run");
        assert!(peak.load(Ordering::SeqCst) <= 3);
    }

    #[test]
    fn an_emit_error_stops_the_run() {
        let items: Vec<u32> = (0..100).collect();
        let done = AtomicUsize::new(0);
        let work = |_: &u32| {
            thread::sleep(std::time::Duration::from_millis(2));
            done.fetch_add(1, Ordering::SeqCst);
        };
        let r = in_order(&items, 2, work, |_| anyhow::bail!("pipe closed"));
        assert!(r.is_err());
        assert!(done.load(Ordering::SeqCst) < 100);
    }
}
