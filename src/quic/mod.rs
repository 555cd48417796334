//! QUIC connections seen in a UDP flow: versions, connection IDs, packet types per side, the
//! handshake's timing, and what the client's Initial packets say once their public protection is
//! removed (the ClientHello's server name and ALPN, RFC 9001 §5.2). Fed once per UDP datagram
//! of a flow that began with a QUIC long header, in the single pass.
//!
//! Decryption happens in a fixed buffer on the stack and only for the client's Initials (a
//! handful per connection: the ClientHello, then any CONNECTION_CLOSE), so the cost of every
//! other datagram is a header walk.

pub mod decrypt;
pub mod flow_control;
pub mod frames;
pub mod gso;
pub mod handshake;
pub mod hello;
pub mod initial;
pub mod keylog;
pub mod path_rtt;
pub mod protection;
pub mod recovery;
pub mod rtt;
pub mod server;
pub mod spin;
pub mod trace;
pub mod transport_params;
pub mod zero_rtt;

use crate::decode::quic::{self, LongHeader, LongType, QuicPacket, MAX_CID_LEN};
use crate::evidence::Evidence;
use crate::flow::side::{PerSide, Side};
use frames::Frame;
use hello::{Hello, HelloBuffer};
use initial::{InitialKeys, Sender, MAX_PACKET};
use server::{SentInitials, ServerInitials};
use spin::SpinDir;

/// A client's first datagram is at least this large (RFC 9000 §14.1), so that a server may
/// answer a version it does not know with Version Negotiation (§6.1).
pub const MIN_INITIAL_DATAGRAM: usize = 1200;

/// A connection ID (up to 20 bytes), stored inline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Cid {
    len: u8,
    bytes: [u8; MAX_CID_LEN],
}

