//! `SeqNum`: the one type for TCP sequence-number arithmetic, modulo 2^32 (RFC 9293 §3.4).
//!
//! Shaped after smoltcp's `TcpSeqNumber`: comparisons go through the signed distance between two
//! numbers, so they stay right across the 2^32 wrap. Nothing else in the crate compares raw `u32`
//! sequence numbers.

use std::cmp::Ordering;

/// A TCP sequence (or acknowledgment) number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SeqNum(pub u32);

impl SeqNum {
    /// The number `n` bytes later (wrapping).
    #[inline]
    pub fn plus(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_add(n))
    }

    /// The number `n` bytes earlier (wrapping).
    #[inline]
    pub fn minus(self, n: u32) -> SeqNum {
        SeqNum(self.0.wrapping_sub(n))
    }

    /// Signed distance `self - other`, as Wireshark's `GT_SEQ`/`LT_SEQ` macros compute it
    /// (`(int)(x - y)`). At exactly 2^31 apart both numbers are "before" each other, as there.
    #[inline]
    pub fn distance(self, other: SeqNum) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }

    /// Bytes from `other` up to `self`, when `self` is not before `other`.
    #[inline]
    pub fn bytes_after(self, other: SeqNum) -> Option<u32> {
        let d = self.distance(other);
        (d >= 0).then_some(d as u32)
    }

    /// The later of two numbers.
    #[inline]
    pub fn max(self, other: SeqNum) -> SeqNum {
        if self.distance(other) > 0 {
            self
        } else {
            other
        }
    }

    /// Offset from `base`, modulo 2^32 (Wireshark's relative sequence number).
    #[inline]
    pub fn relative_to(self, base: SeqNum) -> u32 {
        self.0.wrapping_sub(base.0)
    }

    /// Wireshark keeps "not seen yet" as the value 0 in its per-direction state; code that
    /// reproduces its flags uses this to reproduce that rule (see docs/tcp-analysis.md).
    #[inline]
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

impl PartialOrd for SeqNum {
    /// Ordered by signed distance, so `SeqNum(0xffff_fff0) < SeqNum(0x10)`. Not a total order
    /// (numbers 2^31 apart), which is why there is no `Ord`.
    fn partial_cmp(&self, other: &SeqNum) -> Option<Ordering> {
        Some(self.distance(*other).cmp(&0))
    }
}

/// Maps 32-bit sequence numbers of one direction onto a 64-bit line that keeps growing across
/// wraps, for series and plots. Each number is placed on the side of the last one it is nearest
/// to, which is right while consecutive numbers are less than 2^31 apart.
#[derive(Debug, Clone, Copy, Default)]
pub struct Unwrapper {
    last: Option<(SeqNum, i64)>,
}

impl Unwrapper {
    /// Position of `s` relative to the first number seen (which is at 0... or at `s - base`
    /// when started with [`Unwrapper::starting_at`]).
    pub fn place(&mut self, s: SeqNum) -> i64 {
        let v = match self.last {
            None => 0,
            Some((ls, lv)) => lv + s.distance(ls) as i64,
        };
        // Only move the anchor forward, so an old retransmission does not drag it back.
        if self.last.is_none_or(|(_, lv)| v >= lv) {
            self.last = Some((s, v));
        }
        v
    }

    /// An unwrapper on which `base` is at 0.
    pub fn starting_at(base: SeqNum) -> Unwrapper {
        Unwrapper {
            last: Some((base, 0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_cross_the_wrap() {
        let before = SeqNum(0xffff_fff0);
        let after = before.plus(0x20);
        assert_eq!(after, SeqNum(0x10));
        assert!(before < after);
        assert!(after > before);
        assert_eq!(after.distance(before), 0x20);
        assert_eq!(before.distance(after), -0x20);
        assert_eq!(after.bytes_after(before), Some(0x20));
        assert_eq!(before.bytes_after(after), None);
        assert_eq!(before.max(after), after);
        assert_eq!(after.minus(0x20), before);
        assert_eq!(after.relative_to(before), 0x20);
    }

    #[test]
    fn half_way_round_is_before_both_ways_like_wireshark() {
        let a = SeqNum(0);
        let b = SeqNum(0x8000_0000);
        assert!(a < b && b < a);
    }

    #[test]
    fn unwrapper_keeps_growing_across_wraps() {
        let mut u = Unwrapper::starting_at(SeqNum(0xffff_0000));
        assert_eq!(u.place(SeqNum(0xffff_8000)), 0x8000);
        assert_eq!(u.place(SeqNum(0x0000_8000)), 0x1_8000);
        // An old retransmission lands before, without moving the anchor.
        assert_eq!(u.place(SeqNum(0xffff_9000)), 0x9000);
        // Four more gigabytes later, still one line.
        let mut s = SeqNum(0x0000_8000);
        let mut expect = 0x1_8000_i64;
        for _ in 0..8 {
            s = s.plus(0x7000_0000);
            expect += 0x7000_0000;
            assert_eq!(u.place(s), expect);
        }
    }
}
