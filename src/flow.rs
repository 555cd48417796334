//! Flow table: TCP and UDP conversations keyed by the innermost 5-tuple plus tunnel context.
//!
//! Bidirectional: both directions of a conversation share one [`Flow`]. The client is the side
//! that sent a SYN without ACK, else the side that received a SYN/ACK, else the side that sent
//! first. Ids are 1-based in order of first appearance, so the same capture always gives the same
//! ids. A SYN that reuses the ports of an earlier connection starts a new flow, by the rule with which
//! Wireshark starts a new `tcp.stream`.

use std::net::IpAddr;

use rustc_hash::FxHashMap;

use crate::capture::Frame;
use crate::decode::{tcp_flags, IpLayer, Kind, Packet, TunnelKind};
use crate::gro::{DataFrame, GroConfig, GroFlow};
use crate::tcp::events::Events;
use crate::tcp::trace::IdMark;
use crate::tcp::{Handshake, TcpConfig, TcpConn, TcpFrame};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    Tcp,
    Udp,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

/// An address and port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Endpoint {
    pub addr: IpAddr,
    pub port: u16,
}

impl std::fmt::Display for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.addr {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.port),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.port),
        }
    }
}

/// Tunnel context of a flow: the same inner 5-tuple in two VNIs is two flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TunnelKey {
    pub kind: TunnelKind,
    pub vni: u32,
    /// Outer addresses, lower first (direction-independent).
    pub outer: [IpAddr; 2],
}

/// Direction-independent flow key: endpoints sorted, lower first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    pub protocol: Protocol,
    pub ends: [Endpoint; 2],
    pub tunnel: Option<TunnelKey>,
}

impl FlowKey {
    /// The key with the VNI blanked, for tunnelled keys: what both directions of an overlay with
    /// a VNI per direction have in common.
    fn without_vni(&self) -> Option<FlowKey> {
        let mut k = *self;
        k.tunnel.as_mut()?.vni = 0;
        Some(k)
    }
}

/// Per-direction counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirStats {
    pub frames: u64,
    /// Wire bytes (`frame.len`).
    pub bytes: u64,
    /// Transport payload bytes, from the IP length fields.
    pub payload_bytes: u64,
    /// Largest frame on the wire.
    pub max_frame_len: u32,
    /// Largest innermost IP packet (from its length fields).
    pub max_ip_len: u32,
    pub first_frame: u64,
    pub last_frame: u64,
    pub first_ts_ns: i64,
    pub last_ts_ns: i64,
    /// Frames a Linux cooked capture marked as sent by the capturing host (packet type 4,
    /// `PACKET_OUTGOING`) or addressed to it (0, `PACKET_HOST`).
    pub sll_outgoing: u64,
    pub sll_incoming: u64,
}

impl DirStats {
    fn add(&mut self, frame: &Frame<'_>, ip_len: u32, payload: u32, sll_pkttype: Option<u16>) {
        match sll_pkttype {
            Some(4) => self.sll_outgoing += 1,
            Some(0) => self.sll_incoming += 1,
            _ => {}
        }
        if self.frames == 0 {
            self.first_frame = frame.number;
            self.first_ts_ns = frame.ts_ns;
        }
        self.frames += 1;
        self.bytes += frame.wire_len as u64;
        self.payload_bytes += payload as u64;
        self.max_frame_len = self.max_frame_len.max(frame.wire_len);
        self.max_ip_len = self.max_ip_len.max(ip_len);
        self.last_frame = frame.number;
        self.last_ts_ns = frame.ts_ns;
    }
}

