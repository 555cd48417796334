//! `high-inflight` never reports more bytes in flight at once than the connections' own peaks
//! add up to: random conversations over several connections, with handshakes or without (a
//! capture started mid-stream), retransmissions, RSTs and bogus far-off ACKs (challenge ACKs,
//! damaged numbers), held against the engine's per-direction peaks.

use offload_doctor::analysis::Settings;
use offload_doctor::decode::DecodeConfig;
use offload_doctor::pipeline::{analyze_bytes, Analysis};
use proptest::prelude::*;

const SYN: u8 = 0x02;
const RST: u8 = 0x04;
const ACK: u8 = 0x10;

/// One frame of a conversation: who sends on which connection, and what.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// New data, `len` bytes, from the current end.
    Data(u16),
    /// Data again, from `back` bytes before the current end.
    Resend(u16),
    /// A cumulative ACK of part of what the other side sent (the share in 1/256).
    Ack(u8),
    /// An ACK anywhere in sequence space (another incarnation, damage).
    Bogus(u32),
    /// A SYN (with the ISN, as a retransmitted SYN or one after RST would be).
    Syn,
    Rst,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (1u16..1448).prop_map(Step::Data),
        1 => any::<u16>().prop_map(Step::Resend),
        4 => any::<u8>().prop_map(Step::Ack),
        2 => any::<u32>().prop_map(Step::Bogus),
        1 => Just(Step::Syn),
        1 => Just(Step::Rst),
    ]
}

/// What one side of a connection has sent and acknowledged so far.
#[derive(Clone, Copy)]
struct End {
    isn: u32,
    next: u32,
    acked: u32,
}

/// Raw IPv4 + TCP (20-byte headers), the payload zeros.
fn packet(conn: u8, from_client: bool, seq: u32, ack: u32, flags: u8, len: u16) -> Vec<u8> {
    let (c, s) = ([10, 30, conn, 1], [10, 30, conn, 2]);
    let (src, dst) = if from_client { (c, s) } else { (s, c) };
    let (sport, dport) = if from_client {
        (40000, 80)
    } else {
        (80u16, 40000u16)
    };
    crate::common::ipv4_tcp(((src, sport), (dst, dport)), seq, ack, flags, len)
}

/// A classic pcap (raw IP link type) of the packets, 100 µs apart.
fn pcap(packets: &[Vec<u8>]) -> Vec<u8> {
    crate::common::raw_ip_pcap(packets, 100)
}

/// The frames of a script: each step on a connection (`conn % conns`), from either side;
/// connections open with a handshake when `handshake[conn]`.
fn frames(isns: &[(u32, u32)], handshake: &[bool], script: &[(u8, bool, Step)]) -> Vec<Vec<u8>> {
    let mut ends: Vec<[End; 2]> = isns
        .iter()
        .map(|&(c, s)| {
            let end = |isn: u32| End {
                isn,
                next: isn.wrapping_add(1),
                acked: isn.wrapping_add(1),
            };
            [end(c), end(s)]
        })
        .collect();
    let mut out = Vec::new();
    for (i, &open) in handshake.iter().enumerate() {
        if open {
            let [c, s] = ends[i];
            out.push(packet(i as u8, true, c.isn, 0, SYN, 0));
            out.push(packet(i as u8, false, s.isn, c.next, SYN | ACK, 0));
            out.push(packet(i as u8, true, c.next, s.next, ACK, 0));
        }
    }
    for &(conn, from_client, st) in script {
        let i = conn as usize % ends.len();
        let (me, other) = if from_client { (0, 1) } else { (1, 0) };
        let [m, o] = [ends[i][me], ends[i][other]];
        let n = i as u8;
        let p = match st {
            Step::Data(len) => {
                ends[i][me].next = m.next.wrapping_add(u32::from(len));
                packet(n, from_client, m.next, o.acked, ACK, len)
            }
            Step::Resend(back) => {
                let seq = m
                    .next
                    .wrapping_sub(u32::from(back))
                    .max(m.isn.wrapping_add(1));
                packet(n, from_client, seq, o.acked, ACK, back.clamp(1, 1448))
            }
            Step::Ack(share) => {
                let sent = o.next.wrapping_sub(o.acked);
                let ack = o.acked.wrapping_add(sent / 256 * u32::from(share));
                ends[i][other].acked = ack;
                packet(n, from_client, m.next, ack, ACK, 0)
            }
            Step::Bogus(ack) => packet(n, from_client, m.next, ack, ACK, 0),
            Step::Syn => packet(n, from_client, m.isn, 0, SYN, 0),
            Step::Rst => packet(n, from_client, m.next, 0, RST, 0),
        };
        out.push(p);
    }
    out
}

fn analyse(packets: &[Vec<u8>]) -> Analysis {
    let settings = Settings {
        // Every peak above zero is reported, so every run checks the invariant.
        inflight_budget: 0,
        ..Settings::default()
    };
    analyze_bytes(pcap(packets), &DecodeConfig::default(), &settings).expect("a valid capture")
}

/// The reported concurrent peak, and the sum over connections of their directions' peaks.
fn peak_and_bound(a: &Analysis) -> (u64, u64) {
    let peak = a
        .report
        .findings
        .iter()
        .find(|f| f.id == "high-inflight")
        .and_then(|f| f.details["peak_concurrent_bytes"].as_u64())
        .unwrap_or(0);
    let bound = a
        .flows
        .flows
        .iter()
        .filter_map(|f| f.tcp.as_ref())
        .flat_map(|c| c.dirs().iter().map(|d| u64::from(d.inflight_peak)))
        .sum();
    (peak, bound)
}

#[test]
fn a_bogus_ack_on_one_connection_cannot_raise_the_sum() {
    // Two captures that start mid-stream. Connection 1: an ACK, then 1000 bytes in flight.
    // Connection 0: 3000 bytes sent, then a first ACK 445 MB behind them (another incarnation,
    // damage): taken as the cumulative ACK, it put 445 MB "in flight" that no segment sent.
    let isns = [(1000, 5000), (70_000, 90_000)];
    let script = [
        (1, true, Step::Ack(0)),
        (1, false, Step::Data(1000)),
        (0, false, Step::Data(1000)),
        (0, false, Step::Data(1000)),
        (0, false, Step::Data(1000)),
        (0, true, Step::Bogus(5001u32.wrapping_sub(445_000_000))),
        (0, true, Step::Bogus(5001 + 900_000_000)),
    ];
    let a = analyse(&frames(&isns, &[false, false], &script));
    let (peak, bound) = peak_and_bound(&a);
    assert_eq!(
        (peak, bound),
        (1000, 1000),
        "in flight at once, sum of the peaks"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn the_concurrent_peak_never_exceeds_the_sum_of_the_connections_peaks(
        isns in prop::collection::vec((any::<u32>(), any::<u32>()), 1..5),
        handshake in prop::collection::vec(any::<bool>(), 4),
        script in prop::collection::vec((0u8..4, any::<bool>(), step()), 1..80),
    ) {
        let handshake = &handshake[..isns.len()];
        let a = analyse(&frames(&isns, handshake, &script));
        let (peak, bound) = peak_and_bound(&a);
        prop_assert!(peak <= bound, "{} in flight at once, {} the sum of the peaks", peak, bound);
    }
}
