//! With a TLS key log (`--keylog`): each side's 1-RTT packets decrypted, for their full packet
//! numbers. The connection's secrets are found by the ClientHello's random, its keys derived
//! under the ServerHello's suite ([`super::protection`]), and a key update (RFC 9001 §6) is
//! followed by the key phase bit.
//!
//! What the packet numbers say, per side: how many were decrypted, the largest, the numbers
//! skipped on the way (packets the capture point never saw — lost before it — or numbers the
//! sender skipped on purpose, RFC 9000 §21.4), and the packets that came after a larger one
//! (reordered before the capture point, or retransmitted datagrams: QUIC never resends a
//! number).

use serde::Serialize;

use super::flow_control::FlowControl;
use super::frames::{frames, Frame};
use super::handshake::Handshake;
use super::initial::MAX_PACKET;
use super::keylog::Secrets;
use super::protection::PacketKeys;
use super::recovery::Recovery;
use super::trace::{LimitStep, StreamPoint};
use crate::decode::quic::{LongHeader, LongType};
use crate::flow::side::{PerSide, Side};

/// One side's 1-RTT packets, as decryption saw them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct DirDecryption {
    pub decrypted: u64,
    /// Short-header packets that did not authenticate with the keys of either key phase.
    pub undecryptable: u64,
    /// Datagrams larger than one packet can be and not a GSO super-datagram of equal segments
    /// (whose segments are opened one by one), not opened.
    pub not_tried: u64,
    pub largest_pn: Option<u64>,
    /// Packet numbers between two decrypted packets never seen at this capture point.
    pub pn_skipped: u64,
    /// Packets decrypted after one with a larger number.
    pub reordered: u64,
    pub key_updates: u64,
    /// The frames of the decrypted packets, by type (RFC 9000 §19).
    pub frames: FrameCounts,
    /// Packets of PING and PADDING only: probes (RFC 9002 §6.2.4) or keep-alives, not data.
    pub ping_only: u64,
    /// The CONNECTION_CLOSE this side sent in a 1-RTT packet: its error code and reason.
    pub close: Option<(u64, String)>,
    /// The client's 0-RTT packets (RFC 9001 §4.6.1): opened with the early traffic secret
    /// (and counted in `decrypted` too: they share the 1-RTT packets' number space), not
    /// opened, and not kept while the suite was unknown ([`super::zero_rtt`]).
    pub zero_rtt: u64,
    pub zero_rtt_undecryptable: u64,
    pub zero_rtt_not_kept: u64,
}

/// Frames by type; `stream_bytes` sums the STREAM frames' lengths (resent data counts again).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct FrameCounts {
    pub padding: u64,
    pub ping: u64,
    pub ack: u64,
    pub crypto: u64,
    pub stream: u64,
    pub stream_bytes: u64,
    pub max_data: u64,
    pub max_stream_data: u64,
    pub data_blocked: u64,
    pub stream_data_blocked: u64,
    pub handshake_done: u64,
    pub connection_close: u64,
    pub other: u64,
}

impl DirDecryption {
    /// The frames of one decrypted packet; whether it is ack-eliciting (RFC 9002 §2: a frame
    /// other than ACK, PADDING and CONNECTION_CLOSE).
    fn frames(&mut self, plain: &[u8]) -> bool {
        let c = &mut self.frames;
        let (mut only_ping, mut ping, mut eliciting) = (true, false, false);
        for f in frames(plain) {
            only_ping &= matches!(f, Frame::Ping | Frame::Padding);
            eliciting |= !matches!(f, Frame::Ack { .. } | Frame::Padding | Frame::Close { .. });
            ping |= f == Frame::Ping;
            match f {
                Frame::Padding => c.padding += 1,
                Frame::Ping => c.ping += 1,
                Frame::Ack { .. } => c.ack += 1,
                Frame::Crypto { .. } => c.crypto += 1,
                Frame::Stream { len, .. } => {
                    c.stream += 1;
                    c.stream_bytes += len;
                }
                Frame::MaxData(_) => c.max_data += 1,
                Frame::MaxStreamData { .. } => c.max_stream_data += 1,
                Frame::DataBlocked(_) => c.data_blocked += 1,
                Frame::StreamDataBlocked { .. } => c.stream_data_blocked += 1,
                Frame::HandshakeDone => c.handshake_done += 1,
                Frame::Close { code, reason } => {
                    c.connection_close += 1;
                    self.close
                        .get_or_insert_with(|| (code, String::from_utf8_lossy(reason).into()));
                }
                Frame::Other(_) => c.other += 1,
            }
        }
        self.ping_only += u64::from(only_ping && ping);
        eliciting
    }