impl Cid {
    pub fn of(b: &[u8]) -> Cid {
        let mut c = Cid::default();
        let n = b.len().min(MAX_CID_LEN);
        c.bytes[..n].copy_from_slice(&b[..n]);
        c.len = n as u8;
        c
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Lower-case hex, as Wireshark shows connection IDs.
    pub fn hex(&self) -> String {
        self.as_bytes().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// Packets of one side by type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PacketCounts {
    pub initial: u64,
    pub zero_rtt: u64,
    pub handshake: u64,
    pub retry: u64,
    pub one_rtt: u64,
    pub version_negotiation: u64,
    /// Long headers of a reserved version (a version negotiation probe).
    pub reserved_version: u64,
    /// Datagrams with at least one QUIC packet, and those holding more than one (coalesced).
    pub datagrams: u64,
    pub coalesced: u64,
    /// UDP GSO super-datagrams ([`gso`]), the 1-RTT packets they held, and the segment size of
    /// the last one.
    pub gso_datagrams: u64,
    pub gso_segments: u64,
    pub gso_size: Option<u32>,
}

impl PacketCounts {
    /// QUIC packets of every type (the segments of a super-datagram each count).
    pub fn packets(&self) -> u64 {
        self.initial
            + self.zero_rtt
            + self.handshake
            + self.retry
            + self.one_rtt
            + self.version_negotiation
            + self.reserved_version
    }

    fn count(&mut self, p: &QuicPacket<'_>) {
        match p {
            QuicPacket::VersionNegotiation { .. } => self.version_negotiation += 1,
            QuicPacket::Short { .. } => self.one_rtt += 1,
            QuicPacket::Reserved { .. } => self.reserved_version += 1,
            QuicPacket::Long(h) => match h.kind {
                LongType::Initial => self.initial += 1,
                LongType::ZeroRtt => self.zero_rtt += 1,
                LongType::Handshake => self.handshake += 1,
                LongType::Retry => self.retry += 1,
            },
        }
    }
}

/// Other paths of a connection kept, at most (each a flow of its own 5-tuple).
pub const MAX_PATHS: usize = 16;

/// Another path of the connection: a UDP flow (another 5-tuple: the client migrated, or a NAT
/// rebound its port) whose short-header packets carry one of the connection's IDs. Its
/// addresses, times and counts are that flow's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuicPath {
    /// The flow's index in the flow table.
    pub flow: usize,
    /// Which side of that flow is the QUIC client.
    pub client: Side,
}

/// The QUIC view of one UDP flow.
#[derive(Debug, Clone)]
pub struct QuicConn {
    /// The side that sent the first Initial.
    pub client: Side,
    /// The version of the client's first Initial.
    pub version: u32,
    /// The DCID of the client's first Initial (the Initial keys' input), the client's SCID and
    /// the server's SCID (from its first long header).
    pub original_dcid: Cid,
    pub client_cid: Cid,
    pub server_cid: Option<Cid>,
    pub packets: PerSide<PacketCounts>,
    /// Client Initials decrypted, and those that did not authenticate.
    pub initials_decrypted: u64,
    pub initials_undecryptable: u64,
    /// Times (ns): the client's first Initial, the server's first packet, each side's first
    /// Handshake packet, the client's first 1-RTT packet (the handshake is done on its side,
    /// RFC 9001 §4.1.2: it sends 1-RTT only once it has the server's Finished).
    pub first_initial_ns: i64,
    pub first_server_ns: Option<i64>,
    pub first_handshake_ns: PerSide<Option<i64>>,
    pub client_one_rtt_ns: Option<i64>,
    /// The server's Initials: the first RTT sample and the cipher suite.
    pub server: ServerInitials,
    /// The spin bit of each side's short-header packets ([`spin`]).
    pub spin: PerSide<SpinDir>,
    sent_initials: SentInitials,
    /// The DCID the Initial keys derive from: the client's first, or the Retry's SCID.
    keys_dcid: Cid,
    /// The connection's other paths (migration, NAT rebinding), the first [`MAX_PATHS`], and the
    /// datagrams of paths beyond them (not counted in `packets`).
    pub paths: Vec<QuicPath>,
    pub paths_not_kept: u64,
    /// Which of the connection's IDs the flow table knows already (client's, server's).
    pub cids_indexed: (bool, bool),
    /// The client's datagrams that carried an Initial, and the time of the last one.
    pub client_initials: Evidence,
    pub last_initial_ns: i64,
    /// Of those datagrams, the ones sent before the server's first packet (1, or 2 for a
    /// ClientHello too large for one: more are resends after a probe timeout).
    pub initials_before_answer: u64,
    pub hello: Option<Hello>,
    /// A CONNECTION_CLOSE read in an Initial: (error code, reason).
    pub close: Option<(u64, String)>,
    keys: Option<Box<InitialKeys>>,
    /// The SCID of the server's Retry: the client's Initials after it use it as their DCID,
    /// and the Initial keys derive from it (RFC 9001 §5.2). Any other DCID change (the client
    /// switching to the server's SCID once it answered) keeps the keys.
    retry_cid: Option<Cid>,
    crypto: Option<HelloBuffer>,
    /// With a key log (`--keylog`): the 1-RTT packets decrypted ([`decrypt`]).
    pub decryption: Option<Box<decrypt::Decryption>>,
    /// With a key log: the client's 0-RTT packets seen before the suite was known.
    zero_rtt_waiting: Option<Box<zero_rtt::Waiting>>,
}

impl QuicConn {
    /// Starts the QUIC view of a flow whose datagram from `side` begins with a client Initial
    /// of a known version, or with a reserved version's long header in a datagram of at least
    /// [`MIN_INITIAL_DATAGRAM`] bytes (a version negotiation probe).
    pub fn start(side: Side, payload: &[u8], ts_ns: i64) -> Option<Box<QuicConn>> {
        let (version, dcid, scid) = match quic::packets(payload).next()?.0 {
            QuicPacket::Long(h) if h.kind == LongType::Initial => (h.version, h.dcid, h.scid),
            QuicPacket::Reserved {
                version,
                dcid,
                scid,
            } if payload.len() >= MIN_INITIAL_DATAGRAM => (version, dcid, scid),
            _ => return None,
        };
        Some(Box::new(QuicConn {
            client: side,
            version,
            original_dcid: Cid::of(dcid),
            client_cid: Cid::of(scid),
            server_cid: None,
            packets: PerSide::default(),
            initials_decrypted: 0,
            initials_undecryptable: 0,
            first_initial_ns: ts_ns,
            first_server_ns: None,
            first_handshake_ns: PerSide::default(),
            client_one_rtt_ns: None,
            server: ServerInitials::default(),
            spin: PerSide::default(),
            sent_initials: SentInitials::default(),
            keys_dcid: Cid::of(dcid),
            paths: Vec::new(),
            paths_not_kept: 0,
            cids_indexed: (false, false),
            client_initials: Evidence::default(),
            last_initial_ns: ts_ns,
            initials_before_answer: 0,
            hello: None,
            close: None,
            keys: InitialKeys::new(version, dcid, Sender::Client).map(Box::new),
            retry_cid: None,
            crypto: None,
            decryption: None,
            zero_rtt_waiting: None,
        }))
    }

