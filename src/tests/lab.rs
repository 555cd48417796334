//! The kernel lab: testdata/lab/lab.sh makes real traffic between two network namespaces (veth,
//! VXLAN, nftables, iperf3, a UDP GSO sender), captures it on both ends, and the running kernel's
//! GRO becomes the oracle. Each scenario's expected findings and GRO outcome are written beside
//! it in testdata/lab/SCENARIO.expect.json.
//!
//! Needs root and the lab's tools (what .ci/run installs). CI sets OFFLOAD_DOCTOR_REQUIRE_LAB=1,
//! which turns a missing tool into a failure; elsewhere the test says loudly that it skipped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use offload_doctor::analysis::Settings;
use offload_doctor::capture::Input;
use offload_doctor::decode::DecodeConfig;
use offload_doctor::pipeline::frame_events;
use offload_doctor::tcp::events::Events;
use serde_json::Value;

use crate::common::{analyze_json, root, subset};

const TOOLS: &[&str] = &[
    "ip", "ethtool", "tcpdump", "iperf3", "nft", "timeout", "tshark",
];

/// The retransmission flags held against tshark's, frame by frame, on captures whose
/// expectations ask for it (`"tshark": true`).
const RESENDS: &[&str] = &[
    "tcp.analysis.retransmission",
    "tcp.analysis.fast_retransmission",
    "tcp.analysis.spurious_retransmission",
];

/// Findings that real traffic on a loaded 2-CPU machine may earn in any scenario, and then truly:
/// the kernel resent a few segments, a capture fell behind, packets stamped on two CPUs were
/// written out of time order, or a slow reader's window shrank below a segment and the sender
/// probed it (net/ipv4/tcp_output.c `tcp_write_wakeup` → `tcp_xmit_probe_skb`: no data at
/// snd_una − 1, which Wireshark calls a keep-alive; seen once under a parallel test run).
/// Tolerated at exactly this severity (a retransmission warning or a higher severity still fails).
const TOLERATED: &[(&str, &str)] = &[
    ("retransmissions", "info"),
    ("out-of-order", "info"),
    ("capture-gaps", "warning"),
    ("capture-timestamps", "info"),
    ("keep-alive", "info"),
];

/// The lab's scenarios run one at a time: their timing (NAPI polls, GRO batches) needs the CPUs.
pub static LAB: Mutex<()> = Mutex::new(());

