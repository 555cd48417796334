//! Packet protection with logged secrets (RFC 9001 §5): the Handshake and 1-RTT keys of one
//! endpoint derived from a TLS traffic secret (as a key log gives it), for the three TLS 1.3
//! suites QUIC uses, key updates (§6), header protection removal and AEAD opening of short-header
//! packets, and the full packet number (RFC 9000 §A.3).
//!
//! Crates: RustCrypto's `aes-gcm` (AEAD_AES_128_GCM, AEAD_AES_256_GCM), `chacha20poly1305`
//! (AEAD_CHACHA20_POLY1305) and `chacha20` (its header protection is the raw ChaCha20 block
//! function, RFC 9001 §5.4.4), beside the `aes`, `hkdf` and `sha2` the Initial keys use.

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::{Aes128, Aes256};
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Aes256Gcm, Nonce, Tag};
use chacha20::cipher::{KeyIvInit, StreamCipher, StreamCipherSeek};
use chacha20poly1305::ChaCha20Poly1305;
use hkdf::Hkdf;
use sha2::{Sha256, Sha384};

use super::initial::MAX_PACKET;
use crate::decode::quic::{LongHeader, V2};

/// TLS 1.3 cipher suites (RFC 8446 §B.4).
pub const TLS_AES_128_GCM_SHA256: u16 = 0x1301;
pub const TLS_AES_256_GCM_SHA384: u16 = 0x1302;
pub const TLS_CHACHA20_POLY1305_SHA256: u16 = 0x1303;

const TAG_LEN: usize = 16;
const SAMPLE_LEN: usize = 16;

/// One endpoint's keys for one packet number space and key phase.
#[derive(Clone)]
pub struct PacketKeys {
    suite: u16,
    v2: bool,
    secret: Vec<u8>,
    aead: Aead,
    hp: Hp,
    iv: [u8; 12],
}

#[derive(Clone)]
enum Aead {
    Aes128(Box<Aes128Gcm>),
    Aes256(Box<Aes256Gcm>),
    ChaCha(Box<ChaCha20Poly1305>),
}

#[derive(Clone)]
enum Hp {
    Aes128(Box<Aes128>),
    Aes256(Box<Aes256>),
    ChaCha([u8; 32]),
}

