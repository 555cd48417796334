//! Text report: a capture summary, the flows table (largest first) and the findings.

use std::fmt::Write as _;

use comfy_table::{CellAlignment, ContentArrangement, LineStyle, Table, TableStyle};

/// Rules above, under the header and below; no lines between rows, so long tables stay readable.
const STYLE: TableStyle = TableStyle::new()
    .top_border(LineStyle::none().fill('─').junction('─'))
    .header_separator(LineStyle::none().fill('─').junction('─'))
    .bottom_border(LineStyle::none().fill('─').junction('─'));

use super::quic::{PacketReport, QuicReport};
use super::{FlowReport, Report, Status};
use crate::analysis::Severity;
use crate::flow::Protocol;
use crate::units::{bytes, duration, rate, thousands};

/// Options for the text rendering.
pub struct TextOptions {
    /// Flows shown in the table.
    pub top: usize,
    /// Terminal width, if known.
    pub width: Option<u16>,
}

pub fn render(r: &Report, opts: &TextOptions) -> String {
    let mut out = String::new();
    summary(&mut out, r);
    if !r.flows.is_empty() {
        flows(&mut out, r, opts);
        quic(&mut out, r, opts);
    }
    findings(&mut out, r);
    verdict(&mut out, r);
    out
}

/// The capture summary: file, format, frames, what they decoded to, flows, truncation.
fn summary(out: &mut String, r: &Report) {
    let c = &r.capture;
    let _ = writeln!(out, "{} {} — {}", r.tool.name, r.tool.version, c.path);
    let lts: Vec<String> = c
        .link_types
        .iter()
        .map(|l| format!("{} ({})", l.name, l.link_type))
        .collect();
    let _ = writeln!(
        out,
        "  capture    {}{}, {} interface{}, link type{} {}",
        c.format.unwrap_or("?"),
        if c.gzip { " (gzip)" } else { "" },
        c.interfaces,
        if c.interfaces == 1 { "" } else { "s" },
        if lts.len() == 1 { "" } else { "s" },
        lts.join(", ")
    );
    let when = match (&c.first_time, c.duration_s) {
        // RFC 3339 with nanoseconds in JSON; microseconds and "UTC" are easier to read here.
        (Some(t), Some(d)) => format!(
            ", from {} UTC for {}",
            t.get(..26).unwrap_or(t).replace('T', " "),
            duration(d)
        ),
        _ => String::new(),
    };
    let _ = writeln!(
        out,
        "  frames     {} ({} on the wire){when}",
        thousands(c.frames),
        bytes(c.bytes)
    );
    let counted = |m: &std::collections::BTreeMap<String, u64>| -> Vec<String> {
        m.iter()
            .map(|(k, v)| format!("{k} {}", thousands(*v)))
            .collect()
    };
    let decoded = counted(&c.decoded);
    let _ = writeln!(
        out,
        "  decoded    {}",
        if decoded.is_empty() {
            "nothing".to_string()
        } else {
            decoded.join(" · ")
        }
    );
    if !c.undecoded.is_empty() {
        let _ = writeln!(out, "  undecoded  {}", counted(&c.undecoded).join(" · "));
    }
    let tcp = r
        .flows
        .iter()
        .filter(|f| f.protocol == Protocol::Tcp)
        .count();
    let tunnelled = r.flows.iter().filter(|f| f.tunnel.is_some()).count();
    let _ = writeln!(
        out,
        "  flows      {} ({tcp} tcp, {} udp{})",
        thousands(r.flows.len() as u64),
        r.flows.len() - tcp,
        if tunnelled > 0 {
            format!("; {tunnelled} tunnelled")
        } else {
            String::new()
        }
    );
    if let Some(s) = &r.selection {
        let _ = writeln!(
            out,
            "  selected   {} of {} flows: {}",
            s.flows_selected, s.flows_total, s.options
        );
    }
    if let Some(t) = &c.truncation {
        let _ = writeln!(
            out,
            "  truncated  at byte offset {}: {}",
            thousands(t.offset),
            t.description
        );
    }
}

