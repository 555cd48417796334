//! Agreement with tshark on the real public captures in ../shared/captures (oracle.json).
//!
//! The captures are not copied into this repository (see its MANIFEST.md for licenses). Locally
//! the test skips when they are absent; CI sets OFFLOAD_DOCTOR_REQUIRE_SHARED=1 so it cannot pass
//! vacuously there.

use crate::common;
use std::io::Write;
use std::path::PathBuf;

use crate::common::{analyze_json, finding};
use serde_json::Value;

pub(crate) fn shared() -> Option<PathBuf> {
    let dir = std::env::var_os("OFFLOAD_DOCTOR_CAPTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| common::root().join("../shared/captures"));
    if dir.join("oracle.json").exists() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("OFFLOAD_DOCTOR_REQUIRE_SHARED").is_none(),
        "{} has no oracle.json",
        dir.display()
    );
    // Loud: a green run without the real captures tested much less than it seems. Written to
    // the process's stderr itself, which the test harness does not capture (eprintln! it does).
    let test = std::thread::current()
        .name()
        .unwrap_or("a test")
        .to_string();
    let _ = writeln!(
        std::io::stderr(),
        "\n*** SKIPPED {test}: no real captures at {} (oracle.json missing); \
         OFFLOAD_DOCTOR_REQUIRE_SHARED=1 makes this a failure ***",
        dir.display()
    );
    None
}

/// Where we differ from tshark on purpose: (file, frames, tcp flows, why). Documented in
/// docs/architecture.md ("Where we differ from Wireshark").
const DIFFERENCES: &[(&str, u64, u64, &str)] = &[
    (
        "ndpi__fuzz-2006-09-29-28586_be_malformed.pcap",
        131,
        38,
        "the oracle's 39 counts the empty tcp.stream of a malformed frame (111) as a value",
    ),
    (
        "tcpdump__bigtcp-ipv4-vxlan-ipv4.pcap",
        1,
        1,
        "tshark 4.0 cannot decode BIG TCP over VXLAN (UDP length 0); tcpdump's test output shows the inner TCP segment",
    ),
    (
        "suricata-verify__bug-6875-01_fuzz_bad_caplen.pcap",
        1,
        0,
        "record 2 claims 1409179648 bytes; Wireshark's pcap variant heuristics read it as a 1-byte frame",
    ),
    (
        "ndpi__6in4tunnel.pcap",
        127,
        5,
        "tshark's 6th tcp.stream is the TCP header quoted inside an ICMPv6 error (frame 3), not a connection",
    ),
    (
        "tcpdump__bigtcp-ipv4-geneve-ipv4.pcap",
        1,
        1,
        "tshark 4.0 cannot decode BIG TCP over Geneve (UDP length 0); tcpdump's test output shows the inner TCP segment",
    ),
];

/// Captures whose TCP is carried by an encapsulation we do not decode yet (GRE, NVGRE, gretap,
/// 6in4, GTP-U, MPLS, PPPoE): (file, frames, tcp flows we find today, tshark's tcp flows). Not a
/// difference on purpose but a known gap, tracked by the issue "Verdicts an engineer can trust"
/// (decode these tunnels into inner flows). Today's counts are asserted, so the entry must be
/// removed the moment decoding lands and tshark's count is reached.
pub(crate) const NOT_YET_DECODED: &[(&str, u64, u64, u64)] = &[];

