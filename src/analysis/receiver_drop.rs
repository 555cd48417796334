//! `receiver-drop`: with `--peer` and the receiver's qlog (`--qlog`), QUIC packets the capture
//! point nearer the receiver saw arrive that the receiver never logged as received: dropped
//! after the last tap (a full socket receive buffer, an input filter). The hop-by-hop account
//! is [`super::peer_chain`]'s; the path between the taps is `path-loss`'s.

use super::peer_chain::{hop_finding, Hop};
use super::{Detector, Finding, Identity, Severity, Summary};

pub struct ReceiverDrop;

impl Identity for ReceiverDrop {
    const ID: &'static str = "receiver-drop";
    const SEVERITY: Severity = Severity::Warning;
}

impl Detector for ReceiverDrop {
    /// Judges the flows at the end: never called per frame.
    fn watches(&self) -> super::Watch {
        super::Watch::Nothing
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let Some(view) = &s.peer else {
            return Vec::new();
        };
        (0..view.cmp.pairs.len())
            .filter_map(|k| {
                hop_finding(Hop::Receiver, (Self::ID, Self::SEVERITY), view, k, s.flows)
            })
            .collect()
    }
}