    /// One UDP datagram of the flow (frame `number`), sent by `side`.
    pub fn datagram(&mut self, side: Side, payload: &[u8], number: u64, ts_ns: i64) {
        let from_client = side == self.client;
        let (mut n, mut initial) = (0, false);
        for (p, bytes) in quic::packets(payload) {
            n += 1;
            self.packets[side].count(&p);
            match p {
                QuicPacket::Long(h) if from_client && h.kind == LongType::Initial => {
                    initial = true;
                    self.client_initial(&h, bytes, ts_ns)
                }
                QuicPacket::Reserved { .. } if from_client => initial = true,
                QuicPacket::Long(h) => {
                    if h.kind == LongType::Handshake {
                        self.first_handshake_ns[side].get_or_insert(ts_ns);
                    }
                    if !from_client {
                        self.server_long(&h, bytes, ts_ns);
                    }
                }
                QuicPacket::Short { first } => {
                    self.spin[side].packet(first, ts_ns);
                    if from_client && self.client_one_rtt_ns.is_none() {
                        self.client_one_rtt_ns = Some(ts_ns);
                    }
                    self.super_datagram(side, bytes);
                }
                _ => {}
            }
        }
        if n == 0 {
            return;
        }
        if initial {
            self.client_initials.push(number);
            self.last_initial_ns = ts_ns;
            if self.first_server_ns.is_none() {
                self.initials_before_answer += 1;
            }
        }
        let counts = &mut self.packets[side];
        counts.datagrams += 1;
        counts.coalesced += u64::from(n > 1);
        if !from_client && self.first_server_ns.is_none() {
            self.first_server_ns = Some(ts_ns);
        }
    }

    /// Counts the segments of a GSO super-datagram that starts with the short-header packet
    /// `bytes` (sent by `side`, so addressed to the other side's connection ID).
    fn super_datagram(&mut self, side: Side, bytes: &[u8]) {
        if bytes.len() <= gso::MIN_SUPER_LEN {
            return;
        }
        let dcid = if side == self.client {
            self.server_cid
        } else {
            Some(self.client_cid)
        };
        let Some(dcid) = dcid else {
            return;
        };
        let counts = &mut self.packets[side];
        let hint = counts.gso_size.map(|s| s as usize);
        if let Some((size, n)) = gso::segments(bytes, dcid.as_bytes(), hint) {
            counts.one_rtt += u64::from(n) - 1;
            counts.gso_datagrams += 1;
            counts.gso_segments += u64::from(n);
            counts.gso_size = Some(size as u32);
        }
    }

