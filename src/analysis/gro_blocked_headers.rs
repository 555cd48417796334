//! `gro-blocked-headers`: something other than the IP ID keeps Linux GRO from merging most
//! back-to-back segment pairs of a direction: a TTL, TOS or DF that changes, tunnel outer ports
//! that change per packet, TCP options that differ, …
//!
//! The pairs and the rules that failed come from the GRO model ([`crate::gro`]); the IP ID rule
//! has its own detector (`gro-blocked-ip-id`), and blockers that are the traffic's shape (ACKs and
//! windows moving with two-way data, loss, growing segments) are left out: they are not a device
//! to fix. Nor is PSH: it marks the end of the application's message, where GRO flushes by
//! design (net/ipv4/tcp_offload.c `tcp_gro_receive`), so PSH ending most trains is an info note,
//! never a warning. When several rules each refuse most pairs, the message names them all, in
//! the order the GRO model's fix plan gives.

use std::collections::BTreeMap;

use serde::Serialize;

use super::kit::{flow_filter, gro_dirs, most, psh_sentence, sender, share, GroBlame, SideDetails};
use super::{details, Detector, Finding, Identity, Severity, Summary};
use crate::flow::{Flow, Side};
use crate::gro::{Blocker, GroDir, Kernel};

/// Fewer judged pairs than this say nothing.
pub const MIN_PAIRS: u64 = 8;

pub struct GroBlockedHeaders {
    kernel: Kernel,
}

impl GroBlockedHeaders {
    pub fn new(kernel: Kernel) -> Self {
        GroBlockedHeaders { kernel }
    }
}

/// `details` of a `gro-blocked-headers` finding.
#[derive(Serialize)]
struct Details {
    #[serde(flatten)]
    side: SideDetails,
    /// The GRO rule generation applied (`--kernel`).
    kernel: &'static str,
    judged_pairs: u64,
    mergeable_pairs: u64,
    merge_rate: f64,
    /// The non-ID header rule that failed most often (or `psh` on an info finding about message
    /// boundaries), and its share of the pairs.
    top_blocker: &'static str,
    top_blocker_share: f64,
    /// Every rule a device or stack writes that refuses most pairs (the IP ID included), in the
    /// order they must go: the pairs merge only once all are fixed.
    must_fix: Vec<&'static str>,
    /// Every rule that failed, with its count.
    blockers: BTreeMap<&'static str, u64>,
}

impl Identity for GroBlockedHeaders {
    const ID: &'static str = "gro-blocked-headers";
    const SEVERITY: Severity = Severity::Warning;
}

impl Detector for GroBlockedHeaders {
    /// Judges the flows at the end: never called per frame.
    fn watches(&self) -> super::Watch {
        super::Watch::Nothing
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        gro_dirs(s.flows)
            .filter(|(_, _, g)| g.judged_pairs >= MIN_PAIRS)
            .filter_map(|(f, side, g)| self.finding(f, side, g))
            .collect()
    }
}

impl GroBlockedHeaders {
    /// A header rule other than the IP ID that refuses most pairs (warning, with every rule that
    /// must go with it), or else PSH ending most trains (info: the application's messages).
    fn finding(&self, f: &Flow, side: Side, g: &GroDir) -> Option<Finding> {
        let blame = GroBlame::of(g);
        let judged = g.judged_pairs;
        let blockers = g.top_blockers();
        let header = blockers
            .iter()
            .find(|(b, n)| !b.is_ip_id() && b.is_fixable() && most(*n, judged));
        let (top, n, severity, why, hint) = match header {
            Some(&(top, n)) => {
                let why = if blame.plan.len() > 1 {
                    blame.sentence()
                } else {
                    format!(
                        "`{}` blocks {:.0}% of them",
                        top.name(),
                        100.0 * share(n, judged)
                    )
                };
                // Warning only when fixing the headers would let most pairs merge: where PSH
                // (or the traffic) stops them anyway, the headers cost nothing.
                let severity = if most(blame.freed(), judged) {
                    Self::SEVERITY
                } else {
                    Severity::Info
                };
                (top, n, severity, why + &blame.caveat(), blame.hints())
            }
            None if blame.psh_most() => (
                Blocker::Psh,
                blame.psh(),
                Severity::Info,
                psh_sentence(blame.psh(), judged) + "; nothing on the network to change",
                Blocker::Psh.hint().to_string(),
            ),
            None => return None,
        };
        let top_share = share(n, judged);
        let rate = g.merge_rate().unwrap_or(0.0);
        Some(Finding {
            id: Self::ID,
            severity,
            flow: Some(f.id),
            frames: g.header_blocked.frames(),
            frames_total: g.header_blocked.total,
            message: format!(
                "Linux GRO ({}) would merge only {:.0}% of the {} back-to-back segment pairs \
                 from {}: {why}.",
                self.kernel.range(),
                100.0 * rate,
                judged,
                sender(f, side),
            ),
            hint,
            wireshark_filter: flow_filter(f, "tcp.len > 0"),
            details: details(&Details {
                side: SideDetails::of(f, side),
                kernel: self.kernel.name(),
                judged_pairs: judged,
                mergeable_pairs: g.mergeable_pairs,
                merge_rate: rate,
                top_blocker: top.name(),
                top_blocker_share: top_share,
                must_fix: blame.names(),
                blockers: blockers.iter().map(|(b, n)| (b.name(), *n)).collect(),
            }),
        })
    }
}
