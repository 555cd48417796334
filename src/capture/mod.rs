//! Capture input: opens a file, gzip stream or stdin and yields every record as a [`Frame`].
//!
//! One streaming pass, memory independent of file size: the record bytes live in one reusable
//! buffer. We frame records and pcapng blocks ourselves (so every error carries the exact byte
//! offset and no length reaches an allocation unchecked) and use `pcap-parser` for the structure
//! of the file header and of the pcapng section/interface/statistics blocks. Why not its streaming
//! reader: it allocates an options `Vec` per Enhanced Packet Block, cannot name the offset of a bad
//! record, and has the defects listed in `docs/architecture.md` (base-2 `if_tsresol`, `if_tsoffset`
//! endianness, block length < 12).

mod pcap;
mod pcapng;
pub mod progress;
mod source;
#[cfg(test)]
pub(crate) use source::CHUNK;
pub mod stop;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use flate2::bufread::MultiGzDecoder;

/// Largest record we accept. Linux BIG TCP GSO packets reach 512 KiB (`gso_max_size`,
/// net/core/dev.c `GSO_MAX_SIZE`); Wireshark's own limit is 256 KiB for most link types
/// (wiretap/wtap.h `WTAP_MAX_PACKET_SIZE_STANDARD`). Anything above 1 MiB is corruption, and we
/// never allocate more than this for one record.
pub const MAX_RECORD_LEN: u32 = 1 << 20;

/// Buffer of the gzip decoder's input and of the first look at a plain file (its magic): once
/// that is consumed, reads larger than it go straight into [`source::Source`]'s own buffer.
const PEEK_BUFFER: usize = 64 * 1024;

pub(crate) use source::{Fill, Source};

/// Link type reported for a pcapng packet whose interface id names no interface of its section.
pub const UNKNOWN_INTERFACE: LinkType = u32::MAX;

/// Link type reported for a pcapng record that is not a packet (Custom, Systemd Journal Export)
/// but that Wireshark numbers as a frame.
pub const NON_PACKET: LinkType = u32::MAX - 1;

/// A link-layer header type (LINKTYPE_* value, <https://www.tcpdump.org/linktypes.html>).
pub type LinkType = u32;

/// One captured record.
#[derive(Debug, Clone, Copy)]
pub struct Frame<'a> {
    /// 1-based, counting every packet record, as Wireshark's `frame.number`.
    pub number: u64,
    /// Nanoseconds since the Unix epoch (interface offset applied). Records without a timestamp
    /// (Simple Packet Blocks, custom records) carry the previous record's time.
    pub ts_ns: i64,
    /// False when the record had no timestamp of its own.
    pub ts_known: bool,
    /// The record's sub-second field is a second or more (a classic pcap microsecond field of
    /// 1,000,000 or above, or a nanosecond one of 10^9 or above): a writer's bug, and its time is
    /// not what the writer meant (libpcap adds the excess to the seconds, as we do).
    pub ts_bad_fraction: bool,
    pub link_type: LinkType,
    /// Interface index over all pcapng sections (0 for classic pcap); `None` for records that
    /// belong to no declared interface (a bad interface id, a custom record).
    pub interface: Option<u32>,
    /// Length on the wire (`frame.len`); never smaller than the captured length.
    pub wire_len: u32,
    /// The captured bytes (`frame.cap_len` = `data.len()`).
    pub data: &'a [u8],
    /// Byte offset of the record in the (decompressed) input.
    pub offset: u64,
    /// The TLS key log of the pcapng Decryption Secrets Blocks read since the previous frame
    /// (`editcap --inject-secrets`): secrets that apply from this frame on.
    pub secrets: Option<&'a [u8]>,
}

/// Container format of the capture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pcap,
    PcapNg,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Pcap => "pcap",
            Format::PcapNg => "pcapng",
        }
    }
}

/// Drop counters from a pcapng Interface Statistics Block (the last one seen per interface).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InterfaceStats {
    pub section: u32,
    pub interface: u32,
    pub link_type: LinkType,
    /// `isb_ifrecv`: packets received by the interface.
    pub if_recv: Option<u64>,
    /// `isb_ifdrop`: packets the interface dropped (buffer full, ...).
    pub if_drop: Option<u64>,
    /// `isb_osdrop`: packets the OS dropped.
    pub os_drop: Option<u64>,
    /// `isb_usrdeliv`: packets delivered to the user.
    pub usr_deliv: Option<u64>,
}

