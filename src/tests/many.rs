//! Many captures in one run (`analyze A B C`, `analyze DIR`, `check DIR`) and the flow table as
//! CSV/TSV, read back with a reader written here from RFC 4180 (not the exporter's code).

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::common::{json, root, run, CLEAN, NOT_A_CAPTURE, VXLAN_DF0, ZERO_WINDOW};

const STARVED: &str = "testdata/fixtures/tcp_starved_connection.pcap";

/// RFC 4180 §2 records: fields split on `sep` outside double quotes, `""` inside quotes is a
/// quote, records end at CRLF (CSV) or LF (TSV) outside quotes.
fn parse(text: &str, sep: char) -> Vec<Vec<String>> {
    let (mut records, mut record, mut field) = (Vec::new(), Vec::new(), String::new());
    let (mut quoted, mut chars) = (false, text.chars().peekable());
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => field.push(c),
            (false, '"') if field.is_empty() => quoted = true,
            (false, c) if c == sep => record.push(std::mem::take(&mut field)),
            (false, '\r') if chars.peek() == Some(&'\n') => {}
            (false, '\n') => {
                record.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut record));
            }
            (false, c) => field.push(c),
        }
    }
    assert!(
        !quoted && field.is_empty() && record.is_empty(),
        "unterminated record"
    );
    records
}

fn analyze(args: &[&str]) -> crate::common::Run {
    let mut all = vec!["analyze"];
    all.extend(args);
    run(&all)
}

/// The columns docs/csv-format.md lists, in its table's order.
fn documented_columns() -> Vec<String> {
    let doc = fs::read_to_string(root().join("docs/csv-format.md")).expect("docs/csv-format.md");
    doc.lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .map(str::to_string)
        .collect()
}

#[test]
fn csv_is_the_flow_table_read_back_and_documented() {
    let r = analyze(&["--format", "csv", STARVED]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.ends_with("\r\n"),
        "RFC 4180 ends records with CRLF"
    );
    let rows = parse(&r.stdout, ',');
    assert_eq!(rows[0], documented_columns());
    let j = json(&analyze(&["--format", "json", STARVED]).stdout);
    let flows = j["flows"].as_array().expect("flows");
    assert_eq!(rows.len(), 1 + flows.len());
    let col = |name: &str| rows[0].iter().position(|c| c == name).expect(name);
    for (row, f) in rows[1..].iter().zip(flows) {
        assert_eq!(row.len(), rows[0].len());
        assert_eq!(row[col("capture")], STARVED);
        assert_eq!(row[col("flow")], f["id"].to_string());
        assert_eq!(row[col("protocol")], "tcp");
        let client = format!("{}:{}", row[col("client_address")], row[col("client_port")]);
        assert_eq!(client, f["client"].as_str().expect("client"));
        assert_eq!(row[col("frames")], f["frames"].to_string());
        assert_eq!(row[col("s2c_bytes")], f["s2c"]["bytes"].to_string());
        let retx = &f["c2s"]["retransmissions"];
        assert_eq!(row[col("c2s_retransmissions")], retx.to_string());
        assert_eq!(row[col("tunnel")], "");
    }
    // Flow 4's findings, by id; the others have none.
    assert_eq!(
        rows[4][col("findings")],
        "starved-flow zero-window keep-alive"
    );
    assert_eq!(rows[1][col("findings")], "");
    // Selection applies to the table too.
    let r = analyze(&["--format", "tsv", "--port", "41001", STARVED]);
    let rows = parse(&r.stdout, '\t');
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1][1], "2");
    assert!(!r.stdout.contains('\r'));
}

#[test]
fn fields_with_separators_quotes_and_line_breaks_are_quoted() {
    let dir = tempfile::tempdir().expect("temp dir");
    let odd = dir.path().join("a,b\t\"c\"\nd.pcap");
    fs::copy(root().join(CLEAN), &odd).expect("copy");
    let name = odd.to_string_lossy().into_owned();
    for (format, sep) in [("csv", ','), ("tsv", '\t')] {
        let r = analyze(&["--format", format, &name]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let rows = parse(&r.stdout, sep);
        assert_eq!(rows.len(), 2, "{format}: {:?}", r.stdout);
        assert_eq!(rows[1][0], name, "{format}");
        assert_eq!(rows[1].len(), rows[0].len(), "{format}");
    }
}

/// A directory with captures under other names, a nested folder, text and a symlink.
fn capture_dir(dir: &Path) {
    let copy = |from: &str, to: &str| {
        fs::copy(root().join(from), dir.join(to)).expect("copy");
    };
    fs::create_dir(dir.join("sub")).expect("mkdir");
    copy(ZERO_WINDOW, "b.pcap");
    copy(CLEAN, "sub/c.txt");
    copy(VXLAN_DF0, "a.cap");
    copy(NOT_A_CAPTURE, "notes.pcap");
    copy("testdata/fixtures/tcp_gzip.pcap.gz", "d.bin");
    fs::write(dir.join("README"), "captures of the night\n").expect("write");
    std::os::unix::fs::symlink(dir.join("b.pcap"), dir.join("link.pcap")).expect("symlink");
}

#[test]
fn a_directory_is_walked_by_content_in_name_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    capture_dir(dir.path());
    let d = dir.path().to_string_lossy().into_owned();
    let r = analyze(&["--format", "json", &d]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v = json(&r.stdout);
    let paths: Vec<String> = v["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| {
            f["path"]
                .as_str()
                .expect("path")
                .trim_start_matches(&d)
                .to_string()
        })
        .collect();
    assert_eq!(paths, ["/a.cap", "/b.pcap", "/d.bin", "/sub/c.txt"]);
    // notes.pcap (text), README and the symlink.
    assert_eq!(v["skipped_files"], 3);
    assert_eq!(v["schema_version"], 1);
    assert!(v["files"]
        .as_array()
        .expect("files")
        .iter()
        .all(|f| f["status"] == "analysed"));
    // Each report is the one a run on that file alone gives.
    let alone = json(&analyze(&["--format", "json", &format!("{d}/a.cap")]).stdout);
    assert_eq!(v["files"][0]["report"], alone);
    let text = analyze(&[&d]);
    assert!(
        text.stdout
            .contains("4 captures; 3 other files in the directories skipped"),
        "{}",
        text.stdout
    );
}

