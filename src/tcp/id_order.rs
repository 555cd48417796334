//! Frames the capture saw later than they were sent: a mirror port or a multi-queue capture
//! can deliver a sender's frames out of order, and Wireshark then flags the late one as a
//! retransmission (it is below the highest sequence number seen) although it was sent once.
//!
//! The sender's IPv4 ID says which came first when it counts up: Linux counts per connection
//! (`ip_select_ident_segs`, include/net/ip.h), Windows and older stacks per host (RFC 6864 §4.1
//! allows both; a retransmission takes the next ID). A frame whose ID is a little behind the
//! highest ID this side has sent, on a side whose IDs keep stepping forward, was sent before
//! that frame, not resent after it. Random IDs (OpenBSD, many middleboxes) and constant ones
//! (ID 0 with DF) never step forward, so nothing is judged for them.

/// A forward step at most this long counts as counting up (a busy host's per-host counter
/// moves on between one flow's frames; a GRO-merged frame skips its segments' IDs).
const MAX_STEP: u16 = 1024;
/// How far behind the highest ID a frame sent earlier may be.
const MAX_BEHIND: u16 = 1024;
/// IDs seen before the side is judged at all.
const MIN_FRAMES: u32 = 8;

/// One side's IPv4 IDs so far.
#[derive(Debug, Clone, Copy, Default)]
pub struct IdOrder {
    max: Option<u16>,
    frames: u32,
    forward: u32,
}

impl IdOrder {
    /// Notes one frame's ID; true when it was sent before a frame already captured.
    pub fn sent_earlier(&mut self, id: Option<u16>) -> bool {
        let Some(id) = id else {
            return false;
        };
        let Some(max) = self.max else {
            self.max = Some(id);
            return false;
        };
        self.frames += 1;
        let ahead = id.wrapping_sub(max);
        if (1..=MAX_STEP).contains(&ahead) {
            self.forward += 1;
            self.max = Some(id);
            return false;
        }
        let behind = max.wrapping_sub(id);
        (1..=MAX_BEHIND).contains(&behind) && self.counts_up()
    }

    /// Most of this side's frames stepped the ID forward.
    fn counts_up(&self) -> bool {
        self.frames >= MIN_FRAMES && self.forward * 2 >= self.frames
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_late_frame_of_a_counting_sender_was_sent_earlier() {
        let mut o = IdOrder::default();
        for id in 0x97c0..0x97ce {
            assert!(!o.sent_earlier(Some(id)));
        }
        // 0x97d0 and 0x97d1 captured before 0x97ce and 0x97cf (ndpi ultrasurf.pcap, frame 139).
        assert!(!o.sent_earlier(Some(0x97d0)));
        assert!(!o.sent_earlier(Some(0x97d1)));
        assert!(o.sent_earlier(Some(0x97ce)));
        assert!(o.sent_earlier(Some(0x97cf)));
        assert!(
            !o.sent_earlier(Some(0x97d2)),
            "a resend takes a new, higher ID"
        );
        assert!(!o.sent_earlier(None));
    }

    #[test]
    fn random_constant_and_early_ids_are_never_judged() {
        let mut constant = IdOrder::default();
        let mut random = IdOrder::default();
        let mut x: u16 = 12345;
        for _ in 0..50 {
            assert!(!constant.sent_earlier(Some(0)));
            x = x.wrapping_mul(25173).wrapping_add(13849);
            random.sent_earlier(Some(x));
        }
        assert!(!random.counts_up());
        let mut early = IdOrder::default();
        for id in [10, 11, 12, 11] {
            assert!(!early.sent_earlier(Some(id)), "too few frames to judge");
        }
        let mut wrap = IdOrder::default();
        for id in (0xfff8u16..=0xffff).chain(0..4) {
            assert!(!wrap.sent_earlier(Some(id)));
        }
        assert!(wrap.sent_earlier(Some(0xfffe)), "behind across the wrap");
    }
}