/// Why reading stopped before the end of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Truncation {
    /// Byte offset of the record that could not be read.
    pub offset: u64,
    pub kind: TruncationKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TruncationKind {
    /// The input ends in the middle of a record (tcpdump killed, disk full, partial copy).
    CutShort,
    /// A record header is impossible (bad length, bad block trailer): the rest is unreadable.
    Corrupt(String),
}

impl Truncation {
    /// Stable short name: `cut-short` or `corrupt`.
    pub fn reason(&self) -> &'static str {
        match self.kind {
            TruncationKind::CutShort => "cut-short",
            TruncationKind::Corrupt(_) => "corrupt",
        }
    }

    /// What is wrong, without the offset.
    pub fn description(&self) -> String {
        match &self.kind {
            TruncationKind::CutShort => "cut short in the middle of a record".into(),
            TruncationKind::Corrupt(why) => why.clone(),
        }
    }
}

impl std::fmt::Display for Truncation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.kind {
            TruncationKind::CutShort => write!(
                f,
                "the file is cut short in the middle of the record at byte offset {}",
                self.offset
            ),
            TruncationKind::Corrupt(why) => {
                write!(f, "damaged record at byte offset {}: {why}", self.offset)
            }
        }
    }
}

/// An input that is not a readable capture at all.
#[derive(Debug, thiserror::Error)]
pub enum CaptureError {
    #[error("cannot open: {0}")]
    Open(#[source] io::Error),
    /// A directory where a capture was expected; the message is [`directory_message`].
    #[error("{}", directory_message(.0))]
    Directory(PathBuf),
    #[error("read error at byte offset {offset}: {source}")]
    Io {
        offset: u64,
        #[source]
        source: io::Error,
    },
    #[error("empty file (0 bytes): not a capture")]
    Empty,
    #[error("not a pcap or pcapng capture: the first bytes (offset 0) are {magic}")]
    NotACapture { magic: String },
    #[error("{what} at byte offset {offset}")]
    BadHeader { offset: u64, what: String },
}

/// Facts about the capture gathered while reading.
#[derive(Debug, Clone, Default)]
pub struct CaptureMeta {
    pub format: Option<Format>,
    pub gzip: bool,
    /// Link type of every interface, in order of appearance (pcapng: every IDB of every section).
    pub interfaces: Vec<LinkType>,
    /// Largest snaplen declared by the file header or an interface (0 = unknown).
    pub snaplen: u32,
    pub sections: u32,
    pub interface_stats: Vec<InterfaceStats>,
    pub truncation: Option<Truncation>,
    /// Reading was cut short by [`stop::request`] (the first Ctrl-C): the frames read so far
    /// are all there is.
    pub interrupted: bool,
    /// pcapng blocks we skipped because we do not need them (name resolution, custom, ...).
    pub skipped_blocks: u64,
    /// The classic pcap file header's version and whole link-type field (pcap files only).
    pub pcap_header: Option<PcapHeader>,
    /// pcapng Decryption Secrets Blocks holding a TLS key log, and their key log bytes.
    pub secrets_blocks: u64,
    pub secrets_bytes: u64,
    /// Key log text read since the last frame, handed over with the next ([`Frame::secrets`]).
    pub(crate) pending_secrets: Vec<u8>,
}

/// What a classic pcap file header says beyond the link type (pcap-savefile(5)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PcapHeader {
    pub version: (u16, u16),
    /// The 32-bit "link-layer header type and additional information" field.
    pub link_field: u32,
}

impl PcapHeader {
    /// `LT_LINKTYPE`: the link type proper, the low 16 bits.
    pub fn link_type(&self) -> u32 {
        self.link_field & 0xffff
    }
    /// libpcap's `LT_RESERVED1`: bits 16–25, which writers fill with 0.
    pub fn reserved_bits(&self) -> u32 {
        self.link_field & 0x03FF_0000
    }
    /// `LT_FCS_LENGTH_PRESENT`: the FCS length field below is meaningful.
    pub fn fcs_present(&self) -> bool {
        self.link_field & 0x0400_0000 != 0
    }
    /// `LT_FCS_LENGTH`: bytes of FCS at the end of every packet (the field counts 16-bit words).
    pub fn fcs_bytes(&self) -> u32 {
        (self.link_field >> 28) * 2
    }
}

/// Where the capture comes from.
#[derive(Debug, Clone)]
pub enum Input {
    Stdin,
    Path(PathBuf),
}

