//! `quic-qlog-mismatch`: an endpoint's qlog and the capture disagree about a QUIC connection.
//! The endpoint logged packets as sent that the capture never shows, or the capture shows
//! packets arriving that the endpoint never logged as received. Taken on the endpoint's host,
//! the capture pins the loss on that host's kernel: the quic-go story, where qlog said 41,200
//! packets were sent and tcpdump showed 3,900, because UDP GSO on that kernel dropped them.
//!
//! Without a qlog (`--qlog`) this detector says nothing.

use std::sync::Arc;

use serde::Serialize;

use super::kit::{sender, share};
use super::qlog_join::{joins, CapturePoint, PointEvidence, QlogJoin};
use super::{details, Detector, Finding, FrameCtx, Identity, Severity, Summary};
use crate::flow::Flow;
use crate::qlog::QlogTrace;

/// Packets missing before a difference is a finding: a handful can be the edges of the two
/// records (a packet logged as the process exits, a datagram that arrived after the trace
/// closed).
pub const MIN_MISSING: u64 = 10;
/// The share of packets missing that is a problem (warning): at 2%, QUIC's throughput already
/// suffers (RFC 9002's NewReno halves its window per loss episode), and the counts are exact.
pub const WARN_SHARE: f64 = 0.02;
/// The share at which the connection barely works (error): the quic-go story lost over 90%.
pub const ERROR_SHARE: f64 = 0.5;

pub struct QuicQlogMismatch {
    traces: Arc<[QlogTrace]>,
    capture_end_ns: i64,
}

impl QuicQlogMismatch {
    pub fn new(traces: Arc<[QlogTrace]>) -> Self {
        QuicQlogMismatch {
            traces,
            capture_end_ns: i64::MIN,
        }
    }
}

impl Identity for QuicQlogMismatch {
    const ID: &'static str = "quic-qlog-mismatch";
    const SEVERITY: Severity = Severity::Warning;
}

/// Which of the endpoint's counts the capture contradicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Way {
    /// Sent by the endpoint, not in the capture.
    Sent,
    /// In the capture, never received by the endpoint.
    Received,
}

#[derive(Serialize)]
struct Details<'a> {
    way: Way,
    #[serde(flatten)]
    join: &'a QlogJoin,
    missing: u64,
    share: f64,
    gso_datagrams: u64,
    gso_size: Option<u32>,
}

impl Detector for QuicQlogMismatch {
    fn on_frame(&mut self, ctx: &FrameCtx<'_>) {
        self.capture_end_ns = self.capture_end_ns.max(ctx.frame.ts_ns);
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        if self.traces.is_empty() {
            return Vec::new();
        }
        // Packets the capture itself dropped (pcapng statistics) would look sent and unseen.
        let capture_dropped = s
            .meta
            .interface_stats
            .iter()
            .any(|i| i.if_drop.unwrap_or(0) + i.os_drop.unwrap_or(0) > 0);
        let mut out = Vec::new();
        for f in &s.flows.flows {
            for j in joins(f, &self.traces, self.capture_end_ns) {
                if j.covered_sent && !capture_dropped && !by_hop(s, f, j.endpoint, Way::Sent) {
                    out.extend(finding(f, &j, Way::Sent));
                }
                let sender = j.endpoint.other();
                if j.covered_received && !j.truncated && !by_hop(s, f, sender, Way::Received) {
                    out.extend(finding(f, &j, Way::Received));
                }
            }
        }
        out
    }
}

/// Whether two captures of the path (`--peer`) account for this count hop by hop: the
/// direction sent by `sender` is paired and its chain has the qlog's count of that way, so
/// `sender-drop`, `path-loss` and `receiver-drop` say where the packets went, not this.
fn by_hop(s: &Summary<'_>, f: &Flow, sender: crate::flow::Side, way: Way) -> bool {
    let Some(v) = &s.peer else { return false };
    let dir = (f.id.saturating_sub(1), sender);
    v.cmp.pairs.iter().zip(v.chains).any(|(p, c)| {
        p.this == dir
            && match way {
                Way::Sent => c.qlog_sent.is_some(),
                Way::Received => c.qlog_received.is_some(),
            }
    })
}

