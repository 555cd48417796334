//! `quic-stall`: a QUIC connection where one side kept sending and the other said nothing: probes
//! repeated at doubling intervals (the probe timeout backing off, RFC 9002 §6.2.1), or a
//! direction that stopped for a second or more while the other kept sending. The round trips of
//! seconds of the UDP GSO story (quic-go with GSO on an old kernel) are this finding.
//!
//! It replaces `udp-stall` for UDP flows with a QUIC view and shares its run logic and
//! thresholds (`backoff.rs`). An idle connection is silent by design: when both sides go quiet
//! (an application pause, a browser between pages) there is no run, and a PING keep-alive is
//! answered at once, on a fixed cadence (RFC 9000 §10.1.2). A QUIC receiver acknowledges within
//! its `max_ack_delay` (25 ms by default, RFC 9000 §18.2), so a side that stays silent for a
//! second while the other keeps sending is not keeping up its side of the connection.

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::backoff::{judged, Conversation, RunShape, Stall, STALL_FACTOR};
use super::{details, Detector, Finding, FrameCtx, Identity, Severity, Summary, MAX_EVIDENCE};
use crate::flow::Flow;
use crate::units::duration;

/// A probe run lasting this long is a stall users feel (warning), and a one-way run must last
/// this long to count at all: far beyond the 25 ms `max_ack_delay` and the first probe timeout
/// after an RTT sample (RFC 9002 §6.2.1).
pub const LONG_RUN_NS: i64 = 1_000_000_000;

#[derive(Default)]
pub struct QuicStall {
    convs: FxHashMap<usize, Conversation>,
}

impl Identity for QuicStall {
    const ID: &'static str = "quic-stall";
    const SEVERITY: Severity = Severity::Warning;
}

/// How a stall looked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Shape {
    /// One side repeating with gaps growing 1.5× or more each time: a probe timer backing off.
    Backoff,
    /// One side sending for a second or more while the other sent nothing, then answered.
    OneWay,
}

impl From<RunShape> for Shape {
    fn from(s: RunShape) -> Self {
        match s {
            RunShape::Backoff => Shape::Backoff,
            RunShape::OneWay => Shape::OneWay,
        }
    }
}

/// `details` of a `quic-stall` finding: the longest stall, then every stall in short.
#[derive(Serialize)]
struct Details {
    shape: Shape,
    /// `client` or `server`: who kept sending.
    side: &'static str,
    /// From the first unanswered packet to the answer (or the last packet), seconds.
    stall_s: f64,
    /// Sends in the run (packets within 1 ms are one send), and the gaps between the first 8.
    probes: u32,
    gaps_s: Vec<f64>,
    answered: bool,
    stalls: usize,
    /// Runs beyond the first 64, not judged.
    unjudged_runs: u64,
    /// The median gap between the connection's packets, and 20 times it.
    usual_gap_s: f64,
    threshold_s: f64,
    packets: u64,
    runs: Vec<RunDetails>,
}

#[derive(Serialize)]
struct RunDetails {
    shape: Shape,
    side: &'static str,
    first_frame: u64,
    last_frame: u64,
    probes: u32,
    stall_s: f64,
    longest_gap_s: f64,
    answered: bool,
}

impl Detector for QuicStall {
    fn on_frame(&mut self, ctx: &FrameCtx<'_>) {
        let (Some(_), None, Some(fr)) = (&ctx.pkt.udp, &ctx.pkt.tcp, ctx.flow) else {
            return;
        };
        if !fr.quic {
            return;
        }
        self.convs
            .entry(fr.index)
            .or_insert_with(|| Conversation::keep_one_way(LONG_RUN_NS))
            .packet(fr.side, ctx.frame.number, ctx.frame.ts_ns);
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for (f, c, usual) in judged(&mut self.convs, &s.flows.flows, |f| f.is_quic()) {
            let limit = usual.saturating_mul(STALL_FACTOR);
            let stalls: Vec<Stall> = c
                .stalls
                .iter()
                .filter(|x| x.shape == RunShape::Backoff || x.run.span_ns() >= limit)
                .copied()
                .collect();
            if !stalls.is_empty() {
                out.push(finding(f, &stalls, c, usual, limit));
            }
        }
        out
    }
}

