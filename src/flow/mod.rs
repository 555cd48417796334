//! Flows: TCP and UDP conversations keyed by the innermost 5-tuple plus tunnel context.
//!
//! This stage owns who talks to whom. [`FlowTable`] accounts every decoded TCP/UDP packet to a
//! bidirectional [`Flow`] ([`key`]) and every ICMP error to the flow of the packet it quotes
//! ([`icmp`]), tells which [`Side`] sent it ([`side`]) and feeds each TCP
//! flow's engine ([`crate::tcp`]) and GRO model ([`crate::gro`]). The client is the side that
//! sent a SYN without ACK, else the side that received a SYN/ACK, else the side that sent first.
//! Ids are 1-based in order of first appearance, so the same capture always gives the same ids.
//! A SYN that reuses the ports of an earlier connection starts a new flow, by the rule with which
//! Wireshark starts a new `tcp.stream`. [`capture_point`] tells which end the capture was taken
//! on.

pub mod capture_point;
pub mod icmp;
pub mod key;
pub mod memory;
pub mod quic_paths;
pub mod select;
pub mod side;
mod table;
pub mod udp_trace;

use std::net::IpAddr;

use crate::capture::Frame;
use crate::decode::{IpFacts, TunnelKind};
use crate::gro::GroFlow;
use crate::quic::QuicConn;
use crate::tcp::TcpConn;

pub use capture_point::{CaptureEvidence, CapturePoint};
pub use icmp::IcmpErrors;
pub use key::{Endpoint, FlowKey, Protocol, TunnelKey};
pub use side::{Direction, PerSide, Side};
pub use table::{FlowConfig, FlowRef, FlowTable, FullTrace};

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
    /// Lowest and highest TTL (IPv4) or hop limit (IPv6) of the innermost IP header.
    pub ttl: Option<(u8, u8)>,
}

impl DirStats {
    fn add(&mut self, frame: &Frame<'_>, ip: &IpFacts, payload: u32, sll_pkttype: Option<u16>) {
        let ip_len = ip.len;
        self.ttl = Some(match self.ttl {
            None => (ip.ttl, ip.ttl),
            Some((lo, hi)) => (lo.min(ip.ttl), hi.max(ip.ttl)),
        });
        match sll_pkttype {
            Some(4) => self.sll_outgoing += 1,
            Some(0) => self.sll_incoming += 1,
            _ => {}
        }
        // Earliest and latest time, as for the capture: a frame stamped before the one in front
        // of it (merged taps, a clock step) must never make a duration negative.
        if self.frames == 0 {
            self.first_frame = frame.number;
            self.first_ts_ns = frame.ts_ns;
            self.last_ts_ns = frame.ts_ns;
        }
        self.first_ts_ns = self.first_ts_ns.min(frame.ts_ns);
        self.last_ts_ns = self.last_ts_ns.max(frame.ts_ns);
        self.frames += 1;
        self.bytes += frame.wire_len as u64;
        self.payload_bytes += payload as u64;
        self.max_frame_len = self.max_frame_len.max(frame.wire_len);
        self.max_ip_len = self.max_ip_len.max(ip_len);
        self.last_frame = frame.number;
    }
}

