//! Two captures of one path (`--peer`): the packets both saw, the flows they pair, the clocks'
//! offset, which capture is upstream in each direction, and what one saw and the other did not.
//!
//! Rules (docs/detectors.md, `path-loss`):
//! - packets match by their identity ([`super::peer`]); identical packets (same identity) pair
//!   in time order;
//! - a direction of a flow pairs with the direction of the peer's flow that shares the most of
//!   its packets, both ways, and at least [`MIN_SHARED`]: unrelated captures pair nothing;
//! - a connection paired both ways gives the offset: with m1 and m2 the medians of (peer time -
//!   this time) of its two directions, the offset is (m1 + m2) / 2 and each direction's one-way
//!   delay the difference (symmetric delays assumed, as NTP does, RFC 5905 §8); the capture
//!   that sees a direction first is upstream. Without one: the capture with the higher TTL is
//!   upstream (a router between them decrements it), else this capture, and no offset is given;
//! - a packet seen upstream only is lost between the two points when the downstream capture
//!   was running when it would have arrived, and, for TCP, no downstream frame that was not
//!   matched itself carries its bytes (GRO/LRO merged it into a larger frame: coalesced; a
//!   TSO/GSO frame upstream was cut into wire segments: segmented), and no unmatched
//!   downstream packet of its length arrived where it was due (changed on the way: a NAT or
//!   firewall that rewrites IP IDs, a re-marking hop).

use rustc_hash::FxHashMap;

use super::peer::{Index, Record};
use crate::flow::Side;

/// Packets two directions must share to be paired.
pub const MIN_SHARED: u32 = 3;

/// A packet due downstream this close to either end of the downstream capture is not judged
/// (at least; twice the largest one-way delay when that is longer): it may have been in flight
/// when that capture started or stopped.
pub const EDGE_MARGIN_NS: i64 = 10_000_000;

/// One of the two captures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    /// The capture analysed.
    This,
    /// The `--peer` capture.
    Peer,
}

/// A direction of a flow in each capture, and what the comparison found for it.
#[derive(Debug, Clone)]
pub struct DirPair {
    pub this: (u32, Side),
    pub peer: (u32, Side),
    /// Packets seen at both points.
    pub both: u64,
    pub upstream: Point,
    /// How the upstream point was chosen.
    pub upstream_by: &'static str,
    /// Packets the upstream capture holds in the time the downstream one was running.
    pub judged: u64,
    /// Upstream-only packets, lost between the two points: (frame number upstream, time).
    pub lost: Vec<(u64, i64)>,
    /// Matched packets just before each run of losses, as frame numbers in the downstream
    /// capture (evidence of where the gap is there).
    pub before_runs: Vec<u64>,
    /// Runs of consecutive losses, and the longest.
    pub runs: u64,
    pub longest_run: u64,
    /// Upstream TCP frames whose bytes arrived in a larger downstream frame, or in several.
    pub coalesced: u64,
    pub segmented: u64,
    /// Upstream-only packets with a downstream-only packet of their length where they were due:
    /// changed on the way (a rewritten IP ID, a re-marked header), not lost.
    pub changed: u64,
    /// Downstream-only packets (sent by something between, or dropped by the upstream capture).
    pub only_downstream: u64,
    /// One-way delay of the matched packets, when the offset is known (median, max).
    pub delay_ns: Option<(i64, i64)>,
}

/// What comparing two captures found.
#[derive(Debug, Clone, Default)]
pub struct Comparison {
    pub pairs: Vec<DirPair>,
    /// Peer clock minus this clock, when a connection seen both ways gave it.
    pub offset_ns: Option<i64>,
    /// Packets matched in all, paired or not.
    pub matched: u64,
}

/// Compares the packets of this capture (`a`) with the peer's (`b`).
pub fn compare(a: &Index, b: &Index) -> Comparison {
    let matches = exact_matches(&a.records, &b.records);
    let paired = pair_directions(&a.records, &b.records, &matches);
    let offset = offset(&a.records, &b.records, &matches, &paired);
    let mut pairs = Vec::new();
    for &(this, peer) in &paired {
        pairs.push(judge(a, b, &matches, this, peer, offset));
    }
    pairs.sort_by_key(|p| (p.this.0, p.this.1));
    Comparison {
        pairs,
        offset_ns: offset,
        matched: matches.len() as u64,
    }
}

