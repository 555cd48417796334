//! What an existing file at an output path holds, told from its first bytes, and which outputs
//! may replace it: a JUnit report may replace a JUnit report, never a capture.

use std::fmt;
use std::fs;
use std::io::{self, Read};
use std::path::Path;

/// Bytes read from an existing file: every magic number below fits, and so does the XML prolog
/// (declaration, comments, doctype) that comes before a report's or an SVG's root element.
const SNIFF_LEN: u64 = 512;

/// What an output writes. Each output names its kind; [`OutputKind::may_replace`] says which
/// existing files it replaces without `--force`. A new output (CSV, evidence files) adds a kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    /// JUnit XML (`check --junit`).
    JUnit,
    /// A PNG graph.
    Png,
    /// An SVG graph.
    Svg,
    /// A man page (roff).
    Man,
    /// An evidence capture (`analyze --write-evidence`): pcapng.
    Evidence,
}

impl OutputKind {
    /// Whether a file holding `found` may be replaced by this output: an empty file, or one of
    /// the same format (a CI job re-run writes its report again, `plot` redraws its graphs).
    pub fn may_replace(self, found: Found) -> bool {
        matches!(
            (self, found),
            (_, Found::Empty)
                | (OutputKind::JUnit, Found::JUnit | Found::Xml)
                | (OutputKind::Png, Found::Png)
                | (OutputKind::Svg, Found::Svg)
                | (OutputKind::Man, Found::Roff)
                | (OutputKind::Evidence, Found::Capture(CaptureFormat::Pcapng))
        )
    }
}

impl fmt::Display for OutputKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OutputKind::JUnit => "a JUnit report",
            OutputKind::Png => "a PNG graph",
            OutputKind::Svg => "an SVG graph",
            OutputKind::Man => "a man page",
            OutputKind::Evidence => "an evidence capture (pcapng)",
        })
    }
}

/// A capture container, by its magic number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureFormat {
    /// Classic pcap: either byte order, µs or ns timestamps, or Kuznetzov's modified pcap.
    Pcap,
    Pcapng,
    /// gzip-compressed, as captures often are (`capture.pcap.gz`).
    Gzip,
}

impl fmt::Display for CaptureFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CaptureFormat::Pcap => "pcap",
            CaptureFormat::Pcapng => "pcapng",
            CaptureFormat::Gzip => "gzip",
        })
    }
}

/// What an existing file holds, as far as its first bytes tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    Empty,
    Capture(CaptureFormat),
    Png,
    /// An XML document whose root element is `svg`.
    Svg,
    /// An XML document whose root element is `testsuites` or `testsuite`.
    JUnit,
    /// An HTML page (an XML-like root element `html`, or its doctype).
    Html,
    /// Another XML document, or one whose root lies beyond the bytes read.
    Xml,
    /// Text that starts with a roff request or comment, as man pages do.
    Roff,
    Text,
    Binary,
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Found::Empty => f.write_str("an empty file"),
            Found::Capture(c) => write!(f, "a capture ({c})"),
            Found::Png => f.write_str("a PNG image"),
            Found::Svg => f.write_str("an SVG image"),
            Found::JUnit => f.write_str("a JUnit report"),
            Found::Html => f.write_str("an HTML page"),
            Found::Xml => f.write_str("an XML document"),
            Found::Roff => f.write_str("a man page"),
            Found::Text => f.write_str("text"),
            Found::Binary => f.write_str("binary data"),
        }
    }
}

/// What the regular file at `path` holds, reading at most `SNIFF_LEN` bytes; `None` when
/// there is no regular file there (nothing, a symlink, a FIFO, a device, a directory). An error
/// means a regular file is there that could not be read.
///
/// The symlink test comes first and the open is checked again: a link is never followed here.
/// (A file swapped for a FIFO between the two could make the open wait; nothing is lost.)
pub fn sniff(path: &Path) -> io::Result<Option<Found>> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_file() => {}
        // Nothing there, or no way to look (a missing directory): the write itself says why.
        Ok(_) | Err(_) => return Ok(None),
    }
    let file = fs::File::open(path)?;
    if !file.metadata()?.is_file() {
        return Ok(None);
    }
    let mut head = Vec::with_capacity(SNIFF_LEN as usize);
    file.take(SNIFF_LEN).read_to_end(&mut head)?;
    Ok(Some(classify(&head)))
}