#[derive(Debug, Clone)]
pub struct Flow {
    /// 1-based, in order of first appearance.
    pub id: u32,
    pub key: FlowKey,
    /// Stats of what each side sent.
    pub dirs: PerSide<DirStats>,
    /// The client's side.
    pub client: Side,
    /// Side whose packet created the flow (its VNI is the one in `key`).
    pub creator: Side,
    client_known: bool,
    /// The VNI of the other direction, when it differs from `key.tunnel.vni`.
    pub reverse_vni: Option<u32>,
    /// Outer source address of the packet that created the flow (sent by `creator`).
    first_outer_src: Option<IpAddr>,
    /// Base sequence number per side, as Wireshark sets it: the SYN's sequence number, or one
    /// less than the first segment's when the handshake was not captured.
    pub base_seq: PerSide<Option<u32>>,
    /// TCP analysis state and measurements (TCP flows only).
    pub tcp: Option<Box<TcpConn>>,
    /// Coalescing facts and the GRO merge model (TCP flows that carried data).
    pub gro: Option<Box<GroFlow>>,
    /// The QUIC view (UDP flows that began with a client Initial).
    pub quic: Option<Box<QuicConn>>,
    /// Another path of a QUIC connection whose view lives on another flow ([`quic_paths`]).
    pub quic_path: Option<quic_paths::PathOf>,
    /// ICMP errors about the packets each side sent ([`icmp`]; flows that drew any).
    pub icmp: Option<Box<PerSide<IcmpErrors>>>,
    /// Every datagram, for graphs ([`udp_trace`]; UDP flows `FullTrace` selects).
    pub udp_trace: Option<Box<udp_trace::UdpTrace>>,
    /// The bytes [`memory::flow_bytes`] counted for the flow when it last changed.
    counted_bytes: u32,
    /// The flow's key is that of a flow evicted before ([`memory`]): a later part of the same
    /// conversation, under a new id.
    pub after_eviction: bool,
}

/// Where the flow of `index` (its id - 1) is in `flows` (ascending ids, evicted flows gone):
/// at `index` until a flow before it was evicted, else found by its id.
pub fn position(flows: &[Flow], index: usize) -> Option<usize> {
    if flows.get(index).is_some_and(|f| f.index() == index) {
        return Some(index);
    }
    let id = u32::try_from(index.checked_add(1)?).ok()?;
    flows.binary_search_by_key(&id, |f| f.id).ok()
}

/// The flow of `index` (its id - 1) in `flows`, unless it was evicted.
pub fn at(flows: &[Flow], index: usize) -> Option<&Flow> {
    flows.get(position(flows, index)?)
}

impl Flow {
    /// The flow's index in [`FlowTable::flows`] (ids are 1-based).
    pub fn index(&self) -> usize {
        (self.id as usize).saturating_sub(1)
    }
    /// Whether `side`'s latency spin bit spins (RFC 9000 §17.4, judged by [`crate::quic::spin`]
    /// against the handshake's first RTT sample), and that sample: what the spin-bit graph draws.
    pub fn quic_spins(&self, side: Side) -> (bool, Option<u64>) {
        let Some(q) = self.quic.as_deref() else {
            return (false, None);
        };
        let reference = q.spin_reference_rtt();
        let spins = q.spin[side].state(reference) == crate::quic::spin::SpinState::Spinning;
        (spins, reference)
    }

    /// With a key log and a graph of this flow: the points of `side`'s decrypted packets, the
    /// peer's ACKs of them, RTT samples and losses ([`crate::quic::trace`]).
    pub fn quic_trace(&self, side: Side) -> Option<&crate::quic::trace::SideTrace> {
        let d = self.quic.as_deref()?.decryption.as_deref()?;
        d.recovery[side].trace.as_deref()
    }