    /// A long-header packet of the server: its SCID, a Retry's new DCID, and its Initials.
    fn server_long(&mut self, h: &LongHeader<'_>, bytes: &[u8], ts_ns: i64) {
        match h.kind {
            LongType::Retry => self.retry_cid = Some(Cid::of(h.scid)),
            LongType::Initial => {
                let dcid = self.keys_dcid;
                self.server
                    .initial(h, bytes, dcid.as_bytes(), ts_ns, &self.sent_initials);
            }
            _ => {}
        }
        self.server_cid.get_or_insert(Cid::of(h.scid));
    }

    /// Decrypts a client Initial (until the ClientHello is read) and takes its frames; its
    /// packet number and time are kept for the server's ACK.
    fn client_initial(&mut self, h: &LongHeader<'_>, bytes: &[u8], ts_ns: i64) {
        if let Some(retry) = self.retry_cid.filter(|r| r.as_bytes() == h.dcid) {
            self.keys = InitialKeys::new(h.version, retry.as_bytes(), Sender::Client).map(Box::new);
            self.keys_dcid = retry;
            self.server.rekey();
            self.retry_cid = None;
        }
        if self.hello.is_some() && self.close.is_some() && self.server.rtt.is_some() {
            return;
        }
        let Some(keys) = self.keys.as_deref() else {
            return;
        };
        let mut buf = [0u8; MAX_PACKET];
        let Some((pn, plain)) = keys.open(bytes, h, &mut buf) else {
            self.initials_undecryptable += 1;
            return;
        };
        self.sent_initials.push(pn, ts_ns);
        self.initials_decrypted += 1;
        for f in frames::frames(plain) {
            match f {
                Frame::Crypto { offset, data } if self.hello.is_none() => {
                    self.crypto
                        .get_or_insert_with(HelloBuffer::default)
                        .add(offset, data);
                }
                Frame::Close { code, reason } if self.close.is_none() => {
                    self.close = Some((code, String::from_utf8_lossy(reason).into_owned()));
                }
                _ => {}
            }
        }
        if self.hello.is_none() {
            if let Some(hello) = self.crypto.as_ref().and_then(HelloBuffer::hello) {
                self.hello = Some(hello);
                // The buffer's job is done: free its 4 KB.
                self.crypto = None;
            }
        }
    }

    /// A datagram of another path (the flow at `flow`, whose QUIC client is `client`), sent by
    /// that flow's `side`: counted in the connection as from the client or the server.
    pub fn path_datagram(
        &mut self,
        path: (usize, Side),
        side: Side,
        payload: &[u8],
        number: u64,
        ts_ns: i64,
    ) {
        let (flow, client) = path;
        if !self.paths.iter().any(|p| p.flow == flow) {
            if self.paths.len() < MAX_PATHS {
                self.paths.push(QuicPath { flow, client });
            } else {
                self.paths_not_kept += 1;
                return;
            }
        }
        let role = if side == client {
            self.client
        } else {
            self.client.other()
        };
        self.datagram(role, payload, number, ts_ns);
    }

    /// The RTT a spin bit is judged against: the handshake's first sample (a zero one, taken on
    /// the server's own host, judges nothing).
    pub fn spin_reference_rtt(&self) -> Option<u64> {
        self.server
            .rtt
            .and_then(|r| u64::try_from(r.rtt_ns).ok())
            .filter(|&r| r > 0)
    }

    /// Whether the client offered a reserved version: a version negotiation probe.
    pub fn probe(&self) -> bool {
        quic::reserved_version(self.version)
    }

    /// The version's name: `1`, `2`, `draft-29`, or hex.
    pub fn version_name(&self) -> String {
        match self.version {
            quic::V1 => "1".into(),
            quic::V2 => "2".into(),
            quic::DRAFT_29 => "draft-29".into(),
            v => format!("0x{v:08x}"),
        }
    }
}
