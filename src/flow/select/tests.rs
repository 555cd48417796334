//! Tests of the selection grammar and time ranges (matching on flows: `src/tests/selection.rs`).

use std::net::IpAddr;

use super::filter::{Expr, Prim as P, Role};
use super::{Filter, TimeRange};
use crate::flow::Protocol;

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn parsed(s: &str) -> Expr {
    match Filter::parse(s) {
        Ok(f) => f.expr,
        Err(e) => panic!("{s}: {e}"),
    }
}

/// The error's message and the text under its caret.
fn refused(s: &str) -> (String, String) {
    match Filter::parse(s) {
        Ok(f) => panic!("{s} parsed as {:?}", f.expr),
        Err(e) => (e.message.clone(), s[e.start..e.end].to_string()),
    }
}

#[test]
fn primitives_and_operators() {
    use Expr::{And, Not, Or, Prim};
    let host = Prim(P::Host(Role::Either, ip("10.0.0.1")));
    let port = Prim(P::Ports(Role::Either, 443, 443));
    assert_eq!(parsed("host 10.0.0.1"), host.clone());
    assert_eq!(
        parsed("host 10.0.0.1 and port 443"),
        And(vec![host.clone(), port.clone()])
    );
    assert_eq!(
        parsed("host 10.0.0.1&&port 443"),
        And(vec![host.clone(), port.clone()])
    );
    assert_eq!(
        parsed("!(host 10.0.0.1 || port 443) and udp"),
        And(vec![
            Not(Box::new(Or(vec![host.clone(), port.clone()]))),
            Prim(P::Protocol(Protocol::Udp)),
        ])
    );
    assert_eq!(
        parsed("server portrange 8000-8080 or client host ::1"),
        Or(vec![
            Prim(P::Ports(Role::Server, 8000, 8080)),
            Prim(P::Host(Role::Client, ip("::1"))),
        ])
    );
    assert_eq!(
        parsed("not not quic"),
        Not(Box::new(Not(Box::new(Prim(P::Quic)))))
    );
    assert_eq!(parsed("flow 7"), Prim(P::Flow(7)));
    assert_eq!(
        parsed("vni 42 and tunnel"),
        And(vec![Prim(P::Vni(42)), Prim(P::Tunnel)])
    );
}

#[test]
fn errors_point_at_the_bad_token() {
    let cases = [
        ("host 10.0.0.1 and port http", "port number", "http"),
        ("host 10.0.0.300", "IP address", "10.0.0.300"),
        ("host", "IP address", ""),
        ("port 443 or host ::1 and tcp", "parentheses", "and"),
        ("(tcp or udp", "never closed", "("),
        ("tcp)", "without a matching", ")"),
        ("tcp udp", "between two tests", "udp"),
        ("src host 10.0.0.1", "client", "src"),
        ("ip.addr==10.0.0.1", "Wireshark", "ip.addr==10.0.0.1"),
        ("tcp & udp", "`&&`", "&"),
        ("net 10.0.0.1/8", "prefix", "10.0.0.1/8"),
        ("net 10.0.0.0/33", "prefix", "10.0.0.0/33"),
        ("portrange 90-80", "port range", "90-80"),
        ("flow 0", "flow id", "0"),
        ("client tcp", "after this", "client"),
        ("and tcp", "expected a test", "and"),
        ("bogus", "unknown test", "bogus"),
    ];
    for (input, message, token) in cases {
        let (m, t) = refused(input);
        assert!(m.contains(message), "{input}: {m}");
        assert_eq!(t, token, "{input}");
    }
}

#[test]
fn the_caret_sits_under_the_token() {
    let e = Filter::parse("host 10.0.0.1 and port http").expect_err("refused");
    let shown = e.to_string();
    let lines: Vec<&str> = shown.lines().collect();
    assert_eq!(lines[1], "    host 10.0.0.1 and port http");
    assert_eq!(lines[2], "                           ^^^^");
    // Characters, not bytes: a multi-byte character before the token counts one column.
    let e = Filter::parse("host é").expect_err("refused");
    assert_eq!(e.to_string().lines().nth(2), Some("         ^"));
    // At the end of the input, one caret after the last character.
    let e = Filter::parse("port").expect_err("refused");
    assert_eq!(e.to_string().lines().nth(2), Some("        ^"));
}

#[test]
fn nesting_is_bounded() {
    let deep = format!("{}tcp{}", "(".repeat(200), ")".repeat(200));
    assert!(refused(&deep).0.contains("deeply"));
    let deep = format!("{}tcp", "! ".repeat(200));
    assert!(refused(&deep).0.contains("deeply"));
    let fine = format!("{}tcp{}", "(".repeat(20), ")".repeat(20));
    assert_eq!(parsed(&fine), Expr::Prim(P::Protocol(Protocol::Tcp)));
}

#[test]
fn time_ranges() {
    let r = TimeRange::parse("1.5..20s").expect("range");
    assert_eq!(
        (r.start_ns, r.end_ns),
        (Some(1_500_000_000), Some(20_000_000_000))
    );
    let r = TimeRange::parse("..300ms").expect("range");
    assert_eq!((r.start_ns, r.end_ns), (None, Some(300_000_000)));
    let r = TimeRange::parse("2min..").expect("range");
    assert_eq!((r.start_ns, r.end_ns), (Some(120_000_000_000), None));
    for bad in ["5s", "..", "3s..1s", "2s..2s", "1h..2h", "-1..3", "x..2"] {
        assert!(TimeRange::parse(bad).is_err(), "{bad}");
    }
    // END is excluded, START included; a flow overlapping either edge is in.
    let r = TimeRange::parse("1s..2s").expect("range");
    let s = 1_000_000_000;
    assert!(r.overlaps(0, s));
    assert!(!r.overlaps(0, s - 1));
    assert!(r.overlaps(2 * s - 1, 3 * s));
    assert!(!r.overlaps(2 * s, 3 * s));
}
