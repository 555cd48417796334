//! Entry point: parses the command line and maps the result to an exit code.
//! 0 = analysed, 2 = usage error or unreadable input; a closed pipe is not an error.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match offload_doctor::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help/version to stdout (exit 0) and usage errors to stderr (exit 2).
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    match offload_doctor::commands::run(cli) {
        Ok(code) => code,
        Err(err) => {
            // `offload-doctor analyze x | head` must not complain (ripgrep does the same).
            if err
                .chain()
                .filter_map(|c| c.downcast_ref::<std::io::Error>())
                .any(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
            {
                return ExitCode::SUCCESS;
            }
            eprintln!(
                "offload-doctor: {}",
                offload_doctor::commands::error_message(&err)
            );
            ExitCode::from(2)
        }
    }
}
