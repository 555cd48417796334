//! Agreement of the reported RTT with tshark's `tcp.analysis.ack_rtt`, per flow direction.
//!
//! testdata/oracle/rtt.json (written by testdata/tshark_oracle.py with tshark 4.0) holds, for
//! every real capture in ../shared/captures, each TCP direction's ack_rtt sample count and
//! nearest-rank median, keyed by `tcp.stream` and the data sender (tshark puts ack_rtt on the
//! ACK; the oracle already turned it round to the data's direction). Where both tshark and we
//! have [`MIN_SAMPLES`] samples, our median must be within [`TOLERANCE`] of tshark's (or [`CLOCK_TICKS_MS`]), except
//! the directions [`DIFFERENCES`] lists with the reason (each must still differ, so that the
//! list cannot go stale). docs/tcp-analysis.md describes both samplers.

use crate::common;
use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;

/// Fewer samples than this make a median that one sample moves.
const MIN_SAMPLES: u64 = 5;
/// Relative difference allowed between the medians.
const TOLERANCE: f64 = 0.10;
/// Below this absolute difference (ms) two medians are the same: each sample is the difference
/// of two timestamps of a microsecond pcap clock (±1 µs each), and the JSON rounds the median
/// to the microsecond. It matters only for the microsecond round trips of a veth in the lab.
const CLOCK_TICKS_MS: f64 = 0.003;

/// Directions where our median differs on purpose: (capture, tcp.stream, data sender, why).
const DIFFERENCES: &[(&str, u64, &str, &str)] = &[
    (
        "arkime__wireshark-retrans.pcap",
        0,
        "172.17.96.143:59221",
        "tshark samples resent data: the SYN/ACK of a resent SYN (0.006 ms) and the ACK copy \
         after a resent segment (1.3 ms); Karn's rule takes neither",
    ),
    (
        "suricata-verify__tcp-rst-unacked-stream-10_origlen_anomaly.pcap",
        0,
        "174.56.47.59:80",
        "9 of tshark's 24 samples are ACKs of resent segments (2 to 8 ms after the resend, \
         seconds after the original); Karn's rule takes none, no timestamps to stand in",
    ),
    (
        "suricata-verify__20171220_smb_psexec_add_user_windows_large.pcap",
        0,
        "192.168.10.31:49282",
        "a sender-side TSO capture: we sample the first partial ACK of a 29-40 kB super-segment \
         (the first wire segments' round trip), tshark the ACK of its end, which adds the \
         super-segment's serialisation (0.19 against 0.21 ms)",
    ),
    (
        "pcapplusplus__pcapng-example_eth-sll_snap128.pcapng",
        2,
        "130.217.250.13:34558",
        "the SLL interface's timestamps lie beyond the year 2262, out of a 64-bit nanosecond \
         clock: every frame saturates to the same time (capture-timestamps warns), so RTT 0",
    ),
    (
        "pcapplusplus__pcapng-example_eth-sll_snap128.pcapng",
        3,
        "130.217.250.13:34374",
        "the same interface as stream 2: timestamps out of a 64-bit nanosecond clock",
    ),
];

/// One direction of tshark's oracle.
pub(crate) struct Oracle {
    stream: u64,
    sender: String,
    receiver: String,
    samples: u64,
    median_ms: f64,
    /// tshark's 40th and 60th percentiles, where the oracle gives them (the kernel lab's).
    middle_ms: Option<(f64, f64)>,
}

/// The directions of one capture, as `rtt_samples` in testdata/tshark_oracle.py writes them.
pub(crate) fn directions(dirs: &Value) -> Vec<Oracle> {
    let dirs = dirs.as_array().expect("directions");
    dirs.iter()
        .map(|d| Oracle {
            stream: d["stream"].as_u64().expect("stream"),
            sender: d["sender"].as_str().expect("sender").to_owned(),
            receiver: d["receiver"].as_str().expect("receiver").to_owned(),
            samples: d["samples"].as_u64().expect("samples"),
            median_ms: d["median_ms"].as_f64().expect("median"),
            middle_ms: d["p40_ms"].as_f64().zip(d["p60_ms"].as_f64()),
        })
        .collect()
}

fn oracle() -> BTreeMap<String, Vec<Oracle>> {
    let path = common::root().join("testdata/oracle/rtt.json");
    let v: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("oracle")).expect("JSON");
    let files = v["files"].as_object().expect("files");
    files
        .iter()
        .map(|(name, dirs)| (name.clone(), directions(dirs)))
        .collect()
}

