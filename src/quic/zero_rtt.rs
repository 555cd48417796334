//! With keys: the client's 0-RTT packets (RFC 9001 §4.6.1), opened with the key log's
//! `CLIENT_EARLY_TRAFFIC_SECRET` under the connection's suite. They share the application data
//! packet number space with the client's 1-RTT packets (RFC 9000 §12.3), so once opened they
//! are counted, held against the server's ACKs and against its flow-control limits as 1-RTT
//! packets are.
//!
//! A client sends its 0-RTT packets right after its first Initial, before the server's Initial
//! names the suite the keys need: they are kept (copies, bounded by [`MAX_WAITING`] packets and
//! [`MAX_WAITING_BYTES`]) until the connection's decryption starts, then opened in their order.

use super::decrypt::Decryption;
use crate::decode::quic::{self, LongType, QuicPacket};
use crate::flow::side::Side;

/// 0-RTT packets kept per connection while the suite is unknown: a client sends what the
/// server's last `initial_max_data` allowed, a few packets in practice.
pub const MAX_WAITING: usize = 64;
/// Bytes kept per connection while the suite is unknown.
pub const MAX_WAITING_BYTES: usize = 96 << 10;

/// The client's 0-RTT packets seen before the connection's keys were known.
#[derive(Debug, Clone, Default)]
pub struct Waiting {
    packets: Vec<Kept>,
    bytes: usize,
    /// 0-RTT packets beyond the bounds, never opened.
    pub not_kept: u64,
}

#[derive(Debug, Clone)]
struct Kept {
    number: u64,
    ts_ns: i64,
    bytes: Box<[u8]>,
}

impl Waiting {
    /// Keeps the 0-RTT packets of a client datagram (frame `number` at `ts_ns`).
    pub fn keep(&mut self, datagram: &[u8], number: u64, ts_ns: i64) {
        for (p, bytes) in quic::packets(datagram) {
            let QuicPacket::Long(h) = p else {
                continue;
            };
            // The packet alone, not the datagram's rest (`h.len`: header and payload).
            let Some(packet) = bytes.get(..h.len).filter(|_| h.kind == LongType::ZeroRtt) else {
                continue;
            };
            if self.packets.len() >= MAX_WAITING || self.bytes + packet.len() > MAX_WAITING_BYTES {
                self.not_kept += 1;
                continue;
            }
            self.bytes += packet.len();
            self.packets.push(Kept {
                number,
                ts_ns,
                bytes: packet.into(),
            });
        }
    }

    /// Whether a client datagram carries a 0-RTT packet (most carry none: nothing is kept).
    pub fn wanted(datagram: &[u8]) -> bool {
        quic::packets(datagram)
            .any(|(p, _)| matches!(p, QuicPacket::Long(h) if h.kind == LongType::ZeroRtt))
    }

    /// Opens the kept packets, in the order they were captured, now that `d` has the keys.
    pub fn replay(self, d: &mut Decryption, client: Side) {
        for k in &self.packets {
            for (p, bytes) in quic::packets(&k.bytes) {
                if let QuicPacket::Long(h) = &p {
                    if h.kind == LongType::ZeroRtt {
                        d.zero_rtt(client, bytes, h, (k.number, k.ts_ns));
                    }
                }
            }
        }
        d.dirs[client].zero_rtt_not_kept += self.not_kept;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 0-RTT packet (RFC 9000 §17.2.3): long header, type 1, v1, an 8-byte DCID, no SCID,
    /// a 2-byte length (0x4000 | n) and `n` bytes of packet number and payload.
    fn zero_rtt(n: u16) -> Vec<u8> {
        let mut b = vec![0xd1, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0];
        b.extend_from_slice(&(0x4000 | n).to_be_bytes());
        b.resize(b.len() + usize::from(n), 0xaa);
        b
    }

    /// An Initial of the same shape: its token length (0) before the length.
    fn initial(n: u16) -> Vec<u8> {
        let mut b = vec![0xc1, 0, 0, 0, 1, 8, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0];
        b.extend_from_slice(&(0x4000 | n).to_be_bytes());
        b.resize(b.len() + usize::from(n), 0xbb);
        b
    }

    #[test]
    fn only_zero_rtt_packets_are_kept_each_alone_and_within_bounds() {
        // An Initial coalesced with two 0-RTT packets: two kept, each without the rest.
        let mut d = initial(100);
        d.extend(zero_rtt(50));
        d.extend(zero_rtt(60));
        assert!(Waiting::wanted(&d));
        assert!(!Waiting::wanted(&initial(1200)));
        let mut w = Waiting::default();
        w.keep(&d, 1, 10);
        let lens: Vec<usize> = w.packets.iter().map(|k| k.bytes.len()).collect();
        assert_eq!(lens, [17 + 50, 17 + 60]);
        assert_eq!((w.packets[0].number, w.packets[0].ts_ns), (1, 10));
        // Packets beyond the count are counted, not kept.
        for i in 0..MAX_WAITING as u64 {
            w.keep(&zero_rtt(1000), i + 2, 20);
        }
        assert!(w.packets.len() <= MAX_WAITING && w.bytes <= MAX_WAITING_BYTES);
        assert_eq!(w.packets.len() as u64 + w.not_kept, MAX_WAITING as u64 + 2);
        // Every cut of the datagram: nothing kept that is not a whole 0-RTT packet.
        for n in 0..d.len() {
            let mut w = Waiting::default();
            w.keep(&d[..n], 1, 0);
            assert!(w
                .packets
                .iter()
                .all(|k| k.bytes.len() == 67 || k.bytes.len() == 77));
        }
    }
}
