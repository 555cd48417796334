//! The sentences that open a comparison: what changed, most important first.

use super::render::{percent, value};
use super::{FindingChanges, FlowPair, GroState, GroVerdict, Metric, MetricName};
use crate::analysis::Severity;

/// A relative change above this is worth a sentence.
const NOTABLE: f64 = 0.1;

pub(super) fn summary(
    capture: &[Metric],
    top: Option<&FlowPair>,
    gb: &GroVerdict,
    ga: &GroVerdict,
    findings: &FindingChanges,
) -> Vec<String> {
    let mut out = Vec::new();
    // The largest matched flow tells the story best (the capture's sums dilute it with
    // handshakes and idle flows); the capture speaks when no flow matched.
    let (scope, who) = match top {
        Some(p) => (p.metrics.as_slice(), format!("Flow {}'s", p.before.id)),
        None => (capture, "TCP".to_string()),
    };
    let get = |n: MetricName| scope.iter().find(|m| m.name == n);
    if let Some(m) =
        get(MetricName::Goodput).filter(|m| m.relative.is_some_and(|r| r.abs() >= NOTABLE))
    {
        out.push(format!(
            "{who} goodput {} from {} to {} ({}).",
            if m.delta.unwrap_or(0.0) < 0.0 {
                "fell"
            } else {
                "rose"
            },
            value(m.unit, m.before),
            value(m.unit, m.after),
            percent(m.relative)
        ));
    }
    if let Some(m) =
        get(MetricName::SegmentsPerFrame).filter(|m| m.relative.is_some_and(|r| r.abs() >= NOTABLE))
    {
        out.push(format!(
            "Segments per frame went from {} to {}: {}.",
            value(m.unit, m.before),
            value(m.unit, m.after),
            if m.delta.unwrap_or(0.0) < 0.0 {
                "coalescing (GRO/LRO) or segmentation offload (TSO/GSO) stopped or shrank"
            } else {
                "coalescing (GRO/LRO) or segmentation offload (TSO/GSO) started or grew"
            }
        ));
    }
    if gb.verdict != ga.verdict && ga.verdict == GroState::Blocked {
        out.push(format!(
            "The GRO model now refuses to merge{}.",
            ga.blocker
                .as_ref()
                .map(|b| format!(" ({b})"))
                .unwrap_or_default()
        ));
    } else if gb.verdict == GroState::Blocked && ga.verdict != GroState::Blocked {
        out.push("The GRO model merges again.".into());
    }
    if let Some(m) = get(MetricName::RetransmissionRate)
        .filter(|m| m.delta.is_some_and(|d| d.abs() >= 0.001) && m.before.zip(m.after).is_some())
    {
        out.push(format!(
            "Retransmission rate went from {} to {}.",
            value(m.unit, m.before),
            value(m.unit, m.after)
        ));
    }
    let changed = [
        ("New", &findings.appeared, " on flow"),
        ("Gone:", &findings.disappeared, " before, on flow"),
    ];
    for (what, list, on) in changed {
        for f in list.iter().filter(|f| f.severity > Severity::Info) {
            let flow = f.flow.map(|n| format!("{on} {n}")).unwrap_or_default();
            out.push(format!("{what} {} `{}`{flow}.", f.severity.as_str(), f.id));
        }
    }
    if out.is_empty() {
        out.push("No notable change.".into());
    }
    out
}
