//! A report narrowed to selected flows (`--flow`, `--host`, `--port`, `--time`, `--filter`;
//! docs/selection.md): their flows, their findings and those about the whole capture, and the
//! verdict of what is left. The capture summary stays the whole capture's.

use rustc_hash::FxHashSet;
use serde::Serialize;

use super::{Coverage, Report, Verdict};

/// What the report covers (JSON `selection`).
#[derive(Debug, Clone, Serialize)]
pub struct SelectionReport {
    /// The selection as command-line options (`--host 10.0.0.1 --filter 'port 443'`).
    pub options: String,
    pub flows_selected: usize,
    pub flows_total: usize,
}

/// Keeps the flows `ids` of `report` and the findings about them or about no flow, and judges
/// the verdict again; `coverage` is the capture's (a selection does not change what was read).
pub fn apply(report: &mut Report, ids: &FxHashSet<u32>, coverage: &Coverage, options: String) {
    let flows_total = report.flows.len();
    report.flows.retain(|f| ids.contains(&f.id));
    if let Some(p) = &mut report.peer {
        p.retain(|id| ids.contains(&id));
    }
    // A finding about the whole capture (drops, truncation, the connections together) concerns
    // every flow in it.
    report
        .findings
        .retain(|f| f.flow.is_none_or(|id| ids.contains(&id)));
    report.verdict = Verdict::new(&report.findings, coverage);
    report.selection = Some(SelectionReport {
        options,
        flows_selected: report.flows.len(),
        flows_total,
    });
}