    fn got(&mut self, pn: u64) {
        self.decrypted += 1;
        match self.largest_pn {
            Some(l) if pn <= l => self.reordered += 1,
            Some(l) => {
                self.pn_skipped += pn - l - 1;
                self.largest_pn = Some(pn);
            }
            None => self.largest_pn = Some(pn),
        }
    }
}

/// Why a short-header packet was not opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// Larger than any one packet.
    TooLarge,
    /// The key log had no secret for this side.
    NoKeys,
    /// It did not authenticate with either key phase.
    Failed,
}

/// One side's keys: the current key phase's and, once asked for, the next one's.
#[derive(Debug, Clone)]
struct Phases {
    current: PacketKeys,
    next: Option<PacketKeys>,
    phase: bool,
}

/// A connection's decryption with its logged secrets.
#[derive(Debug, Clone)]
pub struct Decryption {
    /// The key log held the connection's 1-RTT secrets (both sides').
    pub secrets_found: bool,
    pub dirs: PerSide<DirDecryption>,
    /// Each side's packets held against the other side's ACK frames.
    pub recovery: PerSide<Recovery>,
    /// Each side's stream data against the other side's flow-control limits.
    pub flow: PerSide<FlowControl>,
    /// Each side's Handshake packets, for the server's transport parameters.
    pub handshake: Handshake,
    keys: PerSide<Option<Phases>>,
    /// The client's 0-RTT keys, when the key log has its early traffic secret.
    early: Option<PacketKeys>,
}

/// A decrypted packet of `side`: its number, and the frame and time it was seen in.
#[derive(Clone, Copy)]
struct Seen {
    pn: u64,
    number: u64,
    ts_ns: i64,
}

/// A decrypted packet of `side`: counted, its frames read, its ACK frames shown to the other
/// side's packets, its stream data and the limits it gives to flow control.
fn took(
    dirs: &mut PerSide<DirDecryption>,
    recovery: &mut PerSide<Recovery>,
    flow: &mut PerSide<FlowControl>,
    side: Side,
    plain: &[u8],
    at: Seen,
) {
    let Seen { pn, number, ts_ns } = at;
    let dir = &mut dirs[side];
    dir.got(pn);
    let eliciting = dir.frames(plain);
    recovery[side].sent(pn, ts_ns, number, eliciting);
    let (mine, peer) = flow.split_mut(side);
    for f in frames(plain) {
        match f {
            Frame::Ack { ranges, delay, .. } => {
                recovery[side.other()].ack(&ranges, delay, ts_ns);
            }
            Frame::Stream {
                id,
                offset,
                len,
                fin,
            } => {
                let end = offset.saturating_add(len);
                if let Some(t) = &mut recovery[side].trace {
                    let point = StreamPoint {
                        t_ns: ts_ns,
                        pn,
                        stream: id,
                        offset,
                        end,
                        resent: len > 0 && end <= mine.stream_end(id),
                    };
                    t.streams.push(point, |p| p.resent);
                }
                mine.stream(id, end, fin, ts_ns, number)
            }
            Frame::MaxData(max) => {
                limit_step(&mut recovery[side.other()], None, max, ts_ns);
                peer.max_data(max, ts_ns, number)
            }
            Frame::MaxStreamData { id, max } => {
                limit_step(&mut recovery[side.other()], Some(id), max, ts_ns);
                peer.max_stream_data(id, max, ts_ns, number)
            }
            Frame::DataBlocked(_) | Frame::StreamDataBlocked { .. } => mine.blocked_frame(),
            _ => {}
        }
    }
}

/// A limit the peer gave `r`'s side, on its graph when one is drawn.
fn limit_step(r: &mut Recovery, stream: Option<u64>, limit: u64, t_ns: i64) {
    if let Some(t) = &mut r.trace {
        t.limits.push(
            LimitStep {
                t_ns,
                stream,
                limit,
            },
            |_| false,
        );
    }
}

