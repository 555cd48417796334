//! The TCP engine: per-connection state and measurements, updated once per frame in the single
//! streaming pass.
//!
//! [`wireshark`] reproduces Wireshark's `tcp.analysis.*` flags frame by frame; [`metrics`]
//! measures what those flags do not (bytes, RTT, bytes in flight, zero-window time, capture gaps,
//! throughput series), with RTT sampling in [`rtt`]; [`evidence`] keeps each connection's first frames of the events that
//! findings cite; [`trace`] keeps the per-segment data behind time-sequence graphs. All sequence
//! arithmetic goes through [`seq::SeqNum`]. Part of the flow stage: the flow table feeds it, and
//! it knows sides only through [`crate::flow::side`].

pub mod ack_check;
pub mod counts;
pub mod duplicates;
pub mod events;
pub mod evidence;
pub mod id_order;
pub mod lazy;
pub mod metrics;
pub mod rtt;
pub mod seq;
pub mod stats;
pub mod trace;
pub mod wireshark;

use crate::decode::{tcp_flags, TcpFacts};
use crate::flow::side::{PerSide, Side};
use ack_check::AckCheck;
use events::Events;
use evidence::EventEvidence;
use lazy::{PendingSyn, TcpData};
use metrics::{DirMetrics, Sent};
use seq::{SeqNum, Unwrapper};
use trace::{AckPoint, IdMark, RttPoint, SackPoint, SegPoint, Trace};
use wireshark::{Segment, WinScale, WsConn};

/// Engine settings.
#[derive(Debug, Clone, Copy)]
pub struct TcpConfig {
    /// Bin width of the goodput/throughput series.
    pub interval_ns: i64,
}

impl Default for TcpConfig {
    fn default() -> Self {
        TcpConfig {
            interval_ns: 100_000_000,
        }
    }
}

/// What the handshake told about one side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SideOptions {
    /// Initial sequence number, when this side's SYN was captured.
    pub isn: Option<u32>,
    pub mss: Option<u16>,
    pub sack_permitted: bool,
    /// This side sent the timestamps option.
    pub timestamps: bool,
    /// Largest payload seen from this side.
    pub max_payload: u32,
}

/// When the three handshake packets passed the capture point: which side answers quickly is the
/// local one (see `Flow::capture_point`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Handshake {
    /// The first SYN and the side that sent it.
    pub syn: Option<(Side, i64)>,
    /// The first SYN/ACK answering it.
    pub syn_ack_ns: Option<i64>,
    /// The first ACK from the SYN's side after the SYN/ACK.
    pub ack_ns: Option<i64>,
}

impl Handshake {
    fn note(&mut self, side: Side, flags: u8, ts_ns: i64) {
        use tcp_flags::{ACK, SYN};
        match (self.syn, flags & (SYN | ACK)) {
            (None, SYN) => self.syn = Some((side, ts_ns)),
            (Some((s, _)), f) if f == SYN | ACK && s != side && self.syn_ack_ns.is_none() => {
                self.syn_ack_ns = Some(ts_ns)
            }
            (Some((s, _)), ACK) if s == side && self.syn_ack_ns.is_some() => {
                self.ack_ns.get_or_insert(ts_ns);
            }
            _ => {}
        }
    }
}

/// One TCP connection (both directions). What every connection needs is kept inline; the
/// sequence tracking and measurements live in a [`TcpData`] boxed at the first segment after a
/// lone opening SYN ([`lazy`]), so a scan's flows stay small.
#[derive(Debug, Clone)]
pub struct TcpConn {
    pub ws: WsConn,
    pub handshake: Handshake,
    pub options: PerSide<SideOptions>,
    /// The frames the event findings cite.
    pub evidence: EventEvidence,
    /// Per side: whether an ACK of its data acknowledges this connection (challenge ACKs do not).
    pub ack_check: PerSide<AckCheck>,
    id_order: PerSide<id_order::IdOrder>,
    data: Option<Box<TcpData>>,
    /// The opening SYN, while it is all the connection sent.
    pending_syn: Option<PendingSyn>,
    full_trace: bool,
    /// Start of the series: the connection's first frame.
    start_ns: i64,
    config: TcpConfig,
}

