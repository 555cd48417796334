//! `--format csv|tsv`: the flow table for spreadsheets, one row per flow (the columns are
//! documented in docs/csv-format.md), as `tshark -z conv` and `tcptrace -l` users expect it.
//!
//! Written by hand rather than with the `csv` crate: the rules of RFC 4180 §2 are four lines
//! (a field holding the delimiter, a double quote or a line break is enclosed in double quotes,
//! a double quote inside doubled), every field but the capture's name is a number, an address
//! or an id, and one dependency less is one less to audit. The tests read the output back with
//! an independent reader.

use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;

use super::time::seconds;
use super::{DirReport, FlowReport, Report};

/// Comma-separated (RFC 4180, CRLF line ends) or tab-separated (LF line ends).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Separator {
    Comma,
    Tab,
}

impl Separator {
    fn delimiter(self) -> char {
        match self {
            Separator::Comma => ',',
            Separator::Tab => '\t',
        }
    }
    fn line_end(self) -> &'static str {
        match self {
            // RFC 4180 §2 rule 1: records end with CRLF.
            Separator::Comma => "\r\n",
            // Tab-separated files are read by line-oriented tools: a plain LF.
            Separator::Tab => "\n",
        }
    }
}

/// The header row, in column order (docs/csv-format.md).
pub const COLUMNS: [&str; 28] = [
    "capture",
    "flow",
    "protocol",
    "client_address",
    "client_port",
    "server_address",
    "server_port",
    "tunnel",
    "vni",
    "start_s",
    "duration_s",
    "frames",
    "bytes",
    "c2s_frames",
    "c2s_bytes",
    "c2s_payload_bytes",
    "s2c_frames",
    "s2c_bytes",
    "s2c_payload_bytes",
    "c2s_retransmissions",
    "s2c_retransmissions",
    "c2s_rtt_median_ms",
    "s2c_rtt_median_ms",
    "c2s_goodput_bps",
    "s2c_goodput_bps",
    "c2s_segments_per_frame",
    "s2c_segments_per_frame",
    "findings",
];

/// The header, then every flow of every report, in flow id order.
pub fn write(out: &mut dyn Write, reports: &[&Report], sep: Separator) -> io::Result<()> {
    header(out, sep)?;
    for r in reports {
        rows(out, r, sep)?;
    }
    Ok(())
}

/// The header row.
pub fn header(out: &mut dyn Write, sep: Separator) -> io::Result<()> {
    record(out, COLUMNS.iter().map(|c| c.to_string()), sep)
}

/// One row per flow of `r`.
pub fn rows(out: &mut dyn Write, r: &Report, sep: Separator) -> io::Result<()> {
    // Gathered, then written: stdout is line-buffered, and a capture may have a million flows.
    let mut out = BufWriter::with_capacity(super::json::BUFFER, out);
    for f in &r.flows {
        record(&mut out, row(r, f).into_iter(), sep)?;
    }
    out.flush()
}

/// One record: fields quoted where RFC 4180 needs it.
fn record(
    out: &mut dyn Write,
    fields: impl Iterator<Item = String>,
    sep: Separator,
) -> io::Result<()> {
    let mut line = String::new();
    for (i, f) in fields.enumerate() {
        if i > 0 {
            line.push(sep.delimiter());
        }
        line.push_str(&quoted(&f, sep.delimiter()));
    }
    line.push_str(sep.line_end());
    out.write_all(line.as_bytes())
}

/// `field` as RFC 4180 §2 rules 5 to 7 write it.
pub fn quoted(field: &str, delimiter: char) -> String {
    if field.contains([delimiter, '"', '\r', '\n']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

/// An endpoint's address and port (`[v6]:port` or `v4:port`), apart.
pub(super) fn split(endpoint: &str) -> (String, String) {
    match endpoint.parse::<SocketAddr>() {
        Ok(a) => (a.ip().to_string(), a.port().to_string()),
        Err(_) => (endpoint.to_string(), String::new()),
    }
}

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

/// The TCP columns of one direction: retransmissions, RTT median, goodput, segments per frame.
fn tcp_dir(d: &DirReport) -> [String; 4] {
    let tcp = d.tcp.as_ref();
    [
        opt(tcp.map(|t| t.counts.retransmissions)),
        opt(tcp.and_then(|t| t.rtt.as_ref()).map(|r| r.median_ms)),
        opt(tcp.and_then(|t| t.goodput_bps)),
        opt(d.offload.as_ref().and_then(|o| o.segments_per_frame)),
    ]
}

fn row(r: &Report, f: &FlowReport) -> Vec<String> {
    let (ca, cp) = split(&f.client);
    let (sa, sp) = split(&f.server);
    let start = r.capture.first_timestamp_ns.unwrap_or(f.first_timestamp_ns);
    let [c_re, c_rtt, c_gp, c_spf] = tcp_dir(&f.c2s);
    let [s_re, s_rtt, s_gp, s_spf] = tcp_dir(&f.s2c);
    let findings: Vec<&str> = r
        .findings
        .iter()
        .filter(|x| x.flow == Some(f.id))
        .map(|x| x.id)
        .collect();
    vec![
        r.capture.path.clone(),
        f.id.to_string(),
        f.protocol.as_str().to_string(),
        ca,
        cp,
        sa,
        sp,
        opt(f.tunnel.as_ref().map(|t| t.path())),
        opt(f.tunnel.as_ref().map(|t| t.vni)),
        seconds(f.first_timestamp_ns.saturating_sub(start)).to_string(),
        f.duration_s.to_string(),
        f.frames.to_string(),
        f.bytes.to_string(),
        f.c2s.frames.to_string(),
        f.c2s.bytes.to_string(),
        f.c2s.payload_bytes.to_string(),
        f.s2c.frames.to_string(),
        f.s2c.bytes.to_string(),
        f.s2c.payload_bytes.to_string(),
        c_re,
        s_re,
        c_rtt,
        s_rtt,
        c_gp,
        s_gp,
        c_spf,
        s_spf,
        findings.join(" "),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_follows_rfc_4180() {
        assert_eq!(quoted("plain", ','), "plain");
        assert_eq!(quoted("a,b", ','), "\"a,b\"");
        assert_eq!(quoted("a,b", '\t'), "a,b");
        assert_eq!(quoted("tab\there", '\t'), "\"tab\there\"");
        assert_eq!(quoted("say \"hi\"", ','), "\"say \"\"hi\"\"\"");
        assert_eq!(quoted("two\nlines", ','), "\"two\nlines\"");
        assert_eq!(quoted("cr\r", '\t'), "\"cr\r\"");
        assert_eq!(quoted("", ','), "");
    }

    #[test]
    fn endpoints_split_into_address_and_port() {
        assert_eq!(split("10.0.0.1:443"), ("10.0.0.1".into(), "443".into()));
        assert_eq!(
            split("[2001:db8::1]:53"),
            ("2001:db8::1".into(), "53".into())
        );
    }
}