#[test]
fn many_files_give_one_row_each_in_argument_order() {
    let args = [ZERO_WINDOW, NOT_A_CAPTURE, VXLAN_DF0, CLEAN, STARVED];
    let r = analyze(&args);
    assert_eq!(r.code, 2, "an unreadable file: exit 2");
    assert!(r.stderr.contains(NOT_A_CAPTURE), "{}", r.stderr);
    let rows: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("testdata/"))
        .collect();
    assert_eq!(rows.len(), args.len(), "{}", r.stdout);
    for (row, path) in rows.iter().zip(args) {
        assert!(row.trim_start().starts_with(path), "{row}");
    }
    let cells = |i: usize| -> Vec<&str> {
        rows[i]
            .split("  ")
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .collect()
    };
    assert!(
        cells(1).iter().any(|c| c.starts_with("unreadable:")),
        "{:?}",
        cells(1)
    );
    // capture, frames, flows, warnings, errors, verdict.
    let df0 = cells(2);
    assert_eq!(df0[4], "1", "{df0:?}");
    let starved = cells(4);
    assert_eq!(
        (starved[2], starved[3], starved[4]),
        ("4", "2", "0"),
        "{starved:?}"
    );
    assert!(
        r.stdout.contains("5 captures, 1 unreadable"),
        "{}",
        r.stdout
    );
    // CSV of many: one header, every capture's flows.
    let r = analyze(&["--format", "csv", CLEAN, STARVED]);
    let rows = parse(&r.stdout, ',');
    let captures: Vec<&str> = rows[1..].iter().map(|r| r[0].as_str()).collect();
    assert_eq!(captures, [CLEAN, STARVED, STARVED, STARVED, STARVED]);
}

#[test]
fn json_of_many_files_keeps_order_and_says_what_failed() {
    let r = analyze(&[
        "--format",
        "json",
        STARVED,
        NOT_A_CAPTURE,
        CLEAN,
        "--flow",
        "1",
    ]);
    assert_eq!(r.code, 2);
    let v: Value = json(&r.stdout);
    let files = v["files"].as_array().expect("files");
    let status: Vec<&str> = files.iter().filter_map(|f| f["status"].as_str()).collect();
    assert_eq!(status, ["analysed", "unreadable", "analysed"]);
    assert!(files[1]["report"].is_null() && files[1]["error"].is_string());
    assert_eq!(files[0]["report"]["selection"]["flows_selected"], 1);
    assert_eq!(files[2]["path"], CLEAN);
    let r = analyze(&["--plots", "/tmp/x", CLEAN, STARVED]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("--plots draws the graphs of one capture"),
        "{}",
        r.stderr
    );
}

#[test]
fn check_takes_directories_and_keeps_argument_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    capture_dir(dir.path());
    let d = dir.path().to_string_lossy().into_owned();
    let r = run(&["check", &d, CLEAN]);
    assert_eq!(r.code, 1, "a.cap fails on gro-blocked-ip-id: {}", r.stdout);
    let lines: Vec<&str> = r
        .stdout
        .lines()
        .filter(|l| l.starts_with("PASS") || l.starts_with("FAIL"))
        .collect();
    assert!(
        lines[0].starts_with(&format!("FAIL  {d}/a.cap: ")),
        "{}",
        r.stdout
    );
    assert!(
        lines[1].starts_with(&format!("PASS  {d}/b.pcap: ")),
        "{}",
        r.stdout
    );
    assert!(
        lines[4].starts_with(&format!("PASS  {CLEAN}: ")),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("5 captures checked"), "{}", r.stdout);
    assert!(
        r.stderr
            .contains("3 other files in the directories skipped"),
        "{}",
        r.stderr
    );
}
