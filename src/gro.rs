//! Coalescing facts and the Linux GRO merge model, per TCP direction: how many wire segments each
//! captured frame carries, which frames are larger than the path MTU, and whether Linux GRO would
//! merge each pair of consecutive wire-size data segments (and if not, why).
//!
//! The merge rules are Linux's (net/ipv4/af_inet.c `inet_gro_receive`, net/ipv4/tcp_offload.c
//! `tcp_gro_receive`, net/ipv4/udp_offload.c and drivers/net/vxlan/vxlan_core.c for the tunnel
//! headers), applied pair by pair: a pair merges when every rule holds. Only the IP ID rule changed
//! between kernel generations; [`Kernel`] selects it. Updated once per TCP data frame, in the
//! single pass; no allocation after the per-flow box.

use crate::decode::{tcp_flags, IpFacts, Packet, TcpFacts};
use crate::evidence::Evidence;
use crate::tcp::seq::SeqNum;

/// Consecutive segments further apart than this are not in the same NAPI poll, so GRO never sees
/// them together: the pair is not judged. NICs coalesce interrupts for tens to a few hundred
/// microseconds (`ethtool -c`, rx-usecs), and a poll takes what arrived meanwhile.
pub const BACK_TO_BACK_NS: i64 = 250_000;

/// Ethernet's MTU: the path MTU when neither `--mtu` nor a handshake MSS says otherwise.
pub const DEFAULT_MTU: u32 = 1500;

/// Linux's loopback MTU (drivers/net/loopback.c: 64 KiB), for flows between loopback addresses.
pub const LOOPBACK_MTU: u32 = 65536;

/// IP ID samples kept per direction and layer, for the evidence of `gro-blocked-ip-id`.
pub const ID_SAMPLES: usize = 12;

/// Linux GRO rule generations. They differ only in the IP ID rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kernel {
    /// Up to 4.6: the innermost ID must increase by one, whatever DF says; outer IDs are not
    /// checked (af_inet.c: "only the inner most IP ID is checked").
    V4_6,
    /// 4.7 to 6.9 ("GRO: Add support for TCP with fixed IPv4 ID field"): DF=0 needs IDs that
    /// increase by one; DF=1 allows a fixed or incrementing ID; a UDP tunnel's outer ID with DF=1
    /// is ignored.
    V4_7,
    /// 6.10 to 6.17: the same outcome, checks moved into `inet_gro_flush()`.
    V6_10,
    /// 6.18 on: fixed or incrementing regardless of DF, for the outer header too.
    V6_18,
}

impl Kernel {
    pub const ALL: [Kernel; 4] = [Kernel::V4_6, Kernel::V4_7, Kernel::V6_10, Kernel::V6_18];
    /// The default: the current rules.
    pub const LATEST: Kernel = Kernel::V6_18;

    /// The generation's name: the first version it covers (`4.6` covers everything before 4.7).
    pub fn name(self) -> &'static str {
        match self {
            Kernel::V4_6 => "4.6",
            Kernel::V4_7 => "4.7",
            Kernel::V6_10 => "6.10",
            Kernel::V6_18 => "6.18",
        }
    }

    /// The versions the generation covers, for messages.
    pub fn range(self) -> &'static str {
        match self {
            Kernel::V4_6 => "kernels before 4.7",
            Kernel::V4_7 => "kernels 4.7 to 6.9",
            Kernel::V6_10 => "kernels 6.10 to 6.17",
            Kernel::V6_18 => "kernels 6.18 and later",
        }
    }

    /// Maps a kernel version (`5.15`, `6.1.0-18-amd64`, `4`) or `latest` to its generation.
    pub fn parse(s: &str) -> Result<Kernel, String> {
        let s = s.trim();
        if s.eq_ignore_ascii_case("latest") {
            return Ok(Kernel::LATEST);
        }
        let mut parts = s.split(|c: char| !c.is_ascii_digit());
        let num = |p: Option<&str>| p.filter(|p| !p.is_empty()).map(str::parse::<u32>);
        let major = match num(parts.next()) {
            Some(Ok(m)) => m,
            _ => {
                return Err(format!(
                    "`{s}` is not a kernel version: write e.g. 5.15 or 6.18"
                ))
            }
        };
        let minor = match num(parts.next()) {
            Some(Ok(m)) => m,
            _ => 0,
        };
        Ok(match (major, minor) {
            (0..=3, _) | (4, 0..=6) => Kernel::V4_6,
            (4..=5, _) | (6, 0..=9) => Kernel::V4_7,
            (6, 10..=17) => Kernel::V6_10,
            _ => Kernel::V6_18,
        })
    }

    /// Whether two consecutive IPv4 headers with the same DF and IDs `delta` apart pass the ID
    /// rule at `layer`.
    pub fn id_ok(self, layer: IdLayer, df: bool, delta: u16) -> bool {
        let fixed_or_inc = delta <= 1;
        match (self, layer) {
            (Kernel::V4_6, IdLayer::Outer) => true,
            (Kernel::V4_6, IdLayer::Inner) => delta == 1,
            (Kernel::V4_7 | Kernel::V6_10, IdLayer::Outer) => df || delta == 1,
            (Kernel::V4_7 | Kernel::V6_10, IdLayer::Inner) => {
                if df {
                    fixed_or_inc
                } else {
                    delta == 1
                }
            }
            (Kernel::V6_18, _) => fixed_or_inc,
        }
    }
}

