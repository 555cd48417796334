//! The qlog reader on hand-written files in each writer's shape, and on broken ones.

use std::path::Path;

use super::*;

fn parse(text: &str) -> Result<Vec<QlogTrace>, QlogError> {
    read(Path::new("t.qlog"), text.as_bytes())
}

fn one(text: &str) -> QlogTrace {
    let mut t = parse(text).expect("parses");
    assert_eq!(t.len(), 1);
    t.remove(0)
}

/// aioquic's QuicFileLogger: one line, absolute times in ms, common_fields before events.
const AIOQUIC: &str = r#"{"qlog_format": "JSON", "qlog_version": "0.3", "traces": [{"common_fields": {"ODCID": "98412f0267854bd9"}, "events": [
 {"data": {"cwnd": 12000, "bytes_in_flight": 177}, "name": "recovery:metrics_updated", "time": 1796324472027.0},
 {"data": {"frames": [], "header": {"packet_number": 0, "packet_type": "initial", "scid": "aa01", "dcid": "98412f0267854bd9"}, "raw": {"length": 1200}}, "name": "transport:packet_sent", "time": 1796324472030.5},
 {"data": {"header": {"packet_type": "1RTT", "dcid": "bb02"}}, "name": "transport:packet_sent", "time": 1796324472031.0},
 {"data": {"header": {"packet_type": "handshake", "scid": "bb02"}}, "name": "transport:packet_received", "time": 1796324472040.0},
 {"data": {"latest_rtt": 9.5, "min_rtt": 9.5, "smoothed_rtt": 9.5, "bytes_in_flight": 0}, "name": "recovery:metrics_updated", "time": 1796324472041.0},
 {"data": {"header": {"packet_type": "1RTT"}}, "name": "recovery:packet_lost", "time": 1796324472050.0},
 {"data": {"count": 2, "raw": [{"length": 1}, {"length": 2}]}, "name": "transport:datagrams_sent", "time": 1796324472051.0}
], "vantage_point": {"name": "aioquic", "type": "client"}}]}"#;

#[test]
fn aioquic_json_document() {
    let t = one(AIOQUIC);
    assert_eq!(t.vantage, Vantage::Client);
    assert_eq!(
        t.odcid.map(|c| c.hex()).as_deref(),
        Some("98412f0267854bd9")
    );
    let cids: Vec<String> = t.cids.iter().map(QlogCid::hex).collect();
    assert_eq!(cids, ["98412f0267854bd9", "aa01", "bb02"]);
    let y = &t.tally;
    assert_eq!((y.sent.packets, y.sent.initial, y.sent.one_rtt), (2, 1, 1));
    assert_eq!((y.received.packets, y.received.handshake), (1, 1));
    assert_eq!((y.lost, y.datagrams_sent), (1, 2));
    assert_eq!(y.clock, Clock::Absolute);
    assert_eq!(y.first_sent_ms, Some(1796324472030.5));
    assert_eq!(y.min_rtt_ms, Some(9.5));
    assert_eq!((y.max_cwnd, y.max_in_flight), (Some(12000), Some(177)));
    // The second metrics event changed only bytes in flight: the cwnd carries over.
    assert_eq!(y.points[1].cwnd, Some(12000));
    assert_eq!(y.points[1].in_flight, Some(0));
    assert!(t.names(&[0xbb, 0x02]) && !t.names(&[0xbb]) && !t.names(&[]));
}

/// quic-go's writer: RS-framed records, draft-02, times relative to reference_time (Unix ms).
const QUIC_GO: &str = "\x1e{\"qlog_format\":\"JSON-SEQ\",\"qlog_version\":\"draft-02\",\"title\":\"quic-go qlog\",\"trace\":{\"vantage_point\":{\"type\":\"server\"},\"common_fields\":{\"ODCID\":\"c0ffee\",\"group_id\":\"c0ffee\",\"reference_time\":1700000000000.5,\"time_format\":\"relative\"}}}\n\
\x1e{\"time\":1.25,\"name\":\"transport:packet_sent\",\"data\":{\"header\":{\"packet_type\":\"1RTT\",\"packet_number\":7}}}\n\
\x1e{\"time\":2.5,\"name\":\"transport:packet_received\",\"data\":{\"header\":{\"packet_type\":\"initial\"}}}\n";

