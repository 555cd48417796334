//! Memory bounded by design: a SYN-only flow allocates no measurements, the measurements of a
//! connection whose state was created late equal those of one created at its SYN, and a tiny
//! `--max-memory` evicts flows that the report then accounts for (`flows-evicted`).

use offload_doctor::analysis::Settings;
use offload_doctor::decode::DecodeConfig;
use offload_doctor::flow::FullTrace;
use offload_doctor::pipeline::{analyze_bytes, Analysis};
use offload_doctor::tcp::events::Events;

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const FIN: u8 = 0x01;
const PSH: u8 = 0x08;

/// Raw IPv4 + TCP (20-byte headers, zero payload) of connection `conn` (its own 5-tuple).
fn packet(conn: u16, from_client: bool, seq: u32, ack: u32, flags: u8, len: u16) -> Vec<u8> {
    let [hi, lo] = conn.to_be_bytes();
    let (c, s) = ([10, 40, hi, lo], [10, 41, 0, 1]);
    let (src, dst, sport, dport) = if from_client {
        (c, s, 40000u16, 443u16)
    } else {
        (s, c, 443, 40000)
    };
    crate::common::ipv4_tcp(((src, sport), (dst, dport)), seq, ack, flags, len)
}

/// A classic pcap (raw IP link type) of the packets, 1 ms apart.
fn pcap(packets: &[Vec<u8>]) -> Vec<u8> {
    crate::common::raw_ip_pcap(packets, 1000)
}

/// One whole connection: handshake, two data segments with an ACK (the second resent), FIN
/// both ways: 9 frames.
fn connection(conn: u16) -> Vec<Vec<u8>> {
    let (c, s) = (1000u32, 5000u32);
    vec![
        packet(conn, true, c, 0, SYN, 0),
        packet(conn, false, s, c + 1, SYN | ACK, 0),
        packet(conn, true, c + 1, s + 1, ACK, 0),
        packet(conn, false, s + 1, c + 1, ACK | PSH, 1000),
        packet(conn, false, s + 1001, c + 1, ACK | PSH, 1000),
        packet(conn, false, s + 1001, c + 1, ACK | PSH, 1000),
        packet(conn, true, c + 1, s + 2001, ACK, 0),
        packet(conn, false, s + 2001, c + 1, ACK | FIN, 0),
        packet(conn, true, c + 1, s + 2002, ACK | FIN, 0),
    ]
}

fn analyse(packets: &[Vec<u8>], settings: &Settings) -> Analysis {
    analyze_bytes(pcap(packets), &DecodeConfig::default(), settings).expect("a valid capture")
}

fn budget(bytes: u64) -> Settings {
    let mut s = Settings::default();
    s.flows.max_memory = bytes;
    s
}

#[test]
fn a_syn_only_flow_allocates_no_measurements() {
    let syns: Vec<_> = (0..50)
        .map(|i| packet(i, true, 77 + u32::from(i), 0, SYN, 0))
        .collect();
    let a = analyse(&syns, &Settings::default());
    assert_eq!(a.flows.flows.len(), 50);
    for f in &a.flows.flows {
        let conn = f.tcp.as_deref().expect("a TCP flow");
        assert!(!conn.has_data(), "flow {} allocated its measurements", f.id);
        assert!(f.gro.is_none() && f.udp_trace.is_none() && f.icmp.is_none());
        // The SYN still counts where the report shows it.
        assert_eq!(conn.options[f.client].isn, Some(77 + f.id - 1));
    }
    // What a SYN-only flow holds: its struct and the connection's light state, a few hundred
    // bytes (the heavy state is several kilobytes: that is the point of deferring it).
    let light = std::mem::size_of::<offload_doctor::flow::Flow>()
        + std::mem::size_of::<offload_doctor::tcp::TcpConn>();
    let heavy = std::mem::size_of::<offload_doctor::tcp::lazy::TcpData>();
    assert!(light <= 1024, "a SYN-only flow holds {light} bytes");
    assert!(heavy > 2 * light, "the deferred state is {heavy} bytes");
    // A second SYN (retransmitted) or an answer creates it, with the first SYN replayed.
    let mut two = syns.clone();
    two.push(packet(3, true, 80, 0, SYN, 0));
    two.push(packet(4, false, 9000, 82, SYN | ACK, 0));
    let b = analyse(&two, &Settings::default());
    let data = |id: u32| {
        b.flows
            .by_id(id)
            .and_then(|f| f.tcp.as_deref())
            .expect("a TCP flow")
            .has_data()
    };
    assert!(data(4) && data(5) && !data(6));
    let c4 = b
        .flows
        .by_id(4)
        .and_then(|f| f.tcp.as_deref())
        .expect("a TCP flow");
    assert_eq!(c4.dirs().map(|d| d.seq_segments).sum(), 2);
    assert_eq!(c4.dirs().map(|d| d.counts.retransmissions).sum(), 1);
}

