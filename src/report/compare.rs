//! A/B comparison of two reports (`compare BEFORE AFTER`): the captures side by side, their
//! matched flows, and the findings that appeared or disappeared. Works on reports only, so it
//! costs nothing beyond the two analyses.

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::fmt::Write as _;

use comfy_table::CellAlignment;
use serde::Serialize;

use super::{DirReport, FlowReport, Report, Tool, SCHEMA_VERSION};
use crate::analysis::{Finding, Severity};
use crate::units::{duration, rate, thousands};

/// How flows of the two captures are paired.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Matching {
    /// Protocol and both endpoints (address and port), either way round.
    Endpoints,
    /// Protocol, both addresses and the server's port; the client's (ephemeral) port is ignored.
    IgnoreEphemeralPorts,
}

/// What a metric measures, for formatting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Unit {
    BitsPerSecond,
    /// A plain number (segments per frame, frames).
    Number,
    /// A share from 0 to 1, shown as a percentage; its change in percentage points.
    Share,
    Milliseconds,
    Seconds,
}

/// One metric, before and after.
#[derive(Debug, Clone, Serialize)]
pub struct Metric {
    /// Stable snake_case name (JSON consumers key on it).
    pub name: &'static str,
    pub unit: Unit,
    pub before: Option<f64>,
    pub after: Option<f64>,
    /// `after − before`.
    pub delta: Option<f64>,
    /// `delta / before`, when `before` is not 0 (not for shares, whose delta is the change).
    pub relative: Option<f64>,
}

impl Metric {
    fn new(name: &'static str, unit: Unit, before: Option<f64>, after: Option<f64>) -> Self {
        let delta = before.zip(after).map(|(b, a)| a - b);
        let relative = match (unit, before, delta) {
            (Unit::Share, _, _) => None,
            (_, Some(b), Some(d)) if b != 0.0 => Some(d / b),
            _ => None,
        };
        Metric {
            name,
            unit,
            before,
            after,
            delta,
            relative,
        }
    }

    fn label(&self) -> &'static str {
        match self.name {
            "duration" => "duration",
            "frames" => "frames",
            "throughput" => "TCP throughput",
            "goodput" => "TCP goodput",
            "segments_per_frame" => "segments per frame",
            "oversized_share" => "oversized frames",
            "gro_merge_rate" => "GRO model: mergeable pairs",
            "retransmission_rate" => "retransmission rate",
            "rtt_median" => "RTT median",
            "zero_window_time" => "zero-window time",
            other => other,
        }
    }
}

/// The GRO merge model's verdict for one side.
#[derive(Debug, Clone, Serialize)]
pub struct GroVerdict {
    /// `merges` (at least half the judged pairs would merge), `blocked`, `coalesced` (no pair
    /// to judge: most data frames hold several segments, merged by GRO/LRO or not yet cut by
    /// TSO/GSO), or `not-judged`.
    pub verdict: &'static str,
    pub merge_rate: Option<f64>,
    /// The rule that failed most often, when `blocked`.
    pub blocker: Option<String>,
}

/// Sums over the TCP directions that sent data (a flow, or a whole capture).
#[derive(Debug, Default, Clone, Copy)]
struct Sums {
    data_bytes: u64,
    new_bytes: u64,
    data_frames: u64,
    wire_segments: u64,
    oversized: u64,
    judged: u64,
    mergeable: u64,
    retransmissions: u64,
    seq_segments: u64,
    zero_window_s: f64,
}

impl Sums {
    fn add(&mut self, d: &DirReport) {
        if let Some(t) = &d.tcp {
            self.data_bytes += t.data_bytes;
            self.new_bytes += t.new_bytes;
            self.retransmissions += t.counts.retransmissions;
            self.seq_segments += t.seq_segments;
            self.zero_window_s += t.zero_window_time_s;
        }
        if let Some(o) = &d.offload {
            self.data_frames += o.data_frames;
            self.wire_segments += o.wire_segments;
            self.oversized += o.oversized_frames;
            self.judged += o.gro.judged_pairs;
            self.mergeable += o.gro.mergeable_pairs;
        }
    }
}

