//! RFC 9002 at the capture point, with keys: one side's 1-RTT packets held against the peer's
//! ACK frames, for RTT samples (minus the ACK's ack_delay) and for losses — packets declared
//! lost by the packet and time thresholds, and where each loss happened.
//!
//! The capture point is not the sender, so "where" is read from two facts per packet number:
//! whether the capture saw it and whether the peer acknowledged it.
//! - seen, never acknowledged: lost **after** the capture point (on the path beyond it, or
//!   dropped in the receiving host);
//! - never seen, never acknowledged: lost **before** it (or a number the sender skipped on
//!   purpose, RFC 9000 §21.4, which quic-go does now and then);
//! - never seen, acknowledged: the capture missed it (a capture drop).
//!
//! An RTT sample is the time from the packet passing the capture point to its ACK passing it:
//! the sender's RTT on the sender's host, the receiver's turnaround on the receiver's; the two
//! directions' samples add up to the path's round trip wherever the capture is.

use std::collections::VecDeque;

use serde::Serialize;

use super::frames::AckRanges;
use super::rtt::Rtt;
use super::server::ack_delay_ns;
use super::trace::{AckStep, LostPoint, RttStep, SentPoint, SideTrace};
use crate::evidence::Evidence;

/// RFC 9002 §6.1.1 kPacketThreshold: a packet is lost once one sent 3 numbers later is acked.
const PACKET_THRESHOLD: u64 = 3;
/// Packet numbers tracked per side at most: the in-flight packets and a reordering margin. A
/// sender with more unacknowledged packets than this has its oldest judged as they stand.
const WINDOW: usize = 16_384;
/// A packet this many numbers below the largest acknowledged is past any reordering: its
/// state is final and its slot is freed.
const SETTLED: u64 = 1_024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// A number between seen ones that the capture never showed.
    Unseen,
    /// Seen, ack-eliciting, not yet acknowledged.
    Pending,
    /// Seen, not ack-eliciting (ACK, PADDING, CONNECTION_CLOSE only), not acknowledged.
    NotEliciting,
    Acked,
    /// Never seen, acknowledged.
    AckedUnseen,
    /// Declared lost by the thresholds, not (yet) acknowledged.
    Lost,
    /// Never seen, past the thresholds (timed by the packet seen after it), not acknowledged.
    Missing,
}

/// A packet number: when and in what frame the capture saw it (for a number never seen, the
/// first packet seen after it), and its state.
#[derive(Debug, Clone, Copy)]
struct Slot {
    ts_ns: i64,
    frame: u64,
    state: State,
}

/// One side's packets by what became of them.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Loss {
    /// Seen and acknowledged.
    pub acked: u64,
    /// Never seen, acknowledged: the capture missed them.
    pub acked_unseen: u64,
    /// Seen, never acknowledged while later ones were: lost after the capture point.
    pub lost_after_capture: u64,
    /// Never seen, never acknowledged while later ones were: lost before the capture point.
    pub lost_before_capture: u64,
    /// Declared lost by RFC 9002's thresholds when an ACK came (seen packets only), and those
    /// of them acknowledged later after all (a spurious declaration: reordering, a slow ACK).
    pub declared_lost: u64,
    pub spurious: u64,
    /// Not judged: after the last acknowledged number, or too close to it.
    pub unjudged: u64,
    /// Runs of consecutive lost numbers, and the longest.
    pub runs: u64,
    pub longest_run: u64,
    /// The frames (datagrams as captured) that held the packets lost after the capture point:
    /// fewer than those packets when GSO super-datagrams were lost whole.
    pub lost_sends: u64,
    /// When the first and last lost packet passed (or would have) the capture point, ns.
    #[serde(skip)]
    pub first_lost_ns: Option<i64>,
    #[serde(skip)]
    pub last_lost_ns: Option<i64>,
    /// Frames of lost packets (seen: the packet; unseen: the first packet after it).
    #[serde(skip)]
    pub frames: Evidence,
    #[serde(skip)]
    run: u64,
    #[serde(skip)]
    last_lost_frame: u64,
}

impl Loss {
    /// Packets judged: acknowledged, or lost while later ones were acknowledged.
    pub fn judged(&self) -> u64 {
        self.acked + self.acked_unseen + self.lost()
    }

    pub fn lost(&self) -> u64 {
        self.lost_after_capture + self.lost_before_capture
    }

    pub fn rate(&self) -> f64 {
        match self.judged() {
            0 => 0.0,
            n => self.lost() as f64 / n as f64,
        }
    }

