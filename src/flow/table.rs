//! The flow table: finds (or starts) the flow of each packet and accounts the packet to it.

use std::net::IpAddr;

use rustc_hash::FxHashMap;

use super::key::{sorted, IndexKey};
use super::memory::{self, Budget, Evicted};
use super::quic_paths::QuicCids;
use super::udp_trace;
use super::{Endpoint, Flow, FlowKey, PerSide, Protocol, Side, TunnelKey};
use crate::capture::Frame;
use crate::decode::{tcp_flags, IpFacts, IpLayer, Kind, Packet, TcpFacts, UdpFacts};
use crate::gro::{DataFrame, GroConfig, PairVerdict};
use crate::quic::QuicConn;
use crate::tcp::events::Events;
use crate::tcp::trace::IdMark;
use crate::tcp::{TcpConfig, TcpConn, TcpFrame};

/// Where a packet landed: which flow, and which side sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlowRef {
    /// The flow's index: its id - 1, which stays when flows before it are evicted (use
    /// [`FlowTable::by_index`]).
    pub index: usize,
    /// The sender.
    pub side: Side,
    /// Wireshark's TCP analysis flags for this frame (empty for UDP).
    pub events: Events,
    /// Bytes in flight in both directions of the connection after this frame (0 for UDP).
    pub inflight: u64,
    /// The GRO model's verdict on the pair this TCP data frame closes (None for other frames).
    pub gro: Option<PairVerdict>,
    /// The flow carries a QUIC connection (its own view, or another path of one) so far.
    pub quic: bool,
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

impl FullTrace {
    fn covers(&self, id: u32) -> bool {
        match self {
            FullTrace::None => false,
            FullTrace::Flows(ids) => ids.contains(&id),
            FullTrace::All => true,
        }
    }
}

/// Flow table settings.
#[derive(Debug, Clone)]
pub struct FlowConfig {
    pub tcp: TcpConfig,
    pub full_trace: FullTrace,
    pub gro: GroConfig,
    /// The bytes the flows may hold before the least recently active are evicted
    /// (`--max-memory`; [`memory`]); 0 is no bound.
    pub max_memory: u64,
    /// A TLS key log (`--keylog`): QUIC 1-RTT packets are decrypted with its secrets.
    pub keylog: Option<std::sync::Arc<crate::quic::keylog::KeyLog>>,
}

impl Default for FlowConfig {
    fn default() -> Self {
        FlowConfig {
            tcp: TcpConfig::default(),
            full_trace: FullTrace::default(),
            gro: GroConfig::default(),
            max_memory: memory::DEFAULT_MAX_MEMORY,
            keylog: None,
        }
    }
}

#[derive(Debug, Default)]
pub struct FlowTable {
    /// Flow indexes (id - 1) by key; [`FlowTable::pos`] finds a flow's place in `flows`.
    index: FxHashMap<IndexKey, usize>,
    /// Tunnelled flows by key without the VNI, for pairing directions that use different VNIs.
    by_tunnel_ends: FxHashMap<FlowKey, usize>,
    /// The flows in the table, by ascending id (evicted flows are gone; see `evicted`).
    pub flows: Vec<Flow>,
    config: FlowConfig,
    /// Flows started so far, evicted or not: the next flow's id is one more.
    started: u32,
    budget: Budget,
    /// The flows evicted to stay within `config.max_memory`.
    pub evicted: Evicted,
    /// Host pairs (lower address first) that exchanged IP fragments, at most
    /// [`FRAGMENT_PAIRS`]: a flow between them may have segments inside fragments, which are not
    /// reassembled (docs/architecture.md), so its "missing" bytes may be in the capture.
    fragment_pairs: Vec<[IpAddr; 2]>,
    /// The QUIC connections' IDs, for their other paths.
    quic_cids: QuicCids,
}

/// Bound on [`FlowTable::fragment_pairs`]; beyond it every pair counts as fragmented.
const FRAGMENT_PAIRS: usize = 64;

/// What the table needs of one TCP or UDP packet.
struct Transport {
    protocol: Protocol,
    sport: u16,
    dport: u16,
    payload: u32,
    flags: u8,
}

