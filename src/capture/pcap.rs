//! Classic libpcap files: both byte orders, microsecond and nanosecond magic, the "modified"
//! (Kuznetzov) variant. Format: <https://www.ietf.org/archive/id/draft-ietf-opsawg-pcap-03.html>.

use super::{
    ticks_to_ns, CaptureError, CaptureMeta, Fill, PcapHeader, Record, Source, Truncation,
    TruncationKind, MAX_RECORD_LEN,
};

const MAGIC_USEC: u32 = 0xa1b2_c3d4;
const MAGIC_NSEC: u32 = 0xa1b2_3c4d;
/// Kuznetzov's patched libpcap: 8 more bytes per record header (ifindex, protocol, pkt_type).
const MAGIC_MODIFIED: u32 = 0xa1b2_cd34;
const FILE_HEADER_LEN: usize = 24;

pub(super) fn is_magic(m: [u8; 4]) -> bool {
    let le = u32::from_le_bytes(m);
    let be = u32::from_be_bytes(m);
    [MAGIC_USEC, MAGIC_NSEC, MAGIC_MODIFIED]
        .iter()
        .any(|&x| x == le || x == be)
}

pub(super) struct PcapReader {
    big_endian: bool,
    units_per_sec: u128,
    link_type: u32,
    record_header_len: usize,
    /// Files older than format 2.3 may have `incl_len` and `orig_len` swapped.
    maybe_swapped_lengths: bool,
}

impl PcapReader {
    pub(super) fn start(
        src: &mut Source,
        magic: [u8; 4],
        meta: &mut CaptureMeta,
    ) -> Result<Self, CaptureError> {
        let mut hdr = [0u8; FILE_HEADER_LEN];
        hdr[..4].copy_from_slice(&magic);
        match src.fill(&mut hdr[4..])? {
            Fill::Full => {}
            _ => {
                return Err(CaptureError::BadHeader {
                    offset: 0,
                    what: "pcap file header is shorter than 24 bytes".into(),
                })
            }
        }
        let (_, h) = pcap_parser::parse_pcap_header(&hdr).map_err(|_| CaptureError::BadHeader {
            offset: 0,
            what: "unreadable pcap file header".into(),
        })?;
        let raw_magic = u32::from_le_bytes(magic);
        let big_endian = h.is_bigendian();
        let native_magic = if big_endian {
            raw_magic.swap_bytes()
        } else {
            raw_magic
        };
        meta.snaplen = h.snaplen;
        // The upper 16 bits of the link-type field may carry FCS information
        // (LINKTYPE_FCS in the pcap draft, §4): only the low 16 bits name the link type.
        let header = PcapHeader {
            version: (h.version_major, h.version_minor),
            link_field: h.network.0 as u32,
        };
        let link_type = header.link_type();
        meta.interfaces.push(link_type);
        meta.pcap_header = Some(header);
        meta.sections = 1;
        Ok(PcapReader {
            big_endian,
            units_per_sec: if h.is_nanosecond_precision() {
                1_000_000_000
            } else {
                1_000_000
            },
            link_type,
            record_header_len: if native_magic == MAGIC_MODIFIED {
                24
            } else {
                16
            },
            maybe_swapped_lengths: (h.version_major, h.version_minor) < (2, 3),
        })
    }

    fn u32_at(&self, b: &[u8; 16], at: usize) -> u32 {
        let x = [b[at], b[at + 1], b[at + 2], b[at + 3]];
        if self.big_endian {
            u32::from_be_bytes(x)
        } else {
            u32::from_le_bytes(x)
        }
    }

    pub(super) fn next(
        &mut self,
        src: &mut Source,
        meta: &mut CaptureMeta,
    ) -> Result<Option<Record>, CaptureError> {
        let offset = src.offset;
        // The record header read in place: its first 16 bytes as a fixed array (the modified
        // format's 8 more are skipped), not copied out with a length known only at run time.
        let (fill, at) = src.take(self.record_header_len)?;
        let hdr: [u8; 16] = match fill {
            Fill::Full => src
                .bytes(at)
                .get(..16)
                .and_then(|h| h.try_into().ok())
                .unwrap_or([0; 16]),
            Fill::Eof => return Ok(None),
            Fill::Short(_) => {
                meta.truncation = Some(Truncation {
                    offset,
                    kind: TruncationKind::CutShort,
                });
                return Ok(None);
            }
        };
        let ts_sec = self.u32_at(&hdr, 0);
        let ts_frac = self.u32_at(&hdr, 4);
        let mut caplen = self.u32_at(&hdr, 8);
        let mut origlen = self.u32_at(&hdr, 12);
        // Before format 2.3 the two length fields were in the other order; libpcap
        // (sf-pcap.c, MAYBE_SWAPPED) and Wireshark swap them back when caplen > len.
        if self.maybe_swapped_lengths && caplen > origlen {
            std::mem::swap(&mut caplen, &mut origlen);
        }
        if caplen > MAX_RECORD_LEN {
            meta.truncation = Some(Truncation {
                offset,
                kind: TruncationKind::Corrupt(format!(
                    "record claims {caplen} captured bytes, more than the {MAX_RECORD_LEN}-byte maximum"
                )),
            });
            return Ok(None);
        }
        let (fill, data) = src.take(caplen as usize)?;
        match fill {
            Fill::Full => {}
            Fill::Eof if caplen == 0 => {}
            _ => {
                meta.truncation = Some(Truncation {
                    offset,
                    kind: TruncationKind::CutShort,
                });
                return Ok(None);
            }
        }
        let ticks = ts_sec as u64 * self.units_per_sec as u64 + ts_frac as u64;
        Ok(Some(Record {
            ts_ns: Some(ticks_to_ns(ticks, self.units_per_sec, 0)),
            ts_bad_fraction: u128::from(ts_frac) >= self.units_per_sec,
            link_type: self.link_type,
            interface: Some(0),
            wire_len: origlen,
            data,
            offset,
        }))
    }
}