/// What a file starting with `head` holds.
pub fn classify(head: &[u8]) -> Found {
    if head.is_empty() {
        return Found::Empty;
    }
    if let Some(c) = capture_format(head) {
        return Found::Capture(c);
    }
    // PNG signature (RFC 2083 §3.1).
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        return Found::Png;
    }
    if !is_text(head) {
        return Found::Binary;
    }
    if let Some(markup) = markup(head) {
        return markup;
    }
    // roff: a control line starts with `.` or `'` (groff(7), "Control characters").
    if head.starts_with(b".") || head.starts_with(b"'") {
        return Found::Roff;
    }
    Found::Text
}

/// The capture container `head` starts with: classic pcap's magics in both byte orders
/// (draft-ietf-opsawg-pcap §4; 0xa1b2cd34 is libpcap's `KUZNETZOV_TCPDUMP_MAGIC`, sf-pcap.c),
/// the pcapng Section Header Block type (draft-ietf-opsawg-pcapng §4.1, the same in both byte
/// orders), gzip's ID1 ID2 (RFC 1952 §2.3.1). The magics the capture reader accepts.
fn capture_format(head: &[u8]) -> Option<CaptureFormat> {
    const PCAP: [u32; 3] = [0xa1b2_c3d4, 0xa1b2_3c4d, 0xa1b2_cd34];
    const PCAPNG_SHB: u32 = 0x0a0d_0d0a;
    if head.starts_with(&[0x1f, 0x8b]) {
        return Some(CaptureFormat::Gzip);
    }
    let magic: [u8; 4] = head.get(..4)?.try_into().ok()?;
    let (le, be) = (u32::from_le_bytes(magic), u32::from_be_bytes(magic));
    if PCAP.iter().any(|&m| m == le || m == be) {
        Some(CaptureFormat::Pcap)
    } else if le == PCAPNG_SHB {
        Some(CaptureFormat::Pcapng)
    } else {
        None
    }
}

/// UTF-8 without NUL bytes (a sequence cut by the end of `head` still counts).
fn is_text(head: &[u8]) -> bool {
    !head.contains(&0)
        && match std::str::from_utf8(head) {
            Ok(_) => true,
            Err(e) => e.error_len().is_none(),
        }
}

/// An XML (or HTML) document: after a byte order mark and white space, the prolog (`<?...?>`,
/// `<!--...-->`, `<!DOCTYPE ...>`) and then the root element, whose name tells the format.
fn markup(head: &[u8]) -> Option<Found> {
    let mut rest = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let declared = trim_start(rest).starts_with(b"<?xml");
    loop {
        rest = trim_start(rest);
        if rest.is_empty() {
            // The root lies beyond the bytes read.
            return declared.then_some(Found::Xml);
        }
        if !rest.starts_with(b"<") {
            return None;
        }
        let end = if rest.starts_with(b"<!--") {
            find(rest, b"-->").map(|i| i + 3)
        } else if rest.starts_with(b"<?") || rest.starts_with(b"<!") {
            if rest
                .get(2..11)
                .is_some_and(|d| d.eq_ignore_ascii_case(b"DOCTYPE h"))
            {
                return Some(Found::Html);
            }
            find(rest, b">").map(|i| i + 1)
        } else {
            return Some(root(&rest[1..], declared));
        };
        match end {
            Some(end) => rest = &rest[end..],
            None => return declared.then_some(Found::Xml),
        }
    }
}

/// The format an element name after `<` tells.
fn root(name: &[u8], declared: bool) -> Found {
    let len = name
        .iter()
        .position(|b| !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'.')))
        .unwrap_or(name.len());
    let name = &name[..len];
    if name.eq_ignore_ascii_case(b"svg") {
        Found::Svg
    } else if name == b"testsuites" || name == b"testsuite" {
        Found::JUnit
    } else if name.eq_ignore_ascii_case(b"html") {
        Found::Html
    } else if declared || !name.is_empty() {
        Found::Xml
    } else {
        Found::Text
    }
}

