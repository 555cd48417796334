//! Coalescing facts and the Linux GRO merge model, per TCP direction: how many wire segments each
//! captured frame carries, which frames are larger than the path MTU, and whether Linux GRO would
//! merge each pair of consecutive wire-size data segments (and if not, why).
//!
//! The merge rules are Linux's (net/ipv4/af_inet.c `inet_gro_receive`, net/ipv4/tcp_offload.c
//! `tcp_gro_receive`, net/ipv4/udp_offload.c and drivers/net/vxlan/vxlan_core.c for the tunnel
//! headers), applied pair by pair: a pair merges when every rule holds. Only the IP ID rule changed
//! between kernel generations; [`Kernel`] selects it. Updated once per TCP data frame, in the
//! single pass; no allocation after the per-flow box.

mod blocker;
mod ip_id;
mod kernel;
mod rules;
mod sets;

use crate::decode::{IpFacts, Packet, TcpFacts};
use crate::evidence::Evidence;
use crate::flow::side::PerSide;

pub use blocker::{Blocker, Blockers};
pub use ip_id::{IdFacts, IdStep, ID_SAMPLES};
pub use kernel::{IdLayer, IdTrain, Kernel};
use rules::Head;
pub use sets::{BlockerSets, FixStep, SET_SLOTS};

/// Consecutive segments further apart than this are not in the same NAPI poll, so GRO never sees
/// them together: the pair is not judged. NICs coalesce interrupts for tens to a few hundred
/// microseconds (`ethtool -c`, rx-usecs), and a poll takes what arrived meanwhile.
pub const BACK_TO_BACK_NS: i64 = 250_000;

/// Ethernet's MTU: the path MTU when neither `--mtu` nor a handshake MSS says otherwise.
pub const DEFAULT_MTU: u32 = 1500;

/// Linux's loopback MTU (drivers/net/loopback.c: 64 KiB), for flows between loopback addresses.
pub const LOOPBACK_MTU: u32 = 65536;

/// The most a wire segment's payload can exceed the MTU-derived segment size without being
/// coalesced: TCP options are at most 40 bytes (RFC 9293 §3.1, data offset ≤ 15 words), and a
/// sender that fills the peer's MSS without subtracting its own options (RFC 6691 says it should)
/// sends segments that much larger. A GRO merge with a tail under this size is not counted.
pub const OPTION_SLACK: u32 = 40;

/// Settings of the model.
#[derive(Debug, Clone, Copy)]
pub struct GroConfig {
    pub kernel: Kernel,
    /// `--mtu`: the MTU of the link the capture was taken on.
    pub mtu: Option<u32>,
}

impl Default for GroConfig {
    fn default() -> Self {
        GroConfig {
            kernel: Kernel::LATEST,
            mtu: None,
        }
    }
}

/// Buckets of the segments-per-frame histogram of oversized frames.
pub const SEGMENT_BUCKETS: [(u32, u32, &str); 8] = [
    (2, 2, "2"),
    (3, 3, "3"),
    (4, 4, "4"),
    (5, 8, "5-8"),
    (9, 16, "9-16"),
    (17, 32, "17-32"),
    (33, 64, "33-64"),
    (65, u32::MAX, "65+"),
];

/// Where the path MTU of a direction came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum MtuSource {
    /// `--mtu`.
    Option,
    /// The receiver's MSS option plus IP and TCP headers (RFC 9293 §3.7.1).
    Mss,
    /// Ethernet's 1500, less the tunnel overhead for tunnelled flows.
    #[default]
    Default,
}

/// The model's verdict on the pair a data segment closes with the data segment before it: what
/// the kernel lab (src/tests/lab.rs) holds pair by pair against the running kernel's merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairVerdict {
    /// The first data segment of its direction: no pair.
    First,
    /// Not judged: not two back-to-back full-size wire segments of one size.
    NotJudged,
    Mergeable,
    /// Refused, by these rules.
    Blocked(Blockers),
}

