//! Memory bounded by design: an estimate of the bytes each flow holds, and the eviction of the
//! least recently active flows when the estimate passes the budget (`--max-memory`).
//!
//! The estimate counts what a flow allocated, not what the allocator says: the structs it owns
//! (`size_of`), the heavy parts created when it needs them (TCP measurements at the first segment
//! after a lone SYN, the GRO model at the first data segment, the QUIC view, ICMP errors, a UDP
//! trace), the samples its RTT sets keep, its entries in the table's hash indexes, a detector's
//! share, and its share of the report written at the end. An evicted flow leaves the table: its
//! key is forgotten, so a later packet of the same 5-tuple starts a new flow with a new id (as
//! tcptrace gives a reused port a new connection), and the report says how many flows were
//! evicted, which ids, and what they carried ([`Evicted`], the `flows-evicted` finding).

use std::hash::{BuildHasher, Hash};
use std::mem::size_of;

use rustc_hash::{FxBuildHasher, FxHashSet};

use super::{Flow, FlowKey};
use crate::gro::GroFlow;
use crate::quic::QuicConn;
use crate::tcp::lazy::TcpData;
use crate::tcp::TcpConn;

/// The budget when `--max-memory` is not given: 256 MiB holds about 70,000 flows that carried
/// data, or twice as many that did not, with their share of the report.
pub const DEFAULT_MAX_MEMORY: u64 = 256 << 20;

/// An eviction brings the estimate down to this share of the budget, so that it runs once per
/// many new flows rather than at every one.
const EVICT_TO: f64 = 0.75;

/// What the hash indexes hold per flow: the key and a position, in a table kept at most 7/8 full
/// (hashbrown), plus its control byte.
const INDEX_ENTRY: usize = (size_of::<FlowKey>() + size_of::<usize>()) * 8 / 7 + 1;

/// A flow's share of the report built at the end: its `FlowReport` with the strings it owns
/// (addresses, display filter), measured as about 2.5 kB for a TCP flow.
const REPORT_BYTES: usize = 2600;

/// What the detectors keep for a flow that carried data (burst retransmission's runs and
/// delivery marks, a high-inflight slot, backoff gaps), estimated.
const DETECTOR_BYTES: usize = 1024;

/// Heap a connection with data owns beyond its structs besides its RTT samples (queues of
/// outstanding segments and TSvals, the goodput series, the trace summary), estimated.
const DATA_HEAP: usize = 2048;

/// Bytes a QUIC view owns beyond its struct (packet number spaces, samples), estimated.
const QUIC_HEAP: usize = 4096;

/// Ranges of evicted ids listed in the report; beyond them only the count.
pub const MAX_RANGES: usize = 64;

/// Whether a flow's estimate is refreshed at its `frames`-th frame: at each of its first 8
/// (when its heavy parts are created: TCP state after the SYN, the GRO model at the first data
/// segment), then every 64th (its sample lists grow slowly toward their caps), so the estimate
/// costs nothing on most frames and lags a flow's growth by at most 63 frames.
pub fn recount_due(frames: u64) -> bool {
    frames <= 8 || frames.is_multiple_of(64)
}

/// The estimated bytes `f` holds.
pub fn flow_bytes(f: &Flow) -> u64 {
    let mut n = size_of::<Flow>() + INDEX_ENTRY + REPORT_BYTES;
    if f.key.tunnel.is_some() {
        n += INDEX_ENTRY;
    }
    if let Some(c) = f.tcp.as_deref() {
        n += tcp_bytes(c);
    }
    if f.gro.is_some() {
        n += size_of::<GroFlow>();
    }
    if f.quic.is_some() {
        n += size_of::<QuicConn>() + QUIC_HEAP;
    }
    if f.icmp.is_some() {
        n += size_of::<super::PerSide<super::IcmpErrors>>();
    }
    if let Some(t) = f.udp_trace.as_deref() {
        n += t.heap_bytes();
    }
    n as u64
}

