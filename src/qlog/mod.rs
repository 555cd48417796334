//! qlog: the endpoints' own record of a QUIC connection (draft-ietf-quic-qlog-main-schema and
//! its QUIC events), read from the files quic-go, quiche and aioquic write, and folded into one
//! bounded summary per trace: packets sent, received, dropped and declared lost, RTT, congestion
//! window and bytes in flight. Joined with the capture by connection ID in the analysis stage.
//!
//! Two serialisations (`qlog_format`): `JSON`, one document with a `traces` array (aioquic's
//! QuicFileLogger, quiche before 0.20), and `JSON-SEQ` / `NDJSON`, a header record and then one
//! event per record, each optionally preceded by the RFC 7464 record separator 0x1e (quic-go,
//! quiche). Both are read as streams: memory grows with the number of traces, never with the
//! number of events. A file that is not qlog, or a record that does not parse, is an error naming
//! the file and the line.

mod event;
mod json;
mod seq;
mod timeline;

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

pub use event::{Clock, MetricPoint, Tally, MAX_POINTS};
pub use timeline::{Counts, Timeline, MAX_MARKS};

/// A qlog file larger than this is refused (a day-long connection's qlog stays far below).
pub const MAX_FILE: u64 = 4 << 30;
/// Files read from one directory, at most (`--qlog DIR`).
pub const MAX_FILES: usize = 10_000;
/// The longest connection ID (RFC 9000 §17.2).
const MAX_CID: usize = 20;
/// Distinct connection IDs kept per trace (from packet headers), beyond the original DCID.
pub const MAX_CIDS: usize = 16;

/// Which endpoint wrote a trace (`vantage_point.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Vantage {
    Client,
    Server,
    /// A network observer, or a trace that does not say.
    Unknown,
}

/// A connection ID from a qlog file (lower-case hex there), stored inline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QlogCid {
    len: u8,
    bytes: [u8; MAX_CID],
}