#[derive(Debug, Clone)]
pub struct Flow {
    /// 1-based, in order of first appearance.
    pub id: u32,
    pub key: FlowKey,
    /// Stats per side of `key.ends`: `dirs[0]` is what `ends[0]` sent.
    pub dirs: [DirStats; 2],
    /// Index into `key.ends` of the client.
    pub client: usize,
    /// Side whose packet created the flow (its VNI is the one in `key`).
    pub creator: usize,
    client_known: bool,
    /// The VNI of the other direction, when it differs from `key.tunnel.vni`.
    pub reverse_vni: Option<u32>,
    /// Outer source address of the packet that created the flow (sent by `creator`).
    first_outer_src: Option<IpAddr>,
    /// Base sequence number per side, as Wireshark sets it: the SYN's sequence number, or one
    /// less than the first segment's when the handshake was not captured.
    pub base_seq: [Option<u32>; 2],
    /// FIN seen from side i; RST seen.
    fin: [bool; 2],
    rst: bool,
    /// TCP analysis state and measurements (TCP flows only).
    pub tcp: Option<Box<TcpConn>>,
    /// Coalescing facts and the GRO merge model (TCP flows that carried data).
    pub gro: Option<Box<GroFlow>>,
}

/// A local host answers within microseconds, the remote one after a round trip: the faster
/// handshake answer must be at least this many times faster to name the capture point.
pub const LOCAL_ANSWER_RATIO: i64 = 10;

/// RTT samples each direction needs before data/ACK timing may name the capture point.
pub const MIN_TIMING_SAMPLES: u64 = 3;

/// The host a TCP flow was captured on, and the evidence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CapturePoint {
    /// Side (index into `key.ends`) of the local host.
    pub side: usize,
    /// `sll-packet-type`, `tso-length-zero`, `handshake-timing` or `data-ack-timing`.
    pub how: &'static str,
}

impl Flow {
    pub fn client(&self) -> Endpoint {
        self.key.ends[self.client]
    }
    pub fn server(&self) -> Endpoint {
        self.key.ends[1 - self.client]
    }
    /// Client-to-server and server-to-client stats.
    pub fn c2s(&self) -> &DirStats {
        &self.dirs[self.client]
    }
    pub fn s2c(&self) -> &DirStats {
        &self.dirs[1 - self.client]
    }
    pub fn frames(&self) -> u64 {
        self.dirs[0].frames + self.dirs[1].frames
    }
    pub fn bytes(&self) -> u64 {
        self.dirs[0].bytes + self.dirs[1].bytes
    }
    /// The smallest of `f` over the directions that carried frames (a flow has at least one).
    fn earliest<T: Ord + Default>(&self, f: impl Fn(&DirStats) -> T) -> T {
        self.dirs
            .iter()
            .filter(|d| d.frames > 0)
            .map(f)
            .min()
            .unwrap_or_default()
    }
    pub fn first_frame(&self) -> u64 {
        self.earliest(|d| d.first_frame)
    }
    pub fn last_frame(&self) -> u64 {
        self.dirs[0].last_frame.max(self.dirs[1].last_frame)
    }
    pub fn first_ts_ns(&self) -> i64 {
        self.earliest(|d| d.first_ts_ns)
    }
    pub fn last_ts_ns(&self) -> i64 {
        self.dirs[0].last_ts_ns.max(self.dirs[1].last_ts_ns)
    }
    /// Display filter that shows this flow in Wireshark.
    pub fn wireshark_filter(&self) -> String {
        let (c, s) = (self.client(), self.server());
        let proto = self.key.protocol.as_str();
        let ip = |a: IpAddr| if a.is_ipv4() { "ip" } else { "ipv6" };
        format!(
            "{}.addr == {} && {}.addr == {} && {proto}.port == {} && {proto}.port == {}",
            ip(c.addr),
            c.addr,
            ip(s.addr),
            s.addr,
            c.port,
            s.port
        )
    }

