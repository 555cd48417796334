//! The decoder's fast path (src/decode/fast.rs) against the general walk it shortcuts: the same
//! `Packet` for every frame of every fixture and real capture, and for every truncation and a
//! few thousand random mutations of the frames it takes.

use std::path::{Path, PathBuf};

use offload_doctor::capture::{CaptureReader, Frame, Input};
use offload_doctor::decode::{decode, decode_general, DecodeConfig};

use crate::common;
use crate::real_captures::shared;

/// Both decodings of `frame`, as text (`Packet` compares field by field through `Debug`).
fn both(frame: &Frame<'_>, cfg: &DecodeConfig) -> (String, String) {
    (
        format!("{:?}", decode(frame, cfg)),
        format!("{:?}", decode_general(frame, cfg)),
    )
}

/// A tiny xorshift (Marsaglia 2003): deterministic mutations without a crate.
struct XorShift(u64);
impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Every frame of `path` both ways; for the first `mutate` frames also every truncation and
/// random byte changes in the headers. Returns (frames compared, disagreements).
fn compare_file(path: &Path, mutate: usize, rng: &mut XorShift) -> (u64, Vec<String>) {
    let cfg = DecodeConfig::default();
    let Ok(mut reader) = CaptureReader::open(&Input::Path(path.to_path_buf())) else {
        return (0, Vec::new());
    };
    let (mut n, mut bad) = (0u64, Vec::new());
    let mut mutated = 0;
    let name = path.display();
    while let Ok(Some(frame)) = reader.next_frame() {
        n += 1;
        let (fast, general) = both(&frame, &cfg);
        if fast != general {
            bad.push(format!(
                "{name} frame {}:\n fast    {fast}\n general {general}",
                frame.number
            ));
        }
        if mutated >= mutate {
            continue;
        }
        mutated += 1;
        let bytes = frame.data.to_vec();
        for cut in 0..bytes.len().min(160) {
            let f = Frame {
                data: &bytes[..cut],
                ..frame
            };
            let (fast, general) = both(&f, &cfg);
            if fast != general {
                bad.push(format!(
                    "{name} frame {} cut at {cut}:\n fast    {fast}\n general {general}",
                    frame.number
                ));
            }
        }
        for _ in 0..20 {
            let mut m = bytes.clone();
            let span = m.len().clamp(1, 96);
            for _ in 0..1 + rng.next() % 3 {
                let at = (rng.next() as usize) % span;
                if let Some(b) = m.get_mut(at) {
                    *b = rng.next() as u8;
                }
            }
            let f = Frame { data: &m, ..frame };
            let (fast, general) = both(&f, &cfg);
            if fast != general {
                bad.push(format!(
                    "{name} frame {} mutated {m:02x?}:\n fast    {fast}\n general {general}",
                    frame.number
                ));
            }
        }
    }
    (n, bad)
}

fn captures_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.retain(|p| {
        let s = p.to_string_lossy();
        s.ends_with(".pcap") || s.ends_with(".pcapng") || s.ends_with(".gz") || s.ends_with(".cap")
    });
    files.sort();
    files
}

#[test]
fn fast_path_agrees_with_the_general_walk_on_every_fixture() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let (mut frames, mut bad) = (0, Vec::new());
    for path in captures_in(&common::root().join("testdata/fixtures")) {
        let (n, b) = compare_file(&path, 8, &mut rng);
        frames += n;
        bad.extend(b);
    }
    assert!(frames > 10_000, "only {frames} fixture frames compared");
    assert!(
        bad.is_empty(),
        "{} disagreements:\n{}",
        bad.len(),
        bad[..bad.len().min(5)].join("\n")
    );
}

#[test]
fn fast_path_agrees_with_the_general_walk_on_the_real_captures() {
    let Some(dir) = shared() else { return };
    let mut rng = XorShift(0x2545_F491_4F6C_DD1D);
    let (mut frames, mut bad) = (0, Vec::new());
    for path in captures_in(&dir) {
        let (n, b) = compare_file(&path, 4, &mut rng);
        frames += n;
        bad.extend(b);
    }
    assert!(frames > 10_000, "only {frames} real frames compared");
    assert!(
        bad.is_empty(),
        "{} disagreements:\n{}",
        bad.len(),
        bad[..bad.len().min(5)].join("\n")
    );
}
