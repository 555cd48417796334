//! The two-point graphs' data (`plot --peer`): each paired direction's sends, arrivals, losses
//! and one-way delays, gathered from the comparison of the two captures for the plot stage.

use std::collections::BTreeSet;

use crate::analysis::peer::{Index, Record};
use crate::analysis::peer_match::{other, DirPair, PeerData, Point as At};
use crate::flow::{Flow, Side};
use crate::plot::peer::DirPoints;

/// The points of every paired direction of the flows `flows`.
pub fn points(data: &PeerData, flows: &[&Flow], this_name: &str) -> Vec<DirPoints> {
    let mut out = Vec::new();
    for f in flows {
        let index = f.id.saturating_sub(1);
        for p in data.cmp.pairs.iter().filter(|p| p.this.0 == index) {
            out.push(direction(data, p, f, this_name));
        }
    }
    out
}

/// The records of `ix`'s direction `dir`, by index.
fn of_direction(ix: &Index, dir: (u32, Side)) -> Vec<u32> {
    (0..ix.records.len() as u32)
        .filter(|&i| {
            let r = &ix.records[i as usize];
            (r.flow, r.side) == dir
        })
        .collect()
}

fn direction(data: &PeerData, p: &DirPair, f: &Flow, this_name: &str) -> DirPoints {
    let (here, peer) = (&data.here, &*data.peer);
    let (up, down, up_dir, down_dir) = match p.upstream {
        At::This => (here, peer, p.this, p.peer),
        At::Peer => (peer, here, p.peer, p.this),
    };
    // Both points' times in this capture's clock: the peer's moved by the offset.
    let (up_shift, down_shift) = match p.upstream {
        At::This => (0, p.shift_ns),
        At::Peer => (p.shift_ns, 0),
    };
    let at = |r: &Record, shift: i64| r.ts_ns.saturating_sub(shift);
    let up_ix = of_direction(up, up_dir);
    let tcp = up_ix.first().is_some_and(|&i| up.records[i as usize].tcp);
    let base = f.base_seq[p.this.1]
        .or_else(|| up_ix.first().map(|&i| up.records[i as usize].seq))
        .unwrap_or(0);
    let y = |r: &Record, frame: u64| -> (f64, f64) {
        if tcp {
            let s = f64::from(r.seq.wrapping_sub(base));
            (s, s + f64::from(r.len))
        } else {
            (frame as f64, frame as f64)
        }
    };
    // Matched pairs as (upstream, downstream) record indexes.
    let pairs: Vec<(u32, u32)> = p
        .matched
        .iter()
        .map(|&(i, j)| match p.upstream {
            At::This => (i, j),
            At::Peer => (j, i),
        })
        .collect();
    let lost: BTreeSet<u64> = p.lost.iter().map(|l| l.0).collect();
    let mut d = DirPoints {
        flow: f.id,
        side: p.this.1,
        tcp,
        upstream: name(p.upstream, this_name, peer),
        downstream: name(other(p.upstream), this_name, peer),
        sent: Vec::new(),
        arrived: Vec::new(),
        lost: Vec::new(),
        delays: Vec::new(),
    };
    for &i in &up_ix {
        let r = &up.records[i as usize];
        // Pure ACKs carry no sequence space: a data direction's graph shows data.
        if tcp && r.len == 0 {
            continue;
        }
        let (lo, hi) = y(r, r.frame);
        d.sent.push((at(r, up_shift), lo, hi));
        if lost.contains(&r.frame) {
            d.lost.push((at(r, up_shift), lo, hi));
        }
    }
    for &(i, j) in &pairs {
        let (u, w) = (&up.records[i as usize], &down.records[j as usize]);
        if tcp && u.len == 0 {
            continue;
        }
        let (lo, hi) = y(u, u.frame);
        d.arrived.push((at(w, down_shift), lo, hi));
        if data.cmp.offset_ns.is_some() {
            let delay = at(w, down_shift).saturating_sub(at(u, up_shift));
            d.delays.push((at(u, up_shift), delay as f64 / 1e9));
        }
    }
    if tcp {
        // Arrivals the path merged or cut match nothing exactly: drawn as they arrived.
        let matched: BTreeSet<u32> = pairs.iter().map(|m| m.1).collect();
        for j in of_direction(down, down_dir) {
            let w = &down.records[j as usize];
            if w.len > 0 && !matched.contains(&j) {
                let (lo, hi) = y(w, w.frame);
                d.arrived.push((at(w, down_shift), lo, hi));
            }
        }
    }
    // In time order, whatever order the matching found them in.
    d.arrived
        .sort_unstable_by(|x, y| x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)));
    d.delays
        .sort_unstable_by(|x, y| x.0.cmp(&y.0).then(x.1.total_cmp(&y.1)));
    d
}

fn name(p: At, this_name: &str, peer: &Index) -> String {
    match p {
        At::This => this_name.to_string(),
        At::Peer => peer.name.clone(),
    }
}