impl std::fmt::Debug for PacketKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PacketKeys({:#06x})", self.suite)
    }
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context, of the secret `prk` under the
/// suite's hash.
fn expand(suite: u16, prk: &[u8], label: &str, out: &mut [u8]) -> Option<()> {
    const PREFIX: &[u8] = b"tls13 ";
    let mut info = Vec::with_capacity(4 + PREFIX.len() + label.len());
    info.extend_from_slice(&u16::try_from(out.len()).ok()?.to_be_bytes());
    info.push(u8::try_from(PREFIX.len() + label.len()).ok()?);
    info.extend_from_slice(PREFIX);
    info.extend_from_slice(label.as_bytes());
    info.push(0);
    match suite {
        TLS_AES_256_GCM_SHA384 => Hkdf::<Sha384>::from_prk(prk).ok()?.expand(&info, out).ok(),
        _ => Hkdf::<Sha256>::from_prk(prk).ok()?.expand(&info, out).ok(),
    }
}

/// The hash length of a suite: the length of its secrets.
fn hash_len(suite: u16) -> Option<usize> {
    match suite {
        TLS_AES_128_GCM_SHA256 | TLS_CHACHA20_POLY1305_SHA256 => Some(32),
        TLS_AES_256_GCM_SHA384 => Some(48),
        _ => None,
    }
}

impl PacketKeys {
    /// The keys of a traffic secret (`CLIENT_TRAFFIC_SECRET_0` and the like) under `suite`, for
    /// QUIC `version` (v2 has its own labels, RFC 9369 §3.3.2). `None` for an unknown suite or a
    /// secret of the wrong length.
    pub fn new(suite: u16, secret: &[u8], version: u32) -> Option<PacketKeys> {
        if secret.len() != hash_len(suite)? {
            return None;
        }
        let v2 = version == V2;
        let l = |v1: &'static str, v2s: &'static str| if v2 { v2s } else { v1 };
        let key_len = if suite == TLS_AES_128_GCM_SHA256 {
            16
        } else {
            32
        };
        let (mut key, mut hp, mut iv) = ([0u8; 32], [0u8; 32], [0u8; 12]);
        expand(
            suite,
            secret,
            l("quic key", "quicv2 key"),
            &mut key[..key_len],
        )?;
        expand(suite, secret, l("quic iv", "quicv2 iv"), &mut iv)?;
        expand(suite, secret, l("quic hp", "quicv2 hp"), &mut hp[..key_len])?;
        let (aead, hp) = match suite {
            TLS_AES_128_GCM_SHA256 => (
                Aead::Aes128(Box::new(Aes128Gcm::new_from_slice(&key[..16]).ok()?)),
                Hp::Aes128(Box::new(Aes128::new_from_slice(&hp[..16]).ok()?)),
            ),
            TLS_AES_256_GCM_SHA384 => (
                Aead::Aes256(Box::new(Aes256Gcm::new_from_slice(&key).ok()?)),
                Hp::Aes256(Box::new(Aes256::new_from_slice(&hp).ok()?)),
            ),
            _ => (
                Aead::ChaCha(Box::new(ChaCha20Poly1305::new_from_slice(&key).ok()?)),
                Hp::ChaCha(hp),
            ),
        };
        Some(PacketKeys {
            suite,
            v2,
            secret: secret.to_vec(),
            aead,
            hp,
            iv,
        })
    }

    /// The keys of the next key phase (RFC 9001 §6.1: the secret expanded with "quic ku"; the
    /// header protection key does not change).
    pub fn next(&self) -> Option<PacketKeys> {
        let mut secret = vec![0u8; self.secret.len()];
        let label = if self.v2 { "quicv2 ku" } else { "quic ku" };
        expand(self.suite, &self.secret, label, &mut secret)?;
        let version = if self.v2 { V2 } else { 1 };
        let mut next = PacketKeys::new(self.suite, &secret, version)?;
        next.hp = self.hp.clone();
        Some(next)
    }

    /// The header protection mask of a 16-byte ciphertext sample (RFC 9001 §5.4.3, §5.4.4).
    fn mask(&self, sample: &[u8]) -> Option<[u8; 5]> {
        let mut m = [0u8; 5];
        match &self.hp {
            Hp::Aes128(c) => {
                let mut b = aes::Block::clone_from_slice(sample);
                c.encrypt_block(&mut b);
                m.copy_from_slice(&b[..5]);
            }
            Hp::Aes256(c) => {
                let mut b = aes::Block::clone_from_slice(sample);
                c.encrypt_block(&mut b);
                m.copy_from_slice(&b[..5]);
            }
            Hp::ChaCha(key) => {
                // counter = sample[0..4] (little-endian), nonce = sample[4..16].
                let counter = u32::from_le_bytes(sample.get(..4)?.try_into().ok()?);
                let mut c = chacha20::ChaCha20::new(key.into(), sample.get(4..16)?.into());
                c.seek(u64::from(counter) * 64);
                c.apply_keystream(&mut m);
            }
        }
        Some(m)
    }

    /// A long-header packet (Handshake) of a datagram, `h` its header as decoded: its full
    /// packet number and plaintext (header protection covers the first byte's low four bits).
    pub fn open_long<'b>(
        &self,
        packet: &[u8],
        h: &LongHeader<'_>,
        largest: Option<u64>,
        buf: &'b mut [u8; MAX_PACKET],
    ) -> Option<(u64, &'b [u8])> {
        let p = packet.get(..h.len)?;
        self.open(p, h.pn_offset, 0x0f, largest, buf)
            .map(|(pn, _, b)| (pn, b))
    }

    /// Opens the short-header packet `packet` (its Destination Connection ID `dcid_len` bytes),
    /// the largest packet number of its space so far `largest`: removes header protection,
    /// recovers the full packet number, decrypts into `buf`. Returns the packet number, the
    /// key phase bit and the plaintext frames; `None` when the packet is too short or too long
    /// or does not authenticate (another key phase, other keys, a corrupt packet).
    pub fn open_short<'b>(
        &self,
        packet: &[u8],
        dcid_len: usize,
        largest: Option<u64>,
        buf: &'b mut [u8; MAX_PACKET],
    ) -> Option<(u64, bool, &'b [u8])> {
        let pn_offset = 1 + dcid_len;
        self.open(packet, pn_offset, 0x1f, largest, buf)
            .map(|(pn, first, b)| (pn, first & 0x04 != 0, b))
    }

    /// Header protection off (`bits`: the first byte's protected bits), packet number
    /// expanded, AEAD opened; returns the packet number, the unprotected first byte, the frames.
    fn open<'b>(
        &self,
        packet: &[u8],
        pn_offset: usize,
        bits: u8,
        largest: Option<u64>,
        buf: &'b mut [u8; MAX_PACKET],
    ) -> Option<(u64, u8, &'b [u8])> {
        let sample = packet.get(pn_offset + 4..pn_offset + 4 + SAMPLE_LEN)?;
        if packet.len() > MAX_PACKET {
            return None;
        }
        let mask = self.mask(sample)?;
        let first = packet.first()? ^ (mask[0] & bits);
        let pn_len = usize::from(first & 0x03) + 1;
        let header_len = pn_offset + pn_len;
        let body = packet.get(header_len..)?;
        if body.len() < TAG_LEN {
            return None;
        }
        let out = &mut buf[..packet.len()];
        out.copy_from_slice(packet);
        out[0] = first;
        let mut truncated = 0u64;
        for i in 0..pn_len {
            out[pn_offset + i] ^= mask[1 + i];
            truncated = truncated << 8 | u64::from(out[pn_offset + i]);
        }
        let pn = expand_pn(largest, truncated, pn_len * 8);
        let mut nonce = self.iv;
        for (i, b) in pn.to_be_bytes().iter().enumerate() {
            nonce[4 + i] ^= b;
        }
        let (header, rest) = out.split_at_mut(header_len);
        let (ciphertext, tag) = rest.split_at_mut(rest.len() - TAG_LEN);
        let (nonce, tag) = (Nonce::from_slice(&nonce), Tag::from_slice(tag));
        let ok = match &self.aead {
            Aead::Aes128(a) => a.decrypt_in_place_detached(nonce, header, ciphertext, tag),
            Aead::Aes256(a) => a.decrypt_in_place_detached(nonce, header, ciphertext, tag),
            Aead::ChaCha(a) => a.decrypt_in_place_detached(nonce, header, ciphertext, tag),
        };
        ok.ok()?;
        let end = header_len + ciphertext.len();
        Some((pn, first, &buf[header_len..end]))
    }
}

