//! `sender-drop`: with `--peer` and the sender's qlog (`--qlog`), QUIC packets the sender
//! logged as sent that the capture point nearer it never saw: dropped on the sender's host (its
//! kernel: UDP GSO, a full send buffer, a qdisc or a filter) before the first tap. The hop-by-hop
//! account is [`super::peer_chain`]'s; the path between the taps is `path-loss`'s.

use super::peer_chain::{hop_finding, Hop};
use super::{Detector, Finding, Identity, Severity, Summary};

pub struct SenderDrop;

impl Identity for SenderDrop {
    const ID: &'static str = "sender-drop";
    const SEVERITY: Severity = Severity::Warning;
}

impl Detector for SenderDrop {
    /// Judges the flows at the end: never called per frame.
    fn watches(&self) -> super::Watch {
        super::Watch::Nothing
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let Some(view) = &s.peer else {
            return Vec::new();
        };
        (0..view.cmp.pairs.len())
            .filter_map(|k| hop_finding(Hop::Sender, (Self::ID, Self::SEVERITY), view, k, s.flows))
            .collect()
    }
}
