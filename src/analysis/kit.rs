//! A small kit the detectors share: iterating TCP flows and data directions, naming senders,
//! ratios and filters.

use serde::Serialize;

use crate::flow::{Flow, FlowTable, Side};
use crate::gro::GroDir;
use crate::tcp::TcpConn;

/// Every direction of a TCP flow that sent data, with its coalescing facts and GRO model.
pub fn gro_dirs(flows: &FlowTable) -> impl Iterator<Item = (&Flow, Side, &GroDir)> + '_ {
    flows.flows.iter().flat_map(|f| {
        f.gro
            .as_deref()
            .into_iter()
            .flat_map(move |g| g.dirs.sides().map(move |(side, d)| (f, side, d)))
            .filter(|(_, _, d)| d.data_frames > 0)
    })
}

/// The TCP flows of the table with their analysis state.
pub fn tcp_flows(flows: &FlowTable) -> impl Iterator<Item = (&Flow, &TcpConn)> + '_ {
    flows
        .flows
        .iter()
        .filter_map(|f| f.tcp.as_deref().map(|c| (f, c)))
}

/// "the server (10.0.0.2:80)": who sent `side`'s packets, for messages.
pub fn sender(f: &Flow, side: Side) -> String {
    format!("the {} ({})", f.role(side), f.key.end(side))
}

/// `a / b`, or 0 when `b` is 0.
pub fn share(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// A display filter for a flow's evidence: the flow's filter `&&` `evidence`.
pub fn flow_filter(f: &Flow, evidence: &str) -> Option<String> {
    Some(format!("{} && {evidence}", f.wireshark_filter()))
}

/// The `side` and `sender` entries of a per-direction finding's details (flattened into them).
#[derive(Debug, Serialize)]
pub struct SideDetails {
    /// `client` or `server`: who sent the direction.
    pub side: &'static str,
    /// Its address and port.
    pub sender: String,
}

impl SideDetails {
    pub fn of(f: &Flow, side: Side) -> Self {
        SideDetails {
            side: f.role(side),
            sender: f.key.end(side).to_string(),
        }
    }
}
