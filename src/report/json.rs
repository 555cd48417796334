//! The JSON exporter: any report document (analysis, check, compare) as pretty-printed JSON,
//! one document per run, ending with a newline.

use std::io::{self, Write};

use serde::Serialize;

/// Writes `doc` to `out` as one pretty-printed JSON document.
pub fn write<W: Write, T: Serialize>(out: &mut W, doc: &T) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, doc).map_err(io::Error::from)?;
    writeln!(out)
}
