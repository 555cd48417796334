//! Capture duplicates: the same frame captured twice (a SPAN port copying both directions of a
//! port, a bond or bridge delivering a frame on two slaves, `tcpdump -i any` seeing it on the
//! VLAN device and its parent). tcptrace calls them "hardware duplicates" (trace.c,
//! `check_hw_dups`: the same IPv4 ID and sequence number as one of the direction's last
//! `SEGS_TO_REMEMBER` = 8 segments, IDs of 0 excluded); Wireshark flags the copy as a
//! retransmission, a spurious retransmission or an out-of-order segment, depending on what came
//! between.
//!
//! A copy has the same IPv4 ID, sequence and acknowledgment numbers, flags, window, length and
//! TCP timestamps as a frame the same side sent at most [`DUP_WINDOW_NS`] before (or after: two
//! capture interfaces' clocks may disagree by a little), wherever it lands among the other
//! frames: a mirror port's copy queues behind other traffic. A real retransmission cannot look
//! like that: the sender's IP ID moves on (RFC 6864 §4.1 leaves atomic datagrams' IDs free, but
//! Linux, Windows and the BSDs count per connection or per host), and it comes an RTO, a
//! tail-loss probe or a round trip of duplicate ACKs later.
//!
//! An ID of 0 (DF set: FreeBSD since 13 sends 0 on every atomic datagram, RFC 6864 §4.1) is the
//! same on every frame, so it says nothing, like IPv6's missing ID. Then the TCP timestamps must
//! match, the copy must follow within [`DUP_WINDOW_NO_ID_NS`], and a frame Wireshark calls a
//! fast retransmission (duplicate ACKs asked for exactly this sequence number) is a resend unless
//! its twin was one too: on a LAN a fast retransmission follows its original within a
//! millisecond, and a coarse timestamp clock gives it the same TSval.
//!
//! Memory: [`NARROW`] frames per side, as tcptrace; a connection that showed a copy remembers
//! [`WIDE`] frames per side (one allocation per side), enough for the window at 51,200 frames a
//! second. Its first copy must land within [`NARROW`] of its side's frames of the twin; a
//! mirror port copies the handshake too, whose copies land next to their twins.

use super::events::Events;

/// The copy of a SPAN port or bond follows within microseconds; a few milliseconds leave room
/// for a busy mirror port's queueing.
pub const DUP_WINDOW_NS: i64 = 5_000_000;
/// Without an IP ID to compare, only copies this close count.
pub const DUP_WINDOW_NO_ID_NS: i64 = 1_000_000;
/// Frames remembered per side until the connection shows a copy: tcptrace's
/// `SEGS_TO_REMEMBER` (tcptrace.h).
pub const NARROW: usize = 8;
/// Frames remembered per side once it has: [`DUP_WINDOW_NS`] of 51,200 frames a second.
pub const WIDE: usize = 256;

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

impl Fingerprint {
    /// An IPv4 ID that tells frames apart: present and not the constant 0.
    fn has_id(&self) -> bool {
        self.ip_id.is_some_and(|id| id != 0)
    }
}

/// One remembered frame.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    fp: Fingerprint,
    /// When it (or its latest copy) was captured.
    last_ns: i64,
    /// Wireshark flagged it as a retransmission of some kind.
    resent: bool,
}

/// The last frames one side sent.
#[derive(Debug, Clone, Default)]
pub struct Recent {
    narrow: [Seen; NARROW],
    /// How many of `narrow`'s frames fall in each of 16 buckets of [`Fingerprint::bucket`], a
    /// nibble each (at most 8 fit): a frame whose bucket is empty copies none of them.
    narrow_counts: u64,
    /// Replaces `narrow` once the connection showed a copy.
    wide: Option<Box<Wide>>,
    kept: usize,
    next: usize,
}

/// The wide memory, with the count of its frames per bucket: most frames' buckets are empty,
/// and then [`WIDE`] frames need not be compared one by one.
#[derive(Debug, Clone)]
struct Wide {
    slots: [Seen; WIDE],
    counts: [u16; WIDE],
}

impl Fingerprint {
    /// A hash of what tells a direction's frames apart (its data segments by sequence number,
    /// its ACKs by acknowledgment number), `bits` wide: equal fingerprints share a bucket.
    fn bucket(&self, bits: u32) -> usize {
        let h = (self.seq ^ self.ack.rotate_left(16) ^ self.len).wrapping_mul(0x9E37_79B1);
        (h >> (32 - bits)) as usize
    }
}

/// Buckets of the narrow memory: 2^4, a nibble of `narrow_counts` each.
const NARROW_BITS: u32 = 4;
/// Buckets of the wide memory: one per frame it holds.
const WIDE_BITS: u32 = WIDE.trailing_zeros();

