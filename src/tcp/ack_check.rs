//! Which ACKs acknowledge this connection's data: an ACK answering a SYN with a number the SYN's
//! sender cannot have reached (a challenge ACK, or a stale connection's ACK) is evidence of
//! another incarnation, never of data the capture missed.
//!
//! A host that receives a SYN for a connection it still holds answers with an ACK carrying that
//! old connection's numbers (RFC 5961 §4, the "challenge ACK"; RFC 9293 §3.10.7.4 for a half-open
//! connection). The SYN's sender is in SYN-SENT, where only `ISS < SEG.ACK =< SND.NXT` is
//! acceptable; anything else is answered with `<SEQ=SEG.ACK><CTL=RST>` and discarded (RFC 9293
//! §3.10.7.3; the same rule holds in SYN-RECEIVED, §3.10.7.4), after which the SYN is sent again,
//! often with the same ISN. Counted as an acknowledgment, that ACK made the capture "miss"
//! hundreds of megabytes on a 2 kB connection (when it lands ahead of the ISN) or put as much in
//! flight (when it lands behind).
//!
//! The capture sees what the sender sent, not `SND.NXT`: a capture that dropped packets can see
//! an ACK ahead of everything it holds, and that is how capture gaps are found. So the check only
//! applies where the sender's state is known: from a captured SYN (or SYN/ACK) until an acceptable
//! ACK of it arrives or the sender sends anything else that uses sequence space. Then the ACK must
//! lie after the ISN and at most [`SYN_WINDOW`] beyond the end of what the sender was seen to
//! send: before its peer's first window update it cannot send more than the window of the peer's
//! SYN, which is never scaled (RFC 7323 §2.2). Without a captured SYN (a capture that starts
//! mid-stream) every ACK is taken, as before.

use super::seq::SeqNum;

/// The largest window a SYN or SYN/ACK can advertise: the window field of a SYN is never scaled
/// (RFC 7323 §2.2), so at most 65,535 bytes. What a sender can have sent beyond its SYN before
/// the peer's first window update, were the capture to have missed it.
pub const SYN_WINDOW: u32 = 65_535;

/// One side's SYN awaiting its acknowledgment.
#[derive(Debug, Clone, Copy, Default)]
pub struct AckCheck {
    /// While this side's latest segment that uses sequence space is a SYN and no acceptable ACK
    /// of it has arrived: its ISN and the end of what it sent (the SYN, plus any data on it).
    syn: Option<(SeqNum, SeqNum)>,
    /// ACKs of this side's data not taken as acknowledgments.
    pub rejected: u64,
}

impl AckCheck {
    /// A segment this side sent: a SYN opens the check, anything else using sequence space (data,
    /// FIN) means the sender left SYN-SENT/SYN-RECEIVED and closes it. Pure ACKs and RSTs use no
    /// sequence space and change nothing (the RST answering a challenge ACK keeps the check).
    pub fn sent(&mut self, seq: SeqNum, len: u32, syn: bool, fin: bool) {
        if syn {
            let end = seq.plus(len).plus(1 + u32::from(fin));
            let end = match self.syn {
                Some((isn, e)) if isn == seq => e.max(end),
                _ => end,
            };
            self.syn = Some((seq, end));
        } else if len > 0 || fin {
            self.syn = None;
        }
    }

    /// Whether an ACK of this side's data, sent by the other side, is an acknowledgment of this
    /// connection (see the module documentation); an acceptable one closes the check.
    pub fn accepts(&mut self, ack: SeqNum) -> bool {
        let Some((isn, end)) = self.syn else {
            return true;
        };
        // `distance` is signed: an ACK 2^31 away is before both, so it is refused.
        let ok = ack.distance(isn) > 0 && ack.distance(end) <= SYN_WINDOW as i32;
        if ok {
            self.syn = None;
        } else {
            self.rejected += 1;
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn syn_sent(isn: u32) -> AckCheck {
        let mut c = AckCheck::default();
        c.sent(SeqNum(isn), 0, true, false);
        c
    }

    #[test]
    fn a_challenge_ack_ahead_or_behind_the_isn_is_refused() {
        let isn: u32 = 1000;
        for old in [
            isn + 976_000_000,
            isn.wrapping_sub(445_000_000),
            isn,
            isn + 70_000,
        ] {
            let mut c = syn_sent(isn);
            assert!(!c.accepts(SeqNum(old)), "{old}");
            // The RST answering it keeps the check; so does the SYN sent again.
            c.sent(SeqNum(old), 0, false, false);
            c.sent(SeqNum(isn), 0, true, false);
            assert!(!c.accepts(SeqNum(old)), "{old} again");
            assert_eq!(c.rejected, 2);
            assert!(c.accepts(SeqNum(isn + 1)), "the SYN/ACK");
            // Established: every ACK is taken again (capture gaps are found this way).
            assert!(c.accepts(SeqNum(old)));
        }
    }

    #[test]
    fn the_syn_ack_and_acks_of_data_the_capture_may_have_missed_are_taken() {
        // Across the 2^32 wrap, and with data on the SYN (TCP Fast Open).
        let isn = u32::MAX - 10;
        for (len, ack) in [(0, 1), (100, 101), (100, 1), (0, 1 + SYN_WINDOW)] {
            let mut c = AckCheck::default();
            c.sent(SeqNum(isn), len, true, false);
            assert!(c.accepts(SeqNum(isn).plus(ack)), "len {len}, ack +{ack}");
        }
        let mut c = syn_sent(isn);
        assert!(!c.accepts(SeqNum(isn).plus(2 + SYN_WINDOW)));
        // Data sent after the SYN: the sender is past SYN-SENT, nothing is checked.
        c.sent(SeqNum(isn).plus(1), 100, false, false);
        assert!(c.accepts(SeqNum(isn).plus(500_000_000)));
    }

    #[test]
    fn without_a_syn_every_ack_is_taken() {
        let mut c = AckCheck::default();
        assert!(c.accepts(SeqNum(0)));
        c.sent(SeqNum(5), 0, false, true);
        assert!(c.accepts(SeqNum(0x8000_0000)));
        assert_eq!(c.rejected, 0);
    }
}