fn ratio(a: u64, b: u64) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// One side of a matched flow.
#[derive(Debug, Clone, Serialize)]
pub struct FlowSide {
    pub id: u32,
    pub client: String,
    pub server: String,
    pub tunnel: Option<String>,
    pub gro: Option<GroVerdict>,
}

/// Two flows that match, with the metrics of the direction that sent the most data.
#[derive(Debug, Clone, Serialize)]
pub struct FlowPair {
    pub protocol: &'static str,
    pub before: FlowSide,
    pub after: FlowSide,
    /// The direction the metrics are about: `c2s` or `s2c` (in BEFORE's roles).
    pub direction: &'static str,
    /// The same direction in AFTER's roles (they differ when the flows matched either way
    /// round).
    #[serde(skip)]
    pub after_direction: &'static str,
    pub metrics: Vec<Metric>,
}

/// A finding named in the comparison.
#[derive(Debug, Clone, Serialize)]
pub struct FindingRef {
    pub id: &'static str,
    pub severity: Severity,
    /// Its flow id in the capture it comes from (`None`: capture-wide).
    pub flow: Option<u32>,
    pub message: String,
}

impl FindingRef {
    fn new(f: &Finding) -> Self {
        FindingRef {
            id: f.id,
            severity: f.severity,
            flow: f.flow,
            message: f.message.clone(),
        }
    }
}

/// Findings by whether the change brought or removed them.
#[derive(Debug, Default, Serialize)]
pub struct FindingChanges {
    /// In AFTER only (ids in AFTER's numbering).
    pub appeared: Vec<FindingRef>,
    /// In BEFORE only (ids in BEFORE's numbering).
    pub disappeared: Vec<FindingRef>,
    /// In both (BEFORE's numbering).
    pub unchanged: Vec<FindingRef>,
}

/// The JSON document of `compare --format json` (docs/json-format.md).
#[derive(Debug, Serialize)]
pub struct Comparison {
    pub schema_version: u32,
    pub tool: Tool,
    pub before: String,
    pub after: String,
    pub matching: Matching,
    /// Capture-wide metrics (TCP sums over every direction that sent data).
    pub capture: Vec<Metric>,
    pub capture_gro: [GroVerdict; 2],
    /// Matched flows, largest (bytes in both captures) first.
    pub flows: Vec<FlowPair>,
    /// Flow ids without a match.
    pub unmatched_before: Vec<u32>,
    pub unmatched_after: Vec<u32>,
    pub findings: FindingChanges,
    /// One sentence per notable change, most important first.
    pub summary: Vec<String>,
}

/// A flow's direction by index: 0 = c2s, 1 = s2c.
fn dir_report(f: &FlowReport, side: usize) -> &DirReport {
    if side == 0 {
        &f.c2s
    } else {
        &f.s2c
    }
}

/// The name of direction `side` (0 = c2s).
fn direction(side: usize) -> &'static str {
    if side == 0 {
        "c2s"
    } else {
        "s2c"
    }
}

/// The key flows are matched on.
fn key(f: &FlowReport, m: Matching) -> (String, String, String) {
    let host = |ep: &str| ep.rsplit_once(':').map_or(ep, |(h, _)| h).to_string();
    match m {
        Matching::Endpoints => {
            // Either way round: a capture without the handshake may name the roles the other way.
            let (a, b) = if f.client <= f.server {
                (&f.client, &f.server)
            } else {
                (&f.server, &f.client)
            };
            (f.protocol.to_string(), a.clone(), b.clone())
        }
        Matching::IgnoreEphemeralPorts => {
            (f.protocol.to_string(), host(&f.client), f.server.clone())
        }
    }
}

/// Pairs flows with equal keys in order of appearance: (before index, after index).
fn pair_flows(b: &Report, a: &Report, m: Matching) -> Vec<(usize, usize)> {
    // AFTER's flows per key, in order of appearance: one hash lookup per BEFORE flow, so a
    // capture with many flows stays linear.
    let mut after: HashMap<_, VecDeque<usize>> = HashMap::new();
    for (j, f) in a.flows.iter().enumerate() {
        after.entry(key(f, m)).or_default().push_back(j);
    }
    b.flows
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            let j = after.get_mut(&key(f, m))?.pop_front()?;
            Some((i, j))
        })
        .collect()
}

