//! The server's Initial packets: decrypted like the client's (the keys derive from the same
//! client-chosen DCID, RFC 9001 §5.2, with the "server in" label), for the two facts they hold
//! without any secret: the ACK of the client's first Initial (the first RTT sample, RFC 9002
//! §5.1) and the ServerHello's cipher suite (RFC 8446 §4.1.3), which every later packet of the
//! connection is protected with.
//!
//! Decryption stops once both are read: a server sends one to three Initials.

use super::frames::{self, Frame};
use super::initial::{InitialKeys, Sender, MAX_PACKET};
use crate::decode::quic::LongHeader;

/// Client Initial packet numbers remembered with their times, for the server's ACK.
const SENT_KEPT: usize = 8;
/// The ACK Delay field's default exponent (RFC 9000 §18.2, `ack_delay_exponent`): an
/// endpoint's own value is in its transport parameters, encrypted in its Handshake packets
/// (aioquic, quic-go and quiche keep the default).
const ACK_DELAY_EXPONENT: u8 = 3;

/// The client's Initials as sent: (packet number as on the wire, capture time).
#[derive(Debug, Clone, Default)]
pub struct SentInitials {
    sent: [(u32, i64); SENT_KEPT],
    n: usize,
}

impl SentInitials {
    /// Remembers the first [`SENT_KEPT`] client Initials (a handshake that needs more has
    /// failed or is slow for other reasons; its first sample is what counts).
    pub fn push(&mut self, pn: u32, ts_ns: i64) {
        if self.n < SENT_KEPT {
            self.sent[self.n] = (pn, ts_ns);
            self.n += 1;
        }
    }

    /// When the client sent packet `pn` (its last copy, should the number repeat).
    fn time_of(&self, pn: u64) -> Option<i64> {
        self.sent[..self.n]
            .iter()
            .rev()
            .find(|(p, _)| u64::from(*p) == pn)
            .map(|&(_, t)| t)
    }
}

/// The first RTT sample: the client's Initial to the server's Initial that acknowledged it, as
/// the capture point saw them (so the round trip from there to the server and back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RttSample {
    /// The server's ACK time minus the acknowledged Initial's time: the first sample as RFC
    /// 9002 §5.2 takes it for `min_rtt` (the ACK Delay is never subtracted from it).
    pub raw_ns: i64,
    /// The server's ACK time minus the acknowledged Initial's time, minus the ACK delay the
    /// server reported, never below zero (RFC 9002 §5.3 adjusts by ack_delay).
    pub rtt_ns: i64,
    /// The ACK delay the server reported, decoded with the default exponent.
    pub ack_delay_ns: i64,
}

/// What the server's Initials said.
#[derive(Debug, Clone, Default)]
pub struct ServerInitials {
    keys: Option<Box<InitialKeys>>,
    /// Server Initials decrypted, and those that did not authenticate.
    pub decrypted: u64,
    pub undecryptable: u64,
    /// The TLS 1.3 cipher suite of the ServerHello (RFC 8446 §B.4).
    pub cipher_suite: Option<u16>,
    pub rtt: Option<RttSample>,
}

impl ServerInitials {
    /// Forgets the keys: a Retry changed the DCID they derive from.
    pub fn rekey(&mut self) {
        self.keys = None;
    }

    /// A server Initial (`bytes`, header `h`) at `ts_ns`; `dcid` is what the Initial keys derive
    /// from (the client's first DCID, or the Retry's SCID).
    pub fn initial(
        &mut self,
        h: &LongHeader<'_>,
        bytes: &[u8],
        dcid: &[u8],
        ts_ns: i64,
        sent: &SentInitials,
    ) {
        if self.cipher_suite.is_some() && self.rtt.is_some() {
            return;
        }
        if self.keys.is_none() {
            self.keys = InitialKeys::new(h.version, dcid, Sender::Server).map(Box::new);
        }
        let Some(keys) = self.keys.as_deref() else {
            return;
        };
        let mut buf = [0u8; MAX_PACKET];
        let Some((_, plain)) = keys.open(bytes, h, &mut buf) else {
            self.undecryptable += 1;
            return;
        };
        self.decrypted += 1;
        for f in frames::frames(plain) {
            match f {
                Frame::Ack { largest, delay, .. } if self.rtt.is_none() => {
                    self.rtt = sent.time_of(largest).map(|t| sample(ts_ns - t, delay));
                }
                Frame::Crypto { offset: 0, data } if self.cipher_suite.is_none() => {
                    self.cipher_suite = cipher_suite(data);
                }
                _ => {}
            }
        }
    }
}

