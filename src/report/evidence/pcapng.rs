//! A small pcapng writer for evidence captures: one little-endian section whose Section Header
//! Block carries a comment, an Interface Description Block per input interface the frames came
//! from (written at its first frame) and an Enhanced Packet Block per frame with its own comment.
//!
//! Block layouts from the pcapng specification (draft-ietf-opsawg-pcapng, §4.1 SHB, §4.2 IDB,
//! §4.3 EPB; options §3.5: code, length, value padded to 32 bits, `opt_endofopt` last). Every
//! interface is written with `if_tsresol` 9 (nanoseconds), so a frame keeps the time the input
//! gave it to the nanosecond whatever the input's resolution, and with snaplen 0 ("no limit"):
//! each packet keeps its captured length and its original length (`frame.len`).

use std::io::{self, Write};

use crate::capture::{Frame, LinkType};

const SHB: u32 = 0x0A0D_0D0A;
const IDB: u32 = 1;
const EPB: u32 = 6;
const BYTE_ORDER_MAGIC: u32 = 0x1A2B_3C4D;
/// `opt_comment`, valid in every block (§3.5).
const OPT_COMMENT: u16 = 1;
/// `shb_userappl` (§4.1).
const SHB_USERAPPL: u16 = 4;
/// `if_description` (§4.2).
const IF_DESCRIPTION: u16 = 3;
/// `if_tsresol` (§4.2): one byte, 9 = 10^-9 s.
const IF_TSRESOL: u16 = 9;
/// An option's value is at most this long (its length field is 16 bits).
const MAX_OPTION: usize = u16::MAX as usize;

/// Writes one evidence section to `W`.
pub struct PcapngWriter<W: Write> {
    out: W,
    /// The input interfaces (index, link type) written so far; a position is the output's
    /// interface id.
    interfaces: Vec<(Option<u32>, LinkType)>,
}

/// An option to write: code and value.
type Opt<'a> = (u16, &'a [u8]);

impl<W: Write> PcapngWriter<W> {
    /// Starts the section: a Section Header Block with `comment` and the writing application.
    pub fn start(mut out: W, comment: &str, application: &str) -> io::Result<Self> {
        let opts = [
            (OPT_COMMENT, clip(comment)),
            (SHB_USERAPPL, clip(application)),
        ];
        let mut body = Vec::with_capacity(16);
        body.extend_from_slice(&BYTE_ORDER_MAGIC.to_le_bytes());
        body.extend_from_slice(&1u16.to_le_bytes());
        body.extend_from_slice(&0u16.to_le_bytes());
        // Section length unknown (-1): readers walk the blocks.
        body.extend_from_slice(&(-1i64).to_le_bytes());
        block(&mut out, SHB, &body, &[], &opts)?;
        Ok(PcapngWriter {
            out,
            interfaces: Vec::new(),
        })
    }

    /// Writes `frame` with its comment, preceded by its interface's description at its first
    /// frame. `Ok(false)` when the frame has no link type a pcapng interface can declare (a record
    /// of an undeclared interface, a non-packet record): nothing is written.
    pub fn packet(&mut self, frame: &Frame<'_>, comment: &str) -> io::Result<bool> {
        let Some(iface) = self.interface(frame)? else {
            return Ok(false);
        };
        // pcapng timestamps are unsigned; a time before 1970 (hostile input) is written as 0.
        let ts = u64::try_from(frame.ts_ns).unwrap_or(0);
        let mut head = [0u8; 20];
        head[0..4].copy_from_slice(&iface.to_le_bytes());
        head[4..8].copy_from_slice(&((ts >> 32) as u32).to_le_bytes());
        head[8..12].copy_from_slice(&(ts as u32).to_le_bytes());
        head[12..16].copy_from_slice(&(frame.data.len() as u32).to_le_bytes());
        head[16..20].copy_from_slice(&frame.wire_len.to_le_bytes());
        block(
            &mut self.out,
            EPB,
            &head,
            frame.data,
            &[(OPT_COMMENT, clip(comment))],
        )?;
        Ok(true)
    }

    /// The output interface id of `frame`'s input interface, its IDB written if new.
    fn interface(&mut self, frame: &Frame<'_>) -> io::Result<Option<u32>> {
        let key = (frame.interface, frame.link_type);
        if let Some(i) = self.interfaces.iter().position(|k| *k == key) {
            return Ok(Some(i as u32));
        }
        let (Some(input), Ok(link)) = (frame.interface, u16::try_from(frame.link_type)) else {
            return Ok(None);
        };
        let mut body = [0u8; 8];
        body[0..2].copy_from_slice(&link.to_le_bytes());
        // body[2..4] reserved, body[4..8] snaplen 0: no limit.
        let what = format!("interface {input} of the input (0-based over all its sections)");
        block(
            &mut self.out,
            IDB,
            &body,
            &[],
            &[(IF_DESCRIPTION, what.as_bytes()), (IF_TSRESOL, &[9])],
        )?;
        self.interfaces.push(key);
        Ok(Some(self.interfaces.len() as u32 - 1))
    }

