//! The detectors of the TCP engine's event flags (`retransmissions`, `zero-window`,
//! `keep-alive`, `out-of-order`, `capture-gaps`) share this one implementation.
//!
//! The engine counts the flags per direction and keeps each connection's evidence frames
//! ([`crate::tcp::evidence`]), so such a detector has no per-frame work: it names its event
//! class and display filter and says, per TCP flow, what its findings read. This file turns that
//! into findings with the id, flow, evidence frames and filter.

use serde_json::{Map, Value};

use super::kit::{flow_filter, tcp_flows};
use super::{Detector, Finding, Identity, Severity, Summary};
use crate::flow::Flow;
use crate::tcp::evidence::EventClass;
use crate::tcp::TcpConn;

/// What an event detector adds to the shared implementation.
pub trait EventReport: Identity {
    /// The events its findings cite.
    const CLASS: EventClass;
    /// The display filter of those events (`tcp.analysis.…`).
    const FILTER: &'static str;
    /// What its findings say about one TCP flow (none when it had no such events).
    fn report(&self, s: &Summary<'_>, f: &Flow, conn: &TcpConn) -> Vec<Said>;
}

/// One finding as an event detector says it.
pub struct Said {
    pub severity: Severity,
    pub message: String,
    pub hint: &'static str,
    /// The detector's typed details ([`super::details`]).
    pub details: Map<String, Value>,
}

/// An [`EventReport`] as a registered detector.
pub struct EventDetector<R>(pub R);

impl<R: Identity> Identity for EventDetector<R> {
    const ID: &'static str = R::ID;
    const SEVERITY: Severity = R::SEVERITY;
}

impl<R: EventReport> Detector for EventDetector<R> {
    /// Judges the flows at the end: never called per frame.
    fn watches(&self) -> super::Watch {
        super::Watch::Nothing
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        let mut out = Vec::new();
        for (f, conn) in tcp_flows(s.flows) {
            for said in self.0.report(s, f, conn) {
                out.push(Finding {
                    id: R::ID,
                    severity: said.severity,
                    flow: Some(f.id),
                    frames: conn.evidence.frames(R::CLASS),
                    frames_total: conn.evidence.total(R::CLASS),
                    message: said.message,
                    hint: said.hint.into(),
                    wireshark_filter: flow_filter(f, R::FILTER),
                    details: said.details,
                });
            }
        }
        out
    }
}
