//! With keys: each side's Handshake packets (RFC 9001 §4.1.4), opened with the logged
//! handshake traffic secrets, for the server's EncryptedExtensions (RFC 8446 §4.3.1): its
//! transport parameters (RFC 9001 §8.2) — the limits it grants the client at the start and the
//! exponent of its ACK Delay fields — which the Initial packets do not carry; and for loss in
//! the Handshake packet number space (RFC 9000 §12.3), each side's packets held against the
//! other's Handshake ACK frames as the 1-RTT packets are ([`Recovery`]). A lost Handshake
//! packet costs the handshake a probe timeout.

use super::frames::{frames, Frame};
use super::initial::MAX_PACKET;
use super::keylog::Secrets;
use super::protection::PacketKeys;
use super::recovery::Recovery;
use super::transport_params::{self, TransportParams};
use crate::decode::quic::LongHeader;
use crate::flow::side::{PerSide, Side};

/// One connection's Handshake packets.
#[derive(Debug, Clone)]
pub struct Handshake {
    keys: PerSide<Option<PacketKeys>>,
    largest: PerSide<Option<u64>>,
    pub decrypted: PerSide<u64>,
    pub undecryptable: PerSide<u64>,
    /// The server's transport parameters, once read.
    pub server_params: Option<TransportParams>,
    /// Each side's Handshake packets against the other side's Handshake ACK frames.
    pub recovery: PerSide<Recovery>,
    server: Side,
}

impl Handshake {
    /// The keys of both sides from the key log's handshake secrets (`client`: the side that is
    /// the QUIC client).
    pub fn new(secrets: Option<&Secrets>, suite: u16, version: u32, client: Side) -> Self {
        let mut keys = PerSide::<Option<PacketKeys>>::default();
        if let Some(s) = secrets {
            let k = |s: &Option<Vec<u8>>| PacketKeys::new(suite, s.as_deref()?, version);
            keys[client] = k(&s.client_handshake);
            keys[client.other()] = k(&s.server_handshake);
        }
        Handshake {
            keys,
            largest: PerSide::default(),
            decrypted: PerSide::default(),
            undecryptable: PerSide::default(),
            server_params: None,
            recovery: PerSide::default(),
            server: client.other(),
        }
    }

    /// The side that is the QUIC client.
    pub fn client(&self) -> Side {
        self.server.other()
    }

    /// A Handshake packet `packet` (the datagram from its start) of `side`, seen in frame
    /// `number` at `ts_ns`; the server's transport parameters when this packet is the one that
    /// showed them.
    pub fn packet(
        &mut self,
        side: Side,
        packet: &[u8],
        h: &LongHeader<'_>,
        (number, ts_ns): (u64, i64),
    ) -> Option<TransportParams> {
        let Some(keys) = &self.keys[side] else {
            self.undecryptable[side] += 1;
            return None;
        };
        let mut buf = [0u8; MAX_PACKET];
        let Some((pn, plain)) = keys.open_long(packet, h, self.largest[side], &mut buf) else {
            self.undecryptable[side] += 1;
            return None;
        };
        self.decrypted[side] += 1;
        self.largest[side] = Some(self.largest[side].map_or(pn, |l| l.max(pn)));
        let mut eliciting = false;
        for f in frames(plain) {
            eliciting |= !matches!(f, Frame::Ack { .. } | Frame::Padding | Frame::Close { .. });
            if let Frame::Ack { ranges, .. } = f {
                // Handshake ACKs are sent at once (RFC 9000 §13.2.1): their ACK Delay is not
                // taken off the sample (0).
                self.recovery[side.other()].ack(&ranges, 0, ts_ns);
            }
        }
        self.recovery[side].sent(pn, ts_ns, number, eliciting);
        if side != self.server || self.server_params.is_some() {
            return None;
        }
        // EncryptedExtensions opens the server's Handshake CRYPTO stream.
        let params = frames(plain).find_map(|f| match f {
            Frame::Crypto { offset: 0, data } => encrypted_extensions(data),
            _ => None,
        })?;
        self.server_params = Some(params);
        Some(params)
    }
}

/// The transport parameters in an EncryptedExtensions message at the start of `b`: type 8, a
/// 24-bit length, then extensions (a 16-bit length, then type, length, data each).
fn encrypted_extensions(b: &[u8]) -> Option<TransportParams> {
    if *b.first()? != 8 {
        return None;
    }
    let total = usize::from(*b.get(4)?) << 8 | usize::from(*b.get(5)?);
    let exts = b.get(6..6usize.checked_add(total)?.min(b.len()))?;
    let mut at = 0;
    while at + 4 <= exts.len() {
        let kind = u16::from_be_bytes([exts[at], exts[at + 1]]);
        let len = usize::from(u16::from_be_bytes([exts[at + 2], exts[at + 3]]));
        let data = exts.get(at + 4..at + 4 + len)?;
        if transport_params::is_extension(kind) {
            return Some(transport_params::parse(data));
        }
        at += 4 + len;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_parameters_from_encrypted_extensions() {
        // EncryptedExtensions: ALPN "h3" (16), then transport parameters (57) with
        // initial_max_data 4096 (2-byte varint) and ack_delay_exponent 4.
        let tp = [0x04, 0x02, 0x50, 0x00, 0x0a, 0x01, 0x04];
        let mut exts = vec![0x00, 0x10, 0x00, 0x05, 0x00, 0x03, 0x02, b'h', b'3'];
        exts.extend([0x00, 0x39, 0x00, tp.len() as u8]);
        exts.extend(tp);
        let mut m = vec![
            0x08,
            0x00,
            0x00,
            exts.len() as u8 + 2,
            0x00,
            exts.len() as u8,
        ];
        m.extend(&exts);
        let p = encrypted_extensions(&m).expect("parameters");
        assert_eq!(p.initial_data_limit(), Some(4096));
        assert_eq!(p.ack_delay_exponent(), 4);
        for n in 0..m.len() {
            let _ = encrypted_extensions(&m[..n]);
        }
        assert!(
            encrypted_extensions(&[0x0b, 0, 0, 0]).is_none(),
            "not EncryptedExtensions"
        );
    }
}
