//! The JSON exporter: any report document (analysis, check, compare) as pretty-printed JSON,
//! one document per run, ending with a newline.

use std::io::{self, BufWriter, Write};

use serde::Serialize;

/// Writes `doc` to `out` as one pretty-printed JSON document.
pub fn write<W: Write, T: Serialize>(out: &mut W, doc: &T) -> io::Result<()> {
    // serde writes a document in small pieces, and stdout is line-buffered: unbuffered, a report
    // of 10,000 lines was 10,000 write calls.
    let mut out = BufWriter::with_capacity(BUFFER, out);
    serde_json::to_writer_pretty(&mut out, doc).map_err(io::Error::from)?;
    writeln!(out)?;
    out.flush()
}

/// Bytes gathered before a write call; the exporters share it.
pub const BUFFER: usize = 64 * 1024;
