//! `quic-loss`: with keys (`--keylog`), a side of a QUIC connection lost a real share of its
//! 1-RTT packets: numbers the peer's ACK frames never acknowledged while it acknowledged later
//! ones, past RFC 9002's thresholds ([`crate::quic::recovery`]). Where the loss happened is read
//! from the capture: a packet seen here and never acknowledged died after the capture point; a
//! number never seen and never acknowledged died before it.
//!
//! A warning above the loss threshold (`--retransmission-threshold`, 1% by default, as for TCP);
//! an error from [`ERROR_RATE`], the loss at which CUBIC's and BBR's throughput collapse
//! (Mathis et al. 1997: throughput ∝ 1/√p); info below the threshold. Silent on fewer than
//! [`MIN_PACKETS`] judged packets or [`MIN_LOST`] losses.

use serde::Serialize;

use super::kit::{decrypted_sides, flow_filter, SideDetails};
use super::{details, Detector, Finding, Identity, Severity, Summary};
use crate::flow::{Flow, Side};
use crate::quic::recovery::Loss;
use crate::quic::rtt::Rtt;
use crate::quic::QuicConn;
use crate::units::thousands;

/// A side with fewer judged packets has no meaningful rate (a handshake and a request).
pub const MIN_PACKETS: u64 = 20;
/// Fewer losses are one loss event, which every long path sees now and then.
pub const MIN_LOST: u64 = 3;
/// From this share the loss is an error.
pub const ERROR_RATE: f64 = 0.05;

pub struct QuicLoss {
    threshold: f64,
}

impl QuicLoss {
    pub fn new(threshold: f64) -> Self {
        QuicLoss { threshold }
    }
}

impl Identity for QuicLoss {
    const ID: &'static str = "quic-loss";
    const SEVERITY: Severity = Severity::Warning;
}

/// `details` of a `quic-loss` finding.
#[derive(Serialize)]
struct Details {
    #[serde(flatten)]
    side: SideDetails,
    #[serde(flatten)]
    loss: Loss,
    rate: f64,
    threshold: f64,
    /// The RTT at the capture point from the side's packets and the peer's ACKs, ms.
    rtt_min_ms: Option<f64>,
    rtt_smoothed_ms: Option<f64>,
    /// From the first flow's first frame to the first and last loss, seconds.
    first_loss_s: Option<f64>,
    last_loss_s: Option<f64>,
}

impl Detector for QuicLoss {
    /// Judges the flows at the end: never called per frame.
    fn watches(&self) -> super::Watch {
        super::Watch::Nothing
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        decrypted_sides(s)
            .filter_map(|(f, q, d, side)| {
                let r = &d.recovery[side];
                self.finding(s, f, q, side, r.loss(), r.rtt)
            })
            .collect()
    }
}

impl QuicLoss {
    fn finding(
        &self,
        s: &Summary<'_>,
        f: &Flow,
        q: &QuicConn,
        side: Side,
        loss: Loss,
        rtt: Rtt,
    ) -> Option<Finding> {
        let (judged, lost, rate) = (loss.judged(), loss.lost(), loss.rate());
        if judged < MIN_PACKETS || lost < MIN_LOST {
            return None;
        }
        let severity = if rate >= ERROR_RATE.max(self.threshold) {
            Severity::Error
        } else if rate > self.threshold {
            Severity::Warning
        } else {
            Severity::Info
        };
        let who = if side == q.client { "client" } else { "server" };
        let peer = if side == q.client { "server" } else { "client" };
        let start = s.flows.flows.first().map_or(0, Flow::first_ts_ns);
        let at = |ns: Option<i64>| ns.map(|t| (t - start) as f64 / 1e9);
        let ms = |ns: i64| (rtt.samples > 0).then_some(ns as f64 / 1e6);
        let message = format!(
            "The QUIC {who} {} lost {} of {} 1-RTT packets ({:.1}%) on the way to the {peer}: \
             {}; {}.",
            f.key.end(side),
            thousands(lost),
            thousands(judged),
            rate * 100.0,
            where_sentence(&loss),
            runs_sentence(&loss, at(loss.first_lost_ns), at(loss.last_lost_ns)),
        );
        Some(Finding {
            id: QuicLoss::ID,
            severity,
            flow: Some(f.id),
            frames: loss.frames.frames(),
            frames_total: loss.frames.total,
            message,
            hint: hint(&loss).to_string(),
            wireshark_filter: flow_filter(f, "quic.short"),
            details: details(&Details {
                side: SideDetails::of(f, side),
                rate,
                threshold: self.threshold,
                rtt_min_ms: ms(rtt.min_ns),
                rtt_smoothed_ms: ms(rtt.smoothed_ns),
                first_loss_s: at(loss.first_lost_ns),
                last_loss_s: at(loss.last_lost_ns),
                loss,
            }),
        })
    }
}

/// Where the packets died, by what the capture saw of them.
fn where_sentence(l: &Loss) -> String {
    let mut parts = Vec::new();
    if l.lost_after_capture > 0 {
        // Fewer captured datagrams than packets: GSO super-datagrams lost whole.
        let sends = if l.lost_sends < l.lost_after_capture {
            format!(
                "; in {} captured datagrams: GSO sends lost whole",
                thousands(l.lost_sends)
            )
        } else {
            String::new()
        };
        parts.push(format!(
            "{} after the capture point (seen here, never acknowledged{sends})",
            thousands(l.lost_after_capture)
        ));
    }
    if l.lost_before_capture > 0 {
        parts.push(format!(
            "{} before it (never seen here, never acknowledged)",
            thousands(l.lost_before_capture)
        ));
    }
    let mut s = parts.join(", ");
    if l.acked_unseen > 0 {
        s.push_str(&format!(
            "; the capture also missed {} packets the peer did get",
            thousands(l.acked_unseen)
        ));
    }
    s
}

fn runs_sentence(l: &Loss, first: Option<f64>, last: Option<f64>) -> String {
    let when = match (first, last) {
        (Some(a), Some(b)) if b - a >= 0.001 => format!(" from {a:.3} s to {b:.3} s"),
        (Some(a), _) => format!(" at {a:.3} s"),
        _ => String::new(),
    };
    match l.runs {
        1 => format!("in one run of {}{when}", l.longest_run),
        n => format!(
            "in {} runs, the longest {} packets,{when}",
            thousands(n),
            l.longest_run
        ),
    }
}

fn hint(l: &Loss) -> &'static str {
    if l.lost_before_capture > l.lost_after_capture {
        "Most packets never reached the capture point: they died between the sender's QUIC \
         stack and here. On the sender's host, look at UDP send buffer drops (`nstat -az \
         UdpSndbufErrors`), the qdisc (`tc -s qdisc`) and UDP GSO on an old kernel (quic-go: \
         `QUIC_GO_DISABLE_GSO=true` tells); a capture taken further upstream (`--peer`) \
         narrows it down."
    } else {
        "The packets passed the capture point and never arrived: they died beyond it, on the \
         path or in the receiving host (socket receive buffer: `nstat -az UdpRcvbufErrors`). A \
         capture at the receiver (`--peer`) tells the path from the host."
    }
}
