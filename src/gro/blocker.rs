//! Why GRO would not merge a pair of segments: one [`Blocker`] per merge rule, with its report
//! name and what to do about it.

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
    Psh => "psh",
    TrainEnded => "train-ended",
    NotContiguous => "not-contiguous",
    LargerSegment => "larger-segment",
}

/// A set of [`Blocker`]s: the rules one pair failed.
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct Blockers(u32);

impl std::fmt::Debug for Blockers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.iter().map(Blocker::name))
            .finish()
    }
}

// One bit per blocker.
const _: () = assert!(Blocker::COUNT <= 32);

impl Blockers {
    /// Adds `b` to the set.
    pub fn insert(&mut self, b: Blocker) {
        self.0 |= 1 << b as u32;
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn contains(self, b: Blocker) -> bool {
        self.0 & (1 << b as u32) != 0
    }

    /// The set of `blockers`.
    pub fn of(blockers: impl IntoIterator<Item = Blocker>) -> Blockers {
        let mut set = Blockers::default();
        for b in blockers {
            set.insert(b);
        }
        set
    }

    /// `self` without `b`.
    pub fn without(self, b: Blocker) -> Blockers {
        Blockers(self.0 & !(1 << b as u32))
    }

    /// Whether every member of `self` is in `other`.
    pub fn is_subset(self, other: Blockers) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    /// The members, in kernel order.
    pub fn iter(self) -> impl Iterator<Item = Blocker> {
        Blocker::ALL
            .iter()
            .copied()
            .filter(move |&b| self.contains(b))
    }
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

    /// PSH on the segment before: the end of one of the application's messages (a `write()` the
    /// sender's stack flushed), where GRO ends the train by design (net/ipv4/tcp_offload.c
    /// `tcp_gro_receive`, `flush |= flags & (... TCP_FLAG_PSH ...)`) so the receiver hands the
    /// message up at once. Nothing on the network writes it wrong, so no finding warns about it.
    pub fn is_message_boundary(self) -> bool {
        self == Blocker::Psh
    }

    /// A rule on headers that a device or stack writes and can write differently: neither the
    /// traffic's shape nor the application's message boundaries.
    pub fn is_fixable(self) -> bool {
        !self.is_traffic_shape() && !self.is_message_boundary()
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
            Blocker::Psh => {
                "PSH marks the end of the application's message, where GRO hands the data up at once by design (tcp_gro_receive): nothing on the network to change. Only a bulk sender that pushes every segment (one small write() each) would gain from larger writes (autocorking, no TCP_NODELAY-style small writes)."
            }
            Blocker::TrainEnded => {
                "Segments end GRO trains: FIN, URG, RST or SYN, or segments shorter than the train's first (writes smaller than the MSS); let the sender write larger buffers."
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

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn a_blocker_set_holds_exactly_its_members() {
        let mut set = Blockers::default();
        assert!(set.is_empty());
        set.insert(Blocker::LargerSegment);
        set.insert(Blocker::OuterIpOptions);
        set.insert(Blocker::LargerSegment);
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            [Blocker::OuterIpOptions, Blocker::LargerSegment]
        );
        assert!(!set.contains(Blocker::Ttl) && !set.is_empty());
    }
}
