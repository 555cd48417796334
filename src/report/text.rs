//! Text report: a capture summary, the flows table (largest first) and the findings.

use std::fmt::Write as _;

use anstyle::Style;
use comfy_table::{ContentArrangement, LineStyle, Table, TableStyle};

/// Rules above, under the header and below; no lines between rows, so long tables stay readable.
pub(super) const STYLE: TableStyle = TableStyle::new()
    .top_border(LineStyle::none().fill('─').junction('─'))
    .header_separator(LineStyle::none().fill('─').junction('─'))
    .bottom_border(LineStyle::none().fill('─').junction('─'));

use super::quic::QuicReport;
use super::text_findings::{findings, paint, severity_style, wrap, wrap_styled, INDENT};
use super::text_table::{flows_table, quic_table};
use super::{FlowReport, Report, Status};
use crate::analysis::Severity;
use crate::flow::Protocol;
use crate::units::{self, bytes, duration, plural, thousands};

/// Options for the text rendering.
pub struct TextOptions {
    /// Flows shown in the table.
    pub top: usize,
    /// Width to lay out to: tables leave out columns and text wraps to it. None (a pipe): no
    /// wrapping, every column.
    pub width: Option<u16>,
    /// Severities in colour (ANSI escapes).
    pub color: bool,
    /// Findings below this severity are left out (counted in one line).
    pub min_severity: Severity,
}

pub fn render(r: &Report, opts: &TextOptions) -> String {
    let mut out = String::new();
    summary(&mut out, r, opts.width);
    if !r.flows.is_empty() {
        flows(&mut out, r, opts);
        quic(&mut out, r, opts);
    }
    findings(&mut out, r, opts);
    verdict(&mut out, r, opts);
    out
}

/// The capture summary: file, format, frames, what they decoded to, flows, truncation.
fn summary(out: &mut String, r: &Report, width: Option<u16>) {
    let c = &r.capture;
    let _ = writeln!(out, "{} {} — {}", r.tool.name, r.tool.version, c.path);
    let mut line = |label: &str, text: String| {
        out.push_str(&wrap(&text, &format!("  {label:<10} "), 13, width));
    };
    let lts: Vec<String> = c
        .link_types
        .iter()
        .map(|l| format!("{} ({})", l.name, l.link_type))
        .collect();
    line(
        "capture",
        format!(
            "{}{}, {}, link type{} {}",
            c.format.unwrap_or("?"),
            if c.gzip { " (gzip)" } else { "" },
            plural(c.interfaces as u64, "interface"),
            units::s(lts.len() as u64),
            lts.join(", ")
        ),
    );
    let when = match (&c.first_time, c.duration_s) {
        // RFC 3339 with nanoseconds in JSON; microseconds and "UTC" are easier to read here.
        (Some(t), Some(d)) => format!(
            ", from {} UTC for {}{}",
            t.get(..26).unwrap_or(t).replace('T', " "),
            duration(d),
            c.time_parts_note()
                .map_or(String::new(), |n| format!(" ({n})"))
        ),
        _ => String::new(),
    };
    line(
        "frames",
        format!(
            "{} ({} on the wire){when}",
            thousands(c.frames),
            bytes(c.bytes)
        ),
    );
    let counted = |m: &std::collections::BTreeMap<String, u64>| -> String {
        let v: Vec<String> = m
            .iter()
            .map(|(k, v)| format!("{k} {}", thousands(*v)))
            .collect();
        v.join(" · ")
    };
    let decoded = counted(&c.decoded);
    line(
        "decoded",
        if decoded.is_empty() {
            "nothing".to_string()
        } else {
            decoded
        },
    );
    if !c.undecoded.is_empty() {
        line("undecoded", counted(&c.undecoded));
    }
    let tcp = r
        .flows
        .iter()
        .filter(|f| f.protocol == Protocol::Tcp)
        .count();
    let tunnelled = r.flows.iter().filter(|f| f.tunnel.is_some()).count();
    line(
        "flows",
        format!(
            "{} ({tcp} tcp, {} udp{})",
            thousands(r.flows.len() as u64),
            r.flows.len() - tcp,
            if tunnelled > 0 {
                format!("; {tunnelled} tunnelled")
            } else {
                String::new()
            }
        ),
    );
    if let Some(s) = &r.selection {
        line(
            "selected",
            format!(
                "{} of {} flows: {}",
                s.flows_selected, s.flows_total, s.options
            ),
        );
    }
    if let Some(p) = &r.peer {
        line("peer", p.line());
    }
    if let Some(t) = &c.truncation {
        line(
            "truncated",
            format!("at byte offset {}: {}", thousands(t.offset), t.description),
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
    out.push_str(&quic_table(&q[..shown], opts.width));
}

/// The closing block: the most important finding in plain words, what to try, what else.
fn verdict(out: &mut String, r: &Report, opts: &TextOptions) {
    let v = &r.verdict;
    let _ = writeln!(out, "\nVerdict");
    let label = match v.status {
        Status::Error | Status::Warning => "Problem",
        Status::NotAnalysed => "Unknown",
        Status::Ok | Status::Info => "OK",
    };
    let style = match v.status {
        Status::Error => severity_style(Severity::Error),
        Status::Warning => severity_style(Severity::Warning),
        Status::NotAnalysed | Status::Ok | Status::Info => Style::new().bold(),
    };
    let lead = format!("  {} ", paint(label, style, 8, opts.color));
    out.push_str(&wrap_styled(&v.summary, &lead, INDENT, opts.width));
    if let Some(n) = &v.next_step {
        out.push_str(&wrap(n, &format!("  {:<8} ", "Try"), INDENT, opts.width));
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
        let also = format!("  {:<8} ", "Also");
        out.push_str(&wrap(&rest.join(", "), &also, INDENT, opts.width));
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
