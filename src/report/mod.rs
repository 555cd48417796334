//! Report: the analysis result as one serialisable document, and its exporters.
//!
//! This stage owns what users read. [`Report`] is the model ([`capture`], [`flow`], the
//! findings and the [`Verdict`]); each exporter is one file: [`text`] (terminal), [`json`]
//! (`--format json`), [`ndjson`] (`--format ndjson`: JSON lines for warehouses), [`csv`]
//! (`--format csv|tsv`), [`junit`] (`check --junit`), [`evidence`] (`--write-evidence`:
//! pcapng). [`check`] and [`compare`] build their own
//! documents from finished reports, each split into a model and its rendering. The JSON shape is
//! an interface (documented field by field in docs/json-format.md); it changes only with
//! [`SCHEMA_VERSION`].

pub mod capture;
pub mod check;
pub mod compare;
pub mod csv;
pub mod error;
pub mod evidence;
pub mod flow;
pub mod icmp;
pub mod json;
pub mod junit;
pub mod many;
pub mod ndjson;
pub mod peer;
pub mod quic;
pub mod select;
pub mod text;
mod text_findings;
mod text_table;
pub mod time;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::analysis::{Finding, Severity};
use crate::decode::Undecoded;

pub use capture::{CaptureReport, Totals};
pub use flow::{DirReport, FlowReport};
pub use time::{format_time, seconds};

pub const SCHEMA_VERSION: u32 = 1;

#[derive(Debug, Serialize)]
pub struct Report {
    pub schema_version: u32,
    pub tool: Tool,
    pub capture: CaptureReport,
    /// The flows this report covers when a selection was given (absent: every flow).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub selection: Option<select::SelectionReport>,
    pub flows: Vec<FlowReport>,
    /// Most severe first; among equals, the most important detector first.
    pub findings: Vec<Finding>,
    /// Findings a policy set to `ignore`, per id (absent when none were dropped).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub ignored: BTreeMap<&'static str, u64>,
    /// With `--peer`: the comparison with a second capture of the same path (docs/peer.md).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer: Option<peer::PeerReport>,
    pub verdict: Verdict,
}

/// How a capture came out: no finding, or the highest severity found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    /// No finding, but the capture is empty or most of it was not analysed: nothing to judge.
    #[serde(rename = "not-analysed")]
    NotAnalysed,
    Info,
    Warning,
    Error,
}

impl From<Severity> for Status {
    fn from(s: Severity) -> Status {
        match s {
            Severity::Info => Status::Info,
            Severity::Warning => Status::Warning,
            Severity::Error => Status::Error,
        }
    }
}

/// The conclusion in plain words: the most important finding and what to try next.
#[derive(Debug, Serialize)]
pub struct Verdict {
    /// `ok` (no finding), or the highest severity found: `info`, `warning`, `error`.
    pub status: Status,
    pub summary: String,
    pub next_step: Option<String>,
    /// Index into `findings` of the finding the summary is about.
    pub finding: Option<usize>,
    /// Findings per severity.
    pub counts: BTreeMap<&'static str, usize>,
    /// The other flows with the same finding (id and severity) as the headline: one problem on
    /// many flows is named once.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub same_on_flows: Vec<u32>,
}

/// Flows listed by number in the headline; more are counted.
const LISTED_FLOWS: usize = 8;

/// The other flows with the headline's finding, and the sentence that names them.
fn same_elsewhere(findings: &[Finding]) -> (Vec<u32>, String) {
    let Some(first) = findings.first() else {
        return (Vec::new(), String::new());
    };
    let flows: Vec<u32> = findings[1..]
        .iter()
        .filter(|f| f.id == first.id && f.severity == first.severity)
        .filter_map(|f| f.flow)
        .collect();
    if flows.is_empty() || first.flow.is_none() {
        return (Vec::new(), String::new());
    }
    let mut listed: Vec<String> = flows
        .iter()
        .take(LISTED_FLOWS)
        .map(u32::to_string)
        .collect();
    if flows.len() > LISTED_FLOWS {
        listed.push(format!("and {} more", flows.len() - LISTED_FLOWS));
    }
    let sentence = format!(
        " The same `{}` on {} more flow{}: {}.",
        first.id,
        flows.len(),
        if flows.len() == 1 { "" } else { "s" },
        listed.join(", ")
    );
    (flows, sentence)
}