/// A warning when a run lasted a second or more, or a gap was 20 times the usual one.
fn severity(stalls: &[Stall], limit: i64) -> Severity {
    let long = |x: &Stall| x.run.span_ns() >= LONG_RUN_NS || x.run.longest_gap >= limit;
    if stalls.iter().any(long) {
        QuicStall::SEVERITY
    } else {
        Severity::Info
    }
}

fn finding(f: &Flow, stalls: &[Stall], c: &Conversation, usual: i64, limit: i64) -> Finding {
    let secs = |ns: i64| ns as f64 / 1e9;
    let worst = stalls
        .iter()
        .max_by_key(|x| x.run.span_ns())
        .copied()
        .unwrap_or(stalls[0]);
    let who = worst.run.side.map_or("client", |s| f.role(s));
    let mut frames: Vec<u64> = worst.run.send_frames().to_vec();
    frames.extend(stalls.iter().map(|x| x.run.first_frame));
    frames.sort_unstable();
    frames.dedup();
    // The worst run's sends beyond the kept ones are evidence too.
    let unkept = u64::from(worst.run.sends).saturating_sub(worst.run.send_frames().len() as u64);
    let frames_total = frames.len() as u64 + unkept;
    frames.truncate(MAX_EVIDENCE);
    let gaps: Vec<f64> = worst.run.send_gaps().iter().map(|&g| secs(g)).collect();
    let shortest_longest = stalls.iter().map(|x| x.run.longest_gap).min().unwrap_or(0);
    Finding {
        id: QuicStall::ID,
        severity: severity(stalls, limit),
        flow: Some(f.id),
        frames,
        frames_total,
        message: format!(
            "In the QUIC connection {} ↔ {}, {} ({} stall{} in all); its packets are usually \
             {} apart.",
            f.client(),
            f.server(),
            sentence(&worst, who, &gaps),
            stalls.len(),
            if stalls.len() == 1 { "" } else { "s" },
            duration(secs(usual)),
        ),
        hint: "A sender repeating itself at doubling intervals is QUIC's probe timeout backing \
               off (RFC 9002 §6.2): its packets, or the peer's acknowledgements, were lost. \
               Look for loss around the first frames cited: receive buffer drops \
               (`netstat -su`, net.core.rmem_max), and with UDP GSO a sender kernel or NIC that \
               mishandles it (see udp-gso-superframes). The endpoints' qlog (`--qlog`) tells \
               which side lost them."
            .into(),
        wireshark_filter: Some(format!(
            "{} && frame.time_delta_displayed > {:.3}",
            f.wireshark_filter(),
            (secs(shortest_longest) * 0.99).max(0.001)
        )),
        details: details(&Details {
            shape: worst.shape.into(),
            side: who,
            stall_s: secs(worst.run.span_ns()),
            probes: worst.run.sends,
            gaps_s: gaps,
            answered: worst.answered,
            stalls: stalls.len(),
            unjudged_runs: c.more_stalls,
            usual_gap_s: secs(usual),
            threshold_s: secs(limit),
            packets: c.packets,
            runs: stalls
                .iter()
                .take(MAX_EVIDENCE)
                .map(|x| RunDetails {
                    shape: x.shape.into(),
                    side: x.run.side.map_or("client", |s| f.role(s)),
                    first_frame: x.run.first_frame,
                    last_frame: x.run.last_frame,
                    probes: x.run.sends,
                    stall_s: secs(x.run.span_ns()),
                    longest_gap_s: secs(x.run.longest_gap),
                    answered: x.answered,
                })
                .collect(),
        }),
    }
}

/// "the server sent 4 probes over 2.1 s without an answer, each gap about twice the one
/// before (0.3 s, 0.6 s, 1.2 s), until the client answered".
fn sentence(s: &Stall, who: &str, gaps: &[f64]) -> String {
    let other = if who == "client" { "server" } else { "client" };
    let span = duration(s.run.span_ns() as f64 / 1e9);
    let end = if s.answered {
        format!("until the {other} answered")
    } else {
        "and the capture ended first".to_string()
    };
    match s.shape {
        RunShape::Backoff => {
            let list: Vec<String> = gaps.iter().map(|&g| duration(g)).collect();
            format!(
                "the {who} sent {} probes over {span} without an answer, each gap at least 1.5 \
                 times the one before ({}), {end}",
                s.run.sends,
                list.join(", ")
            )
        }
        RunShape::OneWay => format!(
            "the {other} sent nothing for {span} while the {who} kept sending ({} sends), {end}",
            s.run.sends
        ),
    }
}