/// Which IPv4 header an ID rule applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdLayer {
    /// The encapsulating header of a UDP tunnel.
    Outer,
    /// The innermost header (the only one without a tunnel).
    Inner,
}

impl IdLayer {
    pub fn name(self) -> &'static str {
        match self {
            IdLayer::Outer => "outer",
            IdLayer::Inner => "inner",
        }
    }
}

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

/// Declares [`Blocker`] once: each variant with its stable report name, in kernel order.
macro_rules! blockers {
    ($($variant:ident => $name:literal,)+) => {
        /// Why GRO would not merge a pair: one rule each, in kernel order (IP, tunnel, TCP).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Blocker {
            $($variant,)+
        }

        impl Blocker {
            /// Every blocker, in declaration order (`ALL[b as usize] == b`).
            pub const ALL: &'static [Blocker] = &[$(Blocker::$variant,)+];
            pub const COUNT: usize = Blocker::ALL.len();

            /// Stable kebab-case name (report keys, docs/detectors.md).
            pub fn name(self) -> &'static str {
                match self {
                    $(Blocker::$variant => $name,)+
                }
            }
        }
    };
}

blockers! {
    OuterIpOptions => "outer-ip-options",
    OuterFragment => "outer-fragment",
    OuterTtl => "outer-ttl",
    OuterTos => "outer-tos",
    OuterDf => "outer-df",
    OuterFlowLabel => "outer-flow-label",
    OuterIpId => "outer-ip-id",
    OuterUdpPorts => "outer-udp-ports",
    OuterUdpChecksum => "outer-udp-checksum",
    Vni => "vni",
    TunnelFlags => "tunnel-flags",
    IpOptions => "ip-options",
    Fragment => "fragment",
    Ttl => "ttl",
    Tos => "tos",
    Df => "df",
    FlowLabel => "flow-label",
    IpId => "ip-id",
    TcpFlags => "tcp-flags",
    Ack => "ack",
    Window => "window",
    TcpOptions => "tcp-options",
    TrainEnded => "train-ended",
    NotContiguous => "not-contiguous",
    LargerSegment => "larger-segment",
}

impl Blocker {
    /// The IP ID rule (either layer), which `gro-blocked-ip-id` reports.
    pub fn is_ip_id(self) -> bool {
        matches!(self, Blocker::IpId | Blocker::OuterIpId)
    }

    /// A property of the traffic rather than of the headers a device writes: ACKs and windows
    /// that move with data in both directions, loss or reordering, segment sizes that grow.
    /// `gro-blocked-headers` does not report these.
    pub fn is_traffic_shape(self) -> bool {
        matches!(
            self,
            Blocker::Ack | Blocker::Window | Blocker::NotContiguous | Blocker::LargerSegment
        )
    }