/// What share of the capture the analysis could look at: "no problem found" means little when
/// the capture is empty or most of it was not analysed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Coverage {
    pub frames: u64,
    /// Frames not analysed, by reason (undecoded frames, and IP payloads we do not look into),
    /// largest first.
    pub not_analysed: Vec<(String, u64)>,
    /// Frames of QUIC flows without the endpoints' qlog: encrypted, so their loss and RTT are
    /// not measured.
    pub quic_unlogged: u64,
}

impl Coverage {
    /// From the frames read and the frames not analysed, by reason (in any order).
    pub fn new(frames: u64, mut not_analysed: Vec<(String, u64)>) -> Self {
        not_analysed.retain(|(_, n)| *n > 0);
        not_analysed.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Coverage {
            frames,
            not_analysed,
            quic_unlogged: 0,
        }
    }

    /// With `n` frames of QUIC flows that no qlog trace was joined with.
    pub fn with_quic_unlogged(mut self, n: u64) -> Self {
        self.quic_unlogged = n;
        self
    }

    /// When more than half of the analysed frames ([`MOSTLY_QUIC`]) are encrypted QUIC, what a
    /// "no problem found" covers and what it cannot: the checks ran, but QUIC's loss and RTT
    /// are inside its encryption (RFC 9000 §17; docs/quic.md).
    fn quic_scope(&self) -> Option<String> {
        let analysed = self.frames.saturating_sub(self.unanalysed());
        let n = self.quic_unlogged;
        if analysed == 0 || (n as f64) <= MOSTLY_QUIC * analysed as f64 {
            return None;
        }
        Some(format!(
            "no offload, tunnel or TCP issue (of QUIC, the handshakes only); but {n} of \
             {analysed} analysed frames ({:.0}%) are encrypted QUIC, whose loss and RTT the capture cannot \
             show",
            100.0 * n as f64 / analysed as f64
        ))
    }

    fn unanalysed(&self) -> u64 {
        self.not_analysed.iter().map(|(_, n)| n).sum()
    }

    /// The sentence that replaces "no problem found" when it would mislead.
    fn caveat(&self) -> Option<String> {
        if self.frames == 0 {
            return Some("Nothing to judge: the capture holds no frames.".into());
        }
        let n = self.unanalysed();
        if n * 2 <= self.frames {
            return None;
        }
        let reasons: Vec<String> = self
            .not_analysed
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect();
        Some(format!(
            "Nothing found in what could be analysed, but {n} of {} frames ({:.0}%) were not \
             analysed ({}).",
            self.frames,
            100.0 * n as f64 / self.frames as f64,
            reasons.join(", ")
        ))
    }
}

/// Share of the analysed frames above which a capture is "mostly QUIC" and its verdict says
/// that QUIC's loss and RTT were not checked: more than half, so that the sentence describes
/// most of what was captured.
pub const MOSTLY_QUIC: f64 = 0.5;

/// What to do when most of the capture is encrypted QUIC.
const QUIC_HINT: &str = "Give the endpoints' qlog (`--qlog FILE|DIR`: quic-go, quiche and aioquic \
    write it) to see QUIC's losses and RTT beside the capture; TLS key logs are not supported \
    yet.";

/// What to do when most of the capture was not analysed.
const NOT_ANALYSED_HINT: &str = "`other-ip` frames carry a protocol inside IP that is not decoded \
    (GRE, IP-in-IP, ESP, …); `unsupported-link-type-N` frames a link type that is not decoded: \
    capture on the inner interface, or on an interface with a supported link type (Ethernet, raw \
    IP, Linux cooked). `capture.decoded` and `capture.undecoded` in the JSON report count them.";

