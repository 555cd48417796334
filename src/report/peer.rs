//! The report's `peer` section (`analyze A --peer B`, docs/json-format.md#peer): the two
//! captures' comparison per paired flow direction, and its one text line.

use serde::Serialize;

use crate::analysis::peer::MAX_RECORDS;
use crate::analysis::peer_chain::Chain;
use crate::analysis::peer_changes::Changes;
use crate::analysis::peer_match::{DirPair, PeerView, Point};
use crate::flow::FlowTable;
use crate::units::{plural, thousands};

/// JSON `peer`.
#[derive(Debug, Clone, Serialize)]
pub struct PeerReport {
    /// The peer capture, as reports name it.
    pub path: String,
    /// TCP and UDP packets recorded from each capture, and those past the bound.
    pub packets_indexed: u64,
    pub peer_packets_indexed: u64,
    pub not_indexed: u64,
    pub peer_not_indexed: u64,
    pub max_indexed: u64,
    /// Packets matched between the two captures, paired or not.
    pub matched: u64,
    /// Some flow direction of one capture was paired with one of the other.
    pub shared_traffic: bool,
    /// The peer's clock minus this capture's, from a connection seen both ways.
    pub offset_ms: Option<f64>,
    pub directions: Vec<PeerDirection>,
}

/// JSON `peer.directions[]`: one paired flow direction.
#[derive(Debug, Clone, Serialize)]
pub struct PeerDirection {
    pub flow: u32,
    pub peer_flow: u32,
    /// `"client"` / `"server"` of this capture's flow: who sent this direction's packets.
    pub sender: &'static str,
    pub upstream: &'static str,
    pub upstream_by: &'static str,
    pub judged: u64,
    pub both: u64,
    pub lost: u64,
    pub runs: u64,
    pub longest_run: u64,
    pub coalesced: u64,
    pub segmented: u64,
    /// The largest piece a cut frame arrived in (payload bytes; 0 when nothing was cut).
    pub segment_size: u32,
    pub changed: u64,
    pub only_downstream: u64,
    pub delay_median_ms: Option<f64>,
    pub delay_max_ms: Option<f64>,
    pub delay_before_loss_ms: Option<f64>,
    pub changes: Changes,
    /// With the endpoints' qlogs (`--qlog`): the direction's packets counted at each hop.
    pub qlog: Option<Chain>,
}

fn ms(ns: i64) -> f64 {
    ns as f64 / 1e6
}

/// `"this"` or `"peer"`.
pub fn point_name(p: Point) -> &'static str {
    match p {
        Point::This => "this",
        Point::Peer => "peer",
    }
}

impl PeerReport {
    pub fn new(v: &PeerView<'_>, flows: &FlowTable) -> Self {
        PeerReport {
            path: v.peer.name.clone(),
            packets_indexed: v.here.records.len() as u64,
            peer_packets_indexed: v.peer.records.len() as u64,
            not_indexed: v.here.not_indexed,
            peer_not_indexed: v.peer.not_indexed,
            max_indexed: MAX_RECORDS as u64,
            matched: v.cmp.matched,
            shared_traffic: !v.cmp.pairs.is_empty(),
            offset_ms: v.cmp.offset_ns.map(ms),
            directions: v
                .cmp
                .pairs
                .iter()
                .enumerate()
                .map(|(k, p)| direction(p, v.chains.get(k), flows))
                .collect(),
        }
    }

    /// Keeps the directions of the flows `keep` accepts (a selection).
    pub fn retain(&mut self, keep: impl Fn(u32) -> bool) {
        self.directions.retain(|d| keep(d.flow));
    }

    /// The comparison in one line of the text report's summary.
    pub fn line(&self) -> String {
        if !self.shared_traffic {
            return format!("{}: these captures share no traffic", self.path);
        }
        let (lost, judged) = self
            .directions
            .iter()
            .fold((0, 0), |(l, j), d| (l + d.lost, j + d.judged));
        let offset = self.offset_ms.map_or(
            "clock offset unknown (no connection seen both ways)".to_string(),
            |o| format!("clock offset {o:+.3} ms"),
        );
        let mut flows: Vec<u32> = self.directions.iter().map(|d| d.flow).collect();
        flows.dedup();
        let unindexed = self.not_indexed + self.peer_not_indexed;
        let cut = if unindexed > 0 {
            format!(
                " ({} packets past the bound of {} a capture not compared)",
                thousands(unindexed),
                thousands(self.max_indexed)
            )
        } else {
            String::new()
        };
        format!(
            "{}: {} paired, {offset}; {} of {} packets lost between the two points{}{cut}",
            self.path,
            plural(flows.len() as u64, "flow"),
            thousands(lost),
            thousands(judged),
            self.path_changes()
        )
    }

    /// What the path changed, over every direction: "; on the way: 2 routers, NAT, …".
    fn path_changes(&self) -> String {
        let c = || self.directions.iter().map(|d| &d.changes);
        let mut parts = Vec::new();
        if let Some(hops) = c().filter_map(|c| c.ttl_decrease).max().filter(|&h| h > 0) {
            parts.push(format!("TTL lowered by {hops}"));
        }
        if c().any(|c| c.nat.is_some()) {
            parts.push("NAT".to_string());
        }
        // Per direction a tunnel is added or removed; over both, one capture is inside it.
        if c().any(|c| c.tunnel.is_some()) {
            parts.push("tunnelled at one point only".to_string());
        }
        let sum = |f: fn(&Changes) -> u64| c().map(f).sum::<u64>();
        for (n, what) in [
            (sum(|c| c.ce_marked), "marked ECN CE"),
            (sum(|c| c.dscp_remarked), "DSCP re-marked"),
            (sum(|c| c.fragmented), "fragmented"),
        ] {
            if n > 0 {
                parts.push(format!("{} {what}", thousands(n)));
            }
        }
        let merged = self.directions.iter().map(|d| d.coalesced).sum::<u64>();
        let cut = self.directions.iter().map(|d| d.segmented).sum::<u64>();
        if merged > 0 {
            parts.push(format!("{} merged (GRO/LRO)", thousands(merged)));
        }
        if cut > 0 {
            parts.push(format!("{} cut (TSO/GSO)", thousands(cut)));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!("; on the way: {}", parts.join(", "))
        }
    }
}

fn direction(p: &DirPair, chain: Option<&Chain>, flows: &FlowTable) -> PeerDirection {
    let flow = flows.by_index(p.this.0 as usize);
    PeerDirection {
        flow: p.this.0 + 1,
        peer_flow: p.peer.0 + 1,
        sender: flow.map_or("sender", |f| f.role(p.this.1)),
        upstream: point_name(p.upstream),
        upstream_by: p.upstream_by,
        judged: p.judged,
        both: p.both,
        lost: p.lost.len() as u64,
        runs: p.runs,
        longest_run: p.longest_run,
        coalesced: p.coalesced,
        segmented: p.segmented,
        segment_size: p.segment_size,
        changed: p.changed,
        only_downstream: p.only_downstream,
        delay_median_ms: p.delay_ns.map(|d| ms(d.0)),
        delay_max_ms: p.delay_ns.map(|d| ms(d.1)),
        delay_before_loss_ms: p.delay_before_loss_ns.map(ms),
        changes: p.changes.clone(),
        qlog: chain.filter(|c| **c != Chain::default()).cloned(),
    }
}
