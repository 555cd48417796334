//! `--format ndjson`: one JSON object per line (JSON Lines), a `capture` line, then one per flow
//! and one per finding, each carrying `schema_version`, `record` and the `capture` path, so that
//! the lines of many runs can be concatenated and loaded as one table into DuckDB, ClickHouse,
//! BigQuery or Spark. Flows are flattened to scalar columns (the JSON report's names, a
//! direction's prefixed `c2s_`/`s2c_` as in the CSV); findings carry their flow's endpoints so a
//! query needs no join. Every field is documented in docs/ndjson-format.md.

use std::collections::BTreeMap;
use std::io::{self, BufWriter, Write};

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::Value;

use super::csv::split;
use super::json;
use super::many::{FileResult, FileStatus};
use super::{DirReport, FlowReport, Report};
use crate::analysis::Finding;

/// The version of the line schema (docs/ndjson-format.md): raised when a field changes meaning
/// or goes away; a field added keeps it.
pub const SCHEMA_VERSION: u32 = 1;

/// What a line describes: the `record` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Record {
    Capture,
    Flow,
    Finding,
}

/// One line's fields, in the order they are written.
struct Line(Vec<(&'static str, Value)>);

impl Line {
    fn new(record: Record, capture: &str) -> Line {
        let mut l = Line(Vec::with_capacity(64));
        l.put("schema_version", SCHEMA_VERSION);
        l.put("record", record);
        l.put("capture", capture);
        l
    }

    fn put(&mut self, key: &'static str, v: impl serde::Serialize) {
        // Every value here is plain data: serialising it cannot fail.
        self.0
            .push((key, serde_json::to_value(v).unwrap_or(Value::Null)));
    }

    fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        serde_json::to_writer(&mut *out, self).map_err(io::Error::from)?;
        out.write_all(b"\n")
    }
}

impl Serialize for Line {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            m.serialize_entry(k, v)?;
        }
        m.end()
    }
}

/// The lines of one file of a run: its capture line, and its flows and findings when it was read.
pub fn write_file(out: &mut dyn Write, f: &FileResult) -> io::Result<()> {
    match &f.report {
        Some(r) => write(out, r, f.status, f.error.as_deref()),
        None => capture_line(out, &f.path, f.status, f.error.as_deref(), None),
    }
}

/// The lines of one report: `status` and `error` say whether it was read whole (`analysed`) or up
/// to damage (`damaged`, `error` saying what).
pub fn write(
    out: &mut dyn Write,
    r: &Report,
    status: FileStatus,
    error: Option<&str>,
) -> io::Result<()> {
    // Gathered, then written: stdout is line-buffered, and a capture may have a million flows.
    let mut buffered = BufWriter::with_capacity(json::BUFFER, out);
    write_lines(&mut buffered, r, status, error)?;
    buffered.flush()
}

fn write_lines(
    out: &mut dyn Write,
    r: &Report,
    status: FileStatus,
    error: Option<&str>,
) -> io::Result<()> {
    capture_line(out, &r.capture.path, status, error, Some(r))?;
    let mut ids: BTreeMap<u32, Vec<&str>> = BTreeMap::new();
    for x in &r.findings {
        if let Some(flow) = x.flow {
            ids.entry(flow).or_default().push(x.id);
        }
    }
    for f in &r.flows {
        let found = ids.get(&f.id).map_or(String::new(), |v| v.join(" "));
        flow_line(&r.capture.path, f, &found).write(out)?;
    }
    // A capture's findings are few, its flows may be a million: each flow found once.
    let by_id: BTreeMap<u32, &FlowReport> = r.flows.iter().map(|f| (f.id, f)).collect();
    for x in &r.findings {
        let flow = x.flow.and_then(|id| by_id.get(&id).copied());
        finding_line(&r.capture.path, x, flow).write(out)?;
    }
    Ok(())
}

