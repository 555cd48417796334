//! TLS key logs (`SSLKEYLOGFILE`, the NSS format quic-go, quiche, aioquic, curl and browsers
//! write): the traffic secrets of each connection, by the ClientHello's random. Read as hostile
//! input: streamed, every line bounded, every secret checked, and the first bad line named.
//!
//! Format (NSS, and draft-thomson-tls-keylogfile): `LABEL CLIENT_RANDOM SECRET`, hex, one per
//! line; `#` starts a comment. The TLS 1.3 labels QUIC needs are kept; other labels (TLS 1.2's
//! `CLIENT_RANDOM`, `EXPORTER_SECRET`) are skipped, as Wireshark skips what it cannot use.

use std::io::BufRead;

use rustc_hash::FxHashMap;

/// A line longer than this is not a key log line (the longest, a 48-byte secret's, is 164).
pub const MAX_LINE: usize = 512;
/// Secrets kept at most: about 100 bytes each, 100 MB. A key log with more is refused rather
/// than read without bound.
pub const MAX_SECRETS: usize = 1_000_000;

/// Which secret of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Label {
    ClientEarly,
    ClientHandshake,
    ServerHandshake,
    Client0,
    Server0,
}

impl Label {
    fn parse(s: &str) -> Option<Label> {
        Some(match s {
            "CLIENT_EARLY_TRAFFIC_SECRET" => Label::ClientEarly,
            "CLIENT_HANDSHAKE_TRAFFIC_SECRET" => Label::ClientHandshake,
            "SERVER_HANDSHAKE_TRAFFIC_SECRET" => Label::ServerHandshake,
            "CLIENT_TRAFFIC_SECRET_0" => Label::Client0,
            "SERVER_TRAFFIC_SECRET_0" => Label::Server0,
            _ => return None,
        })
    }
}

/// The secrets of one connection (TLS 1.3: 32 bytes with SHA-256 suites, 48 with SHA-384).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Secrets {
    pub client_early: Option<Vec<u8>>,
    pub client_handshake: Option<Vec<u8>>,
    pub server_handshake: Option<Vec<u8>>,
    pub client_0: Option<Vec<u8>>,
    pub server_0: Option<Vec<u8>>,
}

impl Secrets {
    fn set(&mut self, label: Label, secret: Vec<u8>) {
        let slot = match label {
            Label::ClientEarly => &mut self.client_early,
            Label::ClientHandshake => &mut self.client_handshake,
            Label::ServerHandshake => &mut self.server_handshake,
            Label::Client0 => &mut self.client_0,
            Label::Server0 => &mut self.server_0,
        };
        *slot = Some(secret);
    }
}

/// A key log: secrets by client random.
#[derive(Debug, Clone, Default)]
pub struct KeyLog {
    pub file: String,
    by_random: FxHashMap<[u8; 32], Secrets>,
    /// Lines read with a label this reader does not use.
    pub skipped: u64,
    /// Lines of embedded key logs ([`KeyLog::embedded`]) that were not secrets.
    pub bad_lines: u64,
}

/// A key log that cannot be used: the file, the line (1-based) and what is wrong.
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {what}", line.map_or(String::new(), |l| format!(":{l}")))]
pub struct KeyLogError {
    pub file: String,
    pub line: Option<u64>,
    pub what: String,
}

impl KeyLog {
    /// The secrets of the connection whose ClientHello carried `random`.
    pub fn secrets(&self, random: &[u8; 32]) -> Option<&Secrets> {
        self.by_random.get(random)
    }

    /// Connections with at least one secret.
    pub fn connections(&self) -> usize {
        self.by_random.len()
    }

    /// Reads a key log named `file` from `r`.
    pub fn read(file: &str, mut r: impl BufRead) -> Result<KeyLog, KeyLogError> {
        let err = |line: Option<u64>, what: String| KeyLogError {
            file: file.to_string(),
            line,
            what,
        };
        let mut log = KeyLog {
            file: file.to_string(),
            ..KeyLog::default()
        };
        let (mut buf, mut n, mut secrets) = (Vec::with_capacity(MAX_LINE), 0u64, 0usize);
        loop {
            buf.clear();
            n += 1;
            // At most one byte past the bound: a longer line is refused, never held whole.
            let got = std::io::Read::take(r.by_ref(), MAX_LINE as u64 + 1)
                .read_until(b'\n', &mut buf)
                .map_err(|e| err(Some(n), format!("cannot read: {e}")))?;
            if got == 0 {
                break;
            }
            if buf.len() > MAX_LINE && buf.last() != Some(&b'\n') {
                return Err(err(
                    Some(n),
                    format!("a line longer than {MAX_LINE} bytes: not a TLS key log"),
                ));
            }
            let line = std::str::from_utf8(&buf)
                .map_err(|_| err(Some(n), "not text: not a TLS key log".into()))?
                .trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            log.line(line).map_err(|what| err(Some(n), what))?;
            secrets += 1;
            if secrets > MAX_SECRETS {
                return Err(err(
                    Some(n),
                    format!("more than {MAX_SECRETS} secrets: split the key log"),
                ));
            }
        }
        Ok(log)
    }

