//! `explain [FINDING-ID]`: a finding's section of docs/detectors.md (styled for a terminal,
//! the Markdown itself when piped), or the list of findings.

use std::io::{self, Write};
use std::process::ExitCode;

use anstream::ColorChoice;
use anyhow::Result;

use crate::cli::ExplainArgs;
use crate::explain;

pub fn run(args: &ExplainArgs) -> Result<ExitCode> {
    // Styled for a terminal; where anstream would strip styles (a pipe, NO_COLOR, `--color
    // never`) the Markdown is printed verbatim instead: `explain ID > notes.md` keeps it.
    let styled = anstream::AutoStream::choice(&io::stdout()) != ColorChoice::Never;
    let mut out = anstream::stdout().lock();
    match &args.id {
        None => out.write_all(explain::list().as_bytes())?,
        Some(id) => match explain::section(id) {
            Some(text) if styled => out.write_all(explain::styled(text).as_bytes())?,
            Some(text) => out.write_all(text.as_bytes())?,
            None => anyhow::bail!("{}", explain::unknown(id)),
        },
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
