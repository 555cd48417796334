//! `retransmissions`: TCP segments sent again, per flow, as Wireshark flags them
//! (`tcp.analysis.retransmission`, which includes fast and spurious retransmissions).
//!
//! Warning when a direction retransmits more than the threshold share of the segments it sent
//! that use sequence space (data, SYN, FIN; default 1%, `--retransmission-threshold`); info below
//! it. Offloads matter here because a segmentation offload turns one lost wire segment of a
//! 64 KB TSO/GSO burst into a resent burst.

use serde::Serialize;

use super::events::{EventReport, Said};
use super::{details, Identity, Severity, Summary};
use crate::flow::{Flow, Side};
use crate::tcp::evidence::EventClass;
use crate::tcp::TcpConn;
use crate::units::{bytes, thousands};

pub struct Retransmissions {
    threshold: f64,
}

impl Retransmissions {
    pub fn new(threshold: f64) -> Self {
        Retransmissions { threshold }
    }
}

/// `details` of a `retransmissions` finding.
#[derive(Serialize)]
struct Details {
    /// `client` or `server`: the direction with the highest rate.
    side: &'static str,
    retransmissions: u64,
    fast_retransmissions: u64,
    spurious_retransmissions: u64,
    /// Segments that used sequence space.
    segments: u64,
    retransmitted_bytes: u64,
    rate: f64,
    threshold: f64,
}

impl Identity for Retransmissions {
    const ID: &'static str = "retransmissions";
    const SEVERITY: Severity = Severity::Warning;
}

impl EventReport for Retransmissions {
    const CLASS: EventClass = EventClass::Retransmission;
    const FILTER: &'static str = "tcp.analysis.retransmission";

    fn report(&self, _: &Summary<'_>, f: &Flow, conn: &TcpConn) -> Vec<Said> {
        // The direction with the highest rate speaks for the flow.
        let Some((side, rate)) = Side::BOTH
            .into_iter()
            .filter(|&d| conn.dirs[d].counts.retransmissions > 0)
            .map(|d| (d, conn.dirs[d].retransmission_rate()))
            .max_by(|a, b| a.1.total_cmp(&b.1))
        else {
            return Vec::new();
        };
        let m = &conn.dirs[side];
        let c = m.counts;
        let severity = if rate > self.threshold {
            Self::SEVERITY
        } else {
            Severity::Info
        };
        vec![Said {
            severity,
            message: format!(
                "The {} ({}) retransmitted {} of {} segments ({:.1}%, {} of data resent; {} fast, {} spurious).",
                f.role(side),
                f.key.end(side),
                thousands(c.retransmissions),
                thousands(m.seq_segments),
                rate * 100.0,
                bytes(m.retransmitted_bytes),
                c.fast_retransmissions,
                c.spurious_retransmissions,
            ),
            hint: "Find where the packets are lost: compare with a capture at the other end. \
                   Spurious retransmissions mean the data had arrived (RTO too short or ACKs \
                   lost); runs of many consecutive retransmitted segments suggest a lost \
                   TSO/GSO burst: test with `ethtool -K <dev> tso off gso off`.",
            details: details(&Details {
                side: f.role(side),
                retransmissions: c.retransmissions,
                fast_retransmissions: c.fast_retransmissions,
                spurious_retransmissions: c.spurious_retransmissions,
                segments: m.seq_segments,
                retransmitted_bytes: m.retransmitted_bytes,
                rate,
                threshold: self.threshold,
            }),
        }]
    }
}
