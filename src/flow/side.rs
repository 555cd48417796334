//! Which end of a flow sent a packet: [`Side`] (by endpoint), [`Direction`] (by role), and
//! [`PerSide`], a pair indexed by side.
//!
//! A flow's key holds its two endpoints sorted (lower first), so a side is known the moment a
//! packet arrives; which side is the client is learnt later (the SYN), so roles are derived from
//! sides, never stored in place of them.

use std::ops::{Index, IndexMut};

use serde::Serialize;

/// One end of a flow: `A` sent from `key.ends[0]` (the lower endpoint), `B` from `key.ends[1]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Side {
    A,
    B,
}

impl Side {
    /// Both sides, `A` first.
    pub const BOTH: [Side; 2] = [Side::A, Side::B];

    /// The other end.
    #[inline]
    pub fn other(self) -> Side {
        match self {
            Side::A => Side::B,
            Side::B => Side::A,
        }
    }

    /// The index into `key.ends`.
    #[inline]
    pub fn index(self) -> usize {
        match self {
            Side::A => 0,
            Side::B => 1,
        }
    }
}

/// A direction by role: what the client sent (`c2s`) or what the server sent (`s2c`). Serialised
/// as those names, the keys of the JSON report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Direction {
    #[serde(rename = "c2s")]
    C2s,
    #[serde(rename = "s2c")]
    S2c,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::C2s => "c2s",
            Direction::S2c => "s2c",
        }
    }

    /// The sender's role: `client` or `server`.
    pub fn sender(self) -> &'static str {
        match self {
            Direction::C2s => "client",
            Direction::S2c => "server",
        }
    }

    pub fn reverse(self) -> Direction {
        match self {
            Direction::C2s => Direction::S2c,
            Direction::S2c => Direction::C2s,
        }
    }
}

/// A value per side, indexed by [`Side`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PerSide<T>([T; 2]);

impl<T> PerSide<T> {
    pub fn new(a: T, b: T) -> Self {
        PerSide([a, b])
    }

    /// Both values, `A` first.
    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }

    /// Both values for writing, `A` first.
    pub fn iter_mut(&mut self) -> std::slice::IterMut<'_, T> {
        self.0.iter_mut()
    }

    /// Each side with its value, `A` first.
    pub fn sides(&self) -> impl Iterator<Item = (Side, &T)> {
        Side::BOTH.into_iter().zip(self.0.iter())
    }

    /// The value of `side` for writing and the other side's for reading, at once.
    #[inline]
    pub fn split_mut(&mut self, side: Side) -> (&mut T, &mut T) {
        let [a, b] = &mut self.0;
        match side {
            Side::A => (a, b),
            Side::B => (b, a),
        }
    }

    pub fn map<U>(&self, f: impl FnMut(&T) -> U) -> PerSide<U> {
        PerSide(self.0.each_ref().map(f))
    }
}

impl<T: Copy + std::ops::Add<Output = T>> PerSide<T> {
    /// Both values added.
    pub fn sum(&self) -> T {
        self.0[0] + self.0[1]
    }
}

impl<T> Index<Side> for PerSide<T> {
    type Output = T;
    #[inline]
    fn index(&self, s: Side) -> &T {
        &self.0[s.index()]
    }
}

impl<T> IndexMut<Side> for PerSide<T> {
    #[inline]
    fn index_mut(&mut self, s: Side) -> &mut T {
        &mut self.0[s.index()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sides_pair_up() {
        assert_eq!(Side::A.other(), Side::B);
        assert_eq!(Side::B.other().other(), Side::B);
        let mut p = PerSide::new(1, 2);
        assert_eq!((p[Side::A], p[Side::B], p.sum()), (1, 2, 3));
        let (mine, theirs) = p.split_mut(Side::B);
        *mine += *theirs;
        assert_eq!(p, PerSide::new(1, 3));
        assert_eq!(p.map(|v| v * 10), PerSide::new(10, 30));
    }

    #[test]
    fn directions_serialise_as_report_keys() {
        assert_eq!(
            serde_json::to_string(&[Direction::C2s, Direction::S2c])
                .ok()
                .as_deref(),
            Some(r#"["c2s","s2c"]"#)
        );
        assert_eq!(Direction::S2c.reverse(), Direction::C2s);
        assert_eq!(Direction::C2s.sender(), "client");
    }
}
