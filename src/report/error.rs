//! The JSON document of a run that could not read its capture (`analyze --format json` on a
//! missing or unreadable file): stdout still carries one JSON document, shaped like a `check`
//! result's unreadable capture.

use serde::Serialize;

use super::check::EXIT_ERROR;
use super::{Tool, SCHEMA_VERSION};

#[derive(Debug, Serialize)]
pub struct ErrorReport {
    pub schema_version: u32,
    pub tool: Tool,
    /// The capture as given on the command line (`-` for standard input).
    pub path: String,
    /// Always `"error"`, as a `check` capture that could not be read.
    pub result: &'static str,
    pub exit_code: u8,
    /// What went wrong, without the path (the same text as `check`'s `error`).
    pub error: String,
}

impl ErrorReport {
    pub fn new(path: String, error: String) -> Self {
        ErrorReport {
            schema_version: SCHEMA_VERSION,
            tool: Tool::default(),
            path,
            result: "error",
            exit_code: EXIT_ERROR,
            error,
        }
    }
}
