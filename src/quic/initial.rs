//! Initial packet protection (RFC 9001 §5): keys derived from the client's first Destination
//! Connection ID and a public, per-version salt, so that anyone on the path (and this tool) can
//! remove header protection and decrypt Initial packets without secrets.
//!
//! Crates: RustCrypto's `hkdf`/`sha2` (HKDF-SHA256, RFC 5869), `aes` (header protection is
//! AES-ECB of a ciphertext sample, RFC 9001 §5.4.3) and `aes-gcm` (AEAD_AES_128_GCM, RFC 9001
//! §5.3): pure Rust, no C toolchain, exactly the primitives Initial packets use.

use aes::cipher::{BlockEncrypt, KeyInit};
use aes::Aes128;
use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Nonce, Tag};
use hkdf::Hkdf;
use sha2::Sha256;

use crate::decode::quic::{LongHeader, DRAFT_29, V1, V2};

/// RFC 9001 §5.2.
const SALT_V1: [u8; 20] = [
    0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17, 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad,
    0xcc, 0xbb, 0x7f, 0x0a,
];
/// RFC 9369 §3.3.1.
const SALT_V2: [u8; 20] = [
    0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93, 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb,
    0xf9, 0xbd, 0x2e, 0xd9,
];
/// draft-ietf-quic-tls-29 §5.2.
const SALT_DRAFT_29: [u8; 20] = [
    0xaf, 0xbf, 0xec, 0x28, 0x99, 0x93, 0xd2, 0x4c, 0x9e, 0x97, 0x86, 0xf1, 0x9c, 0x61, 0x11, 0xe0,
    0x43, 0x90, 0xa8, 0x99,
];

/// The largest packet decrypted (Initial datagrams are at least 1200 bytes, RFC 9000 §14.1, and
/// in practice a path MTU's payload); larger ones are left alone.
pub const MAX_PACKET: usize = 2048;
/// AEAD_AES_128_GCM's tag.
const TAG_LEN: usize = 16;
/// Header protection samples 16 bytes, starting 4 bytes after the packet number's start.
const SAMPLE_OFFSET: usize = 4;
const SAMPLE_LEN: usize = 16;

/// Which endpoint's Initial keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sender {
    Client,
    Server,
}

/// The keys that protect one endpoint's Initial packets.
#[derive(Clone)]
pub struct InitialKeys {
    aead: Aes128Gcm,
    hp: Aes128,
    iv: [u8; 12],
}

impl std::fmt::Debug for InitialKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InitialKeys")
    }
}

/// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context, into `out`.
fn expand_label(prk: &Hkdf<Sha256>, label: &str, out: &mut [u8]) -> Option<()> {
    const PREFIX: &[u8] = b"tls13 ";
    let mut info = [0u8; 64];
    let full = PREFIX.len() + label.len();
    let n = 4 + full;
    if n > info.len() {
        return None;
    }
    info[..2].copy_from_slice(&(out.len() as u16).to_be_bytes());
    info[2] = full as u8;
    info[3..3 + PREFIX.len()].copy_from_slice(PREFIX);
    info[3 + PREFIX.len()..3 + full].copy_from_slice(label.as_bytes());
    info[3 + full] = 0; // empty context
    prk.expand(&info[..n], out).ok()
}

/// The key, IV and header protection key of `sender`'s Initial packets (RFC 9001 §5.2).
fn material(version: u32, dcid: &[u8], sender: Sender) -> Option<([u8; 16], [u8; 12], [u8; 16])> {
    let (salt, v2) = match version {
        V1 => (&SALT_V1, false),
        V2 => (&SALT_V2, true),
        DRAFT_29 => (&SALT_DRAFT_29, false),
        _ => return None,
    };
    let (initial, _) = Hkdf::<Sha256>::extract(Some(salt), dcid);
    let initial = Hkdf::<Sha256>::from_prk(&initial).ok()?;
    let mut secret = [0u8; 32];
    let label = match sender {
        Sender::Client => "client in",
        Sender::Server => "server in",
    };
    expand_label(&initial, label, &mut secret)?;
    let secret = Hkdf::<Sha256>::from_prk(&secret).ok()?;
    // RFC 9369 §3.3.2: v2 labels are "quicv2 key", "quicv2 iv", "quicv2 hp".
    let l = |v1: &'static str, v2s: &'static str| if v2 { v2s } else { v1 };
    let (mut key, mut iv, mut hp) = ([0u8; 16], [0u8; 12], [0u8; 16]);
    expand_label(&secret, l("quic key", "quicv2 key"), &mut key)?;
    expand_label(&secret, l("quic iv", "quicv2 iv"), &mut iv)?;
    expand_label(&secret, l("quic hp", "quicv2 hp"), &mut hp)?;
    Some((key, iv, hp))
}