/// The line of a capture that could not be read: its path and why.
pub fn write_unreadable(out: &mut dyn Write, path: &str, error: &str) -> io::Result<()> {
    capture_line(out, path, FileStatus::Unreadable, Some(error), None)
}

fn capture_line(
    out: &mut dyn Write,
    path: &str,
    status: FileStatus,
    error: Option<&str>,
    r: Option<&Report>,
) -> io::Result<()> {
    let mut l = Line::new(Record::Capture, path);
    l.put("status", status);
    l.put("error", error);
    l.put("tool_version", env!("CARGO_PKG_VERSION"));
    let c = r.map(|r| &r.capture);
    l.put("format", c.and_then(|c| c.format));
    l.put("gzip", c.map(|c| c.gzip));
    l.put("frames", c.map(|c| c.frames));
    l.put("bytes", c.map(|c| c.bytes));
    l.put("captured_bytes", c.map(|c| c.captured_bytes));
    l.put("first_timestamp_ns", c.and_then(|c| c.first_timestamp_ns));
    l.put("last_timestamp_ns", c.and_then(|c| c.last_timestamp_ns));
    l.put("first_time", c.and_then(|c| c.first_time.as_deref()));
    l.put("last_time", c.and_then(|c| c.last_time.as_deref()));
    l.put("duration_s", c.and_then(|c| c.duration_s));
    l.put("file_truncated", c.map(|c| c.file_truncated));
    l.put(
        "truncation_reason",
        c.and_then(|c| c.truncation.as_ref()).map(|t| t.reason),
    );
    l.put("interrupted", c.map(|c| c.interrupted));
    l.put("flow_count", r.map(|r| r.flows.len()));
    l.put("finding_count", r.map(|r| r.findings.len()));
    for (key, severity) in [
        ("info_count", "info"),
        ("warning_count", "warning"),
        ("error_count", "error"),
    ] {
        l.put(
            key,
            r.map(|r| r.verdict.counts.get(severity).copied().unwrap_or(0)),
        );
    }
    let v = r.map(|r| &r.verdict);
    l.put("verdict_status", v.map(|v| v.status));
    l.put("verdict_summary", v.map(|v| v.summary.as_str()));
    l.put("verdict_next_step", v.and_then(|v| v.next_step.as_deref()));
    l.write(out)
}

/// A flow's endpoints and tunnel: on its own line and on each of its findings' lines.
fn endpoints(l: &mut Line, f: Option<&FlowReport>) {
    let client = f.map(|f| split(&f.client));
    let server = f.map(|f| split(&f.server));
    let port = |p: &Option<(String, String)>| p.as_ref().and_then(|p| p.1.parse::<u16>().ok());
    l.put("protocol", f.map(|f| f.protocol));
    l.put("client_address", client.as_ref().map(|c| c.0.as_str()));
    l.put("client_port", port(&client));
    l.put("server_address", server.as_ref().map(|s| s.0.as_str()));
    l.put("server_port", port(&server));
    let t = f.and_then(|f| f.tunnel.as_ref());
    l.put("tunnel", t.map(|t| t.path()));
    l.put("vni", t.map(|t| t.vni));
    l.put("vni_s2c", t.map(|t| t.vni_s2c));
    l.put("outer_client", t.map(|t| t.outer_client.as_str()));
    l.put("outer_server", t.map(|t| t.outer_server.as_str()));
}

