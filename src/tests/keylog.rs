//! `--keylog`: QUIC 1-RTT packets decrypted with an aioquic key log, held to tshark with the
//! same key log, and key logs that cannot be used. The capture is the first 40 frames of the
//! kernel lab's `quic-clean` run (testdata/lab/cuts/quic_keylog.pcap, AES-256-GCM), its key log
//! beside it.

use serde_json::{json, Value};

use crate::common::{analyze_json, root, run, subset};

const CAPTURE: &str = "testdata/lab/cuts/quic_keylog.pcap";
const KEYS: &str = "testdata/lab/cuts/quic_keylog.keys.txt";

fn decryption(keys: &str) -> Value {
    let (r, json) = analyze_json(&root().join(CAPTURE), &["--keylog".into(), keys.into()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    json.expect("report")["flows"][0]["quic"]["decryption"].clone()
}

#[test]
fn short_header_packets_decrypt_as_tshark_decrypts_them() {
    // tshark -r quic_keylog.pcap -o tls.keylog_file:quic_keylog.keys.txt -Y quic -T fields
    //   -e ip.src -e quic.header_form -e quic.packet_number: short headers (form 0) from the
    // client 6, largest number 8; from the server 23, largest 24.
    let d = decryption(KEYS);
    // Their frames (-e quic.frame_type, short-header packets only): the client's PADDING 1,
    // ACK 3, STREAM 5 (52 bytes), NEW_CONNECTION_ID 7; the server's ACK 2, STREAM 25,
    // NEW_CONNECTION_ID 7, HANDSHAKE_DONE 1.
    // Handshake packets (-V, "Packet Type: Handshake"): one each way, frames 11 and 12; the
    // server's EncryptedExtensions carry initial_max_data 1048576 and ack_delay_exponent 3.
    // The client's Handshake packet acknowledges the server's (quic.ack.largest_acknowledged
    // in its Handshake ACK frame); nothing acknowledges the client's in that space (the
    // server's HANDSHAKE_DONE, in 1-RTT, confirms it), so it stays unjudged.
    let want = json!({
        "secrets_found": true,
        "server_transport_parameters": true,
        "c2s": {"decrypted": 6, "largest_pn": 8, "undecryptable": 0, "key_updates": 0,
                "handshake_decrypted": 1, "handshake_undecryptable": 0,
                "handshake_loss": {"acked": 0, "unjudged": 1, "declared_lost": 0},
                "zero_rtt": 0, "zero_rtt_undecryptable": 0,
                "flow_control": {"max_data": 1048576},
                "frames": {"padding": 1, "ack": 3, "stream": 5, "stream_bytes": 52, "other": 7,
                           "max_data": 0, "connection_close": 0}},
        "s2c": {"decrypted": 23, "largest_pn": 24, "undecryptable": 0, "pn_skipped": 0,
                "handshake_decrypted": 1,
                "handshake_loss": {"acked": 1, "unjudged": 0, "declared_lost": 0},
                "frames": {"ack": 2, "stream": 25, "other": 7, "handshake_done": 1,
                           "padding": 0}, "ping_only": 0}
    });
    let mut errors = Vec::new();
    subset(&want, &d, "decryption", &mut errors);
    assert!(errors.is_empty(), "{errors:?}: {d}");
}

#[test]
fn a_key_log_without_the_connections_secrets_says_so() {
    let dir = tempfile::tempdir().expect("tempdir");
    let other = dir.path().join("other.keys");
    let random = "ab".repeat(32);
    std::fs::write(
        &other,
        format!("CLIENT_TRAFFIC_SECRET_0 {random} {}\n", "11".repeat(48)),
    )
    .expect("written");
    let d = decryption(&other.to_string_lossy());
    assert_eq!(d["secrets_found"], false, "{d}");
    assert_eq!(d["s2c"]["decrypted"], 0, "{d}");
    assert_eq!(d["s2c"]["undecryptable"], 23, "{d}");
    // Without a key log, no decryption at all.
    let (_, json) = analyze_json(&root().join(CAPTURE), &[]);
    assert!(json.expect("report")["flows"][0]["quic"]
        .get("decryption")
        .is_none());
}

#[test]
fn a_broken_key_log_is_a_one_line_error_naming_its_line() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad = dir.path().join("bad.keys");
    let random = "ab".repeat(32);
    std::fs::write(
        &bad,
        format!("# ok\nSERVER_TRAFFIC_SECRET_0 {random} 12345\n"),
    )
    .expect("written");
    let bad = bad.to_string_lossy().into_owned();
    let r = run(&["analyze", CAPTURE, "--keylog", &bad]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains(&format!("{bad}:2:")), "{}", r.stderr);
    let r = run(&["analyze", CAPTURE, "--keylog", "/nonexistent/keys.log"]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("/nonexistent/keys.log"), "{}", r.stderr);
}

/// Every byte of the capture is hostile, with the keys too: each byte of the decrypted cut
/// changed in turn (a flipped bit in a header, a packet number, a ciphertext, a tag) is read
/// without a panic, and never makes more packets decrypt than the intact capture (an AEAD tag
/// refuses a changed ciphertext).
#[test]
fn every_byte_changed_decrypts_or_is_refused_without_a_panic() {
    use offload_doctor::analysis::Settings;
    use offload_doctor::decode::DecodeConfig;
    use offload_doctor::pipeline::analyze_bytes;
    use offload_doctor::quic::keylog::KeyLog;

    let bytes = std::fs::read(root().join(CAPTURE)).expect("capture");
    let keys = std::fs::read(root().join(KEYS)).expect("keys");
    let log = KeyLog::read(KEYS, &keys[..]).expect("key log");
    let mut settings = Settings::default();
    settings.flows.keylog = Some(std::sync::Arc::new(log));
    let cfg = DecodeConfig::default();
    let decrypted = |b: Vec<u8>| -> u64 {
        let Ok(a) = analyze_bytes(b, &cfg, &settings) else {
            return 0;
        };
        a.report
            .flows
            .iter()
            .filter_map(|f| f.quic.as_ref()?.decryption.as_ref())
            .map(|d| d.c2s.packets.decrypted + d.s2c.packets.decrypted)
            .sum()
    };
    assert_eq!(decrypted(bytes.clone()), 29);
    // Every 17th byte (two thousand runs: headers, packet numbers, ciphertexts, tags), each flipped.
    for at in (0..bytes.len()).step_by(17) {
        let mut b = bytes.clone();
        b[at] ^= 0x5a;
        assert!(decrypted(b) <= 29, "byte {at}");
    }
}

/// Another implementation: quiche's client and server in the shared set's "Illustrated QUIC"
/// capture (AES-128-GCM), with the key log its repository ships (testdata/oracle). tshark with
/// the same key log (`-T fields -e frame.number -e quic.header_form -e quic.packet_number -e
/// quic.frame_type`): short headers 0 and 1 each way; the client's STREAM (0x0f) then ACK; the
/// server's ACK, HANDSHAKE_DONE and STREAM, then CONNECTION_CLOSE (0x1c).
#[test]
fn a_quiche_connection_decrypts_as_tshark_decrypts_it() {
    let Some(dir) = crate::real_captures::shared() else {
        return;
    };
    let keys = root().join("testdata/oracle/illustrated-quic.keys.txt");
    let (r, json) = analyze_json(
        &dir.join("illustrated-quic__capture_quiche_keylog.pcap"),
        &["--keylog".into(), keys.to_string_lossy().into_owned()],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let d = &json.expect("report")["flows"][0]["quic"]["decryption"];
    let want = json!({
        "secrets_found": true,
        "c2s": {"decrypted": 2, "undecryptable": 0, "largest_pn": 1,
                "frames": {"stream": 1, "stream_bytes": 4, "ack": 1, "other": 0}},
        "s2c": {"decrypted": 2, "undecryptable": 0, "largest_pn": 1,
                "frames": {"ack": 1, "handshake_done": 1, "stream": 1, "connection_close": 1,
                           "other": 0}}
    });
    let mut errors = Vec::new();
    subset(&want, d, "decryption", &mut errors);
    assert!(errors.is_empty(), "{errors:?}: {d}");
}

/// Secrets embedded in the capture (a pcapng Decryption Secrets Block, as
/// `editcap --inject-secrets tls,quic_keylog.keys.txt` wrote quic_keylog_dsb.pcapng) are used
/// without any option, as Wireshark uses them: the same packets decrypt as with `--keylog`, and
/// the block is not a frame (tshark reads 40 frames from it too).
#[test]
fn secrets_in_the_capture_decrypt_without_a_key_log() {
    let dsb = root().join("testdata/lab/cuts/quic_keylog_dsb.pcapng");
    let (r, json) = analyze_json(&dsb, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json = json.expect("report");
    assert_eq!(json["capture"]["secrets_blocks"], 1);
    assert_eq!(json["capture"]["frames"], 40);
    let embedded = &json["flows"][0]["quic"]["decryption"];
    assert_eq!(embedded, &decryption(KEYS), "the same as with --keylog");
    // A key log given as well changes nothing.
    let (_, both) = analyze_json(&dsb, &["--keylog".into(), KEYS.into()]);
    assert_eq!(
        &both.expect("report")["flows"][0]["quic"]["decryption"],
        embedded
    );
    // Without secrets, the pcap it was made from decrypts nothing.
    let (_, none) = analyze_json(&root().join(CAPTURE), &[]);
    assert!(none.expect("report")["flows"][0]["quic"]
        .get("decryption")
        .is_none());
}

/// The block hostile: its key log overwritten with junk (bad lines are skipped, nothing
/// decrypts), its lengths lying, the file cut inside it at every length: never a panic, and
/// the frames after it are read.
#[test]
fn a_damaged_secrets_block_is_survived() {
    use offload_doctor::analysis::Settings;
    use offload_doctor::decode::DecodeConfig;
    use offload_doctor::pipeline::analyze_bytes;

    let bytes =
        std::fs::read(root().join("testdata/lab/cuts/quic_keylog_dsb.pcapng")).expect("read");
    // The DSB: type 0x0000000A after the section header and the interface block.
    let at = (0..bytes.len() - 4)
        .find(|&i| bytes[i..i + 4] == [0x0a, 0, 0, 0] && bytes[i + 8..i + 12] == *b"KSLT")
        .expect("a Decryption Secrets Block");
    let len = u32::from_le_bytes(bytes[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
    let cfg = DecodeConfig::default();
    let settings = Settings::default();
    let frames = |b: Vec<u8>| analyze_bytes(b, &cfg, &settings).map(|a| a.report.capture.frames);
    let mut junk = bytes.clone();
    for b in &mut junk[at + 16..at + len - 4] {
        *b = b'z';
    }
    assert_eq!(frames(junk).ok(), Some(40));
    let mut lying = bytes.clone();
    lying[at + 12..at + 16].copy_from_slice(&u32::MAX.to_le_bytes());
    assert_eq!(
        frames(lying).ok(),
        Some(40),
        "a secrets length beyond the block is skipped"
    );
    for cut in at..at + len + 64 {
        let _ = frames(bytes[..cut].to_vec());
    }
}

/// 0-RTT (testdata/lab/quic_zero_rtt.py): the second connection's first datagram (frame 28)
/// carries an Initial and a 0-RTT packet. tshark with the key log opens it: packet number 1, a
/// STREAM frame of 20 bytes on stream 0 (the request), frame types 6 (Initial) and 11 (0-RTT);
/// the server accepts it (early_data in its EncryptedExtensions, frame 29). aioquic numbers
/// every space from one counter: the client's 1-RTT packets are 4 to 8, so between the 0-RTT
/// packet and them 2 numbers went to other spaces. The first connection has no 0-RTT; a key
/// log without the early secret leaves the packet unopened, counted.
#[test]
fn a_zero_rtt_packet_opens_with_the_early_secret() {
    let capture = root().join("testdata/fixtures/quic_zero_rtt.pcap");
    let keys = root().join("testdata/fixtures/quic_zero_rtt.keys.txt");
    let decrypted = |keys: &std::path::Path| {
        let (r, json) = analyze_json(
            &capture,
            &["--keylog".into(), keys.to_string_lossy().into_owned()],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        let json = json.expect("report");
        assert_eq!(json["findings"], json!([]), "a healthy exchange");
        json["flows"].clone()
    };
    let flows = decrypted(&keys);
    let want = json!([
        {"quic": {"decryption": {"c2s": {"zero_rtt": 0, "decrypted": 6, "largest_pn": 8}}}},
        {"quic": {"decryption": {
            "c2s": {"zero_rtt": 1, "zero_rtt_undecryptable": 0, "zero_rtt_not_kept": 0,
                    "decrypted": 6, "largest_pn": 8, "pn_skipped": 2,
                    "frames": {"stream": 1, "stream_bytes": 20}},
            "s2c": {"zero_rtt": 0, "decrypted": 18, "frames": {"stream_bytes": 20000}}}}}
    ]);
    let mut errors = Vec::new();
    subset(&want, &flows, "flows", &mut errors);
    assert!(errors.is_empty(), "{errors:?}");
    // The same key log without its CLIENT_EARLY_TRAFFIC_SECRET line.
    let dir = tempfile::tempdir().expect("tempdir");
    let text = std::fs::read_to_string(&keys).expect("keys");
    let without: String = text
        .lines()
        .filter(|l| !l.starts_with("CLIENT_EARLY_TRAFFIC_SECRET"))
        .map(|l| format!("{l}\n"))
        .collect();
    let partial = dir.path().join("keys.txt");
    std::fs::write(&partial, without).expect("write");
    let flows = decrypted(&partial);
    let c2s = &flows[1]["quic"]["decryption"]["c2s"];
    assert_eq!(
        (
            c2s["zero_rtt"].as_u64(),
            c2s["zero_rtt_undecryptable"].as_u64()
        ),
        (Some(0), Some(1))
    );
    assert_eq!(
        c2s["decrypted"].as_u64(),
        Some(5),
        "the 1-RTT packets still open"
    );
}

/// Other versions, each held to tshark with its key log: draft-29 (0xff00001d, aioquic 0.9.21,
/// testdata/lab/quic_draft29.py; its transport parameters in the drafts' extension 0xffa5,
/// "drafts version") and QUIC v2 (0x6b3343cf, RFC 9369's labels and salt, aioquic 1.7). tshark's
/// short headers: draft-29's client 5 (largest number 7) and server 18 (largest 19); v2's 6 (8)
/// and 19 (20); initial_max_data 1048576 both ways, 20,000 bytes of stream data from the server.
#[test]
fn draft_29_and_v2_decrypt_as_tshark_decrypts_them() {
    for (name, version, (c_n, c_pn), (s_n, s_pn)) in [
        ("quic_draft29", "draft-29", (5, 7), (18, 19)),
        ("quic_v2", "2", (6, 8), (19, 20)),
    ] {
        let capture = root().join(format!("testdata/fixtures/{name}.pcap"));
        let keys = root().join(format!("testdata/fixtures/{name}.keys.txt"));
        let (r, json) = analyze_json(
            &capture,
            &["--keylog".into(), keys.to_string_lossy().into()],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
        let quic = json.expect("report")["flows"][0]["quic"].clone();
        let want = json!({
            "version": version,
            "cipher_suite": "TLS_AES_256_GCM_SHA384",
            "decryption": {
                "secrets_found": true,
                "server_transport_parameters": true,
                "c2s": {"decrypted": c_n, "largest_pn": c_pn, "undecryptable": 0,
                        "handshake_decrypted": 1, "flow_control": {"max_data": 1048576}},
                "s2c": {"decrypted": s_n, "largest_pn": s_pn, "undecryptable": 0,
                        "handshake_decrypted": 1, "flow_control": {"max_data": 1048576},
                        "frames": {"stream_bytes": 20000}}
            }
        });
        let mut errors = Vec::new();
        subset(&want, &quic, name, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
    }
}