/// Our median against tshark's for direction `d`: `None` when either side has fewer than
/// [`MIN_SAMPLES`], else whether it is within [`TOLERANCE`] and a line describing both.
pub(crate) fn compare(flows: &[Value], dirs: &[Oracle], d: &Oracle) -> Option<(bool, String)> {
    if d.samples < MIN_SAMPLES {
        return None;
    }
    let Some(rtt) = our_direction(flows, dirs, d) else {
        let line = format!("stream {} {}: no such flow", d.stream, d.sender);
        return Some((false, line));
    };
    let (n, median) = (rtt["samples"].as_u64()?, rtt["median_ms"].as_f64()?);
    if n < MIN_SAMPLES {
        return None;
    }
    // Or, where the oracle gives tshark's middle fifth (the lab's live veth round trips of tens
    // of microseconds, spread wide by scheduling: a median of 81 samples against one of 85 can
    // differ by more than 10%), anywhere in it.
    let within = (median - d.median_ms).abs() <= (TOLERANCE * d.median_ms).max(CLOCK_TICKS_MS)
        || d.middle_ms
            .is_some_and(|(lo, hi)| lo - CLOCK_TICKS_MS <= median && median <= hi + CLOCK_TICKS_MS);
    let line = format!(
        "stream {} from {}: ours {median:.3} ms ({n} samples, {}), tshark {:.3} ms ({} samples)",
        d.stream, d.sender, rtt["source"], d.median_ms, d.samples
    );
    Some((within, line))
}

/// The capture, unless tshark analyses TCP we cannot see (segments in reassembled fragments).
fn capture(dir: &std::path::Path, name: &str) -> Option<PathBuf> {
    if crate::tcp_agreement::REASSEMBLED_BY_TSHARK.contains(&name) {
        return None;
    }
    Some(dir.join(name))
}

/// Our report's direction for tshark's: the flow with the same two endpoints, the n-th of
/// them when ports were reused (tshark numbers streams, we number flows, both in order of first
/// frame), and the side whose data it is.
fn our_direction<'a>(flows: &'a [Value], dirs: &[Oracle], d: &Oracle) -> Option<&'a Value> {
    let pair = |a: &str, b: &str| (a.min(b).to_owned(), a.max(b).to_owned());
    let key = pair(&d.sender, &d.receiver);
    let mut streams: Vec<u64> = dirs
        .iter()
        .filter(|o| pair(&o.sender, &o.receiver) == key)
        .map(|o| o.stream)
        .collect();
    streams.sort_unstable();
    streams.dedup();
    let nth = streams.iter().position(|&s| s == d.stream)?;
    let flow = flows
        .iter()
        .filter(|f| f["protocol"] == "tcp")
        .filter(|f| {
            let (c, s) = (f["client"].as_str(), f["server"].as_str());
            c.zip(s).is_some_and(|(c, s)| pair(c, s) == key)
        })
        .nth(nth)?;
    let side = if flow["client"] == d.sender.as_str() {
        "c2s"
    } else {
        "s2c"
    };
    Some(&flow[side]["rtt"])
}

#[test]
fn rtt_median_agrees_with_tshark_per_direction() {
    let Some(dir) = crate::real_captures::shared() else {
        return;
    };
    let mut disagree = Vec::new();
    let mut stale = Vec::new();
    let (mut compared, mut agreed) = (0, 0);
    for (name, dirs) in oracle() {
        let Some(path) = capture(&dir, &name) else {
            continue;
        };
        let (_, Some(json)) = common::analyze_json(&path, &[]) else {
            disagree.push(format!("{name}: no JSON report"));
            continue;
        };
        let flows = json["flows"].as_array().cloned().unwrap_or_default();
        for d in &dirs {
            let Some((within, line)) = compare(&flows, &dirs, d) else {
                continue;
            };
            compared += 1;
            let excepted = DIFFERENCES
                .iter()
                .any(|x| x.0 == name && x.1 == d.stream && x.2 == d.sender);
            let line = format!("{name} {line}");
            match (within, excepted) {
                (true, false) => agreed += 1,
                (false, false) => disagree.push(line),
                (true, true) => stale.push(line),
                (false, true) => {}
            }
        }
    }
    assert!(compared >= 150, "compared only {compared} directions");
    assert!(
        disagree.is_empty(),
        "{} of {compared} directions disagree with tshark by more than {}%:\n{}",
        disagree.len(),
        TOLERANCE * 100.0,
        disagree.join("\n")
    );
    assert!(
        stale.is_empty(),
        "listed as differing, but agree now (remove from DIFFERENCES):\n{}",
        stale.join("\n")
    );
    assert_eq!(agreed + DIFFERENCES.len(), compared);
}
