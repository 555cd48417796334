//! QUIC transport parameters (RFC 9000 §18), from the `quic_transport_parameters` TLS
//! extension (57) of a ClientHello: the limits the client grants the server at the start
//! (initial flow-control windows) and how it scales its ACK Delay field.

use crate::decode::quic::varint;

/// The TLS extension that carries them: `quic_transport_parameters` (57, RFC 9001 §8.2), and
/// 0xffa5, its codepoint in the drafts (draft-ietf-quic-tls-29 §8.2: draft-29 is still seen).
pub fn is_extension(kind: u16) -> bool {
    kind == 57 || kind == 0xffa5
}

/// RFC 9000 §18.2: values of ack_delay_exponent above 20 are invalid.
const MAX_ACK_DELAY_EXPONENT: u64 = 20;
/// RFC 9000 §18.2: an endpoint that does not say delays its ACKs up to 25 ms.
pub const DEFAULT_MAX_ACK_DELAY_MS: u64 = 25;
/// RFC 9000 §18.2: values of max_ack_delay of 2^14 or more are invalid.
const MAX_ACK_DELAY_MS: u64 = 1 << 14;

/// The parameters offload-doctor uses; absent ones keep RFC 9000's defaults (0 for the
/// limits, 3 for the exponent) when read through the accessors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TransportParams {
    /// The extension was read.
    pub present: bool,
    pub initial_max_data: Option<u64>,
    pub initial_max_stream_data_bidi_local: Option<u64>,
    pub initial_max_stream_data_bidi_remote: Option<u64>,
    pub initial_max_stream_data_uni: Option<u64>,
    pub ack_delay_exponent: Option<u8>,
    /// `max_ack_delay`, ms (RFC 9000 §18.2: values of 2^14 or more are invalid).
    pub max_ack_delay_ms: Option<u64>,
}

impl TransportParams {
    /// The exponent of this endpoint's ACK Delay fields (RFC 9000 §18.2: 3 by default).
    pub fn ack_delay_exponent(&self) -> u8 {
        self.ack_delay_exponent.unwrap_or(3)
    }

    /// How long this endpoint may delay an ACK, ns (RFC 9000 §18.2: 25 ms by default).
    pub fn max_ack_delay_ns(&self) -> i64 {
        self.max_ack_delay_ms.unwrap_or(DEFAULT_MAX_ACK_DELAY_MS) as i64 * 1_000_000
    }

    /// The flow-control limit this endpoint grants its peer at the start on stream `id` (RFC
    /// 9000 §2.1: bit 1 of the ID marks a unidirectional stream), for the peer's sending;
    /// `opened_by_me`: this endpoint opened the stream (its `_bidi_local` limit applies).
    /// `None` without the extension.
    pub fn initial_stream_limit(&self, id: u64, opened_by_me: bool) -> Option<u64> {
        if !self.present {
            return None;
        }
        let uni = id & 0x2 != 0;
        let limit = match (uni, opened_by_me) {
            (true, _) => self.initial_max_stream_data_uni,
            (false, true) => self.initial_max_stream_data_bidi_local,
            (false, false) => self.initial_max_stream_data_bidi_remote,
        };
        Some(limit.unwrap_or(0))
    }

    /// The connection's initial limit (MAX_DATA) this endpoint grants; `None` without the
    /// extension.
    pub fn initial_data_limit(&self) -> Option<u64> {
        self.present.then(|| self.initial_max_data.unwrap_or(0))
    }
}

/// The parameters of an extension body; what a cut or malformed body still showed.
pub fn parse(b: &[u8]) -> TransportParams {
    let mut p = TransportParams {
        present: true,
        ..TransportParams::default()
    };
    let mut at = 0;
    while at < b.len() {
        let (Ok(id), Ok(len)) = (varint(b, &mut at), varint(b, &mut at)) else {
            break;
        };
        let Some(value) = usize::try_from(len)
            .ok()
            .and_then(|n| b.get(at..at.checked_add(n)?))
        else {
            break;
        };
        at += value.len();
        let mut v = 0;
        let n = varint(value, &mut v).ok();
        match id {
            0x04 => p.initial_max_data = n,
            0x05 => p.initial_max_stream_data_bidi_local = n,
            0x06 => p.initial_max_stream_data_bidi_remote = n,
            0x07 => p.initial_max_stream_data_uni = n,
            0x0a => {
                p.ack_delay_exponent = n.filter(|&e| e <= MAX_ACK_DELAY_EXPONENT).map(|e| e as u8)
            }
            0x0b => p.max_ack_delay_ms = n.filter(|&d| d < MAX_ACK_DELAY_MS),
            _ => {}
        }
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limits_and_the_exponent() {
        // initial_max_data 1 MiB (4-byte varint), bidi_local 32 KiB, ack_delay_exponent 2, an
        // unknown parameter 0x2ab2 of 3 bytes, then a parameter cut short.
        let b = [
            0x04, 0x04, 0x80, 0x10, 0x00, 0x00, // 0x04 = 1,048,576
            0x05, 0x04, 0x80, 0x00, 0x80, 0x00, // 0x05 = 32,768
            0x0a, 0x01, 0x02, // ack_delay_exponent 2
            0x6a, 0xb2, 0x03, 1, 2, 3, // unknown
            0x07, 0x04, 0x80, // cut
        ];
        let p = parse(&b);
        assert_eq!(p.initial_data_limit(), Some(1 << 20));
        assert_eq!(p.initial_stream_limit(0, true), Some(32768));
        assert_eq!(
            p.initial_stream_limit(1, false),
            Some(0),
            "bidi_remote absent: 0"
        );
        assert_eq!(
            p.initial_stream_limit(3, false),
            Some(0),
            "the cut uni limit"
        );
        assert_eq!(p.ack_delay_exponent(), 2);
        // An invalid exponent keeps the default; no extension, no limits.
        assert_eq!(parse(&[0x0a, 0x01, 0x15]).ack_delay_exponent(), 3);
        assert_eq!(TransportParams::default().initial_data_limit(), None);
        for n in 0..b.len() {
            let _ = parse(&b[..n]);
        }
    }

    #[test]
    fn max_ack_delay_defaults_to_25_ms_and_refuses_2_to_the_14() {
        assert_eq!(parse(&[]).max_ack_delay_ns(), 25_000_000);
        // 0x0b, length 1, 20 ms.
        assert_eq!(parse(&[0x0b, 0x01, 0x14]).max_ack_delay_ns(), 20_000_000);
        // 0x0b, length 4, 16,384 ms (0x80004000): invalid, the default holds.
        let p = parse(&[0x0b, 0x04, 0x80, 0x00, 0x40, 0x00]);
        assert_eq!(p.max_ack_delay_ms, None);
        assert_eq!(p.max_ack_delay_ns(), 25_000_000);
    }
}
