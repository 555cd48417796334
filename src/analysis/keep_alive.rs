//! `keep-alive`: TCP keep-alives (`tcp.analysis.keep_alive`): one byte (or none) one before the
//! next expected sequence number, sent to check an idle peer.
//!
//! Capture duplicates (`tcp::duplicates`) that Wireshark flags as keep-alives (late copies of
//! ACKs after the FIN) are not counted.
//!
//! Informational: on an idle connection they are normal; on one that should be moving data they
//! mean it is stalled (read them together with `zero-window`).

use serde::Serialize;

use super::events::{EventReport, Said};
use super::{details, Identity, Severity, Summary};
use crate::flow::Flow;
use crate::tcp::evidence::EventClass;
use crate::tcp::TcpConn;

pub struct KeepAlive;

/// `details` of a `keep-alive` finding.
#[derive(Serialize)]
struct Details {
    keep_alives: u64,
    from_client: u64,
    from_server: u64,
    /// Payload bytes of the connection, both directions.
    payload_bytes: u64,
}

impl Identity for KeepAlive {
    const ID: &'static str = "keep-alive";
    const SEVERITY: Severity = Severity::Info;
}

impl EventReport for KeepAlive {
    const CLASS: EventClass = EventClass::KeepAlive;
    const FILTER: &'static str = "tcp.analysis.keep_alive";

    fn report(&self, _: &Summary<'_>, f: &Flow, conn: &TcpConn) -> Vec<Said> {
        let n = conn.dirs().map(|d| d.counts.real_keep_alives());
        if n.sum() == 0 {
            return Vec::new();
        }
        let [client, server] = f.client_first().map(|s| n[s]);
        let data = conn.dirs().map(|d| d.data_bytes).sum();
        vec![Said {
            severity: Self::SEVERITY,
            message: format!(
                "{} ({client} from the client, {server} from the server) on a connection that \
                 carried {data} payload bytes.",
                crate::units::plural(n.sum(), "keep-alive"),
            ),
            hint: "Normal on an idle connection. If this connection should be moving data, it is \
                   stalled: check for a zero window from the receiver.",
            details: details(&Details {
                keep_alives: n.sum(),
                from_client: client,
                from_server: server,
                payload_bytes: data,
            }),
        }]
    }
}
