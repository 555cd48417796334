//! `quic-handshake-slow`: a QUIC handshake that completed, but took far more round trips than
//! the handshake needs, Retry and Version Negotiation accounted for.
//!
//! A QUIC 1-RTT handshake is one round trip (RFC 9000 §7, RFC 9001 §4.1): the client sends its
//! first 1-RTT packet once the server's Handshake flight has arrived. A Retry adds one round trip
//! (RFC 9000 §8.1.2), Version Negotiation one (§6); 0-RTT and resumption add nothing. What
//! stretches a handshake beyond that is a lost Initial or Handshake packet (the client waits a
//! probe timeout, 1 s before any RTT sample: RFC 9002 §6.2.2), a certificate chain held back by
//! the anti-amplification limit (§8.1: 3× what the server received until the client's address is
//! validated), or a busy server.
//!
//! The RTT has to be one the capture point cannot shrink. It is measured in two legs that add up
//! to at least the whole path's round trip wherever the capture was taken: the server's leg, the
//! client Initial to the server's ACK of it (the first sample, RFC 9002 §5.2, without ACK Delay
//! subtracted) or, when the server's Initials could not be read, to the server's first packet;
//! and the client's leg, the server's first packet to the client's first Handshake packet (which
//! it can send only once the server's flight has arrived, and must send at once: RFC 9000
//! §13.2.1). On the server's host the first leg is ~0 and the second is the round trip; on the
//! client's, the other way round.

use serde::Serialize;

use super::backoff::MIN_STALL_NS;
use super::kit::flow_filter;
use super::{details, Detector, Finding, Identity, Severity, Summary};
use crate::flow::Flow;
use crate::quic::path_rtt::PathRtt;
use crate::quic::QuicConn;
use crate::units::duration;

/// A handshake is slow when it takes more than this many times the round trips it needs …
/// (healthy handshakes to a large certificate chain take up to about 4: the first flight, up to
/// two more for a chain above the amplification limit or the initial window, and the client's
/// own processing — the Firefox-to-Google capture of the shared set takes 3.8).
pub const SLOW_FACTOR: i64 = 5;
/// … and at least this much longer than it needs (the pause users notice, as for stalls).
pub const MIN_EXTRA_NS: i64 = MIN_STALL_NS;

pub struct QuicHandshakeSlow;

impl Identity for QuicHandshakeSlow {
    const ID: &'static str = "quic-handshake-slow";
    const SEVERITY: Severity = Severity::Warning;
}

/// Where the RTT's server leg came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum RttSource {
    /// The server's ACK of a client Initial (decrypted server Initials).
    InitialAck,
    /// The server's first packet after the client's first Initial (an upper bound).
    FirstAnswer,
    /// With `--keylog`: the path's `min_rtt`, both legs of the decrypted 1-RTT ACK frames
    /// summed ([`PathRtt`]): no processing time in it, whoever was slow.
    AckFrames,
}

impl RttSource {
    /// How the message names the round trip.
    fn described(self) -> &'static str {
        match self {
            RttSource::AckFrames => " (the path's, from the decrypted ACK frames)",
            RttSource::InitialAck | RttSource::FirstAnswer => "",
        }
    }
}

/// The handshake's timing and what it should have taken.
struct Measure {
    handshake_ns: i64,
    rtt_ns: i64,
    source: RttSource,
    /// 1, plus 1 for a Retry, plus 1 for Version Negotiation.
    expected_rtts: u32,
    threshold_ns: i64,
    server_first_ns: i64,
}

impl Measure {
    fn of(q: &QuicConn) -> Option<Measure> {
        let handshake_ns = q.client_one_rtt_ns?.checked_sub(q.first_initial_ns)?;
        let first_server = q.first_server_ns?;
        let server_first_ns = first_server.checked_sub(q.first_initial_ns)?;
        let client_leg = q.first_handshake_ns[q.client]?.checked_sub(first_server)?;
        let (server_leg, source) = match q.server.rtt {
            Some(s) => (s.raw_ns, RttSource::InitialAck),
            None => (server_first_ns, RttSource::FirstAnswer),
        };
        let legs = server_leg.checked_add(client_leg)?;
        if handshake_ns <= 0 || legs <= 0 || server_leg < 0 || client_leg < 0 {
            return None;
        }
        let exact = q.decryption.as_deref().and_then(PathRtt::of);
        let (rtt_ns, source) = match exact {
            Some(p) if p.min_ns > 0 => (p.min_ns, RttSource::AckFrames),
            _ => (legs, source),
        };
        let server = &q.packets[q.client.other()];
        let expected_rtts =
            1 + u32::from(server.retry > 0) + u32::from(server.version_negotiation > 0);
        let expected = rtt_ns.saturating_mul(i64::from(expected_rtts));
        let threshold_ns = expected
            .saturating_mul(SLOW_FACTOR)
            .max(expected.saturating_add(MIN_EXTRA_NS));
        Some(Measure {
            handshake_ns,
            rtt_ns,
            source,
            expected_rtts,
            threshold_ns,
            server_first_ns,
        })
    }