/// Record indexes of `recs` by identity, then time.
fn by_identity(recs: &[Record]) -> Vec<u32> {
    let mut ix: Vec<u32> = (0..recs.len() as u32).collect();
    ix.sort_by_key(|&i| (recs[i as usize].sig, recs[i as usize].ts_ns));
    ix
}

/// Pairs of (this, peer) record indexes with one identity, in time order within it.
fn exact_matches(a: &[Record], b: &[Record]) -> Vec<(u32, u32)> {
    let (ia, ib) = (by_identity(a), by_identity(b));
    let (mut i, mut j, mut out) = (0, 0, Vec::new());
    while i < ia.len() && j < ib.len() {
        let (sa, sb) = (a[ia[i] as usize].sig, b[ib[j] as usize].sig);
        if sa < sb {
            i += 1;
        } else if sb < sa {
            j += 1;
        } else {
            out.push((ia[i], ib[j]));
            i += 1;
            j += 1;
        }
    }
    out
}

type Dir = (u32, Side);

/// Directions paired both ways by the packets they share: each one's best is the other.
fn pair_directions(a: &[Record], b: &[Record], m: &[(u32, u32)]) -> Vec<(Dir, Dir)> {
    let mut votes: FxHashMap<(Dir, Dir), u32> = FxHashMap::default();
    for &(i, j) in m {
        let (x, y) = (&a[i as usize], &b[j as usize]);
        *votes
            .entry(((x.flow, x.side), (y.flow, y.side)))
            .or_default() += 1;
    }
    let mut best_a: FxHashMap<Dir, (u32, Dir)> = FxHashMap::default();
    let mut best_b: FxHashMap<Dir, (u32, Dir)> = FxHashMap::default();
    for (&(da, db), &n) in &votes {
        let e = best_a.entry(da).or_insert((0, db));
        if (n, std::cmp::Reverse(db)) > (e.0, std::cmp::Reverse(e.1)) {
            *e = (n, db);
        }
        let e = best_b.entry(db).or_insert((0, da));
        if (n, std::cmp::Reverse(da)) > (e.0, std::cmp::Reverse(e.1)) {
            *e = (n, da);
        }
    }
    let mut out: Vec<(Dir, Dir)> = best_a
        .iter()
        .filter(|(da, (n, db))| *n >= MIN_SHARED && best_b.get(db).is_some_and(|b| b.1 == **da))
        .map(|(&da, &(_, db))| (da, db))
        .collect();
    // A flow's two directions go together: the other direction of a paired one is paired too,
    // even when none of its packets match exactly (GRO merged them all at one point).
    for pair in out.clone() {
        let (ra, rb) = reverse(pair);
        if !out.iter().any(|&(a, b)| a == ra || b == rb) {
            out.push((ra, rb));
        }
    }
    out.sort();
    out
}

/// The other direction of a direction pair.
fn reverse((da, db): (Dir, Dir)) -> (Dir, Dir) {
    ((da.0, da.1.other()), (db.0, db.1.other()))
}

/// Median of (peer time - this time) over the matches of one direction pair.
fn median_diff(a: &[Record], b: &[Record], m: &[(u32, u32)], this: Dir, peer: Dir) -> Option<i64> {
    let mut d: Vec<i64> = m
        .iter()
        .map(|&(i, j)| (&a[i as usize], &b[j as usize]))
        .filter(|(x, y)| (x.flow, x.side) == this && (y.flow, y.side) == peer)
        .map(|(x, y)| y.ts_ns.saturating_sub(x.ts_ns))
        .collect();
    if d.is_empty() {
        return None;
    }
    d.sort_unstable();
    Some(d[d.len() / 2])
}

/// The clocks' offset from the connections paired both ways (the median of theirs).
fn offset(a: &[Record], b: &[Record], m: &[(u32, u32)], paired: &[(Dir, Dir)]) -> Option<i64> {
    let mut offsets = Vec::new();
    for &(this, peer) in paired {
        if this.1 != Side::A {
            continue;
        }
        let back = ((this.0, Side::B), (peer.0, peer.1.other()));
        if !paired.contains(&back) {
            continue;
        }
        let m1 = median_diff(a, b, m, this, peer)?;
        let m2 = median_diff(a, b, m, back.0, back.1)?;
        offsets.push(m1 / 2 + m2 / 2);
    }
    offsets.sort_unstable();
    offsets.get(offsets.len() / 2).copied()
}