/// What a copy of this frame would share with it.
fn fingerprint(f: &TcpFrame<'_>) -> duplicates::Fingerprint {
    let t = f.tcp;
    duplicates::Fingerprint {
        ip_id: f.ip_id.map(|m| m.id),
        seq: t.seq,
        ack: t.ack,
        len: t.payload_len,
        flags: t.flags,
        window: t.window,
        tsval: t.options.timestamp,
    }
}

/// One frame as the engine needs it.
pub struct TcpFrame<'a> {
    pub number: u64,
    pub ts_ns: i64,
    pub tcp: &'a TcpFacts,
    pub ip_len: u32,
    /// False when the IP payload is shorter than the TCP header (Wireshark's "short segment"):
    /// no segment length, no analysis.
    pub has_seglen: bool,
    /// The IPv4 ID GRO checks first (outer in a tunnel), for the IP ID graph.
    pub ip_id: Option<IdMark>,
}

impl TcpConn {
    pub fn new(start_ns: i64, full_trace: bool, config: TcpConfig) -> Self {
        TcpConn {
            ws: WsConn::default(),
            handshake: Handshake::default(),
            options: Default::default(),
            evidence: EventEvidence::default(),
            ack_check: PerSide::default(),
            id_order: PerSide::default(),
            // A traced flow's graphs start at its SYN: no reason to wait.
            data: full_trace.then(|| Box::new(TcpData::new(true))),
            pending_syn: None,
            full_trace,
            start_ns,
            config,
        }
    }

    /// What each side sent (all zero while the connection sent only its opening SYN).
    pub fn dirs(&self) -> &PerSide<DirMetrics> {
        &self.data().dirs
    }

    /// The per-segment traces (empty while the connection sent only its opening SYN).
    pub fn traces(&self) -> &PerSide<Trace> {
        &self.data().traces
    }

    fn data(&self) -> &TcpData {
        self.data.as_deref().unwrap_or(&lazy::EMPTY)
    }

    /// Segments `side` sent that used sequence space, the deferred opening SYN included.
    pub fn seq_segments(&self, side: Side) -> u64 {
        let pending = self.pending_syn.is_some_and(|p| p.side == side);
        self.dirs()[side].seq_segments + u64::from(pending)
    }

    /// Whether the heavy state exists (tests, the memory estimate).
    pub fn has_data(&self) -> bool {
        self.data.is_some()
    }

    /// The heavy state, created (and the pending SYN replayed into it) on first use.
    #[inline]
    fn data_mut(&mut self) -> &mut TcpData {
        if self.data.is_none() {
            self.create_data();
        }
        match self.data.as_deref_mut() {
            Some(d) => d,
            None => unreachable!("created above"),
        }
    }

    /// Once per connection: off the per-segment path.
    #[cold]
    #[inline(never)]
    fn create_data(&mut self) {
        self.data = Some(Box::new(TcpData::new(self.full_trace)));
        if let Some(p) = self.pending_syn.take() {
            self.replay(&p);
        }
    }

    /// Relative, unwrapped position of `s` in `side`'s sequence space.
    fn place(&mut self, side: Side, s: SeqNum) -> i64 {
        let base = self.ws.dirs[side].base_seq().unwrap_or(s);
        self.data_mut().unwrap[side]
            .get_or_insert_with(|| Unwrapper::starting_at(base))
            .place(s)
    }

    /// A lone SYN that opens the connection with no analysis flag: its state can wait (a scan's
    /// flows end there). What it would have measured is a sequence-space segment
    /// ([`Self::seq_segments`]) and the RTT clock the answer stops, replayed when one comes.
    fn defers(&self, t: &TcpFacts, ev: Events) -> bool {
        use tcp_flags::{ACK, FIN, RST, SYN};
        ev.is_empty()
            && self.data.is_none()
            && self.pending_syn.is_none()
            && t.flags & (SYN | ACK | RST | FIN) == SYN
            && t.payload_len == 0
    }

    /// Keeps the opening SYN for [`Self::replay`]; what the light state learns now.
    fn defer(&mut self, side: Side, f: &TcpFrame<'_>, seg: &Segment, ev: Events) {
        self.id_order[side].sent_earlier(f.ip_id.map(|m| m.id));
        self.ack_check[side].sent(seg.seq, 0, true, false);
        self.pending_syn = Some(PendingSyn {
            side,
            number: f.number,
            ts_ns: f.ts_ns,
            flags: f.tcp.flags,
            ip_len: f.ip_len,
            ip_id: f.ip_id,
            fingerprint: fingerprint(f),
            events: ev,
        });
    }