impl Input {
    pub fn from_arg(arg: &Path) -> Self {
        if arg.as_os_str() == "-" {
            Input::Stdin
        } else {
            Input::Path(arg.to_path_buf())
        }
    }

    pub fn display_name(&self) -> String {
        match self {
            Input::Stdin => "-".to_string(),
            Input::Path(p) => p.display().to_string(),
        }
    }
}

enum Inner {
    Pcap(pcap::PcapReader),
    PcapNg(pcapng::PcapNgReader),
    /// A pcapng file with a section header and nothing else is valid and empty.
    Done,
}

/// Streams the records of one capture.
pub struct CaptureReader {
    src: Source,
    inner: Inner,
    buf: Vec<u8>,
    /// Where the last frame's bytes are in the current read buffer.
    last_data: std::ops::Range<usize>,
    next_number: u64,
    last_ts_ns: i64,
    pub meta: CaptureMeta,
}

impl CaptureReader {
    /// Opens a capture file (`-` = stdin), detecting gzip and the container by magic bytes.
    pub fn open(input: &Input) -> Result<Self, CaptureError> {
        let raw: Box<dyn Read + Send> = match input {
            // A pipe may stay silent: read by a thread so that Ctrl-C still ends the read.
            Input::Stdin => Box::new(stop::Interruptible::spawn(io::stdin())),
            Input::Path(p) if p.is_dir() => return Err(CaptureError::Directory(p.clone())),
            Input::Path(p) => Box::new(File::open(p).map_err(CaptureError::Open)?),
        };
        Self::from_reader(raw)
    }

    /// Builds a reader over any byte stream (used by tests and fuzzing).
    pub fn from_reader(raw: Box<dyn Read + Send>) -> Result<Self, CaptureError> {
        let mut buffered = BufReader::with_capacity(PEEK_BUFFER, raw);
        let head = buffered
            .fill_buf()
            .map_err(|source| CaptureError::Io { offset: 0, source })?;
        if head.is_empty() {
            return Err(CaptureError::Empty);
        }
        // gzip magic 1f 8b (RFC 1952 §2.3.1); decided by content, not by file name.
        let gzip = head.len() >= 2 && head[0] == 0x1f && head[1] == 0x8b;
        let inner: Box<dyn Read + Send> = if gzip {
            Box::new(MultiGzDecoder::new(buffered))
        } else {
            // The peeked bytes, then the file itself: no copy through the peek buffer.
            let head = buffered.buffer().to_vec();
            Box::new(io::Cursor::new(head).chain(buffered.into_inner()))
        };
        let mut src = Source::new(inner);
        let mut magic = [0u8; 4];
        match src.fill(&mut magic)? {
            Fill::Full => {}
            // An empty gzip stream is an empty file too.
            Fill::Eof => return Err(CaptureError::Empty),
            Fill::Short(n) => {
                return Err(CaptureError::NotACapture {
                    magic: hex(&magic[..n]),
                })
            }
        }
        let mut meta = CaptureMeta {
            gzip,
            ..CaptureMeta::default()
        };
        let inner = if pcap::is_magic(magic) {
            meta.format = Some(Format::Pcap);
            Inner::Pcap(pcap::PcapReader::start(&mut src, magic, &mut meta)?)
        } else if u32::from_le_bytes(magic) == pcapng::SHB_TYPE {
            meta.format = Some(Format::PcapNg);
            match pcapng::PcapNgReader::start(&mut src, &mut meta)? {
                Some(r) => Inner::PcapNg(r),
                None => Inner::Done,
            }
        } else {
            return Err(CaptureError::NotACapture { magic: hex(&magic) });
        };
        Ok(CaptureReader {
            src,
            inner,
            buf: Vec::new(),
            last_data: 0..0,
            next_number: 1,
            last_ts_ns: 0,
            meta,
        })
    }

