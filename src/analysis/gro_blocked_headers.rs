//! `gro-blocked-headers`: something other than the IP ID keeps Linux GRO from merging most
//! back-to-back segment pairs of a direction: a TTL, TOS or DF that changes, tunnel outer ports
//! that change per packet, TCP options or windows that differ, PSH on every segment, …
//!
//! The pairs and the rules that failed come from the GRO model ([`crate::gro`]); the IP ID rule
//! has its own detector (`gro-blocked-ip-id`), and blockers that are the traffic's shape (ACKs and
//! windows moving with two-way data, loss, growing segments) are left out: they are not a device
//! to fix.

use std::collections::BTreeMap;

use serde::Serialize;

use super::kit::{flow_filter, gro_dirs, sender, share, SideDetails};
use super::{details, Detector, Finding, Identity, Severity, Summary};
use crate::gro::Kernel;

/// Fewer judged pairs than this say nothing.
pub const MIN_PAIRS: u64 = 8;
/// The leading non-ID rule must block at least this share of the judged pairs ("most pairs").
pub const MIN_SHARE: f64 = 0.5;

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
    /// The non-ID, non-traffic-shape rule that failed most often, and its share of the pairs.
    top_blocker: &'static str,
    top_blocker_share: f64,
    /// Every rule that failed, with its count.
    blockers: BTreeMap<&'static str, u64>,
}

impl Identity for GroBlockedHeaders {
    const ID: &'static str = "gro-blocked-headers";
    const SEVERITY: Severity = Severity::Warning;
}

impl Detector for GroBlockedHeaders {
    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for (f, side, g) in gro_dirs(s.flows) {
            if g.judged_pairs < MIN_PAIRS {
                continue;
            }
            let blockers = g.top_blockers();
            let Some(&(top, n)) = blockers
                .iter()
                .find(|(b, _)| !b.is_ip_id() && !b.is_traffic_shape())
            else {
                continue;
            };
            let top_share = share(n, g.judged_pairs);
            if top_share < MIN_SHARE {
                continue;
            }
            let rate = g.merge_rate().unwrap_or(0.0);
            out.push(Finding {
                id: Self::ID,
                severity: Self::SEVERITY,
                flow: Some(f.id),
                frames: g.header_blocked.frames(),
                message: format!(
                    "Linux GRO ({}) would merge only {:.0}% of the {} back-to-back segment \
                     pairs from {}: `{}` blocks {:.0}% of them.",
                    self.kernel.range(),
                    100.0 * rate,
                    g.judged_pairs,
                    sender(f, side),
                    top.name(),
                    100.0 * top_share,
                ),
                hint: top.hint().into(),
                wireshark_filter: flow_filter(f, "tcp.len > 0"),
                details: details(&Details {
                    side: SideDetails::of(f, side),
                    kernel: self.kernel.name(),
                    judged_pairs: g.judged_pairs,
                    mergeable_pairs: g.mergeable_pairs,
                    merge_rate: rate,
                    top_blocker: top.name(),
                    top_blocker_share: top_share,
                    blockers: blockers.iter().map(|(b, n)| (b.name(), *n)).collect(),
                }),
            });
        }
        out
    }
}