/// Added to that hint when encrypted 802.11 frames are among the frames not analysed.
const WLAN_PROTECTED_HINT: &str = " `wlan-protected` frames are encrypted 802.11 frames in a WLAN \
    controller's tunnel: capture where the controller forwards its stations' traffic decrypted.";

impl Coverage {
    /// What to do about the frames not analysed.
    fn hint(&self) -> String {
        let mut hint = NOT_ANALYSED_HINT.to_string();
        let protected = Undecoded::WlanProtected.name();
        if self.not_analysed.iter().any(|(k, _)| *k == protected) {
            hint.push_str(WLAN_PROTECTED_HINT);
        }
        hint
    }
}

impl Verdict {
    /// From findings already in report order (most important first), and how much of the
    /// capture was analysed.
    pub fn new(findings: &[Finding], coverage: &Coverage) -> Self {
        let mut counts = BTreeMap::new();
        for f in findings {
            *counts.entry(f.severity.as_str()).or_default() += 1;
        }
        let caveat = coverage.caveat();
        let next = |hint: Option<String>| match (&caveat, coverage.frames) {
            (Some(_), f) if f > 0 => Some(coverage.hint()),
            _ => hint,
        };
        let quic = coverage.quic_scope();
        let quic_hint = quic.as_ref().map(|_| QUIC_HINT.to_string());
        match findings.first() {
            None => Verdict {
                status: if caveat.is_some() {
                    Status::NotAnalysed
                } else {
                    Status::Ok
                },
                summary: caveat.clone().unwrap_or_else(|| match &quic {
                    Some(q) => format!("No problem found in what could be checked: {q}."),
                    None => {
                        "No problem found: no offload, tunnel or TCP issue in this capture.".into()
                    }
                }),
                next_step: next(quic_hint),
                finding: None,
                counts,
                same_on_flows: Vec::new(),
            },
            Some(f) if f.severity == Severity::Info => Verdict {
                status: if caveat.is_some() {
                    Status::NotAnalysed
                } else {
                    Status::Info
                },
                summary: match (&caveat, &quic) {
                    (Some(c), _) => format!("{c} Of note: {}", f.message),
                    (None, Some(q)) => format!(
                        "No problem found in what could be checked: {q}. Of note: {}",
                        f.message
                    ),
                    (None, None) => format!("No problem found. Of note: {}", f.message),
                },
                next_step: next(Some(match &quic_hint {
                    Some(h) => format!("{} {h}", f.hint),
                    None => f.hint.clone(),
                })),
                finding: Some(0),
                counts,
                same_on_flows: Vec::new(),
            },
            Some(f) => {
                let (same_on_flows, also) = same_elsewhere(findings);
                Verdict {
                    status: f.severity.into(),
                    summary: format!("{}{also}", f.message),
                    next_step: Some(f.hint.clone()),
                    finding: Some(0),
                    counts,
                    same_on_flows,
                }
            }
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Tool {
    pub name: &'static str,
    pub version: &'static str,
}

impl Default for Tool {
    fn default() -> Self {
        Tool {
            name: env!("CARGO_PKG_NAME"),
            version: env!("CARGO_PKG_VERSION"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coverage(frames: u64, not_analysed: &[(&str, u64)]) -> Coverage {
        Coverage {
            frames,
            not_analysed: not_analysed
                .iter()
                .map(|(k, n)| (k.to_string(), *n))
                .collect(),
            quic_unlogged: 0,
        }
    }

    #[test]
    fn no_problem_found_only_when_the_capture_was_analysed() {
        let v = Verdict::new(&[], &coverage(100, &[("other-ip", 50)]));
        assert_eq!(v.status, Status::Ok);
        assert!(v.summary.starts_with("No problem found"), "{}", v.summary);
        let v = Verdict::new(
            &[],
            &coverage(100, &[("other-ip", 40), ("link-header-truncated", 11)]),
        );
        assert_eq!(v.status, Status::NotAnalysed);
        assert!(
            v.summary.contains(
                "51 of 100 frames (51%) were not analysed (other-ip 40, link-header-truncated 11)"
            ),
            "{}",
            v.summary
        );
        let hint = v.next_step.expect("a hint");
        assert!(!hint.contains("wlan-protected"), "{hint}");
        // Encrypted 802.11 frames get their own advice.
        let v = Verdict::new(&[], &coverage(4, &[("wlan-protected", 3)]));
        let hint = v.next_step.expect("a hint");
        assert!(
            hint.contains("`wlan-protected` frames are encrypted"),
            "{hint}"
        );
        let v = Verdict::new(&[], &coverage(0, &[]));
        assert_eq!(v.status, Status::NotAnalysed);
        assert!(v.summary.contains("no frames"), "{}", v.summary);
    }

    #[test]
    fn mostly_encrypted_quic_is_no_all_clear() {
        // 60 of the 90 analysed frames are QUIC: more than half.
        let c = coverage(100, &[("other-ip", 10)]).with_quic_unlogged(60);
        let v = Verdict::new(&[], &c);
        assert_eq!(v.status, Status::Ok);
        assert_eq!(
            v.summary,
            "No problem found in what could be checked: no offload, tunnel or TCP issue (of \
             QUIC, the handshakes only); but 60 of 90 analysed frames (67%) are encrypted QUIC, \
             whose loss and RTT the capture cannot show."
        );
        assert!(v.next_step.is_some_and(|h| h.contains("--qlog")));
        let v = Verdict::new(&[finding("udp-gso-superframes", Severity::Info, 1)], &c);
        assert!(
            v.summary
                .starts_with("No problem found in what could be checked:")
                && v.summary
                    .ends_with("Of note: udp-gso-superframes on flow 1."),
            "{}",
            v.summary
        );
        // Half is not most: the plain all-clear.
        let c = coverage(100, &[("other-ip", 10)]).with_quic_unlogged(45);
        let v = Verdict::new(&[], &c);
        assert!(
            v.summary.starts_with("No problem found: no offload"),
            "{}",
            v.summary
        );
        assert_eq!(v.next_step, None);
    }

    fn finding(id: &'static str, severity: Severity, flow: u32) -> Finding {
        Finding {
            id,
            severity,
            flow: Some(flow),
            frames: vec![1],
            frames_total: 1,
            message: format!("{id} on flow {flow}."),
            hint: "hint".into(),
            wireshark_filter: None,
            details: Default::default(),
        }
    }

    #[test]
    fn one_problem_on_many_flows_is_named_once() {
        let w = Severity::Warning;
        let mut found: Vec<Finding> = (1..=10).map(|n| finding("zero-window", w, n)).collect();
        found.insert(3, finding("retransmissions", w, 4));
        found.push(finding("zero-window", Severity::Info, 11));
        let v = Verdict::new(&found, &coverage(100, &[]));
        assert_eq!(v.same_on_flows, (2..=10).collect::<Vec<u32>>());
        assert_eq!(
            v.summary,
            "zero-window on flow 1. The same `zero-window` on 9 more flows: 2, 3, 4, 5, 6, 7, 8, 9, \
             and 1 more."
        );
        found.insert(10, finding("zero-window", w, 12));
        let v = Verdict::new(&found, &coverage(100, &[]));
        assert!(
            v.summary
                .ends_with("on 10 more flows: 2, 3, 4, 5, 6, 7, 8, 9, and 2 more."),
            "{}",
            v.summary
        );
        // Alone, the headline is the finding's message as it is.
        let v = Verdict::new(&found[..1], &coverage(100, &[]));
        assert!(v.same_on_flows.is_empty());
        assert_eq!(v.summary, "zero-window on flow 1.");
    }
}
