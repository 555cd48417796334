//! Wireshark's TCP sequence analysis: the `tcp.analysis.*` flags, frame by frame.
//!
//! A port of `tcp_analyze_sequence_number()` and the parts of `dissect_tcp()` that feed it
//! (epan/dissectors/packet-tcp.c, Wireshark 4.0; the conditions are also written up in the
//! Wireshark User's Guide, "TCP Analysis"). The order of the checks, their early exits and the
//! state they read are kept as they are there, because the flags depend on them: a frame that is
//! a zero-window probe is never also a duplicate ACK, a keep-alive is never a retransmission.
//! Two Wireshark habits are kept on purpose so that we flag the same frames: a state value of 0
//! means "not seen yet" (so a real sequence number 0 is treated as unknown), and time differences
//! are unsigned (a timestamp that goes backwards is "long ago").
//!
//! Not ported: the unacked-segment list (used there for bytes in flight and ACK RTT, which
//! [`super::metrics`] measures its own way) and MPTCP. See docs/tcp-analysis.md.

use super::events::Events;
use super::seq::SeqNum;
use crate::decode::tcp_flags::{ACK, FIN, RST, SYN};
use crate::flow::side::{PerSide, Side};

/// Window scale as Wireshark tracks it: unknown, not used, or the shift.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WinScale {
    /// No handshake seen (Wireshark's -1): windows are shown unscaled.
    Unknown,
    /// The handshake was seen and scaling is off (Wireshark's -2).
    NotUsed,
    Shift(u8),
}

/// Per-direction state (Wireshark's `tcp_flow_t` plus `tcp_analyze_seq_flow_info_t`).
#[derive(Debug, Clone)]
pub struct WsDir {
    base_seq: Option<SeqNum>,
    /// Last raw window field sent in this direction (starts at `u32::MAX`, as there).
    window: u32,
    pub win_scale: WinScale,
    /// Until this side sends its first non-SYN ACK, its window is taken unscaled (Wireshark
    /// issue 14690).
    is_first_ack: bool,
    /// Highest next sequence number sent (0 = none yet).
    nextseq: SeqNum,
    nextseq_time: i64,
    /// Highest sequence number sent without a hole before it (0 = none yet).
    maxseqtobeacked: SeqNum,
    /// Last acknowledgment number sent (0 = none yet).
    lastack: SeqNum,
    lastack_time: i64,
    /// Duplicate ACKs in a row. Unsigned as in packet-tcp.c, where "ACKed unseen segment" stores
    /// -1 in it: that reads as a huge count, so the next retransmission of the ACKed sequence
    /// within 20 ms counts as a fast retransmission (tshark 4.0 does flag those).
    dupacknum: u32,
    lastsegmentflags: Events,
}

impl Default for WsDir {
    fn default() -> Self {
        WsDir {
            base_seq: None,
            window: u32::MAX,
            win_scale: WinScale::Unknown,
            is_first_ack: false,
            nextseq: SeqNum(0),
            nextseq_time: 0,
            maxseqtobeacked: SeqNum(0),
            lastack: SeqNum(0),
            lastack_time: 0,
            dupacknum: 0,
            lastsegmentflags: Events::default(),
        }
    }
}

impl WsDir {
    /// Wireshark's base sequence number (relative sequence 0).
    pub fn base_seq(&self) -> Option<SeqNum> {
        self.base_seq
    }

    /// The shift applied to this side's window fields, for the window in force now.
    pub fn shift(&self) -> u8 {
        match self.win_scale {
            WinScale::Shift(s) if !self.is_first_ack => s,
            _ => 0,
        }
    }
}

/// The TCP header fields one frame brings to the analysis.
#[derive(Debug, Clone, Copy)]
pub struct Segment {
    pub ts_ns: i64,
    pub seq: SeqNum,
    pub ack: SeqNum,
    /// Payload length from the IP length fields.
    pub len: u32,
    pub flags: u8,
    /// The raw 16-bit window field.
    pub window: u16,
    /// Window scale option, when present.
    pub wscale: Option<u8>,
}

