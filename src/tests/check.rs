//! `check` end to end: every exit code, policies, JSON, and JUnit XML checked against the JUnit
//! schema's structure.

use crate::common::{
    ids_of, json, policy, run, CLEAN, CUT_SHORT, DAMAGED, KEEPALIVE, NOT_A_CAPTURE, RETX_LOW,
    VXLAN_DF0, ZERO_WINDOW,
};

#[test]
fn check_passes_fails_and_errors_with_the_documented_codes() {
    // 0: nothing at or above error.
    let r = run(&["check", CLEAN]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.starts_with(&format!("PASS  {CLEAN}: ")),
        "{}",
        r.stdout
    );
    assert!(r
        .stdout
        .ends_with("1 capture checked (fail on error): 1 passed, 0 failed, 0 not readable\n"));

    // 1: gro-blocked-ip-id is an error; the failing finding and `explain` are named.
    let r = run(&["check", VXLAN_DF0]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.starts_with(&format!(
        "FAIL  {VXLAN_DF0}: gro-blocked-ip-id (1 error, 0 warnings, 1 info)"
    )));
    assert!(r
        .stdout
        .contains("offload-doctor explain gro-blocked-ip-id"));

    // Warnings pass by default and fail with --fail-on warning.
    assert_eq!(run(&["check", ZERO_WINDOW]).code, 0);
    assert_eq!(run(&["check", "--fail-on", "warning", ZERO_WINDOW]).code, 1);
    // Info findings fail only at --fail-on info.
    assert_eq!(run(&["check", "--fail-on", "warning", KEEPALIVE]).code, 0);
    assert_eq!(run(&["check", "--fail-on", "info", KEEPALIVE]).code, 1);
    // A capture cut mid-record is read up to the cut: a warning, not an input error.
    assert_eq!(run(&["check", CUT_SHORT]).code, 0);

    // 2: not a capture, damaged mid-file, missing, usage errors.
    for bad in [NOT_A_CAPTURE, DAMAGED, "testdata/fixtures/missing.pcap"] {
        let r = run(&["check", bad]);
        assert_eq!(r.code, 2, "{bad}: {}{}", r.stdout, r.stderr);
        assert!(
            r.stdout.starts_with(&format!("ERROR {bad}: ")),
            "{}",
            r.stdout
        );
        // The path is said once, not repeated by the error's context.
        assert_eq!(
            r.stdout.lines().next().map(|l| l.matches(bad).count()),
            Some(1)
        );
    }
    assert_eq!(run(&["check"]).code, 2);
    assert_eq!(run(&["check", "--fail-on", "fatal", CLEAN]).code, 2);
    assert_eq!(run(&["check", "-", "-"]).code, 2);
}

#[test]
fn several_captures_give_a_line_each_and_the_worst_code() {
    let r = run(&["check", CLEAN, VXLAN_DF0, KEEPALIVE]);
    assert_eq!(r.code, 1);
    let heads: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| !l.starts_with(' '))
        .map(|l| l.split_whitespace().next().unwrap_or(""))
        .collect();
    assert_eq!(heads, ["PASS", "FAIL", "PASS", "3"], "{}", r.stdout);
    // An unreadable capture outranks a failing one, and the others are still checked.
    let r = run(&["check", VXLAN_DF0, NOT_A_CAPTURE, CLEAN]);
    assert_eq!(r.code, 2);
    assert!(r
        .stdout
        .contains("3 captures checked (fail on error): 1 passed, 1 failed, 1 not readable"));
}

