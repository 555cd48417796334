//! `compare --fail-on-regression[=PCT]`: whether AFTER is worse than BEFORE, for CI.
//!
//! Worse means, on flows matched between the two captures (unrelated traffic is never judged):
//! - a flow's goodput fell by more than PCT percent of BEFORE's;
//! - a flow's retransmission rate rose by more than PCT percent of BEFORE's and by at least one
//!   percentage point (the default `--retransmission-threshold`, below which `retransmissions`
//!   is only info: 0.01% → 0.02% is not a regression);
//! - a warning or an error AFTER has that BEFORE did not (docs/ci.md).

use super::{Comparison, MetricName};
use crate::analysis::Severity;

/// The smallest rise of a retransmission rate (a share) that can be a regression.
const MIN_RETRANSMISSION_RISE: f64 = 0.01;

/// Why AFTER cannot be judged against BEFORE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unjudged {
    /// The captures share no flow: a comparison of unrelated traffic.
    NoSharedFlows,
}

/// The regressions of AFTER against BEFORE above `pct` percent, one sentence each.
pub fn regressions(c: &Comparison, pct: f64) -> Result<Vec<String>, Unjudged> {
    if c.flows.is_empty() {
        return Err(Unjudged::NoSharedFlows);
    }
    let limit = pct / 100.0;
    let mut out = Vec::new();
    for p in &c.flows {
        let get = |n: MetricName| p.metrics.iter().find(|m| m.name == n);
        let id = p.before.id;
        if let Some(r) = get(MetricName::Goodput)
            .and_then(|m| m.relative)
            .filter(|r| *r < -limit)
        {
            out.push(format!(
                "flow {id}: goodput down {:.0}% (more than {pct}%)",
                -r * 100.0
            ));
        }
        if let Some(m) = get(MetricName::RetransmissionRate) {
            if let (Some(b), Some(a)) = (m.before, m.after) {
                if a - b >= MIN_RETRANSMISSION_RISE && a > b * (1.0 + limit) {
                    out.push(format!(
                        "flow {id}: retransmission rate up from {:.2}% to {:.2}%",
                        b * 100.0,
                        a * 100.0
                    ));
                }
            }
        }
    }
    for f in c
        .findings
        .appeared
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
    {
        let on = f
            .flow
            .map(|n| format!(" on AFTER's flow {n}"))
            .unwrap_or_default();
        out.push(format!("new {} `{}`{on}", f.severity.as_str(), f.id));
    }
    Ok(out)
}