/// Both directions plus the handshake timing (Wireshark's `tcp_analysis`).
#[derive(Debug, Clone, Default)]
pub struct WsConn {
    pub dirs: PerSide<WsDir>,
    /// Time of the most recent SYN (without ACK).
    ts_mru_syn: Option<i64>,
    /// SYN to the first pure ACK: Wireshark's iRTT, its out-of-order threshold.
    pub initial_rtt_ns: Option<i64>,
}

/// Out-of-order threshold when the handshake was not seen (packet-tcp.c: 3 ms).
const DEFAULT_OOO_THRESHOLD_NS: u64 = 3_000_000;
/// A retransmission within this long of the last duplicate ACK is a fast retransmission.
const FAST_RETRANSMISSION_WINDOW_NS: u64 = 20_000_000;

/// packet-tcp.c's `dupacknum = -1` in its unsigned counter.
const ACKED_UNSEEN: u32 = u32::MAX;

/// Unsigned nanoseconds from `then` to `now`, as packet-tcp.c computes them (a time before
/// `then` wraps to a huge value).
#[inline]
fn since(now: i64, then: i64) -> u64 {
    now.wrapping_sub(then) as u64
}

impl WsConn {
    /// Analyses one segment sent by `side`; returns its flags. The phases follow
    /// `tcp_analyze_sequence_number()` in order; each phase's early exits end only that phase,
    /// as the `goto finished_fwd` and `goto finished_checking_retransmission_type` there do.
    pub fn analyse(&mut self, side: Side, s: &Segment) -> Events {
        let initial_rtt_ns = self.initial_rtt_ns;
        let (fwd, rev) = self.dirs.split_mut(side);
        let mut ev = base_sequences(fwd, rev, s);
        ev.insert(forward_checks(fwd, rev, s));
        // finished_fwd: a new ACK number resets the duplicate count.
        if s.ack != fwd.lastack {
            fwd.dupacknum = 0;
        }
        ev.insert(acked_unseen(rev, s));
        ev.insert(retransmission_type(fwd, rev, s, ev, initial_rtt_ns));
        advance(fwd, s, ev);
        self.handshake(side, s);
        ev
    }

    /// After the analysis, dissect_tcp() records the handshake facts: the SYN's time (for the
    /// initial RTT), whether the window is still unscaled, and the window scale negotiation.
    fn handshake(&mut self, side: Side, s: &Segment) {
        let flags = s.flags;
        let (fwd, rev) = self.dirs.split_mut(side);
        if flags & SYN != 0 {
            if flags & ACK == 0 {
                self.ts_mru_syn = Some(s.ts_ns);
            }
            fwd.is_first_ack = true;
        }
        if flags & (SYN | ACK) == ACK {
            if let (Some(syn), None) = (self.ts_mru_syn, self.initial_rtt_ns) {
                // A zero delta stays "unknown" there (nstime_is_zero), and is tried again.
                let rtt = s.ts_ns.wrapping_sub(syn);
                self.initial_rtt_ns = (rtt != 0).then_some(rtt);
            }
            fwd.is_first_ack = false;
        }
        // Window scale option (RFC 7323 caps the shift at 14, and so does Wireshark).
        if let Some(ws) = s.wscale {
            fwd.win_scale = WinScale::Shift(ws.min(14));
        }
        if flags & SYN != 0 {
            // verify_tcp_window_scaling(): scaling is on only if both SYNs carried the option.
            if fwd.win_scale == WinScale::Unknown {
                fwd.win_scale = WinScale::NotUsed;
                rev.win_scale = WinScale::NotUsed;
            } else if flags & ACK != 0 && rev.win_scale == WinScale::NotUsed {
                fwd.win_scale = WinScale::NotUsed;
            }
        }
    }
}

