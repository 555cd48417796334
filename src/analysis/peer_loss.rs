//! Two captures of one path: in one paired direction, what the upstream point saw and the
//! downstream one did not — lost between them, merged by GRO/LRO, cut by TSO/GSO — and what
//! only the downstream point saw. The rules are in [`super::peer_match`].

use rustc_hash::FxHashSet;

use super::peer::{Index, Record};
use super::peer_match::{DirPair, Point, EDGE_MARGIN_NS};

/// TCP byte ranges of one direction's frames, relative to a base sequence number: which one
/// frame, or which frames together, carry a range.
struct Ranges {
    /// (start, end) by start, with the largest end so far.
    single: Vec<(u64, u64, u64)>,
    /// The union, disjoint, by start.
    union: Vec<(u64, u64)>,
}

impl Ranges {
    fn new(mut r: Vec<(u64, u64)>) -> Self {
        r.sort_unstable();
        let mut single = Vec::with_capacity(r.len());
        let mut max_end = 0;
        for &(s, e) in &r {
            max_end = max_end.max(e);
            single.push((s, e, max_end));
        }
        let mut union: Vec<(u64, u64)> = Vec::new();
        for (s, e) in r {
            match union.last_mut() {
                Some(last) if s <= last.1 => last.1 = last.1.max(e),
                _ => union.push((s, e)),
            }
        }
        Ranges { single, union }
    }

    /// Whether one frame carries all of [s, e).
    fn one_covers(&self, s: u64, e: u64) -> bool {
        let k = self.single.partition_point(|x| x.0 <= s);
        k > 0 && self.single[k - 1].2 >= e
    }

    /// Whether the frames together carry all of [s, e).
    fn all_cover(&self, s: u64, e: u64) -> bool {
        let k = self.union.partition_point(|x| x.0 <= s);
        k > 0 && self.union[k - 1].1 >= e
    }

    /// The largest frame (payload bytes) starting within [s, e): a cut frame's segment size.
    fn largest_within(&self, s: u64, e: u64) -> u32 {
        let k = self.single.partition_point(|x| x.0 < s);
        self.single[k..]
            .iter()
            .take_while(|x| x.0 < e)
            .map(|x| u32::try_from(x.1 - x.0).unwrap_or(u32::MAX))
            .max()
            .unwrap_or(0)
    }

    /// How [s, e) was carried: by one frame (merged into it), by several (cut), or not at all.
    fn cover(&self, s: u64, e: u64) -> Option<Cover> {
        if self.one_covers(s, e) {
            Some(Cover::One)
        } else if self.all_cover(s, e) {
            Some(Cover::Several(self.largest_within(s, e)))
        } else {
            None
        }
    }
}

/// How an upstream segment's bytes arrived when no downstream packet matched it exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cover {
    /// Inside one larger frame: GRO/LRO merged it.
    One,
    /// Across several smaller ones, the largest of this many payload bytes: TSO/GSO cut it.
    Several(u32),
}

/// For each upstream TCP data record sent again later (a retransmission overlapping its first
/// byte), when that next copy was due downstream.
struct Resent {
    next: rustc_hash::FxHashMap<u32, i64>,
}

impl Resent {
    /// `ahead`: what turns an upstream time into its due time downstream.
    fn new(recs: &[Record], ix: &[u32], base: u32, ahead: i64) -> Self {
        let mut next = rustc_hash::FxHashMap::default();
        // Later copies by their first byte, the earliest one kept: walked from the end.
        let mut later: std::collections::BTreeMap<u64, (u64, i64)> = Default::default();
        for &i in ix.iter().rev() {
            let r = &recs[i as usize];
            if !(r.tcp && r.len > 0) {
                continue;
            }
            let s = u64::from(r.seq.wrapping_sub(base));
            let e = s + u64::from(r.len);
            if let Some((_, &(end, due))) = later.range(..e).next_back() {
                if end > s {
                    next.insert(i, due);
                }
            }
            later.insert(s, (e, r.ts_ns.saturating_add(ahead)));
        }
        Resent { next }
    }
}

/// The largest GRO-merged frame a copy's segment is looked for in (BIG TCP's 512 KB).
const MAX_MERGED: u64 = 512 * 1024;
/// The largest TCP payload of one wire packet on a 9000-byte jumbo MTU.
const JUMBO_PAYLOAD: u32 = 9000 - 40;

/// The unmatched downstream TCP data frames by arrival time, for the segments sent more than
/// once: which of their bytes arrived before the next copy was due, or in a frame whose IPv4
/// ID names the copy.
struct Timed {
    /// (time, start, end), by time.
    frames: Vec<(i64, u64, u64)>,
    /// (start, end, IPv4 ID) of the IPv4 ones, by start.
    by_start: Vec<(u64, u64, u16)>,
}