/// The full packet number of a truncated one of `bits` bits (RFC 9000 §A.3), given the largest
/// packet number of the space so far.
pub fn expand_pn(largest: Option<u64>, truncated: u64, bits: usize) -> u64 {
    let expected = largest.map_or(0, |l| l + 1);
    let win = 1u64 << bits;
    let (hwin, mask) = (win / 2, win - 1);
    let candidate = (expected & !mask) | truncated;
    if candidate + hwin <= expected && candidate < (1u64 << 62) - win {
        candidate + win
    } else if candidate > expected + hwin && candidate >= win {
        candidate - win
    } else {
        candidate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    /// RFC 9001 §A.5: a ChaCha20-Poly1305 short-header packet, its secret, keys, mask and
    /// packet number.
    #[test]
    fn rfc9001_chacha20_short_header_packet() {
        let secret = hex("9ac312a7f877468ebe69422748ad00a15443f18203a07d6060f688f30f21632b");
        let k = PacketKeys::new(TLS_CHACHA20_POLY1305_SHA256, &secret, 1).expect("keys");
        assert_eq!(
            k.iv.to_vec(),
            hex("e0459b3474bdd0e44a41c144"),
            "quic iv of RFC 9001 §A.5"
        );
        let sample = hex("5e5cd55c41f69080575d7999c25a5bfb");
        assert_eq!(k.mask(&sample).expect("mask").to_vec(), hex("aefefe7d03"));
        let packet = hex("4cfe4189655e5cd55c41f69080575d7999c25a5bfb");
        let mut buf = [0u8; MAX_PACKET];
        // Largest so far 654360563: the 3-byte truncated number expands to 654360564.
        let (pn, phase, frames) = k
            .open_short(&packet, 0, Some(654_360_563), &mut buf)
            .expect("opens");
        assert_eq!((pn, phase, frames), (654_360_564, false, &[0x01][..]));
        // One byte changed: it no longer authenticates.
        let mut bad = packet.clone();
        bad[10] ^= 1;
        assert!(k.open_short(&bad, 0, Some(654_360_563), &mut buf).is_none());
        // A key update's keys do not open it.
        assert!(k
            .next()
            .expect("next")
            .open_short(&packet, 0, Some(654_360_563), &mut buf)
            .is_none());
    }

    #[test]
    fn keys_of_every_suite_and_wrong_lengths() {
        assert!(PacketKeys::new(TLS_AES_128_GCM_SHA256, &[7; 32], 1).is_some());
        assert!(PacketKeys::new(TLS_AES_256_GCM_SHA384, &[7; 48], 1).is_some());
        assert!(PacketKeys::new(TLS_AES_256_GCM_SHA384, &[7; 32], 1).is_none());
        assert!(PacketKeys::new(0x1304, &[7; 32], 1).is_none());
    }

    #[test]
    fn packet_numbers_expand_as_rfc9000_a3_says() {
        // RFC 9000 §A.3's example: largest 0xa82f30ea, truncated 0x9b32 (16 bits).
        assert_eq!(expand_pn(Some(0xa82f_30ea), 0x9b32, 16), 0xa82f_9b32);
        assert_eq!(expand_pn(None, 0, 8), 0);
        assert_eq!(expand_pn(Some(255), 0, 8), 256);
    }
}
