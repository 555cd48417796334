//! The `quic` object of a UDP flow's report: what the QUIC view ([`crate::quic`]) saw.

use serde::Serialize;

use crate::analysis::qlog_join::QlogJoin;
use crate::flow::{Direction, Flow, Side};
use crate::quic::decrypt::{Decryption, DirDecryption};
use crate::quic::flow_control::StreamState;
use crate::quic::recovery::Loss;
use crate::quic::server::cipher_name;
use crate::quic::spin::{SpinDir, SpinState};
use crate::quic::{PacketCounts, QuicConn};

#[derive(Debug, Serialize)]
pub struct QuicReport {
    /// `"1"`, `"2"`, `"draft-29"` or the version in hex.
    pub version: String,
    /// The ClientHello's server name and ALPN protocols (from the decrypted client Initials).
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    /// Connection IDs in hex: the DCID of the client's first Initial, the client's SCID and the
    /// server's SCID (null until the server sent a long header).
    pub original_dcid: String,
    pub client_cid: String,
    pub server_cid: Option<String>,
    /// Packets by type per direction of the flow.
    pub c2s: PacketReport,
    pub s2c: PacketReport,
    pub initials_decrypted: u64,
    pub initials_undecryptable: u64,
    /// From the client's first Initial to the server's first packet, and to the client's first
    /// 1-RTT packet (its handshake is complete), in ms; null when not seen.
    pub server_first_ms: Option<f64>,
    pub handshake_ms: Option<f64>,
    /// From the client's first Initial to each side's first Handshake packet, in ms.
    pub client_handshake_packet_ms: Option<f64>,
    pub server_handshake_packet_ms: Option<f64>,
    /// The first RTT sample: a client Initial to the server Initial that acknowledged it, less
    /// the ACK delay the server reported (as the capture point saw them), and that delay, in ms.
    pub initial_rtt_ms: Option<f64>,
    pub initial_ack_delay_ms: Option<f64>,
    /// The ServerHello's TLS 1.3 cipher suite, by its IANA name.
    pub cipher_suite: Option<String>,
    pub server_initials_decrypted: u64,
    pub server_initials_undecryptable: u64,
    /// A CONNECTION_CLOSE read in a client Initial.
    pub close: Option<CloseReport>,
    /// The latency spin bit of each direction's short headers (RFC 9000 §17.4).
    pub spin: SpinReport,
    /// The endpoints' qlog traces of this connection (`--qlog`), joined with the capture.
    pub qlog: Vec<QlogJoin>,
    /// The connection's paths: this flow first, then the flows whose short headers carried its
    /// connection IDs (the client migrated, or a NAT rebound it). Filled by [`paths`].
    pub paths: Vec<PathReport>,
    /// With `--keylog`: the 1-RTT packets decrypted with the connection's logged secrets
    /// (absent without a key log, or before the handshake showed the client random and suite).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decryption: Option<DecryptionReport>,
    /// Datagrams of paths beyond the first 16, not counted.
    pub paths_not_kept: u64,
    /// A connection ID of zero length routes nothing (RFC 9000 §5.1.1): the connection is its
    /// 5-tuple, and a path change cannot be followed.
    pub zero_length_cid: bool,
}

/// `quic.decryption`: what the key log's secrets opened, per direction.
#[derive(Debug, Serialize)]
pub struct DecryptionReport {
    /// The key log held both sides' 1-RTT secrets for this connection (by its client random).
    pub secrets_found: bool,
    /// The server's transport parameters were read from its decrypted EncryptedExtensions.
    pub server_transport_parameters: bool,
    pub c2s: DirDecryptionReport,
    pub s2c: DirDecryptionReport,
}

/// One direction's decrypted packets, with what the other side's ACK frames said of them.
#[derive(Debug, Serialize)]
pub struct DirDecryptionReport {
    #[serde(flatten)]
    pub packets: DirDecryption,
    /// Handshake packets opened with the handshake secrets, and those that did not open.
    pub handshake_decrypted: u64,
    pub handshake_undecryptable: u64,
    /// This side's Handshake packets by what became of them, against the peer's Handshake ACK
    /// frames (a lost one costs the handshake a probe timeout).
    pub handshake_loss: Loss,
    /// This side's packets by what became of them (RFC 9002 loss detection at the capture
    /// point, [`crate::quic::recovery`]).
    pub loss: Loss,
    pub loss_rate: f64,
    /// RTT samples at the capture point from this side's packets and the peer's ACKs, ms.
    pub rtt: RttReport,
    /// This side's stream data against the peer's flow-control limits.
    pub flow_control: FlowControlReport,
}