    /// What to do about it, in one sentence.
    pub fn hint(self) -> &'static str {
        match self {
            Blocker::OuterIpOptions | Blocker::IpOptions => {
                "IPv4 options or IPv6 extension headers are never merged: find the device adding them."
            }
            Blocker::OuterFragment | Blocker::Fragment => {
                "Fragments are never merged: lower the MSS or raise the path MTU so nothing is fragmented (check the tunnel overhead)."
            }
            Blocker::OuterTtl | Blocker::Ttl => {
                "The TTL changes between segments: packets take different paths (ECMP per packet) or a middlebox rewrites it."
            }
            Blocker::OuterTos | Blocker::Tos => {
                "DSCP/ECN bits change between segments: look for a device re-marking traffic or ECN marking (CE) on a congested hop."
            }
            Blocker::OuterDf | Blocker::Df => {
                "The DF bit changes between segments: the sender or tunnel endpoint sets it inconsistently (ip link ... df set)."
            }
            Blocker::OuterFlowLabel | Blocker::FlowLabel => {
                "The IPv6 flow label changes between segments (net.ipv6.auto_flowlabels, or label rehash after a timeout: net.ipv6.flowlabel_state_ranges)."
            }
            Blocker::OuterIpId | Blocker::IpId => {
                "The IP ID does not follow the rule GRO needs: set DF on the encapsulating device, or make IDs increment by one per packet."
            }
            Blocker::OuterUdpPorts => {
                "The tunnel's outer UDP source port changes within one inner flow: the encapsulating device must hash the inner flow, not the packet, into the source port."
            }
            Blocker::OuterUdpChecksum => {
                "Some outer UDP checksums are zero and others not: make the tunnel endpoint consistent (ip link ... udpcsum / noudpcsum)."
            }
            Blocker::Vni | Blocker::TunnelFlags => {
                "The tunnel header differs between segments of one inner flow: check the encapsulating device's configuration."
            }
            Blocker::TcpFlags => {
                "TCP flags (CWR, ECE, URG) change between segments: ECN congestion signalling or an unusual sender."
            }
            Blocker::Ack => {
                "The ACK number changes between segments: both ends send data at once, so segments carry fresh ACKs (expected for bidirectional traffic)."
            }
            Blocker::Window => {
                "The advertised window changes between segments: the sender's own receive window is moving (often with bidirectional traffic)."
            }
            Blocker::TcpOptions => {
                "TCP option bytes differ between segments, usually a timestamp that ticks on every segment (a sender with a fine-grained clock, or segments spread out in time)."
            }
            Blocker::TrainEnded => {
                "Segments end GRO trains: PSH on every segment, or writes smaller than the MSS; let the sender write larger buffers (disable TCP_NODELAY-style small writes, enable autocorking)."
            }
            Blocker::NotContiguous => {
                "Segments arrive out of sequence (loss or reordering): look at retransmissions and reordering on the path first."
            }
            Blocker::LargerSegment => {
                "Segments grow within a train (the sender's MSS or segment sizes vary): check for MSS clamping that differs by path."
            }
        }
    }
}

/// Classes of the step between two consecutive IP IDs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdStep {
    /// The same ID (fixed).
    Fixed = 0,
    /// +1: a per-flow counter.
    Increment = 1,
    /// +2 to +64: a counter shared with other traffic (host- or device-wide).
    SmallJump = 2,
    /// Anything else: random or unrelated IDs.
    Other = 3,
}

impl IdStep {
    pub const ALL: [IdStep; 4] = [
        IdStep::Fixed,
        IdStep::Increment,
        IdStep::SmallJump,
        IdStep::Other,
    ];
    pub const NAMES: [&'static str; 4] = ["fixed", "increment", "small-jump", "other"];

    /// A step of this class, for judging it by [`Kernel::id_ok`] (jumps are neither 0 nor 1).
    pub fn delta(self) -> u16 {
        match self {
            IdStep::Fixed => 0,
            IdStep::Increment => 1,
            IdStep::SmallJump | IdStep::Other => 2,
        }
    }

    pub fn of(delta: u16) -> IdStep {
        match delta {
            0 => IdStep::Fixed,
            1 => IdStep::Increment,
            2..=64 => IdStep::SmallJump,
            _ => IdStep::Other,
        }
    }
}

/// IP ID facts of one IPv4 layer of one direction.
#[derive(Debug, Clone, Default)]
pub struct IdFacts {
    /// Judged pairs by DF (0: DF clear, 1: DF set) and [`IdStep`].
    pub steps: [[u64; 4]; 2],
    /// The first IDs of judged frames: (frame, id, df).
    pub samples: [(u64, u16, bool); ID_SAMPLES],
    pub sample_count: usize,
}

impl IdFacts {
    fn sample(&mut self, frame: u64, id: u16, df: bool) {
        if self.sample_count < ID_SAMPLES {
            self.samples[self.sample_count] = (frame, id, df);
            self.sample_count += 1;
        }
    }