    /// Whether the flow carries a QUIC connection: its own view, or another path of one.
    pub fn is_quic(&self) -> bool {
        self.quic.is_some() || self.quic_path.is_some()
    }
    /// The ICMP errors about what `side` sent, when there were any.
    pub fn icmp_about(&self, side: Side) -> Option<&IcmpErrors> {
        self.icmp
            .as_deref()
            .map(|e| &e[side])
            .filter(|e| e.total() > 0)
    }
    pub fn client(&self) -> Endpoint {
        self.key.end(self.client)
    }
    pub fn server(&self) -> Endpoint {
        self.key.end(self.client.other())
    }
    /// The side that sends in direction `d`.
    pub fn side_of(&self, d: Direction) -> Side {
        match d {
            Direction::C2s => self.client,
            Direction::S2c => self.client.other(),
        }
    }
    /// The direction in which `side` sends.
    pub fn direction(&self, side: Side) -> Direction {
        if side == self.client {
            Direction::C2s
        } else {
            Direction::S2c
        }
    }
    /// The sides client first: what `c2s` and `s2c` are about.
    pub fn client_first(&self) -> [Side; 2] {
        [self.client, self.client.other()]
    }
    /// Client-to-server and server-to-client stats.
    pub fn c2s(&self) -> &DirStats {
        &self.dirs[self.client]
    }
    pub fn s2c(&self) -> &DirStats {
        &self.dirs[self.client.other()]
    }
    pub fn frames(&self) -> u64 {
        self.dirs.map(|d| d.frames).sum()
    }
    pub fn bytes(&self) -> u64 {
        self.dirs.map(|d| d.bytes).sum()
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
        self.dirs.iter().map(|d| d.last_frame).max().unwrap_or(0)
    }
    pub fn first_ts_ns(&self) -> i64 {
        self.earliest(|d| d.first_ts_ns)
    }
    pub fn last_ts_ns(&self) -> i64 {
        self.dirs.iter().map(|d| d.last_ts_ns).max().unwrap_or(0)
    }
    /// Display filter that shows this flow in Wireshark. A tunnelled flow's starts with its
    /// tunnel (`vxlan.vni == 42 && …`): a capture on a tunnel endpoint (`-i any`) also holds the
    /// decapsulated copy of every packet, with the same inner addresses and ports.
    pub fn wireshark_filter(&self) -> String {
        let (c, s) = (self.client(), self.server());
        let proto = self.key.protocol.as_str();
        let ip = |a: IpAddr| if a.is_ipv4() { "ip" } else { "ipv6" };
        let tunnel = self.key.tunnel.map(tunnel_filter).unwrap_or_default();
        format!(
            "{}{}.addr == {} && {}.addr == {} && {proto}.port == {} && {proto}.port == {}",
            tunnel,
            ip(c.addr),
            c.addr,
            ip(s.addr),
            s.addr,
            c.port,
            s.port
        )
    }

    /// `client` or `server`: the role of `side`.
    pub fn role(&self, side: Side) -> &'static str {
        self.direction(side).sender()
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
    /// direction. The same ISN again is a retransmitted SYN of the same connection, also after a
    /// RST or FIN: tshark 4.0.17, the oracle of our tests, keeps one `tcp.stream` then.
    fn is_port_reuse(&self, side: Side, seq: u32) -> bool {
        match self.base_seq[side] {
            Some(base) => seq != base,
            None => false,
        }
    }
}

/// The start of a tunnelled flow's display filter: each enclosing tunnel's protocol, outermost
/// first, then the innermost tunnel with its identifier (`erspan && vxlan.vni == 42 && `). A
/// capture on a tunnel endpoint (`-i any`) also holds the decapsulated copies, with the same inner
/// addresses and ports; a mirror's copy is told from the original by the mirror's protocol.
fn tunnel_filter(t: TunnelKey) -> String {
    let innermost = match t.kind {
        TunnelKind::Vxlan => format!("vxlan.vni == {}", t.vni),
        TunnelKind::Geneve => format!("geneve.vni == {}", t.vni),
        TunnelKind::GtpU => format!("gtp.teid == {}", t.vni),
        TunnelKind::GreWlan => "gre && wlan".into(),
        // Wireshark has no field for "inside IP in IP" short of the outer protocol.
        k => k.wireshark_proto().unwrap_or_default().into(),
    };
    let mut terms: Vec<&str> = t.via.kinds().filter_map(|k| k.wireshark_proto()).collect();
    terms.push(&innermost);
    terms.retain(|s| !s.is_empty());
    // GRE in GRE filters as one `gre`.
    terms.dedup();
    terms.iter().map(|s| format!("{s} && ")).collect()
}