    /// The sink, after the last block.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// `s`'s bytes, cut at a character boundary to fit an option.
fn clip(s: &str) -> &[u8] {
    let mut end = s.len().min(MAX_OPTION);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s.as_bytes()[..end]
}

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

/// Writes a block: type, total length, the fixed `body`, `data` padded to 32 bits, the options
/// (empty ones left out) and `opt_endofopt`, then the total length again.
fn block<W: Write>(
    out: &mut W,
    kind: u32,
    body: &[u8],
    data: &[u8],
    opts: &[Opt],
) -> io::Result<()> {
    let opts_len: usize = opts
        .iter()
        .filter(|o| !o.1.is_empty())
        .map(|o| 4 + o.1.len() + pad4(o.1.len()))
        .sum::<usize>()
        + 4;
    let total = 12 + body.len() + data.len() + pad4(data.len()) + opts_len;
    let total = u32::try_from(total).map_err(|_| io::Error::other("pcapng block too large"))?;
    const ZEROS: [u8; 4] = [0; 4];
    out.write_all(&kind.to_le_bytes())?;
    out.write_all(&total.to_le_bytes())?;
    out.write_all(body)?;
    out.write_all(data)?;
    out.write_all(&ZEROS[..pad4(data.len())])?;
    for (code, value) in opts.iter().filter(|o| !o.1.is_empty()) {
        out.write_all(&code.to_le_bytes())?;
        out.write_all(&(value.len() as u16).to_le_bytes())?;
        out.write_all(value)?;
        out.write_all(&ZEROS[..pad4(value.len())])?;
    }
    out.write_all(&ZEROS)?;
    out.write_all(&total.to_le_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{CaptureReader, Format};

    fn frame(number: u64, interface: Option<u32>, link_type: u32, data: &[u8]) -> Frame<'_> {
        Frame {
            number,
            ts_ns: 1_700_000_000_123_456_789,
            ts_known: true,
            ts_bad_fraction: false,
            link_type,
            interface,
            wire_len: data.len() as u32 + 100,
            data,
            offset: 0,
            secrets: None,
        }
    }

    #[test]
    fn our_reader_reads_back_what_was_written() {
        let mut w = PcapngWriter::start(Vec::new(), "finding é", "test").expect("shb");
        assert!(w
            .packet(&frame(7, Some(2), 1, b"abcde"), "frame 7")
            .expect("epb"));
        assert!(w
            .packet(&frame(9, Some(5), 101, b"\x45xyz"), "")
            .expect("epb"));
        assert!(w
            .packet(&frame(11, Some(2), 1, b"12"), "frame 11")
            .expect("epb"));
        // No interface, or a link type no IDB can hold: left out.
        assert!(!w.packet(&frame(12, None, 1, b"x"), "x").expect("skipped"));
        assert!(!w
            .packet(&frame(13, Some(1), u32::MAX, b"x"), "x")
            .expect("skipped"));
        let bytes = w.into_inner();
        assert_eq!(bytes.len() % 4, 0);
        let mut r = CaptureReader::from_reader(Box::new(io::Cursor::new(bytes))).expect("opens");
        let mut got = Vec::new();
        while let Some(f) = r.next_frame().expect("reads") {
            got.push((
                f.interface,
                f.link_type,
                f.ts_ns,
                f.wire_len,
                f.data.to_vec(),
            ));
        }
        assert_eq!(r.meta.format, Some(Format::PcapNg));
        assert_eq!(r.meta.interfaces, [1, 101]);
        assert!(r.meta.truncation.is_none());
        let ts = 1_700_000_000_123_456_789;
        assert_eq!(
            got,
            [
                (Some(0), 1, ts, 105, b"abcde".to_vec()),
                (Some(1), 101, ts, 104, b"\x45xyz".to_vec()),
                (Some(0), 1, ts, 102, b"12".to_vec()),
            ]
        );
    }

    #[test]
    fn long_comments_are_cut_at_a_character() {
        let s = "é".repeat(40_000);
        let c = clip(&s);
        assert!(c.len() <= MAX_OPTION);
        assert!(std::str::from_utf8(c).is_ok());
        assert_eq!(clip("abc"), b"abc");
    }
}