fn gro_verdict(s: &Sums, blocker: Option<String>) -> GroVerdict {
    let merge_rate = ratio(s.mergeable, s.judged);
    let verdict = match merge_rate {
        Some(r) if r >= 0.5 => "merges",
        Some(_) => "blocked",
        // Pairs with an oversized frame are not judged (src/gro.rs): the frames themselves show
        // the coalescing (or the segmentation offload, on a sender).
        None if ratio(s.oversized, s.data_frames).is_some_and(|r| r >= 0.5) => "coalesced",
        None => "not-judged",
    };
    GroVerdict {
        verdict,
        merge_rate,
        blocker: (verdict == "blocked").then_some(blocker).flatten(),
    }
}

/// The blocker with the highest count over `dirs`.
fn top_blocker<'a>(dirs: impl Iterator<Item = &'a DirReport>) -> Option<String> {
    let mut counts: std::collections::BTreeMap<&str, u64> = Default::default();
    for d in dirs {
        if let Some(o) = &d.offload {
            for (b, n) in &o.gro.blockers {
                *counts.entry(b).or_default() += n;
            }
        }
    }
    counts
        .into_iter()
        .max_by_key(|(b, n)| (*n, std::cmp::Reverse(*b)))
        .map(|(b, _)| b.to_string())
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(v[n / 2]),
        _ => Some((v[n / 2 - 1] + v[n / 2]) / 2.0),
    }
}

fn dirs(r: &Report) -> impl Iterator<Item = &DirReport> {
    r.flows.iter().flat_map(|f| [&f.c2s, &f.s2c])
}

fn capture_metrics(r: &Report) -> (Vec<Option<f64>>, GroVerdict) {
    let mut s = Sums::default();
    dirs(r).for_each(|d| s.add(d));
    let dur = r.capture.duration_s.filter(|d| *d > 0.0);
    let per_s = |bytes: u64| dur.map(|d| bytes as f64 * 8.0 / d);
    let rtt = median(
        dirs(r)
            .filter_map(|d| d.tcp.as_ref()?.rtt.as_ref().map(|x| x.median_ms))
            .collect(),
    );
    let gro = gro_verdict(&s, top_blocker(dirs(r)));
    (
        vec![
            r.capture.duration_s,
            Some(r.capture.frames as f64),
            per_s(s.data_bytes),
            per_s(s.new_bytes),
            ratio(s.wire_segments, s.data_frames),
            ratio(s.oversized, s.data_frames),
            ratio(s.mergeable, s.judged),
            ratio(s.retransmissions, s.seq_segments),
            rtt,
            Some(s.zero_window_s),
        ],
        gro,
    )
}

/// The metrics of a capture, in `capture_metrics` order; a flow's are the same from the third
/// on ([`FLOW_METRICS`]).
const CAPTURE_METRICS: [(&str, Unit); 10] = [
    ("duration", Unit::Seconds),
    ("frames", Unit::Number),
    ("throughput", Unit::BitsPerSecond),
    ("goodput", Unit::BitsPerSecond),
    ("segments_per_frame", Unit::Number),
    ("oversized_share", Unit::Share),
    ("gro_merge_rate", Unit::Share),
    ("retransmission_rate", Unit::Share),
    ("rtt_median", Unit::Milliseconds),
    ("zero_window_time", Unit::Seconds),
];

/// The metrics of a flow, in `flow_metrics` order.
const FLOW_METRICS: &[(&str, Unit)] = CAPTURE_METRICS.split_at(2).1;