    /// Which end of the flow the capture was taken on, when the capture tells: a Linux cooked
    /// capture's packet types, IPv4 total length 0 on super-segments (only a sender's tap sees
    /// TSO packets before the NIC fills the length in), the handshake's timing (the local host
    /// answers [`LOCAL_ANSWER_RATIO`] times faster than the remote one), or, with data in both
    /// directions, how fast each side's data is acknowledged.
    pub fn capture_point(&self) -> Option<CapturePoint> {
        let d = &self.dirs;
        for s in 0..2 {
            if d[s].sll_outgoing > 0 && d[1 - s].sll_outgoing == 0 {
                return Some(CapturePoint {
                    side: s,
                    how: "sll-packet-type",
                });
            }
            if d[s].sll_incoming > 0 && d[1 - s].sll_incoming == 0 {
                return Some(CapturePoint {
                    side: 1 - s,
                    how: "sll-packet-type",
                });
            }
        }
        if let Some(g) = &self.gro {
            if let Some(s) = (0..2).find(|&s| g.dirs[s].oversized_len_zero > 0) {
                return Some(CapturePoint {
                    side: s,
                    how: "tso-length-zero",
                });
            }
        }
        let conn = self.tcp.as_deref()?;
        if let Some(side) = Self::handshake_local(&conn.handshake) {
            return Some(CapturePoint {
                side,
                how: "handshake-timing",
            });
        }
        // Data both ways: the local host ACKs the remote one's data within microseconds, its own
        // data is ACKed a round trip later (RTT as measured at the capture point).
        let median = |side: usize| {
            conn.dirs[side]
                .rtt()
                .0
                .quantiles()
                .filter(|q| q.count >= MIN_TIMING_SAMPLES)
                .map(|q| q.median_ns)
        };
        let (a, b) = (median(0)?, median(1)?);
        let fast = |x: u64, y: u64| y > 0 && x.saturating_mul(LOCAL_ANSWER_RATIO as u64) <= y;
        // Side 0's data ACKed fast: side 1 (its receiver) is local.
        let side = if fast(a, b) {
            1
        } else if fast(b, a) {
            0
        } else {
            return None;
        };
        Some(CapturePoint {
            side,
            how: "data-ack-timing",
        })
    }

    /// The side that answered its part of the handshake [`LOCAL_ANSWER_RATIO`] times faster.
    fn handshake_local(h: &Handshake) -> Option<usize> {
        let (syn_side, syn) = h.syn?;
        let (syn_ack, ack) = (h.syn_ack_ns?, h.ack_ns?);
        // Timestamps are input: saturate rather than overflow on absurd ones.
        let (answer, reply) = (syn_ack.saturating_sub(syn), ack.saturating_sub(syn_ack));
        let fast = |x: i64, y: i64| x >= 0 && y > 0 && x.saturating_mul(LOCAL_ANSWER_RATIO) <= y;
        if fast(answer, reply) {
            Some(1 - syn_side)
        } else if fast(reply, answer) {
            Some(syn_side)
        } else {
            None
        }
    }

    /// `client` or `server`, for the side at index `side` of `key.ends`.
    pub fn role(&self, side: usize) -> &'static str {
        if side == self.client {
            "client"
        } else {
            "server"
        }
    }

    /// Outer (VTEP) addresses on the client's and the server's side, for tunnelled flows.
    pub fn outer_client_server(&self) -> Option<(IpAddr, IpAddr)> {
        let t = self.key.tunnel?;
        let src = self.first_outer_src?;
        let other = if t.outer[0] == src {
            t.outer[1]
        } else {
            t.outer[0]
        };
        Some(if self.creator == self.client {
            (src, other)
        } else {
            (other, src)
        })
    }

    /// Wireshark's rule for a new `tcp.stream` on the same ports (epan/dissectors/packet-tcp.c,
    /// "port reuse"): a SYN without ACK whose sequence number differs from the base sequence of its
    /// direction, or that repeats it after the connection was closed by FIN or RST.
    fn is_port_reuse(&self, side: usize, seq: u32) -> bool {
        match self.base_seq[side] {
            Some(base) => seq != base || self.rst || self.fin[0] || self.fin[1],
            None => false,
        }
    }
}

/// Where a packet landed: which flow, and which side sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowRef {
    /// Index into [`FlowTable::flows`] (id - 1).
    pub index: usize,
    /// Side of the sender (index into `key.ends`).
    pub side: usize,
    /// Wireshark's TCP analysis flags for this frame (empty for UDP).
    pub events: Events,
    /// Bytes in flight in both directions of the connection after this frame (0 for UDP).
    pub inflight: u64,
}