#[test]
fn quic_go_json_seq() {
    let t = one(QUIC_GO);
    assert_eq!(t.vantage, Vantage::Server);
    assert_eq!(t.odcid.map(|c| c.hex()).as_deref(), Some("c0ffee"));
    assert_eq!(t.tally.sent.one_rtt, 1);
    assert_eq!(t.tally.received.initial, 1);
    assert_eq!(t.tally.clock, Clock::Absolute);
    assert_eq!(t.tally.first_sent_ms, Some(1700000000001.75));
    assert!(!t.tally.truncated);
}

#[test]
fn ndjson_delta_times_and_new_names() {
    // No separators; the QUIC event draft's names; times as deltas; a monotonic clock.
    let text = "{\"qlog_format\":\"NDJSON\",\"trace\":{\"common_fields\":{\"group_id\":\"0102\",\"time_format\":\"delta\",\"reference_time\":{\"clock_type\":\"monotonic\"}}}}\n\
{\"time\":10,\"name\":\"quic:packet_sent\",\"data\":{\"header\":{\"packet_type\":\"1RTT\"}}}\n\
\n\
{\"time\":5,\"name\":\"quic:packet_sent\",\"data\":{\"header\":{\"packet_type\":\"1RTT\"}}}\n";
    let t = one(text);
    assert_eq!(t.odcid.map(|c| c.hex()).as_deref(), Some("0102"));
    assert_eq!(t.tally.sent.packets, 2);
    assert_eq!(t.tally.clock, Clock::Relative);
    assert_eq!(
        (t.tally.first_ms, t.tally.last_ms),
        (Some(10.0), Some(15.0))
    );
}

#[test]
fn draft_01_category_and_event_fields() {
    let text = r#"{"qlog_format":"JSON","traces":[{"events":[{"time":1,"category":"transport","event":"packet_sent","data":{}}]}]}"#;
    let t = one(text);
    assert_eq!(t.tally.sent.packets, 1);
    assert_eq!(t.vantage, Vantage::Unknown);
    assert_eq!(t.odcid, None);
}

#[test]
fn a_record_cut_short_at_the_end_is_left_out() {
    let cut = format!("{QUIC_GO}\x1e{{\"time\":3,\"name\":\"transport:pac");
    let t = one(&cut);
    assert!(t.tally.truncated);
    assert_eq!(t.tally.sent.packets, 1);
}

#[test]
fn broken_files_are_errors_naming_the_line() {
    let broken = QUIC_GO.replacen("{\"time\":2.5", "{\"time\":2.5,,", 1);
    let e = parse(&broken).expect_err("broken");
    assert_eq!(e.line, Some(3), "{e}");
    assert!(e.to_string().starts_with("t.qlog:3: column"), "{e}");
    let e = parse("").expect_err("empty");
    assert_eq!(e.to_string(), "t.qlog:1: empty file: not a qlog file");
    let e = parse("\n\n  \n").expect_err("blank");
    assert!(e.to_string().contains("empty file"), "{e}");
    let e = parse("PK\x03\x04").expect_err("zip");
    assert!(e.to_string().contains("not a qlog file"), "{e}");
    let e = parse("{\"traces\": []}").expect_err("no trace");
    assert!(e.to_string().contains("no trace"), "{e}");
    let e = parse("\x1e{\"qlog_format\":\"JSON-SEQ\"}\n").expect_err("no header trace");
    assert!(e.to_string().contains("no \"trace\""), "{e}");
    let multi = AIOQUIC.replace(
        "\n {\"data\": {\"count\"",
        "\n {\"data\": {\"count\": [}, \"x\"",
    );
    let e = parse(&multi).expect_err("bad event");
    assert_eq!(e.line, Some(8), "{e}");
    let e = parse(&format!("{AIOQUIC} trailing")).expect_err("trailing");
    assert!(e.to_string().contains("trailing"), "{e}");
}

