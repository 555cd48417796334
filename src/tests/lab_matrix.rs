//! The GRO header matrix of the kernel lab, pair by pair: crafted segments (testdata/lab/
//! gro_matrix.py) replayed through the running kernel's GRO, and the model's verdict on every
//! pair of consecutive segments held against what the kernel merged. `gro-blocked-ip-id` and
//! `gro-blocked-headers` must fire exactly on the cases where the kernel refused most pairs for
//! their reason.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use offload_doctor::analysis::Settings;
use offload_doctor::capture::Input;
use offload_doctor::decode::DecodeConfig;
use offload_doctor::gro::{Kernel, PairVerdict};
use offload_doctor::pipeline::gro_pairs;
use serde::Deserialize;

use crate::common::{analyze_json, root};
use crate::lab::{missing, LAB};

/// Linux's cap on a merged packet (include/linux/netdevice.h `GRO_LEGACY_MAX_SIZE`, checked in
/// net/core/gro.c `skb_gro_receive`: `p->len + len >= gro_max_size` starts a new train).
const GRO_MAX_SIZE: u64 = 65536;

/// What a case varies.
#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
enum Reason {
    IpId,
    /// A header rule.
    Headers,
    /// The traffic's shape: window, ACK, sizes, gaps.
    Shape,
    /// PSH: the application's message boundary, where GRO flushes by design. Never a warning;
    /// `gro-blocked-headers` notes it (info) when the kernel refused most pairs.
    Psh,
    None,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    reason: Reason,
    sport: u16,
    file: String,
    /// [seq, payload length] of each crafted segment.
    segments: Vec<(u64, u64)>,
}

/// The received frame holding each segment, as an index into the case's received frames.
fn landing(segments: &[(u64, u64)], received: &[(u64, u64, u64)]) -> Vec<Option<usize>> {
    segments
        .iter()
        .map(|&(seq, _)| {
            received
                .iter()
                .position(|&(s, len, _)| s <= seq && seq < s + len)
        })
        .collect()
}

/// What one case showed: pairs the kernel refused (not counting its size cap), and errors.
struct Outcome {
    pairs: usize,
    refused: usize,
    errors: Vec<String>,
}

/// Holds the model's verdict on each pair against the kernel's merges.
fn compare(
    case: &Case,
    verdicts: &BTreeMap<u64, PairVerdict>,
    received: &[(u64, u64, u64)],
) -> Outcome {
    let land = landing(&case.segments, received);
    let mut out = Outcome {
        pairs: case.segments.len() - 1,
        refused: 0,
        errors: Vec::new(),
    };
    for i in 1..case.segments.len() {
        let (Some(a), Some(b)) = (land[i - 1], land[i]) else {
            out.errors
                .push(format!("segment {} or {} never arrived", i, i + 1));
            continue;
        };
        let merged = a == b;
        // The kernel's frame was full: the next segment could not join whatever its headers.
        let capped = !merged && received[a].2 + case.segments[i].1 >= GRO_MAX_SIZE;
        if !merged && !capped {
            out.refused += 1;
        }
        // Frame numbers are 1-based: the pair (i, i + 1) closes at frame i + 1.
        let verdict = verdicts.get(&(i as u64 + 1)).copied();
        let ok = match verdict {
            Some(PairVerdict::Mergeable) => merged || capped,
            Some(PairVerdict::Blocked(_)) => !merged,
            // Not judged: only a train's short last segment, which the kernel takes in (and
            // which then ends the train).
            Some(PairVerdict::NotJudged) => !merged || case.segments[i].1 < case.segments[i - 1].1,
            Some(PairVerdict::First) | None => false,
        };
        if !ok {
            out.errors.push(format!(
                "pair {}-{}: model {verdict:?}, kernel {}",
                i,
                i + 1,
                if merged { "merged" } else { "did not merge" }
            ));
        }
    }
    out
}

/// The `gro-blocked-*` findings `analyze --kernel RELEASE` gives on the case, by id: their
/// severity, and whether they say the selected kernel refuses (an info finding may say that only
/// other generations would).
fn gro_findings(path: &Path, release: &str) -> BTreeMap<String, (String, bool)> {
    let (r, json) = analyze_json(path, &["--kernel".into(), release.into()]);
    let Some(json) = json else {
        return BTreeMap::from([("no report".into(), (r.stderr, true))]);
    };
    let selected = Kernel::parse(release).map_or("?", Kernel::name);
    json["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| {
            f["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("gro-blocked"))
        })
        .filter_map(|f| {
            let severity = f["severity"].as_str()?;
            // gro-blocked-headers judges under the selected kernel only; its info note (PSH
            // ending the trains: the application's message boundaries) blames no header.
            let refuses = f["details"]["blocked_by_kernel"][selected]
                .as_bool()
                .unwrap_or(severity != "info");
            Some((f["id"].as_str()?.into(), (severity.into(), refuses)))
        })
        .collect()
}