impl Timed {
    fn new(recs: &[Record], ix: &[u32], matched: &FxHashSet<u32>, base: u32) -> Self {
        let unmatched = || {
            ix.iter()
                .filter(|i| !matched.contains(i))
                .map(|&i| &recs[i as usize])
                .filter(|r| r.tcp && r.len > 0)
                .map(|r| {
                    let s = u64::from(r.seq.wrapping_sub(base));
                    (r, s, s + u64::from(r.len))
                })
        };
        let mut frames: Vec<(i64, u64, u64)> =
            unmatched().map(|(r, s, e)| (r.ts_ns, s, e)).collect();
        frames.sort_unstable();
        let mut by_start: Vec<(u64, u64, u16)> = unmatched()
            .filter_map(|(r, s, e)| Some((s, e, r.ip_id?)))
            .collect();
        by_start.sort_unstable();
        Timed { frames, by_start }
    }

    /// Whether a merged frame carried the copy of [s, e) whose IPv4 ID is `id`, the sender's
    /// wire segments being `seg` bytes: GRO keeps the first segment's ID and merges only
    /// segments whose IDs go up by one (net/ipv4/af_inet.c `inet_gro_flush`) and that are full
    /// but for the last, so the copy's segment k segments after the frame's start has the
    /// frame's ID plus k. Another copy of the same bytes has other IDs (the sender's counter
    /// moved on), so this holds even where the copy arrived after the next one was due.
    fn carried_by_id(&self, s: u64, e: u64, id: u16, seg: u32) -> bool {
        let from = self
            .by_start
            .partition_point(|f| f.0 < s.saturating_sub(MAX_MERGED));
        let to = self.by_start.partition_point(|f| f.0 <= s);
        self.by_start[from..to.max(from)]
            .iter()
            .any(|&(fs, fe, fid)| {
                fe >= e && u64::from(id.wrapping_sub(fid)) == (s - fs) / u64::from(seg.max(1))
            })
    }

    /// How [s, e) was carried by the frames that arrived in `when`.
    fn cover(&self, s: u64, e: u64, when: std::ops::Range<i64>) -> Option<Cover> {
        let from = self.frames.partition_point(|f| f.0 < when.start);
        let to = self.frames.partition_point(|f| f.0 < when.end);
        let ranges: Vec<(u64, u64)> = self.frames[from..to.max(from)]
            .iter()
            .filter(|f| f.1 < e && f.2 > s)
            .map(|f| (f.1, f.2))
            .collect();
        Ranges::new(ranges).cover(s, e)
    }
}

/// The data ranges of the unmatched TCP frames among `ix`, relative to `base`.
fn unmatched_ranges(recs: &[Record], ix: &[u32], matched: &FxHashSet<u32>, base: u32) -> Ranges {
    Ranges::new(
        ix.iter()
            .filter(|i| !matched.contains(i))
            .map(|&i| &recs[i as usize])
            .filter(|r| r.tcp && r.len > 0)
            .map(|r| {
                let s = u64::from(r.seq.wrapping_sub(base));
                (s, s + u64::from(r.len))
            })
            .collect(),
    )
}

/// Fills `p`'s counts: `mine` are its matched (this, peer) record pairs, `here` and `there` its
/// records in each capture, `offset` the peer's clock minus this one, `delay` the median and
/// largest one-way delay (0 when unknown).
pub fn count(
    p: &mut DirPair,
    a: &Index,
    b: &Index,
    mine: &[(u32, u32)],
    (here, there): (&[u32], &[u32]),
    offset: i64,
    delay: (i64, i64),
) {
    let one_way = delay.0;
    let (up, down, up_ix, down_ix, shift) = match p.upstream {
        Point::This => (a, b, here, there, offset),
        Point::Peer => (b, a, there, here, offset.saturating_neg()),
    };
    let pick = |m: &(u32, u32)| match p.upstream {
        Point::This => (m.0, m.1),
        Point::Peer => (m.1, m.0),
    };
    let up_matched: FxHashSet<u32> = mine.iter().map(|m| pick(m).0).collect();
    let down_of: rustc_hash::FxHashMap<u32, u32> = mine.iter().map(pick).collect();
    let down_matched: FxHashSet<u32> = down_of.values().copied().collect();
    let Some(&first) = up_ix.first() else { return };
    let base = up.records[first as usize].seq;
    let down_ranges = unmatched_ranges(&down.records, down_ix, &down_matched, base);
    let up_ranges = unmatched_ranges(&up.records, up_ix, &up_matched, base);
    let margin = EDGE_MARGIN_NS.max(delay.1.saturating_mul(2));
    let Some(down_first) = down.first_ns else {
        return;
    };
    let window = down_first.saturating_add(margin)..=down.last_ns.saturating_sub(margin);
    let resent = Resent::new(&up.records, up_ix, base, shift.saturating_add(one_way));
    // The sender's wire segment size: its largest data packet that fits a jumbo frame (TSO
    // super-packets get an ID per wire segment, which the ID rule cannot follow).
    let seg = up_ix
        .iter()
        .map(|&i| &up.records[i as usize])
        .filter(|r| r.tcp && r.len <= JUMBO_PAYLOAD)
        .map(|r| r.len)
        .max()
        .unwrap_or(0);
    let timed = Timed::new(&down.records, down_ix, &down_matched, base);
    let mut partners = Partners::new(&down.records, down_ix, &down_matched);
    let (mut run, mut last_down) = (0u64, None);
    let mut recent = Recent::default();
    for &i in up_ix {
        let r = &up.records[i as usize];
        let due = r.ts_ns.saturating_add(shift).saturating_add(one_way);
        let judged = window.contains(&due);
        p.judged += u64::from(judged);
        if let Some(&j) = down_of.get(&i) {
            run = 0;
            let d = &down.records[j as usize];
            last_down = Some(d.frame);
            recent.push(d.ts_ns.saturating_sub(shift).saturating_sub(r.ts_ns));
            continue;
        }
        if !judged {
            run = 0;
            continue;
        }
        if r.tcp && r.len > 0 {
            let s = u64::from(r.seq.wrapping_sub(base));
            let e = s + u64::from(r.len);
            // Bytes sent again later are delivered by this copy only if they arrived before
            // the next copy was due: else the resend is what arrived (merged by GRO with its
            // neighbours, it would otherwise hide the loss of this copy).
            let next = resent.next.get(&i).copied();
            let cover = match next {
                None => down_ranges.cover(s, e),
                Some(_) if r.ip_id.is_some_and(|id| timed.carried_by_id(s, e, id, seg)) => {
                    Some(Cover::One)
                }
                Some(n) => timed.cover(s, e, due.saturating_sub(margin)..n),
            };
            match cover {
                Some(Cover::One) => {
                    p.coalesced += 1;
                    continue;
                }
                Some(Cover::Several(size)) => {
                    p.segmented += 1;
                    p.segment_size = p.segment_size.max(size);
                    continue;
                }
                None => {}
            }
        }
        if partners.take(r.len, due, margin) {
            p.changed += 1;
            continue;
        }
        p.lost.push((r.frame, r.ts_ns));
        if run == 0 {
            p.runs += 1;
            p.before_runs.extend(last_down);
            recent.run_starts();
        }
        run += 1;
        p.longest_run = p.longest_run.max(run);
    }
    let unexplained = only_downstream(down, down_ix, &down_matched, &up_ranges, base, up, shift);
    p.only_downstream = unexplained.saturating_sub(p.changed);
    if p.delay_ns.is_some() {
        p.delay_before_loss_ns = median(&mut recent.before_runs);
    }
}