    /// The next record, or `None` at the end of the readable input. A cut or damaged tail ends
    /// the stream and is recorded in `meta.truncation`; only I/O failures are errors.
    pub fn next_frame(&mut self) -> Result<Option<Frame<'_>>, CaptureError> {
        if stop::requested() {
            self.stop_early();
        }
        // Handed over with the previous frame.
        self.meta.pending_secrets.clear();
        let rec = match &mut self.inner {
            Inner::Pcap(r) => r.next(&mut self.src, &mut self.meta)?,
            Inner::PcapNg(r) => r.next(&mut self.src, &mut self.buf, &mut self.meta)?,
            Inner::Done => None,
        };
        let Some(rec) = rec else {
            if stop::requested() {
                // The pipe ended because of the stop: a record cut by it is not damage.
                self.stop_early();
            }
            self.inner = Inner::Done;
            return Ok(None);
        };
        let number = self.next_number;
        self.next_number += 1;
        let data = self.src.bytes(rec.data.clone());
        self.last_data = rec.data.clone();
        if let Some(ts) = rec.ts_ns {
            self.last_ts_ns = ts;
        }
        Ok(Some(Frame {
            number,
            ts_ns: self.last_ts_ns,
            ts_known: rec.ts_ns.is_some(),
            ts_bad_fraction: rec.ts_bad_fraction,
            link_type: rec.link_type,
            interface: rec.interface,
            wire_len: rec.wire_len.max(data.len() as u32),
            data,
            offset: rec.offset,
            secrets: (!self.meta.pending_secrets.is_empty())
                .then_some(self.meta.pending_secrets.as_slice()),
        }))
    }
}

/// Handing the read buffer over whole, so that frames can be analysed on another thread without
/// copying them: the frames read since the last hand-over live in the retired buffer.
impl CaptureReader {
    /// Where the bytes of the frame [`CaptureReader::next_frame`] returned last are in the
    /// current read buffer.
    pub fn last_frame_range(&self) -> std::ops::Range<usize> {
        self.last_data.clone()
    }

    /// A buffer to continue reading in when the current one is used up (contents overwritten).
    pub fn give_spare(&mut self, spare: Vec<u8>) {
        self.src.give_spare(spare);
    }

    /// The buffer the reader left for the spare while reading the last frame, if it did: every
    /// frame before that one indexes it (the last frame is in the new buffer).
    pub fn take_retired(&mut self) -> Option<Vec<u8>> {
        self.src.take_retired()
    }

    /// The current read buffer, once the stream has ended (the reader keeps an empty one).
    pub fn take_buffer(&mut self) -> Vec<u8> {
        self.src.take_buffer()
    }
}

impl CaptureReader {
    /// Ends the stream on a stop request, marked interrupted unless it was a planned end (once:
    /// a stream that had already ended is complete).
    fn stop_early(&mut self) {
        if matches!(self.inner, Inner::Done) {
            return;
        }
        self.inner = Inner::Done;
        self.meta.interrupted = stop::interrupted();
        if self
            .meta
            .truncation
            .as_ref()
            .is_some_and(|t| t.kind == TruncationKind::CutShort)
        {
            self.meta.truncation = None;
        }
    }
}

/// The one message for a directory given where a capture is expected.
pub fn directory_message(path: &Path) -> String {
    let p = path.display();
    format!("{p} is a directory: give the captures in it, or `offload-doctor check {p}`")
}

/// What a format reader hands back: where the record's bytes are in the shared buffer.
pub(crate) struct Record {
    pub ts_ns: Option<i64>,
    /// See [`Frame::ts_bad_fraction`].
    pub ts_bad_fraction: bool,
    pub link_type: LinkType,
    pub interface: Option<u32>,
    pub wire_len: u32,
    pub data: std::ops::Range<usize>,
    pub offset: u64,
}

pub(crate) fn hex(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Converts `ticks` of `1/units_per_sec` seconds plus an offset in seconds to Unix nanoseconds,
/// saturating instead of overflowing on hostile values.
pub(crate) fn ticks_to_ns(ticks: u64, units_per_sec: u128, offset_s: i64) -> i64 {
    let ticks = ticks as i128;
    // The usual resolutions without a 128-bit division (1% of a pass): the same value exactly.
    let since = match units_per_sec {
        1_000_000_000 => ticks,
        1_000_000 => ticks * 1000,
        units => ticks * 1_000_000_000 / units.max(1) as i128,
    };
    let ns = since + offset_s as i128 * 1_000_000_000;
    ns.clamp(i64::MIN as i128, i64::MAX as i128) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_convert_all_resolutions() {
        assert_eq!(ticks_to_ns(1_500_000, 1_000_000, 0), 1_500_000_000);
        assert_eq!(ticks_to_ns(3, 1_000_000_000, 0), 3);
        // base-2 resolution 2^-10: 1024 ticks = 1 s
        assert_eq!(ticks_to_ns(1024, 1024, 0), 1_000_000_000);
        assert_eq!(ticks_to_ns(0, 1_000_000, 10), 10_000_000_000);
        // absurd values saturate, never panic
        assert_eq!(ticks_to_ns(u64::MAX, 1, i64::MAX), i64::MAX);
    }
}
