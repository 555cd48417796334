//! `path-loss`: with `--peer`, packets one capture point saw and the other, downstream, never
//! did: lost on the path between the two points. Its rules and their limits are in
//! [`super::peer_match`] and docs/detectors.md; this file turns the comparison into findings.
//!
//! Loss is judged only where it can be: in directions both captures hold (paired by the
//! packets they share), for packets due downstream while the downstream capture ran, and
//! never for bytes that arrived merged (GRO/LRO) or cut (TSO/GSO). Two captures that share no
//! packet say so and judge nothing.

use serde::Serialize;

use super::peer::Index;
use super::peer_match::{other, Comparison, DirPair, PeerView, Point, MIN_SHARED};
use super::{details, Detector, Finding, Identity, Severity, Summary, MAX_EVIDENCE};
use crate::flow::FlowTable;
use crate::units::{plural, thousands};

/// Fewer lost packets than this in a direction is not a finding (a capture drop, a race at the
/// capture's edge).
pub const MIN_LOST: usize = 3;
/// Loss below this share of the judged packets is reported at info.
pub const WARN_SHARE: f64 = 0.005;
/// From this share on it is an error: TCP throughput falls with the square root of the loss
/// rate (Mathis et al., 1997), and 5% cuts it to a fraction.
pub const ERROR_SHARE: f64 = 0.05;

/// The comparison itself runs once the capture is read (the pipeline indexes both captures);
/// this detector judges it.
pub struct PathLoss;

impl Identity for PathLoss {
    const ID: &'static str = "path-loss";
    const SEVERITY: Severity = Severity::Warning;
}

/// `details` of a `path-loss` finding.
#[derive(Serialize, Default)]
struct Details {
    peer: String,
    /// The flow's id in the peer capture, and the sender's role.
    peer_flow: Option<u32>,
    sender: &'static str,
    /// "this" or "peer": the capture nearer the sender, and how that was told
    /// ("clock", "ttl", "assumed").
    upstream: &'static str,
    upstream_by: &'static str,
    seen_at_both: u64,
    judged: u64,
    lost: u64,
    loss_rate: f64,
    runs: u64,
    longest_run: u64,
    coalesced: u64,
    segmented: u64,
    changed: u64,
    only_downstream: u64,
    /// Peer clock minus this clock, and the one-way delay (median, max), when known.
    offset_ms: Option<f64>,
    delay_median_ms: Option<f64>,
    delay_max_ms: Option<f64>,
    /// Median one-way delay of the matched packets just before each run of losses, and the
    /// pattern the losses make: "queue-overflow" (the delay had grown before them: tail drops
    /// at a filling queue), "bursts" (runs of several), "scattered".
    delay_before_loss_ms: Option<f64>,
    pattern: Option<&'static str>,
    /// Frame numbers in the upstream capture of the lost packets, and in the downstream one of
    /// the packet before each run of losses (the first 64 of each).
    lost_frames_upstream: Vec<u64>,
    frames_before_runs_downstream: Vec<u64>,
    /// Directions compared, and packets matched in all (on the summary finding).
    directions: usize,
    matched: u64,
}

impl Detector for PathLoss {
    /// Judges the flows at the end: never called per frame.
    fn watches(&self) -> super::Watch {
        super::Watch::Nothing
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let Some(PeerView {
            here, peer, cmp, ..
        }) = s.peer
        else {
            return Vec::new();
        };
        if cmp.pairs.is_empty() {
            return vec![unrelated(here, peer)];
        }
        let mut out: Vec<Finding> = cmp
            .pairs
            .iter()
            .filter(|p| is_loss(p))
            .map(|p| loss(p, cmp, peer, s.flows))
            .collect();
        if out.is_empty() {
            out.push(summary(cmp, peer));
        }
        out
    }
}

/// Whether a direction lost packets between the two points: enough of them; at most half of
/// those it judges (more than half missing is what two captures of different traffic
/// that share some packets look like — a replayed file, a templated test — and silence is
/// better than that guess); and a downstream capture that does not hold as many packets of
/// its own that the upstream one lacks (captures that disagree both ways are different
/// traffic, or a rewriting hop, not loss); and at least [`MIN_SHARED`] packets of the direction
/// itself seen at both points (a direction paired only through its other one, whose bytes
/// "arrived" in frames of another flow that happens to use the same sequence numbers, is a
/// guess: templated test captures do that; real GRO-merged traffic still matches its single
/// segments and resends, 30 and more in every lab run).
fn is_loss(p: &DirPair) -> bool {
    let lost = p.lost.len() as u64;
    p.both >= u64::from(MIN_SHARED)
        && lost >= MIN_LOST as u64
        && share(p) >= WARN_SHARE
        && 2 * lost <= p.judged
        && p.only_downstream < lost
}

