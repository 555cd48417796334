//! The client's TLS ClientHello from its Initial CRYPTO frames (RFC 9001 §4.1.3: one or more
//! Initial packets carry it, in CRYPTO frames at increasing offsets): reassembled in a bounded
//! buffer, then read for the server name (RFC 6066 §3), the ALPN protocols (RFC 7301 §3.1) and
//! the client's transport parameters (RFC 9001 §8.2).

/// The most of the ClientHello reassembled. Post-quantum key shares make it about 1.8 KB
/// (Chrome's X25519Kyber768), and a few large extensions more; a longer one loses its tail.
pub const MAX_HELLO: usize = 4096;
/// ALPN protocols kept (`h3`, `h3-29`, …).
pub const MAX_ALPN: usize = 4;

/// The CRYPTO stream of a client's Initials so far. Frames may come in any order: Chrome
/// splits its ClientHello into CRYPTO frames at shuffled offsets within one packet.
#[derive(Debug, Clone)]
pub struct HelloBuffer {
    bytes: Box<[u8; MAX_HELLO]>,
    /// One bit per byte of `bytes`: received.
    have: Box<[u64; MAX_HELLO / 64]>,
    /// Contiguous bytes from offset 0.
    filled: usize,
}

impl Default for HelloBuffer {
    fn default() -> Self {
        HelloBuffer {
            bytes: Box::new([0; MAX_HELLO]),
            have: Box::new([0; MAX_HELLO / 64]),
            filled: 0,
        }
    }
}

/// What the ClientHello says about the connection.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hello {
    pub sni: Option<String>,
    pub alpn: Vec<String>,
    /// The client's random: what a TLS key log names the connection's secrets by.
    pub random: Option<[u8; 32]>,
    /// The client's transport parameters (extension 57, RFC 9001 §8.2).
    pub params: TransportParams,
}

impl HelloBuffer {
    /// Adds a CRYPTO frame's data at `offset` (what lies beyond [`MAX_HELLO`] is dropped).
    pub fn add(&mut self, offset: u64, data: &[u8]) {
        let Ok(offset) = usize::try_from(offset) else {
            return;
        };
        if offset >= MAX_HELLO {
            return;
        }
        let end = offset.saturating_add(data.len()).min(MAX_HELLO);
        self.bytes[offset..end].copy_from_slice(&data[..end - offset]);
        for i in offset..end {
            self.have[i / 64] |= 1 << (i % 64);
        }
        while self.filled < MAX_HELLO
            && self.have[self.filled / 64] & (1 << (self.filled % 64)) != 0
        {
            self.filled += 1;
        }
    }

    /// The ClientHello once all of it (as its length says) is in, or the buffer is full.
    pub fn hello(&self) -> Option<Hello> {
        let b = &self.bytes[..self.filled];
        // Handshake header: type 1 (client_hello), 24-bit length (RFC 8446 §4).
        if b.len() < 4 || b[0] != 1 {
            return None;
        }
        let len = usize::from(b[1]) << 16 | usize::from(b[2]) << 8 | usize::from(b[3]);
        if 4 + len > self.filled && self.filled < MAX_HELLO {
            return None;
        }
        Some(parse(&b[4..(4 + len).min(b.len())]))
    }
}

use super::transport_params::TransportParams;

/// A cursor over big-endian TLS fields; every read is checked.
struct Reader<'a> {
    b: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = (self.b.get(..n)?, self.b.get(n..)?);
        self.b = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<usize> {
        self.take(1).map(|b| usize::from(b[0]))
    }
    fn u16(&mut self) -> Option<usize> {
        self.take(2)
            .map(|b| usize::from(b[0]) << 8 | usize::from(b[1]))
    }
    /// A vector with a `width`-byte length prefix.
    fn vec(&mut self, width: usize) -> Option<Reader<'a>> {
        let n = if width == 1 { self.u8()? } else { self.u16()? };
        Some(Reader { b: self.take(n)? })
    }
}