impl Decryption {
    /// The connection's keys from `secrets` (none: nothing can be decrypted, and the report
    /// says the key log has no secret for it), under `suite` and `version`; `client` is the
    /// side of the flow that is the QUIC client.
    pub fn new(secrets: Option<&Secrets>, suite: u16, version: u32, client: Side) -> Self {
        let phases = |s: &Option<Vec<u8>>| {
            s.as_deref()
                .and_then(|s| PacketKeys::new(suite, s, version))
                .map(|current| Phases {
                    current,
                    next: None,
                    phase: false,
                })
        };
        let mut keys = PerSide::<Option<Phases>>::default();
        if let Some(s) = secrets {
            keys[client] = phases(&s.client_0);
            keys[client.other()] = phases(&s.server_0);
        }
        Decryption {
            secrets_found: keys.iter().all(Option::is_some),
            dirs: PerSide::default(),
            recovery: PerSide::default(),
            flow: PerSide::default(),
            handshake: Handshake::new(secrets, suite, version, client),
            keys,
            early: secrets
                .and_then(|s| PacketKeys::new(suite, s.client_early.as_deref()?, version)),
        }
    }

    /// A 0-RTT packet of the client (`side`), from its start (`h.len` long), seen in frame
    /// `number` at `ts_ns`: opened with the early keys and taken as a 1-RTT packet is.
    pub fn zero_rtt(&mut self, side: Side, packet: &[u8], h: &LongHeader<'_>, at: (u64, i64)) {
        let Decryption {
            dirs,
            recovery,
            flow,
            early,
            ..
        } = self;
        let Some(keys) = early else {
            dirs[side].zero_rtt_undecryptable += 1;
            return;
        };
        let mut buf = [0u8; MAX_PACKET];
        let Some((pn, plain)) = keys.open_long(packet, h, dirs[side].largest_pn, &mut buf) else {
            dirs[side].zero_rtt_undecryptable += 1;
            return;
        };
        dirs[side].zero_rtt += 1;
        let (number, ts_ns) = at;
        took(
            dirs,
            recovery,
            flow,
            side,
            plain,
            Seen { pn, number, ts_ns },
        );
    }

    /// A short-header packet `bytes` sent by `side` in frame `number` at `ts_ns`, addressed
    /// to a connection ID of `dcid_len` bytes.
    pub fn short(&mut self, side: Side, bytes: &[u8], dcid_len: usize, number: u64, ts_ns: i64) {
        if let Err(why) = self.try_short(side, bytes, dcid_len, number, ts_ns) {
            self.refused(side, why);
        }
    }

    /// A Handshake packet of `side`: once the server's transport parameters show, the limits
    /// it grants the client and the exponent of its ACK Delay fields apply.
    fn handshake_packet(&mut self, side: Side, bytes: &[u8], h: &LongHeader<'_>, at: (u64, i64)) {
        if let Some(params) = self.handshake.packet(side, bytes, h, at) {
            let client = self.handshake.client();
            self.recovery[client].ack_delay_exponent = Some(params.ack_delay_exponent());
            self.recovery[client].max_ack_delay_ns = Some(params.max_ack_delay_ns());
            self.flow[client].grant(params, false);
        }
    }

    /// Counts a packet that was not opened.
    pub fn refused(&mut self, side: Side, why: Refused) {
        match why {
            Refused::TooLarge => self.dirs[side].not_tried += 1,
            Refused::NoKeys | Refused::Failed => self.dirs[side].undecryptable += 1,
        }
    }

    /// [`Decryption::short`], leaving a packet that does not open uncounted.
    pub fn try_short(
        &mut self,
        side: Side,
        bytes: &[u8],
        dcid_len: usize,
        number: u64,
        ts_ns: i64,
    ) -> Result<(), Refused> {
        let Decryption {
            dirs,
            recovery,
            flow,
            keys,
            ..
        } = self;
        if bytes.len() > MAX_PACKET {
            return Err(Refused::TooLarge);
        }
        let Some(ph) = &mut keys[side] else {
            return Err(Refused::NoKeys);
        };
        let largest = dirs[side].largest_pn;
        let mut buf = [0u8; MAX_PACKET];
        if let Some((pn, phase, plain)) = ph.current.open_short(bytes, dcid_len, largest, &mut buf)
        {
            if phase == ph.phase {
                took(
                    dirs,
                    recovery,
                    flow,
                    side,
                    plain,
                    Seen { pn, number, ts_ns },
                );
                return Ok(());
            }
        }
        // The other key phase: the peer updated its keys (RFC 9001 §6.1).
        if ph.next.is_none() {
            ph.next = ph.current.next();
        }
        let opened = ph
            .next
            .as_ref()
            .and_then(|k| k.open_short(bytes, dcid_len, largest, &mut buf));
        match opened {
            Some((pn, phase, plain)) if phase != ph.phase => {
                took(
                    dirs,
                    recovery,
                    flow,
                    side,
                    plain,
                    Seen { pn, number, ts_ns },
                );
                if let Some(next) = ph.next.take() {
                    ph.current = next;
                }
                ph.phase = phase;
                dirs[side].key_updates += 1;
                Ok(())
            }
            _ => Err(Refused::Failed),
        }
    }
}

