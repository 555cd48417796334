//! `quic-handshake-failed`: a QUIC client kept sending Initial packets and the server never
//! answered, or answered only with Version Negotiation or Retry packets while the client kept
//! starting over.
//!
//! A client resends its Initial when its probe timer fires (RFC 9002 §6.2: 1 s at first with no
//! RTT sample, doubling each time), so unanswered Initials come as a retry train with growing
//! gaps. Browsers then fall back to TCP: the page loads, a second later, and QUIC is silently lost.

use std::net::IpAddr;

use rustc_hash::FxHashSet;
use serde::Serialize;

use super::kit::flow_filter;
use super::{details, Detector, Finding, Identity, Severity, Summary};
use crate::flow::{Flow, Side};
use crate::quic::QuicConn;

/// Client datagrams with an Initial before the missing answer is a failure: the first and at
/// least one resend (one unanswered Initial may just be the last packet of the capture).
pub const MIN_INITIALS: u64 = 2;

pub struct QuicHandshakeFailed;

impl Identity for QuicHandshakeFailed {
    const ID: &'static str = "quic-handshake-failed";
    const SEVERITY: Severity = Severity::Warning;
}

/// How the handshake failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
enum Failure {
    /// The server sent nothing at all.
    Unanswered,
    /// The server sent only Version Negotiation packets.
    VersionNegotiation,
    /// The server sent only Retry packets, and the client never got further.
    RetryLoop,
}

/// `details` of a `quic-handshake-failed` finding.
#[derive(Serialize)]
struct Details {
    failure: Failure,
    version: String,
    sni: Option<String>,
    client_initials: u64,
    /// From the client's first Initial to its last, seconds.
    initials_span_s: f64,
    server_datagrams: u64,
}

impl Detector for QuicHandshakeFailed {
    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let answered = addresses_answered(s);
        s.flows
            .flows
            .iter()
            .filter_map(|f| Some((f, f.quic.as_deref()?)))
            .filter_map(|(f, q)| finding(f, q, &answered))
            .collect()
    }
}

/// Addresses that some flow of the capture shows packets sent to: a capture that holds no
/// packet towards the client at all is one-way (`tcpdump -Q out`), and says nothing about
/// answers.
fn addresses_answered(s: &Summary<'_>) -> FxHashSet<IpAddr> {
    let mut out = FxHashSet::default();
    for f in &s.flows.flows {
        for side in Side::BOTH {
            if f.dirs[side].frames > 0 {
                out.insert(f.key.end(side.other()).addr);
            }
        }
    }
    out
}

fn failure(f: &Flow, q: &QuicConn) -> Option<Failure> {
    let server = &q.packets[q.client.other()];
    let client = &q.packets[q.client];
    let client_got_further = client.handshake + client.one_rtt + client.zero_rtt > 0;
    if f.dirs[q.client.other()].frames == 0 {
        Some(Failure::Unanswered)
    } else if q.probe() {
        // A version negotiation probe that the server answered did what it was for.
        None
    } else if server.datagrams == server.version_negotiation && server.datagrams > 0 {
        Some(Failure::VersionNegotiation)
    } else if server.datagrams == server.retry && server.datagrams > 0 && !client_got_further {
        // One Retry is normal (address validation); a client still sending only Initials
        // after every Retry never completed.
        (server.retry >= 2).then_some(Failure::RetryLoop)
    } else {
        None
    }
}

fn finding(f: &Flow, q: &QuicConn, answered: &FxHashSet<IpAddr>) -> Option<Finding> {
    let initials = q.client_initials.total;
    let (client, server) = (f.key.end(q.client), f.key.end(q.client.other()));
    if initials < MIN_INITIALS || !answered.contains(&client.addr) {
        return None;
    }
    let how = failure(f, q)?;
    let span = (q.last_initial_ns - q.first_initial_ns) as f64 / 1e9;
    let sni = q.hello.as_ref().and_then(|h| h.sni.clone());
    let to = match &sni {
        Some(name) => format!("{server} ({name})"),
        None => server.to_string(),
    };
    let what = match how {
        Failure::Unanswered if q.probe() => format!(
            "the server never answered. The client offered only the reserved version {}: a \
             version negotiation probe (RFC 9000 §15), which a server should answer with \
             Version Negotiation",
            q.version_name()
        ),
        Failure::Unanswered => "the server never answered: the handshake failed".to_string(),
        Failure::VersionNegotiation => format!(
            "the server answered only with Version Negotiation (it does not speak version {}): \
             the handshake failed",
            q.version_name()
        ),
        Failure::RetryLoop => {
            "the server answered only with Retry packets: the handshake failed".to_string()
        }
    };
    Some(Finding {
        id: QuicHandshakeFailed::ID,
        // A probe tests the server's negotiation, not a connection anyone waits for.
        severity: if q.probe() {
            Severity::Info
        } else {
            QuicHandshakeFailed::SEVERITY
        },
        flow: Some(f.id),
        frames: q.client_initials.frames(),
        message: format!(
            "The QUIC client {client} sent {initials} Initial packets to {to} over {span:.1} s \
             and {what}."
        ),
        hint: match how {
            Failure::Unanswered if q.probe() => {
                "Expected from interop tests and version-probing clients: this server does not \
                 answer unknown versions (or UDP to it is dropped). If real clients fail too, \
                 check the path for UDP drops."
            }
            Failure::Unanswered => {
                "UDP to this port is dropped on the path (a firewall or middlebox blocking QUIC) \
                 or nothing listens there; clients then fall back to TCP. Check for a TCP \
                 connection to the same server, and test with `curl --http3-only`."
            }
            Failure::VersionNegotiation => {
                "Client and server share no QUIC version: update one of them, or configure the \
                 client to offer the server's versions."
            }
            Failure::RetryLoop => {
                "The client does not use the Retry's token or connection ID correctly, or a \
                 middlebox rewrites the client's address between attempts."
            }
        }
        .to_string(),
        // Wireshark names no packet type for a version it does not know.
        wireshark_filter: flow_filter(
            f,
            if q.probe() {
                "quic"
            } else {
                "quic.long.packet_type == 0"
            },
        ),
        details: details(&Details {
            failure: how,
            version: q.version_name(),
            sni,
            client_initials: initials,
            initials_span_s: span,
            server_datagrams: f.dirs[q.client.other()].frames,
        }),
    })
}