impl Transport {
    fn of(pkt: &Packet) -> Option<Transport> {
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
        Some(Transport {
            protocol,
            sport,
            dport,
            payload,
            flags,
        })
    }
}

impl FlowTable {
    pub fn new(config: FlowConfig) -> Self {
        FlowTable {
            budget: Budget {
                max: config.max_memory,
                ..Default::default()
            },
            config,
            ..Default::default()
        }
    }

    /// The flow with this id (ids are 1-based, in order of appearance), unless it was evicted.
    pub fn by_id(&self, id: u32) -> Option<&Flow> {
        self.by_index((id as usize).checked_sub(1)?)
    }

    /// The flow with this index (id - 1, as [`FlowRef::index`]), unless it was evicted.
    pub fn by_index(&self, index: usize) -> Option<&Flow> {
        super::at(&self.flows, index)
    }

    /// Where the flow of `index` is in `flows`: the same number until a flow was evicted.
    fn pos(&self, index: usize) -> Option<usize> {
        super::position(&self.flows, index)
    }

    /// The estimate of the bytes the flows hold, and its peak ([`memory`]).
    pub fn memory(&self) -> &Budget {
        &self.budget
    }

    fn note_fragment(&mut self, pkt: &Packet) {
        for (_, ip) in pkt.ip_headers().filter(|(_, ip)| ip.is_fragment()) {
            let pair = sorted(ip.src, ip.dst);
            if !self.fragment_pairs.contains(&pair) && self.fragment_pairs.len() <= FRAGMENT_PAIRS {
                self.fragment_pairs.push(pair);
            }
        }
    }

    /// Whether IP fragments passed between the flow's hosts or its tunnel's endpoints.
    pub fn fragments_between(&self, f: &Flow) -> bool {
        if self.fragment_pairs.len() > FRAGMENT_PAIRS {
            return true;
        }
        let inner = sorted(f.key.ends[0].addr, f.key.ends[1].addr);
        let outer = f.key.tunnel.map(|t| t.outer);
        self.fragment_pairs
            .iter()
            .any(|p| *p == inner || Some(*p) == outer)
    }

    /// Accounts one decoded packet; returns its flow, or `None` for packets that are not TCP/UDP.
    pub fn account(&mut self, frame: &Frame<'_>, pkt: &Packet) -> Option<FlowRef> {
        if pkt.kind == Kind::IpFragment {
            self.note_fragment(pkt);
        }
        if pkt.kind == Kind::Icmp {
            self.attach_icmp(frame, pkt);
            return None;
        }
        // Only frames decoded down to TCP/UDP; an undecodable tunnel payload is not a flow.
        if !matches!(pkt.kind, Kind::Tcp | Kind::Udp) {
            return None;
        }
        let ip = pkt.ip.as_ref()?;
        let tr = Transport::of(pkt)?;
        let (found, side) = IndexKey::of_packet(pkt, ip, tr.protocol, (tr.sport, tr.dport));
        let pos = self.find_or_start(&found, side, frame, pkt, (ip, &tr));
        let index = self.flows[pos].index();
        let flow = &mut self.flows[pos];
        flow.note_header(side, tr.flags, pkt.tcp.as_ref());
        flow.dirs[side].add(frame, ip, tr.payload, pkt.sll_pkttype);
        let (events, inflight, gro) = match &pkt.tcp {
            Some(t) => flow.feed_tcp(side, frame, pkt, ip, t, &self.config.gro),
            None => (Events::default(), 0, None),
        };
        if let Some(u) = &pkt.udp {
            let gso_before = self.gso_datagrams(pos);
            self.quic_datagram(pos, side, frame, u);
            let gso = self.gso_datagrams(pos) > gso_before;
            let payload = udp_payload(frame, u);
            udp_trace::record(
                &mut self.flows,
                index,
                side,
                frame.ts_ns,
                u.payload_len,
                payload,
                gso,
            );
        }
        let flow = &mut self.flows[pos];
        if memory::recount_due(flow.frames()) {
            let counted = memory::flow_bytes(flow);
            self.budget.recount(u64::from(flow.counted_bytes), counted);
            flow.counted_bytes = u32::try_from(counted).unwrap_or(u32::MAX);
        }
        Some(FlowRef {
            index,
            side,
            events,
            inflight,
            gro,
            quic: flow.is_quic(),
        })
    }

