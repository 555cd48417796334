//! The kernel lab's hop-by-hop check: with both endpoints' qlogs, `sender-drop` and
//! `receiver-drop` on real aioquic traffic held to the nftables counters of the rules that
//! dropped the packets on each host (lab.sh dumps them), both ways round (`send.pcap --peer
//! recv.pcap` and the reverse).

use std::path::Path;

use serde_json::Value;

use crate::common::analyze_json;
use crate::lab::nft_counter;

/// `"peer": {"qlog": [DIR, ...], "hops_are_nft_drops": {"sender-drop": FILE, ...}}`: each named
/// finding fires once each way, its `details.missing` the `counter packets N` of FILE. One
/// datagram is one QUIC packet here, save the handshake's coalesced ones, which the qlogs count
/// apart: 2 or 2% of slack, as the qlog join's own lab check allows.
pub fn hops_agree(out: &Path, want: &Value, errors: &mut Vec<String>) {
    let Some(hops) = want["hops_are_nft_drops"].as_object() else {
        return;
    };
    let mut qlogs = Vec::new();
    for q in want["qlog"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        qlogs.push("--qlog".to_string());
        qlogs.push(out.join(q).to_string_lossy().into_owned());
    }
    let (send, recv) = (out.join("send.pcap"), out.join("recv.pcap"));
    for (a, b) in [(&send, &recv), (&recv, &send)] {
        let mut args = vec!["--peer".to_string(), b.to_string_lossy().into_owned()];
        args.extend(qlogs.iter().cloned());
        let (r, json) = analyze_json(a, &args);
        let name = a.file_name().map(|n| n.to_string_lossy().into_owned());
        for (id, file) in hops {
            let counter = file.as_str().and_then(|f| nft_counter(&out.join(f)));
            let found: Vec<&Value> = json
                .as_ref()
                .and_then(|j| j["findings"].as_array())
                .into_iter()
                .flatten()
                .filter(|f| f["id"] == id.as_str())
                .collect();
            let missing = match found[..] {
                [f] => f["details"]["missing"].as_u64(),
                _ => None,
            };
            match (missing, counter) {
                (Some(m), Some(c)) if m.abs_diff(c) <= 2.max(c / 50) => eprintln!(
                    "{}: {name:?} {id}: {m} missing, the rule dropped {c}",
                    out.display()
                ),
                _ => errors.push(format!(
                    "{name:?} --peer --qlog: {} {id} findings, missing {missing:?}, the rule \
                     dropped {counter:?} (exit {})",
                    found.len(),
                    r.code
                )),
            }
        }
    }
}