/// The report of every fixture is the same whether the connections' state was created at their
/// first segment (a full trace creates it at once) or after their opening SYN: the replay of the
/// deferred SYN measures what the SYN would have measured.
#[test]
fn deferred_state_measures_what_early_state_measures() {
    let dir = crate::common::root().join("testdata/fixtures");
    let mut checked = 0;
    for entry in std::fs::read_dir(dir).expect("fixtures") {
        let path = entry.expect("entry").path();
        if path
            .extension()
            .is_none_or(|e| e != "pcap" && e != "pcapng")
        {
            continue;
        }
        let bytes = std::fs::read(&path).expect("fixture");
        let mut early = Settings::default();
        early.flows.full_trace = FullTrace::All;
        let cfg = DecodeConfig::default();
        let (Ok(a), Ok(b)) = (
            analyze_bytes(bytes.clone(), &cfg, &Settings::default()),
            analyze_bytes(bytes, &cfg, &early),
        ) else {
            continue;
        };
        let json = |a: &Analysis| serde_json::to_value(&a.report).expect("json");
        assert_eq!(json(&a), json(&b), "{}", path.display());
        checked += 1;
    }
    assert!(checked > 20, "only {checked} fixtures");
}

/// 300 connections one after another, then flow 1's 5-tuple again.
fn many_connections() -> Vec<Vec<u8>> {
    let mut p: Vec<_> = (0..300).flat_map(connection).collect();
    p.push(packet(0, true, 424242, 0, SYN, 0));
    p
}

#[test]
fn a_tiny_budget_evicts_idle_flows_and_the_report_accounts_for_them() {
    let packets = many_connections();
    let a = analyse(&packets, &budget(200_000));
    let e = &a.flows.evicted;
    assert!(e.flows > 100, "{} evicted", e.flows);
    // Every flow is either in the report or evicted; ids stay those of the whole capture.
    let kept = &a.report.flows;
    assert_eq!(kept.len() as u64 + e.flows, 301);
    assert!(kept.windows(2).all(|w| w[0].id < w[1].id));
    let frames: u64 = kept.iter().map(|f| f.frames).sum();
    assert_eq!(frames + e.frames, packets.len() as u64);
    // The least recently active went: flow 1 (its conversation came back as flow 301).
    assert_eq!(e.ranges.first().map(|r| r.0), Some(1));
    let evicted = |id: u32| e.ranges.iter().any(|&(a, b)| (a..=b).contains(&id));
    assert!(kept.iter().all(|f| !evicted(f.id)));
    for f in kept.iter().filter(|f| f.id <= 300) {
        assert_eq!(f.frames, 9, "flow {} reported whole", f.id);
        let tcp = f.tcp.as_ref().expect("tcp");
        assert!(
            tcp.syn_seen && tcp.syn_ack_seen && tcp.initial_rtt_ms.is_some(),
            "flow {}",
            f.id
        );
    }
    let back = kept.last().expect("the returning flow");
    assert_eq!((back.id, back.after_eviction), (301, true));
    assert_eq!(e.returned, 1);
    // The memory stayed near the budget.
    assert!(a.flows.memory().peak <= 200_000 + 20_000);
    let finding = a
        .report
        .findings
        .iter()
        .find(|f| f.id == "flows-evicted")
        .expect("flows-evicted");
    assert_eq!(finding.details["flows"], e.flows);
    assert_eq!(finding.details["returned"], 1);
    assert_eq!(
        finding.details["ids"][0]
            .as_str()
            .map(|s| s.starts_with("1-")),
        Some(true)
    );
    // The retransmission findings of the flows that stayed are there, each its own.
    let resent = a
        .report
        .findings
        .iter()
        .filter(|f| f.id == "retransmissions")
        .count();
    assert!(resent >= 1);
}

