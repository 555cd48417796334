//! `retransmissions`: TCP segments sent again, per flow, as Wireshark flags them
//! (`tcp.analysis.retransmission`, which includes fast and spurious retransmissions).
//!
//! Warning when a direction retransmits more than the threshold share of the segments it sent
//! that use sequence space (data, SYN, FIN; default 1%, `--retransmission-threshold`), and the
//! flow is big enough for a rate to mean something ([`MIN_SEGMENTS`], [`MIN_RETRANSMISSIONS`]);
//! info otherwise. Capture duplicates (`tcp::duplicates`), which Wireshark flags as
//! retransmissions, are not counted: the `capture-duplicates` finding reports them. Offloads
//! matter here because a segmentation offload turns one lost wire segment of a 64 KB TSO/GSO
//! burst into a resent burst.

use serde::Serialize;

use super::events::{EventReport, Said};
use super::{details, Identity, Severity, Summary};
use crate::flow::{Flow, Side};
use crate::tcp::evidence::EventClass;
use crate::tcp::metrics::DirMetrics;
use crate::tcp::TcpConn;
use crate::units::{bytes, thousands};

/// A direction with fewer segments has no meaningful rate: one SYN or FIN resent on a
/// three-segment flow is 33% and harmless (a peer that was slow to answer once).
pub const MIN_SEGMENTS: u64 = 20;
/// Fewer resends than this are one loss event, which every long path sees now and then.
pub const MIN_RETRANSMISSIONS: u64 = 3;

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
    /// Retransmissions of that side that were not capture duplicates.
    retransmissions: u64,
    /// The same, of the other side.
    other_side_retransmissions: u64,
    /// Frames Wireshark counts as retransmissions that were capture duplicates (both sides).
    capture_duplicates: u64,
    /// Frames Wireshark counts as retransmissions that were sent before frames captured ahead
    /// of them (both sides; `tcp::id_order`).
    captured_out_of_order: u64,
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
            .filter(|&d| conn.dirs()[d].counts.real_retransmissions() > 0)
            .map(|d| (d, conn.dirs()[d].retransmission_rate()))
            .max_by(|a, b| a.1.total_cmp(&b.1))
        else {
            return Vec::new();
        };
        let m = &conn.dirs()[side];
        let c = m.counts;
        let real = c.real_retransmissions();
        let other = conn.dirs()[side.other()].counts;
        let dups = c.duplicate_retransmissions + other.duplicate_retransmissions;
        let late = c.reordered_retransmissions + other.reordered_retransmissions;
        let matters = m.seq_segments >= MIN_SEGMENTS && real >= MIN_RETRANSMISSIONS;
        let severity = if rate > self.threshold && matters {
            Self::SEVERITY
        } else {
            Severity::Info
        };
        vec![Said {
            severity,
            message: message(f, side, m, rate, other.real_retransmissions(), [dups, late]),
            hint: "Find where the packets are lost: compare with a capture at the other end. \
                   Spurious retransmissions mean the data had arrived (RTO too short or ACKs \
                   lost); runs of many consecutive retransmitted segments suggest a lost \
                   TSO/GSO burst: test with `ethtool -K <dev> tso off gso off`.",
            details: details(&Details {
                side: f.role(side),
                retransmissions: real,
                other_side_retransmissions: other.real_retransmissions(),
                capture_duplicates: dups,
                captured_out_of_order: late,
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

/// What the finding says: the worst side's figures, then what the listed frames also hold.
/// `not_counted`: capture duplicates and frames captured out of order.
fn message(
    f: &Flow,
    side: Side,
    m: &DirMetrics,
    rate: f64,
    other: u64,
    not_counted: [u64; 2],
) -> String {
    let c = m.counts;
    let mut s = format!(
        "The {} ({}) retransmitted {} of {} segment{} ({:.1}%, {} of data resent; {} fast, {} spurious).",
        f.role(side),
        f.key.end(side),
        thousands(c.real_retransmissions()),
        thousands(m.seq_segments),
        crate::units::s(m.seq_segments),
        rate * 100.0,
        bytes(m.retransmitted_bytes),
        c.fast_retransmissions,
        c.spurious_retransmissions,
    );
    if other > 0 {
        s += &format!(
            " The {} retransmitted {}.",
            f.role(side.other()),
            thousands(other)
        );
    }
    let [dups, late] = not_counted;
    if dups + late > 0 {
        s += &format!(
            " Not counted, though Wireshark flags them: {} capture duplicate{}, {} frame{} \
             captured after frames sent later.",
            thousands(dups),
            crate::units::s(dups),
            thousands(late),
            crate::units::s(late)
        );
    }
    s
}