impl super::QuicConn {
    /// A datagram of the connection sent by `side` in frame `number` at `ts_ns`, with a key
    /// log: once the ClientHello's random and the ServerHello's suite are known, its
    /// short-header packets are decrypted (`trace`: keeping the points of its graphs).
    pub fn decrypt(
        &mut self,
        side: Side,
        payload: &[u8],
        log: &super::keylog::KeyLog,
        (number, ts_ns): (u64, i64),
        trace: bool,
    ) {
        if self.decryption.is_none() {
            let random = self.hello.as_ref().and_then(|h| h.random);
            let (Some(random), Some(suite)) = (random, self.server.cipher_suite) else {
                if side == self.client && super::zero_rtt::Waiting::wanted(payload) {
                    // 0-RTT packets before the server named the suite: kept to open later.
                    let waiting = self.zero_rtt_waiting.get_or_insert_with(Box::default);
                    waiting.keep(payload, number, ts_ns);
                }
                return;
            };
            let mut d = Decryption::new(log.secrets(&random), suite, self.version, self.client);
            // What the client granted the server at the start: the exponent of its ACK Delay
            // fields and its initial flow-control limits (RFC 9000 §18.2).
            let params = self.hello.as_ref().map(|h| h.params).unwrap_or_default();
            if params.present {
                let server = self.client.other();
                d.recovery[server].ack_delay_exponent = Some(params.ack_delay_exponent());
                d.recovery[server].max_ack_delay_ns = Some(params.max_ack_delay_ns());
                d.flow[server].grant(params, true);
            }
            if trace {
                for r in d.recovery.iter_mut() {
                    r.trace = Some(Box::default());
                }
            }
            if let Some(waiting) = self.zero_rtt_waiting.take() {
                waiting.replay(&mut d, self.client);
            }
            self.decryption = Some(Box::new(d));
        }
        // The receiver's connection ID: the server's for the client's packets.
        let dcid = if side == self.client {
            self.server_cid.unwrap_or_default()
        } else {
            self.client_cid
        };
        let dcid_len = dcid.as_bytes().len();
        let hint = self.packets[side].gso_size.map(|s| s as usize);
        let Some(d) = self.decryption.as_deref_mut() else {
            return;
        };
        // A GSO super-datagram captured before segmentation is several datagrams (udp(7): all
        // gso_size long but the last), the first of which may begin with long headers; one of
        // two short segments (1,200 and 40 bytes) fits a 1500-byte MTU, so the side's segment
        // size already seen is tried on every datagram longer than it.
        let size = super::gso::segments(payload, dcid.as_bytes(), hint)
            .map(|(size, _)| size)
            .or_else(|| hint.filter(|&h| super::gso::fits(payload, dcid.as_bytes(), h)))
            .unwrap_or(payload.len())
            .max(1);
        for datagram in payload.chunks(size) {
            for (p, bytes) in crate::decode::quic::packets(datagram) {
                if let crate::decode::quic::QuicPacket::Long(h) = &p {
                    match h.kind {
                        LongType::Handshake => d.handshake_packet(side, bytes, h, (number, ts_ns)),
                        LongType::ZeroRtt if side == self.client => {
                            d.zero_rtt(side, bytes, h, (number, ts_ns))
                        }
                        _ => {}
                    }
                    continue;
                }
                if !matches!(p, crate::decode::quic::QuicPacket::Short { .. }) {
                    continue;
                }
                let Err(why) = d.try_short(side, bytes, dcid_len, number, ts_ns) else {
                    continue;
                };
                // A small super-datagram (two segments within 1500 bytes, 1,014 and 93 bytes
                // in the lab) not cut at the side's segment size: a packet that does not open
                // whole is tried cut at a short header of the connection.
                match super::gso::find(bytes, dcid.as_bytes(), bytes.len()) {
                    Some(seg) if why == Refused::Failed => {
                        for one in bytes.chunks(seg) {
                            d.short(side, one, dcid_len, number, ts_ns);
                        }
                    }
                    _ => d.refused(side, why),
                }
            }
        }
    }
}