    /// Evicts the least recently active flows when the estimate passes the budget; returns
    /// the indexes of the flows evicted (empty almost always), for the detectors to forget
    /// theirs. QUIC connections and their paths stay (their views point at each other by
    /// index), and so do the flows whose full trace a graph needs.
    #[inline]
    pub fn evict_over_budget(&mut self) -> Vec<usize> {
        if !self.budget.exceeded() {
            return Vec::new();
        }
        self.evict()
    }

    /// The eviction itself: rare, so kept out of the per-frame check above (which the pass
    /// inlines).
    #[cold]
    #[inline(never)]
    fn evict(&mut self) -> Vec<usize> {
        let full = &self.config.full_trace;
        let victims = memory::victims(&self.flows, self.budget.to_free(), |f| {
            f.is_quic() || full.covers(f.id)
        });
        let mut gone = Vec::with_capacity(victims.len());
        for &p in &victims {
            let f = &self.flows[p];
            self.evicted.note(f);
            self.budget.recount(u64::from(f.counted_bytes), 0);
            gone.push(f.index());
        }
        // Every key of an evicted flow goes (a flow with another VNI per direction has two).
        let evicted: rustc_hash::FxHashSet<usize> = gone.iter().copied().collect();
        self.index.retain(|_, i| !evicted.contains(i));
        self.by_tunnel_ends.retain(|_, i| !evicted.contains(i));
        let mut k = 0;
        self.flows.retain(|_| {
            let keep = victims.binary_search(&k).is_err();
            k += 1;
            keep
        });
        gone
    }

    /// Attaches an ICMP error to the flow of the packet it quotes, in the quoted packet's
    /// direction; never starts a flow. The error must be addressed to the quoted packet's
    /// sender, as an ICMP error is (RFC 1122 §3.2.2, RFC 4443 §2.4).
    fn attach_icmp(&mut self, frame: &Frame<'_>, pkt: &Packet) -> Option<()> {
        let facts = pkt.icmp.as_ref()?;
        let ip = pkt.ip.as_ref()?;
        let q = facts.quoted?;
        let ports = q.ports?;
        let protocol = match q.protocol {
            6 => Protocol::Tcp,
            17 => Protocol::Udp,
            _ => return None,
        };
        if ip.dst != q.src {
            return None;
        }
        let src = Endpoint {
            addr: q.src,
            port: ports.src,
        };
        let dst = Endpoint {
            addr: q.dst,
            port: ports.dst,
        };
        let (key, side) = FlowKey::of(protocol, src, dst, TunnelKey::of_packet(pkt));
        let i = self.pos(*self.index.get(&IndexKey::from(&key))?)?;
        let errors = self.flows[i].icmp.get_or_insert_with(Default::default);
        errors[side].note(facts, ip.src, frame.number);
        Some(())
    }

    /// The position of the packet's flow, starting a new one for an unknown key or a port reuse.
    fn find_or_start(
        &mut self,
        found: &IndexKey,
        side: Side,
        frame: &Frame<'_>,
        pkt: &Packet,
        (ip, tr): (&IpFacts, &Transport),
    ) -> usize {
        let syn = tr.flags & (tcp_flags::SYN | tcp_flags::ACK) == tcp_flags::SYN;
        let flow_key = || FlowKey::of_packet(pkt, ip, tr.protocol, (tr.sport, tr.dport));
        // The full key only for a packet the index does not know (rare): for the other-VNI
        // pairing and the new flow.
        let mut key = None;
        let found = match self.index.get(found) {
            Some(&i) => self.pos(i),
            None => self.pair_reverse_vni(key.insert(flow_key()), side),
        };
        let seq = pkt.tcp.map_or(0, |t| t.seq);
        match found {
            Some(i) if !(syn && self.flows[i].is_port_reuse(side, seq)) => i,
            _ => self.start(key.unwrap_or_else(flow_key), side, frame, pkt),
        }
    }