/// The one-way delays of the last few matched packets, and their median when each run of
/// losses began.
#[derive(Default)]
struct Recent {
    last: [i64; RECENT],
    n: usize,
    before_runs: Vec<i64>,
}

/// Matched packets whose delay is taken as "just before a loss": a few, so that one delayed
/// packet does not make a queue, and few enough to be the queue just before the drop.
const RECENT: usize = 8;

impl Recent {
    fn push(&mut self, delay: i64) {
        self.last[self.n % RECENT] = delay;
        self.n += 1;
    }

    fn run_starts(&mut self) {
        let mut v: Vec<i64> = self.last[..self.n.min(RECENT)].to_vec();
        if let Some(m) = median(&mut v) {
            self.before_runs.push(m);
        }
    }
}

fn median(v: &mut [i64]) -> Option<i64> {
    v.sort_unstable();
    v.get(v.len() / 2).copied()
}

/// The unmatched downstream packets, by time, each the partner of at most one upstream packet.
struct Partners {
    /// (time, length), by time.
    free: Vec<(i64, u32)>,
    used: Vec<bool>,
}

impl Partners {
    fn new(recs: &[Record], ix: &[u32], matched: &FxHashSet<u32>) -> Self {
        let mut free: Vec<(i64, u32)> = ix
            .iter()
            .filter(|i| !matched.contains(i))
            .map(|&i| (recs[i as usize].ts_ns, recs[i as usize].len))
            .collect();
        free.sort_unstable();
        let used = vec![false; free.len()];
        Partners { free, used }
    }

    /// Takes an unused packet of length `len` within `tolerance` of `due`, if there is one.
    fn take(&mut self, len: u32, due: i64, tolerance: i64) -> bool {
        let from = self
            .free
            .partition_point(|f| f.0 < due.saturating_sub(tolerance));
        let to = self
            .free
            .partition_point(|f| f.0 <= due.saturating_add(tolerance));
        for k in from..to {
            if !self.used[k] && self.free[k].1 == len {
                self.used[k] = true;
                return true;
            }
        }
        false
    }
}

/// Downstream packets no upstream packet accounts for, in the time the upstream capture ran.
fn only_downstream(
    down: &Index,
    ix: &[u32],
    matched: &FxHashSet<u32>,
    up_ranges: &Ranges,
    base: u32,
    up: &Index,
    shift: i64,
) -> u64 {
    let Some(up_first) = up.first_ns else {
        return 0;
    };
    let span = up_first.saturating_add(shift)..=up.last_ns.saturating_add(shift);
    ix.iter()
        .filter(|i| !matched.contains(i))
        .map(|&i| &down.records[i as usize])
        .filter(|r| span.contains(&r.ts_ns))
        .filter(|r| {
            let s = u64::from(r.seq.wrapping_sub(base));
            !(r.tcp && r.len > 0 && up_ranges.all_cover(s, s + u64::from(r.len)))
        })
        .count() as u64
}
