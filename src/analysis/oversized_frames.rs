//! `oversized-frames`: TCP frames whose IP packet is larger than the path MTU. No wire carries
//! them: GRO/LRO merged them on the receiver before the capture tap, or the capture was taken on
//! the sender before TSO/GSO split them (domain notes: "Where a capture sees offloaded packets").
//! Which of the two follows from where the capture was taken (`Flow::capture_point`).

use std::collections::BTreeMap;

use serde::Serialize;

use super::kit::{gro_dirs, sender, share, SideDetails};
use super::{details, Detector, Finding, Identity, Severity, Summary};
use crate::flow::CaptureEvidence;
use crate::gro::{MtuSource, SEGMENT_BUCKETS};

pub struct OversizedFrames;

/// `details` of an `oversized-frames` finding.
#[derive(Serialize)]
struct Details {
    #[serde(flatten)]
    side: SideDetails,
    /// `send` (TSO/GSO before the NIC), `receive` (GRO/LRO before the tap) or `unknown`.
    offload: Offload,
    /// `client` or `server`: where the capture was taken, when the capture tells.
    capture_point: Option<&'static str>,
    capture_point_evidence: Option<CaptureEvidence>,
    mtu: u32,
    mtu_source: MtuSource,
    oversized_frames: u64,
    data_frames: u64,
    share: f64,
    max_segments_per_frame: u32,
    segments_per_frame: Option<f64>,
    /// Oversized frames by segments per frame (`2`, `3`, `4`, `5-8`, …).
    segments_histogram: BTreeMap<&'static str, u64>,
    /// Oversized frames with IPv4 total length 0 (a sender's TSO).
    ipv4_length_zero: u64,
}

/// Which offload made the frames, from where the capture was taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
enum Offload {
    /// Captured on the sender: TSO/GSO had not cut them yet.
    Send,
    /// Captured on the receiver: GRO/LRO merged them.
    Receive,
    /// The capture point is not known.
    Unknown,
}

impl Offload {
    /// What the frames are, and what to do about them.
    fn explain(self) -> (&'static str, &'static str) {
        match self {
            Offload::Send => (
                "the capture was taken on the sender, before TSO/GSO cut them into wire segments",
                "Expected on a sender with TSO/GSO on (`ethtool -k IFACE | grep segmentation`). \
                 Loss and RTT per wire segment are hidden inside these frames: to see the wire, \
                 capture on the receiver or a mirror port, or compare with `ethtool -K IFACE tso \
                 off gso off`.",
            ),
            Offload::Receive => (
                "GRO/LRO on the receiver merged them before the capture point: receive \
                 coalescing works",
                "Nothing to fix: this is what working GRO/LRO looks like. Loss and RTT per wire \
                 segment are hidden inside these frames: to see the wire, capture on a mirror \
                 port or with `ethtool -K IFACE gro off lro off` while capturing.",
            ),
            Offload::Unknown => (
                "either GRO/LRO merged them on the receiver or TSO/GSO had not yet cut them on \
                 the sender; the capture does not show which host it was taken on",
                "On the receiver this is working GRO/LRO; on the sender, TSO/GSO. Capture with \
                 `tcpdump -i any` (Linux cooked capture marks outgoing packets) or include the \
                 handshake so the capture point can be told.",
            ),
        }
    }
}

impl Identity for OversizedFrames {
    const ID: &'static str = "oversized-frames";
    const SEVERITY: Severity = Severity::Info;
}

impl Detector for OversizedFrames {
    /// Judges the flows at the end: never called per frame.
    fn watches(&self) -> super::Watch {
        super::Watch::Nothing
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for (f, side, g) in gro_dirs(s.flows) {
            let n = g.oversized.total;
            if n == 0 {
                continue;
            }
            let point = f.capture_point();
            let offload = match point {
                Some(p) if p.side == side => Offload::Send,
                Some(_) => Offload::Receive,
                None => Offload::Unknown,
            };
            let (what, hint) = offload.explain();
            let histogram = SEGMENT_BUCKETS
                .iter()
                .zip(g.segment_histogram)
                .filter(|(_, c)| *c > 0)
                .map(|(&(_, _, name), c)| (name, c))
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
                frames_total: g.oversized.total,
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
                details: details(&Details {
                    side: SideDetails::of(f, side),
                    offload,
                    capture_point: point.map(|p| f.role(p.side)),
                    capture_point_evidence: point.map(|p| p.how),
                    mtu: g.mtu,
                    mtu_source: g.mtu_source,
                    oversized_frames: n,
                    data_frames: g.data_frames,
                    share: share(n, g.data_frames),
                    max_segments_per_frame: g.max_segments,
                    segments_per_frame: g.segments_per_frame(),
                    segments_histogram: histogram,
                    ipv4_length_zero: g.oversized_len_zero,
                }),
            });
        }
        out
    }
}
