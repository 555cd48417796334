//! pcapng files: several sections (either byte order), several interfaces per section each with
//! its own link type, `if_tsresol` (decimal and base-2) and `if_tsoffset`; Enhanced, Simple and
//! obsolete Packet blocks; Interface Statistics kept; every other block skipped.
//! Format: <https://www.ietf.org/archive/id/draft-ietf-opsawg-pcapng-03.html>.

use pcap_parser::pcapng::{
    parse_interfacedescriptionblock_be, parse_interfacedescriptionblock_le,
    parse_interfacestatisticsblock_be, parse_interfacestatisticsblock_le, parse_sectionheaderblock,
};
use pcap_parser::PcapNGOption;

use super::{
    ticks_to_ns, CaptureError, CaptureMeta, Fill, InterfaceStats, Record, Source, Truncation,
    TruncationKind, MAX_RECORD_LEN, NON_PACKET, UNKNOWN_INTERFACE,
};

pub(super) const SHB_TYPE: u32 = 0x0A0D_0D0A;
const IDB_TYPE: u32 = 1;
/// Obsolete Packet Block (pcapng draft, appendix): still written by old tools.
const OPB_TYPE: u32 = 2;
const SPB_TYPE: u32 = 3;
const ISB_TYPE: u32 = 5;
const EPB_TYPE: u32 = 6;
/// Systemd Journal Export and Custom blocks: Wireshark delivers these as records with frame numbers
/// (wiretap/pcapng.c), so we count them too, or every later frame number would be off.
const SJE_TYPE: u32 = 9;
const CB_TYPE: u32 = 0x0000_0BAD;
const DCB_TYPE: u32 = 0x4000_0BAD;
/// Decryption Secrets Block (pcapng draft §4.7), and its secrets type for a TLS key log
/// (NSS SSLKEYLOGFILE text).
const DSB_TYPE: u32 = 0x0000_000A;
const TLS_KEY_LOG: u32 = 0x544c_534b;
/// Key log bytes taken from Decryption Secrets Blocks at most (a key log of a million
/// connections is about 200 MB; this bounds what a hostile file can make us hold).
pub const MAX_SECRETS_BYTES: u64 = 64 << 20;
const BOM: u32 = 0x1A2B_3C4D;
/// Blocks larger than the biggest record plus generous room for options are corruption.
const MAX_BLOCK_LEN: u32 = MAX_RECORD_LEN + 64 * 1024;

/// Option codes (pcapng draft §4.2 and §4.6).
const OPT_IF_TSRESOL: u16 = 9;
const OPT_IF_TSOFFSET: u16 = 14;
const OPT_ISB_IFRECV: u16 = 4;
const OPT_ISB_IFDROP: u16 = 5;
const OPT_ISB_OSDROP: u16 = 7;
const OPT_ISB_USRDELIV: u16 = 8;

struct Interface {
    link_type: u32,
    snaplen: u32,
    units_per_sec: u128,
    offset_s: i64,
    /// Index into `CaptureMeta::interfaces` (global across sections).
    global: u32,
}

pub(super) struct PcapNgReader {
    big_endian: bool,
    interfaces: Vec<Interface>,
}

fn corrupt(offset: u64, why: String) -> Truncation {
    Truncation {
        offset,
        kind: TruncationKind::Corrupt(why),
    }
}

