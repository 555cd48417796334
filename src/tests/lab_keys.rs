//! The kernel lab with keys: a QUIC scenario's captures analysed with the key log its aioquic
//! endpoints wrote (`"keylog": true` in a capture's expectations), every 1-RTT packet decrypted,
//! and the losses decryption finds held to the nftables rules that made them.

use std::path::Path;

use serde_json::Value;

use crate::lab::nft_counter;

/// `--keylog OUT/keylog.txt` when the capture's expectations ask for keys.
pub fn args(out: &Path, want: &Value) -> Vec<String> {
    if want["keylog"] != true {
        return Vec::new();
    }
    let keys = out.join("keylog.txt").to_string_lossy().into_owned();
    vec!["--keylog".into(), keys]
}

/// With keys: every QUIC connection found its secrets and opened every 1-RTT packet, and
/// `"keys": {"lost_before_capture": [FILE, ...], "lost_after_capture": [FILE, ...]}` holds the
/// server's packets lost on each side of the capture point to the sum of those files' nftables
/// counters (`"lost_sends"`: the captured datagrams that held the packets lost after it, for a
/// rule that drops GSO super-datagrams whole) (2 or 2% apart at most: a dropped handshake datagram is counted by the rule, not
/// among the 1-RTT packets), and `"finding": true` wants a `quic-loss` finding. The client's
/// packets, which no rule drops, lose none.
pub fn check(out: &Path, file: &str, want: &Value, json: &Value, errors: &mut Vec<String>) {
    if want["keylog"] != true {
        return;
    }
    let conns: Vec<&Value> = json["flows"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| {
            f["quic"]["decryption"]
                .as_object()
                .map(|_| &f["quic"]["decryption"])
        })
        .collect();
    if conns.is_empty() {
        errors.push(format!("{file}: no QUIC connection decrypted"));
        return;
    }
    let n = |d: &Value, k: &str| d[k].as_u64().unwrap_or(0);
    let sum = |dir: &str, k: &str| -> u64 { conns.iter().map(|d| n(&d[dir]["loss"], k)).sum() };
    for d in &conns {
        for dir in ["c2s", "s2c"] {
            if d["secrets_found"] != true || n(&d[dir], "decrypted") == 0 {
                errors.push(format!("{file}: {dir} not decrypted: {d}"));
            }
            if n(&d[dir], "undecryptable") > 0 {
                errors.push(format!("{file}: {dir} has undecryptable packets: {d}"));
            }
        }
    }
    let client_lost = sum("c2s", "lost_before_capture") + sum("c2s", "lost_after_capture");
    if client_lost > 2 {
        errors.push(format!(
            "{file}: the client lost {client_lost} packets, no rule drops any"
        ));
    }
    let finding = json["findings"]
        .as_array()
        .is_some_and(|a| a.iter().any(|f| f["id"] == "quic-loss"));
    if want["keys"]["finding"] == true && !finding {
        errors.push(format!("{file}: no quic-loss finding"));
    }
    // Sends dropped whole: the finding says so.
    if want["keys"]["lost_sends"].is_array() {
        let says = json["findings"]
            .as_array()
            .and_then(|a| a.iter().find(|f| f["id"] == "quic-loss"))
            .and_then(|f| f["message"].as_str())
            .is_some_and(|m| m.contains("GSO sends lost whole"));
        if !says {
            errors.push(format!(
                "{file}: quic-loss does not name the GSO sends lost whole"
            ));
        }
    }
    // `"flow_control_share_at_least": X`: the quic-flow-control finding's held share.
    if let Some(min) = want["keys"]["flow_control_share_at_least"].as_f64() {
        let share = json["findings"]
            .as_array()
            .and_then(|a| a.iter().find(|f| f["id"] == "quic-flow-control"))
            .and_then(|f| f["details"]["share"].as_f64());
        if share.is_none_or(|s| s < min) {
            errors.push(format!(
                "{file}: quic-flow-control share {share:?}, expected {min}+"
            ));
        }
    }
    for where_ in ["lost_before_capture", "lost_after_capture", "lost_sends"] {
        let Some(files) = want["keys"][where_].as_array().cloned() else {
            continue;
        };
        let mut dropped = 0;
        for f in files.iter().filter_map(Value::as_str) {
            match nft_counter(&out.join(f)) {
                Some(c) => dropped += c,
                None => errors.push(format!("{file}: no nftables counter in {f}")),
            }
        }
        let lost = sum("s2c", where_);
        if lost.abs_diff(dropped) > 2.max(dropped / 50) {
            errors.push(format!(
                "{file}: the server's packets {where_}: {lost}, the nftables rules {files:?} \
                 dropped {dropped}"
            ));
        } else {
            println!(
                "{}: {file} {where_}: {lost}, nftables {dropped}",
                out.display()
            );
        }
    }
}