/// One direction pair judged: upstream, delays, and what only one point saw.
fn judge(
    a: &Index,
    b: &Index,
    m: &[(u32, u32)],
    this: Dir,
    peer: Dir,
    offset: Option<i64>,
) -> DirPair {
    let (ra, rb) = (&a.records, &b.records);
    let mine = mine_of(ra, rb, m, this, peer);
    let back = reverse((this, peer));
    let diff = median_diff(ra, rb, m, this, peer);
    let (upstream, upstream_by) = match (diff, offset) {
        (Some(d), Some(o)) if d != o => (if d > o { Point::This } else { Point::Peer }, "clock"),
        (Some(_), _) => by_ttl(ra, rb, &mine),
        // No packet of this direction matched exactly (all merged or cut on the way): the
        // other direction's upstream point is this one's downstream point.
        (None, _) => {
            let theirs = mine_of(ra, rb, m, back.0, back.1);
            let (p, by) = by_ttl(ra, rb, &theirs);
            (other(p), by)
        }
    };
    // Where no offset is known, the median time difference of this direction (or of the other)
    // stands in for it: off by the one-way delay, enough to tell whether the other capture was
    // running.
    let shift = offset
        .or(diff)
        .or_else(|| median_diff(ra, rb, m, back.0, back.1))
        .unwrap_or(0);
    let delay_ns = offset
        .filter(|_| !mine.is_empty())
        .map(|o| delays(ra, rb, &mine, o, upstream));
    let one_way = delay_ns.map_or((0, 0), |d| (d.0.max(0), d.1.max(0)));
    let mut p = DirPair {
        this,
        peer,
        both: mine.len() as u64,
        upstream,
        upstream_by,
        judged: 0,
        lost: Vec::new(),
        before_runs: Vec::new(),
        runs: 0,
        longest_run: 0,
        coalesced: 0,
        segmented: 0,
        changed: 0,
        only_downstream: 0,
        delay_ns,
    };
    super::peer_loss::count(&mut p, a, b, &mine, shift, one_way);
    p
}

/// The matches of one direction pair.
fn mine_of(a: &[Record], b: &[Record], m: &[(u32, u32)], this: Dir, peer: Dir) -> Vec<(u32, u32)> {
    m.iter()
        .copied()
        .filter(|&(i, j)| {
            let (x, y) = (&a[i as usize], &b[j as usize]);
            (x.flow, x.side) == this && (y.flow, y.side) == peer
        })
        .collect()
}

/// The other capture.
pub fn other(p: Point) -> Point {
    match p {
        Point::This => Point::Peer,
        Point::Peer => Point::This,
    }
}

/// Upstream by TTL: the copy further down the path went through more routers.
fn by_ttl(a: &[Record], b: &[Record], mine: &[(u32, u32)]) -> (Point, &'static str) {
    let (mut higher_here, mut higher_there) = (0u64, 0u64);
    for &(i, j) in mine {
        let (x, y) = (a[i as usize].ttl, b[j as usize].ttl);
        higher_here += u64::from(x > y);
        higher_there += u64::from(y > x);
    }
    if higher_here > higher_there {
        (Point::This, "ttl")
    } else if higher_there > higher_here {
        (Point::Peer, "ttl")
    } else {
        (Point::This, "assumed")
    }
}

/// Median and largest one-way delay of the matched packets, the offset taken out.
fn delays(a: &[Record], b: &[Record], mine: &[(u32, u32)], offset: i64, up: Point) -> (i64, i64) {
    let mut d: Vec<i64> = mine
        .iter()
        .map(|&(i, j)| {
            let there = b[j as usize].ts_ns.saturating_sub(offset);
            let here = a[i as usize].ts_ns;
            match up {
                Point::This => there.saturating_sub(here),
                Point::Peer => here.saturating_sub(there),
            }
        })
        .collect();
    d.sort_unstable();
    let median = d.get(d.len() / 2).copied().unwrap_or(0);
    (median, d.last().copied().unwrap_or(0))
}