    /// Counts a packet in its final state.
    fn settle(&mut self, s: Slot) {
        let lost = match s.state {
            State::Acked => {
                self.acked += 1;
                false
            }
            State::AckedUnseen => {
                self.acked_unseen += 1;
                false
            }
            State::Lost => {
                self.lost_after_capture += 1;
                self.lost_sends += u64::from(s.frame != self.last_lost_frame);
                self.last_lost_frame = s.frame;
                true
            }
            State::Missing => {
                self.lost_before_capture += 1;
                true
            }
            State::NotEliciting => false,
            State::Unseen | State::Pending => {
                self.unjudged += 1;
                false
            }
        };
        if lost {
            self.run += 1;
            self.frames.push(s.frame);
            self.first_lost_ns.get_or_insert(s.ts_ns);
            self.last_lost_ns = Some(s.ts_ns);
        } else {
            self.end_run();
        }
    }

    fn end_run(&mut self) {
        if self.run > 0 {
            self.runs += 1;
            self.longest_run = self.longest_run.max(self.run);
            self.run = 0;
        }
    }
}

/// One side's packets and what the peer's ACKs said of them.
#[derive(Debug, Clone, Default)]
pub struct Recovery {
    /// The packet number of `slots[0]`.
    base: u64,
    slots: VecDeque<Slot>,
    /// No packet below this number is [`State::Pending`] or [`State::Unseen`].
    first_open: u64,
    largest_acked: Option<u64>,
    pub rtt: Rtt,
    /// The packets whose slots were freed.
    settled: Loss,
    /// The graphs' points, when a graph of the flow is drawn.
    pub trace: Option<Box<SideTrace>>,
    /// The exponent of the peer's ACK Delay fields, from its transport parameters (3 when
    /// they were not read, RFC 9000 §18.2).
    pub ack_delay_exponent: Option<u8>,
    /// The peer's `max_ack_delay`, ns, from its transport parameters (25 ms when they were not
    /// read or did not say, RFC 9000 §18.2): part of this side's probe timeout.
    pub max_ack_delay_ns: Option<i64>,
}

impl Recovery {
    /// This side's packet `pn`, seen in frame `frame` at `ts_ns`.
    pub fn sent(&mut self, pn: u64, ts_ns: i64, frame: u64, eliciting: bool) {
        if let Some(t) = &mut self.trace {
            let p = SentPoint {
                t_ns: ts_ns,
                frame,
                pn,
                eliciting,
            };
            t.sent.push(p, |_| false);
        }
        let state = if eliciting {
            State::Pending
        } else {
            State::NotEliciting
        };
        let slot = Slot {
            ts_ns,
            frame,
            state,
        };
        if self.slots.is_empty() {
            self.base = pn;
            self.first_open = pn;
        }
        let Some(at) = pn.checked_sub(self.base) else {
            return; // older than anything tracked: settled long ago
        };
        if let Some(s) = usize::try_from(at).ok().and_then(|i| self.slots.get_mut(i)) {
            // A number first seen late (reordered before the capture point); a second copy of
            // a seen one (a duplicated frame) changes nothing.
            match s.state {
                State::Unseen => {
                    *s = slot;
                    self.first_open = self.first_open.min(pn);
                }
                // Its ACK passed the capture point before it did.
                State::AckedUnseen => {
                    *s = Slot {
                        state: State::Acked,
                        ..slot
                    }
                }
                _ => {}
            }
            return;
        }
        let gap = at - self.slots.len() as u64;
        if gap > WINDOW as u64 {
            // A jump past the window: what came before is judged as it stands.
            self.settle_front(self.slots.len());
            self.base = pn;
            self.first_open = pn;
        } else {
            let unseen = Slot {
                state: State::Unseen,
                ..slot
            };
            self.slots.extend((0..gap).map(|_| unseen));
        }
        self.slots.push_back(slot);
        let over = self.slots.len().saturating_sub(WINDOW);
        self.settle_front(over);
    }

