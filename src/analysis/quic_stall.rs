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
//!
//! With the endpoints' qlog (`--qlog`), a silence of both sides is told apart from a pause: when
//! the endpoint logged packets lost or probe timeouts expiring while the capture shows nothing
//! (the quic-go story seen on the sender: its kernel drops what the stack sends, so the wire goes
//! quiet while loss recovery waits out its timers), the silence is a stall; and every stall says
//! what the endpoint logged during it.

use std::sync::Arc;

use rustc_hash::FxHashMap;
use serde::Serialize;

use super::backoff::{judged, Conversation, RunShape, Silence, Stall, MIN_STALL_NS, STALL_FACTOR};
use super::qlog_join::{joined, logged_between, QlogJoin};
use super::{details, Detector, Finding, FrameCtx, Identity, Severity, Summary, MAX_EVIDENCE};
use crate::flow::{Flow, Side};
use crate::qlog::{Counts, QlogTrace};
use crate::quic::path_rtt::PathRtt;
use crate::units::duration;

/// A probe run lasting this long is a stall users feel (warning), and a one-way run must last
/// this long to count at all: far beyond the 25 ms `max_ack_delay` and the first probe timeout
/// after an RTT sample (RFC 9002 §6.2.1).
pub const LONG_RUN_NS: i64 = 1_000_000_000;

#[derive(Default)]
pub struct QuicStall {
    convs: FxHashMap<usize, Conversation>,
    /// The endpoints' qlog traces, and the capture's last time (for the join).
    traces: Arc<[QlogTrace]>,
    capture_end_ns: i64,
}

impl QuicStall {
    pub fn new(traces: Arc<[QlogTrace]>) -> Self {
        QuicStall {
            traces,
            ..QuicStall::default()
        }
    }
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
    /// Neither side sent anything, while an endpoint's qlog logged loss or probe timeouts.
    Silent,
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
    /// `client` or `server`: who kept sending (none for a silence of both).
    side: Option<&'static str>,
    /// From the first unanswered packet to the answer (or the last packet), seconds.
    stall_s: f64,
    /// Sends in the run (packets within 1 ms are one send), and the gaps between the first 8.
    probes: u32,
    gaps_s: Vec<f64>,
    answered: bool,
    /// What the endpoint's qlog logged during the longest stall.
    qlog: Option<Logged>,
    stalls: usize,
    /// Runs beyond the first 64, not judged.
    unjudged_runs: u64,
    /// The median gap between the connection's packets, and 20 times it.
    usual_gap_s: f64,
    threshold_s: f64,
    packets: u64,
    /// With `--keylog` (null without, or before both sides' packets were acknowledged).
    path_rtt: Option<Keyed>,
    runs: Vec<RunDetails>,
}

/// What the decrypted ACK frames say of the worst stall: the path's round trip, and the stall
/// in probe timeouts of the side whose timer it is about: the prober of a run that backed off,
/// the silent side of a one-way run (it owed ACKs within its max_ack_delay).
#[derive(Serialize)]
struct Keyed {
    /// Both legs at the capture point summed ([`PathRtt`]), seconds.
    min_s: f64,
    smoothed_s: f64,
    /// `client` or `server`: whose probe timeout (null for a silence of both).
    pto_of: Option<&'static str>,
    /// RFC 9002 §6.2.1's probe timeout of that side, and the longest wait over it: between
    /// the prober's sends, or the silent side's whole silence.
    pto_s: Option<f64>,
    longest_wait_ptos: Option<f64>,
}