#[test]
fn within_the_budget_nothing_is_evicted() {
    let a = analyse(&many_connections(), &Settings::default());
    assert_eq!(a.flows.evicted.flows, 0);
    assert_eq!(a.report.flows.len(), 301);
    assert!(a.report.flows.iter().all(|f| !f.after_eviction));
    assert!(!a.report.findings.iter().any(|f| f.id == "flows-evicted"));
    // No bound at all: the same.
    let b = analyse(&many_connections(), &budget(0));
    assert_eq!(b.report.flows.len(), 301);
}

/// An evicted connection's bytes in flight leave `high-inflight`'s concurrent sum: 300
/// connections that each leave 1000 bytes unacknowledged and go quiet.
#[test]
fn an_evicted_connection_leaves_the_concurrent_in_flight_sum() {
    let packets: Vec<_> = (0..300u16)
        .flat_map(|i| connection(i).into_iter().take(5))
        .collect();
    let run = |max_memory: u64| {
        let mut s = budget(max_memory);
        s.inflight_budget = 100_000;
        let a = analyse(&packets, &s);
        let fired = a.report.findings.iter().any(|f| f.id == "high-inflight");
        (a.flows.evicted.flows, fired)
    };
    // Kept, they add up to 300 kB in flight at once.
    assert_eq!(run(0), (0, true));
    let (evicted, fired) = run(200_000);
    assert!(evicted > 200 && !fired, "{evicted} evicted, fired: {fired}");
}

/// A graph's trace does not grow with its flow: the full trace of a flow of 300,000 data
/// segments keeps at most `FULL_POINTS` of them, every retransmission among them, and still
/// knows how many there were.
#[test]
fn a_long_flow_is_traced_in_bounded_memory() {
    use offload_doctor::tcp::trace::FULL_POINTS;
    let n = 300_000u32;
    let mut packets = vec![packet(0, true, 0, 0, SYN, 0)];
    for i in 0..n {
        // Every 50,000th segment resends the one 10 segments back.
        let seq = if i % 50_000 == 49_999 { i - 10 } else { i };
        packets.push(packet(0, true, 1 + seq * 10, 0, PSH, 10));
    }
    let mut s = Settings::default();
    s.flows.full_trace = FullTrace::All;
    let a = analyse(&packets, &s);
    let f = a.flows.by_id(1).expect("the flow");
    let trace = &f.tcp.as_deref().expect("tcp").traces()[f.client];
    assert!(
        trace.segments().len() <= FULL_POINTS,
        "{}",
        trace.segments().len()
    );
    assert!(trace.points() <= 5 * FULL_POINTS);
    assert_eq!(trace.segments_seen(), u64::from(n) + 1);
    let resent = trace
        .segments()
        .iter()
        .filter(|p| {
            p.events
                .any(Events::OUT_OF_ORDER | Events::ANY_RETRANSMISSION)
        })
        .count();
    // 1 ms after the segment it repeats: Wireshark calls it out of order; flagged either way.
    assert_eq!(resent, 6, "every resent segment kept");
}
