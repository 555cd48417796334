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

use rustc_hash::{FxHashMap, FxHashSet};

use super::peer::{Index, Record};
use super::peer_chain::Chain;
use super::peer_changes::Changes;
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
    /// The largest piece a cut frame arrived in (payload bytes): the TSO/GSO segment size.
    pub segment_size: u32,
    /// Upstream-only packets with a downstream-only packet of their length where they were due:
    /// changed on the way (a rewritten IP ID, a re-marked header), not lost.
    pub changed: u64,
    /// Downstream-only packets (sent by something between, or dropped by the upstream capture).
    pub only_downstream: u64,
    /// One-way delay of the matched packets, when the offset is known (median, max).
    pub delay_ns: Option<(i64, i64)>,
    /// With the offset known: the median, over the runs of losses, of the one-way delay of the
    /// matched packets just before each run (a queue that filled before it dropped).
    pub delay_before_loss_ns: Option<i64>,
    /// How the path changed the packets it delivered.
    pub changes: Changes,
    /// The matched (this, peer) record indexes, in this capture's order (graphs).
    pub matched: Vec<(u32, u32)>,
    /// Peer clock minus this clock as this direction was judged: the offset, or without one
    /// the median time difference of its (or its other direction's) matched packets.
    pub shift_ns: i64,
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

/// Both captures' packets and their comparison, kept after the pass (graphs).
pub struct PeerData {
    pub here: Index,
    pub peer: std::sync::Arc<Index>,
    pub cmp: Comparison,
    /// Per paired direction (as `cmp.pairs`), its count at each hop with the endpoints' qlogs.
    pub chains: Vec<Chain>,
}

impl PeerData {
    /// Compares `here` (this capture's packets; `flows` its flow table, `end` its last
    /// timestamp) with `peer`, and accounts each direction hop by hop with the qlogs `traces`.
    pub fn new(
        here: Index,
        peer: std::sync::Arc<Index>,
        flows: &crate::flow::FlowTable,
        traces: &[crate::qlog::QlogTrace],
        end: i64,
    ) -> Self {
        let cmp = compare(&here, &peer);
        let chains = super::peer_chain::chains(&cmp, &peer, flows, traces, end);
        PeerData {
            here,
            peer,
            cmp,
            chains,
        }
    }

    pub fn view(&self) -> PeerView<'_> {
        PeerView {
            here: &self.here,
            peer: &self.peer,
            cmp: &self.cmp,
            chains: &self.chains,
        }
    }
}

/// The comparison as the detectors and the report see it: both captures' packets and what
/// comparing them found.
#[derive(Clone, Copy)]
pub struct PeerView<'a> {
    pub here: &'a Index,
    pub peer: &'a Index,
    pub cmp: &'a Comparison,
    pub chains: &'a [Chain],
}

/// Compares the packets of this capture (`a`) with the peer's (`b`).
pub fn compare(a: &Index, b: &Index) -> Comparison {
    let matches = exact_matches(&a.records, &b.records);
    let g = Groups::new(a, b, &matches);
    let paired = pair_directions(&g);
    let offset = offset(a, b, &g, &paired);
    let mut pairs: Vec<DirPair> = paired
        .iter()
        .map(|&(this, peer)| judge(a, b, &g, this, peer, offset))
        .collect();
    pairs.sort_by_key(|p| (p.this.0, p.this.1));
    Comparison {
        pairs,
        offset_ns: offset,
        matched: matches.len() as u64,
    }
}

type Dir = (u32, Side);

/// The matches by direction pair and each capture's records by direction, gathered once (a
/// capture of many flows must not be scanned once per flow).
struct Groups {
    matches: FxHashMap<(Dir, Dir), Vec<(u32, u32)>>,
    here: FxHashMap<Dir, Vec<u32>>,
    there: FxHashMap<Dir, Vec<u32>>,
}

impl Groups {
    fn new(a: &Index, b: &Index, m: &[(u32, u32)]) -> Self {
        let mut matches: FxHashMap<(Dir, Dir), Vec<(u32, u32)>> = FxHashMap::default();
        for &(i, j) in m {
            let (x, y) = (&a.records[i as usize], &b.records[j as usize]);
            matches
                .entry(((x.flow, x.side), (y.flow, y.side)))
                .or_default()
                .push((i, j));
        }
        Groups {
            matches,
            here: by_direction(&a.records),
            there: by_direction(&b.records),
        }
    }

    /// The matches of one direction pair, in capture order of this capture.
    fn of(&self, pair: (Dir, Dir)) -> &[(u32, u32)] {
        self.matches.get(&pair).map_or(&[], Vec::as_slice)
    }
}

