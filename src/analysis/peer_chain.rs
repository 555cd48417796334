//! Two captures of one path and the endpoints' qlogs: where each lost QUIC packet died, hop by
//! hop. Per paired direction, four counts of the same packets — the sender's qlog (sent), the
//! upstream capture, the downstream capture, the receiver's qlog (received) — so that each
//! difference lands on one stretch: the sender's host before the first tap (`sender-drop`),
//! the path between the taps (`path-loss`), the receiver's host after the second tap
//! (`receiver-drop`). The counts are the qlog join's ([`super::qlog_join`]), so the rules on
//! what a join covers (the time both records ran) are its.

use serde::Serialize;

use super::peer::Index;
use super::peer_match::{Comparison, DirPair, Point};
use super::qlog_join::{joins, QlogJoin};
use crate::flow::{FlowTable, Side};
use crate::qlog::QlogTrace;

/// One paired direction's counts along its path (absent where no qlog or capture says).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Chain {
    /// The sender's qlog (file), the packets it logged as sent, and the packets of them the
    /// upstream capture shows leaving the sender, over the span both records cover.
    pub sender_qlog: Option<String>,
    pub qlog_sent: Option<u64>,
    pub upstream_sent: Option<u64>,
    /// The receiver's qlog, the packets the downstream capture shows arriving from the
    /// sender, and those the receiver logged as received.
    pub receiver_qlog: Option<String>,
    pub downstream_arrived: Option<u64>,
    pub qlog_received: Option<u64>,
}

impl Chain {
    /// Packets the sender logged as sent that never reached the upstream capture.
    pub fn sender_dropped(&self) -> Option<(u64, u64)> {
        let (s, u) = (self.qlog_sent?, self.upstream_sent?);
        Some((s.saturating_sub(u), s))
    }

    /// Packets the downstream capture saw arrive that the receiver never logged as received.
    pub fn receiver_dropped(&self) -> Option<(u64, u64)> {
        let (d, r) = (self.downstream_arrived?, self.qlog_received?);
        Some((d.saturating_sub(r), d))
    }
}

/// The chains of every paired direction, in the comparison's order; `traces` are the qlogs,
/// `flows` this capture's flow table, `here_end` its last timestamp.
pub fn chains(
    cmp: &Comparison,
    peer: &Index,
    flows: &FlowTable,
    traces: &[QlogTrace],
    here_end: i64,
) -> Vec<Chain> {
    cmp.pairs
        .iter()
        .map(|p| {
            if traces.is_empty() {
                return Chain::default();
            }
            let here = flows
                .by_index(p.this.0 as usize)
                .map_or_else(Vec::new, |f| joins(f, traces, here_end));
            chain(p, &here, peer.joins_of(p.peer.0))
        })
        .collect()
}

/// One direction's chain from this capture's joins and the peer capture's.
fn chain(p: &DirPair, here: &[QlogJoin], there: &[QlogJoin]) -> Chain {
    // The sender, as each capture's flow names its sides.
    let (up, up_sender, down, down_sender) = match p.upstream {
        Point::This => (here, p.this.1, there, p.peer.1),
        Point::Peer => (there, p.peer.1, here, p.this.1),
    };
    let mut c = Chain::default();
    if let Some(j) = of(up, up_sender).filter(|j| j.covered_sent) {
        c.sender_qlog = Some(j.file.clone());
        c.qlog_sent = Some(j.qlog_sent);
        c.upstream_sent = Some(j.capture_sent);
    }
    let receiver = down_sender.other();
    if let Some(j) = of(down, receiver).filter(|j| j.covered_received && !j.truncated) {
        c.receiver_qlog = Some(j.file.clone());
        c.downstream_arrived = Some(j.capture_from_peer);
        c.qlog_received = Some(j.qlog_received);
    }
    c
}

/// The join of the endpoint on side `side`.
fn of(joins: &[QlogJoin], side: Side) -> Option<&QlogJoin> {
    joins.iter().find(|j| j.endpoint == side)
}

/// Which stretch off the path a hop finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hop {
    /// Between the sender's stack and the upstream capture.
    Sender,
    /// Between the downstream capture and the receiver's stack.
    Receiver,
}

