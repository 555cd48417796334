//! `quic-handshake-failed`: a QUIC client kept sending Initial packets and the server never
//! answered, or answered only with Version Negotiation or Retry packets while the client kept
//! starting over.
//!
//! A client resends its Initial when its probe timer fires (RFC 9002 §6.2: 1 s at first with no
//! RTT sample, doubling each time), so unanswered Initials come as a retry train with growing
//! gaps. Browsers then fall back to TCP: the page loads, a second later, and QUIC is silently lost.
//!
//! Silence from the server means something only when the capture shows the way back: packets
//! sent to the client, packets sent by the server's address, or ICMP errors quoting the
//! client's datagrams (RFC 792, RFC 4443: "port unreachable" is how a host says that nothing
//! listens on a UDP port, RFC 1122 §4.1.3.1). A one-way capture (`tcpdump -Q out`) cannot tell.

use std::net::IpAddr;

use rustc_hash::FxHashSet;
use serde::Serialize;

use super::kit::flow_filter;
use super::{details, Detector, Finding, Identity, Severity, Summary};
use crate::decode::icmp::IcmpKind;
use crate::evidence::MAX_EVIDENCE;
use crate::flow::{Flow, IcmpErrors, Side};
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
    /// The server sent no datagram, and ICMP errors came back about the client's.
    IcmpError,
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
    /// The ICMP errors about the client's datagrams, when there were any.
    #[serde(skip_serializing_if = "Option::is_none")]
    icmp: Option<IcmpDetails>,
}

/// The ICMP errors of an `icmp-error` failure.
#[derive(Serialize)]
struct IcmpDetails {
    /// The most frequent kind (`port-unreachable`, `host-unreachable`, ...), and its count.
    kind: &'static str,
    count: u64,
    /// Errors of every kind.
    total: u64,
    /// The sender of the first error.
    from: Option<String>,
}

impl Detector for QuicHandshakeFailed {
    /// Judges the flows at the end: never called per frame.
    fn watches(&self) -> super::Watch {
        super::Watch::Nothing
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let seen = Seen::of(s);
        s.flows
            .flows
            .iter()
            .filter_map(|f| Some((f, f.quic.as_deref()?)))
            .filter_map(|(f, q)| finding(f, q, &seen))
            .collect()
    }
}

/// Addresses that some flow of the capture shows packets sent to, and sent from: a capture that
/// holds no packet towards the client and none from the server is one-way (`tcpdump -Q out`),
/// and says nothing about answers.
struct Seen {
    receivers: FxHashSet<IpAddr>,
    senders: FxHashSet<IpAddr>,
}

impl Seen {
    fn of(s: &Summary<'_>) -> Seen {
        let mut seen = Seen {
            receivers: FxHashSet::default(),
            senders: FxHashSet::default(),
        };
        for f in &s.flows.flows {
            for side in Side::BOTH {
                if f.dirs[side].frames > 0 {
                    seen.receivers.insert(f.key.end(side.other()).addr);
                    seen.senders.insert(f.key.end(side).addr);
                }
            }
        }
        seen
    }

    /// Whether the capture shows the way from the server back to the client of `f`.
    fn reverse_path(&self, f: &Flow, q: &QuicConn) -> bool {
        let (client, server) = (f.key.end(q.client), f.key.end(q.client.other()));
        self.receivers.contains(&client.addr)
            || self.senders.contains(&server.addr)
            || f.icmp_about(q.client).is_some()
    }
}

