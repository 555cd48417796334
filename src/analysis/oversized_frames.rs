//! `oversized-frames`: TCP frames whose IP packet is larger than the path MTU. No wire carries
//! them: GRO/LRO merged them on the receiver before the capture tap, or the capture was taken on
//! the sender before TSO/GSO split them (domain notes: "Where a capture sees offloaded packets").
//! Which of the two follows from where the capture was taken (`Flow::capture_point`).

use serde_json::{json, Map, Value};

use super::{
    details, gro_dirs, sender, share, side_details, Detector, Finding, Identity, Severity, Summary,
};
use crate::gro::SEGMENT_BUCKETS;

pub struct OversizedFrames;

impl Identity for OversizedFrames {
    const ID: &'static str = "oversized-frames";
    const SEVERITY: Severity = Severity::Info;
}

impl Detector for OversizedFrames {
    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for (_, f, side, g) in gro_dirs(s.flows) {
            let n = g.oversized.total;
            if n == 0 {
                continue;
            }
            let point = f.capture_point();
            let offload = match point {
                Some(p) if p.side == side => "send",
                Some(_) => "receive",
                None => "unknown",
            };
            let what = match offload {
                "send" => {
                    "the capture was taken on the sender, before TSO/GSO cut them into wire \
                           segments"
                }
                "receive" => {
                    "GRO/LRO on the receiver merged them before the capture point: \
                              receive coalescing works"
                }
                _ => {
                    "either GRO/LRO merged them on the receiver or TSO/GSO had not yet cut them \
                      on the sender; the capture does not show which host it was taken on"
                }
            };
            let hint = match offload {
                "send" => {
                    "Expected on a sender with TSO/GSO on (`ethtool -k IFACE | grep \
                           segmentation`). Loss and RTT per wire segment are hidden inside these \
                           frames: to see the wire, capture on the receiver or a mirror port, or \
                           compare with `ethtool -K IFACE tso off gso off`."
                }
                "receive" => {
                    "Nothing to fix: this is what working GRO/LRO looks like. Loss and \
                              RTT per wire segment are hidden inside these frames: to see the \
                              wire, capture on a mirror port or with `ethtool -K IFACE gro off \
                              lro off` while capturing."
                }
                _ => {
                    "On the receiver this is working GRO/LRO; on the sender, TSO/GSO. Capture \
                      with `tcpdump -i any` (Linux cooked capture marks outgoing packets) or \
                      include the handshake so the capture point can be told."
                }
            };
            let histogram: Map<String, Value> = SEGMENT_BUCKETS
                .iter()
                .zip(g.segment_histogram)
                .filter(|(_, c)| *c > 0)
                .map(|((_, _, name), c)| (name.to_string(), json!(c)))
                .collect();
            let v4 = f.key.ends[0].addr.is_ipv4();
            let size = if v4 {
                format!("ip.len > {}", g.mtu)
            } else {
                format!("ipv6.plen > {}", g.mtu.saturating_sub(40))
            };
            let size = if g.oversized_len_zero > 0 {
                format!("({size} || ip.len == 0)")
            } else {
                size
            };
            out.push(Finding {
                id: Self::ID,
                severity: Self::SEVERITY,
                flow: Some(f.id),
                frames: g.oversized.frames(),
                message: format!(
                    "{} of {} data frames from {} ({:.0}%) are larger than the {}-byte path MTU, \
                     up to {} segments each: {what}.",
                    n,
                    g.data_frames,
                    sender(f, side),
                    100.0 * share(n, g.data_frames),
                    g.mtu,
                    g.max_segments,
                ),
                hint: hint.into(),
                wireshark_filter: Some(format!(
                    "{} && tcp.len > 0 && {size}",
                    f.wireshark_filter()
                )),
                details: details(side_details(f, side).into_iter().chain([
                    ("offload", json!(offload)),
                    ("capture_point", json!(point.map(|p| f.role(p.side)))),
                    ("capture_point_evidence", json!(point.map(|p| p.how))),
                    ("mtu", json!(g.mtu)),
                    ("mtu_source", json!(g.mtu_source.name())),
                    ("oversized_frames", json!(n)),
                    ("data_frames", json!(g.data_frames)),
                    ("share", json!(share(n, g.data_frames))),
                    ("max_segments_per_frame", json!(g.max_segments)),
                    ("segments_per_frame", json!(g.segments_per_frame())),
                    ("segments_histogram", Value::Object(histogram)),
                    ("ipv4_length_zero", json!(g.oversized_len_zero)),
                ])),
            });
        }
        out
    }
}