impl Keyed {
    fn of(f: &Flow, worst: &Episode) -> Option<Keyed> {
        let p = PathRtt::of(f.quic.as_deref()?.decryption.as_deref()?)?;
        let (timer, wait) = match worst.shape {
            Shape::Backoff => (worst.side, worst.widest_gap()),
            Shape::OneWay => (worst.side.map(Side::other), worst.span_ns()),
            Shape::Silent => (None, 0),
        };
        let pto = timer.map(|side| p.pto_ns(side)).filter(|&n| n > 0);
        Some(Keyed {
            min_s: p.min_ns as f64 / 1e9,
            smoothed_s: p.smoothed_ns as f64 / 1e9,
            pto_of: timer.map(|side| f.role(side)),
            pto_s: pto.map(|n| n as f64 / 1e9),
            longest_wait_ptos: pto.map(|n| wait as f64 / n as f64),
        })
    }

    /// " The path's round trip is 8.2 ms …", for the message.
    fn clause(&self, shape: Shape) -> String {
        let rtt = format!(
            " The path's round trip is {} (from the decrypted ACK frames)",
            duration(self.smoothed_s)
        );
        match (self.pto_of, self.pto_s, self.longest_wait_ptos) {
            (Some(who), Some(pto), Some(n)) if shape == Shape::Backoff => format!(
                "{rtt}: the {who}'s probe timeout is about {}, and its longest wait was {n:.0} \
                 of them.",
                duration(pto)
            ),
            (Some(who), Some(pto), Some(n)) => format!(
                "{rtt}: the {who} was silent for {n:.0} of its probe timeouts (about {} each).",
                duration(pto)
            ),
            _ => format!("{rtt}."),
        }
    }
}

#[derive(Serialize)]
struct RunDetails {
    shape: Shape,
    side: Option<&'static str>,
    first_frame: u64,
    last_frame: u64,
    probes: u32,
    stall_s: f64,
    longest_gap_s: f64,
    answered: bool,
    qlog: Option<Logged>,
}

/// What one endpoint's qlog logged during a stall.
#[derive(Debug, Clone, Copy, Serialize)]
struct Logged {
    /// `client` or `server`: whose qlog.
    endpoint: &'static str,
    #[serde(skip)]
    side: Side,
    #[serde(flatten)]
    counts: Counts,
}

impl Logged {
    /// Loss recovery at work: packets declared lost, or the probe timer expiring.
    fn recovering(&self) -> bool {
        self.counts.lost + self.counts.probe_timeouts > 0
    }
}

/// One stall to report: a run of the capture's, or a silence a qlog explains.
#[derive(Debug, Clone, Copy)]
struct Episode {
    shape: Shape,
    side: Option<Side>,
    first_frame: u64,
    last_frame: u64,
    from_ns: i64,
    to_ns: i64,
    sends: u32,
    longest_gap: i64,
    answered: bool,
    run: Option<Stall>,
    logged: Option<Logged>,
}

impl Episode {
    fn of_run(x: &Stall) -> Episode {
        Episode {
            shape: x.shape.into(),
            side: x.run.side,
            first_frame: x.run.first_frame,
            last_frame: x.run.last_frame,
            from_ns: x.run.first_ns,
            to_ns: x.run.last_ns,
            sends: x.run.sends,
            longest_gap: x.run.longest_gap,
            answered: x.answered,
            run: Some(*x),
            logged: None,
        }
    }

    fn of_silence(s: &Silence) -> Episode {
        Episode {
            shape: Shape::Silent,
            side: None,
            first_frame: s.from_frame,
            last_frame: s.to_frame,
            from_ns: s.from_ns,
            to_ns: s.to_ns,
            sends: 0,
            longest_gap: s.span_ns(),
            answered: true,
            run: None,
            logged: None,
        }
    }

    fn span_ns(&self) -> i64 {
        self.to_ns.saturating_sub(self.from_ns)
    }

    /// The longest time with nothing on the wire in it: between two sends, or from the last
    /// send to the answer (a run that was mostly a silence of both).
    fn widest_gap(&self) -> i64 {
        let tail = self
            .run
            .map_or(0, |r| r.run.last_ns.saturating_sub(r.run.last_send_ns));
        self.longest_gap.max(tail)
    }