fn failure(f: &Flow, q: &QuicConn) -> Option<Failure> {
    let server = &q.packets[q.client.other()];
    let client = &q.packets[q.client];
    let client_got_further = client.handshake + client.one_rtt + client.zero_rtt > 0;
    if f.dirs[q.client.other()].frames == 0 {
        Some(match f.icmp_about(q.client) {
            Some(_) => Failure::IcmpError,
            None => Failure::Unanswered,
        })
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

fn finding(f: &Flow, q: &QuicConn, seen: &Seen) -> Option<Finding> {
    let initials = q.client_initials.total;
    if initials < MIN_INITIALS || !seen.reverse_path(f, q) {
        return None;
    }
    let how = failure(f, q)?;
    let (client, server) = (f.key.end(q.client), f.key.end(q.client.other()));
    let icmp = f.icmp_about(q.client);
    let span = (q.last_initial_ns - q.first_initial_ns) as f64 / 1e9;
    let sni = q.hello.as_ref().and_then(|h| h.sni.clone());
    let to = match &sni {
        Some(name) => format!("{server} ({name})"),
        None => server.to_string(),
    };
    let mut frames = q.client_initials.frames();
    // Initials and ICMP errors are different frames: their totals add up.
    let frames_total = q.client_initials.total + icmp.map_or(0, |e| e.frames.total);
    if let Some(e) = icmp {
        frames.extend(e.frames.frames());
        frames.sort_unstable();
        frames.truncate(MAX_EVIDENCE);
    }
    Some(Finding {
        id: QuicHandshakeFailed::ID,
        // A probe tests the server's negotiation, not a connection anyone waits for.
        severity: if q.probe() {
            Severity::Info
        } else {
            QuicHandshakeFailed::SEVERITY
        },
        flow: Some(f.id),
        frames,
        frames_total,
        message: format!(
            "The QUIC client {client} sent {initials} Initial packets to {to} over {span:.1} s \
             and {}.",
            what(how, q, f, icmp)
        ),
        hint: hint(how, q, f, icmp),
        wireshark_filter: flow_filter(f, filter(how, q)),
        details: details(&Details {
            failure: how,
            version: q.version_name(),
            sni,
            client_initials: initials,
            initials_span_s: span,
            server_datagrams: f.dirs[q.client.other()].frames,
            icmp: icmp.map(icmp_details),
        }),
    })
}

/// What the handshake's end looked like, for the message.
fn what(how: Failure, q: &QuicConn, f: &Flow, icmp: Option<&IcmpErrors>) -> String {
    match (how, icmp) {
        (Failure::IcmpError, Some(e)) => icmp_sentence(e, q, f),
        (Failure::Unanswered | Failure::IcmpError, _) if q.probe() => format!(
            "the server never answered. The client offered only the reserved version {}: a \
             version negotiation probe (RFC 9000 §15), which a server should answer with \
             Version Negotiation",
            q.version_name()
        ),
        (Failure::Unanswered | Failure::IcmpError, _) => {
            "the server never answered: the handshake failed".to_string()
        }
        (Failure::VersionNegotiation, _) => format!(
            "the server answered only with Version Negotiation (it does not speak version {}): \
             the handshake failed",
            q.version_name()
        ),
        (Failure::RetryLoop, _) => {
            "the server answered only with Retry packets: the handshake failed".to_string()
        }
    }
}

/// "every Initial was answered by ICMP port unreachable from 10.0.0.2: nothing listens on UDP
/// 443".
fn icmp_sentence(e: &IcmpErrors, q: &QuicConn, f: &Flow) -> String {
    let server = f.key.end(q.client.other());
    let Some((kind, n)) = e.main_kind() else {
        return "the server never answered".to_string();
    };
    let initials = q.client_initials.total;
    let share = if n >= initials {
        "every Initial was".to_string()
    } else {
        format!("{n} of them were")
    };
    let icmp = if server.addr.is_ipv4() {
        "ICMP"
    } else {
        "ICMPv6"
    };
    let from = match e.reporter {
        Some(a) if a == server.addr => format!(" from {a}"),
        Some(a) => format!(" from {a} (on the path, not the server)"),
        None => String::new(),
    };
    let others = if e.total() > n {
        format!(" ({} more ICMP errors of other kinds)", e.total() - n)
    } else {
        String::new()
    };
    let meaning = match kind {
        IcmpKind::PortUnreachable => format!(": nothing listens on UDP {}", server.port),
        IcmpKind::PacketTooBig => match e.min_mtu {
            Some(m) => format!(
                ": the path MTU of {m} bytes is too small for QUIC's 1200-byte Initials \
                 (RFC 9000 §14)"
            ),
            None => ": the path cannot carry QUIC's 1200-byte Initials (RFC 9000 §14)".into(),
        },
        IcmpKind::AdminProhibited => ": a filter on the path refuses the datagrams".into(),
        IcmpKind::TimeExceeded => ": the datagrams expire on the path (a routing loop)".into(),
        _ => ": the server cannot be reached".into(),
    };
    format!(
        "{share} answered by {icmp} {}{from}{meaning}{others}",
        kind.describe()
    )
}

fn hint(how: Failure, q: &QuicConn, f: &Flow, icmp: Option<&IcmpErrors>) -> String {
    let port = f.key.end(q.client.other()).port;
    match (how, icmp.and_then(IcmpErrors::main_kind)) {
        (Failure::IcmpError, Some((IcmpKind::PortUnreachable, _))) if !q.probe() => format!(
            "Start the QUIC server on UDP {port}, or fix the port the client was given (an \
             Alt-Svc header or HTTPS DNS record advertising h3 on a port nothing serves); \
             clients fall back to TCP meanwhile."
        ),
        (Failure::IcmpError, Some((IcmpKind::PacketTooBig, _))) if !q.probe() => {
            "QUIC needs a path MTU of at least 1200 bytes of UDP payload (RFC 9000 §14): raise \
             the MTU of the tunnel or link that reported it."
                .into()
        }
        (Failure::IcmpError, _) if !q.probe() => {
            "The ICMP errors name the hop that refused the datagrams: check its routes and \
             filters for UDP to this port."
                .into()
        }
        (Failure::IcmpError, _) => {
            "Expected from interop tests and version-probing clients; the ICMP errors say that \
             the server's port is closed or filtered, not that it refused the version."
                .into()
        }
        (Failure::Unanswered, _) if q.probe() => {
            "Expected from interop tests and version-probing clients: this server does not \
             answer unknown versions (or UDP to it is dropped). If real clients fail too, \
             check the path for UDP drops."
                .into()
        }
        (Failure::Unanswered, _) => {
            "UDP to this port is dropped on the path (a firewall or middlebox blocking QUIC) \
             or nothing listens there; clients then fall back to TCP. Check for a TCP \
             connection to the same server, and test with `curl --http3-only`."
                .into()
        }
        (Failure::VersionNegotiation, _) => {
            "Client and server share no QUIC version: update one of them, or configure the \
             client to offer the server's versions."
                .into()
        }
        (Failure::RetryLoop, _) => {
            "The client does not use the Retry's token or connection ID correctly, or a \
             middlebox rewrites the client's address between attempts."
                .into()
        }
    }
}

/// Wireshark names no packet type for a version it does not know; the ICMP errors quote the
/// flow's ports, so the flow filter shows them too.
fn filter(how: Failure, q: &QuicConn) -> &'static str {
    match how {
        Failure::IcmpError => "(quic || icmp || icmpv6)",
        _ if q.probe() => "quic",
        _ => "quic.long.packet_type == 0",
    }
}

fn icmp_details(e: &IcmpErrors) -> IcmpDetails {
    let (kind, count) = e.main_kind().map_or(("none", 0), |(k, n)| (k.as_str(), n));
    IcmpDetails {
        kind,
        count,
        total: e.total(),
        from: e.reporter.map(|a| a.to_string()),
    }
}