/// Record indexes by direction, in capture order.
fn by_direction(recs: &[Record]) -> FxHashMap<Dir, Vec<u32>> {
    let mut out: FxHashMap<Dir, Vec<u32>> = FxHashMap::default();
    for (i, r) in recs.iter().enumerate() {
        out.entry((r.flow, r.side)).or_default().push(i as u32);
    }
    out
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

/// Directions paired both ways by the packets they share: each one's best is the other.
fn pair_directions(g: &Groups) -> Vec<(Dir, Dir)> {
    let mut best_a: FxHashMap<Dir, (usize, Dir)> = FxHashMap::default();
    let mut best_b: FxHashMap<Dir, (usize, Dir)> = FxHashMap::default();
    for (&(da, db), m) in &g.matches {
        let n = m.len();
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
        .filter(|(da, (n, db))| {
            *n >= MIN_SHARED as usize && best_b.get(db).is_some_and(|b| b.1 == **da)
        })
        .map(|(&da, &(_, db))| (da, db))
        .collect();
    out.sort();
    // A flow's two directions go together: the other direction of a paired one is paired too,
    // even when none of its packets match exactly (GRO merged them all at one point).
    let mut used_a: FxHashSet<Dir> = out.iter().map(|p| p.0).collect();
    let mut used_b: FxHashSet<Dir> = out.iter().map(|p| p.1).collect();
    for k in 0..out.len() {
        let (ra, rb) = reverse(out[k]);
        if !used_a.contains(&ra) && !used_b.contains(&rb) {
            used_a.insert(ra);
            used_b.insert(rb);
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

/// Median of (peer time - this time) over the matches `m` of one direction pair.
fn median_diff(a: &[Record], b: &[Record], m: &[(u32, u32)]) -> Option<i64> {
    let mut d: Vec<i64> = m
        .iter()
        .map(|&(i, j)| b[j as usize].ts_ns.saturating_sub(a[i as usize].ts_ns))
        .collect();
    if d.is_empty() {
        return None;
    }
    d.sort_unstable();
    Some(d[d.len() / 2])
}

/// The clocks' offset from the connections paired both ways (the median of theirs).
fn offset(a: &Index, b: &Index, g: &Groups, paired: &[(Dir, Dir)]) -> Option<i64> {
    let (ra, rb) = (&a.records, &b.records);
    let mut offsets = Vec::new();
    for &pair in paired {
        let back = reverse(pair);
        if pair.0 .1 != Side::A || !paired.contains(&back) {
            continue;
        }
        // A connection one of whose directions matched nothing (all of it merged or cut on the
        // way) gives no offset; the others still do.
        let (Some(m1), Some(m2)) = (
            median_diff(ra, rb, g.of(pair)),
            median_diff(ra, rb, g.of(back)),
        ) else {
            continue;
        };
        offsets.push(m1 / 2 + m2 / 2);
    }
    offsets.sort_unstable();
    offsets.get(offsets.len() / 2).copied()
}

/// One direction pair judged: upstream, delays, and what only one point saw.
fn judge(a: &Index, b: &Index, g: &Groups, this: Dir, peer: Dir, offset: Option<i64>) -> DirPair {
    let (ra, rb) = (&a.records, &b.records);
    let back = reverse((this, peer));
    let mine = g.of((this, peer));
    let diff = median_diff(ra, rb, mine);
    let back_diff = median_diff(ra, rb, g.of(back));
    let by_clock = |d: i64, o: i64| if d > o { Point::This } else { Point::Peer };
    // No packet of this direction matched exactly (all merged or cut on the way): the other
    // direction's upstream point is this one's downstream point.
    let (upstream, upstream_by) = match (diff, back_diff, offset) {
        (Some(d), _, Some(o)) if d != o => (by_clock(d, o), "clock"),
        (None, Some(d), Some(o)) if d != o => (other(by_clock(d, o)), "clock"),
        (Some(_), _, _) => by_ttl(ra, rb, mine),
        (None, _, _) => {
            let (p, by) = by_ttl(ra, rb, g.of(back));
            (other(p), by)
        }
    };
    // Where no offset is known, the median time difference of this direction (or of the other)
    // stands in for it: off by the one-way delay, enough to tell whether the other capture was
    // running.
    let shift = offset.or(diff).or(back_diff).unwrap_or(0);
    let delay_ns = offset
        .filter(|_| !mine.is_empty())
        .map(|o| delays(ra, rb, mine, o, upstream));
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
        segment_size: 0,
        changed: 0,
        only_downstream: 0,
        delay_ns,
        delay_before_loss_ns: None,
        changes: super::peer_changes::changes(a, b, mine, (this, peer), upstream),
        matched: mine.to_vec(),
        shift_ns: shift,
    };
    let none = Vec::new();
    let here = g.here.get(&this).unwrap_or(&none);
    let there = g.there.get(&peer).unwrap_or(&none);
    super::peer_loss::count(&mut p, a, b, mine, (here, there), shift, one_way);
    p
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