fn finding(f: &Flow, j: &QlogJoin, way: Way) -> Option<Finding> {
    let (missing, of) = match way {
        Way::Sent => (j.unseen_sent(), j.qlog_sent),
        Way::Received => (j.unreceived(), j.capture_from_peer),
    };
    let part = share(missing, of);
    if missing < MIN_MISSING || part < WARN_SHARE {
        return None;
    }
    let counts = f.quic.as_deref().map(|q| q.packets[j.endpoint]);
    let (gso_datagrams, gso_size) = counts.map_or((0, None), |c| (c.gso_datagrams, c.gso_size));
    let me = f.role(j.endpoint);
    let peer = f.role(j.endpoint.other());
    let pct = part * 100.0;
    let at_endpoint = j.capture_point == CapturePoint::Endpoint;
    let (message, hint) = match (way, at_endpoint) {
        (Way::Sent, true) => (
            format!(
                "The {me}'s qlog says {} packets were sent on this connection; the capture, {}, \
                 shows {} of them on the wire: {pct:.0}% never left {}{}.",
                j.qlog_sent,
                taken_at(j, me),
                j.capture_sent,
                left_what(j, "the host", "the host or its first link"),
                gso_clause(gso_datagrams, gso_size)
            ),
            "Compare a run with UDP GSO off (quic-go: QUIC_GO_DISABLE_GSO=true) and read \
             `nstat -az UdpSndbufErrors` and `tc -s qdisc show` on the sender. Old kernels' UDP \
             GSO dropped segments with some drivers and settings: upgrade the kernel or keep GSO \
             off.",
        ),
        (Way::Sent, false) => (
            format!(
                "The {me}'s qlog says {} packets were sent on this connection; the capture shows \
                 {} of them: {pct:.0}% were lost between {} and the capture point{}.",
                j.qlog_sent,
                j.capture_sent,
                sender(f, j.endpoint),
                unknown_clause(j)
            ),
            "Capture on the sending host too: packets missing there as well were dropped by its \
             own kernel (UDP GSO, a full send buffer); packets present there were lost on the \
             path (read the NIC's and switches' drop counters).",
        ),
        (Way::Received, true) => (
            format!(
                "The capture, {}, shows {} packets arriving from the {peer}; the {me}'s qlog \
                 received {}: {pct:.0}% were dropped {} after the capture saw them.",
                taken_at(j, me),
                j.capture_from_peer,
                j.qlog_received,
                left_what(j, "on the host", "on the host or its last link")
            ),
            "Read `nstat -az UdpRcvbufErrors UdpInErrors`: a full socket receive buffer drops \
             datagrams. Raise it (SO_RCVBUF, net.core.rmem_max; quic-go asks for 7 MB at start) \
             or read faster, and check nftables/iptables input rules.",
        ),
        (Way::Received, false) => (
            format!(
                "The capture shows {} packets from the {peer} towards the {me}; the {me}'s qlog \
                 received {}: {pct:.0}% were lost between the capture point and {}{}.",
                j.capture_from_peer,
                j.qlog_received,
                sender(f, j.endpoint),
                unknown_clause(j)
            ),
            "Capture on the receiving host too: packets that reach its capture and not the \
             application were dropped by its kernel (receive buffer, firewall); packets missing \
             there were lost on the path.",
        ),
    };
    Some(Finding {
        id: QuicQlogMismatch::ID,
        severity: if part >= ERROR_SHARE {
            Severity::Error
        } else {
            QuicQlogMismatch::SEVERITY
        },
        flow: Some(f.id),
        frames: evidence(f, j, way),
        frames_total: evidence(f, j, way).len() as u64,
        message,
        hint: hint.to_string(),
        wireshark_filter: Some(f.wireshark_filter()),
        details: details(&Details {
            way,
            join: j,
            missing,
            share: part,
            gso_datagrams,
            gso_size,
        }),
    })
}

fn gso_clause(datagrams: u64, size: Option<u32>) -> String {
    match size {
        Some(size) if datagrams > 0 => format!(
            ". It sends with UDP GSO ({datagrams} super-datagrams of {size}-byte segments in \
             this capture): UDP GSO on this kernel is suspect"
        ),
        _ => ". UDP GSO on the sender's kernel is suspect if the QUIC stack uses it, as quic-go \
              does on Linux; otherwise a full socket send buffer, a qdisc or a netfilter rule"
            .to_string(),
    }
}

/// Where the capture was taken, in words, with what says so.
fn taken_at(j: &QlogJoin, me: &str) -> String {
    match (j.capture_point_evidence, j.clock_offset_ms) {
        (PointEvidence::Timing, Some(ms)) => format!(
            "taken on the {me}'s host or one short hop from it (it saw the {me}'s first packet \
             {:.2} ms {} the qlog logged it)",
            ms.abs(),
            if ms < 0.0 { "before" } else { "after" }
        ),
        _ => format!("taken on the {me}'s host"),
    }
}

/// What the capture point pins the loss on: the host itself when cooked headers say the
/// capture ran there, the host or the link next to it when only timing does.
fn left_what(j: &QlogJoin, host: &'static str, near: &'static str) -> &'static str {
    if j.capture_point_evidence == PointEvidence::SllPacketType {
        host
    } else {
        near
    }
}

fn unknown_clause(j: &QlogJoin) -> &'static str {
    if j.capture_point == CapturePoint::Unknown {
        " (the qlog's clock is not the capture's, so where the capture was taken is not known)"
    } else {
        ""
    }
}

/// The first and last frame of the direction whose packets went missing.
fn evidence(f: &Flow, j: &QlogJoin, way: Way) -> Vec<u64> {
    let side = match way {
        Way::Sent => j.endpoint,
        Way::Received => j.endpoint.other(),
    };
    let d = &f.dirs[side];
    let mut v = vec![d.first_frame, d.last_frame];
    v.dedup();
    v.retain(|n| *n > 0);
    v
}
