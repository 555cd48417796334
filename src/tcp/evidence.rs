//! Evidence frames of the engine's events, per connection: the frames the event findings
//! (`retransmissions`, `zero-window`, `keep-alive`, `out-of-order`, `capture-gaps`) cite.
//!
//! Kept by the engine, where the flags are made, so that those detectors need no per-frame state
//! of their own. Allocated at a connection's first such event, so quiet connections cost one
//! pointer.

use super::events::Events;
use crate::evidence::Evidence;

/// The classes of events a finding cites.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventClass {
    /// Any retransmission (`tcp.analysis.retransmission`, fast and spurious included) that is
    /// not a capture duplicate.
    Retransmission,
    ZeroWindow,
    KeepAlive,
    OutOfOrder,
    /// Data the capture missed: "previous segment not captured" or "ACKed unseen segment".
    CaptureGap,
    /// A frame captured twice ([`super::duplicates`]).
    CaptureDuplicate,
    /// A zero-window or a keep-alive frame, each once: the signs `starved-flow` cites. Its own
    /// class so that their union has an exact total, not one per class.
    Starved,
}

impl EventClass {
    pub const ALL: [EventClass; 7] = [
        EventClass::Retransmission,
        EventClass::ZeroWindow,
        EventClass::KeepAlive,
        EventClass::OutOfOrder,
        EventClass::CaptureGap,
        EventClass::CaptureDuplicate,
        EventClass::Starved,
    ];

    /// The flags that put a frame in this class.
    pub fn flags(self) -> Events {
        match self {
            EventClass::Retransmission => Events::ANY_RETRANSMISSION,
            EventClass::ZeroWindow => Events::ZERO_WINDOW,
            EventClass::KeepAlive => Events::KEEP_ALIVE,
            EventClass::OutOfOrder => Events::OUT_OF_ORDER,
            EventClass::CaptureGap => Events::ACK_LOST_SEGMENT | Events::LOST_SEGMENT,
            EventClass::CaptureDuplicate => Events::CAPTURE_DUPLICATE,
            EventClass::Starved => Events::ZERO_WINDOW | Events::KEEP_ALIVE,
        }
    }

    /// Whether a frame with flags `ev` belongs to this class: a capture duplicate is no
    /// retransmission, out-of-order segment or keep-alive, and a frame captured out of order is
    /// no retransmission, whatever Wireshark calls them.
    pub fn matches(self, ev: Events) -> bool {
        if self == EventClass::Starved {
            return EventClass::ZeroWindow.matches(ev) || EventClass::KeepAlive.matches(ev);
        }
        let not_counted = match self {
            EventClass::Retransmission => Events::NOT_A_RESEND,
            EventClass::OutOfOrder | EventClass::KeepAlive => Events::CAPTURE_DUPLICATE,
            _ => Events::default(),
        };
        ev.any(self.flags()) && !ev.any(not_counted)
    }
}

/// The first evidence frames of each class for one connection.
#[derive(Debug, Clone, Default)]
pub struct EventEvidence(Option<Box<[Evidence; EventClass::ALL.len()]>>);

impl EventEvidence {
    /// Records `frame` under every class its flags `ev` belong to.
    #[inline]
    pub fn note(&mut self, frame: u64, ev: Events) {
        // Most frames carry no flag at all: one test instead of one per class.
        if ev.is_empty() {
            return;
        }
        for c in EventClass::ALL {
            if c.matches(ev) {
                self.0.get_or_insert_with(Default::default)[c as usize].push(frame);
            }
        }
    }

    /// The evidence frames of one class, in frame order.
    pub fn frames(&self, c: EventClass) -> Vec<u64> {
        self.0
            .as_ref()
            .map(|e| e[c as usize].frames())
            .unwrap_or_default()
    }

    /// How many frames of one class there were in all ([`Self::frames`] lists the first).
    pub fn total(&self, c: EventClass) -> u64 {
        self.0.as_ref().map_or(0, |e| e[c as usize].total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_land_in_their_classes_once() {
        let mut e = EventEvidence::default();
        e.note(1, Events::DUP_ACK);
        assert!(e.0.is_none(), "no class, no allocation");
        e.note(2, Events::FAST_RETRANSMISSION);
        e.note(3, Events::ZERO_WINDOW | Events::KEEP_ALIVE);
        e.note(4, Events::KEEP_ALIVE);
        e.note(5, Events::RETRANSMISSION | Events::CAPTURE_DUPLICATE);
        e.note(6, Events::OUT_OF_ORDER | Events::CAPTURE_DUPLICATE);
        e.note(7, Events::OUT_OF_ORDER | Events::SENT_EARLIER);
        assert_eq!(e.frames(EventClass::Retransmission), vec![2]);
        assert_eq!(e.frames(EventClass::OutOfOrder), vec![7]);
        assert_eq!(e.frames(EventClass::CaptureDuplicate), vec![5, 6]);
        assert_eq!(e.frames(EventClass::KeepAlive), vec![3, 4]);
        assert_eq!(e.frames(EventClass::Starved), vec![3, 4]);
        assert_eq!(e.total(EventClass::Starved), 2);
        assert_eq!(e.total(EventClass::ZeroWindow), 1);
    }

    #[test]
    fn the_union_keeps_the_first_frames() {
        let mut e = EventEvidence::default();
        for n in 1..=40 {
            let ev = if n % 2 == 0 {
                Events::ZERO_WINDOW
            } else {
                Events::KEEP_ALIVE
            };
            e.note(n, ev);
        }
        // A frame of both kinds counts once.
        e.note(41, Events::ZERO_WINDOW | Events::KEEP_ALIVE);
        let v = e.frames(EventClass::Starved);
        assert_eq!(v, (1..=20).collect::<Vec<u64>>());
        assert_eq!(e.total(EventClass::Starved), 41);
    }
}
