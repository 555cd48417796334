//! `completions SHELL`: a completion script generated from the command-line definition.

use std::io;
use std::process::ExitCode;

use anyhow::Result;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};

pub fn run(args: &CompletionsArgs) -> Result<ExitCode> {
    let mut cmd = Cli::command();
    clap_complete::generate(args.shell, &mut cmd, "offload-doctor", &mut io::stdout());
    Ok(ExitCode::SUCCESS)
}
