//! Two captures of one path (`--peer`): what each packet of a capture is, in terms that survive
//! the path between two capture points, and the index of the peer capture's packets.
//!
//! A packet is known at both points by what no hop rewrites: for TCP its sequence and
//! acknowledgment numbers, payload length, flags (without PSH, which GRO and TSO move) and the
//! IPv4 ID (the sender's, kept by routers and by Linux NAT; RFC 6864 §4.1); for UDP its payload
//! length and first bytes (a QUIC packet's protected header and payload are the same at every
//! point), and for UDP that is not QUIC the IPv4 ID too. Addresses and ports are not part of it: NAT rewrites them, and
//! flows are paired by the packets they share instead (`peer_match`). A tunnel's packet is known
//! by its inner packet.

use std::hash::{Hash, Hasher};

use rustc_hash::FxHasher;

use super::qlog_join::QlogJoin;
use crate::capture::Frame;
use crate::decode::{tcp_flags, Packet};
use crate::flow::{FlowKey, FlowRef, FlowTable, Side};

/// Packets indexed per capture at most: 48 bytes each (a test holds it), 96 MiB a capture. Past it the
/// rest of a capture is not compared, and the finding says so.
pub const MAX_RECORDS: usize = 2_000_000;

/// UDP payload bytes that identify a datagram (a QUIC short header, its packet number and the
/// start of the protected payload).
const UDP_PREFIX: usize = 64;

/// One packet of one capture, as the comparison needs it.
#[derive(Debug, Clone, Copy)]
pub struct Record {
    /// The packet's identity at any point of the path (see the module's comment).
    pub sig: u64,
    pub ts_ns: i64,
    /// 1-based frame number in its capture.
    pub frame: u64,
    /// Its flow's index (id - 1) in its capture, and the side that sent it.
    pub flow: u32,
    pub side: Side,
    /// TCP: sequence number (0 for UDP) and payload length, for coalescing, segmentation and
    /// packets changed on the way.
    pub seq: u32,
    pub len: u32,
    pub ttl: u8,
    /// IPv4 TOS / IPv6 traffic class: DSCP (upper six bits) and ECN (lower two).
    pub tos: u8,
    pub tcp: bool,
    /// The first fragment of a fragmented datagram (later fragments carry no port: no record).
    pub fragment: bool,
    /// IPv4 identification (none for IPv6): a GRO-merged frame keeps its first segment's, which
    /// tells which copy of resent data it carries ([`super::peer_loss`]).
    pub ip_id: Option<u16>,
}

/// The packets of one capture, in capture order, bounded by [`MAX_RECORDS`].
#[derive(Debug, Default)]
pub struct Index {
    /// The capture's name, as reports name it.
    pub name: String,
    pub records: Vec<Record>,
    /// Packets not indexed because the bound was reached.
    pub not_indexed: u64,
    /// The first and last timestamps of the capture's frames.
    pub first_ns: Option<i64>,
    pub last_ns: i64,
    /// Each flow's key by index, once the pass is over ([`Index::keep_keys`]): a NAT or a tunnel
    /// between the two points shows as keys that differ between paired flows.
    pub keys: Vec<FlowKey>,
    /// The peer capture's QUIC flows joined with the endpoints' qlogs (`--qlog`): flow index
    /// and joins, for the hop-by-hop account ([`super::peer_chain`]).
    pub joins: Vec<(u32, Vec<QlogJoin>)>,
}

impl Index {
    pub fn new(name: String) -> Self {
        Index {
            name,
            ..Index::default()
        }
    }

    /// Notes a frame; indexes it when it is a TCP or UDP packet of a flow.
    pub fn push(&mut self, frame: &Frame<'_>, pkt: &Packet, flow: Option<FlowRef>) {
        if frame.ts_known {
            self.first_ns.get_or_insert(frame.ts_ns);
            self.last_ns = self.last_ns.max(frame.ts_ns);
        }
        let Some(flow) = flow else { return };
        let Some(r) = record(frame, pkt, flow.quic) else {
            return;
        };
        if self.records.len() >= MAX_RECORDS {
            self.not_indexed += 1;
            return;
        }
        self.records.push(Record {
            flow: u32::try_from(flow.index).unwrap_or(u32::MAX),
            side: flow.side,
            ..r
        });
    }
}

impl Index {
    /// Keeps the flows' keys (addresses, ports, tunnel) of the capture just read.
    pub fn keep_keys(&mut self, flows: &FlowTable) {
        self.keys = flows.flows.iter().map(|f| f.key).collect();
    }

    /// The qlog joins of the flow of index `i` (none without `--qlog`).
    pub fn joins_of(&self, i: u32) -> &[QlogJoin] {
        self.joins
            .binary_search_by_key(&i, |(f, _)| *f)
            .map_or(&[], |k| self.joins[k].1.as_slice())
    }

    /// The key of the flow of index `i`.
    pub fn key(&self, i: u32) -> Option<&FlowKey> {
        self.keys.get(i as usize)
    }
}

/// A frame's record, without its flow (`quic`: it carries a QUIC connection); `None` for frames
/// that are not TCP or UDP.
fn record(frame: &Frame<'_>, pkt: &Packet, quic: bool) -> Option<Record> {
    let ip = pkt.ip.as_ref()?;
    let ip_id = if ip.version == 4 { ip.id } else { 0 };
    let mut h = FxHasher::default();
    let (seq, len, tcp) = if let Some(t) = &pkt.tcp {
        (
            t.seq,
            t.ack,
            t.payload_len,
            t.flags & !tcp_flags::PSH,
            ip_id,
        )
            .hash(&mut h);
        (t.seq, t.payload_len, true)
    } else {
        let u = pkt.udp.as_ref()?;
        let start = u.payload_offset as usize;
        let end = start.saturating_add(UDP_PREFIX).min(frame.data.len());
        let prefix = frame.data.get(start..end).unwrap_or(&[]);
        // Other UDP repeats payloads (DNS retries, keep-alives): the sender's IPv4 ID tells the
        // copies apart. QUIC needs none (every packet's protected bytes differ), and a QUIC
        // sender's GSO segments get IDs of the kernel's making.
        let id = if quic { 0 } else { ip_id };
        (u.payload_len, prefix, id, 17u8).hash(&mut h);
        (0, u.payload_len, false)
    };
    Some(Record {
        sig: h.finish(),
        ts_ns: frame.ts_ns,
        frame: frame.number,
        flow: 0,
        side: Side::A,
        seq,
        len,
        ttl: ip.ttl,
        tos: ip.tos,
        tcp,
        fragment: ip.mf || ip.frag_offset > 0,
        ip_id: (ip.version == 4).then_some(ip.id as u16),
    })
}