    /// The key log text of pcapng Decryption Secrets Blocks (`editcap --inject-secrets`), added
    /// to this one. Lines that are not secrets are counted in `bad_lines` and skipped, as
    /// Wireshark skips them: the capture around them stays readable.
    pub fn embedded(&mut self, text: &[u8]) {
        for line in text.split(|&b| b == b'\n') {
            let line = std::str::from_utf8(line).unwrap_or("\u{fffd}").trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            if self.connections() >= MAX_SECRETS || self.line(line).is_err() {
                self.bad_lines += 1;
            }
        }
    }

    /// One line `LABEL CLIENT_RANDOM SECRET` (a label this reader does not use is skipped).
    fn line(&mut self, line: &str) -> Result<(), String> {
        let mut f = line.split_ascii_whitespace();
        let (Some(label), Some(random), Some(secret), None) =
            (f.next(), f.next(), f.next(), f.next())
        else {
            return Err("expected `LABEL CLIENT_RANDOM SECRET` (NSS key log format)".into());
        };
        let Some(label) = Label::parse(label) else {
            self.skipped += 1;
            return Ok(());
        };
        let random: [u8; 32] = hex(random)
            .and_then(|v| v.try_into().ok())
            .ok_or("the client random is not 32 bytes of hex")?;
        let secret = hex(secret)
            .filter(|s| s.len() == 32 || s.len() == 48)
            .ok_or("the secret is not 32 or 48 bytes of hex (a TLS 1.3 traffic secret)")?;
        self.by_random.entry(random).or_default().set(label, secret);
        Ok(())
    }
}

/// Bytes of a hex string; `None` when it is not hex or of odd length.
fn hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const RANDOM: &str = "0a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20212223242526272829";

    fn read(text: &str) -> Result<KeyLog, KeyLogError> {
        KeyLog::read("keys.log", text.as_bytes())
    }

    #[test]
    fn secrets_by_client_random_and_unknown_labels_skipped() {
        let s32 = "11".repeat(32);
        let s48 = "22".repeat(48);
        let text = format!(
            "# aioquic\nCLIENT_HANDSHAKE_TRAFFIC_SECRET {RANDOM} {s32}\n\
             SERVER_TRAFFIC_SECRET_0 {RANDOM} {s48}\r\nEXPORTER_SECRET {RANDOM} {s32}\n\n\
             CLIENT_RANDOM {RANDOM} {s48}\n"
        );
        let log = read(&text).expect("reads");
        assert_eq!((log.connections(), log.skipped), (1, 2));
        let r: [u8; 32] = hex(RANDOM).expect("hex").try_into().expect("32");
        let s = log.secrets(&r).expect("secrets");
        assert_eq!(s.client_handshake.as_deref(), Some(&[0x11; 32][..]));
        assert_eq!(s.server_0.as_deref(), Some(&[0x22; 48][..]));
        assert!(s.client_0.is_none());
        assert!(log.secrets(&[0; 32]).is_none());
    }

    #[test]
    fn hostile_key_logs_are_clear_errors_naming_the_line() {
        let s32 = "11".repeat(32);
        let cases = [
            (
                format!("CLIENT_TRAFFIC_SECRET_0 {RANDOM} zz{}", &s32[2..]),
                1,
                "32 or 48",
            ),
            (
                format!("\nCLIENT_TRAFFIC_SECRET_0 {RANDOM} {}", &s32[..60]),
                2,
                "32 or 48",
            ),
            (
                format!("CLIENT_TRAFFIC_SECRET_0 abcd {s32}"),
                1,
                "client random",
            ),
            (
                format!("CLIENT_TRAFFIC_SECRET_0 {RANDOM}"),
                1,
                "LABEL CLIENT_RANDOM",
            ),
            (format!("{}\n", "A".repeat(2000)), 1, "longer than"),
        ];
        for (text, line, what) in cases {
            let e = read(&text).expect_err(&text);
            assert_eq!(e.line, Some(line), "{e}");
            assert!(e.to_string().contains(what), "{e}");
            assert!(e.to_string().starts_with("keys.log:"), "{e}");
        }
        let e = KeyLog::read("bin.log", &[0xff, 0xfe, b'\n'][..]).expect_err("binary");
        assert!(e.to_string().contains("not text"), "{e}");
    }

    #[test]
    fn a_gigabyte_without_newlines_is_refused_at_once() {
        // An endless reader: refused after one bounded line, never read to the end.
        let endless = std::io::repeat(b'a');
        let e = KeyLog::read("big.log", std::io::BufReader::new(endless)).expect_err("refused");
        assert_eq!(e.line, Some(1));
    }
}
