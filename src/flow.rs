//! Flow table: TCP and UDP conversations keyed by the innermost 5-tuple plus tunnel context.
//!
//! Bidirectional: both directions of a conversation share one [`Flow`]. The client is the side
//! that sent a SYN without ACK, else the side that received a SYN/ACK, else the side that sent
//! first. Ids are 1-based in order of first appearance, so the same capture always gives the same
//! ids. A TCP flow whose connection was closed (FIN or RST both ways, or RST) and that then sees a
//! new SYN starts a new flow, as Wireshark starts a new `tcp.stream` on port reuse.

use std::net::IpAddr;

use rustc_hash::FxHashMap;

use crate::capture::Frame;
use crate::decode::{tcp_flags, Packet, TunnelKind};

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
}

impl DirStats {
    fn add(&mut self, frame: &Frame<'_>, ip_len: u32, payload: u32) {
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
    client_known: bool,
    /// Outer source address and sender side of the first tunnelled packet.
    first_outer: Option<(IpAddr, usize)>,
    /// FIN seen from side i; RST seen.
    fin: [bool; 2],
    rst: bool,
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
    pub fn first_frame(&self) -> u64 {
        let d = &self.dirs;
        match (d[0].frames, d[1].frames) {
            (0, _) => d[1].first_frame,
            (_, 0) => d[0].first_frame,
            _ => d[0].first_frame.min(d[1].first_frame),
        }
    }
    pub fn last_frame(&self) -> u64 {
        self.dirs[0].last_frame.max(self.dirs[1].last_frame)
    }
    pub fn first_ts_ns(&self) -> i64 {
        let d = &self.dirs;
        match (d[0].frames, d[1].frames) {
            (0, _) => d[1].first_ts_ns,
            (_, 0) => d[0].first_ts_ns,
            _ => d[0].first_ts_ns.min(d[1].first_ts_ns),
        }
    }
    pub fn last_ts_ns(&self) -> i64 {
        self.dirs[0].last_ts_ns.max(self.dirs[1].last_ts_ns)
    }
    /// Outer (VTEP) addresses on the client's and the server's side, for tunnelled flows.
    pub fn outer_client_server(&self) -> Option<(IpAddr, IpAddr)> {
        let t = self.key.tunnel?;
        let (src, side) = self.first_outer?;
        let other = if t.outer[0] == src { t.outer[1] } else { t.outer[0] };
        Some(if side == self.client { (src, other) } else { (other, src) })
    }

    fn closed(&self) -> bool {
        self.rst || (self.fin[0] && self.fin[1])
    }
}

/// Where a packet landed: which flow, and which side sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowRef {
    /// Index into [`FlowTable::flows`] (id - 1).
    pub index: usize,
    /// Side of the sender (index into `key.ends`).
    pub side: usize,
}

#[derive(Debug, Default)]
pub struct FlowTable {
    index: FxHashMap<FlowKey, usize>,
    pub flows: Vec<Flow>,
}

impl FlowTable {
    /// Accounts one decoded packet; returns its flow, or `None` for packets that are not TCP/UDP.
    pub fn observe(&mut self, frame: &Frame<'_>, pkt: &Packet<'_>) -> Option<FlowRef> {
        let ip = pkt.ip.as_ref()?;
        let (protocol, sport, dport, payload, flags) = match (&pkt.tcp, &pkt.udp) {
            (Some(t), _) => (Protocol::Tcp, t.src_port, t.dst_port, t.payload_len, t.flags),
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
        let index = match self.index.get(&key) {
            Some(&i) if !(syn && self.flows[i].closed()) => i,
            _ => {
                let i = self.flows.len();
                self.flows.push(Flow {
                    id: i as u32 + 1,
                    key,
                    dirs: Default::default(),
                    client: side,
                    client_known: false,
                    first_outer: pkt.tunnel.map(|t| (t.outer_ip.src, side)),
                    fin: [false; 2],
                    rst: false,
                });
                self.index.insert(key, i);
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
        if flags & tcp_flags::FIN != 0 {
            flow.fin[side] = true;
        }
        if flags & tcp_flags::RST != 0 {
            flow.rst = true;
        }
        flow.dirs[side].add(frame, ip.len, payload);
        Some(FlowRef { index, side })
    }
}