/// The server name and ALPN protocols of a ClientHello body (RFC 8446 §4.1.2); what a cut or
/// malformed hello still showed before it stopped.
fn parse(body: &[u8]) -> Hello {
    let mut out = Hello::default();
    let _ = extensions(body, &mut out);
    out
}

fn extensions(body: &[u8], out: &mut Hello) -> Option<()> {
    let mut r = Reader { b: body };
    r.take(2)?; // legacy_version
    out.random = r.take(32)?.try_into().ok();
    r.vec(1)?; // legacy_session_id
    r.vec(2)?; // cipher_suites
    r.vec(1)?; // legacy_compression_methods
    let mut exts = r.vec(2)?;
    while !exts.b.is_empty() {
        let kind = exts.u16()?;
        let mut data = exts.vec(2)?;
        match kind {
            0 => {
                // server_name: a list of (type, name); type 0 is host_name.
                let mut list = data.vec(2)?;
                while !list.b.is_empty() {
                    let t = list.u8()?;
                    let name = list.vec(2)?;
                    if t == 0 && out.sni.is_none() {
                        out.sni = Some(String::from_utf8_lossy(name.b).into_owned());
                    }
                }
            }
            16 => {
                let mut list = data.vec(2)?;
                while !list.b.is_empty() {
                    let p = list.vec(1)?;
                    if out.alpn.len() < MAX_ALPN {
                        out.alpn.push(String::from_utf8_lossy(p.b).into_owned());
                    }
                }
            }
            k if u16::try_from(k).is_ok_and(super::transport_params::is_extension) => {
                out.params = super::transport_params::parse(data.b)
            }
            _ => {}
        }
    }
    Some(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A minimal ClientHello: handshake header, version, random, empty session id, one suite,
    /// null compression, SNI "example.com" and ALPN ["h3"].
    fn hello() -> Vec<u8> {
        let mut body = vec![0x03, 0x03];
        body.extend(1u8..=32); // the random
        body.extend([0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00]);
        let name = b"example.com";
        let mut sni = vec![0x00, 0x00];
        let list_len = 3 + name.len();
        sni.extend((list_len as u16 + 2).to_be_bytes());
        sni.extend((list_len as u16).to_be_bytes());
        sni.push(0);
        sni.extend((name.len() as u16).to_be_bytes());
        sni.extend(name);
        let alpn = [0x00, 0x10, 0x00, 0x05, 0x00, 0x03, 0x02, b'h', b'3'];
        let exts_len = sni.len() + alpn.len();
        body.extend((exts_len as u16).to_be_bytes());
        body.extend(sni);
        body.extend(alpn);
        let mut out = vec![0x01, 0, 0, body.len() as u8];
        out.extend(body);
        out
    }

    #[test]
    fn server_name_and_alpn_from_two_crypto_frames() {
        let h = hello();
        let mut buf = HelloBuffer::default();
        buf.add(40, &h[40..]); // ahead of a gap, as Chrome shuffles them
        assert_eq!(buf.hello(), None);
        buf.add(0, &h[..30]);
        assert_eq!(buf.hello(), None, "a gap from 30 to 40");
        buf.add(25, &h[25..45]);
        let got = buf.hello().expect("complete");
        assert_eq!(got.sni.as_deref(), Some("example.com"));
        assert_eq!(got.alpn, ["h3"]);
        let random: Vec<u8> = (1u8..=32).collect();
        assert_eq!(got.random.map(|r| r.to_vec()), Some(random));
    }

    #[test]
    fn every_cut_parses_without_panic() {
        let h = hello();
        for n in 0..h.len() {
            let _ = parse(&h[4..n.max(4)]);
        }
        let mut buf = HelloBuffer::default();
        buf.add(u64::MAX, &h);
        buf.add(MAX_HELLO as u64 - 1, &h);
        assert_eq!((buf.hello(), buf.filled), (None, 0));
    }
}
