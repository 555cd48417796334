//! Two captures of one path: how the path changed the packets it delivered in one paired
//! direction — addresses and ports rewritten (NAT), a tunnel added or removed, the TTL lowered by
//! routers, DSCP or ECN re-marked, datagrams fragmented. Loss, merging and cutting are
//! [`super::peer_loss`]'s.

use serde::Serialize;

use super::peer::{Index, Record};
use super::peer_match::Point;
use crate::flow::{FlowKey, Side};

/// ECN codepoint "Congestion Experienced" (RFC 3168 §5): a router marked the packet instead of
/// dropping it.
const ECN_CE: u8 = 0b11;

/// What the path changed in one direction, upstream to downstream.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Changes {
    /// Routers between the two points: the median TTL (hop limit) decrease of the matched
    /// packets; 0 on one link or a bridge, null when nothing matched.
    pub ttl_decrease: Option<u8>,
    /// Matched packets whose DSCP (the upper six bits of TOS / traffic class) changed.
    pub dscp_remarked: u64,
    /// Matched packets whose ECN field changed, and of those, how many arrived marked
    /// Congestion Experienced: a queue between the points signalled congestion.
    pub ecn_remarked: u64,
    pub ce_marked: u64,
    /// Matched packets that left whole and arrived as fragments (their first fragment).
    pub fragmented: u64,
    /// Addresses or ports rewritten on the way: `"source"`, `"destination"` or `"both"`
    /// (null when neither).
    pub nat: Option<&'static str>,
    /// `"added"` or `"removed"`: the packets were tunnelled (VXLAN, Geneve, GRE …) at one point
    /// and not at the other.
    pub tunnel: Option<&'static str>,
}

impl Changes {
    /// Whether the path changed anything but the TTL (which every router lowers).
    pub fn any(&self) -> bool {
        self.dscp_remarked + self.ecn_remarked + self.fragmented > 0
            || self.nat.is_some()
            || self.tunnel.is_some()
    }
}

/// The changes seen in the matched packets `mine` ((this, peer) record indexes) of the
/// direction `this` (flow index, sender) paired with `peer`, upstream at `up`.
pub fn changes(
    a: &Index,
    b: &Index,
    mine: &[(u32, u32)],
    (this, peer): ((u32, Side), (u32, Side)),
    up: Point,
) -> Changes {
    let mut c = Changes::default();
    let mut ttl: Vec<u8> = Vec::with_capacity(mine.len());
    for &(i, j) in mine {
        let (x, y) = (&a.records[i as usize], &b.records[j as usize]);
        let (u, d) = match up {
            Point::This => (x, y),
            Point::Peer => (y, x),
        };
        packet(&mut c, u, d);
        ttl.push(u.ttl.wrapping_sub(d.ttl));
    }
    ttl.sort_unstable();
    c.ttl_decrease = ttl.get(ttl.len() / 2).copied();
    if let (Some(k), Some(l)) = (a.key(this.0), b.key(peer.0)) {
        let (ku, su, kd, sd) = match up {
            Point::This => (k, this.1, l, peer.1),
            Point::Peer => (l, peer.1, k, this.1),
        };
        c.nat = nat(ku, su, kd, sd);
        c.tunnel = match (ku.tunnel.is_some(), kd.tunnel.is_some()) {
            (true, false) => Some("removed"),
            (false, true) => Some("added"),
            _ => None,
        };
    }
    c
}

/// One matched packet's header changes, upstream copy `u`, downstream copy `d`.
fn packet(c: &mut Changes, u: &Record, d: &Record) {
    c.dscp_remarked += u64::from(u.tos >> 2 != d.tos >> 2);
    let (eu, ed) = (u.tos & 0b11, d.tos & 0b11);
    c.ecn_remarked += u64::from(eu != ed);
    c.ce_marked += u64::from(eu != ed && ed == ECN_CE);
    c.fragmented += u64::from(d.fragment && !u.fragment);
}

/// Which ends a NAT rewrote: the sender's (`su` of upstream key `ku`) and the receiver's, as
/// the downstream key `kd` (sender `sd`) has them.
fn nat(ku: &FlowKey, su: Side, kd: &FlowKey, sd: Side) -> Option<&'static str> {
    let src = ku.ends[su.index()] != kd.ends[sd.index()];
    let dst = ku.ends[su.other().index()] != kd.ends[sd.other().index()];
    match (src, dst) {
        (true, true) => Some("both"),
        (true, false) => Some("source"),
        (false, true) => Some("destination"),
        (false, false) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(ttl: u8, tos: u8, fragment: bool) -> Record {
        Record {
            sig: 1,
            ts_ns: 0,
            frame: 1,
            flow: 0,
            side: Side::A,
            seq: 0,
            len: 100,
            ttl,
            tos,
            tcp: false,
            fragment,
            ip_id: None,
        }
    }

    fn index(recs: Vec<Record>) -> Index {
        Index {
            records: recs,
            ..Index::default()
        }
    }

    fn key(src: &str, sport: u16, dst: &str, dport: u16) -> (FlowKey, Side) {
        let end = |a: &str, port| crate::flow::Endpoint {
            addr: a.parse().expect("address"),
            port,
        };
        FlowKey::of(
            crate::flow::Protocol::Tcp,
            end(src, sport),
            end(dst, dport),
            None,
        )
    }

    #[test]
    fn nat_names_the_rewritten_ends_whichever_order_the_keys_hold_them() {
        let (ku, su) = key("10.0.0.1", 40000, "192.0.2.9", 443);
        // Source NAT: the sender's address and port rewritten (and now sorted after the
        // receiver's in the key: its sides flip).
        let (kd, sd) = key("203.0.113.1", 61000, "192.0.2.9", 443);
        assert_eq!(nat(&ku, su, &kd, sd), Some("source"));
        let (kd, sd) = key("10.0.0.1", 40000, "10.9.9.9", 8443);
        assert_eq!(nat(&ku, su, &kd, sd), Some("destination"));
        let (kd, sd) = key("203.0.113.1", 1, "10.9.9.9", 8443);
        assert_eq!(nat(&ku, su, &kd, sd), Some("both"));
        assert_eq!(nat(&ku, su, &ku, su), None);
    }

    #[test]
    fn remarking_ce_and_fragments_are_counted_from_upstream_to_downstream() {
        // Upstream: ECT(0) (0b10), DSCP 0; downstream: CE, DSCP 46 (EF), a first fragment.
        let up = index(vec![rec(64, 0b10, false), rec(64, 0b10, false)]);
        let down = index(vec![rec(62, (46 << 2) | 0b11, true), rec(62, 0b10, false)]);
        let dir = ((0, Side::A), (0, Side::A));
        let c = changes(&up, &down, &[(0, 0), (1, 1)], dir, Point::This);
        assert_eq!(c.ttl_decrease, Some(2));
        assert_eq!((c.dscp_remarked, c.ecn_remarked, c.ce_marked), (1, 1, 1));
        assert_eq!(c.fragmented, 1);
        assert!(c.any());
        // The same pair seen from the other capture: the peer is upstream.
        let c2 = changes(&down, &up, &[(0, 0), (1, 1)], dir, Point::Peer);
        assert_eq!(c, c2);
        // Unchanged packets: only the TTL.
        let same = changes(&up, &up, &[(0, 0)], dir, Point::This);
        assert_eq!(same.ttl_decrease, Some(0));
        assert!(!same.any());
    }
}