    /// A new flow, created by a packet `side` sent; returns its position.
    fn start(&mut self, key: FlowKey, side: Side, frame: &Frame<'_>, pkt: &Packet) -> usize {
        let pos = self.flows.len();
        let i = self.started as usize;
        self.started = self.started.saturating_add(1);
        let id = self.started;
        let after_eviction = self.evicted.is_return(&key);
        let tcp = (key.protocol == Protocol::Tcp).then(|| {
            let full = self.config.full_trace.covers(id);
            Box::new(TcpConn::new(frame.ts_ns, full, self.config.tcp))
        });
        let udp_trace =
            (key.protocol == Protocol::Udp && self.config.full_trace.covers(id)).then(Box::default);
        self.flows.push(Flow {
            id,
            key,
            dirs: Default::default(),
            client: side,
            creator: side,
            client_known: false,
            reverse_vni: None,
            first_outer_src: pkt.tunnel.map(|t| t.outer_ip.src),
            base_seq: PerSide::default(),
            tcp,
            gro: None,
            quic: None,
            quic_path: None,
            icmp: None,
            udp_trace,
            counted_bytes: 0,
            after_eviction,
        });
        self.index.insert(IndexKey::from(&key), i);
        if let Some(loose) = key.without_vni() {
            self.by_tunnel_ends.insert(loose, i);
        }
        pos
    }

    /// Some overlays (OVN's Geneve, for one) use a different VNI in each direction of the same
    /// conversation. A tunnelled packet whose key is unknown joins the flow with the same inner
    /// 5-tuple and outer addresses but another VNI, provided that flow has so far only carried the
    /// opposite direction; it then answers to both keys. Two tenants reusing the same addresses in
    /// both directions still get separate flows.
    fn pair_reverse_vni(&mut self, key: &FlowKey, side: Side) -> Option<usize> {
        let i = self.pos(*self.by_tunnel_ends.get(&key.without_vni()?)?)?;
        let f = &mut self.flows[i];
        if f.dirs[side].frames != 0 || f.reverse_vni.is_some() {
            return None;
        }
        f.reverse_vni = key.tunnel.map(|t| t.vni);
        self.index.insert(IndexKey::from(key), f.index());
        Some(i)
    }
}

impl Flow {
    /// What the TCP header tells the table: the client (from the first SYN) and the base sequence
    /// numbers (for the port-reuse rule).
    fn note_header(&mut self, side: Side, flags: u8, tcp: Option<&TcpFacts>) {
        if !self.client_known && tcp.is_some() && flags & tcp_flags::SYN != 0 {
            // SYN alone: the sender is the client; SYN/ACK: the receiver is.
            self.client = if flags & tcp_flags::ACK == 0 {
                side
            } else {
                side.other()
            };
            self.client_known = true;
        }
        if let (Some(t), None) = (tcp, self.base_seq[side]) {
            self.base_seq[side] = Some(if t.flags & tcp_flags::SYN != 0 {
                t.seq
            } else {
                t.seq.wrapping_sub(1)
            });
        }
    }