impl PcapNgReader {
    /// Reads the first Section Header Block. `None` when the file holds only that block.
    pub(super) fn start(
        src: &mut Source,
        meta: &mut CaptureMeta,
    ) -> Result<Option<Self>, CaptureError> {
        let mut r = PcapNgReader {
            big_endian: false,
            interfaces: Vec::new(),
        };
        let mut buf = Vec::new();
        // The first SHB is the file header: any defect there means "not a capture".
        let mut head = [0u8; 8];
        head[..4].copy_from_slice(&SHB_TYPE.to_le_bytes());
        match src.fill(&mut head[4..])? {
            Fill::Full => {}
            _ => {
                return Err(CaptureError::BadHeader {
                    offset: 0,
                    what: "pcapng section header block is cut short".into(),
                })
            }
        }
        match r.read_shb(src, &mut buf, head, 0, meta)? {
            Ok(()) => Ok(Some(r)),
            Err(t) => match t.kind {
                TruncationKind::CutShort => Err(CaptureError::BadHeader {
                    offset: 0,
                    what: "pcapng section header block is cut short".into(),
                }),
                TruncationKind::Corrupt(why) => Err(CaptureError::BadHeader {
                    offset: 0,
                    what: why,
                }),
            },
        }
    }

    fn u32_at(&self, b: &[u8], at: usize) -> u32 {
        let x = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if self.big_endian {
            u32::from_be_bytes(x)
        } else {
            u32::from_le_bytes(x)
        }
    }

    fn u16_at(&self, b: &[u8], at: usize) -> u16 {
        let x = [b[at], b[at + 1]];
        if self.big_endian {
            u16::from_be_bytes(x)
        } else {
            u16::from_le_bytes(x)
        }
    }

    /// Reads the rest of a Section Header Block whose first 8 bytes are in `head`.
    /// The outer `Result` is I/O; the inner one says whether the block was usable.
    fn read_shb(
        &mut self,
        src: &mut Source,
        buf: &mut Vec<u8>,
        head: [u8; 8],
        offset: u64,
        meta: &mut CaptureMeta,
    ) -> Result<Result<(), Truncation>, CaptureError> {
        let mut bom = [0u8; 4];
        match src.fill(&mut bom)? {
            Fill::Full => {}
            _ => {
                return Ok(Err(Truncation {
                    offset,
                    kind: TruncationKind::CutShort,
                }))
            }
        }
        let big_endian = match u32::from_le_bytes(bom) {
            BOM => false,
            x if x == BOM.swap_bytes() => true,
            _ => {
                return Ok(Err(corrupt(
                    offset,
                    "pcapng section header has an unknown byte-order magic".into(),
                )))
            }
        };
        self.big_endian = big_endian;
        let len = self.u32_at(&head, 4);
        if !(28..=MAX_BLOCK_LEN).contains(&len) || !len.is_multiple_of(4) {
            return Ok(Err(corrupt(
                offset,
                format!("pcapng section header block length {len} is invalid"),
            )));
        }
        buf.clear();
        buf.extend_from_slice(&head);
        buf.extend_from_slice(&bom);
        let start = buf.len();
        buf.resize(len as usize, 0);
        match src.fill(&mut buf[start..])? {
            Fill::Full => {}
            _ => {
                return Ok(Err(Truncation {
                    offset,
                    kind: TruncationKind::CutShort,
                }))
            }
        }
        let Ok((_, shb)) = parse_sectionheaderblock(buf) else {
            return Ok(Err(corrupt(
                offset,
                "unreadable pcapng section header block".into(),
            )));
        };
        // libpcap (sf-pcapng.c) accepts major version 1 only; Wireshark says
        // "unknown SHB version" for the rest.
        if shb.major_version != 1 {
            return Ok(Err(corrupt(
                offset,
                format!(
                    "unsupported pcapng version {}.{}",
                    shb.major_version, shb.minor_version
                ),
            )));
        }
        self.interfaces.clear();
        meta.sections += 1;
        Ok(Ok(()))
    }

