//! The per-frame decoding context shared by the layer walk ([`super::layers`]), the tunnels
//! ([`super::tunnel`]) and the fast path ([`super::fast`]): where the frame starts, how long it
//! was on the wire, and the bounds on shims and tunnel nesting. Its own file so that those
//! modules import it, not each other.

use std::cell::Cell;

/// Per-frame context for turning header slices into lengths.
pub(super) struct Ctx {
    pub frame_start: usize,
    pub wire_len: u32,
    /// MPLS/PPPoE shims still allowed in this frame: each is sliced again, so hostile nesting
    /// must not recurse without bound.
    pub shims_left: Cell<u8>,
    /// Where the packet ends when a shim's length field says so (PPPoE): what follows is
    /// Ethernet padding, as Wireshark bounds the IP dissector by the PPPoE payload length.
    pub wire_end: Cell<u32>,
    /// Tunnel levels still allowed in this frame (`MAX_TUNNEL_DEPTH` at the start): each is
    /// decoded by recursion.
    pub tunnels_left: Cell<u8>,
}

impl Ctx {
    /// The context at the start of a frame whose captured bytes are `data`.
    pub fn new(data: &[u8], wire_len: u32) -> Ctx {
        Ctx {
            frame_start: data.as_ptr() as usize,
            wire_len,
            shims_left: Cell::new(4),
            wire_end: Cell::new(u32::MAX),
            tunnels_left: Cell::new(super::facts::MAX_TUNNEL_DEPTH as u8),
        }
    }

    /// Byte offset of `s` inside the frame (s always points into the frame).
    pub fn offset_of(&self, s: &[u8]) -> u32 {
        (s.as_ptr() as usize).saturating_sub(self.frame_start) as u32
    }

    /// What the wire says the rest of the frame from `s` on is.
    pub fn wire_len_from(&self, s: &[u8]) -> u32 {
        self.wire_len
            .min(self.wire_end.get())
            .saturating_sub(self.offset_of(s))
    }

    /// Whether a tunnel found at this point is opened: the depth bound.
    pub fn may_open_tunnel(&self) -> bool {
        self.tunnels_left.get() > 0
    }
}