/// Which flows keep a full per-segment trace (for plots); the others keep a bounded summary.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum FullTrace {
    #[default]
    None,
    /// These flow ids.
    Flows(Vec<u32>),
    All,
}

/// Flow table settings.
#[derive(Debug, Clone, Default)]
pub struct FlowConfig {
    pub tcp: TcpConfig,
    pub full_trace: FullTrace,
    pub gro: GroConfig,
}

#[derive(Debug, Default)]
pub struct FlowTable {
    index: FxHashMap<FlowKey, usize>,
    /// Tunnelled flows by key without the VNI, for pairing directions that use different VNIs.
    by_tunnel_ends: FxHashMap<FlowKey, usize>,
    pub flows: Vec<Flow>,
    config: FlowConfig,
}

impl FlowTable {
    /// The flow with this id (ids are 1-based, in order of appearance).
    pub fn by_id(&self, id: u32) -> Option<&Flow> {
        let i = (id as usize).checked_sub(1)?;
        self.flows.get(i).filter(|f| f.id == id)
    }

    pub fn new(config: FlowConfig) -> Self {
        FlowTable {
            config,
            ..Default::default()
        }
    }

    /// Some overlays (OVN's Geneve, for one) use a different VNI in each direction of the same
    /// conversation. A tunnelled packet whose key is unknown joins the flow with the same inner
    /// 5-tuple and outer addresses but another VNI, provided that flow has so far only carried the
    /// opposite direction; it then answers to both keys. Two tenants reusing the same addresses in
    /// both directions still get separate flows.
    fn pair_reverse_vni(&mut self, key: &FlowKey, side: usize) -> Option<usize> {
        let &i = self.by_tunnel_ends.get(&key.without_vni()?)?;
        let f = &mut self.flows[i];
        if f.dirs[side].frames != 0 || f.reverse_vni.is_some() {
            return None;
        }
        f.reverse_vni = key.tunnel.map(|t| t.vni);
        self.index.insert(*key, i);
        Some(i)
    }