impl InitialKeys {
    /// The Initial keys of `sender` for a connection whose client chose `dcid`, under
    /// `version` (v1, v2 or draft-29; others have no known salt).
    pub fn new(version: u32, dcid: &[u8], sender: Sender) -> Option<InitialKeys> {
        let (key, iv, hp) = material(version, dcid, sender)?;
        Some(InitialKeys {
            aead: Aes128Gcm::new_from_slice(&key).ok()?,
            hp: Aes128::new_from_slice(&hp).ok()?,
            iv,
        })
    }

    /// Removes header protection from the Initial packet `packet` (its header `h`) and decrypts
    /// it into `buf`: the packet number (as sent, truncated) and the plaintext frames. `None`
    /// when the packet is too short or too long, or does not authenticate (not ours to read:
    /// a different DCID, a middlebox's rewrite, a corrupt frame).
    pub fn open<'b>(
        &self,
        packet: &[u8],
        h: &LongHeader<'_>,
        buf: &'b mut [u8; MAX_PACKET],
    ) -> Option<(u32, &'b [u8])> {
        let sample_at = h.pn_offset + SAMPLE_OFFSET;
        let sample = packet.get(sample_at..sample_at + SAMPLE_LEN)?;
        if h.len > MAX_PACKET || h.len > packet.len() {
            return None;
        }
        let mut mask = aes::Block::clone_from_slice(sample);
        self.hp.encrypt_block(&mut mask);
        let buf = &mut buf[..h.len];
        buf.copy_from_slice(&packet[..h.len]);
        buf[0] ^= mask[0] & 0x0f; // long header: the low 4 bits
        let pn_len = usize::from(buf[0] & 3) + 1;
        let header_len = h.pn_offset + pn_len;
        if header_len + TAG_LEN > h.len {
            return None;
        }
        let mut pn = 0u32;
        for i in 0..pn_len {
            buf[h.pn_offset + i] ^= mask[1 + i];
            pn = (pn << 8) | u32::from(buf[h.pn_offset + i]);
        }
        let mut nonce = self.iv;
        for (n, p) in nonce[8..].iter_mut().zip(pn.to_be_bytes()) {
            *n ^= p;
        }
        let (header, rest) = buf.split_at_mut(header_len);
        let (body, tag) = rest.split_at_mut(rest.len() - TAG_LEN);
        self.aead
            .decrypt_in_place_detached(
                Nonce::from_slice(&nonce),
                header,
                body,
                Tag::from_slice(tag),
            )
            .ok()?;
        Some((pn, body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    /// RFC 9001 Appendix A.1: the keys for DCID 0x8394c8f03e515708.
    #[test]
    fn rfc9001_initial_keys() {
        let dcid = hex("8394c8f03e515708");
        let (key, iv, hp) = material(V1, &dcid, Sender::Client).expect("keys");
        assert_eq!(key.to_vec(), hex("1f369613dd76d5467730efcbe3b1a22d"));
        assert_eq!(iv.to_vec(), hex("fa044b2f42a3fd3b46fb255c"));
        assert_eq!(hp.to_vec(), hex("9f50449e04a0e810283a1e9933adedd2"));
        let (key, iv, hp) = material(V1, &dcid, Sender::Server).expect("keys");
        assert_eq!(key.to_vec(), hex("cf3a5331653c364c88f0f379b6067e37"));
        assert_eq!(iv.to_vec(), hex("0ac1493ca1905853b0bba03e"));
        assert_eq!(hp.to_vec(), hex("c206b8d9b9f0f37644430b490eeaa314"));
        assert!(material(0x0a0a_0a0a, &dcid, Sender::Client).is_none());
    }
}