/// An RTT sample of `raw_ns` with the server's ACK Delay field `delay`.
fn sample(raw_ns: i64, delay: u64) -> RttSample {
    let ack_delay_ns = ack_delay_ns(delay, ACK_DELAY_EXPONENT);
    RttSample {
        raw_ns,
        rtt_ns: raw_ns.saturating_sub(ack_delay_ns).max(0),
        ack_delay_ns,
    }
}

/// An ACK frame's ACK Delay field in ns, under the sender's `exponent` (at most 20).
pub(super) fn ack_delay_ns(delay: u64, exponent: u8) -> i64 {
    i64::try_from(delay.saturating_mul(1000) << exponent.min(20))
        .unwrap_or(i64::MAX)
        .max(0)
}

/// The cipher suite of a ServerHello at the start of the server's CRYPTO stream (RFC 8446
/// §4.1.3: type 2, a 24-bit length, legacy_version, 32 bytes of random, a session ID echo of up
/// to 32 bytes, then the suite).
pub fn cipher_suite(b: &[u8]) -> Option<u16> {
    if *b.first()? != 2 {
        return None;
    }
    let sid_len = usize::from(*b.get(4 + 2 + 32)?);
    if sid_len > 32 {
        return None;
    }
    let at = 4 + 2 + 32 + 1 + sid_len;
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

/// The IANA name of a TLS 1.3 cipher suite (RFC 8446 §B.4), or its number in hex.
pub fn cipher_name(suite: u16) -> String {
    match suite {
        0x1301 => "TLS_AES_128_GCM_SHA256".into(),
        0x1302 => "TLS_AES_256_GCM_SHA384".into(),
        0x1303 => "TLS_CHACHA20_POLY1305_SHA256".into(),
        0x1304 => "TLS_AES_128_CCM_SHA256".into(),
        0x1305 => "TLS_AES_128_CCM_8_SHA256".into(),
        s => format!("0x{s:04x}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ServerHello's first bytes: type 2, length, legacy_version 0x0303, 32 bytes of random,
    /// a session ID echo of `sid` bytes, then the cipher suite 0x1302.
    fn server_hello(sid: usize) -> Vec<u8> {
        let mut b = vec![0x02, 0x00, 0x00, 0x5a, 0x03, 0x03];
        b.extend([0xAB; 32]); // random
        b.push(sid as u8);
        b.extend(vec![0xCD; sid]);
        b.extend([0x13, 0x02]); // cipher_suite
        b.push(0x00); // legacy_compression_method
        b
    }

    #[test]
    fn cipher_suite_of_a_server_hello() {
        assert_eq!(cipher_suite(&server_hello(0)), Some(0x1302));
        assert_eq!(cipher_suite(&server_hello(32)), Some(0x1302));
        assert_eq!(cipher_name(0x1302), "TLS_AES_256_GCM_SHA384");
        assert_eq!(cipher_name(0xabcd), "0xabcd");
        let mut client_hello = server_hello(0);
        client_hello[0] = 1;
        assert_eq!(cipher_suite(&client_hello), None, "not a ServerHello");
        let mut long_sid = server_hello(0);
        long_sid[38] = 33;
        assert_eq!(cipher_suite(&long_sid), None, "a session ID longer than 32");
        // Truncation sweep: every prefix short of the suite gives nothing, and never panics.
        let full = server_hello(8);
        for cut in 0..4 + 2 + 32 + 1 + 8 + 2 {
            assert_eq!(cipher_suite(&full[..cut]), None, "cut at {cut}");
        }
    }

    #[test]
    fn rtt_sample_subtracts_the_ack_delay_and_stays_positive() {
        // 40 ms raw, ACK Delay field 125 (× 2^3 µs = 1 ms).
        assert_eq!(
            sample(40_000_000, 125),
            RttSample {
                raw_ns: 40_000_000,
                rtt_ns: 39_000_000,
                ack_delay_ns: 1_000_000
            }
        );
        // A delay above the raw sample (a capture on the server's host) leaves 0.
        assert_eq!(sample(50_000, 125).rtt_ns, 0);
        // A hostile delay does not overflow.
        assert_eq!(sample(1, u64::MAX).rtt_ns, 0);
    }

    #[test]
    fn sent_initials_find_the_acknowledged_packet() {
        let mut s = SentInitials::default();
        s.push(0, 100);
        s.push(1, 200);
        assert_eq!(s.time_of(1), Some(200));
        assert_eq!(s.time_of(7), None);
        for pn in 2..20 {
            s.push(pn, 300);
        }
        assert_eq!(s.time_of(7), Some(300));
        assert_eq!(s.time_of(12), None, "beyond the first 8");
    }
}