/// The coalescing facts and merge model of one direction.
#[derive(Debug, Clone, Default)]
pub struct GroDir {
    /// The path MTU used for this direction (the latest frame's).
    pub mtu: u32,
    pub mtu_source: MtuSource,
    /// Payload bytes of one full-size wire segment (the MTU minus the latest frame's headers):
    /// the unit of "segments per frame".
    pub seg_size: u32,
    /// Data frames (payload > 0) and the wire segments they stand for.
    pub data_frames: u64,
    pub wire_segments: u64,
    /// Data frames whose IP packet is larger than the path MTU.
    pub oversized: Evidence,
    pub max_segments: u32,
    /// Oversized frames per [`SEGMENT_BUCKETS`] bucket.
    pub segment_histogram: [u64; 8],
    /// Oversized frames with IPv4 total length 0 ("presumed TSO": only a sender's capture has them).
    pub oversized_len_zero: u64,
    /// Oversized frames a Linux cooked capture marked as sent by (4) or addressed to (0) the host.
    pub oversized_outgoing: u64,
    pub oversized_incoming: u64,
    /// Full-size (the direction's largest payload so far) data frames that came right after
    /// another data frame (within [`BACK_TO_BACK_NS`]): count and first frames.
    pub full_size: Evidence,

    /// Consecutive data segment pairs, those judged (both full-size wire segments, back to back),
    /// those that would merge, and how often each rule failed among the judged ones.
    pub pairs: u64,
    pub judged_pairs: u64,
    pub mergeable_pairs: u64,
    pub blockers: [u64; Blocker::COUNT],
    /// The refused judged pairs per set of rules that refused them together.
    pub refused_sets: BlockerSets,
    /// Second frames of judged pairs that a header rule (not the IP ID, not the traffic's shape)
    /// blocked.
    pub header_blocked: Evidence,
    /// IP ID facts: `[outer, inner]` (indexed by [`IdLayer::index`]).
    pub ids: [IdFacts; 2],
    /// Payload of the first segment of the current train (Linux's `gso_size` for the train).
    pub(super) train_first: u32,
    /// The current train's IP ID state, `[outer, inner]`.
    pub(super) id_trains: [IdTrain; 2],
    prev: Option<Head>,
    max_payload: u32,
}

impl GroDir {
    /// Share of the judged pairs that the configured kernel's rules would merge.
    pub fn merge_rate(&self) -> Option<f64> {
        (self.judged_pairs > 0).then(|| self.mergeable_pairs as f64 / self.judged_pairs as f64)
    }

    /// Wire segments per data frame (1.0 = no coalescing seen).
    pub fn segments_per_frame(&self) -> Option<f64> {
        (self.data_frames > 0).then(|| self.wire_segments as f64 / self.data_frames as f64)
    }

    /// Blockers by count, largest first (only those that occurred).
    pub fn top_blockers(&self) -> Vec<(Blocker, u64)> {
        let mut v: Vec<(Blocker, u64)> = Blocker::ALL
            .iter()
            .map(|&b| (b, self.blockers[b as usize]))
            .filter(|&(_, n)| n > 0)
            .collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }

    /// Accounts one TCP data segment (payload > 0) of this direction; returns the verdict on the
    /// pair it closes.
    pub fn data_segment(&mut self, f: &DataFrame<'_>, cfg: &GroConfig) -> PairVerdict {
        let t = f.tcp;
        let (mtu, source) = path_mtu(f, cfg);
        self.mtu = mtu;
        self.mtu_source = source;
        let seg_size = mtu.saturating_sub(f.ip.header_len + t.header_len).max(1);
        self.seg_size = seg_size;
        // A frame a few bytes over one segment (a sender filling the MSS with its options on
        // top, a path MTU slightly off) is one wire segment, not two.
        let segments = if t.payload_len <= seg_size + OPTION_SLACK {
            1
        } else {
            t.payload_len.div_ceil(seg_size)
        };
        // Larger than the MTU *and* carrying more than one segment's payload: a frame that is
        // only over by its headers (long options, a wrong MTU guess) was not coalesced.
        let oversized = f.ip.len > mtu && segments > 1;
        self.count_frame(f, segments, oversized);

        let head = Head::of(f, oversized);
        // Full size is the largest *wire* segment: frames GRO already merged (a capture that
        // spans the moment coalescing stopped) must not raise the bar for the frames after them.
        let full = !oversized && t.payload_len >= self.max_payload;
        if !oversized {
            self.max_payload = self.max_payload.max(t.payload_len);
        }
        let verdict = match self.prev {
            Some(prev) => self.pair(&prev, &head, full, cfg.kernel),
            None => {
                self.start_train(&head);
                PairVerdict::First
            }
        };
        self.prev = Some(head);
        verdict
    }