    fn round_trips(&self) -> f64 {
        self.handshake_ns as f64 / self.rtt_ns as f64
    }

    /// Whether most of the time passed before the server's first packet.
    fn waited_for_server(&self) -> bool {
        self.server_first_ns.saturating_mul(2) > self.handshake_ns
    }
}

/// `details` of a `quic-handshake-slow` finding.
#[derive(Serialize)]
struct Details {
    version: String,
    sni: Option<String>,
    /// The client's first Initial to its first 1-RTT packet, seconds.
    handshake_s: f64,
    /// The round trip the handshake is measured against, and where its server leg came from.
    rtt_s: f64,
    rtt_source: RttSource,
    round_trips: f64,
    expected_round_trips: u32,
    retry: bool,
    version_negotiation: bool,
    /// The handshake time above which it is slow.
    threshold_s: f64,
    /// The client's first Initial to the server's first packet, seconds.
    server_first_s: f64,
    /// Client datagrams with an Initial, and those sent before the server's first packet.
    client_initials: u64,
    initials_before_answer: u64,
}

impl Detector for QuicHandshakeSlow {
    /// Judges the flows at the end: never called per frame.
    fn watches(&self) -> super::Watch {
        super::Watch::Nothing
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        s.flows
            .flows
            .iter()
            .filter_map(|f| Some((f, f.quic.as_deref()?)))
            .filter_map(|(f, q)| finding(f, q))
            .collect()
    }
}

fn finding(f: &Flow, q: &QuicConn) -> Option<Finding> {
    let m = Measure::of(q)?;
    if m.handshake_ns <= m.threshold_ns {
        return None;
    }
    let secs = |ns: i64| ns as f64 / 1e9;
    let server = &q.packets[q.client.other()];
    let sni = q.hello.as_ref().and_then(|h| h.sni.clone());
    let to = match &sni {
        Some(name) => format!("{} ({name})", f.key.end(q.client.other())),
        None => f.key.end(q.client.other()).to_string(),
    };
    Some(Finding {
        id: QuicHandshakeSlow::ID,
        severity: QuicHandshakeSlow::SEVERITY,
        flow: Some(f.id),
        frames: q.client_initials.frames(),
        frames_total: q.client_initials.total,
        message: format!(
            "The QUIC handshake of {} with {to} took {}: {:.0} round trips of {}{} where {} \
             should do ({}); the server's first packet came {} after the client's first \
             Initial, which the client sent {} time{} before it.",
            f.key.end(q.client),
            duration(secs(m.handshake_ns)),
            m.round_trips(),
            duration(secs(m.rtt_ns)),
            m.source.described(),
            m.expected_rtts,
            accounted(server.retry > 0, server.version_negotiation > 0),
            duration(secs(m.server_first_ns)),
            q.initials_before_answer,
            if q.initials_before_answer == 1 {
                ""
            } else {
                "s"
            },
        ),
        hint: hint(&m),
        wireshark_filter: flow_filter(f, "quic.header_form == 1"),
        details: details(&Details {
            version: q.version_name(),
            sni,
            handshake_s: secs(m.handshake_ns),
            rtt_s: secs(m.rtt_ns),
            rtt_source: m.source,
            round_trips: m.round_trips(),
            expected_round_trips: m.expected_rtts,
            retry: server.retry > 0,
            version_negotiation: server.version_negotiation > 0,
            threshold_s: secs(m.threshold_ns),
            server_first_s: secs(m.server_first_ns),
            client_initials: q.client_initials.total,
            initials_before_answer: q.initials_before_answer,
        }),
    })
}

/// "1 for the handshake, 1 for the Retry": what the expected round trips are made of.
fn accounted(retry: bool, vn: bool) -> String {
    let mut s = String::from("1 for the handshake");
    if retry {
        s.push_str(", 1 for the Retry");
    }
    if vn {
        s.push_str(", 1 for Version Negotiation");
    }
    s
}

