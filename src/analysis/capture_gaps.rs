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
}

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
        let gap = conn.dirs.map(|d| d.capture_gap_bytes);
        let jumps: u64 = conn.dirs.map(|d| d.seq_jumps).sum();
        if gap.sum() == 0 {
            return Vec::new();
        }
        let events = conn.dirs.map(|d| d.capture_gap_events).sum();
        let dropped: u64 = s
            .meta
            .interface_stats
            .iter()
            .map(|i| i.if_drop.unwrap_or(0) + i.os_drop.unwrap_or(0))
            .sum();
        let [client, server] = f.client_first().map(|side| gap[side]);
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
                details: details(&Details {
                    gap_bytes: gap.sum(),
                    gap_events: events,
                    client_gap_bytes: client,
                    server_gap_bytes: server,
                    interface_drops: dropped,
                    sequence_jumps: jumps,
                    in_fragments: true,
                }),
            }];
        }
        vec![Said {
            severity: Self::SEVERITY,
            message: format!(
                "The capture missed {} of this connection in {events} place{} that the receiver \
                 acknowledged: loss and retransmission figures are a lower bound{}.",
                bytes(gap.sum()),
                if events == 1 { "" } else { "s" },
                match jumps {
                    0 => String::new(),
                    n => format!(
                        " ({n} sequence jump{} too large for the time between the frames are \
                         not counted: damaged or reused sequence numbers)",
                        if n == 1 { "" } else { "s" }
                    ),
                }
            ),
            hint: "The capture itself dropped packets, or started late. Capture with a larger \
                   buffer (tcpdump -B 65536), a smaller snaplen (-s 128), on the host rather than \
                   a SPAN port, or filter to fewer flows.",
            details: details(&Details {
                gap_bytes: gap.sum(),
                gap_events: events,
                client_gap_bytes: client,
                server_gap_bytes: server,
                interface_drops: dropped,
                sequence_jumps: jumps,
                in_fragments: false,
            }),
        }]
    }
}