    fn overlaps(&self, o: &Episode) -> bool {
        self.from_ns < o.to_ns && o.from_ns < self.to_ns
    }
}

impl Detector for QuicStall {
    fn watches(&self) -> super::Watch {
        super::Watch::Udp
    }

    fn on_frame(&mut self, ctx: &FrameCtx<'_>) {
        let (Some(_), None, Some(fr)) = (&ctx.pkt.udp, &ctx.pkt.tcp, ctx.flow) else {
            return;
        };
        if !fr.quic {
            return;
        }
        self.capture_end_ns = self.capture_end_ns.max(ctx.frame.ts_ns);
        // Silences matter only when a qlog can say what happened in them.
        let silences = if self.traces.is_empty() {
            0
        } else {
            MIN_STALL_NS
        };
        self.convs
            .entry(fr.index)
            .or_insert_with(|| Conversation::keep_one_way(LONG_RUN_NS).keep_silences(silences))
            .packet(fr.side, ctx.frame.number, ctx.frame.ts_ns);
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let traces = self.traces.clone();
        let end = self.capture_end_ns;
        let mut out = Vec::new();
        for (f, c, usual) in judged(&mut self.convs, &s.flows.flows, |f| f.is_quic()) {
            let limit = usual.saturating_mul(STALL_FACTOR);
            let logs = joined(f, &traces, end);
            let episodes = episodes(f, c, limit, &logs);
            if !episodes.is_empty() {
                out.push(finding(f, &episodes, c, usual, limit));
            }
        }
        out
    }
}

/// The connection's stalls, in time order: its runs that backed off or lasted, then the
/// silences of both sides, at least `limit` long, during which an endpoint's qlog shows loss
/// recovery at work; each with what the qlog logged during it.
fn episodes(
    f: &Flow,
    c: &Conversation,
    limit: i64,
    logs: &[(&QlogTrace, QlogJoin)],
) -> Vec<Episode> {
    let mut out: Vec<Episode> = c
        .stalls
        .iter()
        .filter(|x| x.shape == RunShape::Backoff || x.run.span_ns() >= limit)
        .map(Episode::of_run)
        .collect();
    for e in &mut out {
        e.logged = logged(f, logs, e.from_ns, e.to_ns);
    }
    for s in &c.silences {
        let mut e = Episode::of_silence(s);
        if e.span_ns() < limit.max(MIN_STALL_NS) || out.iter().any(|o| o.overlaps(&e)) {
            continue;
        }
        e.logged = logged(f, logs, e.from_ns, e.to_ns);
        if e.logged.is_some_and(|l| l.recovering()) {
            out.push(e);
        }
    }
    out.sort_by_key(|e| e.from_ns);
    out
}

/// The qlog that logged the most loss recovery between two capture times, if any qlog covers
/// the connection.
fn logged(f: &Flow, logs: &[(&QlogTrace, QlogJoin)], from_ns: i64, to_ns: i64) -> Option<Logged> {
    logs.iter()
        .map(|(t, j)| Logged {
            endpoint: f.role(j.endpoint),
            side: j.endpoint,
            counts: logged_between(t, j, from_ns, to_ns),
        })
        .max_by_key(|l| (l.counts.lost + l.counts.probe_timeouts, l.counts.sent))
}

/// A warning when a stall lasted a second or more, a gap was 20 times the usual one, or a qlog
/// shows loss recovery in a silence.
fn severity(episodes: &[Episode], limit: i64) -> Severity {
    let long = |e: &Episode| {
        e.span_ns() >= LONG_RUN_NS || e.longest_gap >= limit || e.shape == Shape::Silent
    };
    if episodes.iter().any(long) {
        QuicStall::SEVERITY
    } else {
        Severity::Info
    }
}