impl QlogCid {
    /// Parses hex; `None` for an empty, odd, non-hex or over-long string.
    pub fn from_hex(s: &str) -> Option<QlogCid> {
        let b = s.as_bytes();
        if b.is_empty() || !b.len().is_multiple_of(2) || b.len() > 2 * MAX_CID {
            return None;
        }
        let mut c = QlogCid::default();
        for (i, pair) in b.chunks_exact(2).enumerate() {
            let hi = char::from(pair[0]).to_digit(16)?;
            let lo = char::from(pair[1]).to_digit(16)?;
            c.bytes[i] = (hi * 16 + lo) as u8;
        }
        c.len = (b.len() / 2) as u8;
        Some(c)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    pub fn hex(&self) -> String {
        self.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// One trace (one connection as one endpoint saw it), summarised.
#[derive(Debug, Clone)]
pub struct QlogTrace {
    pub file: PathBuf,
    pub vantage: Vantage,
    /// `common_fields.ODCID` (or `group_id`): the DCID of the client's first Initial.
    pub odcid: Option<QlogCid>,
    /// Connection IDs of the packet headers it logged, at most [`MAX_CIDS`].
    pub cids: Vec<QlogCid>,
    pub tally: Tally,
}

impl QlogTrace {
    /// Whether this trace names the connection ID `cid`.
    pub fn names(&self, cid: &[u8]) -> bool {
        !cid.is_empty()
            && (self.odcid.is_some_and(|o| o.as_bytes() == cid)
                || self.cids.iter().any(|c| c.as_bytes() == cid))
    }
}

/// A qlog file that could not be read: the file, the line (1-based) when known, and why.
#[derive(Debug, thiserror::Error)]
#[error("{}{}: {what}", file.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct QlogError {
    pub file: PathBuf,
    pub line: Option<u64>,
    pub what: String,
}

impl QlogError {
    fn new(file: &Path, line: Option<u64>, what: impl Into<String>) -> QlogError {
        QlogError {
            file: file.to_path_buf(),
            line,
            what: what.into(),
        }
    }
}

/// Reads a qlog file, or every `.qlog` / `.sqlog` file directly in a directory (in name order).
pub fn read_path(path: &Path) -> Result<Vec<QlogTrace>, QlogError> {
    let meta = std::fs::metadata(path).map_err(|e| QlogError::new(path, None, e.to_string()))?;
    if !meta.is_dir() {
        return read_file(path);
    }
    let mut files = Vec::new();
    let entries = std::fs::read_dir(path).map_err(|e| QlogError::new(path, None, e.to_string()))?;
    for entry in entries {
        let entry = entry.map_err(|e| QlogError::new(path, None, e.to_string()))?;
        let p = entry.path();
        let qlog = is_qlog_name(&p);
        if qlog && p.is_file() {
            files.push(p);
        }
        if files.len() > MAX_FILES {
            return Err(QlogError::new(
                path,
                None,
                format!("more than {MAX_FILES} qlog files"),
            ));
        }
    }
    if files.is_empty() {
        return Err(QlogError::new(
            path,
            None,
            "no .qlog, .sqlog or .json file in this directory",
        ));
    }
    files.sort();
    let mut out = Vec::new();
    for f in files {
        out.extend(read_file(&f)?);
    }
    Ok(out)
}

/// Whether a directory entry is read as qlog: `.qlog`, `.sqlog`, `.json`, each also gzipped
/// (`.qlog.gz`: quiche and qvis users compress long traces).
fn is_qlog_name(p: &Path) -> bool {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy())
        .unwrap_or_default();
    let name = name.strip_suffix(".gz").unwrap_or(&name);
    [".qlog", ".sqlog", ".json"]
        .iter()
        .any(|e| name.ends_with(e))
}

/// Reads one qlog file, plain or gzipped (told by the gzip magic 1f 8b, RFC 1952 §2.3.1, never
/// by the name), choosing the serialisation by its first non-blank byte: `{` then a `traces`
/// array is JSON; a record separator or a header record with a `trace` is JSON-SEQ.
pub fn read_file(path: &Path) -> Result<Vec<QlogTrace>, QlogError> {
    let file = File::open(path).map_err(|e| QlogError::new(path, None, e.to_string()))?;
    let len = file
        .metadata()
        .map_err(|e| QlogError::new(path, None, e.to_string()))?
        .len();
    if len > MAX_FILE {
        return Err(QlogError::new(
            path,
            None,
            format!("{len} bytes: larger than the {MAX_FILE}-byte limit for a qlog file"),
        ));
    }
    let mut r = BufReader::with_capacity(1 << 16, file);
    let head = r
        .fill_buf()
        .map_err(|e| QlogError::new(path, None, e.to_string()))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        // Decompressed, a qlog is held to the same limit: a gzip bomb ends as a cut-short file.
        let gz = flate2::bufread::MultiGzDecoder::new(r).take(MAX_FILE);
        return read(path, BufReader::with_capacity(1 << 16, gz));
    }
    read(path, r)
}

/// Reads qlog from `r` (named `path` in errors).
pub fn read(path: &Path, mut r: impl BufRead) -> Result<Vec<QlogTrace>, QlogError> {
    let first = loop {
        let buf = r
            .fill_buf()
            .map_err(|e| QlogError::new(path, None, e.to_string()))?;
        let Some(&b) = buf.first() else {
            return Err(QlogError::new(path, Some(1), "empty file: not a qlog file"));
        };
        if b.is_ascii_whitespace() && b != 0x1e {
            r.consume(1);
            continue;
        }
        break b;
    };
    let mut traces = match first {
        0x1e => seq::read(path, r)?,
        b'{' => {
            // One JSON document or newline-delimited records: the head says which.
            let head = r
                .fill_buf()
                .map_err(|e| QlogError::new(path, None, e.to_string()))?;
            if seq::looks_sequential(head) {
                seq::read(path, r)?
            } else {
                json::read(path, r)?
            }
        }
        _ => {
            return Err(QlogError::new(
                path,
                Some(1),
                "not a qlog file (JSON or JSON-SEQ expected)",
            ))
        }
    };
    for t in &mut traces {
        t.file = path.to_path_buf();
    }
    Ok(traces)
}

#[cfg(test)]
mod tests;
