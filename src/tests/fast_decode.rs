//! The decoder's fast path (src/decode/fast.rs) against its general path, the reference: the same
//! `Packet` for every frame the fast path takes, on every fixture, on every real capture, and on
//! every prefix and on random byte mutations of sample frames of each.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use offload_doctor::capture::{CaptureReader, Frame, Input};
use offload_doctor::decode::{decode_fast, decode_general, DecodeConfig, Kind};

use crate::common;

/// Frames per capture whose prefixes and mutations are also compared: the first ones of each
/// decoded kind (a TCP segment, a UDP datagram, a VXLAN-tunnelled one ...).
const SAMPLES_PER_KIND: usize = 2;
/// Random mutations of each sample frame.
const MUTATIONS: usize = 300;

/// What comparing one capture found.
#[derive(Default)]
struct Tally {
    frames: usize,
    fast: usize,
    /// Fast-path frames by (kind, tunnelled).
    by_shape: BTreeMap<(String, bool), usize>,
}

/// Both paths on one frame; the fast one, when it takes the frame, must equal the reference,
/// down to where its TCP option bytes lie in the frame.
fn compare(frame: &Frame<'_>, cfg: &DecodeConfig, what: &str) -> Option<(Kind, bool)> {
    let general = decode_general(frame, cfg);
    let fast = decode_fast(frame, cfg)?;
    // Equal packets: the TCP option bytes' place in the frame (`options_at`) included.
    assert_eq!(fast, general, "{what}");
    Some((fast.kind, fast.tunnel.is_some()))
}

/// A tiny xorshift64 (Marsaglia 2003): deterministic mutations without a crate.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Every prefix of `frame` (with the wire length kept, as a snaplen cut, and with it cut too),
/// and random mutations of one to four bytes, mostly in the headers.
fn sweep(frame: &Frame<'_>, cfg: &DecodeConfig, what: &str, rng: &mut XorShift) {
    for n in 0..=frame.data.len() {
        for wire_len in [frame.wire_len, n as u32] {
            let f = Frame {
                data: &frame.data[..n],
                wire_len,
                ..*frame
            };
            compare(
                &f,
                cfg,
                &format!("{what} cut at {n}, wire length {wire_len}"),
            );
        }
    }
    let mut buf = frame.data.to_vec();
    for i in 0..MUTATIONS {
        buf.copy_from_slice(frame.data);
        let headers = buf.len().min(120);
        for _ in 0..=rng.below(4) {
            let at = if rng.below(8) == 0 {
                rng.below(buf.len())
            } else {
                rng.below(headers)
            };
            if let Some(b) = buf.get_mut(at) {
                *b = rng.next() as u8;
            }
        }
        let f = Frame {
            data: &buf,
            ..*frame
        };
        compare(&f, cfg, &format!("{what} mutation {i}: {buf:02x?}"));
    }
}

/// Compares every frame of the capture at `path`, and sweeps sample frames of each shape.
fn compare_capture(path: &Path, cfg: &DecodeConfig, rng: &mut XorShift) -> Tally {
    let mut t = Tally::default();
    let Ok(mut reader) = CaptureReader::open(&Input::Path(path.to_path_buf())) else {
        return t;
    };
    let name = path
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let mut sampled: BTreeMap<(String, bool), usize> = BTreeMap::new();
    while let Ok(Some(frame)) = reader.next_frame() {
        t.frames += 1;
        let what = format!("{name} frame {}", frame.number);
        let Some((kind, tunnelled)) = compare(&frame, cfg, &what) else {
            continue;
        };
        t.fast += 1;
        let shape = (kind.name(), tunnelled);
        *t.by_shape.entry(shape.clone()).or_default() += 1;
        let n = sampled.entry(shape).or_default();
        if *n < SAMPLES_PER_KIND {
            *n += 1;
            sweep(&frame, cfg, &what, rng);
        }
    }
    t
}

fn captures_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("readable directory")
        .filter_map(|e| Some(e.ok()?.path()))
        .filter(|p| {
            let n = p.to_string_lossy();
            !(n.ends_with(".json") || n.ends_with(".md") || n.ends_with("qlog"))
        })
        .collect();
    v.sort();
    v
}

#[test]
fn fast_path_equals_general_path_on_every_fixture() {
    let cfg = DecodeConfig::default();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut all = Tally::default();
    for path in captures_in(&common::root().join("testdata/fixtures")) {
        let t = compare_capture(&path, &cfg, &mut rng);
        all.frames += t.frames;
        all.fast += t.fast;
        for (shape, n) in t.by_shape {
            *all.by_shape.entry(shape).or_default() += n;
        }
    }
    // The comparison means something only if the fast path took the shapes it is for.
    for shape in [("tcp", false), ("udp", false), ("tcp", true)] {
        let n = all
            .by_shape
            .get(&(shape.0.to_string(), shape.1))
            .copied()
            .unwrap_or(0);
        assert!(
            n > 0,
            "no fixture frame of shape {shape:?} took the fast path"
        );
    }
    assert!(
        all.fast * 2 > all.frames,
        "fast {} of {}",
        all.fast,
        all.frames
    );
}

#[test]
fn fast_path_equals_general_path_on_real_captures() {
    let Some(dir) = crate::real_captures::shared() else {
        return;
    };
    let cfg = DecodeConfig::default();
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let (mut frames, mut fast) = (0, 0);
    for path in captures_in(&dir) {
        let t = compare_capture(&path, &cfg, &mut rng);
        frames += t.frames;
        fast += t.fast;
    }
    assert!(fast > 0 && frames > fast, "fast {fast} of {frames}");
}

