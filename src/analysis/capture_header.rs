//! `capture-header`: a classic pcap file header that says something unusual: a format version
//! other than 2.4, or bits above the 16-bit link type that no libpcap writer sets.
//!
//! libpcap (sf-pcap.c) reads versions 2.0–2.4 and refuses the rest ("unsupported pcap savefile
//! version"); its pcap/pcap.h splits the link-type field into the link type (bits 0–15),
//! `LT_RESERVED1` (bits 16–25, written as 0), `LT_FCS_LENGTH_PRESENT` (bit 26) and
//! `LT_FCS_LENGTH` (bits 28–31, in 16-bit words). We read such files as far as they go (nothing
//! read is dropped) and say what the header claims, so a damaged or odd file is never silent.

use serde::Serialize;

use super::{details, Detector, Finding, Identity, Severity, Summary};
use crate::capture::PcapHeader;

pub struct CaptureHeader;

/// `details` of a `capture-header` finding.
#[derive(Serialize)]
struct Details {
    /// "major.minor" as the header gives it.
    version: String,
    /// The whole 32-bit link-type field, as hex ("0x40000000").
    link_field: String,
    /// The link type read (the low 16 bits).
    link_type: u32,
    /// Bits the header sets that writers leave 0 (as hex, or null).
    stray_bits: Option<String>,
    /// Bytes of frame check sequence at the end of every frame, when the header declares it.
    fcs_bytes: Option<u32>,
}

impl Identity for CaptureHeader {
    const ID: &'static str = "capture-header";
    const SEVERITY: Severity = Severity::Warning;
}

impl Detector for CaptureHeader {
    /// Judges the flows at the end: never called per frame.
    fn watches(&self) -> super::Watch {
        super::Watch::Nothing
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let Some(h) = s.meta.pcap_header else {
            return Vec::new();
        };
        let stray = stray_bits(&h);
        let notes = notes(&h, stray);
        let Some(severity) = notes.iter().map(|n| n.0).max() else {
            return Vec::new();
        };
        let message: Vec<&str> = notes.iter().map(|n| n.1.as_str()).collect();
        vec![Finding {
            id: Self::ID,
            severity,
            flow: None,
            frames: Vec::new(),
            frames_total: 0,
            message: message.join(" "),
            hint: if severity == Severity::Warning {
                "No libpcap writer produces this header: the file was damaged, fuzzed or \
                 written by an unusual tool. Figures are from reading it as libpcap's format; \
                 check the file with `capinfos` and re-capture if it matters."
            } else {
                "Nothing to do: the file is read as libpcap reads it."
            }
            .into(),
            wireshark_filter: None,
            details: details(&Details {
                version: format!("{}.{}", h.version.0, h.version.1),
                link_field: format!("{:#010x}", h.link_field),
                link_type: h.link_type(),
                stray_bits: (stray != 0).then(|| format!("{stray:#010x}")),
                fcs_bytes: h.fcs_present().then(|| h.fcs_bytes()),
            }),
        }]
    }
}

/// Bits no writer sets: `LT_RESERVED1`, bit 27 (unassigned between the FCS flag and the FCS
/// length), and an FCS length without the flag that makes it count.
fn stray_bits(h: &PcapHeader) -> u32 {
    let fcs_len = if h.fcs_present() {
        0
    } else {
        h.link_field & 0xF000_0000
    };
    h.reserved_bits() | fcs_len | (h.link_field & 0x0800_0000)
}

/// What the header says that is out of the ordinary (`stray`: its [`stray_bits`]), each with its
/// severity.
fn notes(h: &PcapHeader, stray: u32) -> Vec<(Severity, String)> {
    let mut notes = Vec::new();
    let (major, minor) = h.version;
    match (major, minor) {
        (2, 4) => {}
        (2, 0..=3) => notes.push((
            Severity::Info,
            format!(
                "The file is pcap format {major}.{minor}, older than 2.4; it is read as libpcap \
                 reads it (before 2.3 the two length fields may be swapped, and are put back)."
            ),
        )),
        _ => notes.push((
            Severity::Warning,
            format!(
                "The file header says pcap format {major}.{minor}, which libpcap refuses \
                 (\"unsupported pcap savefile version\"); it was read as format 2.4."
            ),
        )),
    }
    if stray != 0 {
        notes.push((
            Severity::Warning,
            format!(
                "The header's link-type field {:#010x} sets bits no writer sets ({stray:#010x}); \
                 it was read as link type {}.",
                h.link_field,
                h.link_type()
            ),
        ));
    } else if h.fcs_present() {
        notes.push((
            Severity::Info,
            format!(
                "The header says every frame ends with a {}-byte frame check sequence.",
                h.fcs_bytes()
            ),
        ));
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(version: (u16, u16), link_field: u32) -> PcapHeader {
        PcapHeader {
            version,
            link_field,
        }
    }

    fn notes_of(h: &PcapHeader) -> Vec<(Severity, String)> {
        notes(h, stray_bits(h))
    }

    #[test]
    fn an_ordinary_header_says_nothing() {
        assert!(notes_of(&header((2, 4), 1)).is_empty());
        assert!(notes_of(&header((2, 4), 276)).is_empty());
    }

    #[test]
    fn old_versions_are_info_and_unknown_ones_warnings() {
        let n = notes_of(&header((2, 2), 1));
        assert_eq!(n.len(), 1);
        assert_eq!(n[0].0, Severity::Info);
        let n = notes_of(&header((3, 0), 1));
        assert_eq!(n[0].0, Severity::Warning);
        assert!(n[0].1.contains("3.0"), "{}", n[0].1);
        assert_eq!(notes_of(&header((2, 5), 1))[0].0, Severity::Warning);
    }

    #[test]
    fn link_type_bits() {
        // An FCS length without the "present" flag (ndpi's fuzz capture: 0x40000000).
        assert_eq!(stray_bits(&header((2, 4), 0x4000_0000)), 0x4000_0000);
        // tcpdump's heap-overflow capture (0x30000001), and with an LT_RESERVED1 bit as well.
        assert_eq!(stray_bits(&header((2, 4), 0x3000_0001)), 0x3000_0000);
        assert_eq!(stray_bits(&header((2, 4), 0x3001_0001)), 0x3001_0000);
        // LT_FCS_DATALINK_EXT(2): a 4-byte FCS, declared properly: info.
        let h = header((2, 4), (2 << 28) | 0x0400_0000 | 1);
        assert_eq!(stray_bits(&h), 0);
        let n = notes_of(&h);
        assert_eq!(n[0].0, Severity::Info);
        assert!(n[0].1.contains("4-byte"), "{}", n[0].1);
    }
}