/// The metrics of one flow's direction `side` (0 = c2s), and its GRO verdict.
fn flow_metrics(f: &FlowReport, side: usize) -> (Vec<Option<f64>>, Option<GroVerdict>) {
    let d = dir_report(f, side);
    let mut s = Sums::default();
    s.add(d);
    let t = d.tcp.as_ref();
    let zero_window = f
        .c2s
        .tcp
        .as_ref()
        .map(|c| c.zero_window_time_s)
        .unwrap_or(0.0)
        + f.s2c
            .tcp
            .as_ref()
            .map(|c| c.zero_window_time_s)
            .unwrap_or(0.0);
    // UDP and other flows: bytes over the flow's duration.
    let throughput = t.and_then(|t| t.throughput_bps).or_else(|| {
        (t.is_none() && f.duration_s > 0.0).then(|| d.bytes as f64 * 8.0 / f.duration_s)
    });
    let gro = d
        .offload
        .as_ref()
        .map(|_| gro_verdict(&s, top_blocker(std::iter::once(d))));
    (
        vec![
            throughput,
            t.and_then(|t| t.goodput_bps),
            ratio(s.wire_segments, s.data_frames),
            ratio(s.oversized, s.data_frames),
            ratio(s.mergeable, s.judged),
            t.map(|t| t.retransmission_rate),
            t.and_then(|t| t.rtt.as_ref().map(|r| r.median_ms)),
            t.map(|_| zero_window),
        ],
        gro,
    )
}