/// The GRO findings the kernel's behaviour calls for on a case: the one of its reason when the
/// kernel refused at least half of the pairs.
fn wanted(case: &Case, o: &Outcome) -> BTreeSet<&'static str> {
    let mostly_refused = o.refused * 2 >= o.pairs;
    match case.reason {
        Reason::IpId if mostly_refused => BTreeSet::from(["gro-blocked-ip-id"]),
        Reason::Headers if mostly_refused => BTreeSet::from(["gro-blocked-headers"]),
        Reason::IpId | Reason::Headers | Reason::Shape | Reason::Psh | Reason::None => {
            BTreeSet::new()
        }
    }
}

fn run_case(
    case: &Case,
    dir: &Path,
    release: &str,
    kernel: &BTreeMap<String, Vec<(u64, u64, u64)>>,
) -> Vec<String> {
    let mut settings = Settings::default();
    settings.flows.gro.kernel = Kernel::parse(release).expect("a kernel release");
    let path = dir.join(&case.file);
    let verdicts: BTreeMap<u64, PairVerdict> = gro_pairs(
        &Input::Path(path.clone()),
        &DecodeConfig::default(),
        &settings,
    )
    .expect("the case reads")
    .into_iter()
    .collect();
    let received = kernel
        .get(&case.sport.to_string())
        .map_or(&[][..], Vec::as_slice);
    let o = compare(case, &verdicts, received);
    let mut errors = o.errors.clone();
    let got = gro_findings(&path, release);
    let refusing: BTreeSet<&str> = got
        .iter()
        .filter(|(_, (_, refuses))| *refuses)
        .map(|(id, _)| id.as_str())
        .collect();
    let want = wanted(case, &o);
    // PSH ending most trains is noted, as the application's message boundaries.
    let psh_noted = got
        .get("gro-blocked-headers")
        .is_some_and(|(severity, _)| severity == "info");
    if case.reason == Reason::Psh && o.refused * 2 >= o.pairs && !psh_noted {
        errors.push(format!("no info gro-blocked-headers note: {got:?}"));
    }
    if refusing != want {
        errors.push(format!(
            "kernel refused {} of {} pairs: findings {got:?}, expected {want:?}",
            o.refused, o.pairs
        ));
    }
    for (id, (severity, refuses)) in &got {
        let expected = match (want.contains(id.as_str()), id.as_str()) {
            (true, "gro-blocked-ip-id") => "error",
            (true, _) => "warning",
            // Only what other kernel generations would do: a note.
            (false, _) => "info",
        };
        if severity != expected && (*refuses || expected != "info") {
            errors.push(format!("{id} is {severity}, expected {expected}"));
        }
    }
    errors
}

#[test]
fn the_running_kernel_merges_exactly_the_pairs_the_model_calls_mergeable() {
    if let Some(why) = missing(&["tcpreplay", "chrt", "taskset", "pgrep"]) {
        assert!(
            std::env::var_os("OFFLOAD_DOCTOR_REQUIRE_LAB").is_none(),
            "the kernel lab is required (OFFLOAD_DOCTOR_REQUIRE_LAB) but cannot run: {why}"
        );
        eprintln!("SKIPPED: the GRO matrix (testdata/lab) cannot run here: {why}");
        return;
    }
    let _one_at_a_time = LAB.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path();
    let run = Command::new("bash")
        .arg(root().join("testdata/lab/lab.sh"))
        .args(["gro-matrix", &out.to_string_lossy()])
        .output()
        .expect("bash runs");
    assert!(
        run.status.success(),
        "lab.sh: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let read = |f: &str| std::fs::read_to_string(out.join(f)).expect(f);
    let cases: Vec<Case> = serde_json::from_str(&read("cases.json")).expect("cases.json");
    let kernel: BTreeMap<String, Vec<(u64, u64, u64)>> =
        serde_json::from_str(&read("kernel.json")).expect("kernel.json");
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").expect("osrelease");
    let release = release.trim();
    assert!(cases.len() >= 50, "{} cases", cases.len());
    let mut failures = Vec::new();
    for case in &cases {
        for e in run_case(case, out, release, &kernel) {
            failures.push(format!("{}: {e}", case.name));
        }
    }
    if !failures.is_empty() {
        failures.push(format!("captures kept in {}", tmp.keep().display()));
    }
    assert!(
        failures.is_empty(),
        "kernel {release}:\n{}",
        failures.join("\n")
    );
}
