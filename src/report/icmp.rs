//! The `icmp_errors` object of a flow direction's report: the ICMP errors that quoted what this
//! direction sent ([`crate::flow::icmp`]).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::flow::IcmpErrors;

#[derive(Debug, Serialize)]
pub struct IcmpErrorsReport {
    /// Errors in all, and per kind (`port-unreachable`, `packet-too-big`, `time-exceeded`, ...).
    pub total: u64,
    pub kinds: BTreeMap<&'static str, u64>,
    /// The ICMP frames (the first 20).
    pub frames: Vec<u64>,
    /// The sender of the first error, and whether other addresses sent some.
    pub from: Option<String>,
    pub from_others: bool,
    /// The smallest MTU a fragmentation needed / packet too big error reported.
    pub min_mtu: Option<u32>,
}

impl From<&IcmpErrors> for IcmpErrorsReport {
    fn from(e: &IcmpErrors) -> Self {
        IcmpErrorsReport {
            total: e.total(),
            kinds: e.kinds().map(|(k, n)| (k.as_str(), n)).collect(),
            frames: e.frames.frames(),
            from: e.reporter.map(|a| a.to_string()),
            from_others: e.other_reporters,
            min_mtu: e.min_mtu,
        }
    }
}