    pub(super) fn next(
        &mut self,
        src: &mut Source,
        buf: &mut Vec<u8>,
        meta: &mut CaptureMeta,
    ) -> Result<Option<Record>, CaptureError> {
        loop {
            let offset = src.offset;
            let (block_type, head, body) = match self.frame_block(src, buf, meta, offset)? {
                Framed::Block(t, h, body) => (t, h, body),
                Framed::Section => continue,
                Framed::End(t) => {
                    if t.is_some() {
                        meta.truncation = t;
                    }
                    return Ok(None);
                }
            };
            // The block without its first 8 bytes, in place in the source's buffer.
            let buf = src.bytes(body.clone());
            let rec = match block_type {
                EPB_TYPE | OPB_TYPE => self.packet_block(block_type, buf, offset),
                SPB_TYPE => self.simple_block(buf, offset),
                SJE_TYPE | CB_TYPE | DCB_TYPE => Ok(non_packet(block_type, buf, offset)),
                IDB_TYPE => {
                    self.read_idb(&head, buf, meta);
                    continue;
                }
                ISB_TYPE => {
                    self.read_isb(&head, buf, meta);
                    continue;
                }
                DSB_TYPE => {
                    self.read_dsb(buf, meta);
                    continue;
                }
                _ => {
                    meta.skipped_blocks += 1;
                    continue;
                }
            };
            return match rec {
                Ok(mut r) => {
                    r.data = r.data.start + body.start..r.data.end + body.start;
                    Ok(Some(r))
                }
                Err(t) => {
                    meta.truncation = Some(t);
                    Ok(None)
                }
            };
        }
    }

    /// Frames the next block (its range in the source's buffer, without its first 8 bytes, which
    /// it returns), checking its framing; a Section Header Block is read into `buf` here and
    /// starts a new section.
    fn frame_block(
        &mut self,
        src: &mut Source,
        buf: &mut Vec<u8>,
        meta: &mut CaptureMeta,
        offset: u64,
    ) -> Result<Framed, CaptureError> {
        let cut = Framed::End(Some(Truncation {
            offset,
            kind: TruncationKind::CutShort,
        }));
        let mut head = [0u8; 8];
        match src.fill(&mut head)? {
            Fill::Full => {}
            Fill::Eof => return Ok(Framed::End(None)),
            Fill::Short(_) => return Ok(cut),
        }
        if u32::from_le_bytes([head[0], head[1], head[2], head[3]]) == SHB_TYPE {
            return Ok(match self.read_shb(src, buf, head, offset, meta)? {
                Ok(()) => Framed::Section,
                Err(t) => Framed::End(Some(t)),
            });
        }
        let block_type = self.u32_at(&head, 0);
        let len = self.u32_at(&head, 4);
        // A length below 12 or not a multiple of 4 cannot frame a block (pcapng §3.1);
        // pcap-parser panics or misreads on those (crates.md, B4), so they never reach it.
        if !(12..=MAX_BLOCK_LEN).contains(&len) || !len.is_multiple_of(4) {
            return Ok(Framed::End(Some(corrupt(
                offset,
                format!("pcapng block of type {block_type:#x} has invalid length {len}"),
            ))));
        }
        let (fill, body) = src.take(len as usize - 8)?;
        if !matches!(fill, Fill::Full) {
            return Ok(cut);
        }
        let trailer = self.u32_at(src.bytes(body.clone()), body.len() - 4);
        if trailer != len {
            return Ok(Framed::End(Some(corrupt(
                offset,
                format!("pcapng block length {len} does not match its trailer {trailer}"),
            ))));
        }
        Ok(Framed::Block(block_type, head, body))
    }

    /// An Enhanced (or obsolete) Packet Block.
    fn packet_block(&self, block_type: u32, buf: &[u8], offset: u64) -> Result<Record, Truncation> {
        if buf.len() < 24 {
            return Err(corrupt(offset, "pcapng packet block too short".into()));
        }
        let if_id = if block_type == EPB_TYPE {
            self.u32_at(buf, 0)
        } else {
            self.u16_at(buf, 0) as u32
        };
        let ts = ((self.u32_at(buf, 4) as u64) << 32) | self.u32_at(buf, 8) as u64;
        let caplen = self.u32_at(buf, 12);
        let origlen = self.u32_at(buf, 16);
        // Data starts at 20 and is padded; 4 bytes of trailer follow at least.
        if caplen as usize > buf.len() - 24 {
            let len = buf.len() + 8;
            return Err(corrupt(
                offset,
                format!("packet block claims {caplen} captured bytes in a {len}-byte block"),
            ));
        }
        Ok(self.record(if_id, ts, origlen, 20..20 + caplen as usize, offset))
    }

