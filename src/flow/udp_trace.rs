//! Per-datagram trace of a UDP flow, the data behind the datagram-rate and datagram-size graphs.
//!
//! Kept only for the flows `FullTrace` selects (the flows being plotted), like the TCP trace
//! (`tcp/trace.rs`): 16 bytes per datagram in one `Vec`, so the only allocation is the `Vec`'s
//! amortised growth, and at most [`MAX_DATAGRAMS`] per flow. A QUIC connection's flow also keeps
//! the datagrams of its other paths ([`crate::quic::QuicConn::paths`]), in its own sides, marked
//! with the path they came on.

use super::side::Side;
use super::Flow;
use crate::decode::quic::{self, LongType, QuicPacket};

/// Datagrams kept per flow, at most: 2^20 (16 MiB). A graph is a few thousand pixels wide, so
/// this is far beyond what it can show; beyond it the datagrams are counted, not kept, and the
/// graphs say where they stop.
pub const MAX_DATAGRAMS: usize = 1 << 20;

/// What the first QUIC packet of a datagram is (RFC 9000 §17).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FirstPacket {
    /// A datagram of a flow that is not QUIC.
    NotQuic,
    Initial,
    ZeroRtt,
    Handshake,
    /// A short header (RFC 9000 §17.3).
    OneRtt,
    /// Retry, Version Negotiation, a reserved version, or bytes that do not parse as QUIC.
    Other,
}

impl FirstPacket {
    /// The first packet of a datagram of a QUIC flow (a header walk, no decryption).
    pub fn of(payload: &[u8]) -> FirstPacket {
        match quic::packets(payload).next().map(|(p, _)| p) {
            Some(QuicPacket::Short { .. }) => FirstPacket::OneRtt,
            Some(QuicPacket::Long(h)) => match h.kind {
                LongType::Initial => FirstPacket::Initial,
                LongType::ZeroRtt => FirstPacket::ZeroRtt,
                LongType::Handshake => FirstPacket::Handshake,
                LongType::Retry => FirstPacket::Other,
            },
            _ => FirstPacket::Other,
        }
    }

    /// A long header: the handshake's packets (Initial, 0-RTT, Handshake, Retry, VN).
    pub fn is_long(self) -> bool {
        !matches!(self, FirstPacket::NotQuic | FirstPacket::OneRtt)
    }
}

/// One datagram as sent (16 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Datagram {
    pub t_ns: i64,
    /// UDP payload bytes (from the UDP and IP length fields).
    pub len: u32,
    /// The sender, as a side of the flow that keeps the trace.
    pub side: Side,
    pub first: FirstPacket,
    /// [`Datagram::GSO`] and [`Datagram::SPIN`].
    pub bits: u8,
    /// 0: the flow's own 5-tuple; n: the QUIC connection's n-th other path
    /// (`QuicConn::paths[n - 1]`).
    pub path: u8,
}

const _: () = assert!(std::mem::size_of::<Datagram>() <= 16);

impl Datagram {
    /// A UDP GSO super-datagram: several QUIC packets the sender's kernel or NIC cuts apart
    /// later ([`crate::quic::gso`]).
    pub const GSO: u8 = 1;
    /// A QUIC short header with the latency spin bit set ([`crate::quic::spin`]).
    pub const SPIN: u8 = 2;

    pub fn gso(&self) -> bool {
        self.bits & Self::GSO != 0
    }

    pub fn spin(&self) -> bool {
        self.bits & Self::SPIN != 0
    }
}

/// The datagrams of one flow (both directions), in capture order.
#[derive(Debug, Clone)]
pub struct UdpTrace {
    datagrams: Vec<Datagram>,
    cap: usize,
    not_kept: u64,
}

impl UdpTrace {
    /// Heap bytes the kept datagrams hold.
    pub fn heap_bytes(&self) -> usize {
        std::mem::size_of_val(self.datagrams.as_slice())
    }
}

impl Default for UdpTrace {
    fn default() -> Self {
        UdpTrace::with_cap(MAX_DATAGRAMS)
    }
}

impl UdpTrace {
    /// A trace that keeps at most `cap` datagrams.
    pub fn with_cap(cap: usize) -> Self {
        UdpTrace {
            datagrams: Vec::new(),
            cap,
            not_kept: 0,
        }
    }

    pub fn push(&mut self, d: Datagram) {
        if self.datagrams.len() < self.cap {
            self.datagrams.push(d);
        } else {
            self.not_kept += 1;
        }
    }

    pub fn datagrams(&self) -> &[Datagram] {
        &self.datagrams
    }

    /// Datagrams after the first [`MAX_DATAGRAMS`]: counted, not kept.
    pub fn not_kept(&self) -> u64 {
        self.not_kept
    }

    pub fn cap(&self) -> usize {
        self.cap
    }
}

/// A datagram's [`Datagram::bits`]: GSO when the QUIC view counted it so or its short headers
/// repeat at every segment boundary; the spin bit of a short header (not header-protected, RFC
/// 9001 §5.4.1).
fn bits(first: FirstPacket, payload: &[u8], gso: bool) -> u8 {
    let short = first == FirstPacket::OneRtt;
    let mut b = 0;
    if gso || (short && repeats_short_header(payload)) {
        b |= Datagram::GSO;
    }
    if short
        && payload
            .first()
            .is_some_and(|&f| f & crate::quic::spin::SPIN_BIT != 0)
    {
        b |= Datagram::SPIN;
    }
    b
}