fn share(p: &DirPair) -> f64 {
    p.lost.len() as f64 / p.judged.max(1) as f64
}

fn ms(ns: i64) -> f64 {
    ns as f64 / 1e6
}

fn name(point: Point, peer: &Index) -> String {
    match point {
        Point::This => "this capture".to_string(),
        Point::Peer => peer.name.clone(),
    }
}

/// A direction that lost packets between the two points.
fn loss(p: &DirPair, cmp: &Comparison, peer: &Index, flows: &FlowTable) -> Finding {
    let flow = flows.by_index(p.this.0 as usize);
    let sender = flow.map_or("sender", |f| f.role(p.this.1));
    let receiver = flow.map_or("receiver", |f| f.role(p.this.1.other()));
    let up = name(p.upstream, peer);
    let down = name(other(p.upstream), peer);
    let rate = share(p);
    let (first, last) = (p.lost[0].1, p.lost[p.lost.len() - 1].1);
    let delay = p.delay_ns.map_or(String::new(), |(m, x)| {
        format!(
            " One-way delay between the points: median {:.2} ms, at most {:.2} ms (clocks {:+.3} ms apart).",
            ms(m),
            ms(x),
            ms(cmp.offset_ns.unwrap_or(0))
        )
    });
    let pat = pattern(p);
    let grew = match (pat, p.delay_before_loss_ns, p.delay_ns) {
        (QUEUE, Some(b), Some((m, _))) => format!(
            " Before the losses the one-way delay had grown to {:.2} ms (median {:.2} ms): a queue between the points filled, then dropped.",
            ms(b),
            ms(m)
        ),
        ("bursts", _, _) => " Most losses came in runs of 3 or more: whole sends lost at once (one GSO \
                             or TSO burst is up to 64 packets) or a shallow buffer overflowing."
            .to_string(),
        _ => String::new(),
    };
    let message = format!(
        "{} of the {} packets the {sender} sent to the {receiver} ({:.1}%) were seen in {up} and never in {down}: lost on the path between the two capture points, in {} (longest {}), over {:.3} s.{delay}{grew}",
        thousands(p.lost.len() as u64),
        thousands(p.judged),
        rate * 100.0,
        plural(p.runs, "run"),
        p.longest_run,
        ms(last.saturating_sub(first)) / 1000.0,
    );
    let here: Vec<u64> = match p.upstream {
        Point::This => p.lost.iter().map(|l| l.0).collect(),
        Point::Peer => p.before_runs.clone(),
    };
    let d = Details {
        peer: peer.name.clone(),
        peer_flow: Some(p.peer.0 + 1),
        sender,
        lost: p.lost.len() as u64,
        loss_rate: rate,
        lost_frames_upstream: p.lost.iter().take(64).map(|l| l.0).collect(),
        delay_before_loss_ms: p.delay_before_loss_ns.map(ms),
        pattern: Some(pat),
        frames_before_runs_downstream: p.before_runs.iter().take(64).copied().collect(),
        ..pair_details(p, cmp, peer)
    };
    Finding {
        id: PathLoss::ID,
        severity: if rate >= ERROR_SHARE {
            Severity::Error
        } else {
            PathLoss::SEVERITY
        },
        flow: Some(p.this.0 + 1),
        frames: here.iter().take(MAX_EVIDENCE).copied().collect(),
        frames_total: here.len() as u64,
        message,
        hint: "Read the drop counters of what lies between the two capture points: `ip -s link` \
               and `ethtool -S` on the hosts, `tc -s qdisc`, nftables/iptables rule counters, \
               the switches' and routers' interface discards. Losses in long runs after the \
               one-way delay grew are a queue overflowing at a bottleneck; lone losses spread \
               over time are a lossy link."
            .to_string(),
        wireshark_filter: flow.map(|f| f.wireshark_filter()),
        details: details(&d),
    }
}