    /// The peer's ACK frame, seen at `ts_ns`, with its ACK Delay field `delay`.
    pub fn ack(&mut self, ranges: &AckRanges<'_>, delay: u64, ts_ns: i64) {
        let before = self.largest_acked;
        let mut newly_eliciting = false;
        let mut largest_slot = None;
        for (lo, hi) in ranges.iter() {
            if hi < self.base {
                break; // the ranges go down: the rest were settled
            }
            if largest_slot.is_none() {
                largest_slot = Some((hi, self.slot(hi).copied()));
            }
            let top = hi.min(self.base + self.slots.len() as u64);
            for pn in lo.max(self.base)..top.saturating_add(1) {
                let Some(s) = self.slot_mut(pn) else { break };
                let was = s.state;
                s.state = match was {
                    State::Unseen | State::Missing | State::AckedUnseen => State::AckedUnseen,
                    _ => State::Acked,
                };
                match was {
                    State::Pending => newly_eliciting = true,
                    State::Lost => self.settled.spurious += 1,
                    _ => {}
                }
            }
        }
        let Some((largest, slot)) = largest_slot else {
            return;
        };
        if before.is_none_or(|b| largest > b) {
            self.largest_acked = Some(largest);
            // RFC 9002 §5.1: a sample when the largest is newly acknowledged along with an
            // ack-eliciting packet; it is timed from the largest (seen here) packet.
            let seen = slot.filter(|s| s.state != State::Unseen && newly_eliciting);
            if let Some(s) = seen {
                let exponent = self.ack_delay_exponent.unwrap_or(3);
                self.rtt
                    .sample(ts_ns - s.ts_ns, ack_delay_ns(delay, exponent));
            }
            if let Some(t) = &mut self.trace {
                t.acks.push(
                    AckStep {
                        t_ns: ts_ns,
                        largest,
                    },
                    |_| false,
                );
                if seen.is_some() {
                    let rtt_ns = self.rtt.adjusted_ns;
                    t.rtts.push(
                        RttStep {
                            t_ns: ts_ns,
                            rtt_ns,
                        },
                        |_| false,
                    );
                }
            }
        }
        self.detect_lost(ts_ns);
        self.settle_acked_front();
    }

    /// RFC 9002 §6.1: the pending packets below the largest acknowledged that are 3 numbers
    /// below it or were sent a loss delay before this ACK are declared lost; the unseen ones
    /// past the same thresholds are missing (sent before the packet seen after them).
    fn detect_lost(&mut self, now_ns: i64) {
        let Some(largest) = self.largest_acked else {
            return;
        };
        let delay = self.rtt.loss_delay_ns();
        let mut pn = self.first_open.max(self.base);
        while pn < largest {
            let Some(s) = self.slot_mut(pn) else { break };
            if matches!(s.state, State::Pending | State::Unseen) {
                if pn + PACKET_THRESHOLD > largest && now_ns - s.ts_ns <= delay {
                    break; // neither threshold yet, nor for the later ones
                }
                let before_capture = s.state == State::Unseen;
                let t_ns = s.ts_ns;
                if before_capture {
                    s.state = State::Missing;
                } else {
                    s.state = State::Lost;
                    self.settled.declared_lost += 1;
                }
                if let Some(t) = &mut self.trace {
                    let p = LostPoint {
                        t_ns,
                        pn,
                        before_capture,
                    };
                    t.lost.push(p, |_| true);
                }
            }
            pn += 1;
        }
        self.first_open = pn;
    }

    /// Frees the front slots whose state is final: acknowledged, or far enough below the
    /// largest acknowledged that no ACK will change them.
    fn settle_acked_front(&mut self) {
        let largest = self.largest_acked.unwrap_or(0);
        let n = self
            .slots
            .iter()
            .enumerate()
            .take_while(|&(i, s)| {
                matches!(s.state, State::Acked | State::AckedUnseen)
                    || self.base + i as u64 + SETTLED <= largest
            })
            .count();
        self.settle_front(n);
    }

    fn settle_front(&mut self, n: usize) {
        for _ in 0..n {
            let Some(s) = self.slots.pop_front() else {
                break;
            };
            self.settled.settle(s);
            self.base += 1;
        }
        self.first_open = self.first_open.max(self.base);
    }

    fn slot(&self, pn: u64) -> Option<&Slot> {
        self.slots
            .get(usize::try_from(pn.checked_sub(self.base)?).ok()?)
    }

    fn slot_mut(&mut self, pn: u64) -> Option<&mut Slot> {
        self.slots
            .get_mut(usize::try_from(pn.checked_sub(self.base)?).ok()?)
    }

