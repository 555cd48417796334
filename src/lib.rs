//! offload-doctor: reads a packet capture and tells whether NIC and kernel offloads (GRO, LRO,
//! TSO, GSO) and tunnels (VXLAN, Geneve) are hurting the traffic.
//!
//! Data flows one way: [`capture`] → [`decode`] → [`flow`] (with the [`tcp`] engine, the
//! [`gro`] model and the [`quic`] view) → [`analysis`] → [`report`] | [`plot`]. [`pipeline`] is the single pass that
//! knows them all; [`commands`] are the subcommands on top of it. docs/architecture.md has the
//! diagram and who may import whom.

pub mod analysis;
pub mod atomic;
pub mod capture;
pub mod cli;
pub mod commands;
pub mod decode;
pub mod evidence;
pub mod explain;
pub mod flow;
pub mod gro;
pub mod pipeline;
pub mod plot;
pub mod policy;
pub mod qlog;
pub mod quic;
pub mod report;
pub mod tcp;
pub mod units;