    /// Counts a data frame of `segments` wire segments.
    fn count_frame(&mut self, f: &DataFrame<'_>, segments: u32, oversized: bool) {
        self.data_frames += 1;
        self.wire_segments += segments as u64;
        self.max_segments = self.max_segments.max(segments);
        if !oversized {
            return;
        }
        self.oversized.push(f.number);
        if let Some(b) = SEGMENT_BUCKETS
            .iter()
            .position(|&(lo, hi, _)| (lo..=hi).contains(&segments))
        {
            self.segment_histogram[b] += 1;
        }
        self.oversized_len_zero += u64::from(f.ip.len_from_wire && f.ip.version == 4);
        match f.pkt.sll_pkttype {
            Some(4) => self.oversized_outgoing += 1,
            Some(0) => self.oversized_incoming += 1,
            _ => {}
        }
    }

    /// The segment `c` after `prev`: judged when both are back-to-back full-size wire segments.
    fn pair(&mut self, prev: &Head, c: &Head, full: bool, kernel: Kernel) -> PairVerdict {
        self.pairs += 1;
        let back_to_back = c.ts_ns.saturating_sub(prev.ts_ns) <= BACK_TO_BACK_NS;
        if full && back_to_back {
            self.full_size.push(c.frame);
        }
        // GRO matters for bulk data: judge pairs of full-size wire segments. Short or growing
        // segments are the application's write pattern, not a header defect.
        let full_pair = full && prev.payload == c.payload;
        if back_to_back && !prev.oversized && !c.oversized && full_pair {
            self.judge(prev, c, kernel)
        } else {
            self.start_train(c);
            PairVerdict::NotJudged
        }
    }
}

/// The inner path MTU and where it came from: the receiver's MSS says it directly; a link MTU
/// (ours or `--mtu`) loses the tunnel's encapsulation first.
fn path_mtu(f: &DataFrame<'_>, cfg: &GroConfig) -> (u32, MtuSource) {
    let ip = f.ip;
    let overhead = f
        .pkt
        .tunnel
        .map_or(0, |t| t.outer_ip.len.saturating_sub(ip.len));
    match (cfg.mtu, f.peer_mss) {
        (Some(m), _) => (m.saturating_sub(overhead), MtuSource::Option),
        (None, Some(mss)) => {
            let hdr = if ip.version == 4 { 40 } else { 60 };
            (u32::from(mss) + hdr, MtuSource::Mss)
        }
        (None, None) if ip.src.is_loopback() && ip.dst.is_loopback() => {
            (LOOPBACK_MTU, MtuSource::Default)
        }
        (None, None) => (DEFAULT_MTU.saturating_sub(overhead), MtuSource::Default),
    }
}

/// One TCP data frame as the model needs it.
pub struct DataFrame<'a> {
    pub number: u64,
    pub ts_ns: i64,
    pub pkt: &'a Packet,
    pub ip: &'a IpFacts,
    pub tcp: &'a TcpFacts,
    /// The frame's captured bytes (the TCP option bytes are in them).
    pub data: &'a [u8],
    /// The MSS the receiving side announced, when its SYN was captured.
    pub peer_mss: Option<u16>,
}

/// Both directions of a TCP flow, allocated at its first data segment.
#[derive(Debug, Clone, Default)]
pub struct GroFlow {
    pub dirs: PerSide<GroDir>,
}