fn finding(f: &Flow, episodes: &[Episode], c: &Conversation, usual: i64, limit: i64) -> Finding {
    let secs = |ns: i64| ns as f64 / 1e9;
    let worst = episodes
        .iter()
        .max_by_key(|e| e.span_ns())
        .copied()
        .unwrap_or(episodes[0]);
    let who = worst.side.map(|s| f.role(s));
    let mut frames: Vec<u64> = worst
        .run
        .map_or(vec![worst.first_frame, worst.last_frame], |r| {
            r.run.send_frames().to_vec()
        });
    frames.extend(episodes.iter().map(|e| e.first_frame));
    frames.sort_unstable();
    frames.dedup();
    // The worst run's sends beyond the kept ones are evidence too.
    let unkept = worst.run.map_or(0, |r| {
        u64::from(r.run.sends).saturating_sub(r.run.send_frames().len() as u64)
    });
    let frames_total = frames.len() as u64 + unkept;
    frames.truncate(MAX_EVIDENCE);
    let gaps: Vec<f64> = worst
        .run
        .map(|r| r.run.send_gaps().iter().map(|&g| secs(g)).collect())
        .unwrap_or_default();
    let shortest_longest = episodes.iter().map(Episode::widest_gap).min().unwrap_or(0);
    let keyed = Keyed::of(f, &worst);
    Finding {
        id: QuicStall::ID,
        severity: severity(episodes, limit),
        flow: Some(f.id),
        frames,
        frames_total,
        message: format!(
            "In the QUIC connection {} ↔ {}, {}{} ({} stall{} in all); its packets are usually \
             {} apart.{}",
            f.client(),
            f.server(),
            sentence(&worst, who, &gaps),
            worst.logged.map(|l| said(&worst, l)).unwrap_or_default(),
            episodes.len(),
            if episodes.len() == 1 { "" } else { "s" },
            duration(secs(usual)),
            keyed
                .as_ref()
                .map(|k| k.clause(worst.shape))
                .unwrap_or_default(),
        ),
        hint: "A sender repeating itself at doubling intervals is QUIC's probe timeout backing \
               off (RFC 9002 §6.2): its packets, or the peer's acknowledgements, were lost. \
               Look for loss around the first frames cited: receive buffer drops \
               (`netstat -su`, net.core.rmem_max), and with UDP GSO a sender kernel or NIC that \
               mishandles it (see udp-gso-superframes). The endpoints' qlog (`--qlog`) tells \
               which side lost them; when the qlog logs packets sent that the capture on that \
               host never shows (quic-qlog-mismatch), its own kernel dropped them."
            .into(),
        wireshark_filter: Some(format!(
            "{} && frame.time_delta_displayed > {:.3}",
            f.wireshark_filter(),
            (secs(shortest_longest) * 0.99).max(0.001)
        )),
        details: details(&Details {
            shape: worst.shape,
            side: who,
            stall_s: secs(worst.span_ns()),
            probes: worst.sends,
            gaps_s: gaps,
            answered: worst.answered,
            qlog: worst.logged,
            stalls: episodes.len(),
            unjudged_runs: c.more_stalls,
            usual_gap_s: secs(usual),
            threshold_s: secs(limit),
            packets: c.packets,
            path_rtt: keyed,
            runs: episodes
                .iter()
                .take(MAX_EVIDENCE)
                .map(|e| RunDetails {
                    shape: e.shape,
                    side: e.side.map(|s| f.role(s)),
                    first_frame: e.first_frame,
                    last_frame: e.last_frame,
                    probes: e.sends,
                    stall_s: secs(e.span_ns()),
                    longest_gap_s: secs(e.longest_gap),
                    answered: e.answered,
                    qlog: e.logged,
                })
                .collect(),
        }),
    }
}