fn metrics(names: &[(&'static str, Unit)], b: &[Option<f64>], a: &[Option<f64>]) -> Vec<Metric> {
    names
        .iter()
        .zip(b.iter().zip(a))
        .map(|(&(n, u), (&b, &a))| Metric::new(n, u, b, a))
        .collect()
}

impl Comparison {
    pub fn new(before: &Report, after: &Report, matching: Matching) -> Self {
        let (cb, gb) = capture_metrics(before);
        let (ca, ga) = capture_metrics(after);
        let pairs = pair_flows(before, after, matching);
        let mut flows: Vec<(u64, FlowPair)> = pairs
            .iter()
            .map(|&(i, j)| {
                let (fb, fa) = (&before.flows[i], &after.flows[j]);
                let payload = |f: &FlowReport, s: usize| dir_report(f, s).payload_bytes;
                // The bulk direction of the two together; roles are the same in matched flows
                // unless the keys matched either way round, so go by endpoint.
                let swapped = fb.client != fa.client && fb.client == fa.server;
                let other = |s: usize| if swapped { 1 - s } else { s };
                let side = if payload(fb, 1) + payload(fa, other(1))
                    > payload(fb, 0) + payload(fa, other(0))
                {
                    1
                } else {
                    0
                };
                let (mb, gb) = flow_metrics(fb, side);
                let (ma, ga) = flow_metrics(fa, other(side));
                let side_of = |f: &FlowReport, gro| FlowSide {
                    id: f.id,
                    client: f.client.clone(),
                    server: f.server.clone(),
                    tunnel: f.tunnel.as_ref().map(|t| format!("{} {}", t.kind, t.vni)),
                    gro,
                };
                (
                    fb.bytes + fa.bytes,
                    FlowPair {
                        protocol: fb.protocol,
                        before: side_of(fb, gb),
                        after: side_of(fa, ga),
                        direction: direction(side),
                        after_direction: direction(other(side)),
                        metrics: metrics(FLOW_METRICS, &mb, &ma),
                    },
                )
            })
            .collect();
        flows.sort_by_key(|(bytes, p)| (std::cmp::Reverse(*bytes), p.before.id));
        let flows: Vec<FlowPair> = flows.into_iter().map(|(_, p)| p).collect();

        let matched_b: BTreeSet<u32> = flows.iter().map(|p| p.before.id).collect();
        let matched_a: BTreeSet<u32> = flows.iter().map(|p| p.after.id).collect();
        let findings = finding_changes(before, after, &flows);
        let capture = metrics(&CAPTURE_METRICS, &cb, &ca);
        let summary = summary(&capture, flows.first(), &gb, &ga, &findings);
        Comparison {
            schema_version: SCHEMA_VERSION,
            tool: Tool::default(),
            before: before.capture.path.clone(),
            after: after.capture.path.clone(),
            matching,
            capture,
            capture_gro: [gb, ga],
            unmatched_before: before
                .flows
                .iter()
                .map(|f| f.id)
                .filter(|id| !matched_b.contains(id))
                .collect(),
            unmatched_after: after
                .flows
                .iter()
                .map(|f| f.id)
                .filter(|id| !matched_a.contains(id))
                .collect(),
            flows,
            findings,
            summary,
        }
    }
}

/// Findings keyed by id and flow, AFTER's flows renamed to BEFORE's through the matching.
fn finding_changes(before: &Report, after: &Report, flows: &[FlowPair]) -> FindingChanges {
    type Key = (&'static str, Option<u32>);
    let before_id: HashMap<u32, u32> = flows.iter().map(|p| (p.after.id, p.before.id)).collect();
    // AFTER's flow in BEFORE's numbering; `None` for a flow without a match.
    let to_before = |flow: Option<u32>| -> Option<Option<u32>> {
        match flow {
            None => Some(None),
            Some(a) => before_id.get(&a).map(|&b| Some(b)),
        }
    };
    let before_keys: BTreeSet<Key> = before.findings.iter().map(|f| (f.id, f.flow)).collect();
    let after_keys: BTreeSet<Key> = after
        .findings
        .iter()
        .filter_map(|f| to_before(f.flow).map(|fl| (f.id, fl)))
        .collect();
    let mut out = FindingChanges::default();
    let mut seen: BTreeSet<Key> = BTreeSet::new();
    for f in &after.findings {
        let k = to_before(f.flow).map(|fl| (f.id, fl));
        if k.is_none_or(|k| !before_keys.contains(&k)) && seen.insert((f.id, f.flow)) {
            out.appeared.push(FindingRef::new(f));
        }
    }
    seen.clear();
    for f in &before.findings {
        if !seen.insert((f.id, f.flow)) {
            continue;
        }
        if after_keys.contains(&(f.id, f.flow)) {
            out.unchanged.push(FindingRef::new(f));
        } else {
            out.disappeared.push(FindingRef::new(f));
        }
    }
    out
}

/// A relative change above this is worth a sentence.
const NOTABLE: f64 = 0.1;

fn summary(
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
    let get = |n: &str| scope.iter().find(|m| m.name == n);
    if let Some(m) = get("goodput").filter(|m| m.relative.is_some_and(|r| r.abs() >= NOTABLE)) {
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
        get("segments_per_frame").filter(|m| m.relative.is_some_and(|r| r.abs() >= NOTABLE))
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
    if gb.verdict != ga.verdict && ga.verdict == "blocked" {
        out.push(format!(
            "The GRO model now refuses to merge{}.",
            ga.blocker
                .as_ref()
                .map(|b| format!(" ({b})"))
                .unwrap_or_default()
        ));
    } else if gb.verdict == "blocked" && ga.verdict != "blocked" {
        out.push("The GRO model merges again.".into());
    }
    if let Some(m) = get("retransmission_rate")
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

/// A value in its unit, `-` when unknown.
fn value(unit: Unit, v: Option<f64>) -> String {
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

fn percent(r: Option<f64>) -> String {
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
    let mut t = super::text::table(width, 60);
    t.set_header(vec!["", "before", "after", "change"]);
    for m in rows {
        t.add_row(vec![
            m.label().to_string(),
            value(m.unit, m.before),
            value(m.unit, m.after),
            change(m),
        ]);
        if m.name == "gro_merge_rate" {
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
            ("blocked", Some(b)) => format!("blocked: {b}"),
            (v, _) => v.to_string(),
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
            p.protocol,
            p.before.client,
            p.before.server,
            if p.direction == "c2s" {
                "client"
            } else {
                "server"
            }
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
    if c.flows.len() > top {
        let _ = writeln!(
            s,
            "\n… {} more matched flows (--top N shows more; --format json lists all)",
            c.flows.len() - top
        );
    }
    let f = &c.findings;
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
    list(&mut s, "appeared", &f.appeared);
    list(&mut s, "disappeared", &f.disappeared);
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
    s
}