/// Why the lab cannot run here, if it cannot (root, [`TOOLS`] and `extra`).
pub fn missing(extra: &[&str]) -> Option<String> {
    // A developer's run beside another lab run (fixed namespace names) turns it off; CI, which
    // sets OFFLOAD_DOCTOR_REQUIRE_LAB, then fails loudly instead.
    if std::env::var_os("OFFLOAD_DOCTOR_SKIP_LAB").is_some() {
        return Some("OFFLOAD_DOCTOR_SKIP_LAB is set".into());
    }
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let root_user = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        == Some("0");
    if !root_user {
        return Some("not root (network namespaces need it)".into());
    }
    let absent: Vec<&str> = TOOLS
        .iter()
        .chain(extra)
        .copied()
        .filter(|t| {
            !Command::new("sh")
                .args(["-c", &format!("command -v {t}")])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .collect();
    (!absent.is_empty()).then(|| format!("missing {}", absent.join(", ")))
}

/// Why the lab's Python (`LAB_PYTHON`, else python3) cannot import `module`, if it cannot: the
/// QUIC scenarios run aioquic (PyPI; .ci/run installs it).
fn python_missing(module: &str) -> Option<String> {
    let py = std::env::var("LAB_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = Command::new(&py)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    (!ok).then(|| format!("{py} cannot import {module} (pip install {module})"))
}

/// Findings as id → highest severity.
fn findings(report: &Value) -> BTreeMap<String, String> {
    let rank = |s: &str| ["info", "warning", "error"].iter().position(|x| *x == s);
    let mut out: BTreeMap<String, String> = BTreeMap::new();
    for f in report["findings"].as_array().into_iter().flatten() {
        let (Some(id), Some(sev)) = (f["id"].as_str(), f["severity"].as_str()) else {
            continue;
        };
        let e = out.entry(id.to_string()).or_insert_with(|| sev.to_string());
        if rank(sev) > rank(e) {
            *e = sev.to_string();
        }
    }
    out
}

/// The client → server direction of the flow that carried the most data.
fn bulk(report: &Value) -> &Value {
    report["flows"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .max_by_key(|f| f["c2s"]["payload_bytes"].as_u64().unwrap_or(0))
        })
        .map_or(&Value::Null, |f| &f["c2s"])
}

/// The GRO oracle: pairs the kernel merged (in the receiver's capture) against the pairs the
/// model, run on the sender's capture of the wire segments, calls mergeable.
fn check_merges(want: &str, send: &Value, recv: &Value, errors: &mut Vec<String>) {
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    let (s, r) = (&bulk(send)["offload"], &bulk(recv)["offload"]);
    // Every received frame of k wire segments is k - 1 merged pairs (robust to frames either
    // capture dropped).
    let kernel = n(&r["wire_segments"]).saturating_sub(n(&r["data_frames"]));
    let mergeable = n(&s["gro"]["mergeable_pairs"]);
    let unjudged = n(&s["data_frames"]).saturating_sub(1 + n(&s["gro"]["judged_pairs"]));
    let ok = match want {
        // Next to nothing merged, and the model agrees: an odd pair the rule let through (two
        // data packets in a row with the same TTL, when a pure ACK took the alternation's turn)
        // the kernel may merge, never more than the model calls mergeable, and at most 2% of
        // the pairs judged.
        "none" => {
            let judged = n(&s["gro"]["judged_pairs"]);
            kernel <= mergeable + unjudged && mergeable * 50 <= judged
        }
        // GRO off at the receiver: nothing merged whatever the headers allow.
        "gro-off" => kernel == 0 && r["segments_per_frame"].as_f64() == Some(1.0),
        // The kernel merged what the model calls mergeable: never more than that plus the
        // pairs the model did not judge, and at least 90% of it (a NAPI poll or the 64 KB cap
        // ends some trains early).
        _ => kernel as f64 >= 0.9 * mergeable as f64 && kernel <= mergeable + unjudged,
    };
    if !ok {
        errors.push(format!(
            "GRO: kernel merged {kernel} pairs, model mergeable {mergeable} (unjudged \
             {unjudged}), expected {want}"
        ));
    }
}

/// Our retransmission flags against tshark's on the same capture, frame by frame.
fn tshark_agrees(path: &Path, errors: &mut Vec<String>) {
    let mut args = vec![
        "-n".to_string(),
        "-r".into(),
        path.to_string_lossy().into_owned(),
    ];
    args.extend([
        "-Y".into(),
        RESENDS.join(" or "),
        "-T".into(),
        "fields".into(),
    ]);
    for f in std::iter::once(&"frame.number").chain(RESENDS) {
        args.extend(["-e".into(), f.to_string()]);
    }
    let out = Command::new("tshark")
        .args(&args)
        .output()
        .expect("tshark runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let ours = frame_events(
        &Input::Path(path.to_path_buf()),
        &DecodeConfig::default(),
        &Settings::default(),
    )
    .unwrap_or_default();
    for (i, field) in RESENDS.iter().enumerate() {
        let theirs: BTreeSet<u64> = text
            .lines()
            .filter_map(|l| {
                let cols: Vec<&str> = l.split('\t').collect();
                let flagged = cols.get(i + 1).is_some_and(|c| !c.is_empty());
                flagged.then(|| cols[0].parse().ok()).flatten()
            })
            .collect();
        let flag = Events::FIELDS
            .iter()
            .find(|(_, f)| f == field)
            .map_or(Events::default(), |(e, _)| *e);
        let mine: BTreeSet<u64> = ours
            .iter()
            .filter(|(_, e)| e.any(flag))
            .map(|(n, _)| *n)
            .collect();
        if mine != theirs {
            errors.push(format!(
                "{}: {field}: tshark {} frames, we {} (only ours {:?}, only tshark's {:?})",
                path.display(),
                theirs.len(),
                mine.len(),
                mine.difference(&theirs).take(10).collect::<Vec<_>>(),
                theirs.difference(&mine).take(10).collect::<Vec<_>>()
            ));
        }
    }
}

/// Our RTT median per direction against tshark's `ack_rtt` median on the same capture (within
/// 10%, where both have 5 samples or more), as `rtt_agreement` checks the shared captures:
/// tshark's samples are read by testdata/tshark_oracle.py's `rtt_samples`.
fn rtt_agrees(path: &Path, report: &Value, errors: &mut Vec<String>) {
    let script = format!(
        "import json, sys; sys.path.insert(0, {:?}); import tshark_oracle; \
         print(json.dumps(tshark_oracle.rtt_samples(sys.argv[1], spread=True)))",
        root().join("testdata").to_string_lossy()
    );
    let out = Command::new("python3")
        .args(["-c", &script, &path.to_string_lossy()])
        .output()
        .expect("python3 runs");
    let Ok(dirs) = serde_json::from_slice::<Value>(&out.stdout) else {
        errors.push(format!(
            "{}: tshark's RTT samples unreadable",
            path.display()
        ));
        return;
    };
    let dirs = crate::rtt_agreement::directions(&dirs);
    let flows = report["flows"].as_array().cloned().unwrap_or_default();
    for d in &dirs {
        if let Some((false, line)) = crate::rtt_agreement::compare(&flows, &dirs, d) {
            errors.push(format!("{}: RTT {line}", path.display()));
        }
    }
}

fn scenario(name: &str, exp: &Value, out: &Path) -> Vec<String> {
    let mut errors = Vec::new();
    let run = Command::new("bash")
        .arg(root().join("testdata/lab/lab.sh"))
        .args([name, &out.to_string_lossy()])
        .output()
        .expect("bash runs");
    if !run.status.success() {
        return vec![format!(
            "lab.sh failed: {}",
            String::from_utf8_lossy(&run.stderr)
        )];
    }
    let mut reports = BTreeMap::new();
    for (file, want) in exp["captures"].as_object().into_iter().flatten() {
        // `"qlog": ["qlog-server"]`: the endpoints' qlog directories the scenario wrote.
        let args: Vec<String> = want["qlog"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .flat_map(|q| {
                [
                    "--qlog".to_string(),
                    out.join(q).to_string_lossy().into_owned(),
                ]
            })
            .chain(crate::lab_keys::args(out, want))
            .collect();
        let (r, json) = analyze_json(&out.join(file), &args);
        let Some(json) = json else {
            errors.push(format!("{file}: no report (exit {}): {}", r.code, r.stderr));
            continue;
        };
        let want_ids: BTreeMap<String, String> = want["findings"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("?").to_string()))
            .collect();
        let mut got = findings(&json);
        let optional = want["optional"].as_object();
        // An optional finding names its severity, or the severities it may have.
        let allowed = |id: &str, sev: &str| {
            optional.and_then(|o| o.get(id)).is_some_and(|v| {
                v.as_str() == Some(sev) || v.as_array().is_some_and(|a| a.iter().any(|s| s == sev))
            })
        };
        got.retain(|id, sev| {
            want_ids.contains_key(id)
                || !TOLERATED.contains(&(id.as_str(), sev.as_str())) && !allowed(id, sev)
        });
        if got != want_ids {
            errors.push(format!("{file}: findings {got:?}, expected {want_ids:?}"));
        }
        for (id, d) in want["details"].as_object().into_iter().flatten() {
            let found = json["findings"]
                .as_array()
                .and_then(|a| a.iter().find(|f| f["id"] == id.as_str()));
            match found {
                Some(f) => subset(d, &f["details"], &format!("{file} {id}"), &mut errors),
                None => errors.push(format!("{file}: no {id}")),
            }
        }
        // `"quic"`: facts of the QUIC connection (the first flow with a QUIC view).
        if let Some(q) = want.get("quic") {
            let flow = json["flows"]
                .as_array()
                .and_then(|a| a.iter().find(|f| f["quic"].is_object()));
            match flow {
                Some(f) => subset(q, &f["quic"], &format!("{file} quic"), &mut errors),
                None => errors.push(format!("{file}: no QUIC flow")),
            }
        }
        // `"unreceived_are_nft_drops": true`: the packets the capture saw arrive and the
        // endpoint's qlog never received are the ones the receiver's ingress rule dropped.
        if want["unreceived_are_nft_drops"] == true {
            unreceived_are_nft_drops(out, file, &json, &mut errors);
        }
        crate::lab_keys::check(out, file, want, &json, &mut errors);
        // A healthy transfer: the verdict says so, whatever notes it carries.
        let verdict = &json["verdict"];
        let fine = matches!(verdict["status"].as_str(), Some("ok" | "info"))
            && verdict["summary"]
                .as_str()
                .is_some_and(|s| s.starts_with("No problem found"));
        if exp["healthy"] == true && !fine {
            errors.push(format!("{file}: verdict {verdict}, expected no problem"));
        }
        if want["tshark"] == true {
            tshark_agrees(&out.join(file), &mut errors);
            // `"rtt": false`: a TSO sender's capture, where the samplers differ on purpose.
            if want["rtt"] != false {
                rtt_agrees(&out.join(file), &json, &mut errors);
            }
        }
        reports.insert(file.clone(), json);
    }
    if let (Some(want), Some(s), Some(r)) = (
        exp["kernel_merges"].as_str(),
        reports.get("send.pcap"),
        reports.get("recv.pcap"),
    ) {
        check_merges(want, s, r, &mut errors);
    }
    peers_agree(out, &exp["peer"], reports.get("send.pcap"), &mut errors);
    crate::lab_hops::hops_agree(out, &exp["peer"], &mut errors);
    errors
}

/// The two captures of a scenario held against each other (`--peer`), both ways: send.pcap
/// `--peer` recv.pcap, then recv.pcap `--peer` send.pcap.
///
/// Without `"peer"` in the expectations: the lab drops packets before the sender's tap (an
/// output rule) or after the receiver's (an ingress rule, which runs after the taps:
/// net/core/dev.c), never between them, so `path-loss` must pair the flows and find nothing
/// lost — on real kernel traffic with GRO, TSO, VXLAN and QUIC: one info finding, `lost` 0.
///
/// `"peer"` (the peer-router-* scenarios, where a router namespace between the two taps drops,
/// rewrites or segments packets) changes that; all its keys are optional:
/// - `"severity"`: of the one `path-loss` finding each way ("info" by default, the rule
///   above). "warning" or "error": one direction (A's data) lost packets between the taps,
///   and its finding names send.pcap as upstream (`details.upstream` "this" from send.pcap,
///   "peer" from recv.pcap) and counts the same `lost` both ways.
/// - `"lost_is_nft_drops": FILE`: that `lost` is the `counter packets N` of the router's drop
///   rule (lab.sh dumps it to FILE), give or take only the packets the two tcpdumps say they
///   dropped themselves (normally none). No more slack: path-loss leaves out packets due within
///   10 ms of the downstream capture's first or last frame, and lab.sh's marks (router_mark)
///   put those edges at least 0.3 s before and 0.2 s after the traffic, so every dropped packet
///   is judged.
/// - `"segmented_are_oversized": true`: `details.segmented` each way is the number of frames
///   over the MTU in send.pcap (its `oversized-frames` findings, which the expectations must
///   then ask for): every super-packet the sender's TSO/GSO left whole was cut on the path,
///   arrived in several frames, and was not called lost.
/// - `"min_coalesced_share": X`: `details.coalesced` each way is at least X times the data frames
///   of send.pcap's bulk flow: a hop's GRO merged that share of the sender's packets into larger
///   frames, and they were not called lost.
fn peers_agree(out: &Path, want: &Value, send_report: Option<&Value>, errors: &mut Vec<String>) {
    let (send, recv) = (out.join("send.pcap"), out.join("recv.pcap"));
    if !send.exists() || !recv.exists() {
        return;
    }
    let severity = want["severity"].as_str().unwrap_or("info");
    let drops = want["lost_is_nft_drops"]
        .as_str()
        .map(|file| (nft_counter(&out.join(file)), capture_drops(out)));
    let mut lost_each_way = Vec::new();
    for (a, b, upstream) in [(&send, &recv, "this"), (&recv, &send, "peer")] {
        let args = ["--peer".to_string(), b.to_string_lossy().into_owned()];
        let (r, json) = analyze_json(a, &args);
        let found: Vec<&Value> = json
            .as_ref()
            .and_then(|j| j["findings"].as_array())
            .into_iter()
            .flatten()
            .filter(|f| f["id"] == "path-loss")
            .collect();
        let name = a
            .file_name()
            .map_or(String::new(), |n| n.to_string_lossy().into_owned());
        let [f] = found[..] else {
            let msgs: Vec<&Value> = found.iter().map(|f| &f["message"]).collect();
            errors.push(format!(
                "{name} --peer: {} path-loss findings, expected one: {msgs:?} (exit {})",
                found.len(),
                r.code
            ));
            continue;
        };
        let d = &f["details"];
        let lost = d["lost"].as_u64().unwrap_or(u64::MAX);
        let n = |k: &str| d[k].as_u64().unwrap_or(0);
        let mut wrong = Vec::new();
        if f["severity"] != severity {
            wrong.push(format!("severity {}, expected {severity}", f["severity"]));
        }
        if severity == "info" {
            if n("directions") < 1 || lost != 0 {
                wrong.push(format!("{} directions, {lost} lost", n("directions")));
            }
        } else if d["upstream"] != upstream {
            wrong.push(format!("upstream {}, expected {upstream}", d["upstream"]));
        }
        if let Some((dropped, slack)) = &drops {
            match dropped {
                // Shown with --nocapture: the measured pairs, for the record of a run.
                Some(c) if lost.abs_diff(*c) <= *slack => eprintln!(
                    "{}: {name} --peer: {lost} lost, the router's rule dropped {c}",
                    out.display()
                ),
                Some(c) => wrong.push(format!(
                    "{lost} lost, the router's rule dropped {c} (the captures themselves \
                     {slack})"
                )),
                None => wrong.push("no nftables counter".into()),
            }
        }
        if want["segmented_are_oversized"] == true {
            let oversized: u64 = send_report
                .and_then(|j| j["findings"].as_array())
                .into_iter()
                .flatten()
                .filter(|f| f["id"] == "oversized-frames")
                .filter_map(|f| f["details"]["oversized_frames"].as_u64())
                .sum();
            if n("segmented") != oversized || oversized == 0 {
                wrong.push(format!(
                    "{} segmented, send.pcap holds {oversized} frames over the MTU",
                    n("segmented")
                ));
            }
        }
        if let Some(x) = want["min_coalesced_share"].as_f64() {
            let frames = send_report.map_or(0, |j| {
                bulk(j)["offload"]["data_frames"].as_u64().unwrap_or(0)
            });
            if (n("coalesced") as f64) < x * frames as f64 || frames == 0 {
                wrong.push(format!(
                    "{} coalesced, expected {x} of send.pcap's {frames} data frames or more",
                    n("coalesced")
                ));
            }
        }
        if !wrong.is_empty() {
            errors.push(format!(
                "{name} --peer: {} ({})",
                wrong.join("; "),
                f["message"]
            ));
        }
        lost_each_way.push(lost);
    }
    if let [x, y] = lost_each_way[..] {
        if x != y {
            errors.push(format!("--peer: {x} lost one way, {y} the other"));
        }
    }
}

/// The `counter packets N` of the first counter in an `nft list table` dump.
pub fn nft_counter(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path)
        .ok()?
        .split("counter packets ")
        .nth(1)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The packets the scenario's two tcpdumps say they lost themselves ("N packets dropped by
/// kernel" in their logs): each can hide a drop (a sender's) or make one up (a receiver's).
fn capture_drops(out: &Path) -> u64 {
    ["tcpdump-send.log", "tcpdump-recv.log"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(out.join(f)).ok())
        .flat_map(|t| {
            t.lines()
                .filter(|l| l.ends_with("packets dropped by kernel"))
                .filter_map(|l| l.split_whitespace().next()?.parse::<u64>().ok())
                .collect::<Vec<_>>()
        })
        .sum()
}

/// The join's unreceived packets (captured arriving, never in the endpoint's qlog) against the
/// `counter packets N` of the receiver's nftables ingress rule (lab.sh writes nft-ingress.txt).
/// One datagram is one QUIC packet here, save the handshake's coalesced ones, which the qlog
/// counts apart: a difference of 2 or 2% is allowed.
fn unreceived_are_nft_drops(out: &Path, file: &str, json: &Value, errors: &mut Vec<String>) {
    let Some(dropped) = nft_counter(&out.join("nft-ingress.txt")) else {
        errors.push(format!("{file}: no nftables counter in nft-ingress.txt"));
        return;
    };
    let join = json["flows"]
        .as_array()
        .and_then(|a| a.iter().find_map(|f| f["quic"]["qlog"].get(0)));
    let Some(j) = join else {
        errors.push(format!("{file}: no qlog joined"));
        return;
    };
    let n = |k: &str| j[k].as_u64().unwrap_or(0);
    let unreceived = n("capture_from_peer").saturating_sub(n("qlog_received"));
    if unreceived.abs_diff(dropped) > 2.max(dropped / 50) {
        errors.push(format!(
            "{file}: {unreceived} packets captured and not received, nftables dropped {dropped}"
        ));
    }
}

#[test]
fn the_running_kernel_agrees_with_every_lab_scenario() {
    if let Some(why) = missing(&[]).or_else(|| python_missing("aioquic")) {
        assert!(
            std::env::var_os("OFFLOAD_DOCTOR_REQUIRE_LAB").is_none(),
            "the kernel lab is required (OFFLOAD_DOCTOR_REQUIRE_LAB) but cannot run: {why}"
        );
        eprintln!("SKIPPED: the kernel lab (testdata/lab) cannot run here: {why}");
        return;
    }
    let dir = root().join("testdata/lab");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("testdata/lab")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.strip_suffix(".expect.json").map(str::to_string)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 7, "lab scenarios: {names:?}");
    // OFFLOAD_DOCTOR_LAB_ONLY=peer-router: only the scenarios whose names contain it (a
    // developer running one scenario again and again to see whether it is stable).
    if let Ok(only) = std::env::var("OFFLOAD_DOCTOR_LAB_ONLY") {
        names.retain(|n| n.contains(&only));
        assert!(!names.is_empty(), "no lab scenario matches {only:?}");
    }
    let _one_at_a_time = LAB.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    // One after another: the scenarios' timing (NAPI polls, GRO batches) needs the CPUs.
    for name in &names {
        let text = std::fs::read_to_string(dir.join(format!("{name}.expect.json"))).expect("read");
        let exp: Value = serde_json::from_str(&text).expect("valid JSON");
        for e in scenario(name, &exp, &tmp.path().join(name)) {
            failures.push(format!("{name}: {e}"));
        }
    }
    if !failures.is_empty() {
        // Keep the captures of a failed run for a look (CI prints the path).
        failures.push(format!("captures kept in {}", tmp.keep().display()));
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