    /// What became of every packet, the tracked ones judged as they stand now.
    pub fn loss(&self) -> Loss {
        let mut l = self.settled.clone();
        for s in &self.slots {
            l.settle(*s);
        }
        l.end_run();
        l
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::quic::frames::{frames, Frame};

    const MS: i64 = 1_000_000;

    /// An ACK frame acknowledging `ranges` (inclusive, from the top down) with ack delay 0.
    fn ack(r: &mut Recovery, ranges: &[(u64, u64)], ts_ns: i64) {
        let mut b = vec![0x02];
        // Each field an 8-byte varint (top bits 11).
        let v = |b: &mut Vec<u8>, x: u64| {
            b.extend_from_slice(&(x | 0xc000_0000_0000_0000).to_be_bytes())
        };
        v(&mut b, ranges[0].1);
        v(&mut b, 0);
        v(&mut b, ranges.len() as u64 - 1);
        v(&mut b, ranges[0].1 - ranges[0].0);
        for w in ranges.windows(2) {
            v(&mut b, w[0].0 - w[1].1 - 2);
            v(&mut b, w[1].1 - w[1].0);
        }
        let Some(Frame::Ack { ranges, delay, .. }) = frames(&b).next() else {
            panic!("{b:x?}");
        };
        r.ack(&ranges, delay, ts_ns);
    }

    /// Packets 0-11 sent 1 ms apart (frames 1-12), 4 and 7 never seen.
    fn twelve_sent() -> Recovery {
        let mut r = Recovery::default();
        for pn in (0..12).filter(|&p| p != 4 && p != 7) {
            r.sent(pn, pn as i64 * MS, pn + 1, true);
        }
        r
    }

    #[test]
    fn seen_and_unseen_losses_are_told_apart() {
        let mut r = twelve_sent();
        // The peer got all but 3 (lost after the capture) and 7 (lost before it); 4 it got
        // though the capture missed it.
        ack(&mut r, &[(8, 11), (4, 6), (0, 2)], 50 * MS);
        let l = r.loss();
        assert_eq!(l.acked, 9);
        assert_eq!(l.acked_unseen, 1);
        assert_eq!(l.lost_after_capture, 1);
        assert_eq!(l.lost_before_capture, 1);
        assert_eq!(l.declared_lost, 1);
        assert_eq!((l.runs, l.longest_run), (2, 1));
        assert_eq!(
            l.frames.frames(),
            [4, 9],
            "3's own frame; for 7, the next packet's (8)"
        );
        assert_eq!(l.judged(), 12);
        // RTT: 11 sent at 11 ms, acked at 50 ms.
        assert_eq!(r.rtt.samples, 1);
        assert_eq!(r.rtt.latest_ns, 39 * MS);
    }

    #[test]
    fn a_later_ack_makes_a_declared_loss_spurious() {
        let mut r = twelve_sent();
        ack(&mut r, &[(8, 11), (5, 6), (0, 2)], 50 * MS);
        assert_eq!(r.loss().declared_lost, 1);
        ack(&mut r, &[(8, 11), (0, 6)], 60 * MS);
        let l = r.loss();
        assert_eq!((l.spurious, l.lost_after_capture, l.acked), (1, 0, 10));
        assert_eq!((l.acked_unseen, l.lost_before_capture), (1, 1));
    }

    /// Nothing is lost within the packet threshold and the time threshold: the tail of a
    /// capture, or packets just overtaken.
    #[test]
    fn the_thresholds_hold_back_the_verdict() {
        let mut r = Recovery::default();
        for pn in 0..4 {
            r.sent(pn, pn as i64 * MS, pn + 1, true);
        }
        // 0, 2 and 3 acked 10 ms after 3 was sent: 1 is 2 numbers below, and with an RTT of
        // 10 ms the time threshold is 11.25 ms; 1 was sent 12 ms before.
        ack(&mut r, &[(2, 3), (0, 0)], 13 * MS);
        assert_eq!(r.loss().declared_lost, 1);
        // Sent 0.1 ms apart, acked 0.7 ms after 3: the time threshold is its 1 ms floor, and 1
        // was sent 0.9 ms before.
        let mut r = Recovery::default();
        for pn in 0..4 {
            r.sent(pn, pn as i64 * MS / 10, pn + 1, true);
        }
        ack(&mut r, &[(2, 3), (0, 0)], MS);
        let l = r.loss();
        assert_eq!(
            (l.declared_lost, l.lost_after_capture, l.unjudged),
            (0, 0, 1)
        );
    }

    /// A GSO super-datagram lost whole after the capture point: four packets of one frame are
    /// one lost send.
    #[test]
    fn packets_of_one_frame_lost_together_are_one_send() {
        let mut r = Recovery::default();
        for pn in 0..12u64 {
            // Frames of four packets each (super-datagrams), 1 ms apart.
            r.sent(pn, (pn / 4) as i64 * MS, pn / 4 + 1, true);
        }
        ack(&mut r, &[(8, 11), (0, 3)], 40 * MS);
        let l = r.loss();
        assert_eq!((l.lost_after_capture, l.lost_sends), (4, 1));
        assert_eq!(l.frames.frames(), [2, 2, 2, 2]);
    }

    /// Hostile numbers: a jump of 2^40, an ACK of everything below 2^62, numbers going back.
    #[test]
    fn hostile_numbers_stay_bounded() {
        let mut r = Recovery::default();
        r.sent(5, 0, 1, true);
        r.sent(1 << 40, MS, 2, true);
        r.sent(3, 2 * MS, 3, true);
        ack(&mut r, &[(0, (1 << 62) - 1)], 3 * MS);
        assert!(r.slots.len() <= WINDOW);
        for pn in (1 << 40)..(1 << 40) + 3 * WINDOW as u64 {
            r.sent(pn, 0, 4, false);
        }
        assert!(r.slots.len() <= WINDOW);
        let l = r.loss();
        assert_eq!(l.lost(), 0, "{l:?}");
    }
}
