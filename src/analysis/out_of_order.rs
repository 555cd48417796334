//! `out-of-order`: segments that arrived below the highest sequence number soon after it
//! (`tcp.analysis.out_of_order`: within the handshake RTT, or 3 ms without a handshake).
//!
//! Capture duplicates (`tcp::duplicates`) that Wireshark flags as out of order are not counted:
//! the `capture-duplicates` finding reports them.
//!
//! Informational: reordering in the network (ECMP, LAG members, multiqueue) or a capture point
//! that merges several paths. A few are harmless; many trigger duplicate ACKs and spurious fast
//! retransmissions, and they end GRO trains.

use serde::Serialize;

use super::events::{EventReport, Said};
use super::{details, Identity, Severity, Summary};
use crate::flow::Flow;
use crate::tcp::evidence::EventClass;
use crate::tcp::TcpConn;

pub struct OutOfOrder;

/// `details` of an `out-of-order` finding.
#[derive(Serialize)]
struct Details {
    out_of_order: u64,
    from_client: u64,
    from_server: u64,
    /// Data segments of the connection, both directions.
    data_segments: u64,
}

impl Identity for OutOfOrder {
    const ID: &'static str = "out-of-order";
    const SEVERITY: Severity = Severity::Info;
}

impl EventReport for OutOfOrder {
    const CLASS: EventClass = EventClass::OutOfOrder;
    const FILTER: &'static str = "tcp.analysis.out_of_order";

    fn report(&self, _: &Summary<'_>, f: &Flow, conn: &TcpConn) -> Vec<Said> {
        let n = conn.dirs().map(|d| d.counts.real_out_of_order());
        if n.sum() == 0 {
            return Vec::new();
        }
        let [client, server] = f.client_first().map(|s| n[s]);
        let segs = conn.dirs().map(|d| d.data_segments).sum();
        vec![Said {
            severity: Self::SEVERITY,
            message: format!(
                "{} of {segs} data segments arrived out of order ({client} from the client, \
                 {server} from the server).",
                n.sum(),
            ),
            hint: "Reordering on the path (ECMP or LAG hashing, several NIC queues) or a capture \
                   that merges several taps. Harmless in small numbers; if it comes with spurious \
                   retransmissions, raise net.ipv4.tcp_reordering or fix the hashing.",
            details: details(&Details {
                out_of_order: n.sum(),
                from_client: client,
                from_server: server,
                data_segments: segs,
            }),
        }]
    }
}
