//! Small captures cut from kernel-lab runs (testdata/lab/cuts/, cut with editcap), so that real
//! aioquic traffic is tested where the lab cannot run. The facts asserted were read with tshark
//! 4.0 from the same files (`quic.connection.number`, `icmp.type`/`icmp.code`).

use serde_json::{json, Value};

use crate::common::{analyze_json, root, subset};

fn report(name: &str) -> Value {
    let path = root().join("testdata/lab/cuts").join(name);
    let (r, json) = analyze_json(&path, &[]);
    json.unwrap_or_else(|| panic!("{name}: no report (exit {}): {}", r.code, r.stderr))
}

fn check(name: &str, want: Value) {
    let mut errors = Vec::new();
    subset(&want, &report(name), name, &mut errors);
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

/// `lab.sh quic-rebind`, the receiver's capture: the handshake, then the client's move to a new
/// port halfway (frames 1-40 and 640-700 of the run). tshark numbers one QUIC connection on both
/// 5-tuples; so do we: the second flow is the connection's second path. tshark reads the same cipher
/// suite (0x1302) from the server's Initial.
#[test]
fn an_aioquic_client_moving_to_a_new_port_is_one_connection() {
    check(
        "quic-rebind.pcap",
        json!({
            "findings": [],
            "flows": [
                {"quic": {"sni": "lab.offload-doctor.test", "alpn": ["h3"],
                          "cipher_suite": "TLS_AES_256_GCM_SHA384", "zero_length_cid": false,
                          "paths": [{"flow": 1, "client": "10.77.0.2:45335"},
                                    {"flow": 2, "client": "10.77.0.2:50132",
                                     "server": "10.77.0.1:4433"}]},
                 "quic_connection": null},
                {"quic_connection": 1}
            ]
        }),
    );
}

/// `lab.sh quic-closed-port`, the client's capture: 6 Initials, each answered by ICMP port
/// unreachable (tshark: type 3, code 3, quoting the Initial's ports).
#[test]
fn an_aioquic_client_to_a_closed_port_is_a_failed_handshake() {
    check(
        "quic-closed-port.pcap",
        json!({
            "flows": [{"protocol": "udp", "quic": {"c2s": {"initial": 6}}}],
            "findings": [{"id": "quic-handshake-failed", "severity": "warning",
                          "details": {"failure": "icmp-error", "client_initials": 6,
                                      "icmp": {"kind": "port-unreachable", "count": 6,
                                               "from": "10.77.0.1"}}}]
        }),
    );
}
