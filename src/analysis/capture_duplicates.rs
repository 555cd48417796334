//! `capture-duplicates`: frames the capture holds twice (a SPAN port mirroring both directions,
//! a bond or bridge, `tcpdump -i any`), recognised by `tcp::duplicates` the way tcptrace finds
//! "hardware duplicates".
//!
//! Informational: the network sent the frame once, so a copy is neither a retransmission nor a
//! reason for concern about the path, but it explains why Wireshark's retransmission counts are
//! higher than this tool's and warns that the capture point is not where the traffic ran.

use serde::Serialize;

use super::events::{EventReport, Said};
use super::{details, Identity, Severity, Summary};
use crate::flow::Flow;
use crate::tcp::evidence::EventClass;
use crate::tcp::TcpConn;
use crate::units::thousands;

pub struct CaptureDuplicates;

/// `details` of a `capture-duplicates` finding.
#[derive(Serialize)]
struct Details {
    duplicates: u64,
    from_client: u64,
    from_server: u64,
    /// Of the duplicates, frames Wireshark flags as retransmissions.
    wireshark_retransmissions: u64,
}

impl Identity for CaptureDuplicates {
    const ID: &'static str = "capture-duplicates";
    const SEVERITY: Severity = Severity::Info;
}

impl EventReport for CaptureDuplicates {
    const CLASS: EventClass = EventClass::CaptureDuplicate;
    // Wireshark has no field for them: it flags copies of data, SYN and FIN as retransmissions
    // and copies of pure ACKs as duplicate ACKs.
    const FILTER: &'static str = "(tcp.analysis.retransmission || tcp.analysis.duplicate_ack)";

    fn report(&self, _: &Summary<'_>, f: &Flow, conn: &TcpConn) -> Vec<Said> {
        let n = conn.dirs().map(|d| d.counts.capture_duplicates);
        if n.sum() == 0 {
            return Vec::new();
        }
        let [client, server] = f.client_first().map(|s| n[s]);
        let ws = conn
            .dirs()
            .map(|d| d.counts.duplicate_retransmissions)
            .sum();
        vec![Said {
            severity: Self::SEVERITY,
            message: format!(
                "{} {} of a frame captured moments before (same IP ID or \
                 timestamps, sequence, ACK and length); Wireshark counts {} of them as \
                 retransmissions, this tool does not.",
                thousands(n.sum()),
                if n.sum() == 1 {
                    "frame is a copy"
                } else {
                    "frames are copies"
                },
                thousands(ws),
            ),
            hint: "The capture point saw these frames twice: a SPAN/mirror port copying both \
                   directions, a bond or bridge, or `tcpdump -i any`. Capture on one interface \
                   (or deduplicate with `editcap -d`) before counting retransmissions.",
            details: details(&Details {
                duplicates: n.sum(),
                from_client: client,
                from_server: server,
                wireshark_retransmissions: ws,
            }),
        }]
    }
}
