//! The detectors of the TCP engine's event flags (`retransmissions`, `zero-window`,
//! `keep-alive`, `out-of-order`, `capture-gaps`) share this one implementation.
//!
//! The engine counts the flags per direction and keeps each connection's evidence frames
//! ([`crate::tcp::evidence`]), so such a detector has no per-frame work: it names its event
//! class and says, per TCP flow, what the finding reads.

use super::kit::tcp_flows;
use super::{Detector, Finding, Identity, Severity, Summary};
use crate::flow::Flow;
use crate::tcp::evidence::EventClass;
use crate::tcp::TcpConn;

/// What an event detector adds to the shared implementation.
pub trait EventReport {
    /// The events its findings cite.
    const CLASS: EventClass;
    /// The findings for one TCP flow (none when it had no such events); `frames` are its
    /// evidence frames.
    fn report(&self, s: &Summary<'_>, f: &Flow, conn: &TcpConn, frames: Vec<u64>) -> Vec<Finding>;
}

/// An [`EventReport`] as a registered detector.
pub struct EventDetector<R>(pub R);

impl<R: Identity> Identity for EventDetector<R> {
    const ID: &'static str = R::ID;
    const SEVERITY: Severity = R::SEVERITY;
}

impl<R: EventReport> Detector for EventDetector<R> {
    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        tcp_flows(s.flows)
            .flat_map(|(f, conn)| {
                let frames = conn.evidence.frames(R::CLASS);
                self.0.report(s, f, conn, frames)
            })
            .collect()
    }
}