    /// Measures the deferred SYN into the new heavy state, as [`Self::segment`] would have.
    fn replay(&mut self, p: &PendingSyn) {
        let fp = p.fingerprint;
        let (side, seq) = (p.side, SeqNum(fp.seq));
        let Some(d) = self.data.as_deref_mut() else {
            return;
        };
        d.recent[side].is_copy(fp, p.ts_ns, p.events);
        d.dirs[side].sent(&Sent {
            ts_ns: p.ts_ns,
            seq,
            len: 0,
            syn_fin: true,
            rst: false,
            window_zero: false,
            tsval: fp.tsval.map(|(v, _)| v),
            events: p.events,
            series_start: self.start_ns,
            interval_ns: self.config.interval_ns,
        });
        for s in [side, side.other()] {
            d.traces[s].inflight_at(p.ts_ns, d.dirs[s].inflight_now);
        }
        let start = self.place(side, seq);
        self.data_mut().traces[side].segment(SegPoint {
            frame: p.number,
            t_ns: p.ts_ns,
            start,
            end: start + 1,
            tcp_flags: p.flags,
            events: p.events,
            ip_len: p.ip_len,
            ip_id: p.ip_id,
        });
    }

    /// Analyses one frame sent by `side`; returns its Wireshark flags.
    pub fn segment(&mut self, side: Side, f: &TcpFrame<'_>) -> Events {
        let t = f.tcp;
        self.handshake.note(side, t.flags, f.ts_ns);
        self.note_options(side, t);
        if !f.has_seglen {
            return Events::default();
        }
        let seg = Segment {
            ts_ns: f.ts_ns,
            seq: SeqNum(t.seq),
            ack: SeqNum(t.ack),
            len: t.payload_len,
            flags: t.flags,
            window: t.window,
            wscale: t.options.window_scale,
        };
        let mut ev = self.ws.analyse(side, &seg);
        if self.defers(t, ev) {
            self.defer(side, f, &seg, ev);
            self.evidence.note(f.number, ev);
            return ev;
        }
        let recent = &mut self.data_mut().recent;
        if recent[side].is_copy(fingerprint(f), f.ts_ns, ev) {
            ev.insert(Events::CAPTURE_DUPLICATE);
            // A capture that copies one side's frames usually copies the other's too.
            recent[side.other()].widen();
        } else if self.id_order[side].sent_earlier(f.ip_id.map(|m| m.id)) {
            ev.insert(Events::SENT_EARLIER);
        } else if self.not_resent(side, &seg, ev) {
            ev.insert(Events::NOT_RESENT);
        }
        self.evidence.note(f.number, ev);
        let so = &mut self.options[side];
        so.max_payload = so.max_payload.max(t.payload_len);
        self.measure(side, f, &seg, ev);
        self.trace(side, f, &seg, ev);
        ev
    }

    /// Whether a frame Wireshark calls a retransmission carries sequence space `side` never sent
    /// before, after `side` sent a challenge ACK (its sequence number, another incarnation's,
    /// became Wireshark's next-sequence mark for the side).
    fn not_resent(&self, side: Side, seg: &Segment, ev: Events) -> bool {
        self.ack_check[side.other()].rejected > 0
            && ev.any(Events::ANY_RETRANSMISSION)
            && self.dirs()[side]
                .highest_sent()
                .is_none_or(|h| seg.seq.distance(h) >= 0)
    }

    /// What the handshake and the options tell about `side`.
    fn note_options(&mut self, side: Side, t: &TcpFacts) {
        let o = &t.options;
        let so = &mut self.options[side];
        if t.flags & tcp_flags::SYN != 0 {
            so.isn = Some(t.seq);
            so.mss = o.mss.or(so.mss);
            so.sack_permitted |= o.sack_permitted;
        }
        if o.timestamp.is_some() {
            so.timestamps = true;
        }
    }