    /// A Simple Packet Block: captured length is min(original length, block room, snaplen)
    /// (pcapng §4.4), and there is no timestamp.
    fn simple_block(&self, buf: &[u8], offset: u64) -> Result<Record, Truncation> {
        if buf.len() < 8 {
            return Err(corrupt(
                offset,
                "pcapng simple packet block too short".into(),
            ));
        }
        let origlen = self.u32_at(buf, 0);
        let room = buf.len() as u32 - 8;
        let snap = match self.interfaces.first() {
            Some(i) if i.snaplen > 0 => i.snaplen,
            _ => u32::MAX,
        };
        let caplen = origlen.min(room).min(snap);
        let mut rec = self.record(0, 0, origlen, 4..4 + caplen as usize, offset);
        rec.ts_ns = None;
        Ok(rec)
    }

    fn record(
        &self,
        if_id: u32,
        ts: u64,
        origlen: u32,
        data: std::ops::Range<usize>,
        offset: u64,
    ) -> Record {
        match self.interfaces.get(if_id as usize) {
            Some(i) => Record {
                ts_bad_fraction: false,
                ts_ns: Some(ticks_to_ns(ts, i.units_per_sec, i.offset_s)),
                link_type: i.link_type,
                interface: Some(i.global),
                wire_len: origlen,
                data,
                offset,
            },
            None => Record {
                ts_bad_fraction: false,
                ts_ns: Some(ticks_to_ns(ts, 1_000_000, 0)),
                link_type: UNKNOWN_INTERFACE,
                interface: None,
                wire_len: origlen,
                data,
                offset,
            },
        }
    }

    /// Reassembles the whole block for pcap-parser (it wants the 8 header bytes too).
    fn whole_block(head: &[u8; 8], body: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(8 + body.len());
        v.extend_from_slice(head);
        v.extend_from_slice(body);
        v
    }