impl Recent {
    /// Whether `fp` at `ts_ns`, which Wireshark flagged `ws`, copies a recent frame; remembers
    /// it otherwise.
    pub fn is_copy(&mut self, fp: Fingerprint, ts_ns: i64, ws: Events) -> bool {
        let resent = ws.any(Events::ANY_RETRANSMISSION);
        let window = if fp.has_id() {
            DUP_WINDOW_NS
        } else if fp.tsval.is_some() {
            DUP_WINDOW_NO_ID_NS
        } else {
            return false;
        };
        let fast = !fp.has_id() && ws.any(Events::FAST_RETRANSMISSION);
        // A copy refreshes its twin's time: a mirror may deliver a frame three or four times,
        // each a little later.
        let copy = self.may_hold(&fp)
            && self
                .kept_slots()
                .iter_mut()
                .find(|s| {
                    s.fp == fp
                        && ts_ns.saturating_sub(s.last_ns).saturating_abs() <= window
                        && (!fast || s.resent)
                })
                .map(|s| s.last_ns = s.last_ns.max(ts_ns))
                .is_some();
        if copy {
            self.widen();
        } else {
            self.remember(Seen {
                fp,
                last_ns: ts_ns,
                resent,
            });
        }
        copy
    }

    /// Whether a remembered frame may have `fp` (its bucket is not empty).
    fn may_hold(&self, fp: &Fingerprint) -> bool {
        match &self.wide {
            Some(w) => w.counts[fp.bucket(WIDE_BITS)] != 0,
            None => (self.narrow_counts >> (4 * fp.bucket(NARROW_BITS))) & 0xf != 0,
        }
    }

    /// Remembers [`WIDE`] frames from now on (the connection showed a copy).
    pub fn widen(&mut self) {
        if self.wide.is_some() {
            return;
        }
        let mut wide = Box::new(Wide {
            slots: [Seen::default(); WIDE],
            counts: [0; WIDE],
        });
        // Oldest first, so that the ring goes on where it stands.
        let oldest = (self.next + NARROW - self.kept) % NARROW;
        for i in 0..self.kept {
            let s = self.narrow[(oldest + i) % NARROW];
            wide.slots[i] = s;
            wide.counts[s.fp.bucket(WIDE_BITS)] += 1;
        }
        self.next = self.kept % WIDE;
        self.wide = Some(wide);
    }

    fn kept_slots(&mut self) -> &mut [Seen] {
        let kept = self.kept;
        match &mut self.wide {
            Some(w) => &mut w.slots[..kept],
            None => &mut self.narrow[..kept],
        }
    }

    /// Writes `s` over the oldest frame once the memory is full, keeping the bucket counts.
    fn remember(&mut self, s: Seen) {
        let (next, full) = (self.next, self.kept == self.len());
        match &mut self.wide {
            Some(w) => {
                if full {
                    w.counts[w.slots[next].fp.bucket(WIDE_BITS)] -= 1;
                }
                w.counts[s.fp.bucket(WIDE_BITS)] += 1;
                w.slots[next] = s;
            }
            None => {
                if full {
                    self.narrow_counts -= 1u64 << (4 * self.narrow[next].fp.bucket(NARROW_BITS));
                }
                self.narrow_counts += 1u64 << (4 * s.fp.bucket(NARROW_BITS));
                self.narrow[next] = s;
            }
        }
        let len = self.len();
        self.next = (next + 1) % len;
        self.kept = (self.kept + 1).min(len);
    }

