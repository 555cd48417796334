//! `quic-loss` on real aioquic traffic: the first 195 frames of the kernel lab's `quic-loss`
//! run as the server's host captured them (testdata/fixtures/quic_loss_lab.pcap, its key log
//! beside it), where the client's ingress rule dropped server packets after the capture's tap.
//! tshark with the same key log is the oracle:
//!
//! ```text
//! tshark -r quic_loss_lab.pcap -o tls.keylog_file:quic_loss_lab.keys.txt -Y quic.header_form==0 \
//!   -T fields -e frame.number -e ip.src -e quic.packet_number \
//!   -e quic.ack.largest_acknowledged -e quic.ack.first_ack_range -e quic.ack.gap \
//!   -e quic.ack.ack_range
//! ```
//!
//! The server sent 168 short-header packets; the client's ACK ranges reach 125 and leave out
//! 84, 86, 116 and 118 (frames 102, 104, 135, 138), every other number at least 3 below 125
//! acknowledged.

use serde_json::{json, Value};

use crate::common::{analyze_json, keyed_report, root, subset};

const CAPTURE: &str = "testdata/fixtures/quic_loss_lab.pcap";
const KEYS: &str = "testdata/fixtures/quic_loss_lab.keys.txt";

fn report(capture: &std::path::Path, keys: bool) -> Value {
    keyed_report(capture, keys.then_some(KEYS))
}

fn quic_loss(json: &Value) -> Option<&Value> {
    json["findings"]
        .as_array()?
        .iter()
        .find(|f| f["id"] == "quic-loss")
}

/// The first `n` records of a pcap file (24-byte header, 16-byte record headers, little-endian).
pub(crate) fn first_records(bytes: &[u8], n: usize) -> Vec<u8> {
    let mut at = 24;
    for _ in 0..n {
        let len = u32::from_le_bytes(bytes[at + 8..at + 12].try_into().expect("4 bytes"));
        at += 16 + len as usize;
    }
    bytes[..at].to_vec()
}

#[test]
fn packets_the_client_never_acknowledged_are_lost_after_the_capture_point() {
    let json = report(&root().join(CAPTURE), true);
    let loss = &json["flows"][0]["quic"]["decryption"]["s2c"]["loss"];
    let want = json!({"lost_after_capture": 4, "lost_before_capture": 0, "acked_unseen": 0,
                      "declared_lost": 4, "spurious": 0, "runs": 4, "longest_run": 1});
    let mut errors = Vec::new();
    subset(&want, loss, "s2c loss", &mut errors);
    // The client's packets: none lost.
    let c2s = &json["flows"][0]["quic"]["decryption"]["c2s"]["loss"];
    subset(
        &json!({"lost_after_capture": 0, "lost_before_capture": 0}),
        c2s,
        "c2s",
        &mut errors,
    );
    assert!(errors.is_empty(), "{errors:?}");
    let f = quic_loss(&json).expect("quic-loss");
    assert_eq!(f["severity"], "warning", "{f}");
    assert_eq!(f["frames"], json!([102, 104, 135, 138]), "{f}");
    assert_eq!(f["details"]["side"], "server", "{f}");
    let msg = f["message"].as_str().unwrap_or("");
    assert!(msg.contains("4 after the capture point"), "{msg}");
    // RTT samples from the server's packets to the client's ACKs, at the server's host.
    let rtt = &json["flows"][0]["quic"]["decryption"]["s2c"]["rtt"];
    assert!(rtt["samples"].as_u64().unwrap_or(0) >= 5, "{rtt}");
    assert!(
        rtt["min_ms"].as_f64().is_some_and(|m| m > 0.0 && m < 5.0),
        "{rtt}"
    );
}

#[test]
fn fewer_losses_or_no_keys_stay_silent() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bytes = std::fs::read(root().join(CAPTURE)).expect("capture");
    // The first 190 frames: 84 and 86 judged lost, 116 and 118 not yet (the ACKs that pass
    // them come later): two losses are one loss event.
    let cut = dir.path().join("190.pcap");
    std::fs::write(&cut, first_records(&bytes, 190)).expect("written");
    let json = report(&cut, true);
    let loss = &json["flows"][0]["quic"]["decryption"]["s2c"]["loss"];
    assert_eq!(loss["lost_after_capture"], 2, "{loss}");
    assert!(quic_loss(&json).is_none(), "{json}");
    // Without the key log nothing can be judged.
    assert!(quic_loss(&report(&root().join(CAPTURE), false)).is_none());
    // The clean cut of quic-clean with its key log.
    let clean = root().join("testdata/lab/cuts/quic_keylog.pcap");
    let (r, json) = analyze_json(
        &clean,
        &[
            "--keylog".into(),
            root()
                .join("testdata/lab/cuts/quic_keylog.keys.txt")
                .to_string_lossy()
                .into_owned(),
        ],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(quic_loss(&json.expect("report")).is_none());
}

/// The QUIC packet-number and RTT graphs of the fixture, drawn from the key log: every server
/// packet by number, the client's ACKs as the largest acknowledged, the four losses marked where
/// tshark's ACK ranges leave them out; the time-sequence graph in stream bytes marks the same
/// four at the data they carried; without the key log, no graph.
#[test]
fn the_quic_time_sequence_graph_marks_the_losses() {
    use crate::plots::{chart, keyed_charts, series};
    use offload_doctor::plot::chart::{PlotKind, Style};

    let kinds = [
        PlotKind::QuicSequence,
        PlotKind::QuicPackets,
        PlotKind::QuicRtt,
    ];
    let draw = |keys: bool| keyed_charts("quic_loss_lab.pcap", keys.then_some(KEYS), &kinds);
    assert!(draw(false).is_empty());
    let c = draw(true);
    let s2c = chart(&c, PlotKind::QuicPackets, Some("s2c"));
    assert!(
        s2c.title.contains("10.77.0.1:4433 → 10.77.0.2:"),
        "{}",
        s2c.title
    );
    let lost = series(
        &s2c,
        "lost after the capture point (seen here, never acknowledged)",
        Style::Label('L'),
    )
    .expect("losses marked");
    let pns: Vec<f64> = lost.iter().map(|p| p.y).collect();
    assert_eq!(pns, [84.0, 86.0, 116.0, 118.0]);
    let acked = series(&s2c, "largest acknowledged by the peer", Style::Step).expect("ACKs");
    assert_eq!(acked.iter().map(|p| p.y).fold(0.0, f64::max), 125.0);
    assert!(series(
        &s2c,
        "lost before the capture point (never seen)",
        Style::Label('M')
    )
    .is_none());
    // In stream bytes: one mark per lost packet, at the top of the stream data it carried.
    let bytes = chart(&c, PlotKind::QuicSequence, Some("s2c"));
    assert!(bytes.title.ends_with("stream 0"), "{}", bytes.title);
    let lost = series(
        &bytes,
        "lost after the capture point (seen here, never acknowledged)",
        Style::Label('L'),
    )
    .expect("losses marked");
    assert_eq!(lost.len(), 4);
    let data = series(&bytes, "stream data", Style::Bar).expect("data");
    let top = data.iter().map(|p| p.top).fold(0.0, f64::max);
    assert!(lost.iter().all(|p| p.y > 0.0 && p.y <= top));
    let rtt = chart(&c, PlotKind::QuicRtt, None);
    let samples = series(&rtt, "s2c packets, acknowledged by the peer", Style::Dot).expect("RTT");
    assert!(samples.len() >= 5 && samples.iter().all(|p| p.y > 0.0 && p.y < 0.05));
}
