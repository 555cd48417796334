//! `analyze --write-evidence DIR`: the evidence captures of a report's findings
//! ([`crate::report::evidence`]), each written through [`crate::atomic`] as a stream.
//!
//! Every path is checked before the first file is written, so that a refused path fails the
//! whole at once. Files are written in batches of [`BATCH`], one pass over the input per batch:
//! each file of a batch is an open temporary file, and a batch bounds how many are open at once
//! (file descriptors), while memory stays what one frame needs.

use std::fs;
use std::path::Path;

use anyhow::{bail, Context, Result};

use crate::atomic::{self, OutputKind};
use crate::capture::Input;
use crate::report::evidence::{copy, plan, Source};
use crate::report::Report;

/// Evidence files written per pass over the input.
const BATCH: usize = 64;

/// Refuses at once what cannot work: standard input (it cannot be read twice) or an input that
/// is not a regular file, and a DIR that is not a directory.
pub fn check(dir: &Path, input: &Input) -> Result<()> {
    match input {
        Input::Stdin => bail!(
            "--write-evidence needs a capture file: the cited frames are copied in a second pass \
             over it, and standard input cannot be read twice"
        ),
        Input::Path(p) => {
            // A missing file is the analysis's error to report.
            if fs::metadata(p).is_ok_and(|m| !m.is_file()) {
                bail!(
                    "--write-evidence needs a regular capture file (read twice): {} is not one",
                    p.display()
                );
            }
        }
    }
    if fs::metadata(dir).is_ok_and(|m| !m.is_dir()) {
        bail!("--write-evidence {}: not a directory", dir.display());
    }
    Ok(())
}

/// Writes the evidence of `report`'s findings into `dir` and says on stderr how many files.
pub fn write(dir: &Path, input: &Input, report: &Report) -> Result<()> {
    let files = plan(&report.findings);
    if files.is_empty() {
        eprintln!("offload-doctor: no finding cites frames: no evidence written");
        return Ok(());
    }
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    for f in &files {
        atomic::check(&dir.join(&f.name), OutputKind::Evidence)?;
    }
    let application = format!("{} {}", report.tool.name, report.tool.version);
    let src = Source {
        input,
        findings: &report.findings,
        application: &application,
    };
    for batch in files.chunks(BATCH) {
        let sinks = batch
            .iter()
            .map(|f| atomic::create(&dir.join(&f.name), OutputKind::Evidence))
            .collect::<Result<Vec<_>, _>>()?;
        for (sink, copied) in copy(&src, batch, sinks)? {
            let path = sink.path().to_path_buf();
            sink.finish()?;
            if !copied.missing.is_empty() {
                eprintln!(
                    "offload-doctor: {}: frames {:?} of the input could not be copied (not found \
                     again, or of no declared interface)",
                    path.display(),
                    copied.missing
                );
            }
        }
    }
    eprintln!(
        "offload-doctor: wrote {} evidence captures into {}",
        files.len(),
        dir.display()
    );
    Ok(())
}
