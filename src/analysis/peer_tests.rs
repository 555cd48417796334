//! Unit tests of the two-capture comparison ([`super::peer_match`], [`super::peer_loss`]) on
//! hand-made records: pairing, the offset, upstream, and what counts as lost.

use super::peer::{Index, Record};
use super::peer_match::{compare, Point};
use crate::flow::Side;

const MS: i64 = 1_000_000;

/// A TCP record: flow index, sender, time (ms), sequence number, payload length; its identity
/// is made of them the way `peer::record` makes it of the header fields.
fn tcp(flow: u32, side: Side, t_ms: i64, seq: u32, len: u32) -> Record {
    Record {
        sig: u64::from(seq) << 20 ^ u64::from(len) << 4 ^ (side as u64),
        ts_ns: t_ms * MS,
        frame: 0,
        flow,
        side,
        seq,
        len,
        ttl: 64,
        tos: 0,
        tcp: true,
        fragment: false,
        ip_id: None,
    }
}

/// An index of `recs`, frames numbered in order, running from `first` to `last` ms.
fn index(mut recs: Vec<Record>, first: i64, last: i64) -> Index {
    for (n, r) in recs.iter_mut().enumerate() {
        r.frame = n as u64 + 1;
    }
    Index {
        name: "peer".into(),
        records: recs,
        first_ns: Some(first * MS),
        last_ns: last * MS,
        ..Index::default()
    }
}

/// Flow 0: `n` 1000-byte segments from side A 10 ms apart from `t0` ms, seen `delay` ms late,
/// and an ACK from side B 5 ms after each; `clock` is added to every time (another clock).
fn transfer(n: u32, t0: i64, delay: i64, clock: i64) -> Vec<Record> {
    let mut v = Vec::new();
    for k in 0..n {
        let t = t0 + i64::from(k) * 10;
        v.push(tcp(0, Side::A, t + delay + clock, 1000 * k, 1000));
        v.push(tcp(0, Side::B, t + 5 + clock, 7 + k, 0));
    }
    v.sort_by_key(|r| r.ts_ns);
    v
}

#[test]
fn one_way_loss_is_found_with_the_offset_and_upstream() {
    // This capture at the sender: data at t, ACKs at t+5+2 (they cross the path back).
    let mut here = Vec::new();
    let mut there = Vec::new();
    for k in 0..100u32 {
        let t = i64::from(k) * 10;
        here.push(tcp(0, Side::A, 100 + t, 1000 * k, 1000));
        here.push(tcp(0, Side::B, 100 + t + 7, 7 + k, 0));
        // The peer's clock is 500 ms ahead; one-way delay 2 ms; 4 segments lost.
        if ![40, 41, 42, 70].contains(&k) {
            there.push(tcp(0, Side::A, 600 + t + 2, 1000 * k, 1000));
        }
        there.push(tcp(0, Side::B, 600 + t + 5, 7 + k, 0));
    }
    let a = index(here, 0, 1200);
    let b = index(there, 500, 1700);
    let cmp = compare(&a, &b);
    assert_eq!(cmp.pairs.len(), 2, "{cmp:?}");
    assert_eq!(cmp.offset_ns, Some(500 * MS));
    let data = &cmp.pairs[0];
    assert_eq!((data.this.1, data.upstream), (Side::A, Point::This));
    assert_eq!(data.lost.len(), 4);
    assert_eq!((data.runs, data.longest_run), (2, 3));
    assert_eq!(data.delay_ns, Some((2 * MS, 2 * MS)));
    let acks = &cmp.pairs[1];
    assert_eq!((acks.upstream, acks.lost.len()), (Point::Peer, 0));
    // Seen from the other capture: the same losses, the offset negated.
    let back = compare(&b, &a);
    assert_eq!(back.offset_ns, Some(-500 * MS));
    assert_eq!(back.pairs[0].lost.len(), 4);
    assert_eq!(back.pairs[0].upstream, Point::Peer);
}

#[test]
fn a_connection_with_one_unmatched_direction_leaves_the_offset_to_the_others() {
    // Flow 0 matched both ways; flow 1's data all arrived merged (no exact match), its ACKs
    // matched. The offset must still come from flow 0.
    let mut here = transfer(20, 100, 0, 0);
    let mut there = transfer(20, 100, 2, 300);
    for k in 0..20u32 {
        let t = 100 + i64::from(k) * 10;
        here.push(tcp(1, Side::A, t, 50_000 + 1000 * k, 1000));
        here.push(tcp(1, Side::B, t + 4, 900 + k, 0));
        there.push(tcp(1, Side::B, t + 300 + 3, 900 + k, 0));
        if k % 2 == 0 {
            // Two segments in one frame: GRO.
            there.push(tcp(1, Side::A, t + 300 + 2, 50_000 + 1000 * k, 2000));
        }
    }
    here.sort_by_key(|r| r.ts_ns);
    there.sort_by_key(|r| r.ts_ns);
    let cmp = compare(&index(here, 0, 500), &index(there, 250, 800));
    assert!(cmp.offset_ns.is_some(), "{cmp:?}");
    let merged = cmp
        .pairs
        .iter()
        .find(|p| p.this == (1, Side::A))
        .expect("flow 1's data direction paired through its ACKs");
    assert_eq!(merged.lost.len(), 0);
    assert!(merged.coalesced >= 15, "{merged:?}");
}