    /// The measurements: what `side` sent, what its ACK says of the other side's data (RTT
    /// samples), and both directions' bytes in flight.
    fn measure(&mut self, side: Side, f: &TcpFrame<'_>, seg: &Segment, ev: Events) {
        let t = f.tcp;
        let o = &t.options;
        let rst = t.flags & tcp_flags::RST != 0;
        let (series_start, interval_ns) = (self.start_ns, self.config.interval_ns);
        self.data_mut().dirs[side].sent(&Sent {
            ts_ns: f.ts_ns,
            seq: seg.seq,
            len: seg.len,
            syn_fin: t.flags & (tcp_flags::SYN | tcp_flags::FIN) != 0,
            rst,
            window_zero: t.window == 0 && t.flags & tcp_flags::SYN == 0,
            tsval: o.timestamp.map(|(v, _)| v),
            events: ev,
            series_start,
            interval_ns,
        });
        let other = side.other();
        let (syn, fin) = (t.flags & tcp_flags::SYN != 0, t.flags & tcp_flags::FIN != 0);
        self.ack_check[side].sent(seg.seq, seg.len, syn, fin);
        // A challenge ACK (or another incarnation's) acknowledges nothing of this connection: it
        // moves no cumulative ACK, opens or closes no capture gap, gives no RTT or in-flight.
        if t.flags & tcp_flags::ACK != 0 && self.ack_check[other].accepts(seg.ack) {
            let sack = &o.sack[..(o.sack_count as usize).min(4)];
            let d = self.data_mut();
            let rtt = d.dirs[other].acked(f.ts_ns, seg.ack, o.timestamp.map(|(_, e)| e), sack);
            for (sample, timestamps) in [(rtt.seq, false), (rtt.ts, true)] {
                if let Some(rtt_ns) = sample {
                    d.traces[other].rtt(RttPoint {
                        frame: f.number,
                        t_ns: f.ts_ns,
                        rtt_ns,
                        timestamps,
                    });
                }
            }
        }
        // A RST ends the connection: neither side holds its unacknowledged data any longer (a
        // proxy frees those buffers), so it must not count toward concurrent in-flight bytes.
        let d = self.data_mut();
        if rst {
            for s in [side, other] {
                d.dirs[s].inflight_now = 0;
            }
        }
        for s in [side, other] {
            d.traces[s].inflight_at(f.ts_ns, d.dirs[s].inflight_now);
        }
    }

    /// The trace: this side's segment, and this frame's ACK (and SACK blocks) of the other
    /// side's data.
    fn trace(&mut self, side: Side, f: &TcpFrame<'_>, seg: &Segment, ev: Events) {
        let t = f.tcp;
        let syn_fin = t.flags & (tcp_flags::SYN | tcp_flags::FIN) != 0;
        if seg.len > 0 || syn_fin || !ev.is_empty() {
            let start = self.place(side, seg.seq);
            let end = start + seg.len as i64 + i64::from(syn_fin);
            self.data_mut().traces[side].segment(SegPoint {
                frame: f.number,
                t_ns: f.ts_ns,
                start,
                end,
                tcp_flags: t.flags,
                events: ev,
                ip_len: f.ip_len,
                ip_id: f.ip_id,
            });
        }
        if t.flags & tcp_flags::ACK == 0 {
            return;
        }
        let other = side.other();
        let ack = self.place(other, seg.ack);
        let window = (t.window as i64) << self.ws.dirs[side].shift();
        let traces = &mut self.data_mut().traces;
        traces[other].ack(AckPoint {
            frame: f.number,
            t_ns: f.ts_ns,
            ack,
            window_edge: ack + window,
            events: ev,
        });
        if traces[other].is_full() {
            let o = &t.options;
            for &(l, r) in &o.sack[..(o.sack_count as usize).min(4)] {
                let (left, right) = (self.place(other, SeqNum(l)), self.place(other, SeqNum(r)));
                self.data_mut().traces[other].sack(SackPoint {
                    t_ns: f.ts_ns,
                    left,
                    right,
                });
            }
        }
    }

    /// Window scaling as negotiated: `Some(shift)` per side when both SYNs carried the option,
    /// `Some(0)` when the handshake was seen without it, `None` when not captured.
    pub fn window_scale(&self, side: Side) -> Option<u8> {
        match self.ws.dirs[side].win_scale {
            WinScale::Unknown => None,
            WinScale::NotUsed => Some(0),
            WinScale::Shift(s) => Some(s),
        }
    }
}