    /// Option values are raw bytes in the section's byte order; pcap-parser's typed accessors
    /// read them little-endian and return `None` for base-2 `if_tsresol` (crates.md, B1/B2).
    fn opt_u64(&self, opts: &[PcapNGOption<'_>], code: u16) -> Option<u64> {
        let o = opts.iter().find(|o| o.code.0 == code)?;
        let v: [u8; 8] = o.value().get(..8)?.try_into().ok()?;
        Some(if self.big_endian {
            u64::from_be_bytes(v)
        } else {
            u64::from_le_bytes(v)
        })
    }

    fn read_idb(&mut self, head: &[u8; 8], body: &[u8], meta: &mut CaptureMeta) {
        let block = Self::whole_block(head, body);
        let parsed = if self.big_endian {
            parse_interfacedescriptionblock_be(&block)
        } else {
            parse_interfacedescriptionblock_le(&block)
        };
        let global = meta.interfaces.len() as u32;
        let mut iface = Interface {
            link_type: self.u16_at(body, 0) as u32,
            snaplen: if body.len() >= 8 {
                self.u32_at(body, 4)
            } else {
                0
            },
            units_per_sec: 1_000_000,
            offset_s: 0,
            global,
        };
        if let Ok((_, idb)) = parsed {
            if let Some(r) = idb
                .options
                .iter()
                .find(|o| o.code.0 == OPT_IF_TSRESOL)
                .and_then(|o| o.value().first().copied())
            {
                // if_tsresol: high bit clear = 10^-r seconds, set = 2^-(r & 0x7f) seconds.
                let units = if r & 0x80 != 0 {
                    1u128.checked_shl((r & 0x7f) as u32)
                } else {
                    10u128.checked_pow(r as u32)
                };
                iface.units_per_sec = units.unwrap_or(1_000_000).max(1);
            }
            if let Some(off) = self.opt_u64(&idb.options, OPT_IF_TSOFFSET) {
                iface.offset_s = off as i64;
            }
        }
        meta.snaplen = meta.snaplen.max(iface.snaplen);
        meta.interfaces.push(iface.link_type);
        self.interfaces.push(iface);
    }

    /// A Decryption Secrets Block: secrets type, length, the secrets (`body` is the block
    /// without its first 8 bytes). A TLS key log is kept for the frames that follow; other
    /// secrets (WireGuard, ZigBee, ...) and blocks beyond [`MAX_SECRETS_BYTES`] are skipped.
    fn read_dsb(&mut self, body: &[u8], meta: &mut CaptureMeta) {
        // Type, length, and the block's trailing length at least.
        if body.len() < 12 {
            meta.skipped_blocks += 1;
            return;
        }
        let ty = self.u32_at(body, 0);
        let len = self.u32_at(body, 4) as usize;
        let end = 8usize.saturating_add(len);
        let data = (end <= body.len() - 4).then(|| &body[8..end]);
        match data {
            Some(d)
                if ty == TLS_KEY_LOG && meta.secrets_bytes + len as u64 <= MAX_SECRETS_BYTES =>
            {
                meta.pending_secrets.extend_from_slice(d);
                meta.pending_secrets.push(b'\n');
                meta.secrets_blocks += 1;
                meta.secrets_bytes += len as u64;
            }
            _ => meta.skipped_blocks += 1,
        }
    }

    fn read_isb(&mut self, head: &[u8; 8], body: &[u8], meta: &mut CaptureMeta) {
        let block = Self::whole_block(head, body);
        let parsed = if self.big_endian {
            parse_interfacestatisticsblock_be(&block)
        } else {
            parse_interfacestatisticsblock_le(&block)
        };
        let Ok((_, isb)) = parsed else {
            meta.skipped_blocks += 1;
            return;
        };
        let Some(iface) = self.interfaces.get(isb.if_id as usize) else {
            meta.skipped_blocks += 1;
            return;
        };
        let stats = InterfaceStats {
            section: meta.sections.saturating_sub(1),
            interface: iface.global,
            link_type: iface.link_type,
            if_recv: self.opt_u64(&isb.options, OPT_ISB_IFRECV),
            if_drop: self.opt_u64(&isb.options, OPT_ISB_IFDROP),
            os_drop: self.opt_u64(&isb.options, OPT_ISB_OSDROP),
            usr_deliv: self.opt_u64(&isb.options, OPT_ISB_USRDELIV),
        };
        // Several ISBs per interface are allowed; the last one holds the final counters.
        match meta
            .interface_stats
            .iter_mut()
            .find(|s| s.interface == stats.interface)
        {
            Some(s) => *s = stats,
            None => meta.interface_stats.push(stats),
        }
    }
}

/// What framing the next block gave.
enum Framed {
    /// A block of this type, with its first 8 bytes; the rest is this range of the source's
    /// buffer.
    Block(u32, [u8; 8], std::ops::Range<usize>),
    /// A Section Header Block was read: a new section starts.
    Section,
    /// The end of the records: the file's end, or where it is cut or damaged.
    End(Option<Truncation>),
}

/// A Custom or Systemd Journal Export block: numbered as a frame, as Wireshark does, but not a
/// packet. Custom blocks start with a 4-byte Private Enterprise Number that Wireshark does not
/// count in `frame.len`.
fn non_packet(block_type: u32, buf: &[u8], offset: u64) -> Record {
    let skip = if block_type == SJE_TYPE { 0 } else { 4 };
    let end = buf.len() - 4;
    let start = skip.min(end);
    Record {
        ts_bad_fraction: false,
        ts_ns: None,
        link_type: NON_PACKET,
        interface: None,
        wire_len: (end - start) as u32,
        data: start..end,
        offset,
    }
}
