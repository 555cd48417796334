//! Per-direction counts of Wireshark's analysis flags and of capture duplicates.

use super::events::Events;

/// Counts of Wireshark's flags, per frame, for frames sent in one direction. Serialised as they
/// are into the report's `c2s`/`s2c` objects (docs/json-format.md).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Frames matching `tcp.analysis.retransmission` (includes fast and spurious).
    pub retransmissions: u64,
    pub fast_retransmissions: u64,
    pub spurious_retransmissions: u64,
    pub out_of_order: u64,
    /// "Previous segment not captured".
    pub lost_segments: u64,
    /// "ACKed unseen segment" (an ACK sent in this direction).
    pub acked_unseen: u64,
    pub dup_acks: u64,
    pub zero_windows: u64,
    pub zero_window_probes: u64,
    pub window_full: u64,
    pub window_updates: u64,
    pub keep_alives: u64,
    /// Frames that copy one sent moments before (not a Wireshark counter: see
    /// `tcp::duplicates`).
    pub capture_duplicates: u64,
    /// Of those, frames Wireshark counts as retransmissions.
    pub duplicate_retransmissions: u64,
    /// Of those, frames Wireshark counts as out of order.
    pub duplicate_out_of_order: u64,
    /// Of those, frames Wireshark counts as keep-alives (late copies of ACKs after a FIN).
    pub duplicate_keep_alives: u64,
    /// Frames Wireshark counts as retransmissions that were sent before a frame captured
    /// earlier (not a Wireshark counter: see `tcp::id_order`).
    pub reordered_retransmissions: u64,
    /// Frames Wireshark counts as retransmissions of sequence space never sent before: its mark
    /// came from a challenge ACK's other incarnation (see `Events::NOT_RESENT`).
    pub stale_retransmissions: u64,
}

impl Counts {
    pub(super) fn add(&mut self, ev: Events) {
        // Most frames carry no flag: nothing to count, and no need to test each counter's.
        if ev.is_empty() {
            return;
        }
        let bump = |flag: Events, n: &mut u64| {
            if ev.any(flag) {
                *n += 1;
            }
        };
        bump(Events::ANY_RETRANSMISSION, &mut self.retransmissions);
        bump(Events::FAST_RETRANSMISSION, &mut self.fast_retransmissions);
        bump(
            Events::SPURIOUS_RETRANSMISSION,
            &mut self.spurious_retransmissions,
        );
        bump(Events::OUT_OF_ORDER, &mut self.out_of_order);
        bump(Events::LOST_SEGMENT, &mut self.lost_segments);
        bump(Events::ACK_LOST_SEGMENT, &mut self.acked_unseen);
        bump(Events::DUP_ACK, &mut self.dup_acks);
        bump(Events::ZERO_WINDOW, &mut self.zero_windows);
        bump(Events::ZERO_WINDOW_PROBE, &mut self.zero_window_probes);
        bump(Events::WINDOW_FULL, &mut self.window_full);
        bump(Events::WINDOW_UPDATE, &mut self.window_updates);
        bump(Events::KEEP_ALIVE, &mut self.keep_alives);
        bump(Events::CAPTURE_DUPLICATE, &mut self.capture_duplicates);
        if ev.any(Events::CAPTURE_DUPLICATE) {
            bump(
                Events::ANY_RETRANSMISSION,
                &mut self.duplicate_retransmissions,
            );
            bump(Events::OUT_OF_ORDER, &mut self.duplicate_out_of_order);
            bump(Events::KEEP_ALIVE, &mut self.duplicate_keep_alives);
        } else if ev.any(Events::SENT_EARLIER) {
            bump(
                Events::ANY_RETRANSMISSION,
                &mut self.reordered_retransmissions,
            );
        } else if ev.any(Events::NOT_RESENT) {
            bump(Events::ANY_RETRANSMISSION, &mut self.stale_retransmissions);
        }
    }

    /// Retransmissions that are neither capture duplicates nor frames captured out of order.
    pub fn real_retransmissions(&self) -> u64 {
        self.retransmissions
            .saturating_sub(self.duplicate_retransmissions)
            .saturating_sub(self.reordered_retransmissions)
            .saturating_sub(self.stale_retransmissions)
    }

    /// Out-of-order segments that are not capture duplicates.
    pub fn real_out_of_order(&self) -> u64 {
        self.out_of_order
            .saturating_sub(self.duplicate_out_of_order)
    }

    /// Keep-alives that are not capture duplicates.
    pub fn real_keep_alives(&self) -> u64 {
        self.keep_alives.saturating_sub(self.duplicate_keep_alives)
    }
}