/// `details` of `sender-drop` and `receiver-drop`.
#[derive(Serialize)]
struct Details<'a> {
    #[serde(flatten)]
    chain: &'a Chain,
    /// `"client"` / `"server"`: who sent the packets.
    sender: &'static str,
    /// The capture nearer the sender (`"this"` or `"peer"`), the peer capture, its flow.
    upstream: &'static str,
    peer: String,
    peer_flow: u32,
    /// Lost between the two capture points (`path-loss`'s count for this direction).
    path_lost: u64,
    missing: u64,
    share: f64,
    /// First and last frame of the direction in the peer capture (`frames` has this one's).
    peer_frames: Vec<u64>,
}

/// The finding of one hop for the `k`-th paired direction, when its packets went missing there
/// in number (the thresholds are `quic-qlog-mismatch`'s: the counts are the same join's).
pub fn hop_finding(
    hop: Hop,
    (id, severity): (&'static str, super::Severity),
    view: &super::peer_match::PeerView<'_>,
    k: usize,
    flows: &FlowTable,
) -> Option<super::Finding> {
    use super::quic_qlog_mismatch::{ERROR_SHARE, MIN_MISSING, WARN_SHARE};
    let (p, c) = (view.cmp.pairs.get(k)?, view.chains.get(k)?);
    let (missing, of) = match hop {
        Hop::Sender => c.sender_dropped()?,
        Hop::Receiver => c.receiver_dropped()?,
    };
    let share = super::kit::share(missing, of);
    if missing < MIN_MISSING || share < WARN_SHARE {
        return None;
    }
    let f = flows.by_index(p.this.0 as usize)?;
    let (me, other) = (f.role(p.this.1), f.role(p.this.1.other()));
    let (up, down) = match p.upstream {
        Point::This => ("this capture", view.peer.name.as_str()),
        Point::Peer => (view.peer.name.as_str(), "this capture"),
    };
    let pct = share * 100.0;
    let (message, hint) = match hop {
        Hop::Sender => (
            format!(
                "The {me}'s qlog says {of} packets were sent to the {other}; {up}, the capture point nearer the {me}, saw {} of them: {missing} ({pct:.1}%) never reached the first capture point. They were dropped on the {me}'s host or before that tap; the path between the two captures lost {} more.",
                c.upstream_sent.unwrap_or(0),
                p.lost.len()
            ),
            "Look at the sender's host: `nstat -az UdpSndbufErrors`, `tc -s qdisc show`, its \
             nftables/iptables output rules, and UDP GSO (old kernels dropped GSO segments: \
             compare a run with GSO off, quic-go's QUIC_GO_DISABLE_GSO=true).",
        ),
        Hop::Receiver => (
            format!(
                "{down}, the capture point nearer the {other}, saw {of} packets of the {me} arrive; the {other}'s qlog received {}: {missing} ({pct:.1}%) were dropped after that last capture point, on the {other}'s host or on the way from the tap to it.",
                c.qlog_received.unwrap_or(0)
            ),
            "Look at the receiver's host: `nstat -az UdpRcvbufErrors UdpInErrors` (a full socket \
             receive buffer drops datagrams: raise SO_RCVBUF / net.core.rmem_max or read \
             faster) and its nftables/iptables input rules.",
        ),
    };
    let d = &f.dirs[p.this.1];
    let mut frames = vec![d.first_frame, d.last_frame];
    frames.dedup();
    frames.retain(|n| *n > 0);
    let details = Details {
        chain: c,
        sender: me,
        upstream: match p.upstream {
            Point::This => "this",
            Point::Peer => "peer",
        },
        peer: view.peer.name.clone(),
        peer_flow: p.peer.0 + 1,
        path_lost: p.lost.len() as u64,
        missing,
        share,
        peer_frames: first_last(view.peer, p.peer),
    };
    Some(super::Finding {
        id,
        severity: if share >= ERROR_SHARE {
            super::Severity::Error
        } else {
            severity
        },
        flow: Some(f.id),
        frames_total: frames.len() as u64,
        frames,
        message,
        hint: hint.to_string(),
        wireshark_filter: Some(f.wireshark_filter()),
        details: super::details(&details),
    })
}

/// The first and last frame numbers of a direction's packets in a capture.
fn first_last(ix: &Index, dir: (u32, Side)) -> Vec<u64> {
    let of = |r: &&super::peer::Record| (r.flow, r.side) == dir;
    let first = ix.records.iter().find(of).map(|r| r.frame);
    let last = ix.records.iter().rev().find(of).map(|r| r.frame);
    let mut v: Vec<u64> = first.into_iter().chain(last).collect();
    v.dedup();
    v
}