    /// Judged pairs in total.
    pub fn pairs(&self) -> u64 {
        self.steps.iter().flatten().sum()
    }

    /// Pairs that fail `kernel`'s ID rule at `layer`. A SmallJump or Other step is never 0 or 1.
    pub fn failing(&self, kernel: Kernel, layer: IdLayer) -> u64 {
        let mut n = 0;
        for (df, row) in self.steps.iter().enumerate() {
            for (step, &count) in IdStep::ALL.iter().zip(row) {
                if !kernel.id_ok(layer, df == 1, step.delta()) {
                    n += count;
                }
            }
        }
        n
    }

    /// The DF value of most judged pairs.
    pub fn df(&self) -> bool {
        let set: u64 = self.steps[1].iter().sum();
        let clear: u64 = self.steps[0].iter().sum();
        set >= clear && set > 0
    }

    /// The step class of most judged pairs.
    pub fn pattern(&self) -> IdStep {
        let mut totals = [0u64; 4];
        for row in &self.steps {
            for (t, c) in totals.iter_mut().zip(row) {
                *t += c;
            }
        }
        let best = (0..4).max_by_key(|&i| (totals[i], 3 - i)).unwrap_or(0);
        IdStep::ALL[best]
    }

    pub fn samples(&self) -> &[(u64, u16, bool)] {
        &self.samples[..self.sample_count]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MtuSource {
    /// `--mtu`.
    Option,
    /// The receiver's MSS option plus IP and TCP headers (RFC 9293 §3.7.1).
    Mss,
    /// Ethernet's 1500, less the tunnel overhead for tunnelled flows.
    #[default]
    Default,
}

impl MtuSource {
    pub fn name(self) -> &'static str {
        match self {
            MtuSource::Option => "option",
            MtuSource::Mss => "mss",
            MtuSource::Default => "default",
        }
    }
}

/// The header facts of the previous data segment that a merge decision compares with.
#[derive(Debug, Clone, Copy)]
struct Head {
    frame: u64,
    ts_ns: i64,
    payload: u32,
    seq_end: SeqNum,
    ack: u32,
    flags: u8,
    window: u16,
    options: [u8; 40],
    options_len: usize,
    inner: IpHead,
    outer: Option<(IpHead, TunHead)>,
    oversized: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IpHead {
    v4: bool,
    ttl: u8,
    tos: u8,
    df: bool,
    id: u16,
    options: bool,
    fragment: bool,
    flow_label: u32,
}

impl IpHead {
    fn of(ip: &IpFacts) -> Self {
        IpHead {
            v4: ip.version == 4,
            ttl: ip.ttl,
            tos: ip.tos,
            df: ip.df,
            id: ip.id as u16,
            options: ip.has_options,
            fragment: ip.is_fragment(),
            flow_label: ip.flow_label,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TunHead {
    ports: (u16, u16),
    checksum_zero: bool,
    vni: u32,
    flags: u8,
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
    /// Second frames of judged pairs that a header rule (not the IP ID, not the traffic's shape)
    /// blocked.
    pub header_blocked: Evidence,
    /// IP ID facts: `[outer, inner]`.
    pub ids: [IdFacts; 2],
    /// Payload of the first segment of the current train (Linux's `gso_size` for the train).
    train_first: u32,
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

    /// Accounts one TCP data segment (payload > 0) of this direction.
    pub fn observe(&mut self, f: &DataFrame<'_>, cfg: &GroConfig) {
        let t = f.tcp;
        let ip = f.ip;
        // The inner path MTU: the receiver's MSS says it directly; a link MTU (ours or `--mtu`)
        // loses the tunnel's encapsulation first.
        let overhead = f
            .pkt
            .tunnel
            .map_or(0, |t| t.outer_ip.len.saturating_sub(ip.len));
        let (mtu, source) = match (cfg.mtu, f.peer_mss) {
            (Some(m), _) => (m.saturating_sub(overhead), MtuSource::Option),
            (None, Some(mss)) => {
                let hdr = if ip.version == 4 { 40 } else { 60 };
                (u32::from(mss) + hdr, MtuSource::Mss)
            }
            (None, None) if ip.src.is_loopback() && ip.dst.is_loopback() => {
                (LOOPBACK_MTU, MtuSource::Default)
            }
            (None, None) => (DEFAULT_MTU.saturating_sub(overhead), MtuSource::Default),
        };
        self.mtu = mtu;
        self.mtu_source = source;
        let seg_size = mtu.saturating_sub(ip.header_len + t.header_len).max(1);
        self.seg_size = seg_size;
        let segments = t.payload_len.div_ceil(seg_size).max(1);
        // Larger than the MTU *and* carrying more than one segment's payload: a frame that is
        // only over by its headers (long options, a wrong MTU guess) was not coalesced.
        let oversized = ip.len > mtu && segments > 1;
        self.data_frames += 1;
        self.wire_segments += segments as u64;
        self.max_segments = self.max_segments.max(segments);
        if oversized {
            self.oversized.push(f.number);
            if let Some(b) = SEGMENT_BUCKETS
                .iter()
                .position(|&(lo, hi, _)| (lo..=hi).contains(&segments))
            {
                self.segment_histogram[b] += 1;
            }
            self.oversized_len_zero += u64::from(ip.len_from_wire && ip.version == 4);
            match f.pkt.sll_pkttype {
                Some(4) => self.oversized_outgoing += 1,
                Some(0) => self.oversized_incoming += 1,
                _ => {}
            }
        }

        let mut options = [0u8; 40];
        let options_len = t.option_bytes.len().min(40);
        options[..options_len].copy_from_slice(&t.option_bytes[..options_len]);
        let head = Head {
            frame: f.number,
            ts_ns: f.ts_ns,
            payload: t.payload_len,
            seq_end: SeqNum(t.seq).plus(t.payload_len),
            ack: t.ack,
            flags: t.flags,
            window: t.window,
            options,
            options_len,
            inner: IpHead::of(ip),
            outer: f.pkt.tunnel.map(|tun| {
                (
                    IpHead::of(&tun.outer_ip),
                    TunHead {
                        ports: (tun.outer_udp.src_port, tun.outer_udp.dst_port),
                        checksum_zero: tun.outer_udp.checksum_zero,
                        vni: tun.vni,
                        flags: tun.flags,
                    },
                )
            }),
            oversized,
        };
        // Full size is the largest *wire* segment: frames GRO already merged (a capture that
        // spans the moment coalescing stopped) must not raise the bar for the frames after them.
        let full = !oversized && t.payload_len >= self.max_payload;
        if !oversized {
            self.max_payload = self.max_payload.max(t.payload_len);
        }

        if let Some(prev) = self.prev {
            self.pairs += 1;
            let back_to_back = f.ts_ns.saturating_sub(prev.ts_ns) <= BACK_TO_BACK_NS;
            if full && back_to_back {
                self.full_size.push(f.number);
            }
            // GRO matters for bulk data: judge pairs of full-size wire segments. Short or
            // growing segments are the application's write pattern, not a header defect.
            let full_pair = full && prev.payload == t.payload_len;
            if back_to_back && !prev.oversized && !oversized && full_pair {
                self.judge(&prev, &head, t, cfg.kernel);
            } else {
                self.train_first = head.payload;
            }
        } else {
            self.train_first = head.payload;
        }
        self.prev = Some(head);
    }

    /// Applies the merge rules to one judged pair.
    fn judge(&mut self, p: &Head, c: &Head, t: &TcpFacts<'_>, kernel: Kernel) {
        let mut blocked = [false; Blocker::COUNT];
        let mut block = |b: Blocker| blocked[b as usize] = true;

        // IP rules (inet_gro_receive / ipv6_gro_receive, and for the outer header the same code
        // called from udp_gro_receive): options and fragments never merge; TTL, TOS and DF must
        // match; the ID rule is the generation's.
        let ip_rules = |p: &IpHead, c: &IpHead, outer: bool, block: &mut dyn FnMut(Blocker)| {
            let pick = |o: Blocker, i: Blocker| if outer { o } else { i };
            if p.options || c.options {
                block(pick(Blocker::OuterIpOptions, Blocker::IpOptions));
            }
            if p.fragment || c.fragment {
                block(pick(Blocker::OuterFragment, Blocker::Fragment));
            }
            if p.ttl != c.ttl {
                block(pick(Blocker::OuterTtl, Blocker::Ttl));
            }
            if p.tos != c.tos {
                block(pick(Blocker::OuterTos, Blocker::Tos));
            }
            if p.v4 && c.v4 {
                if p.df != c.df {
                    block(pick(Blocker::OuterDf, Blocker::Df));
                } else {
                    let layer = if outer {
                        IdLayer::Outer
                    } else {
                        IdLayer::Inner
                    };
                    if !kernel.id_ok(layer, c.df, c.id.wrapping_sub(p.id)) {
                        block(pick(Blocker::OuterIpId, Blocker::IpId));
                    }
                }
            } else if p.flow_label != c.flow_label {
                block(pick(Blocker::OuterFlowLabel, Blocker::FlowLabel));
            }
        };
        if let (Some((po, pt)), Some((co, ct))) = (p.outer, c.outer) {
            ip_rules(&po, &co, true, &mut block);
            // udp_gro_receive / vxlan_gro_receive: same ports, same checksum presence, same
            // VXLAN flags and VNI.
            if pt.ports != ct.ports {
                block(Blocker::OuterUdpPorts);
            }
            if pt.checksum_zero != ct.checksum_zero {
                block(Blocker::OuterUdpChecksum);
            }
            if pt.vni != ct.vni {
                block(Blocker::Vni);
            }
            if pt.flags != ct.flags {
                block(Blocker::TunnelFlags);
            }
        }
        ip_rules(&p.inner, &c.inner, false, &mut block);

        // tcp_gro_receive: flags equal except CWR/FIN/PSH and no CWR on the new one; same ACK
        // number, window and option bytes; contiguous; not larger than the train's first
        // segment. The previous segment ended the train when it had PSH, FIN, URG, RST or SYN, or
        // was shorter than the train's segment size (`out_check_final`).
        use tcp_flags::{CWR, FIN, PSH, RST, SYN, URG};
        if c.flags & CWR != 0 || (c.flags ^ p.flags) & !(CWR | FIN | PSH) != 0 {
            block(Blocker::TcpFlags);
        }
        if c.ack != p.ack {
            block(Blocker::Ack);
        }
        if c.window != p.window {
            block(Blocker::Window);
        }
        if p.options[..p.options_len] != c.options[..c.options_len] {
            block(Blocker::TcpOptions);
        }
        if p.flags & (PSH | FIN | URG | RST | SYN) != 0 || p.payload < self.train_first {
            block(Blocker::TrainEnded);
        }
        if p.seq_end != SeqNum(t.seq) {
            block(Blocker::NotContiguous);
        }
        if c.payload > self.train_first {
            block(Blocker::LargerSegment);
        }

        self.judged_pairs += 1;
        // The ID facts cover judged pairs with equal DF, whatever else blocked them. The IDs a
        // finding quotes come from judged pairs only too: in a capture that spans the moment
        // coalescing stopped, the merged frames before it say nothing about the IDs after.
        for (layer, heads) in [
            (0, p.outer.map(|o| o.0).zip(c.outer.map(|o| o.0))),
            (1, Some((p.inner, c.inner))),
        ] {
            let Some((ph, ch)) = heads.filter(|(a, b)| a.v4 && b.v4) else {
                continue;
            };
            let ids = &mut self.ids[layer];
            if ids.sample_count == 0 {
                ids.sample(p.frame, ph.id, ph.df);
            }
            ids.sample(c.frame, ch.id, ch.df);
            if ph.df == ch.df {
                let step = IdStep::of(ch.id.wrapping_sub(ph.id));
                ids.steps[usize::from(ch.df)][step as usize] += 1;
            }
        }
        if blocked.iter().any(|&b| b) {
            for (n, b) in self.blockers.iter_mut().zip(blocked) {
                *n += u64::from(b);
            }
            let by_headers = Blocker::ALL
                .iter()
                .any(|b| blocked[*b as usize] && !b.is_ip_id() && !b.is_traffic_shape());
            if by_headers {
                self.header_blocked.push(c.frame);
            }
            self.train_first = c.payload;
        } else {
            self.mergeable_pairs += 1;
        }
    }
}

/// One TCP data frame as the model needs it.
pub struct DataFrame<'a> {
    pub number: u64,
    pub ts_ns: i64,
    pub pkt: &'a Packet<'a>,
    pub ip: &'a IpFacts,
    pub tcp: &'a TcpFacts<'a>,
    /// The MSS the receiving side announced, when its SYN was captured.
    pub peer_mss: Option<u16>,
}

/// Both directions of a TCP flow, allocated at its first data segment.
#[derive(Debug, Clone, Default)]
pub struct GroFlow {
    pub dirs: [GroDir; 2],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_versions_map_to_generations() {
        assert_eq!(Kernel::parse("4.4"), Ok(Kernel::V4_6));
        assert_eq!(Kernel::parse("4.7"), Ok(Kernel::V4_7));
        assert_eq!(Kernel::parse("5.15.0-91-generic"), Ok(Kernel::V4_7));
        assert_eq!(Kernel::parse("6.9"), Ok(Kernel::V4_7));
        assert_eq!(Kernel::parse("6.10"), Ok(Kernel::V6_10));
        assert_eq!(Kernel::parse("6.17"), Ok(Kernel::V6_10));
        assert_eq!(Kernel::parse("6.18"), Ok(Kernel::V6_18));
        assert_eq!(Kernel::parse("7"), Ok(Kernel::V6_18));
        assert_eq!(Kernel::parse("latest"), Ok(Kernel::V6_18));
        assert!(Kernel::parse("linux").is_err());
        assert!(Kernel::parse("").is_err());
    }

    /// The ID rule table of docs/detectors.md, row by row.
    #[test]
    fn id_rules_by_generation() {
        use IdLayer::{Inner, Outer};
        use Kernel::*;
        // (layer, df, delta) → allowed in 4.6, 4.7, 6.10, 6.18
        let table: [(IdLayer, bool, u16, [bool; 4]); 10] = [
            (Inner, false, 1, [true, true, true, true]),
            (Inner, false, 0, [false, false, false, true]),
            (Inner, false, 4, [false, false, false, false]),
            (Inner, true, 1, [true, true, true, true]),
            (Inner, true, 0, [false, true, true, true]),
            (Inner, true, 4000, [false, false, false, false]),
            (Outer, false, 1, [true, true, true, true]),
            (Outer, false, 4, [true, false, false, false]),
            (Outer, true, 0, [true, true, true, true]),
            (Outer, true, 4000, [true, true, true, false]),
        ];
        for (layer, df, delta, want) in table {
            for (k, w) in [V4_6, V4_7, V6_10, V6_18].into_iter().zip(want) {
                assert_eq!(
                    k.id_ok(layer, df, delta),
                    w,
                    "{k:?} {layer:?} df={df} +{delta}"
                );
            }
        }
    }

    #[test]
    fn id_steps() {
        assert_eq!(IdStep::of(0), IdStep::Fixed);
        assert_eq!(IdStep::of(1), IdStep::Increment);
        assert_eq!(IdStep::of(4), IdStep::SmallJump);
        assert_eq!(IdStep::of(65535), IdStep::Other);
        let mut f = IdFacts::default();
        f.steps[0][IdStep::SmallJump as usize] = 9;
        f.steps[0][IdStep::Increment as usize] = 1;
        assert_eq!(f.pattern(), IdStep::SmallJump);
        assert!(!f.df());
        assert_eq!(f.failing(Kernel::V6_18, IdLayer::Outer), 9);
        assert_eq!(f.failing(Kernel::V4_6, IdLayer::Outer), 0);
    }

    #[test]
    fn blocker_names_are_unique_and_listed_in_order() {
        for (i, b) in Blocker::ALL.iter().enumerate() {
            assert_eq!(*b as usize, i);
        }
        let mut names: Vec<_> = Blocker::ALL.iter().map(|b| b.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), Blocker::COUNT);
    }
}