#[test]
fn policies_set_severities_thresholds_and_fail_on() {
    // "ignore" drops the finding: the capture passes, and the report says what was dropped.
    let p = policy("ignore", "[severity]\ngro-blocked-ip-id = \"ignore\"\n");
    let ps = p.to_string_lossy();
    let r = run(&["check", "--policy", &ps, VXLAN_DF0]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let r = run(&["analyze", "--format", "json", "--policy", &ps, VXLAN_DF0]);
    let v = json(&r.stdout);
    assert_eq!(ids_of(&v), ["no-coalescing"]);
    assert_eq!(v["ignored"]["gro-blocked-ip-id"], 1);
    // What is left is the info-level no-coalescing of a 40-segment flow.
    assert_ne!(v["verdict"]["status"], "error");

    // "fail if retransmissions > 0.4%": the 0.49% flow is raised to the policy's severity.
    assert_eq!(run(&["check", "--fail-on", "warning", RETX_LOW]).code, 0);
    let p = policy(
        "retx",
        "[thresholds]\nretransmission-rate = \"0.4%\"\n[severity]\nretransmissions = \"error\"\n",
    );
    let ps = p.to_string_lossy();
    let r = run(&["check", "--policy", &ps, RETX_LOW]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains("error retransmissions"));
    // The command line wins over the policy: back above the rate, the finding is info again.
    let r = run(&[
        "check",
        "--policy",
        &ps,
        "--retransmission-threshold",
        "1",
        RETX_LOW,
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    // Below the threshold the policy's severity does not apply: it stays info.
    let p = policy("retx-sev-only", "[severity]\nretransmissions = \"error\"\n");
    assert_eq!(
        run(&["check", "--policy", &p.to_string_lossy(), RETX_LOW]).code,
        0
    );

    // fail-on from the policy; --fail-on wins over it.
    let p = policy("failon", "fail-on = \"warning\"\n");
    let ps = p.to_string_lossy();
    assert_eq!(run(&["check", "--policy", &ps, ZERO_WINDOW]).code, 1);
    assert_eq!(
        run(&["check", "--policy", &ps, "--fail-on", "error", ZERO_WINDOW]).code,
        0
    );
    // "fail on keep-alive" by raising an info finding.
    let p = policy("ka", "[severity]\nkeep-alive = \"error\"\n");
    assert_eq!(
        run(&["check", "--policy", &p.to_string_lossy(), KEEPALIVE]).code,
        1
    );

    // A broken policy is a usage error naming the file and the mistake.
    let p = policy("typo", "[severity]\nkeepalive = \"ignore\"\n");
    let r = run(&["check", "--policy", &p.to_string_lossy(), CLEAN]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains(
            "policy.toml: [severity]: there is no finding `keepalive` (did you mean `keep-alive`?)"
        ),
        "{}",
        r.stderr
    );
    let r = run(&["check", "--policy", "no/such/policy.toml", CLEAN]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no/such/policy.toml"));
}

#[test]
fn check_json_lists_every_capture_with_its_report() {
    let r = run(&["check", "--format", "json", VXLAN_DF0, NOT_A_CAPTURE, CLEAN]);
    assert_eq!(r.code, 2);
    let v = json(&r.stdout);
    assert_eq!(v["schema_version"], 1);
    assert_eq!(v["fail_on"], "error");
    assert_eq!(v["result"], "error");
    assert_eq!(v["exit_code"], 2);
    let caps = v["captures"].as_array().expect("captures");
    let results: Vec<&str> = caps.iter().filter_map(|c| c["result"].as_str()).collect();
    assert_eq!(results, ["fail", "error", "pass"]);
    // `failing` indexes the report's findings at or above fail-on.
    let failing: Vec<&str> = caps[0]["failing"]
        .as_array()
        .expect("failing")
        .iter()
        .filter_map(|i| {
            caps[0]["report"]["findings"][i.as_u64().unwrap_or(999) as usize]["id"].as_str()
        })
        .collect();
    assert_eq!(failing, ["gro-blocked-ip-id"]);
    assert!(caps[1]["report"].is_null());
    assert!(caps[1]["error"]
        .as_str()
        .is_some_and(|e| e.contains("not a pcap")));
    assert_eq!(caps[2]["report"]["verdict"]["status"], "ok");
}

/// Checks the structure the JUnit XML schema (Jenkins junit-10.xsd, as GitLab, GitHub and Jenkins
/// read it) requires: `testsuites` > `testsuite` (name, tests, failures, errors, skipped) >
/// `testcase` (name, classname) with at most one of `failure`/`error`/`skipped`, and counts that
/// add up. Returns (suite name → [(case name, status)]).
fn junit_structure(xml: &str) -> Vec<(String, Vec<(String, &'static str)>)> {
    let doc = roxmltree::Document::parse(xml).expect("well-formed XML");
    let root = doc.root_element();
    assert_eq!(root.tag_name().name(), "testsuites");
    let attr = |n: roxmltree::Node<'_, '_>, a: &str| -> usize {
        n.attribute(a)
            .unwrap_or_else(|| panic!("<{}> lacks {a}", n.tag_name().name()))
            .parse()
            .unwrap_or_else(|_| panic!("{a} is not a count"))
    };
    let mut out = Vec::new();
    let (mut tests, mut failures, mut errors, mut skipped) = (0, 0, 0, 0);
    for suite in root.children().filter(|n| n.is_element()) {
        assert_eq!(suite.tag_name().name(), "testsuite");
        let name = suite.attribute("name").expect("suite name").to_string();
        let mut cases = Vec::new();
        let (mut f, mut e, mut s) = (0, 0, 0);
        for case in suite.children().filter(|n| n.is_element()) {
            match case.tag_name().name() {
                "properties" => {
                    for p in case.children().filter(|n| n.is_element()) {
                        assert_eq!(p.tag_name().name(), "property");
                        assert!(p.attribute("name").is_some() && p.attribute("value").is_some());
                    }
                    continue;
                }
                "testcase" => {}
                other => panic!("unexpected <{other}> in a testsuite"),
            }
            let cname = case.attribute("name").expect("case name").to_string();
            assert!(
                case.attribute("classname").is_some(),
                "{cname} lacks classname"
            );
            let outcomes: Vec<&str> = case
                .children()
                .filter(|n| n.is_element())
                .map(|n| n.tag_name().name())
                .filter(|n| ["failure", "error", "skipped"].contains(n))
                .collect();
            assert!(outcomes.len() <= 1, "{cname}: {outcomes:?}");
            let status = match outcomes.first().copied() {
                None => "pass",
                Some("failure") => {
                    f += 1;
                    "failure"
                }
                Some("error") => {
                    e += 1;
                    "error"
                }
                _ => {
                    s += 1;
                    "skipped"
                }
            };
            for n in case.children().filter(|n| n.is_element()) {
                if ["failure", "error"].contains(&n.tag_name().name()) {
                    assert!(n.attribute("message").is_some_and(|m| !m.is_empty()));
                    assert!(n.attribute("type").is_some());
                }
            }
            cases.push((cname, status));
        }
        assert_eq!(attr(suite, "tests"), cases.len(), "{name}: tests");
        assert_eq!(attr(suite, "failures"), f, "{name}: failures");
        assert_eq!(attr(suite, "errors"), e, "{name}: errors");
        assert_eq!(attr(suite, "skipped"), s, "{name}: skipped");
        tests += cases.len();
        (failures, errors, skipped) = (failures + f, errors + e, skipped + s);
        out.push((name, cases));
    }
    assert_eq!(attr(root, "tests"), tests);
    assert_eq!(attr(root, "failures"), failures);
    assert_eq!(attr(root, "errors"), errors);
    assert_eq!(attr(root, "skipped"), skipped);
    out
}

#[test]
fn junit_has_a_case_per_detector_per_capture() {
    let dir = std::env::temp_dir().join(format!("od-junit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let out = dir.join("junit.xml");
    let p = policy("junit", "[severity]\nkeep-alive = \"ignore\"\n");
    let r = run(&[
        "check",
        "--policy",
        &p.to_string_lossy(),
        "--junit",
        &out.to_string_lossy(),
        VXLAN_DF0,
        CLEAN,
        NOT_A_CAPTURE,
        DAMAGED,
    ]);
    assert_eq!(r.code, 2, "{}", r.stdout);
    let xml = std::fs::read_to_string(&out).expect("JUnit written");
    let suites = junit_structure(&xml);
    let names: Vec<&str> = suites.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(names, [VXLAN_DF0, CLEAN, NOT_A_CAPTURE, DAMAGED]);

    // The detector list, from the documentation's table (which `docs_cover_every_finding_id`
    // keeps equal to the registry).
    let ids: Vec<String> = offload_doctor::analysis::finding_ids()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(ids.len(), 31);
    let status = |suite: usize, id: &str| {
        suites[suite]
            .1
            .iter()
            .find(|c| c.0 == id)
            .map(|c| c.1)
            .unwrap_or("absent")
    };
    let case_names =
        |suite: usize| -> Vec<String> { suites[suite].1.iter().map(|c| c.0.clone()).collect() };
    assert_eq!(case_names(0), ids);
    assert_eq!(case_names(1), ids);
    assert_eq!(status(0, "gro-blocked-ip-id"), "failure");
    // Below fail-on: passes (its text in system-out); ignored by the policy: skipped.
    assert_eq!(status(0, "no-coalescing"), "pass");
    assert!(xml.contains("<system-out>[info] flow 1: The capture was taken on the receiver"));
    assert_eq!(status(0, "keep-alive"), "skipped");
    assert!(suites[1].1.iter().all(|c| c.1 != "failure"));
    // Unreadable: a single `read` case in error; damaged: the detectors plus `read`.
    assert_eq!(case_names(2), ["read"]);
    assert_eq!(status(2, "read"), "error");
    assert_eq!(status(3, "read"), "error");
    assert_eq!(suites[3].1.len(), ids.len() + 1);
    // Written whole, with nothing left beside it.
    let left: Vec<_> = std::fs::read_dir(&dir)
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name())
        .collect();
    assert_eq!(left.len(), 1, "{left:?}");
    let _ = std::fs::remove_dir_all(dir);
}