fn hint(m: &Measure) -> String {
    if m.waited_for_server() {
        "Most of the time passed before the server's first packet: the client's Initials were \
         lost (each loss costs a probe timeout, 1 s before any RTT sample, RFC 9002 §6.2.2) or \
         the server was slow to answer (CPU, a full receive queue: `netstat -su` on it). Look \
         for UDP drops between the client and the server."
            .into()
    } else {
        "Most of the time passed after the server's first packet: its Handshake flight waited. \
         Lost Handshake packets wait a probe timeout; a certificate chain larger than 3× the \
         client's first datagram waits a round trip for the client's next one (the \
         anti-amplification limit, RFC 9000 §8.1: shorten the chain or compress it, RFC 8879); \
         a busy server signs late (its CPU)."
            .into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::Side;
    use crate::quic::server::RttSample;

    const MS: i64 = 1_000_000;

    /// A client Initial's first bytes (RFC 9000 §17.2.2): v1, an 8-byte DCID, no SCID or token.
    fn conn() -> Box<QuicConn> {
        let mut b = vec![
            0xC3, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0x44, 0x9E,
        ];
        b.resize(1200, 0);
        QuicConn::start(Side::A, &b, 0).expect("an Initial")
    }

    /// The handshake's times: server's first packet, client's first Handshake, first 1-RTT.
    fn timed(server_first: i64, client_hs: i64, done: i64) -> Box<QuicConn> {
        let mut q = conn();
        q.first_server_ns = Some(server_first);
        q.first_handshake_ns[Side::A] = Some(client_hs);
        q.client_one_rtt_ns = Some(done);
        q
    }

    #[test]
    fn on_the_servers_host_the_clients_leg_is_the_round_trip() {
        // Captured at the server: its ACK is instant, the client's Handshake a 250 ms trip later.
        let mut q = timed(MS / 10, 250 * MS, 1000 * MS);
        q.server.rtt = Some(RttSample {
            raw_ns: MS / 10,
            rtt_ns: 0,
            ack_delay_ns: MS / 10,
        });
        let m = Measure::of(&q).expect("measured");
        assert_eq!(m.source, RttSource::InitialAck);
        assert_eq!(m.rtt_ns, 250 * MS);
        assert!(
            m.handshake_ns <= m.threshold_ns,
            "4 round trips are healthy"
        );
        // The same handshake taking 2 s is slow.
        q.client_one_rtt_ns = Some(2000 * MS);
        let m = Measure::of(&q).expect("measured");
        assert!(m.handshake_ns > m.threshold_ns);
    }

    #[test]
    fn with_keys_the_paths_round_trip_replaces_the_legs() {
        use crate::quic::decrypt::Decryption;
        use crate::quic::rtt::Rtt;
        // Legs of 300 ms (a server that took 280 ms to answer), a path of 20 ms: 500 ms is 25
        // round trips, past max(5 × 20 ms, 20 ms + 200 ms).
        let mut q = timed(290 * MS, 300 * MS, 500 * MS);
        let legs = Measure::of(&q).expect("measured");
        assert_eq!(
            (legs.source, legs.rtt_ns),
            (RttSource::FirstAnswer, 300 * MS)
        );
        assert!(
            legs.handshake_ns <= legs.threshold_ns,
            "2 round trips of the legs"
        );
        let mut d = Decryption::new(None, 0x1301, 1, Side::A);
        d.secrets_found = true;
        for (side, min) in [(Side::A, 5 * MS), (Side::B, 15 * MS)] {
            d.recovery[side].rtt = Rtt {
                samples: 4,
                min_ns: min,
                smoothed_ns: min,
                ..Rtt::default()
            };
        }
        q.decryption = Some(Box::new(d));
        let m = Measure::of(&q).expect("measured");
        assert_eq!((m.source, m.rtt_ns), (RttSource::AckFrames, 20 * MS));
        assert_eq!(m.threshold_ns, 220 * MS);
        assert!(m.handshake_ns > m.threshold_ns);
        assert!(
            m.waited_for_server(),
            "the time went before the server's first packet"
        );
        // One leg never sampled: back to the legs.
        if let Some(d) = q.decryption.as_deref_mut() {
            d.recovery[Side::B].rtt = Rtt::default();
        }
        assert_eq!(
            Measure::of(&q).map(|m| m.source),
            Some(RttSource::FirstAnswer)
        );
    }

    #[test]
    fn retry_and_version_negotiation_add_a_round_trip_each() {
        let mut q = timed(20 * MS, 21 * MS, 30 * MS);
        assert_eq!(Measure::of(&q).map(|m| m.expected_rtts), Some(1));
        q.packets[Side::B].retry = 1;
        assert_eq!(Measure::of(&q).map(|m| m.expected_rtts), Some(2));
        q.packets[Side::B].version_negotiation = 2;
        let m = Measure::of(&q).expect("measured");
        assert_eq!(m.expected_rtts, 3);
        // 3 round trips of 21 ms: 5 times is 315 ms, more than 63 ms + 200 ms.
        assert_eq!(m.threshold_ns, 315 * MS);
        assert_eq!(
            accounted(true, true),
            "1 for the handshake, 1 for the Retry, 1 for Version Negotiation"
        );
    }

    #[test]
    fn no_trustworthy_round_trip_no_judgement() {
        // No client Handshake packet, or times going backwards: nothing to measure against.
        let mut q = timed(20 * MS, 21 * MS, 2000 * MS);
        q.first_handshake_ns[Side::A] = None;
        assert!(Measure::of(&q).is_none());
        let q = timed(20 * MS, 10 * MS, 2000 * MS);
        assert!(
            Measure::of(&q).is_none(),
            "client Handshake before the server's packet"
        );
        let q = timed(0, 0, 2000 * MS);
        assert!(Measure::of(&q).is_none(), "a zero round trip");
    }
}
