//! Capture duplicates: the same frame captured twice (a SPAN port copying both directions of a
//! port, a bond or bridge delivering a frame on two slaves, `tcpdump -i any` seeing it on the
//! VLAN device and its parent). tcptrace calls them "hardware duplicates" (same IP ID and
//! sequence number); Wireshark flags the copy as a retransmission.
//!
//! A copy has the same IPv4 ID, sequence and acknowledgment numbers, flags, window and length as
//! a frame the same side sent at most [`DUP_WINDOW_NS`] earlier. A real retransmission cannot
//! look like that: the sender's IP ID moves on (RFC 6864 §4.1 leaves atomic datagrams' IDs
//! free, but Linux, Windows and the BSDs count per connection or per host), and it comes an RTO,
//! a tail-loss probe or a round trip of duplicate ACKs later. Without an IPv4 ID (IPv6), the TCP
//! timestamps must match too and the window shrinks to [`DUP_WINDOW_NO_ID_NS`]. tshark's counters
//! stay tshark's; the findings subtract the copies.

/// The copy of a SPAN port or bond follows within microseconds; a few milliseconds leave room
/// for a busy mirror port's queueing.
pub const DUP_WINDOW_NS: i64 = 5_000_000;
/// Without an IP ID to compare, only copies this close count.
pub const DUP_WINDOW_NO_ID_NS: i64 = 1_000_000;
/// Recent frames remembered per side (copies may interleave with a few other frames).
const RECENT: usize = 4;

/// What two copies of one frame share.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Fingerprint {
    pub ip_id: Option<u16>,
    pub seq: u32,
    pub ack: u32,
    pub len: u32,
    pub flags: u8,
    pub window: u16,
    pub tsval: Option<(u32, u32)>,
}

/// The last few frames one side sent.
#[derive(Debug, Clone, Default)]
pub struct Recent {
    frames: [(Fingerprint, i64); RECENT],
    kept: usize,
    next: usize,
}

impl Recent {
    /// Whether `fp` at `ts_ns` copies a recent frame; remembers it otherwise.
    pub fn is_copy(&mut self, fp: Fingerprint, ts_ns: i64) -> bool {
        // An ID of 0 (DF set, some stacks) says nothing: it is the same on every frame.
        let window = if fp.ip_id.is_some_and(|id| id != 0) {
            DUP_WINDOW_NS
        } else if fp.tsval.is_some() {
            DUP_WINDOW_NO_ID_NS
        } else {
            return false;
        };
        // A copy refreshes its original's time: a mirror may deliver a frame three or four
        // times, each a little later.
        let copy = self.frames[..self.kept]
            .iter_mut()
            .find(|(f, t)| *f == fp && (0..=window).contains(&ts_ns.saturating_sub(*t)))
            .map(|(_, t)| *t = ts_ns)
            .is_some();
        if !copy {
            self.frames[self.next] = (fp, ts_ns);
            self.next = (self.next + 1) % RECENT;
            self.kept = (self.kept + 1).min(RECENT);
        }
        copy
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fp(id: Option<u16>, seq: u32) -> Fingerprint {
        Fingerprint {
            ip_id: id,
            seq,
            ack: 1,
            len: 100,
            flags: 0x18,
            window: 512,
            tsval: None,
        }
    }

    #[test]
    fn a_copy_within_the_window_is_a_duplicate() {
        let mut r = Recent::default();
        assert!(!r.is_copy(fp(Some(7), 1), 0));
        assert!(r.is_copy(fp(Some(7), 1), 2_000), "SPAN copy 2 µs later");
        assert!(
            !r.is_copy(fp(Some(8), 1), 3_000),
            "new IP ID: a retransmission"
        );
        assert!(!r.is_copy(fp(Some(7), 1), 200_000_000), "an RTO later");
    }

    #[test]
    fn interleaved_copies_are_found_and_ipv6_needs_timestamps() {
        let mut r = Recent::default();
        for (i, s) in [1u32, 101, 201].iter().enumerate() {
            assert!(!r.is_copy(fp(Some(i as u16 + 1), *s), i as i64));
        }
        assert!(r.is_copy(fp(Some(1), 1), 10), "copy after two other frames");
        assert!(!r.is_copy(fp(Some(0), 1), 11));
        assert!(
            !r.is_copy(fp(Some(0), 1), 12),
            "ID 0 and no timestamps: never"
        );
        assert!(!r.is_copy(fp(None, 1), 10), "no ID, no timestamps: never");
        let mut v6 = fp(None, 5);
        v6.tsval = Some((9, 9));
        assert!(!r.is_copy(v6, 0));
        assert!(r.is_copy(v6, 500_000));
        assert!(
            !r.is_copy(v6, 2_000_000),
            "beyond the 1 ms window without an ID"
        );
    }
}