/// dissect_tcp()'s port-reuse checks, then the base sequence numbers of both directions.
fn base_sequences(fwd: &mut WsDir, rev: &mut WsDir, s: &Segment) -> Events {
    let mut ev = Events::default();
    let (flags, seq) = (s.flags, s.seq);
    // A SYN repeating the base sequence is a retransmitted SYN; Wireshark rewinds nextseq so it
    // is flagged as such (issue 17616) and marks the port reuse.
    if flags & (SYN | ACK) == SYN && fwd.base_seq == Some(seq) {
        fwd.nextseq = fwd.maxseqtobeacked;
        ev.insert(Events::REUSED_PORTS);
    }
    // A SYN/ACK with another sequence number than the base: port reuse, base replaced.
    if flags & (SYN | ACK) == SYN | ACK && fwd.base_seq.is_some_and(|b| b != seq) {
        fwd.base_seq = Some(seq);
        ev.insert(Events::REUSED_PORTS);
    }
    if fwd.base_seq.is_none() {
        fwd.base_seq = Some(if flags & SYN != 0 { seq } else { seq.minus(1) });
    }
    if rev.base_seq.is_none() && flags & ACK != 0 {
        rev.base_seq = Some(s.ack.minus(1));
    }
    ev
}

/// The checks of the forward direction, up to `finished_fwd`: zero-window probes and windows,
/// lost segments, keep-alives, window updates and full windows, and the ACKs of keep-alives and
/// probes, or duplicate ACKs.
fn forward_checks(fwd: &mut WsDir, rev: &WsDir, s: &Segment) -> Events {
    let mut ev = Events::default();
    let (flags, seq, ack, seglen) = (s.flags, s.seq, s.ack, s.len);
    let window = s.window as u32;
    // ZERO WINDOW PROBE: one byte at the next expected sequence into a zero window.
    if seglen == 1 && seq == fwd.nextseq && rev.window == 0 {
        return Events::ZERO_WINDOW_PROBE;
    }
    // ZERO WINDOW: window 0 on anything but SYN/FIN/RST.
    if window == 0 && flags & (RST | FIN | SYN) == 0 {
        ev.insert(Events::ZERO_WINDOW);
    }
    // LOST PACKET (previous segment not captured): beyond the next expected sequence.
    if !fwd.nextseq.is_zero() && seq > fwd.nextseq && flags & RST == 0 {
        ev.insert(Events::LOST_SEGMENT);
    }
    // KEEP ALIVE: 0 or 1 byte one before the next expected sequence.
    if seglen <= 1 && seq == fwd.nextseq.minus(1) && flags & (SYN | FIN | RST) == 0 {
        ev.insert(Events::KEEP_ALIVE);
    }
    let pure =
        seglen == 0 && seq == fwd.nextseq && ack == fwd.lastack && flags & (SYN | FIN | RST) == 0;
    // WINDOW UPDATE: nothing new but the window.
    if pure && window != 0 && window != fwd.window {
        ev.insert(Events::WINDOW_UPDATE);
    }
    // WINDOW FULL: data up to the right edge of the receiver's window.
    if seglen > 0 && rev.win_scale != WinScale::Unknown && flags & (SYN | FIN | RST) == 0 {
        let edge = rev
            .lastack
            .plus(rev.window.wrapping_shl(rev.shift() as u32));
        if seq.plus(seglen) == edge {
            ev.insert(Events::WINDOW_FULL);
        }
    }
    // KEEP ALIVE ACK: repeats the ACK right after a keep-alive from the other side.
    if pure && window != 0 && window == fwd.window && rev.lastsegmentflags.any(Events::KEEP_ALIVE) {
        return ev | Events::KEEP_ALIVE_ACK;
    }
    // ZERO WINDOW PROBE ACK: still zero, right after a probe from the other side.
    if pure && window == 0 && fwd.window == 0 && rev.lastsegmentflags.any(Events::ZERO_WINDOW_PROBE)
    {
        return ev | Events::ZERO_WINDOW_PROBE_ACK;
    }
    // DUPLICATE ACK: same ACK, same window, no data.
    if pure && window != 0 && window == fwd.window {
        // -1 marks an "ACKed unseen segment" already reported (see below).
        fwd.dupacknum = if fwd.dupacknum == ACKED_UNSEEN {
            1
        } else {
            fwd.dupacknum.wrapping_add(1)
        };
        ev.insert(Events::DUP_ACK);
    }
    ev
}