    /// Accounts one decoded packet; returns its flow, or `None` for packets that are not TCP/UDP.
    pub fn observe(&mut self, frame: &Frame<'_>, pkt: &Packet<'_>) -> Option<FlowRef> {
        // Only frames decoded down to TCP/UDP; an undecodable tunnel payload is not a flow.
        if !matches!(pkt.kind, Kind::Tcp | Kind::Udp) {
            return None;
        }
        let ip = pkt.ip.as_ref()?;
        let (protocol, sport, dport, payload, flags) = match (&pkt.tcp, &pkt.udp) {
            (Some(t), _) => (
                Protocol::Tcp,
                t.src_port,
                t.dst_port,
                t.payload_len,
                t.flags,
            ),
            (None, Some(u)) => (Protocol::Udp, u.src_port, u.dst_port, u.payload_len, 0),
            _ => return None,
        };
        let src = Endpoint {
            addr: ip.src,
            port: sport,
        };
        let dst = Endpoint {
            addr: ip.dst,
            port: dport,
        };
        let (ends, side) = if src <= dst {
            ([src, dst], 0)
        } else {
            ([dst, src], 1)
        };
        let tunnel = pkt.tunnel.map(|t| {
            let (a, b) = (t.outer_ip.src, t.outer_ip.dst);
            TunnelKey {
                kind: t.kind,
                vni: t.vni,
                outer: if a <= b { [a, b] } else { [b, a] },
            }
        });
        let key = FlowKey {
            protocol,
            ends,
            tunnel,
        };
        let syn = flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN;
        let found = match self.index.get(&key) {
            Some(&i) => Some(i),
            None => self.pair_reverse_vni(&key, side),
        };
        let seq = pkt.tcp.map_or(0, |t| t.seq);
        let index = match found {
            Some(i) if !(syn && self.flows[i].is_port_reuse(side, seq)) => i,
            _ => {
                let i = self.flows.len();
                let id = i as u32 + 1;
                let tcp = (protocol == Protocol::Tcp).then(|| {
                    let full = match &self.config.full_trace {
                        FullTrace::None => false,
                        FullTrace::Flows(ids) => ids.contains(&id),
                        FullTrace::All => true,
                    };
                    Box::new(TcpConn::new(frame.ts_ns, full, self.config.tcp))
                });
                self.flows.push(Flow {
                    id,
                    key,
                    dirs: Default::default(),
                    client: side,
                    creator: side,
                    client_known: false,
                    reverse_vni: None,
                    first_outer_src: pkt.tunnel.map(|t| t.outer_ip.src),
                    base_seq: [None; 2],
                    fin: [false; 2],
                    rst: false,
                    tcp,
                    gro: None,
                });
                self.index.insert(key, i);
                if let Some(loose) = key.without_vni() {
                    self.by_tunnel_ends.insert(loose, i);
                }
                i
            }
        };
        let flow = &mut self.flows[index];
        if !flow.client_known && protocol == Protocol::Tcp && flags & tcp_flags::SYN != 0 {
            // SYN alone: the sender is the client; SYN/ACK: the receiver is.
            flow.client = if flags & tcp_flags::ACK == 0 {
                side
            } else {
                1 - side
            };
            flow.client_known = true;
        }
        if let (Some(t), None) = (&pkt.tcp, flow.base_seq[side]) {
            flow.base_seq[side] = Some(if t.flags & tcp_flags::SYN != 0 {
                t.seq
            } else {
                t.seq.wrapping_sub(1)
            });
        }
        if flags & tcp_flags::FIN != 0 {
            flow.fin[side] = true;
        }
        if flags & tcp_flags::RST != 0 {
            flow.rst = true;
        }
        flow.dirs[side].add(frame, ip.len, payload, pkt.sll_pkttype);
        let mut events = Events::default();
        let mut inflight = 0;
        if let (Some(conn), Some(t)) = (flow.tcp.as_mut(), pkt.tcp.as_ref()) {
            events = conn.observe(
                side,
                &TcpFrame {
                    number: frame.number,
                    ts_ns: frame.ts_ns,
                    tcp: t,
                    ip_len: ip.len,
                    has_seglen: ip.transport_len() >= t.header_len,
                    ip_id: pkt
                        .ip_headers()
                        .find(|(_, h)| h.version == 4)
                        .map(|(layer, h)| IdMark {
                            id: h.id as u16,
                            df: h.df,
                            outer: layer == IpLayer::Outer,
                        }),
                },
            );
            if t.payload_len > 0 {
                flow.gro.get_or_insert_with(Default::default).dirs[side].observe(
                    &DataFrame {
                        number: frame.number,
                        ts_ns: frame.ts_ns,
                        pkt,
                        ip,
                        tcp: t,
                        peer_mss: conn.options[1 - side].mss,
                    },
                    &self.config.gro,
                );
            }
            inflight = conn.dirs.iter().map(|d| u64::from(d.inflight_now)).sum();
        }
        Some(FlowRef {
            index,
            side,
            events,
            inflight,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hs(syn: i64, syn_ack: i64, ack: i64) -> Handshake {
        Handshake {
            syn: Some((0, syn)),
            syn_ack_ns: Some(syn_ack),
            ack_ns: Some(ack),
        }
    }

    #[test]
    fn the_side_that_answers_fast_is_local() {
        // Server capture: SYN/ACK 20 µs after the SYN, the ACK a 10 ms round trip later.
        assert_eq!(Flow::handshake_local(&hs(0, 20_000, 10_020_000)), Some(1));
        // Client capture: the other way round.
        assert_eq!(
            Flow::handshake_local(&hs(0, 10_000_000, 10_020_000)),
            Some(0)
        );
        // Halfway on the wire: no side is 10 times faster.
        assert_eq!(Flow::handshake_local(&hs(0, 5_000_000, 10_000_000)), None);
    }

    #[test]
    fn absurd_timestamps_do_not_overflow() {
        for (a, b, c) in [
            (i64::MIN, i64::MAX, 0),
            (i64::MAX, i64::MIN, i64::MAX),
            (0, i64::MAX, i64::MIN),
        ] {
            let _ = Flow::handshake_local(&hs(a, b, c));
        }
    }
}