    fn len(&self) -> usize {
        if self.wide.is_some() {
            WIDE
        } else {
            NARROW
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NONE: Events = Events(0);

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
        assert!(!r.is_copy(fp(Some(7), 1), 0, NONE));
        assert!(
            r.is_copy(fp(Some(7), 1), 2_000, NONE),
            "SPAN copy 2 µs later"
        );
        assert!(
            !r.is_copy(fp(Some(8), 1), 3_000, NONE),
            "new IP ID: a retransmission"
        );
        assert!(
            !r.is_copy(fp(Some(7), 1), 200_000_000, NONE),
            "an RTO later"
        );
        let mut shorter = fp(Some(8), 1);
        shorter.len = 60;
        assert!(!r.is_copy(shorter, 4_000, NONE), "same ID and seq, shorter");
    }

    #[test]
    fn interleaved_copies_are_found_and_ipv6_needs_timestamps() {
        let mut r = Recent::default();
        for (i, s) in [1u32, 101, 201].iter().enumerate() {
            assert!(!r.is_copy(fp(Some(i as u16 + 1), *s), i as i64, NONE));
        }
        assert!(
            r.is_copy(fp(Some(1), 1), 10, NONE),
            "copy after two other frames"
        );
        assert!(!r.is_copy(fp(Some(0), 1), 11, NONE));
        assert!(
            !r.is_copy(fp(Some(0), 1), 12, NONE),
            "ID 0 and no timestamps: never"
        );
        assert!(
            !r.is_copy(fp(None, 1), 10, NONE),
            "no ID, no timestamps: never"
        );
        let mut v6 = fp(None, 5);
        v6.tsval = Some((9, 9));
        assert!(!r.is_copy(v6, 0, NONE));
        assert!(r.is_copy(v6, 500_000, NONE));
        assert!(
            !r.is_copy(v6, 2_000_000, NONE),
            "beyond the 1 ms window without an ID"
        );
    }

    #[test]
    fn without_an_id_a_fast_retransmission_is_a_resend_unless_its_twin_was_one() {
        let mut id0 = fp(Some(0), 1);
        id0.tsval = Some((7, 9));
        let mut r = Recent::default();
        assert!(!r.is_copy(id0, 0, NONE));
        let fast = Events::FAST_RETRANSMISSION | Events::RETRANSMISSION;
        assert!(!r.is_copy(id0, 300_000, fast), "a LAN fast retransmission");
        assert!(r.is_copy(id0, 310_000, fast), "a copy of that resend");
        let mut v4 = fp(Some(9), 1);
        v4.tsval = Some((7, 9));
        assert!(!r.is_copy(v4, 0, NONE));
        assert!(r.is_copy(v4, 300_000, fast), "the ID says it is a copy");
    }

    #[test]
    fn the_first_copy_widens_the_memory_to_the_window() {
        let mut r = Recent::default();
        // 20 frames 100 µs apart: the narrow memory holds the last 8.
        for i in 0..20u16 {
            assert!(!r.is_copy(
                fp(Some(100 + i), 1 + u32::from(i) * 100),
                i64::from(i) * 100_000,
                NONE
            ));
        }
        assert!(
            !r.is_copy(fp(Some(105), 501), 2_000_000, NONE),
            "14 frames back: beyond tcptrace's 8, remembered as a new frame"
        );
        assert!(r.is_copy(fp(Some(118), 1801), 2_100_000, NONE));
        assert!(r.wide.is_some());
        for i in 0..200u16 {
            let t = 2_200_000 + i64::from(i) * 10_000;
            assert!(!r.is_copy(fp(Some(200 + i), 5000 + u32::from(i) * 100), t, NONE));
        }
        assert!(
            r.is_copy(fp(Some(200), 5000), 4_500_000, NONE),
            "200 frames back, 2.3 ms later"
        );
        assert!(
            r.is_copy(fp(Some(118), 1801), 4_600_000, NONE),
            "kept across the widening"
        );
        assert!(
            !r.is_copy(fp(Some(201), 5100), 7_300_000, NONE),
            "5.1 ms later"
        );
    }

    #[test]
    fn a_copy_stamped_a_little_before_its_twin_still_counts() {
        let mut r = Recent::default();
        assert!(!r.is_copy(fp(Some(7), 1), 10_000, NONE));
        assert!(r.is_copy(fp(Some(7), 1), 9_000, NONE));
    }

    #[test]
    fn the_bucket_counts_follow_the_ring() {
        // Narrow: 30 frames through 8 slots; only the last 8 are found.
        let mut r = Recent::default();
        for i in 0..30u16 {
            assert!(!r.is_copy(fp(Some(i + 1), u32::from(i) * 100), 0, NONE));
        }
        assert!(!r.is_copy(fp(Some(21), 2000), 1, NONE), "9 frames back");
        assert!(r.is_copy(fp(Some(30), 2900), 1, NONE));
        let counted: u64 = (0..16).map(|b| (r.narrow_counts >> (4 * b)) & 0xf).sum();
        assert_eq!(counted, NARROW as u64);
        // Wide: 600 frames through 256 slots.
        for i in 0..600u32 {
            let id = Some((i % 60_000) as u16 + 100);
            assert!(!r.is_copy(fp(id, 10_000 + i * 100), 2, NONE));
        }
        let w = r.wide.as_ref().expect("widened by the copy");
        assert_eq!(
            w.counts.iter().map(|&c| u64::from(c)).sum::<u64>(),
            WIDE as u64
        );
        assert!(r.is_copy(fp(Some(599 + 100), 10_000 + 599 * 100), 3, NONE));
        assert!(r.is_copy(fp(Some(344 + 100), 10_000 + 344 * 100), 3, NONE));
        assert!(
            !r.is_copy(fp(Some(343 + 100), 10_000 + 343 * 100), 3, NONE),
            "257 frames back: forgotten"
        );
    }
}