/// A flow's line; `findings`: the ids of its findings, space-separated, in report order.
fn flow_line(capture: &str, f: &FlowReport, findings: &str) -> Line {
    let mut l = Line::new(Record::Flow, capture);
    l.put("flow", f.id);
    endpoints(&mut l, Some(f));
    l.put("first_frame", f.first_frame);
    l.put("last_frame", f.last_frame);
    l.put("first_timestamp_ns", f.first_timestamp_ns);
    l.put("last_timestamp_ns", f.last_timestamp_ns);
    l.put("duration_s", f.duration_s);
    l.put("frames", f.frames);
    l.put("bytes", f.bytes);
    direction(&mut l, &C2S, &f.c2s);
    direction(&mut l, &S2C, &f.s2c);
    let tcp = f.tcp.as_ref();
    l.put("initial_rtt_ms", tcp.and_then(|t| t.initial_rtt_ms));
    l.put("capture_point", tcp.and_then(|t| t.capture_point));
    let quic = f.quic.as_ref();
    l.put("quic_version", quic.map(|q| q.version.as_str()));
    l.put("quic_sni", quic.and_then(|q| q.sni.as_deref()));
    l.put("quic_handshake_ms", quic.and_then(|q| q.handshake_ms));
    l.put("quic_connection", f.quic_connection);
    l.put("findings", findings);
    l.put("wireshark_filter", f.wireshark_filter.as_str());
    l
}

/// The column names of one direction's fields, in the order written.
type DirKeys = [&'static str; 15];

const C2S: DirKeys = [
    "c2s_frames",
    "c2s_bytes",
    "c2s_payload_bytes",
    "c2s_max_frame_len",
    "c2s_retransmissions",
    "c2s_retransmission_rate",
    "c2s_rtt_median_ms",
    "c2s_rtt_p99_ms",
    "c2s_goodput_bps",
    "c2s_throughput_bps",
    "c2s_zero_window_time_s",
    "c2s_segments_per_frame",
    "c2s_max_segments_per_frame",
    "c2s_oversized_frames",
    "c2s_gro_merge_rate",
];

const S2C: DirKeys = [
    "s2c_frames",
    "s2c_bytes",
    "s2c_payload_bytes",
    "s2c_max_frame_len",
    "s2c_retransmissions",
    "s2c_retransmission_rate",
    "s2c_rtt_median_ms",
    "s2c_rtt_p99_ms",
    "s2c_goodput_bps",
    "s2c_throughput_bps",
    "s2c_zero_window_time_s",
    "s2c_segments_per_frame",
    "s2c_max_segments_per_frame",
    "s2c_oversized_frames",
    "s2c_gro_merge_rate",
];

/// One direction's scalar columns (TCP and offload columns null for UDP).
fn direction(l: &mut Line, keys: &DirKeys, d: &DirReport) {
    let tcp = d.tcp.as_ref();
    let rtt = tcp.and_then(|t| t.rtt.as_ref());
    let off = d.offload.as_ref();
    let values: [Value; 15] = [
        d.frames.into(),
        d.bytes.into(),
        d.payload_bytes.into(),
        d.max_frame_len.into(),
        tcp.map(|t| t.counts.retransmissions).into(),
        tcp.map(|t| t.retransmission_rate).into(),
        rtt.map(|r| r.median_ms).into(),
        rtt.map(|r| r.p99_ms).into(),
        tcp.and_then(|t| t.goodput_bps).into(),
        tcp.and_then(|t| t.throughput_bps).into(),
        tcp.map(|t| t.zero_window_time_s).into(),
        off.and_then(|o| o.segments_per_frame).into(),
        off.map(|o| o.max_segments_per_frame).into(),
        off.map(|o| o.oversized_frames).into(),
        off.and_then(|o| o.gro.merge_rate).into(),
    ];
    for (k, v) in keys.iter().zip(values) {
        l.put(k, v);
    }
}

fn finding_line(capture: &str, x: &Finding, flow: Option<&FlowReport>) -> Line {
    let mut l = Line::new(Record::Finding, capture);
    l.put("id", x.id);
    l.put("severity", x.severity);
    l.put("flow", x.flow);
    endpoints(&mut l, flow);
    l.put("message", x.message.as_str());
    l.put("hint", x.hint.as_str());
    l.put("wireshark_filter", x.wireshark_filter.as_deref());
    l.put("frames_total", x.frames_total);
    l.put("first_frame", x.frames.first());
    l.put("evidence_frames", &x.frames);
    l.put("details", &x.details);
    l
}
