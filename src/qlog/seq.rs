//! qlog's `JSON-SEQ` serialisation (RFC 7464: each record starts with 0x1e and ends with a line
//! feed) and its `NDJSON` variant (no separator): a header record holding `trace` (common fields,
//! vantage point), then one event per record. Records are read one at a time into a buffer of at
//! most [`MAX_RECORD`] bytes.

use std::io::BufRead;
use std::path::Path;

use serde::Deserialize;

use super::event::{Common, RawEvent, Tally, VantagePoint};
use super::json::from_serde;
use super::{QlogError, QlogTrace};

/// The longest record read; an event is a few hundred bytes, a header a few kB.
pub const MAX_RECORD: usize = 1 << 20;
const RS: u8 = 0x1e;

/// Whether a file starting with `{` is newline-delimited qlog: its head names a sequential
/// format, or holds a `trace` object and no `traces` array.
pub(super) fn looks_sequential(head: &[u8]) -> bool {
    let has = |needle: &[u8]| head.windows(needle.len()).any(|w| w == needle);
    if has(b"\"JSON-SEQ\"") || has(b"\"NDJSON\"") || has(b"\"JSON-SEQ") {
        return true;
    }
    if has(b"\"qlog_format\"") && has(b"\"JSON\"") {
        return false;
    }
    has(b"\"trace\"") && !has(b"\"traces\"")
}

#[derive(Deserialize)]
struct HeaderRecord {
    #[serde(default)]
    trace: Option<TraceHead>,
}

#[derive(Deserialize, Default)]
struct TraceHead {
    #[serde(default)]
    common_fields: Common,
    #[serde(default)]
    vantage_point: VantagePoint,
}

/// One record: its bytes (without separator and line feed), its first line, and whether it
/// ended with a line feed.
struct Records<R> {
    r: R,
    buf: Vec<u8>,
    line: u64,
}

impl<R: BufRead> Records<R> {
    /// The next non-empty record and the line it starts on; `None` at the end of the file.
    fn next(&mut self, path: &Path) -> Result<Option<(u64, bool)>, QlogError> {
        loop {
            self.buf.clear();
            let start = self.line + 1;
            let ended = self.read_line(path, start)?;
            if !ended && self.buf.is_empty() {
                return Ok(None);
            }
            self.line += 1;
            let body = self
                .buf
                .iter()
                .position(|b| *b != RS && !b.is_ascii_whitespace());
            match body {
                Some(i) => {
                    self.buf.drain(..i);
                    return Ok(Some((start, ended)));
                }
                None if ended => continue,
                None => return Ok(None),
            }
        }
    }

    /// Reads up to a line feed into `buf`; `true` when one ended it.
    fn read_line(&mut self, path: &Path, line: u64) -> Result<bool, QlogError> {
        loop {
            let chunk = self
                .r
                .fill_buf()
                .map_err(|e| QlogError::new(path, Some(line), e.to_string()))?;
            if chunk.is_empty() {
                return Ok(false);
            }
            let (take, ended) = match chunk.iter().position(|b| *b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            if self.buf.len() + take > MAX_RECORD {
                return Err(QlogError::new(
                    path,
                    Some(line),
                    format!("a record longer than {MAX_RECORD} bytes: not a qlog event"),
                ));
            }
            self.buf.extend_from_slice(&chunk[..take]);
            self.r.consume(take);
            if ended {
                self.buf.pop();
                return Ok(true);
            }
        }
    }
}

/// Reads one trace: the header record, then the events.
pub(super) fn read(path: &Path, r: impl BufRead) -> Result<Vec<QlogTrace>, QlogError> {
    let mut records = Records {
        r,
        buf: Vec::with_capacity(4096),
        line: 0,
    };
    let Some((line, _)) = records.next(path)? else {
        return Err(QlogError::new(path, Some(1), "empty file: not a qlog file"));
    };
    let head: HeaderRecord =
        serde_json::from_slice(&records.buf).map_err(|e| at(path, line, &e))?;
    let head = head.trace.ok_or_else(|| {
        QlogError::new(
            path,
            Some(line),
            "the first record has no \"trace\": not a JSON-SEQ qlog header",
        )
    })?;
    let mut tally = Tally::default();
    if head.common_fields.delta() {
        tally.set_delta();
    }
    let mut cids = Vec::new();
    while let Some((line, ended)) = records.next(path)? {
        match serde_json::from_slice::<RawEvent>(&records.buf) {
            Ok(e) => tally.add(e, &mut cids),
            // The last record without its line feed: the writer stopped mid-record (an
            // endpoint killed while logging). What came before stands.
            Err(_) if !ended => tally.truncated = true,
            Err(e) => return Err(at(path, line, &e)),
        }
    }
    let c = &head.common_fields;
    tally.finish(c.reference_ms(), c.absolute());
    Ok(vec![QlogTrace {
        file: path.to_path_buf(),
        vantage: head.vantage_point.vantage(),
        odcid: c.cid(),
        cids,
        tally,
    }])
}

/// A record's parse error, on the record's line of the file.
fn at(path: &Path, line: u64, e: &serde_json::Error) -> QlogError {
    let mut err = from_serde(path, e);
    err.line = Some(line + (e.line() as u64).saturating_sub(1));
    err
}