/// One UDP datagram of a traced flow: what `side` of the flow of `index` (id - 1) sent. The flow's own
/// trace keeps it; when the flow is another path of a QUIC connection, the connection's flow
/// keeps it too, in that flow's sides, with the path's number. `gso` says whether the QUIC view
/// counted it as a GSO super-datagram.
pub fn record(
    flows: &mut [Flow],
    index: usize,
    side: Side,
    t_ns: i64,
    len: u32,
    payload: &[u8],
    gso: bool,
) {
    let Some(pos) = super::position(flows, index) else {
        return;
    };
    let path = flows[pos].quic_path;
    let flow = &flows[pos];
    if flow.udp_trace.is_none() && path.is_none() {
        return;
    }
    let first = if flow.is_quic() {
        FirstPacket::of(payload)
    } else {
        FirstPacket::NotQuic
    };
    let d = Datagram {
        t_ns,
        len,
        side,
        first,
        bits: bits(first, payload, gso),
        path: 0,
    };
    if let Some(t) = flows.get_mut(pos).and_then(|f| f.udp_trace.as_deref_mut()) {
        t.push(d);
    }
    let Some(path) = path else {
        return;
    };
    let Some(conn) = super::position(flows, path.conn).and_then(|p| flows.get_mut(p)) else {
        return;
    };
    if let (Some(q), Some(t)) = (conn.quic.as_deref(), conn.udp_trace.as_deref_mut()) {
        // Paths beyond `MAX_PATHS` are not counted in the connection, nor drawn with it.
        if let Some(k) = q.paths.iter().position(|p| p.flow == index) {
            let side = if side == path.client {
                q.client
            } else {
                q.client.other()
            };
            t.push(Datagram {
                side,
                path: u8::try_from(k + 1).unwrap_or(u8::MAX),
                ..d
            });
        }
    }
}

/// Bytes of the first packet's DCID that must repeat at every segment boundary.
const DCID_PREFIX: usize = 4;

/// A GSO super-datagram the QUIC view could not count (its long headers showed no usable
/// connection ID, or none were captured), told as the `udp-gso-superframes` detector tells one:
/// a short header with the same first DCID bytes at every segment boundary, which one large
/// packet or reassembled fragments never show.
fn repeats_short_header(payload: &[u8]) -> bool {
    let prefix = payload.get(1..1 + DCID_PREFIX).unwrap_or_default();
    crate::quic::gso::segments(payload, prefix, None).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dg(t_ns: i64) -> Datagram {
        Datagram {
            t_ns,
            len: 1200,
            side: Side::A,
            first: FirstPacket::OneRtt,
            bits: 0,
            path: 0,
        }
    }

    #[test]
    fn a_trace_is_capped_and_counts_what_it_did_not_keep() {
        assert!(std::mem::size_of::<Datagram>() <= 16);
        let mut t = UdpTrace::with_cap(100);
        for i in 0..250 {
            t.push(dg(i));
        }
        assert_eq!(t.datagrams().len(), 100);
        assert_eq!(t.not_kept(), 150);
        // The first ones are kept: the graph is exact up to where it stops.
        assert_eq!(t.datagrams().last().map(|d| d.t_ns), Some(99));
        assert_eq!(UdpTrace::default().cap(), MAX_DATAGRAMS);
    }

    #[test]
    fn first_packets_are_typed_by_their_header() {
        // Short header: fixed bit set, long-header bit clear.
        assert_eq!(FirstPacket::of(&[0x41, 1, 2, 3, 4, 5]), FirstPacket::OneRtt);
        assert_eq!(FirstPacket::of(&[]), FirstPacket::Other);
        assert_eq!(FirstPacket::of(&[0x00, 0, 0]), FirstPacket::Other);
        // A v1 Handshake long header: type bits 0b10, version 1, empty IDs, length 1, 1 byte.
        let hs = [0xe0, 0, 0, 0, 1, 0, 0, 1, 0];
        assert_eq!(FirstPacket::of(&hs), FirstPacket::Handshake);
        assert!(FirstPacket::Handshake.is_long());
        assert!(!FirstPacket::OneRtt.is_long() && !FirstPacket::NotQuic.is_long());
    }

    #[test]
    fn super_datagrams_repeat_their_short_header() {
        let packet = |fill: u8| {
            let mut p = vec![0x41, 0xa1, 0xb2, 0xc3, 0xd4];
            p.resize(1200, fill);
            p
        };
        let supers: Vec<u8> = (0..5).flat_map(packet).collect();
        assert!(repeats_short_header(&supers));
        // One large packet, or a run whose next header is not there.
        assert!(!repeats_short_header(&packet(0)));
        let mut broken = supers.clone();
        broken[2400] = 0x00;
        broken[3600] = 0x00;
        assert!(!repeats_short_header(&broken));
        assert!(!repeats_short_header(&[]));
    }
}