/// Hand-made frames of the shapes no fixture has (UDP in VXLAN, stacked VLAN tags, IPv4
/// options, IPv6 UDP, Linux cooked headers, Ethernet padding, length 0 IP), each swept.
fn crafted() -> Vec<(&'static str, u32, Vec<u8>)> {
    #[rustfmt::skip]
    let tcp = [
        0x9c, 0x40, 0x00, 0x50, 0, 0, 0, 1, 0, 0, 0, 2, // ports 40000 -> 80, seq 1, ack 2
        0x80, 0x18, 0xff, 0xff, 0x12, 0x34, 0, 0,       // data offset 8, PSH ACK, window
        0x01, 0x01, 0x08, 0x0a, 0, 0, 0, 7, 0, 0, 0, 9, // NOP NOP timestamps 7 9
        b'd', b'a', b't', b'a',
    ];
    let udp = |dport: u16, payload: &[u8]| {
        let mut u = vec![0xc3, 0x50];
        u.extend_from_slice(&dport.to_be_bytes());
        u.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        u.extend_from_slice(&[0xab, 0xcd]);
        u.extend_from_slice(payload);
        u
    };
    let ipv4 = |proto: u8, options: &[u8], payload: &[u8]| {
        let hl = 20 + options.len();
        let mut h = vec![
            0x40 | (hl / 4) as u8,
            0xb8,
            0,
            0,
            0x12,
            0x34,
            0x40,
            0,
            64,
            proto,
        ];
        h.extend_from_slice(&[0, 0, 10, 0, 0, 1, 10, 0, 0, 2]);
        h[2..4].copy_from_slice(&((hl + payload.len()) as u16).to_be_bytes());
        h.extend_from_slice(options);
        h.extend_from_slice(payload);
        h
    };
    let ipv6 = |proto: u8, payload: &[u8]| {
        let mut h = vec![0x6b, 0x81, 0x23, 0x45, 0, 0, proto, 63];
        h[4..6].copy_from_slice(&(payload.len() as u16).to_be_bytes());
        h.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        h.extend_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2]);
        h.extend_from_slice(payload);
        h
    };
    let eth = |tags: &[u16], et: u16, payload: &[u8]| {
        let mut f = vec![2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1];
        for t in tags {
            f.extend_from_slice(&t.to_be_bytes());
            f.extend_from_slice(&[0, 5]);
        }
        f.extend_from_slice(&et.to_be_bytes());
        f.extend_from_slice(payload);
        f
    };
    let vxlan = |inner: &[u8]| {
        let mut v = vec![0x08, 0, 0, 0, 0, 0x13, 0x89, 0];
        v.extend_from_slice(inner);
        udp(4789, &v)
    };
    let v4_tcp = ipv4(6, &[], &tcp);
    let mut padded = eth(&[], 0x0800, &ipv4(17, &[], &udp(53, b"q")));
    padded.resize(60, 0);
    let mut len0 = ipv4(6, &[], &tcp);
    len0[2..4].copy_from_slice(&[0, 0]);
    let mut sll2 = vec![
        0x08, 0x00, 0, 0, 0, 0, 0, 3, 0, 1, 4, 6, 2, 0, 0, 0, 0, 1, 0, 0,
    ];
    sll2.extend_from_slice(&v4_tcp);
    let mut sll = vec![0, 4, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x86, 0xdd];
    sll.extend_from_slice(&ipv6(6, &tcp));
    const ETHERNET: u32 = 1;
    vec![
        (
            "udp in vxlan",
            ETHERNET,
            eth(
                &[],
                0x0800,
                &ipv4(
                    17,
                    &[],
                    &vxlan(&eth(&[], 0x0800, &ipv4(17, &[], &udp(53, b"dns")))),
                ),
            ),
        ),
        (
            "tcp in vxlan over ipv6, inner vlan",
            ETHERNET,
            eth(
                &[],
                0x86dd,
                &ipv6(17, &vxlan(&eth(&[0x8100], 0x0800, &v4_tcp))),
            ),
        ),
        (
            "vxlan in vxlan",
            ETHERNET,
            eth(
                &[],
                0x0800,
                &ipv4(
                    17,
                    &[],
                    &vxlan(&eth(
                        &[],
                        0x0800,
                        &ipv4(17, &[], &vxlan(&eth(&[], 0x0800, &v4_tcp))),
                    )),
                ),
            ),
        ),
        (
            "three vlan tags, ipv4 options",
            ETHERNET,
            eth(
                &[0x88a8, 0x8100, 0x9100],
                0x0800,
                &ipv4(6, &[1, 1, 1, 0], &tcp),
            ),
        ),
        (
            "four vlan tags",
            ETHERNET,
            eth(&[0x8100; 4], 0x0800, &v4_tcp),
        ),
        (
            "ipv6 udp",
            ETHERNET,
            eth(&[], 0x86dd, &ipv6(17, &udp(443, b"quic"))),
        ),
        ("ethernet padding", ETHERNET, padded),
        ("ipv4 total length 0", 101, len0),
        ("sll2", 276, sll2),
        ("sll ipv6", 113, sll),
    ]
}

#[test]
fn fast_path_equals_general_path_on_crafted_frames() {
    let cfg = DecodeConfig::default();
    let mut rng = XorShift(0xdead_beef_cafe_f00d);
    let mut fast = 0;
    for (name, link_type, data) in crafted() {
        let frame = Frame {
            number: 1,
            ts_ns: 0,
            ts_known: true,
            ts_bad_fraction: false,
            link_type,
            interface: Some(0),
            wire_len: data.len() as u32,
            data: &data,
            offset: 0,
            secrets: None,
        };
        fast += usize::from(compare(&frame, &cfg, name).is_some());
        sweep(&frame, &cfg, name, &mut rng);
    }
    // Of the ten, the fast path leaves only the four VLAN tags and VXLAN in VXLAN to the
    // general one.
    assert_eq!(fast, 8);
}