/// The flows table, largest first, `--top` of them.
fn flows(out: &mut String, r: &Report, opts: &TextOptions) {
    let mut order: Vec<&FlowReport> = r.flows.iter().collect();
    order.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.id.cmp(&b.id)));
    let shown = order.len().min(opts.top);
    let _ = writeln!(
        out,
        "\nFlows, largest first ({shown} of {}{})",
        order.len(),
        if shown < order.len() {
            "; --top N shows more"
        } else {
            ""
        }
    );
    out.push_str(&flows_table(&order[..shown], opts.width));
    out.push('\n');
}

/// The QUIC connections (flows with a QUIC view), largest first, as many as the flow table.
fn quic(out: &mut String, r: &Report, opts: &TextOptions) {
    let mut q: Vec<(&FlowReport, &QuicReport)> = r
        .flows
        .iter()
        .filter_map(|f| Some((f, f.quic.as_ref()?)))
        .collect();
    if q.is_empty() {
        return;
    }
    q.sort_by(|a, b| b.0.bytes.cmp(&a.0.bytes).then(a.0.id.cmp(&b.0.id)));
    let shown = q.len().min(opts.top);
    let _ = writeln!(out, "\nQUIC connections ({shown} of {})", q.len());
    let mut t = table(opts.width, 60);
    t.set_header(vec![
        "id",
        "version",
        "server name",
        "alpn",
        "c→s dgrams/pkts",
        "s→c dgrams/pkts",
        "1st rtt",
        "handshake",
        "paths",
    ]);
    let ms = |v: Option<f64>| v.map_or("-".into(), |m| duration(m / 1e3));
    for (f, q) in &q[..shown] {
        // Datagrams as well as typed packets: a flow of Version Negotiation or reserved-version
        // probes has datagrams and no typed packet.
        let pkts = |p: &PacketReport| {
            let typed = p.initial + p.zero_rtt + p.handshake + p.retry + p.one_rtt;
            format!("{}/{}", thousands(p.datagrams), thousands(typed))
        };
        t.add_row(vec![
            f.id.to_string(),
            q.version.clone(),
            q.sni.clone().unwrap_or_else(|| "-".into()),
            if q.alpn.is_empty() {
                "-".into()
            } else {
                q.alpn.join(",")
            },
            pkts(&q.c2s),
            pkts(&q.s2c),
            ms(q.initial_rtt_ms),
            ms(q.handshake_ms),
            q.paths.len().max(1).to_string(),
        ]);
    }
    for i in [0, 4, 5, 6, 7, 8] {
        if let Some(col) = t.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    out.push_str(&t.to_string());
    out.push('\n');
}

/// Every finding with its hint, frames and filter. Info findings repeat per flow
/// (oversized-frames on every coalesced flow): the first few of each id are shown, the rest
/// summarised.
fn findings(out: &mut String, r: &Report) {
    let _ = writeln!(out, "\nFindings");
    if r.findings.is_empty() {
        let _ = writeln!(out, "  none");
    }
    let mut shown: std::collections::BTreeMap<&str, usize> = Default::default();
    let mut hidden: std::collections::BTreeMap<&str, Vec<String>> = Default::default();
    for f in &r.findings {
        let n = shown.entry(f.id).or_default();
        *n += 1;
        if f.severity == Severity::Info && *n > MAX_INFO_PER_ID {
            hidden
                .entry(f.id)
                .or_default()
                .push(f.flow.map_or("-".into(), |id| id.to_string()));
            continue;
        }
        let scope = f.flow.map(|id| format!(" [flow {id}]")).unwrap_or_default();
        let _ = writeln!(
            out,
            "  {:<7}  {}{scope}\n           {}\n           hint: {}",
            f.severity.as_str(),
            f.id,
            f.message,
            f.hint
        );
        if !f.frames.is_empty() {
            let fr: Vec<String> = f.frames.iter().map(|n| n.to_string()).collect();
            let _ = writeln!(out, "           frames: {}", fr.join(", "));
        }
        if let Some(w) = &f.wireshark_filter {
            let _ = writeln!(out, "           wireshark: {w}");
        }
    }
    for (id, flows) in hidden {
        let _ = writeln!(
            out,
            "  info     {id}: {} more, on flows {} (all in --format json)",
            flows.len(),
            flows.join(", ")
        );
    }
}

/// Info findings of one id shown in full before the rest are summarised.
const MAX_INFO_PER_ID: usize = 3;

/// The closing block: the most important finding in plain words, what to try, what else.
fn verdict(out: &mut String, r: &Report) {
    let v = &r.verdict;
    let _ = writeln!(out, "\nVerdict");
    let label = match v.status {
        Status::Error | Status::Warning => "Problem",
        Status::NotAnalysed => "Unknown",
        Status::Ok | Status::Info => "OK",
    };
    let _ = writeln!(out, "  {label:<8} {}", v.summary);
    if let Some(n) = &v.next_step {
        let _ = writeln!(out, "  {:<8} {n}", "Try");
    }
    // The other problems, one entry per finding id, in report order.
    let mut rest: Vec<(&str, Vec<String>)> = Vec::new();
    for f in r
        .findings
        .iter()
        .skip(1)
        .filter(|f| f.severity > Severity::Info)
    {
        let flow = f.flow.map_or_else(String::new, |id| id.to_string());
        match rest.iter_mut().find(|(id, _)| *id == f.id) {
            Some((_, flows)) => flows.push(flow),
            None => rest.push((f.id, vec![flow])),
        }
    }
    let rest: Vec<String> = rest
        .into_iter()
        .map(|(id, flows)| match flows.as_slice() {
            [one] if one.is_empty() => id.to_string(),
            [one] => format!("{id} (flow {one})"),
            many => format!("{id} ({} flows)", many.len()),
        })
        .collect();
    if !rest.is_empty() {
        let _ = writeln!(out, "  {:<8} {}", "Also", rest.join(", "));
    }
}

/// A table in the report's style, laid out to `width` when it is at least `min_width`.
pub(super) fn table(width: Option<u16>, min_width: u16) -> Table {
    let mut t = Table::new();
    t.load_style(STYLE);
    // A terminal that reports a tiny width squeezes every column to one character (crates.md):
    // lay out dynamically only when there is room.
    match width {
        Some(w) if w >= min_width => {
            t.set_content_arrangement(ContentArrangement::Dynamic)
                .set_width(w);
        }
        _ => {
            t.set_content_arrangement(ContentArrangement::Disabled);
        }
    }
    t
}

fn flows_table(flows: &[&FlowReport], width: Option<u16>) -> String {
    let mut t = table(width, 80);
    t.set_header(vec![
        "id",
        "proto",
        "client",
        "server",
        "tunnel",
        "frames",
        "bytes",
        "c→s data",
        "s→c data",
        "max frame",
        "retx",
        "rtt p50",
        "goodput",
        "duration",
    ]);
    for f in flows {
        let tunnel = f
            .tunnel
            .as_ref()
            .map(|t| format!("{} {}", t.path(), t.vni))
            .unwrap_or_else(|| "-".into());
        // TCP columns speak for the direction that carried more data (the bulk direction).
        let (retx, rtt, goodput) = match (&f.c2s.tcp, &f.s2c.tcp) {
            (Some(c), Some(s)) => {
                let bulk = if s.data_bytes > c.data_bytes { s } else { c };
                (
                    thousands(c.counts.retransmissions + s.counts.retransmissions),
                    bulk.rtt
                        .as_ref()
                        .map_or("-".into(), |r| duration(r.median_ms / 1e3)),
                    bulk.goodput_bps.map_or("-".into(), rate),
                )
            }
            _ => ("-".into(), "-".into(), "-".into()),
        };
        t.add_row(vec![
            f.id.to_string(),
            f.protocol.as_str().to_string(),
            f.client.clone(),
            f.server.clone(),
            tunnel,
            thousands(f.frames),
            bytes(f.bytes),
            bytes(f.c2s.payload_bytes),
            bytes(f.s2c.payload_bytes),
            thousands(f.c2s.max_frame_len.max(f.s2c.max_frame_len) as u64),
            retx,
            rtt,
            goodput,
            duration(f.duration_s),
        ]);
    }
    for i in [0, 5, 6, 7, 8, 9, 10, 11, 12, 13] {
        if let Some(col) = t.column_mut(i) {
            col.set_cell_alignment(CellAlignment::Right);
        }
    }
    t.to_string()
}
