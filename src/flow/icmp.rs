//! ICMP errors about a flow's packets: an ICMP or ICMPv6 error quotes the packet that caused it
//! (RFC 792, RFC 4443 §2.4), so its quoted 5-tuple names the flow and the side that sent it.
//!
//! The error is attached to an existing flow only: a quote whose flow was never captured (the
//! capture began after it, or it quotes another host's packet) starts no flow; the ICMP frame
//! itself is counted among the capture's `icmp` frames, as every ICMP frame is.

use std::net::IpAddr;

use crate::decode::icmp::{IcmpFacts, IcmpKind};
use crate::evidence::Evidence;

/// The ICMP errors about what one side of a flow sent.
#[derive(Debug, Clone, Default)]
pub struct IcmpErrors {
    /// Errors per [`IcmpKind`], indexed by [`IcmpKind::index`].
    pub counts: [u64; IcmpKind::ALL.len()],
    /// The ICMP frames (bounded), and how many there were.
    pub frames: Evidence,
    /// The address of the first error's sender, and whether another address sent any.
    pub reporter: Option<IpAddr>,
    pub other_reporters: bool,
    /// The smallest MTU a packet too big / fragmentation needed error reported.
    pub min_mtu: Option<u32>,
}

impl IcmpErrors {
    /// Counts one error sent by `from`.
    pub fn note(&mut self, facts: &IcmpFacts, from: IpAddr, frame: u64) {
        self.counts[facts.kind.index()] += 1;
        self.frames.push(frame);
        match self.reporter {
            None => self.reporter = Some(from),
            Some(r) if r != from => self.other_reporters = true,
            Some(_) => {}
        }
        if let Some(m) = facts.mtu {
            self.min_mtu = Some(self.min_mtu.map_or(m, |v| v.min(m)));
        }
    }

    pub fn total(&self) -> u64 {
        self.frames.total
    }

    pub fn count(&self, kind: IcmpKind) -> u64 {
        self.counts[kind.index()]
    }

    /// The kinds seen, with their counts, in [`IcmpKind::ALL`] order.
    pub fn kinds(&self) -> impl Iterator<Item = (IcmpKind, u64)> + '_ {
        IcmpKind::ALL
            .iter()
            .map(|&k| (k, self.count(k)))
            .filter(|&(_, n)| n > 0)
    }

    /// The kind most errors were, and its count (the first in [`IcmpKind::ALL`] order on a tie).
    pub fn main_kind(&self) -> Option<(IcmpKind, u64)> {
        self.kinds()
            .fold(None, |best: Option<(IcmpKind, u64)>, (k, n)| match best {
                Some((_, b)) if b >= n => best,
                _ => Some((k, n)),
            })
    }
}