/// A connection's bytes: the light state always, the heavy state once created.
fn tcp_bytes(c: &TcpConn) -> usize {
    let mut n = size_of::<TcpConn>();
    if c.has_data() {
        n += size_of::<TcpData>() + DATA_HEAP + DETECTOR_BYTES;
        n += c
            .dirs()
            .iter()
            .map(|d| d.rtt_sampler.kept_samples() * size_of::<u64>())
            .sum::<usize>();
        n += c.traces().iter().map(|t| t.heap_bytes()).sum::<usize>();
    }
    n
}

/// The budget and the running estimate.
#[derive(Debug, Clone, Default)]
pub struct Budget {
    /// Bytes the flows may hold; 0 is no bound.
    pub max: u64,
    /// The estimate now.
    pub estimate: u64,
    /// The highest estimate reached.
    pub peak: u64,
}

impl Budget {
    /// Replaces a flow's counted bytes `before` with `after`.
    pub fn recount(&mut self, before: u64, after: u64) {
        self.estimate = self.estimate.saturating_sub(before).saturating_add(after);
        self.peak = self.peak.max(self.estimate);
    }

    /// Whether flows must be evicted.
    #[inline]
    pub fn exceeded(&self) -> bool {
        self.max > 0 && self.estimate > self.max
    }

    /// Bytes an eviction must free.
    pub fn to_free(&self) -> u64 {
        self.estimate
            .saturating_sub((self.max as f64 * EVICT_TO) as u64)
    }
}

/// The flows evicted so far: how many, which ids, what they carried.
#[derive(Debug, Clone, Default)]
pub struct Evicted {
    pub flows: u64,
    pub frames: u64,
    pub bytes: u64,
    /// Inclusive ranges of evicted ids, in the order they were evicted (ascending within one
    /// eviction), the first [`MAX_RANGES`].
    pub ranges: Vec<(u32, u32)>,
    /// Evicted ids beyond those ranges.
    pub unlisted: u64,
    /// Flows that started on the key of an evicted flow: a later packet of an evicted
    /// conversation, counted as a new flow.
    pub returned: u64,
    /// Hashes of the evicted keys, to tell a returning conversation (8 bytes per evicted flow).
    keys: FxHashSet<u64>,
}

impl Evicted {
    /// Notes flow `f` as evicted (one eviction notes its flows in ascending id order).
    pub fn note(&mut self, f: &Flow) {
        self.flows += 1;
        self.frames += f.frames();
        self.bytes += f.bytes();
        self.keys.insert(key_hash(&f.key));
        let room = self.ranges.len() < MAX_RANGES;
        match self.ranges.last_mut() {
            Some((_, hi)) if hi.checked_add(1) == Some(f.id) => *hi = f.id,
            _ if room => self.ranges.push((f.id, f.id)),
            _ => self.unlisted += 1,
        }
    }

    /// Whether a new flow's key is that of an evicted flow (a hash match: a rare collision
    /// counts a new conversation as a returning one).
    pub fn is_return(&mut self, key: &FlowKey) -> bool {
        let back = !self.keys.is_empty() && self.keys.contains(&key_hash(key));
        if back {
            self.returned += 1;
        }
        back
    }
}

fn key_hash(key: &FlowKey) -> u64 {
    let mut h = FxBuildHasher.build_hasher();
    key.hash(&mut h);
    std::hash::Hasher::finish(&h)
}

/// Positions (in `flows`) of the least recently active flows to evict so that `to_free` bytes
/// go, in ascending order; flows `keep` protects stay (QUIC connections and their paths, whose
/// views point at each other; flows whose full trace a graph needs).
pub fn victims(flows: &[Flow], to_free: u64, keep: impl Fn(&Flow) -> bool) -> Vec<usize> {
    let mut by_age: Vec<(i64, usize)> = flows
        .iter()
        .enumerate()
        .filter(|(_, f)| !keep(f))
        .map(|(i, f)| (f.last_ts_ns(), i))
        .collect();
    by_age.sort_unstable();
    let mut freed = 0;
    let mut out: Vec<usize> = by_age
        .into_iter()
        .take_while(|&(_, i)| {
            let go = freed < to_free;
            freed += u64::from(flows[i].counted_bytes);
            go
        })
        .map(|(_, i)| i)
        .collect();
    out.sort_unstable();
    out
}