#[test]
fn frames_and_tcp_flows_agree_with_tshark() {
    let Some(dir) = shared() else { return };
    let oracle: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("oracle.json")).expect("readable"))
            .expect("valid JSON");
    let files = oracle["files"].as_object().expect("files");
    let mut failures = Vec::new();
    let mut checked = 0;
    for (name, f) in files {
        let o = &f["oracle"];
        let (mut frames, mut tcp) = (
            o["packets"]["value"].as_u64().unwrap_or(0),
            o["tcp_streams"]["value"].as_u64().unwrap_or(0),
        );
        if let Some(d) = DIFFERENCES.iter().find(|d| d.0 == name) {
            (frames, tcp) = (d.1, d.2);
        }
        if let Some(g) = NOT_YET_DECODED.iter().find(|g| g.0 == name) {
            assert_eq!(
                (frames, tcp),
                (g.1, g.3),
                "{name}: the oracle changed; update NOT_YET_DECODED"
            );
            tcp = g.2;
        }
        let (run, json) = analyze_json(&dir.join(name), &[]);
        if run.stderr.contains("panicked") {
            failures.push(format!("{name}: panic {}", run.stderr));
            continue;
        }
        let Some(json) = json else {
            // Unreadable files: tshark delivered nothing either, and we must exit 2.
            if frames != 0 || run.code != 2 {
                failures.push(format!(
                    "{name}: no report (exit {}): {}",
                    run.code, run.stderr
                ));
            }
            checked += 1;
            continue;
        };
        let got_frames = json["capture"]["frames"].as_u64().unwrap_or(u64::MAX);
        let got_tcp = json["flows"]
            .as_array()
            .map_or(0, |a| a.iter().filter(|f| f["protocol"] == "tcp").count())
            as u64;
        if got_frames != frames || got_tcp != tcp {
            failures.push(format!(
                "{name}: frames {got_frames} (tshark {frames}), tcp flows {got_tcp} (tshark {tcp})"
            ));
        }
        let truncated = f["tshark_error"].is_string() && frames > 0;
        if truncated != json["capture"]["file_truncated"].as_bool().unwrap_or(false) {
            failures.push(format!(
                "{name}: file_truncated disagrees with tshark's error"
            ));
        }
        checked += 1;
    }
    assert!(checked >= 40, "checked only {checked} captures");
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn vxlan_on_8472_is_decoded_where_tshark_needs_decode_as() {
    let Some(dir) = shared() else { return };
    let (_, json) = analyze_json(&dir.join("tcpdump__vxlan_port_8472.pcap"), &[]);
    let json = json.expect("report");
    // 10 frames of inner ICMP and ARP: all seen through the tunnel.
    assert_eq!(json["capture"]["decoded"]["icmp"], 8);
    assert_eq!(json["capture"]["decoded"]["non-ip"], 2);
}

