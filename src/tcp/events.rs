//! `Events`: the per-frame TCP analysis flags, one bit per Wireshark `tcp.analysis.*` flag.

/// A set of analysis flags for one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Events(pub u32);

impl Events {
    pub const RETRANSMISSION: Events = Events(1 << 0);
    pub const FAST_RETRANSMISSION: Events = Events(1 << 1);
    pub const SPURIOUS_RETRANSMISSION: Events = Events(1 << 2);
    pub const OUT_OF_ORDER: Events = Events(1 << 3);
    /// "Previous segment not captured" (`tcp.analysis.lost_segment`).
    pub const LOST_SEGMENT: Events = Events(1 << 4);
    /// "ACKed unseen segment" (`tcp.analysis.ack_lost_segment`).
    pub const ACK_LOST_SEGMENT: Events = Events(1 << 5);
    pub const DUP_ACK: Events = Events(1 << 6);
    pub const ZERO_WINDOW: Events = Events(1 << 7);
    pub const ZERO_WINDOW_PROBE: Events = Events(1 << 8);
    pub const ZERO_WINDOW_PROBE_ACK: Events = Events(1 << 9);
    pub const WINDOW_FULL: Events = Events(1 << 10);
    pub const WINDOW_UPDATE: Events = Events(1 << 11);
    pub const KEEP_ALIVE: Events = Events(1 << 12);
    pub const KEEP_ALIVE_ACK: Events = Events(1 << 13);
    /// A SYN on the ports of an earlier connection (`tcp.analysis.reused_ports`).
    pub const REUSED_PORTS: Events = Events(1 << 14);
    /// Not a Wireshark flag: the frame copies one the same side sent moments before
    /// ([`super::duplicates`]); not in [`Events::FIELDS`].
    pub const CAPTURE_DUPLICATE: Events = Events(1 << 15);
    /// Not a Wireshark flag: a frame captured after frames its sender sent later
    /// ([`super::id_order`]).
    pub const SENT_EARLIER: Events = Events(1 << 16);
    /// Not a Wireshark flag: a frame Wireshark calls a retransmission although its sender never
    /// sent that sequence space before. Wireshark's next-sequence mark came from the sender's
    /// challenge ACK, which carries another incarnation's numbers ([`super::ack_check`]).
    pub const NOT_RESENT: Events = Events(1 << 17);
    /// The marks that make a Wireshark retransmission no resend of ours.
    pub const NOT_A_RESEND: Events =
        Events(Self::CAPTURE_DUPLICATE.0 | Self::SENT_EARLIER.0 | Self::NOT_RESENT.0);

    /// Any kind of retransmission: what `tcp.analysis.retransmission` matches, since Wireshark
    /// adds that expert item to fast and spurious retransmissions too.
    pub const ANY_RETRANSMISSION: Events = Events(
        Self::RETRANSMISSION.0 | Self::FAST_RETRANSMISSION.0 | Self::SPURIOUS_RETRANSMISSION.0,
    );

    /// Every flag with its Wireshark display-filter field.
    pub const FIELDS: [(Events, &'static str); 15] = [
        (Self::ANY_RETRANSMISSION, "tcp.analysis.retransmission"),
        (
            Self::FAST_RETRANSMISSION,
            "tcp.analysis.fast_retransmission",
        ),
        (
            Self::SPURIOUS_RETRANSMISSION,
            "tcp.analysis.spurious_retransmission",
        ),
        (Self::OUT_OF_ORDER, "tcp.analysis.out_of_order"),
        (Self::LOST_SEGMENT, "tcp.analysis.lost_segment"),
        (Self::ACK_LOST_SEGMENT, "tcp.analysis.ack_lost_segment"),
        (Self::DUP_ACK, "tcp.analysis.duplicate_ack"),
        (Self::ZERO_WINDOW, "tcp.analysis.zero_window"),
        (Self::ZERO_WINDOW_PROBE, "tcp.analysis.zero_window_probe"),
        (
            Self::ZERO_WINDOW_PROBE_ACK,
            "tcp.analysis.zero_window_probe_ack",
        ),
        (Self::WINDOW_FULL, "tcp.analysis.window_full"),
        (Self::WINDOW_UPDATE, "tcp.analysis.window_update"),
        (Self::KEEP_ALIVE, "tcp.analysis.keep_alive"),
        (Self::KEEP_ALIVE_ACK, "tcp.analysis.keep_alive_ack"),
        (Self::REUSED_PORTS, "tcp.analysis.reused_ports"),
    ];

    /// True when any flag of `other` is set.
    #[inline]
    pub fn any(self, other: Events) -> bool {
        self.0 & other.0 != 0
    }

    #[inline]
    pub fn insert(&mut self, other: Events) {
        self.0 |= other.0;
    }

    #[inline]
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl std::ops::BitOr for Events {
    type Output = Events;
    fn bitor(self, rhs: Events) -> Events {
        Events(self.0 | rhs.0)
    }
}
