//! `compare`'s text rendering: the summary, the capture table, the matched flows' tables and the
//! findings that came and went.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use comfy_table::CellAlignment;

use super::{
    Comparison, FindingChanges, FindingRef, FlowPair, GroState, GroVerdict, Matching, Metric,
    MetricName, Unit,
};
use crate::units::{duration, rate, thousands};

/// A value in its unit, `-` when unknown.
pub(super) fn value(unit: Unit, v: Option<f64>) -> String {
    let Some(v) = v.filter(|v| v.is_finite()) else {
        return "-".into();
    };
    match unit {
        Unit::BitsPerSecond => rate(v),
        Unit::Number if v.fract() == 0.0 && v.abs() < 1e15 => thousands(v.abs() as u64),
        Unit::Number => format!("{v:.2}"),
        Unit::Share => format!("{:.1}%", v * 100.0),
        Unit::Milliseconds => duration(v / 1e3),
        Unit::Seconds => duration(v),
    }
}

pub(super) fn percent(r: Option<f64>) -> String {
    r.map_or(String::new(), |r| format!("{:+.0}%", r * 100.0))
}

/// The change column: `+1.2 Mbit/s (+5%)`, `+3.0 pp`, or `-`.
fn change(m: &Metric) -> String {
    let Some(d) = m.delta.filter(|d| d.is_finite()) else {
        return "-".into();
    };
    if d == 0.0 {
        return "=".into();
    }
    let sign = if d > 0.0 { "+" } else { "-" };
    let abs = match m.unit {
        Unit::Share => return format!("{sign}{:.1} pp", d.abs() * 100.0),
        Unit::Number if d.fract() == 0.0 => value(m.unit, Some(d.abs())),
        Unit::Number => format!("{:.2}", d.abs()),
        u => value(u, Some(d.abs())),
    };
    match m.relative {
        Some(r) => format!("{sign}{abs} ({})", percent(Some(r))),
        None => format!("{sign}{abs}"),
    }
}

fn table(rows: &[Metric], extra: Option<[String; 2]>, width: Option<u16>) -> String {
    let mut t = crate::report::text::table(width, 60);
    t.set_header(vec!["", "before", "after", "change"]);
    for m in rows {
        t.add_row(vec![
            m.label().to_string(),
            value(m.unit, m.before),
            value(m.unit, m.after),
            change(m),
        ]);
        if m.name == MetricName::GroMergeRate {
            if let Some([b, a]) = &extra {
                t.add_row(vec![
                    "GRO model verdict".into(),
                    b.clone(),
                    a.clone(),
                    "".into(),
                ]);
            }
        }
    }
    for i in 1..4 {
        if let Some(c) = t.column_mut(i) {
            c.set_cell_alignment(CellAlignment::Right);
        }
    }
    t.to_string()
}

fn verdict_text(g: Option<&GroVerdict>) -> String {
    match g {
        None => "-".into(),
        Some(g) => match (g.verdict, &g.blocker) {
            (GroState::Blocked, Some(b)) => format!("blocked: {b}"),
            (v, _) => v.as_str().to_string(),
        },
    }
}

/// The text rendering: summary, capture table, the `top` largest matched flows, findings.
pub fn render(c: &Comparison, top: usize, width: Option<u16>) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "before  {}\nafter   {}\n", c.before, c.after);
    for line in &c.summary {
        let _ = writeln!(s, "  {line}");
    }
    let _ = writeln!(
        s,
        "\nCaptures (TCP sums over every direction that sent data)"
    );
    let [gb, ga] = &c.capture_gro;
    s.push_str(&table(
        &c.capture,
        Some([verdict_text(Some(gb)), verdict_text(Some(ga))]),
        width,
    ));
    s.push('\n');
    let how = match c.matching {
        Matching::Endpoints => "same endpoints",
        Matching::IgnoreEphemeralPorts => "same hosts and server port",
    };
    let _ = writeln!(
        s,
        "\nMatched flows ({how}): {}; only before: {}; only after: {}",
        c.flows.len(),
        c.unmatched_before.len(),
        c.unmatched_after.len()
    );
    for p in c.flows.iter().take(top) {
        flow_pair(&mut s, p, width);
    }
    if c.flows.len() > top {
        let _ = writeln!(
            s,
            "\n… {} more matched flows (--top N shows more; --format json lists all)",
            c.flows.len() - top
        );
    }
    findings(&mut s, &c.findings);
    s
}

/// One matched flow: who, and its metrics table.
fn flow_pair(s: &mut String, p: &FlowPair, width: Option<u16>) {
    let tunnel = p
        .before
        .tunnel
        .as_ref()
        .map(|t| format!(" ({t})"))
        .unwrap_or_default();
    let ids = if p.before.id == p.after.id {
        format!("flow {}", p.before.id)
    } else {
        format!("flow {} before, {} after", p.before.id, p.after.id)
    };
    let _ = writeln!(
        s,
        "\n{ids}: {} {} ↔ {}{tunnel}, data from the {}",
        p.protocol.as_str(),
        p.before.client,
        p.before.server,
        p.direction.sender()
    );
    let rows: Vec<Metric> = p
        .metrics
        .iter()
        .filter(|m| m.before.is_some() || m.after.is_some())
        .cloned()
        .collect();
    let extra = (p.before.gro.is_some() || p.after.gro.is_some()).then(|| {
        [
            verdict_text(p.before.gro.as_ref()),
            verdict_text(p.after.gro.as_ref()),
        ]
    });
    s.push_str(&table(&rows, extra, width));
    s.push('\n');
}

/// The findings that appeared, disappeared or stayed.
fn findings(s: &mut String, f: &FindingChanges) {
    let _ = writeln!(s, "\nFindings");
    let list = |s: &mut String, label: &str, v: &[FindingRef]| {
        for x in v {
            let flow = x.flow.map(|n| format!(" flow {n}")).unwrap_or_default();
            let _ = writeln!(
                s,
                "  {label:<12}{} {}{flow}: {}",
                x.severity.as_str(),
                x.id,
                x.message
            );
        }
    };
    list(s, "appeared", &f.appeared);
    list(s, "disappeared", &f.disappeared);
    if !f.unchanged.is_empty() {
        let ids: BTreeSet<&str> = f.unchanged.iter().map(|x| x.id).collect();
        let _ = writeln!(
            s,
            "  {:<12}{} ({})",
            "unchanged",
            f.unchanged.len(),
            ids.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    if f.appeared.is_empty() && f.disappeared.is_empty() && f.unchanged.is_empty() {
        let _ = writeln!(s, "  none in either capture");
    }
}