#[test]
fn a_record_longer_than_the_limit_is_refused() {
    let long = format!(
        "{QUIC_GO}\x1e{{\"time\":1,\"name\":\"{}\"}}\n",
        "x".repeat(seq::MAX_RECORD)
    );
    let e = parse(&long).expect_err("too long");
    assert_eq!(e.line, Some(4));
    assert!(e.to_string().contains("longer than"), "{e}");
}

#[test]
fn every_prefix_of_a_file_is_a_result_not_a_panic() {
    for text in [AIOQUIC, QUIC_GO] {
        for n in 0..text.len() {
            if text.is_char_boundary(n) {
                let _ = parse(&text[..n]);
            }
        }
    }
}

#[test]
fn metric_points_stay_bounded_and_cover_the_whole_trace() {
    let mut text = String::from("\x1e{\"trace\":{}}\n");
    let n = 3 * MAX_POINTS + 7;
    for i in 0..n {
        text.push_str(&format!(
            "\x1e{{\"time\":{i},\"name\":\"recovery:metrics_updated\",\"data\":{{\"cwnd\":{i}}}}}\n"
        ));
    }
    let t = one(&text);
    let p = &t.tally.points;
    assert!(
        p.len() <= MAX_POINTS && p.len() > MAX_POINTS / 4,
        "{}",
        p.len()
    );
    assert_eq!(p[0].t_ms, 0.0);
    assert!(p[p.len() - 1].t_ms > (n - 8 * 4) as f64 / 1.0 - 16.0);
    assert!(p.windows(2).all(|w| w[0].t_ms < w[1].t_ms));
    assert_eq!(t.tally.max_cwnd, Some(n as u64 - 1));
}

#[test]
fn cid_hex() {
    assert_eq!(
        QlogCid::from_hex("0aFf").map(|c| c.as_bytes().to_vec()),
        Some(vec![10, 255])
    );
    for bad in ["", "a", "zz", &"00".repeat(21)] {
        assert_eq!(QlogCid::from_hex(bad), None, "{bad}");
    }
}

#[test]
fn a_directory_reads_its_qlog_files_in_name_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("b.sqlog"), QUIC_GO).expect("write");
    std::fs::write(dir.path().join("a.qlog"), AIOQUIC).expect("write");
    std::fs::write(dir.path().join("notes.txt"), "not read").expect("write");
    let t = read_path(dir.path()).expect("reads");
    assert_eq!(t.len(), 2);
    assert_eq!(t[0].vantage, Vantage::Client);
    assert!(t[1].file.ends_with("b.sqlog"));
    let empty = tempfile::tempdir().expect("tempdir");
    let e = read_path(empty.path()).expect_err("empty dir");
    assert!(e.to_string().contains("no .qlog"), "{e}");
    let e = read_path(&dir.path().join("missing.qlog")).expect_err("missing");
    assert!(e.to_string().contains("missing.qlog"), "{e}");
}

#[test]
fn gzipped_qlog_is_read_by_its_magic_and_found_in_a_directory() {
    use std::io::Write;
    let gz = |text: &str| {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(text.as_bytes()).expect("gzip");
        e.finish().expect("gzip")
    };
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("a.qlog.gz"), gz(AIOQUIC)).expect("write");
    std::fs::write(dir.path().join("b.sqlog.gz"), gz(QUIC_GO)).expect("write");
    // Named like plain qlog, gzipped all the same: the magic decides, not the name.
    std::fs::write(dir.path().join("c.qlog"), gz(QUIC_GO)).expect("write");
    std::fs::write(dir.path().join("d.txt.gz"), gz("not read")).expect("write");
    let t = read_path(dir.path()).expect("reads");
    assert_eq!(t.len(), 3);
    assert_eq!(t[0].vantage, Vantage::Client);
    assert_eq!(t[1].vantage, Vantage::Server);
    assert_eq!(t[0].odcid, one(AIOQUIC).odcid);
    assert_eq!(t[0].cids, one(AIOQUIC).cids);
    // Cut inside the compressed stream: an error naming the file, never a panic.
    let mut cut = gz(AIOQUIC);
    cut.truncate(cut.len() / 2);
    let path = dir.path().join("cut.qlog.gz");
    std::fs::write(&path, cut).expect("write");
    let e = read_file(&path).expect_err("cut");
    assert!(e.to_string().contains("cut.qlog.gz"), "{e}");
}
