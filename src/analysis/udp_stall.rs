//! `udp-stall`: a UDP conversation where one side keeps asking and the other does not answer,
//! repeating with growing gaps: a retry timer backing off (DNS, RADIUS, a tunnel's keep-alive,
//! RFC 1035 and RFC 2865 clients). QUIC flows (with a QUIC view, or another path of one) are `quic-stall`'s, so
//! that one stall is reported once. The run logic and its thresholds are in `backoff.rs`.

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::backoff::{judged, Conversation, RunShape, Stall, MIN_STALL_NS, STALL_FACTOR};
use super::{details, Detector, Finding, FrameCtx, Identity, Severity, Summary};
use crate::units::{duration, plural, s};

#[derive(Default)]
pub struct UdpStall {
    convs: FxHashMap<usize, Conversation>,
}

/// `details` of a `udp-stall` finding.
#[derive(Serialize)]
struct Details {
    stalls: usize,
    /// Back-off runs beyond the first 64, not judged.
    unjudged_runs: u64,
    /// The longest gap between two unanswered sends.
    longest_s: f64,
    /// Time from the first unanswered send to the answer (or to the last send), summed.
    total_stall_s: f64,
    /// The median gap between the conversation's packets.
    usual_gap_s: f64,
    /// The gap a stall needs: the usual gap times the stall factor, at least 200 ms.
    threshold_s: f64,
    packets: u64,
    runs: Vec<RunDetails>,
}

#[derive(Serialize)]
struct RunDetails {
    /// `client` or `server`: who kept sending.
    side: &'static str,
    first_frame: u64,
    last_frame: u64,
    sends: u32,
    longest_gap_s: f64,
    answered: bool,
}

impl Identity for UdpStall {
    const ID: &'static str = "udp-stall";
    const SEVERITY: Severity = Severity::Warning;
}

impl Detector for UdpStall {
    fn evicted(&mut self, indexes: &[usize]) {
        for i in indexes {
            self.convs.remove(i);
        }
    }

    fn watches(&self) -> super::Watch {
        super::Watch::Udp
    }

    fn on_frame(&mut self, ctx: &FrameCtx<'_>) {
        let frame = ctx.frame;
        let (Some(_), None, Some(fr)) = (&ctx.pkt.udp, &ctx.pkt.tcp, ctx.flow) else {
            return;
        };
        // QUIC flows are quic-stall's.
        if fr.quic {
            return;
        }
        self.convs
            .entry(fr.index)
            .or_default()
            .packet(fr.side, frame.number, frame.ts_ns);
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for (f, c, usual) in judged(&mut self.convs, &s.flows.flows, |f| !f.is_quic()) {
            let limit = (usual.saturating_mul(STALL_FACTOR)).max(MIN_STALL_NS);
            let stalls: Vec<Stall> = c
                .stalls
                .iter()
                .filter(|x| x.shape == RunShape::Backoff && x.run.longest_gap >= limit)
                .copied()
                .collect();
            if !stalls.is_empty() {
                out.push(finding(f, &stalls, c, usual, limit));
            }
        }
        out
    }
}

fn finding(
    f: &crate::flow::Flow,
    stalls: &[Stall],
    c: &Conversation,
    usual: i64,
    limit: i64,
) -> Finding {
    let secs = |ns: i64| ns as f64 / 1e9;
    let longest = stalls.iter().map(|x| x.run.longest_gap).max().unwrap_or(0);
    let total = stalls.iter().fold(0i64, |t, x| {
        t.saturating_add(x.run.last_ns.saturating_sub(x.run.first_ns))
    });
    let first = stalls[0].run;
    let who = first.side.map_or("client", |s| f.role(s));
    let sends = stalls.iter().map(|x| x.run.sends).max().unwrap_or(0);
    Finding {
        id: UdpStall::ID,
        severity: UdpStall::SEVERITY,
        flow: Some(f.id),
        frames: stalls
            .iter()
            .take(super::MAX_EVIDENCE)
            .map(|x| x.run.first_frame)
            .collect(),
        frames_total: stalls.len() as u64,
        message: format!(
            "In the UDP conversation {} ↔ {}, the {who} sent up to {} without an \
             answer, waiting longer each time (up to {}), in {} such run{} ({} in all); its \
             packets are usually {} apart.",
            f.client(),
            f.server(),
            plural(u64::from(sends), "time"),
            duration(secs(longest)),
            stalls.len(),
            s(stalls.len() as u64),
            duration(secs(total)),
            duration(secs(usual)),
        ),
        hint: "Repeats with growing gaps are a retry timer backing off: what it sent was lost \
               or the peer stopped answering. Look for loss around the first frames cited: \
               receive buffer drops (`netstat -su`, net.core.rmem_max), and for QUIC with UDP \
               GSO a sender kernel or NIC that mishandles GSO (see udp-gso-superframes)."
            .into(),
        wireshark_filter: Some(format!(
            "{} && frame.time_delta_displayed > {:.3}",
            f.wireshark_filter(),
            secs(limit)
        )),
        details: details(&Details {
            stalls: stalls.len(),
            unjudged_runs: c.more_stalls,
            longest_s: secs(longest),
            total_stall_s: secs(total),
            usual_gap_s: secs(usual),
            threshold_s: secs(limit),
            packets: c.packets,
            runs: stalls
                .iter()
                .take(super::MAX_EVIDENCE)
                .map(|x| RunDetails {
                    side: x.run.side.map_or("client", |s| f.role(s)),
                    first_frame: x.run.first_frame,
                    last_frame: x.run.last_frame,
                    sends: x.run.sends,
                    longest_gap_s: secs(x.run.longest_gap),
                    answered: x.answered,
                })
                .collect(),
        }),
    }
}