/// "the server sent 4 probes over 2.1 s without an answer, each gap about twice the one
/// before (0.3 s, 0.6 s, 1.2 s), until the client answered".
fn sentence(e: &Episode, who: Option<&str>, gaps: &[f64]) -> String {
    let who = who.unwrap_or("client");
    let other = if who == "client" { "server" } else { "client" };
    let span = duration(e.span_ns() as f64 / 1e9);
    let end = if e.answered {
        format!("until the {other} answered")
    } else {
        "and the capture ended first".to_string()
    };
    match e.shape {
        Shape::Backoff => {
            let list: Vec<String> = gaps.iter().map(|&g| duration(g)).collect();
            format!(
                "the {who} sent {} probes over {span} without an answer, each gap at least 1.5 \
                 times the one before ({}), {end}",
                e.sends,
                list.join(", ")
            )
        }
        Shape::OneWay => match e.run.map(|r| r.run) {
            // Most of the run was a silence of both: say so, not "kept sending".
            Some(r) if 2 * r.last_ns.saturating_sub(r.last_send_ns) > r.span_ns() => format!(
                "the {who} sent {} times over {} and then neither side sent anything for {}, \
                 {end}",
                e.sends,
                duration(r.last_send_ns.saturating_sub(r.first_ns) as f64 / 1e9),
                duration(r.last_ns.saturating_sub(r.last_send_ns) as f64 / 1e9),
            ),
            _ => format!(
                "the {other} sent nothing for {span} while the {who} kept sending ({} sends), \
                 {end}",
                e.sends
            ),
        },
        Shape::Silent => format!(
            "neither side sent anything for {span} (frames {} to {})",
            e.first_frame, e.last_frame
        ),
    }
}

/// ", while the server's qlog logged 14 packets sent (none of them in the capture), 9 declared
/// lost and 3 probe timeouts".
fn said(e: &Episode, l: Logged) -> String {
    let c = l.counts;
    if c.sent + c.lost + c.probe_timeouts == 0 {
        return format!("; the {}'s qlog logged nothing in that time", l.endpoint);
    }
    let mut parts = Vec::new();
    let n = |v: u64, one: &str, many: &str| format!("{v} {}", if v == 1 { one } else { many });
    // The endpoint was silent in the capture: what it sent meanwhile never reached the tap.
    let unseen = e.shape == Shape::Silent || e.side != Some(l.side);
    if c.sent > 0 {
        let none = if unseen {
            if c.sent == 1 {
                " (not in the capture)"
            } else {
                " (none of them in the capture)"
            }
        } else {
            ""
        };
        parts.push(format!(
            "{}{none}",
            n(c.sent, "packet sent", "packets sent")
        ));
    }
    if c.lost > 0 {
        parts.push(n(c.lost, "packet declared lost", "packets declared lost"));
    }
    if c.probe_timeouts > 0 {
        parts.push(n(c.probe_timeouts, "probe timeout", "probe timeouts"));
    }
    let stall = if l.recovering() {
        ": loss recovery waiting out its timers, not an application pause"
    } else {
        ""
    };
    format!(
        ", while the {}'s qlog logged {}{stall}",
        l.endpoint,
        parts.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyed(pto_of: Option<&'static str>) -> Keyed {
        Keyed {
            min_s: 0.001,
            smoothed_s: 0.0082,
            pto_of,
            pto_s: pto_of.map(|_| 0.059),
            longest_wait_ptos: pto_of.map(|_| 38.2),
        }
    }

    #[test]
    fn the_keyed_clause_names_whose_timer_and_how_many_of_it() {
        assert_eq!(
            keyed(Some("server")).clause(Shape::OneWay),
            " The path's round trip is 8.2 ms (from the decrypted ACK frames): the server was \
             silent for 38 of its probe timeouts (about 59.0 ms each)."
        );
        assert_eq!(
            keyed(Some("client")).clause(Shape::Backoff),
            " The path's round trip is 8.2 ms (from the decrypted ACK frames): the client's probe \
             timeout is about 59.0 ms, and its longest wait was 38 of them."
        );
        // A silence of both: no side's timer to count in.
        assert_eq!(
            keyed(None).clause(Shape::Silent),
            " The path's round trip is 8.2 ms (from the decrypted ACK frames)."
        );
    }
}