/// The MANIFEST says where each offload capture was taken; `oversized-frames` must tell the same
/// (receive = GRO/LRO before the tap, send = TSO/GSO before the NIC), and a capture of plain
/// wire-size traffic must have none.
#[test]
fn oversized_frames_name_the_offload_the_manifest_describes() {
    let Some(dir) = shared() else { return };
    let cases = [
        ("suricata-verify__decode-sll2-02_gro.pcap", "receive", 45), // SLL2 + receive GRO
        ("ndpi__ipp_tso_window_full.pcap", "send", 2),               // sender-side TSO
        ("tcpdump__ipv4_tcp_http_xml_tso.pcap", "send", 2),          // IPv4 length 0
        ("tcpdump__bigtcp-ipv4-vxlan-ipv4.pcap", "send", 58),        // BIG TCP over VXLAN
        ("tcpdump__gso-ipv4-vxlan-ipv4.pcap", "unknown", 5),         // one GSO packet alone
    ];
    for (name, offload, max_segments) in cases {
        let (_, json) = analyze_json(&dir.join(name), &[]);
        let json = json.expect("report");
        let f = finding(&json, "oversized-frames")
            .unwrap_or_else(|| panic!("{name}: no oversized-frames"));
        assert_eq!(f["details"]["offload"], offload, "{name}");
        assert_eq!(
            f["details"]["max_segments_per_frame"], max_segments,
            "{name}"
        );
    }
    let (_, json) = analyze_json(&dir.join("tcpdump__vxlan_port_8472.pcap"), &[]);
    let json = json.expect("report");
    assert!(json["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .all(|f| f["id"] != "oversized-frames"));
}

#[test]
fn geneve_with_a_vni_per_direction_is_one_flow() {
    let Some(dir) = shared() else { return };
    let (_, json) = analyze_json(&dir.join("tcpdump__geneve.pcap"), &[]);
    let json = json.expect("report");
    let tcp: Vec<&Value> = json["flows"]
        .as_array()
        .expect("flows")
        .iter()
        .filter(|f| f["protocol"] == "tcp")
        .collect();
    assert_eq!(tcp.len(), 1);
    assert_eq!(tcp[0]["tunnel"]["kind"], "geneve");
    assert_eq!(tcp[0]["tunnel"]["vni"], 0xb);
    assert_eq!(tcp[0]["tunnel"]["vni_s2c"], 0xa);
    assert!(tcp[0]["c2s"]["frames"].as_u64() > Some(0));
    assert!(tcp[0]["s2c"]["frames"].as_u64() > Some(0));
}

#[test]
fn snaplen_cut_frames_agree_with_tshark() {
    let Some(dir) = shared() else { return };
    // frame.cap_len < frame.len: 39 frames in this pcapng (tshark oracle "truncated_frames").
    let (_, json) = analyze_json(
        &dir.join("pcapplusplus__pcapng-example_eth-sll_snap128.pcapng"),
        &[],
    );
    let json = json.expect("report");
    let f = finding(&json, "capture-snaplen").expect("capture-snaplen finding");
    assert_eq!(f["details"]["frames_cut"], 39);
}

/// The facts offload analysis needs from both IP headers of a tunnelled frame, against tcpdump's
/// own decoding of this capture (tests/gso-ipv4-vxlan-ipv4.out in the tcpdump repository):
/// outer `IP (tos 0x0, ttl 61, id 12520, flags [none], proto UDP, length 7092)`, VXLAN vni 5001,
/// inner `IP (tos 0x0, ttl 64, id 10282, flags [DF], proto TCP, length 7042)`, TCP length 6990.
#[test]
fn outer_and_inner_header_facts_match_tcpdump() {
    use offload_doctor::capture::{CaptureReader, Input};
    use offload_doctor::decode::{decode, DecodeConfig, TunnelKind};

    let Some(dir) = shared() else { return };
    let input = Input::Path(dir.join("tcpdump__gso-ipv4-vxlan-ipv4.pcap"));
    let mut r = CaptureReader::open(&input).expect("opens");
    let frame = r.next_frame().expect("reads").expect("one frame");
    let p = decode(&frame, &DecodeConfig::default());
    let t = p.tunnel.expect("VXLAN decoded");
    assert_eq!(t.kind, TunnelKind::Vxlan);
    assert_eq!(t.vni, 5001);
    assert_eq!(
        (t.outer_ip.ttl, t.outer_ip.id, t.outer_ip.df, t.outer_ip.tos),
        (61, 12520, false, 0)
    );
    assert_eq!(t.outer_ip.len, 7092);
    let u = t.outer_udp.expect("VXLAN is over UDP");
    assert_eq!((u.src_port, u.dst_port), (60345, 4789));
    let ip = p.ip.expect("inner IP");
    assert_eq!((ip.ttl, ip.id, ip.df, ip.len), (64, 10282, true, 7042));
    let tcp = p.tcp.expect("inner TCP");
    assert_eq!(
        (tcp.src_port, tcp.dst_port, tcp.payload_len),
        (37099, 41547, 6990)
    );
    assert_eq!(
        (tcp.seq, tcp.ack, tcp.window),
        (1925567864, 2614339187, 166)
    );
    assert_eq!(tcp.options.timestamp, Some((3716023471, 900070726)));
}

/// A capture of a link type we do not decode: the verdict must not say "no problem found" about
/// traffic it never looked into.
#[test]
fn a_capture_that_was_not_analysed_gets_no_all_clear() {
    let Some(dir) = shared() else { return };
    let (_, json) = analyze_json(&dir.join("tcpdump__unsupported-link-type-160.pcap"), &[]);
    let json = json.expect("report");
    assert_eq!(json["verdict"]["status"], "not-analysed");
    let summary = json["verdict"]["summary"].as_str().unwrap_or_default();
    assert!(summary.contains("1 of 1 frames"), "{summary}");
    assert!(!summary.contains("No problem found"), "{summary}");
}

/// Every tunnel of the shared captures opens into inner flows with their tunnel context, as
/// tshark's protocol stacks show them (`frame.protocols`).
#[test]
fn tunnels_open_into_inner_flows() {
    let Some(dir) = shared() else { return };
    for (name, kind, vni, flows) in [
        ("zeek__gre-sample.pcap", "gre", 0, 5),
        ("packetnet__gre_nvgre.pcap", "nvgre", 0x123456, 1),
        ("zeek__erspan_gretap.pcap", "nvgre", 0, 14),
        ("ndpi__6in4tunnel.pcap", "ip-in-ip", 0, 7),
        (
            "zeek__gtp1_gn_normal_incl_fragmentation.pcap",
            "gtp-u",
            0,
            1,
        ),
    ] {
        let (_, json) = analyze_json(&dir.join(name), &[]);
        let json = json.expect("report");
        let tunnels: Vec<&Value> = json["flows"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|f| f.get("tunnel").filter(|t| !t.is_null()))
            .collect();
        assert_eq!(tunnels.len(), flows, "{name}");
        assert!(
            tunnels.iter().all(|t| t["kind"] == kind),
            "{name}: {tunnels:?}"
        );
        if vni != 0 {
            assert_eq!(tunnels[0]["vni"], vni, "{name}");
        }
        assert!(
            json["capture"]["undecoded"]
                .as_object()
                .is_none_or(|u| u.is_empty()),
            "{name}"
        );
    }
    // MPLS and PPPoE are shims, not tunnels: the flows have no tunnel context.
    for (name, tcp) in [
        ("zeek__mixed-vlan-mpls.pcap", 47),
        ("zeek__pppoe-over-qinq.pcap", 86),
    ] {
        let (_, json) = analyze_json(&dir.join(name), &[]);
        let json = json.expect("report");
        assert_eq!(json["capture"]["decoded"]["tcp"], tcp, "{name}");
    }
}

/// The server name and ALPN of every QUIC ClientHello tshark reads from a client Initial of
/// version 1, 2 or draft-29 (testdata/oracle/quic_hello.json, written by
/// testdata/tshark_oracle.py) are the ones in our report's `quic` object of that flow; and no
/// flow of ours has a server name tshark did not read.
#[test]
fn quic_client_hellos_match_tshark() {
    let Some(dir) = shared() else { return };
    let text = std::fs::read_to_string(common::root().join("testdata/oracle/quic_hello.json"))
        .expect("quic_hello.json");
    let oracle: Value = serde_json::from_str(&text).expect("valid JSON");
    let files = oracle["files"].as_object().expect("files");
    assert!(
        files.len() >= 5,
        "{} captures with QUIC ClientHellos",
        files.len()
    );
    let mut failures = Vec::new();
    for (name, hellos) in files {
        let (_, json) = analyze_json(&dir.join(name), &[]);
        let Some(json) = json else {
            failures.push(format!("{name}: no report"));
            continue;
        };
        let flows = json["flows"].as_array().cloned().unwrap_or_default();
        let ours: Vec<(String, String, Value, Value)> = flows
            .iter()
            .filter(|f| !f["quic"].is_null())
            .map(|f| {
                let ends = (
                    f["client"].as_str().unwrap_or("?"),
                    f["server"].as_str().unwrap_or("?"),
                );
                (
                    ends.0.to_string(),
                    ends.1.to_string(),
                    f["quic"]["sni"].clone(),
                    f["quic"]["alpn"].clone(),
                )
            })
            .collect();
        for h in hellos.as_array().into_iter().flatten() {
            let found = ours
                .iter()
                .find(|(c, s, _, _)| h["client"] == c.as_str() && h["server"] == s.as_str());
            match found {
                Some((_, _, sni, alpn)) if *sni == h["sni"] && *alpn == h["alpn"] => {}
                other => failures.push(format!("{name}: tshark {h}, we {other:?}")),
            }
        }
        let theirs = hellos.as_array().map_or(0, Vec::len);
        let named = ours.iter().filter(|o| !o.2.is_null()).count();
        if named != theirs {
            failures.push(format!(
                "{name}: {named} flows with a server name, tshark {theirs}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The server's Initials, decrypted as tshark decrypts them: the ServerHello's cipher suite and
/// the first RTT sample (client Initial → the server Initial acknowledging it, less its ACK
/// Delay) agree with testdata/oracle/quic_server.json (testdata/quic_server_oracle.py).
#[test]
fn quic_server_initials_match_tshark() {
    let Some(dir) = shared() else { return };
    let text = std::fs::read_to_string(common::root().join("testdata/oracle/quic_server.json"))
        .expect("quic_server.json");
    let oracle: Value = serde_json::from_str(&text).expect("valid JSON");
    let files = oracle["files"].as_object().expect("files");
    assert!(
        files.len() >= 5,
        "{} captures with server Initials",
        files.len()
    );
    let mut failures = Vec::new();
    for (name, conns) in files {
        let (_, json) = analyze_json(&dir.join(name), &[]);
        let flows = json.map(|j| j["flows"].clone()).unwrap_or_default();
        for c in conns.as_array().into_iter().flatten() {
            let q = flows.as_array().into_iter().flatten().find(|f| {
                f["client"] == c["client"] && f["server"] == c["server"] && f["quic"].is_object()
            });
            let Some(q) = q.map(|f| &f["quic"]) else {
                failures.push(format!(
                    "{name}: no QUIC flow {} → {}",
                    c["client"], c["server"]
                ));
                continue;
            };
            let suite = c["cipher_suite"]
                .as_u64()
                .map(|s| offload_doctor::quic::server::cipher_name(s as u16));
            let near = |a: &Value, b: &Value| match (a.as_f64(), b.as_f64()) {
                (Some(a), Some(b)) => (a - b).abs() < 0.002,
                _ => a.is_null() && b.is_null(),
            };
            if q["cipher_suite"].as_str() != suite.as_deref()
                || !near(&q["initial_rtt_ms"], &c["rtt_ms"])
                || !near(&q["initial_ack_delay_ms"], &c["ack_delay_ms"])
            {
                failures.push(format!(
                    "{name}: tshark {c}, we cipher {} rtt {} delay {}",
                    q["cipher_suite"], q["initial_rtt_ms"], q["initial_ack_delay_ms"]
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Every ICMP error tshark reads (ICMP types 3 and 11, ICMPv6 types 1 to 3) decodes to the same
/// type and code, and the packet it quotes to the same ports (testdata/oracle/icmp_errors.json,
/// written by testdata/tshark_oracle.py); no other frame decodes to an ICMP error.
#[test]
fn icmp_errors_match_tshark() {
    use offload_doctor::capture::{CaptureReader, Input};
    use offload_doctor::decode::{decode, DecodeConfig};

    let Some(dir) = shared() else { return };
    let text = std::fs::read_to_string(common::root().join("testdata/oracle/icmp_errors.json"))
        .expect("icmp_errors.json");
    let oracle: Value = serde_json::from_str(&text).expect("valid JSON");
    let files = oracle["files"].as_object().expect("files");
    assert!(
        files.contains_key("ndpi__quic_interop_V.pcapng"),
        "{files:?}"
    );
    let mut failures = Vec::new();
    for (name, want) in files {
        let mut reader = CaptureReader::open(&Input::Path(dir.join(name))).expect("readable");
        let mut ours = Vec::new();
        while let Ok(Some(frame)) = reader.next_frame() {
            let Some(i) = decode(&frame, &DecodeConfig::default()).icmp else {
                continue;
            };
            let ports = i.quoted.and_then(|q| q.ports).map(|p| vec![p.src, p.dst]);
            ours.push(serde_json::json!({
                "frame": frame.number, "type": i.icmp_type, "code": i.code, "ports": ports,
            }));
        }
        if &Value::Array(ours.clone()) != want {
            failures.push(format!("{name}: tshark {want}, we {}", Value::Array(ours)));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
