//! `capture-gaps`: data the receiver acknowledged but the capture never saw.
//!
//! A sequence hole ("previous segment not captured") that is later filled by a retransmission
//! was lost on the network; one that the receiver acknowledges without it ever appearing was lost
//! by the capture itself (a full capture buffer, a SPAN port dropping, a capture that started
//! late). Then every loss figure from this capture is a lower bound. pcapng interface statistics
//! that report drops are cited too.

use serde::Serialize;

use super::events::{EventReport, Said};
use super::{details, Identity, Severity, Summary};
use crate::flow::Flow;
use crate::tcp::evidence::EventClass;
use crate::tcp::TcpConn;
use crate::units::bytes;

pub struct CaptureGaps;

/// `details` of a `capture-gaps` finding.
#[derive(Serialize)]
struct Details {
    gap_bytes: u64,
    gap_events: u64,
    client_gap_bytes: u64,
    server_gap_bytes: u64,
    /// Drops the pcapng interface statistics report, summed over interfaces.
    interface_drops: u64,
    /// Sequence jumps too large for the time between the frames (faster than 400 Gbit/s): not
    /// counted as missed bytes.
    sequence_jumps: u64,
    /// IP fragments passed between the flow's hosts (or tunnel endpoints): the bytes are
    /// probably in fragments, not missing (info, not a warning).
    in_fragments: bool,
    /// Payload bytes the capture holds for this connection: beside `gap_bytes`, how much of the
    /// connection the capture saw at all.
    captured_bytes: u64,
}

/// Below this share of the acknowledged data captured, the capture is a slice or sample of the
/// connection (a snapshot of a long transfer, a sampling tap), not a capture with a few drops.
const SAMPLED_SHARE: f64 = 0.10;

const DROP_HINT: &str = "The capture itself dropped packets, or started late. Capture with a \
    larger buffer (tcpdump -B 65536), a smaller snaplen (-s 128), on the host rather than a SPAN \
    port, or filter to fewer flows.";

const SLICE_HINT: &str = "If the capture was cut on purpose (editcap, a ring buffer, a sampling \
    tap), judge this connection by a capture of the whole transfer; otherwise the capture \
    dropped almost everything: capture on the host with a larger buffer (tcpdump -B 65536) and a \
    smaller snaplen (-s 128).";

const FRAGMENT_HINT: &str = "Wireshark reassembles IP fragments and shows these segments. The \
    fragmentation itself is the finding to act on (see ip-fragmentation): an MTU too small for \
    the encapsulated packets.";

impl Identity for CaptureGaps {
    const ID: &'static str = "capture-gaps";
    const SEVERITY: Severity = Severity::Warning;
}

impl EventReport for CaptureGaps {
    const CLASS: EventClass = EventClass::CaptureGap;
    const FILTER: &'static str = "(tcp.analysis.ack_lost_segment || tcp.analysis.lost_segment)";

    fn report(&self, s: &Summary<'_>, f: &Flow, conn: &TcpConn) -> Vec<Said> {
        let gap = conn.dirs().map(|d| d.capture_gap_bytes);
        let jumps: u64 = conn.dirs().map(|d| d.seq_jumps).sum();
        if gap.sum() == 0 {
            return Vec::new();
        }
        let events = conn.dirs().map(|d| d.capture_gap_events).sum();
        let dropped: u64 = s
            .meta
            .interface_stats
            .iter()
            .map(|i| i.if_drop.unwrap_or(0) + i.os_drop.unwrap_or(0))
            .sum();
        let [client, server] = f.client_first().map(|side| gap[side]);
        let captured: u64 = conn.dirs().map(|d| d.data_bytes).sum();
        let details_with = |in_fragments| {
            details(&Details {
                gap_bytes: gap.sum(),
                gap_events: events,
                client_gap_bytes: client,
                server_gap_bytes: server,
                interface_drops: dropped,
                sequence_jumps: jumps,
                in_fragments,
                captured_bytes: captured,
            })
        };
        // Segments inside IP fragments are in the capture but not analysed (no reassembly):
        // then "missed" is our blind spot, not the capture's, and no reason to distrust it.
        if s.flows.fragments_between(f) {
            return vec![Said {
                severity: Severity::Info,
                message: format!(
                    "{} of this connection in {events} place{} that the receiver acknowledged \
                     were not seen as TCP segments; IP fragments passed between these hosts, so \
                     they are probably inside fragments, which offload-doctor does not \
                     reassemble.",
                    bytes(gap.sum()),
                    if events == 1 { "" } else { "s" },
                ),
                hint: FRAGMENT_HINT,
                details: details_with(true),
            }];
        }
        vec![Said {
            severity: Self::SEVERITY,
            message: format!(
                "The capture missed {} of this connection in {events} place{} that the receiver \
                 acknowledged: {}{}.",
                bytes(gap.sum()),
                if events == 1 { "" } else { "s" },
                consequence(captured, gap.sum()),
                match jumps {
                    0 => String::new(),
                    n => format!(
                        " ({n} sequence jump{} too large for the time between the frames are \
                         not counted: damaged or reused sequence numbers)",
                        if n == 1 { "" } else { "s" }
                    ),
                }
            ),
            hint: if sampled(captured, gap.sum()) {
                SLICE_HINT
            } else {
                DROP_HINT
            },
            details: details_with(false),
        }]
    }
}

/// What the missed bytes mean: a few drops make loss figures a lower bound; a capture that holds
/// a small share of the connection (a 32 kB slice of a 5 GB transfer) describes its frames only.
fn consequence(captured: u64, missed: u64) -> String {
    let seen = seen_share(captured, missed);
    if !sampled(captured, missed) {
        return "loss and retransmission figures are a lower bound".into();
    }
    format!(
        "the capture holds {} of the connection's data ({}), a slice or sample of it, so rates, \
         loss and retransmission figures describe the captured frames, not the connection",
        bytes(captured),
        if seen < 1e-4 {
            "under 0.01%".to_string()
        } else {
            format!("{:.2}%", seen * 100.0)
        },
    )
}

fn seen_share(captured: u64, missed: u64) -> f64 {
    captured as f64 / captured.saturating_add(missed).max(1) as f64
}

fn sampled(captured: u64, missed: u64) -> bool {
    seen_share(captured, missed) < SAMPLED_SHARE
}