/// ACKED LOST PACKET: acknowledges beyond what the other side was seen to send.
fn acked_unseen(rev: &mut WsDir, s: &Segment) -> Events {
    if rev.maxseqtobeacked.is_zero() || s.ack <= rev.maxseqtobeacked || s.flags & ACK == 0 {
        return Events::default();
    }
    // packet-tcp.c compares these two as plain integers here, not with GT_SEQ.
    if rev.maxseqtobeacked.0 > rev.nextseq.0 {
        rev.maxseqtobeacked = rev.nextseq;
        return Events::ACK_LOST_SEGMENT;
    }
    let first = rev.dupacknum == 0;
    rev.dupacknum = ACKED_UNSEEN;
    if first {
        Events::ACK_LOST_SEGMENT
    } else {
        Events::default()
    }
}

/// RETRANSMISSION / FAST RETRANSMISSION / SPURIOUS / OUT-OF-ORDER: a segment with data (or
/// SYN/FIN) that does not advance the sequence, up to `finished_checking_retransmission_type`.
fn retransmission_type(
    fwd: &WsDir,
    rev: &WsDir,
    s: &Segment,
    ev: Events,
    initial_rtt_ns: Option<i64>,
) -> Events {
    let (flags, seq, seglen) = (s.flags, s.seq, s.len);
    if !(seglen > 0 || flags & (SYN | FIN) != 0) || ev.any(Events::KEEP_ALIVE) {
        return Events::default();
    }
    let mut not_advanced = !fwd.nextseq.is_zero() && seq < fwd.nextseq;
    // More than one byte right after a (possible) zero-window probe adds new data.
    if seglen > 1 && fwd.nextseq.minus(1) == seq {
        not_advanced = false;
    }
    // Spurious: everything in it was already acknowledged.
    if seglen > 0 && !rev.lastack.is_zero() && seq.plus(seglen) <= rev.lastack {
        return Events::SPURIOUS_RETRANSMISSION;
    }
    // Fast retransmission (Wireshark's default precedence: before out-of-order): at least two
    // duplicate ACKs asked for this sequence, within 20 ms.
    if not_advanced
        && rev.dupacknum >= 2
        && rev.lastack == seq
        && since(s.ts_ns, rev.lastack_time) < FAST_RETRANSMISSION_WINDOW_NS
    {
        return Events::FAST_RETRANSMISSION;
    }
    // Out-of-order: close in time (under the handshake RTT, or 3 ms) to the highest segment,
    // and not an exact repeat of the end of the stream.
    let threshold = initial_rtt_ns.map_or(DEFAULT_OOO_THRESHOLD_NS, |r| r as u64);
    let syn_fin = u32::from(flags & (SYN | FIN) != 0);
    if not_advanced
        && since(s.ts_ns, fwd.nextseq_time) < threshold
        && fwd.nextseq != seq.plus(seglen).plus(syn_fin)
    {
        return Events::OUT_OF_ORDER;
    }
    if not_advanced {
        Events::RETRANSMISSION
    } else {
        Events::default()
    }
}

/// finished_checking_retransmission_type: advance the forward direction's state.
fn advance(fwd: &mut WsDir, s: &Segment, ev: Events) {
    let mut nextseq = s.seq.plus(s.len);
    if s.flags & (SYN | FIN) != 0 {
        nextseq = nextseq.plus(1);
    }
    let probe = ev.any(Events::ZERO_WINDOW_PROBE);
    if (nextseq > fwd.nextseq || fwd.nextseq.is_zero()) && !probe {
        fwd.nextseq = nextseq;
        fwd.nextseq_time = s.ts_ns;
    }
    if (s.seq == fwd.maxseqtobeacked || fwd.maxseqtobeacked.is_zero()) && !probe {
        fwd.maxseqtobeacked = fwd.nextseq;
    }
    fwd.window = s.window as u32;
    fwd.lastack = s.ack;
    fwd.lastack_time = s.ts_ns;
    fwd.lastsegmentflags = ev;
}
