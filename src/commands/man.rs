//! `man [--out DIR]`: man pages generated from the same command-line definition as `--help`.

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::atomic::{self, OutputKind};
use crate::cli::{Cli, ManArgs};

pub fn run(args: &ManArgs) -> Result<ExitCode> {
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
            write_pages(cmd, dir)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// One page per command, as `clap_mangen::generate_to` names them, written by
/// [`crate::atomic`] (which refuses to replace a file that is not a man page); when one path is
/// refused, none is written.
fn write_pages(cmd: clap::Command, dir: &Path) -> Result<()> {
    let mut cmd = cmd.disable_help_subcommand(true);
    cmd.build();
    let mut pages = Vec::new();
    render_pages(cmd, dir, &mut pages)?;
    for (path, _) in &pages {
        atomic::check(path, OutputKind::Man)?;
    }
    for (path, roff) in &pages {
        atomic::write(path, OutputKind::Man, roff)
            .with_context(|| format!("writing man pages into {}", dir.display()))?;
    }
    Ok(())
}

/// `cmd`'s page and its subcommands' pages (subcommands first, as clap_mangen orders them).
fn render_pages(cmd: clap::Command, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) -> Result<()> {
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()).cloned() {
        render_pages(sub, dir, out)?;
    }
    let man = clap_mangen::Man::new(cmd);
    let mut roff = Vec::new();
    man.render(&mut roff)?;
    out.push((dir.join(man.get_filename()), roff));
    Ok(())
}
