//! Which rules refused each judged pair *together*: a bounded table of blocker sets, from which a
//! finding learns how many pairs fixing one rule, or several, would free, and so which rules must
//! all go before GRO merges (a sender whose IDs and timestamps each break every pair gains
//! nothing from fixing either alone).

use super::{Blocker, Blockers, GroDir, IdLayer};

/// Distinct blocker sets kept per direction. A bulk flow shows a handful (one header defect, with
/// or without PSH, ACK or window changes); pairs whose set finds no slot count as never freed, so
/// freed counts are lower bounds then ([`BlockerSets::overflow`] says how many).
pub const SET_SLOTS: usize = 16;

/// Refused judged pairs per set of rules that refused them.
#[derive(Debug, Clone, Copy, Default)]
pub struct BlockerSets {
    /// (set, pairs), `len` of them in use. Counts saturate (4 billion pairs).
    sets: [(Blockers, u32); SET_SLOTS],
    len: usize,
    /// Refused pairs whose set found no slot.
    pub overflow: u64,
}

impl BlockerSets {
    /// Counts one pair refused by exactly `v`.
    pub(super) fn add(&mut self, v: Blockers) {
        if let Some(slot) = self.sets[..self.len].iter_mut().find(|(s, _)| *s == v) {
            slot.1 = slot.1.saturating_add(1);
        } else if let Some(slot) = self.sets.get_mut(self.len) {
            *slot = (v, 1);
            self.len += 1;
        } else {
            self.overflow += 1;
        }
    }

    /// Refused pairs that fixing every rule of `fixed` would free: those no other rule refused.
    pub fn freed_by(&self, fixed: Blockers) -> u64 {
        self.sets[..self.len]
            .iter()
            .filter(|(s, _)| s.is_subset(fixed))
            .map(|&(_, n)| u64::from(n))
            .sum()
    }
}

/// One rule of a fix plan ([`GroDir::fix_plan`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixStep {
    pub blocker: Blocker,
    /// Judged pairs it refused.
    pub refused: u64,
    /// Pairs that fixing it alone would free.
    pub alone: u64,
    /// Pairs that fixing it and every rule before it in the plan would free.
    pub with_earlier: u64,
}

impl GroDir {
    /// The rules that each refused at least `min_pairs` judged pairs (and at least one).
    pub fn refusing_at_least(&self, min_pairs: u64) -> Blockers {
        Blockers::of(Blocker::ALL.iter().copied().filter(|&b| {
            let n = self.blockers[b as usize];
            n > 0 && n >= min_pairs
        }))
    }

    /// The rules of `chosen` in the order they should go: each next one frees the most pairs
    /// together with those before it (ties: the one refusing more pairs, then kernel order).
    pub fn fix_plan(&self, chosen: Blockers) -> Vec<FixStep> {
        let mut plan: Vec<FixStep> = Vec::with_capacity(chosen.len());
        let mut fixed = Blockers::default();
        let mut left = chosen;
        while let Some(next) = left.iter().max_by_key(|&b| {
            let freed = self.refused_sets.freed_by(with(fixed, b));
            (
                freed,
                self.blockers[b as usize],
                std::cmp::Reverse(b as usize),
            )
        }) {
            fixed = with(fixed, next);
            left = left.without(next);
            plan.push(FixStep {
                blocker: next,
                refused: self.blockers[next as usize],
                alone: self.refused_sets.freed_by(Blockers::of([next])),
                with_earlier: self.refused_sets.freed_by(fixed),
            });
        }
        plan
    }

    /// Judged pairs that `layer`'s ID rule refused and no rule but the ID rules refused: fixing
    /// the IDs would let them merge.
    pub fn only_ids_blocked(&self, layer: IdLayer) -> u64 {
        let ids = Blockers::of([Blocker::OuterIpId, Blocker::IpId]);
        let other_layer = match layer {
            IdLayer::Outer => Blocker::IpId,
            IdLayer::Inner => Blocker::OuterIpId,
        };
        let sets = &self.refused_sets;
        sets.freed_by(ids) - sets.freed_by(Blockers::of([other_layer]))
    }
}

/// `set` with `b` added.
fn with(mut set: Blockers, b: Blocker) -> Blockers {
    set.insert(b);
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir(pairs: &[(&[Blocker], u32)]) -> GroDir {
        let mut g = GroDir::default();
        for &(set, n) in pairs {
            for _ in 0..n {
                let v = Blockers::of(set.iter().copied());
                for b in v.iter() {
                    g.blockers[b as usize] += 1;
                }
                g.refused_sets.add(v);
            }
        }
        g
    }

    /// IDs and timestamps each refuse every pair: neither alone frees one, both free all.
    #[test]
    fn two_rules_that_each_refuse_every_pair_must_both_go() {
        use Blocker::{OuterIpId, TcpOptions};
        let g = dir(&[(&[OuterIpId, TcpOptions], 39)]);
        let plan = g.fix_plan(g.refusing_at_least(20));
        let got: Vec<_> = plan
            .iter()
            .map(|s| (s.blocker, s.refused, s.alone, s.with_earlier))
            .collect();
        assert_eq!(
            got,
            [(OuterIpId, 39, 0, 0), (TcpOptions, 39, 0, 39)],
            "kernel order breaks the tie"
        );
        assert_eq!(g.only_ids_blocked(IdLayer::Outer), 0);
    }

    /// The rule that frees more pairs on its own goes first, whatever the kernel order.
    #[test]
    fn the_plan_frees_the_most_pairs_first() {
        use Blocker::{IpId, OuterIpId, Ttl};
        let g = dir(&[
            (&[Ttl], 30),
            (&[Ttl, IpId], 5),
            (&[IpId], 2),
            (&[OuterIpId], 4),
        ]);
        let plan = g.fix_plan(g.refusing_at_least(1));
        let order: Vec<_> = plan.iter().map(|s| (s.blocker, s.with_earlier)).collect();
        assert_eq!(order, [(Ttl, 30), (IpId, 37), (OuterIpId, 41)]);
        assert_eq!(plan[1].alone, 2);
        assert_eq!(g.only_ids_blocked(IdLayer::Inner), 2);
        assert_eq!(g.only_ids_blocked(IdLayer::Outer), 4);
    }

    #[test]
    fn sets_beyond_the_slots_are_never_freed() {
        let mut sets = BlockerSets::default();
        for b in Blocker::ALL.iter().take(SET_SLOTS + 2) {
            sets.add(Blockers::of([*b]));
        }
        assert_eq!(sets.overflow, 2);
        let all = Blockers::of(Blocker::ALL.iter().copied());
        assert_eq!(sets.freed_by(all), SET_SLOTS as u64);
    }
}