fn trim_start(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|c| c.is_ascii_whitespace()).count();
    &b[n..]
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pcap_magic_is_a_capture() {
        for magic in [
            [0xd4, 0xc3, 0xb2, 0xa1], // µs, little-endian
            [0xa1, 0xb2, 0xc3, 0xd4], // µs, big-endian
            [0x4d, 0x3c, 0xb2, 0xa1], // ns, little-endian
            [0xa1, 0xb2, 0x3c, 0x4d], // ns, big-endian
            [0x34, 0xcd, 0xb2, 0xa1], // modified, little-endian
            [0xa1, 0xb2, 0xcd, 0x34], // modified, big-endian
        ] {
            let mut head = magic.to_vec();
            head.extend([2, 0, 4, 0]);
            assert_eq!(
                classify(&head),
                Found::Capture(CaptureFormat::Pcap),
                "{magic:x?}"
            );
        }
        assert_eq!(
            classify(&[0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0]),
            Found::Capture(CaptureFormat::Pcapng)
        );
        assert_eq!(
            classify(&[0x1f, 0x8b, 8, 0]),
            Found::Capture(CaptureFormat::Gzip)
        );
        // A near miss is not a capture.
        assert_eq!(classify(&[0xd4, 0xc3, 0xb2, 0xa2]), Found::Binary);
    }

    #[test]
    fn markup_is_told_by_its_root_element() {
        let junit = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"x\">";
        assert_eq!(classify(junit), Found::JUnit);
        assert_eq!(classify(b"<testsuite name=\"x\"/>"), Found::JUnit);
        let svg = b"<?xml version=\"1.0\"?>\n<!-- drawn -->\n<!DOCTYPE svg>\n<svg width=\"1\">";
        assert_eq!(classify(svg), Found::Svg);
        assert_eq!(
            classify(b"<svg xmlns=\"http://www.w3.org/2000/svg\">"),
            Found::Svg
        );
        assert_eq!(
            classify(b"\xef\xbb\xbf  <?xml version=\"1.0\"?><feed>"),
            Found::Xml
        );
        assert_eq!(classify(b"<?xml version=\"1.0\"?>\n<!-- cut"), Found::Xml);
        assert_eq!(classify(b"<!DOCTYPE html>\n<html>"), Found::Html);
        assert_eq!(classify(b"<html><body>"), Found::Html);
        assert_eq!(classify(b"< not markup"), Found::Text);
        assert_eq!(classify(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Found::Png);
    }

    #[test]
    fn text_roff_binary_and_empty() {
        assert_eq!(classify(b""), Found::Empty);
        assert_eq!(classify(b"meeting notes\n"), Found::Text);
        assert_eq!(classify(b".ie \\n(.g .ds Aq \\(aq\n.TH x 1"), Found::Roff);
        assert_eq!(classify(b"a\0b"), Found::Binary);
        assert_eq!(classify(b"\xff\xfe"), Found::Binary);
        // A UTF-8 sequence cut by the end of the bytes read is still text.
        assert_eq!(
            classify("café".as_bytes().split_last().expect("bytes").1),
            Found::Text
        );
    }

    #[test]
    fn each_output_replaces_its_own_format_and_empty_files() {
        use OutputKind::*;
        let captures = [
            CaptureFormat::Pcap,
            CaptureFormat::Pcapng,
            CaptureFormat::Gzip,
        ];
        for kind in [JUnit, Png, Svg, Man] {
            assert!(kind.may_replace(Found::Empty));
            assert!(!kind.may_replace(Found::Text), "{kind}");
            assert!(!kind.may_replace(Found::Binary), "{kind}");
            assert!(!kind.may_replace(Found::Html), "{kind}");
            for c in captures {
                assert!(!kind.may_replace(Found::Capture(c)), "{kind} over {c}");
            }
        }
        assert!(JUnit.may_replace(Found::JUnit) && JUnit.may_replace(Found::Xml));
        assert!(!JUnit.may_replace(Found::Svg));
        assert!(Png.may_replace(Found::Png) && !Png.may_replace(Found::Svg));
        assert!(Svg.may_replace(Found::Svg) && !Svg.may_replace(Found::Png));
        assert!(Man.may_replace(Found::Roff) && !Man.may_replace(Found::Text));
        // Evidence replaces the pcapng it wrote before, never another capture (an input is
        // refused before this is asked).
        assert!(Evidence.may_replace(Found::Empty));
        assert!(Evidence.may_replace(Found::Capture(CaptureFormat::Pcapng)));
        assert!(!Evidence.may_replace(Found::Capture(CaptureFormat::Pcap)));
        assert!(!Evidence.may_replace(Found::Capture(CaptureFormat::Gzip)));
        assert!(!Evidence.may_replace(Found::Text) && !Evidence.may_replace(Found::Binary));
    }

    #[cfg(unix)]
    #[test]
    fn sniffing_never_follows_a_symlink() {
        let dir = tempfile::tempdir().expect("temp dir");
        let capture = dir.path().join("a.pcap");
        fs::write(&capture, [0xd4, 0xc3, 0xb2, 0xa1, 2, 0, 4, 0]).expect("capture");
        let link = dir.path().join("report.xml");
        std::os::unix::fs::symlink(&capture, &link).expect("link");
        assert_eq!(sniff(&link).expect("sniffed"), None);
        assert_eq!(
            sniff(&capture).expect("sniffed"),
            Some(Found::Capture(CaptureFormat::Pcap))
        );
        assert_eq!(sniff(&dir.path().join("none")).expect("sniffed"), None);
        assert_eq!(sniff(dir.path()).expect("sniffed"), None);
    }
}
