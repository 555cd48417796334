//! Evidence captures (`analyze --write-evidence DIR`): per finding that cites frames, a pcapng
//! file of those frames, copied from the input in a second pass, that opens in Wireshark.
//!
//! The streaming pass keeps frame numbers, not frame bytes, so [`copy`] reads the input again
//! (a file, not standard input) and copies each cited frame as it passes: its bytes, its
//! original length, its timestamp to the nanosecond and its interface's link type
//! ([`pcapng`]). Memory stays bounded: nothing is kept between frames, and the caller hands
//! in the sinks of a batch of files at a time (each an open file). The section's comment names
//! the finding (number, id, severity, flow, message, how many of its evidence frames the file
//! holds); each packet's comment cites its ORIGINAL 1-based frame number (Wireshark's
//! `frame.number` in the input), since the evidence file numbers its packets from 1 again.
//!
//! Files are named `NNN-ID.pcapng`, or `NNN-ID-flowF.pcapng` for a finding about flow F, where
//! NNN is the finding's 1-based position in the report (the order of the text and of the JSON
//! `findings` array).

pub mod pcapng;

use std::collections::BTreeMap;
use std::io::Write;

use crate::analysis::Finding;
use crate::capture::{CaptureError, CaptureReader, Input};

use pcapng::PcapngWriter;

/// One evidence file to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceFile {
    /// The file name, without a directory.
    pub name: String,
    /// Index of the finding in the report's `findings`.
    pub finding: usize,
    /// The frames it holds: the finding's `frames`, in frame order, each once.
    pub frames: Vec<u64>,
}

/// The evidence files of `findings`: one per finding that cites frames.
pub fn plan(findings: &[Finding]) -> Vec<EvidenceFile> {
    findings
        .iter()
        .enumerate()
        .filter(|(_, f)| !f.frames.is_empty())
        .map(|(i, f)| {
            let flow = f.flow.map(|id| format!("-flow{id}")).unwrap_or_default();
            let mut frames = f.frames.clone();
            frames.sort_unstable();
            frames.dedup();
            EvidenceFile {
                name: format!("{:03}-{}{flow}.pcapng", i + 1, f.id),
                finding: i,
                frames,
            }
        })
        .collect()
}

/// Why evidence could not be written.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("reading the capture again: {0}")]
    Capture(#[from] CaptureError),
    #[error("writing {name}: {source}")]
    Write {
        name: String,
        #[source]
        source: std::io::Error,
    },
}

/// What the pass copied into one file.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Copied {
    /// Frames written.
    pub frames: u64,
    /// Cited frames not written: not found again (the input changed or ended before them), or
    /// of no interface a pcapng file can declare.
    pub missing: Vec<u64>,
}

/// Whose evidence is being written: the findings and the input's name for the comments.
pub struct Source<'a> {
    pub input: &'a Input,
    pub findings: &'a [Finding],
    /// The writing application, for the section header (`offload-doctor 1.2.3`).
    pub application: &'a str,
}

/// One pass over the input that writes `files[i]` into `sinks[i]`; hands the sinks back (the
/// caller finishes them) with what each received.
pub fn copy<W: Write>(
    src: &Source<'_>,
    files: &[EvidenceFile],
    sinks: Vec<W>,
) -> Result<Vec<(W, Copied)>, EvidenceError> {
    let name = src.input.display_name();
    let mut writers = Vec::with_capacity(files.len());
    for (file, sink) in files.iter().zip(sinks) {
        let comment = section_comment(&src.findings[file.finding], file, &name);
        let w = PcapngWriter::start(sink, &comment, src.application).map_err(write_error(file))?;
        writers.push((w, Copied::default()));
    }
    // Which files want each frame.
    let mut wanted: BTreeMap<u64, Vec<usize>> = BTreeMap::new();
    for (i, file) in files.iter().enumerate() {
        for &n in &file.frames {
            wanted.entry(n).or_default().push(i);
        }
    }
    let last = wanted.keys().next_back().copied().unwrap_or(0);
    let mut reader = CaptureReader::open(src.input)?;
    while let Some(frame) = reader.next_frame()? {
        if let Some(who) = wanted.remove(&frame.number) {
            for i in who {
                let (file, (w, copied)) = (&files[i], &mut writers[i]);
                let finding = &src.findings[file.finding];
                let comment = packet_comment(finding, file.finding, frame.number, &name);
                if w.packet(&frame, &comment).map_err(write_error(file))? {
                    copied.frames += 1;
                } else {
                    copied.missing.push(frame.number);
                }
            }
        }
        if frame.number >= last {
            break;
        }
    }
    for (n, who) in wanted {
        for i in who {
            writers[i].1.missing.push(n);
        }
    }
    Ok(writers
        .into_iter()
        .map(|(w, c)| (w.into_inner(), c))
        .collect())
}

fn write_error(file: &EvidenceFile) -> impl Fn(std::io::Error) -> EvidenceError + '_ {
    move |source| EvidenceError::Write {
        name: file.name.clone(),
        source,
    }
}

/// "finding 3: retransmissions (warning) on flow 2".
fn title(f: &Finding, index: usize) -> String {
    let flow = f
        .flow
        .map(|id| format!(" on flow {id}"))
        .unwrap_or_default();
    format!(
        "finding {}: {} ({}){flow}",
        index + 1,
        f.id,
        f.severity.as_str()
    )
}

/// The section's comment: the finding, and which of its evidence frames the file holds.
fn section_comment(f: &Finding, file: &EvidenceFile, input: &str) -> String {
    let listed: Vec<String> = file.frames.iter().map(u64::to_string).collect();
    let rest = f.frames_total.saturating_sub(file.frames.len() as u64);
    let more = match rest {
        0 => String::new(),
        n => format!(
            " ({} of the {} evidence frames; the report lists the first {}, {n} more are \
             not in this file)",
            file.frames.len(),
            f.frames_total,
            file.frames.len()
        ),
    };
    let filter = f
        .wireshark_filter
        .as_deref()
        .map(|w| format!("\nWireshark filter for the input: {w}"))
        .unwrap_or_default();
    format!(
        "offload-doctor evidence from {input}, {}\n{}\nFrames of the input (frame.number \
         there): {}{more}{filter}",
        title(f, file.finding),
        f.message,
        listed.join(", ")
    )
}

/// A packet's comment: its frame number in the input, and the finding it is evidence of.
fn packet_comment(f: &Finding, index: usize, number: u64, input: &str) -> String {
    format!("frame {number} of {input}: evidence of {}", title(f, index))
}
