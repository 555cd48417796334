//! `explain [FINDING-ID]`: a finding's section of docs/detectors.md, or the list of findings.

use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::Result;

use crate::cli::ExplainArgs;
use crate::explain;

pub fn run(args: &ExplainArgs) -> Result<ExitCode> {
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