const QUEUE: &str = "queue-overflow";

/// A queue that filled before it dropped: the delay just before the losses at least twice the
/// median and 1 ms above it (a queue of one full-size packet at 10 Mbit/s; our choice, not a
/// standard's). Else runs of at least 3 losses, most of them: bursts (one send lost whole, a
/// burst that overflowed a shallow buffer). Else scattered (a lossy link, a random drop).
fn pattern(p: &DirPair) -> &'static str {
    if let (Some(b), Some((m, _))) = (p.delay_before_loss_ns, p.delay_ns) {
        if b >= m.saturating_mul(2) && b >= m.saturating_add(1_000_000) {
            return QUEUE;
        }
    }
    let lost = p.lost.len() as u64;
    if p.longest_run >= 3 && p.runs * 2 <= lost {
        "bursts"
    } else {
        "scattered"
    }
}

/// The details every direction shares.
fn pair_details(p: &DirPair, cmp: &Comparison, peer: &Index) -> Details {
    Details {
        peer: peer.name.clone(),
        upstream: match p.upstream {
            Point::This => "this",
            Point::Peer => "peer",
        },
        upstream_by: p.upstream_by,
        seen_at_both: p.both,
        judged: p.judged,
        runs: p.runs,
        longest_run: p.longest_run,
        coalesced: p.coalesced,
        segmented: p.segmented,
        changed: p.changed,
        only_downstream: p.only_downstream,
        offset_ms: cmp.offset_ns.map(ms),
        delay_median_ms: p.delay_ns.map(|d| ms(d.0)),
        delay_max_ms: p.delay_ns.map(|d| ms(d.1)),
        directions: cmp.pairs.len(),
        matched: cmp.matched,
        ..Details::default()
    }
}

/// Info: the captures were compared and nothing was lost between them (or too little).
fn summary(cmp: &Comparison, peer: &Index) -> Finding {
    let both: u64 = cmp.pairs.iter().map(|p| p.both).sum();
    let lost: usize = cmp.pairs.iter().map(|p| p.lost.len()).sum();
    let merged: u64 = cmp.pairs.iter().map(|p| p.coalesced + p.segmented).sum();
    let offset = cmp
        .offset_ns
        .map_or("unknown (no connection seen both ways)".to_string(), |o| {
            format!("{:+.3} ms", ms(o))
        });
    let d = Details {
        peer: peer.name.clone(),
        seen_at_both: both,
        coalesced: cmp.pairs.iter().map(|p| p.coalesced).sum(),
        segmented: cmp.pairs.iter().map(|p| p.segmented).sum(),
        lost: lost as u64,
        offset_ms: cmp.offset_ns.map(ms),
        directions: cmp.pairs.len(),
        matched: cmp.matched,
        ..Details::default()
    };
    info(
        format!(
            "Compared with {}: {} packets in {} seen at both points, {} seen upstream only (not judged as loss: too few, or too many to be the same traffic), {} merged or cut by offloads on the way; the peer's clock is {offset} from this one's.",
            peer.name,
            thousands(both),
            plural(cmp.pairs.len() as u64, "flow direction"),
            thousands(lost as u64),
            thousands(merged),
        ),
        "Nothing to do: the path between the two capture points delivered what it was given.",
        &d,
    )
}

/// Info: the two captures share no packet, so nothing can be compared.
fn unrelated(here: &Index, peer: &Index) -> Finding {
    let d = Details {
        peer: peer.name.clone(),
        ..Details::default()
    };
    info(
        format!(
            "These captures share no traffic: none of the {} TCP/UDP packets of this capture matches enough of the {} of {} to pair a flow, so no loss between them is judged.",
            thousands(here.records.len() as u64),
            thousands(peer.records.len() as u64),
            peer.name
        ),
        "Give two captures of the same traffic taken at the same time at two points of its path \
         (sender and receiver, or both sides of a router, NAT or tunnel endpoint).",
        &d,
    )
}

/// An info finding about the whole comparison.
fn info(message: String, hint: &str, d: &Details) -> Finding {
    Finding {
        id: PathLoss::ID,
        severity: Severity::Info,
        flow: None,
        frames: Vec::new(),
        frames_total: 0,
        message,
        hint: hint.to_string(),
        wireshark_filter: None,
        details: details(d),
    }
}