#[test]
fn unrelated_captures_pair_nothing() {
    let a = index(transfer(50, 0, 0, 0), 0, 600);
    let mut other = transfer(50, 0, 0, 0);
    for r in &mut other {
        r.sig = r.sig.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 1;
    }
    let b = index(other, 0, 600);
    let cmp = compare(&a, &b);
    assert!(cmp.pairs.is_empty());
    assert_eq!(cmp.matched, 0);
}

#[test]
fn a_cut_frame_is_segmented_and_a_loss_outside_the_peer_capture_is_not_judged() {
    // Upstream: 4 TSO frames of 4000 bytes; downstream: each cut in 4 wire segments, save the
    // last frame's, which falls after the downstream capture stopped.
    let mut here = Vec::new();
    let mut there = Vec::new();
    for k in 0..4u32 {
        let t = 100 + i64::from(k) * 100;
        here.push(tcp(0, Side::A, t, 4000 * k, 4000));
        // The ACKs crossed a router on their way to this capture: it is downstream of them.
        here.push(Record {
            ttl: 63,
            ..tcp(0, Side::B, t + 20, 11 + k, 0)
        });
        there.push(tcp(0, Side::B, t + 20, 11 + k, 0));
        if k < 3 {
            for s in 0..4 {
                there.push(tcp(0, Side::A, t + 1, 4000 * k + 1000 * s, 1000));
            }
        }
    }
    there.sort_by_key(|r| r.ts_ns);
    let cmp = compare(&index(here, 0, 500), &index(there, 0, 360));
    let data = cmp
        .pairs
        .iter()
        .find(|p| p.this == (0, Side::A))
        .expect("paired through the ACKs");
    assert_eq!((data.segmented, data.lost.len()), (3, 0), "{data:?}");
    assert_eq!(data.segment_size, 1000);
    assert_eq!((data.upstream, data.upstream_by), (Point::This, "ttl"));
}

/// Data sent twice (a spurious resend 5 ms after the first copy) and merged by GRO downstream:
/// the copy whose merged frame arrived is told by its IPv4 ID, whatever the timing. 9 segments
/// of 1000 bytes and one of 400, IDs 100-109, then again as IDs 200-209; downstream, one merged
/// frame per copy that arrived, carrying its first segment's ID.
fn resent(first_copy_arrives: Option<i64>) -> (Vec<Record>, Vec<Record>) {
    // 20 segments and their ACKs first, matched: they pair the flows and give the delay.
    let (mut up, mut down) = (transfer(20, 0, 0, 0), transfer(20, 0, 1, 0));
    for copy in 0..2u16 {
        for k in 0..10u32 {
            // The last segment is short: its place is still its offset over the full ones'.
            let len = if k == 9 { 400 } else { 1000 };
            let t = 300 + 5 * i64::from(copy);
            up.push(Record {
                ip_id: Some(100 + 100 * copy + k as u16),
                ..tcp(0, Side::A, t, 20_000 + 1000 * k, len)
            });
        }
    }
    let merged = |t: i64, id: u16| Record {
        ip_id: Some(id),
        ..tcp(0, Side::A, t, 20_000, 9_400)
    };
    if let Some(t) = first_copy_arrives {
        down.push(merged(t, 100));
    }
    down.push(merged(307, 200));
    up.sort_by_key(|r| r.ts_ns);
    down.sort_by_key(|r| r.ts_ns);
    (up, down)
}

#[test]
fn a_merged_copy_is_told_by_its_ip_id() {
    let lost = |first: Option<i64>| {
        let (up, down) = resent(first);
        let cmp = compare(&index(up, 0, 500), &index(down, 0, 500));
        let data = cmp
            .pairs
            .iter()
            .find(|p| p.this == (0, Side::A))
            .expect("paired");
        data.lost.len()
    };
    // The first copy arrived 1 ms after it was sent: delivered.
    assert_eq!(lost(Some(301)), 0);
    // It arrived 6 ms after (after the resend was due downstream): its ID says it was still
    // the first copy, queued; nothing was lost.
    assert_eq!(lost(Some(306)), 0);
    // It never arrived: the resend's merged frame carries the bytes, not the first copy.
    assert_eq!(lost(None), 10);
}