/// `flow_control` of a direction's decryption ([`crate::quic::flow_control`]).
#[derive(Debug, Serialize)]
pub struct FlowControlReport {
    /// Time held at the peer's limit (to the connection's end when still held), ms.
    pub held_ms: f64,
    /// Times the side came to be held by the connection's limit (MAX_DATA) and by a stream's
    /// (MAX_STREAM_DATA).
    pub held_by_connection: u64,
    pub held_by_stream: u64,
    /// DATA_BLOCKED and STREAM_DATA_BLOCKED frames the side sent.
    pub blocked_frames: u64,
    /// The largest MAX_DATA and MAX_STREAM_DATA the peer sent, bytes (null: none seen).
    pub max_data: Option<u64>,
    pub max_stream_data: Option<u64>,
    /// The streams this side sent on, by ID: the first [`LISTED_STREAMS`], and how many in all.
    pub streams: Vec<StreamState>,
    pub streams_total: usize,
}

/// Streams listed per direction (a browser's connection may open hundreds).
pub const LISTED_STREAMS: usize = 32;

/// `rtt` of a direction's decryption: RFC 9002's estimator at the capture point, ms (null
/// without a sample).
#[derive(Debug, Serialize)]
pub struct RttReport {
    pub samples: u64,
    pub min_ms: Option<f64>,
    pub smoothed_ms: Option<f64>,
    pub latest_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

impl DirDecryptionReport {
    fn of(d: &Decryption, side: Side, end_ns: i64) -> Self {
        let fc = &d.flow[side];
        let streams = fc.streams();
        let rtt = d.recovery[side].rtt;
        let ms = |ns: i64| (rtt.samples > 0).then_some(ns as f64 / 1e6);
        let loss = d.recovery[side].loss();
        DirDecryptionReport {
            packets: d.dirs[side].clone(),
            handshake_decrypted: d.handshake.decrypted[side],
            handshake_loss: d.handshake.recovery[side].loss(),
            handshake_undecryptable: d.handshake.undecryptable[side],
            loss_rate: loss.rate(),
            loss,
            rtt: RttReport {
                samples: rtt.samples,
                min_ms: ms(rtt.min_ns),
                smoothed_ms: ms(rtt.smoothed_ns),
                latest_ms: ms(rtt.latest_ns),
                max_ms: ms(rtt.max_ns),
            },
            flow_control: FlowControlReport {
                held_ms: fc.held_until(end_ns) as f64 / 1e6,
                held_by_connection: fc.held_conn,
                held_by_stream: fc.held_stream,
                blocked_frames: fc.blocked_frames,
                max_data: fc.max_conn_limit,
                max_stream_data: fc.max_stream_limit,
                streams_total: streams.len(),
                streams: streams.into_iter().take(LISTED_STREAMS).collect(),
            },
        }
    }
}

/// One path of a QUIC connection: a UDP flow of its own 5-tuple.
#[derive(Debug, Serialize)]
pub struct PathReport {
    pub flow: u32,
    pub client: String,
    pub server: String,
    /// From the connection's first Initial, ms.
    pub first_ms: f64,
    pub last_ms: f64,
    pub datagrams: u64,
    pub bytes: u64,
}

/// The paths of the connection `q` seen on flow `f`, with `flows` the flow table's flows.
pub fn paths(f: &Flow, q: &QuicConn, flows: &[Flow]) -> Vec<PathReport> {
    let path = |g: &Flow, client: Side| {
        let ms = |t: i64| (t - q.first_initial_ns) as f64 / 1e6;
        let (a, b) = (&g.dirs[Side::A], &g.dirs[Side::B]);
        let first = [a, b]
            .iter()
            .filter(|d| d.frames > 0)
            .map(|d| d.first_ts_ns)
            .min();
        let last = [a, b]
            .iter()
            .filter(|d| d.frames > 0)
            .map(|d| d.last_ts_ns)
            .max();
        PathReport {
            flow: g.id,
            client: g.key.end(client).to_string(),
            server: g.key.end(client.other()).to_string(),
            first_ms: first.map_or(0.0, ms),
            last_ms: last.map_or(0.0, ms),
            datagrams: a.frames + b.frames,
            bytes: a.payload_bytes + b.payload_bytes,
        }
    };
    std::iter::once(path(f, q.client))
        .chain(
            q.paths
                .iter()
                .filter_map(|p| crate::flow::at(flows, p.flow).map(|g| path(g, p.client))),
        )
        .collect()
}

#[derive(Debug, Serialize)]
pub struct PacketReport {
    pub datagrams: u64,
    pub coalesced: u64,
    pub initial: u64,
    #[serde(rename = "0rtt")]
    pub zero_rtt: u64,
    pub handshake: u64,
    pub retry: u64,
    #[serde(rename = "1rtt")]
    pub one_rtt: u64,
    pub version_negotiation: u64,
    pub reserved_version: u64,
    /// UDP GSO super-datagrams (a capture on a sender using `UDP_SEGMENT`), the 1-RTT packets
    /// they held (counted in `1rtt`) and their segment size.
    pub gso_datagrams: u64,
    pub gso_segments: u64,
    pub gso_size: Option<u32>,
}

impl From<&PacketCounts> for PacketReport {
    fn from(c: &PacketCounts) -> Self {
        PacketReport {
            datagrams: c.datagrams,
            coalesced: c.coalesced,
            initial: c.initial,
            zero_rtt: c.zero_rtt,
            handshake: c.handshake,
            retry: c.retry,
            one_rtt: c.one_rtt,
            version_negotiation: c.version_negotiation,
            reserved_version: c.reserved_version,
            gso_datagrams: c.gso_datagrams,
            gso_segments: c.gso_segments,
            gso_size: c.gso_size,
        }
    }
}

/// The spin bit per direction: `c2s` is what the client sends.
#[derive(Debug, Serialize)]
pub struct SpinReport {
    pub c2s: SpinDirReport,
    pub s2c: SpinDirReport,
}

/// One direction's spin bit: whether the sender spins, and the RTT when it does.
#[derive(Debug, Serialize)]
pub struct SpinDirReport {
    /// `spinning`, `constant`, `random` or `unknown` (too few packets or edges to tell).
    pub state: SpinState,
    /// Short-header packets and changes of the bit seen.
    pub packets: u64,
    pub edges: u64,
    /// Times between consecutive edges, and their median and minimum in ms (null unless the
    /// bit spins).
    pub samples: u64,
    pub median_ms: Option<f64>,
    pub min_ms: Option<f64>,
}

impl SpinDirReport {
    fn of(d: &SpinDir, rtt_ns: Option<u64>) -> Self {
        let rtt = d.rtt(rtt_ns);
        SpinDirReport {
            state: d.state(rtt_ns),
            packets: d.packets,
            edges: d.edges,
            samples: d.samples(),
            median_ms: rtt.map(|(_, median, _)| median as f64 / 1e6),
            min_ms: rtt.map(|(_, _, min)| min as f64 / 1e6),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct CloseReport {
    /// The transport error code; 0x0100 + a TLS alert for a crypto error (RFC 9001 §4.8).
    pub code: u64,
    pub reason: String,
}

impl QuicReport {
    pub fn new(f: &Flow, q: &QuicConn) -> Self {
        let ms = |t: Option<i64>| t.map(|t| (t - q.first_initial_ns) as f64 / 1e6);
        let hello = q.hello.as_ref();
        let rtt_ns = q.spin_reference_rtt();
        QuicReport {
            version: q.version_name(),
            sni: hello.and_then(|h| h.sni.clone()),
            alpn: hello.map(|h| h.alpn.clone()).unwrap_or_default(),
            original_dcid: q.original_dcid.hex(),
            client_cid: q.client_cid.hex(),
            server_cid: q.server_cid.map(|c| c.hex()),
            c2s: (&q.packets[f.side_of(Direction::C2s)]).into(),
            s2c: (&q.packets[f.side_of(Direction::S2c)]).into(),
            initials_decrypted: q.initials_decrypted,
            initials_undecryptable: q.initials_undecryptable,
            server_first_ms: ms(q.first_server_ns),
            handshake_ms: ms(q.client_one_rtt_ns),
            client_handshake_packet_ms: ms(q.first_handshake_ns[q.client]),
            server_handshake_packet_ms: ms(q.first_handshake_ns[q.client.other()]),
            initial_rtt_ms: q.server.rtt.map(|r| r.rtt_ns as f64 / 1e6),
            initial_ack_delay_ms: q.server.rtt.map(|r| r.ack_delay_ns as f64 / 1e6),
            cipher_suite: q.server.cipher_suite.map(cipher_name),
            server_initials_decrypted: q.server.decrypted,
            server_initials_undecryptable: q.server.undecryptable,
            close: q.close.as_ref().map(|(code, reason)| CloseReport {
                code: *code,
                reason: reason.clone(),
            }),
            spin: SpinReport {
                c2s: SpinDirReport::of(&q.spin[f.side_of(Direction::C2s)], rtt_ns),
                s2c: SpinDirReport::of(&q.spin[f.side_of(Direction::S2c)], rtt_ns),
            },
            qlog: Vec::new(),
            paths: Vec::new(),
            decryption: q.decryption.as_deref().map(|d| DecryptionReport {
                secrets_found: d.secrets_found,
                server_transport_parameters: d.handshake.server_params.is_some(),
                c2s: DirDecryptionReport::of(d, f.side_of(Direction::C2s), f.last_ts_ns()),
                s2c: DirDecryptionReport::of(d, f.side_of(Direction::S2c), f.last_ts_ns()),
            }),
            paths_not_kept: q.paths_not_kept,
            zero_length_cid: q.client_cid.is_empty() || q.server_cid.is_some_and(|c| c.is_empty()),
        }
    }
}