    /// Feeds one TCP segment to the engine and, when it carries data, to the GRO model; returns
    /// its Wireshark flags and the connection's bytes in flight.
    fn feed_tcp(
        &mut self,
        side: Side,
        frame: &Frame<'_>,
        pkt: &Packet,
        ip: &IpFacts,
        t: &TcpFacts,
        gro: &GroConfig,
    ) -> (Events, u64, Option<PairVerdict>) {
        let Some(conn) = self.tcp.as_mut() else {
            return (Events::default(), 0, None);
        };
        let events = conn.segment(
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
        // A capture duplicate never reached a receiver's GRO a second time.
        let mut gro_verdict = None;
        if t.payload_len > 0 && !events.any(Events::CAPTURE_DUPLICATE) {
            gro_verdict = Some(
                self.gro.get_or_insert_with(Default::default).dirs[side].data_segment(
                    &DataFrame {
                        number: frame.number,
                        ts_ns: frame.ts_ns,
                        pkt,
                        ip,
                        tcp: t,
                        data: frame.data,
                        peer_mss: conn.options[side.other()].mss,
                    },
                    gro,
                ),
            );
        }
        let inflight = conn.dirs().iter().map(|d| u64::from(d.inflight_now)).sum();
        (events, inflight, gro_verdict)
    }
}

/// A UDP flow's QUIC view starts at a client Initial among its first datagrams (a capture that
/// begins mid-connection shows only short headers, whose connection IDs cannot be told without
/// the handshake).
const QUIC_START_DATAGRAMS: u64 = 8;

impl FlowTable {
    /// Key log text embedded in the capture (pcapng Decryption Secrets Blocks), added to the
    /// key log QUIC connections are decrypted with, as Wireshark uses it: without any option.
    pub fn add_secrets(&mut self, text: &[u8]) {
        let log = self.config.keylog.get_or_insert_with(Default::default);
        std::sync::Arc::make_mut(log).embedded(text);
    }

    /// Shows a UDP datagram to its QUIC connection: the flow's own view, the view of the
    /// connection whose other path the flow is, or a new view at a client Initial; a flow whose
    /// first datagrams are short headers addressed to a known connection ID joins that
    /// connection as another path.
    fn quic_datagram(&mut self, pos: usize, side: Side, frame: &Frame<'_>, u: &UdpFacts) {
        let payload = udp_payload(frame, u);
        let flow = &mut self.flows[pos];
        let index = flow.index();
        let trace = flow.udp_trace.is_some();
        if let Some(q) = &mut flow.quic {
            q.datagram(side, payload, frame.number, frame.ts_ns);
            if let Some(log) = &self.config.keylog {
                q.decrypt(side, payload, log, (frame.number, frame.ts_ns), trace);
            }
            self.quic_cids.learn(index, q);
            return;
        }
        if flow.quic_path.is_none() {
            let datagrams: u64 = flow.dirs.iter().map(|d| d.frames).sum();
            if datagrams > QUIC_START_DATAGRAMS {
                return;
            }
            if let Some(mut q) = QuicConn::start(side, payload, frame.ts_ns) {
                q.datagram(side, payload, frame.number, frame.ts_ns);
                // The first datagram may carry 0-RTT packets after the Initial.
                if let Some(log) = &self.config.keylog {
                    q.decrypt(side, payload, log, (frame.number, frame.ts_ns), trace);
                }
                self.quic_cids.learn(index, &mut q);
                flow.quic = Some(q);
                return;
            }
            flow.quic_path = self
                .quic_cids
                .path_of(payload, side)
                .filter(|p| p.conn != index);
        }
        let Some(path) = flow.quic_path else {
            return;
        };
        let conn = self.pos(path.conn);
        if let Some(q) = conn
            .and_then(|p| self.flows.get_mut(p))
            .and_then(|f| f.quic.as_deref_mut())
        {
            q.path_datagram(
                (index, path.client),
                side,
                payload,
                frame.number,
                frame.ts_ns,
            );
        }
    }

    /// The GSO super-datagrams the QUIC connection of the flow at position `pos` counted so far
    /// (its own view's, or the view of the connection whose path it is): one more after a
    /// datagram says that datagram was one.
    fn gso_datagrams(&self, pos: usize) -> u64 {
        let Some(f) = self.flows.get(pos) else {
            return 0;
        };
        let conn = match f.quic_path {
            Some(p) if f.quic.is_none() => self.by_index(p.conn),
            _ => Some(f),
        };
        conn.and_then(|c| c.quic.as_deref())
            .map_or(0, |q| q.packets.iter().map(|c| c.gso_datagrams).sum())
    }
}

/// The UDP payload's captured bytes (fewer than its length when the capture cut them).
fn udp_payload<'a>(frame: &'a Frame<'_>, u: &UdpFacts) -> &'a [u8] {
    let start = (u.payload_offset as usize).min(frame.data.len());
    let end = start
        .saturating_add(u.payload_len as usize)
        .min(frame.data.len());
    &frame.data[start..end]
}
