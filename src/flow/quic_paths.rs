//! A QUIC connection is its connection IDs, not its 5-tuple (RFC 9000 §5.1, §9): when the client
//! migrates to a new address or port, or a NAT rebinds it, the packets of the same connection
//! arrive on another UDP flow, with no long header, addressed to the same connection ID. This
//! index maps the IDs learned from the long headers to the connection's flow, so that such a
//! flow joins its connection as another path.
//!
//! Without keys only the IDs of the long headers are seen: a migration to an ID issued in an
//! encrypted NEW_CONNECTION_ID frame (RFC 9000 §9.5) cannot be followed, and zero-length IDs
//! (RFC 9000 §5.1.1) route nothing: such connections stay one per 5-tuple.

use rustc_hash::FxHashMap;

use super::Side;
use crate::quic::{Cid, QuicConn};

/// IDs shorter than this are not matched against a flow's first bytes: a 1-3 byte ID would
/// match other UDP traffic by chance (quic-go, quiche and aioquic use 8 to 20).
pub const MIN_MATCHED_CID: usize = 4;

/// Who a connection ID addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Addressee {
    Client,
    Server,
}

/// The connection IDs of the capture's QUIC connections.
#[derive(Debug, Default)]
pub struct QuicCids {
    by_cid: FxHashMap<Cid, (usize, Addressee)>,
    /// One bit per ID length in use, so a lookup tries only those lengths.
    lengths: u32,
}

/// Where a flow's datagrams go: the connection (a flow index) and which of this flow's sides is
/// the QUIC client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PathOf {
    pub conn: usize,
    pub client: Side,
}

impl QuicCids {
    /// Indexes the IDs of the connection at `index` that are new since the last call: the
    /// client's SCID at once, the server's once it has sent a long header.
    pub fn learn(&mut self, index: usize, q: &mut QuicConn) {
        if !q.cids_indexed.0 {
            q.cids_indexed.0 = true;
            self.insert(q.client_cid, index, Addressee::Client);
        }
        if let (false, Some(server)) = (q.cids_indexed.1, q.server_cid) {
            q.cids_indexed.1 = true;
            self.insert(server, index, Addressee::Server);
        }
    }

    fn insert(&mut self, cid: Cid, index: usize, to: Addressee) {
        let len = cid.as_bytes().len();
        if len >= MIN_MATCHED_CID {
            // The first connection to use an ID keeps it (IDs are random: a repeat is another
            // capture's connection, not a path of this one).
            self.by_cid.entry(cid).or_insert((index, to));
            self.lengths |= 1 << len;
        }
    }

    /// The connection a datagram sent by `side` belongs to, when it is a short-header packet
    /// (RFC 9000 §17.3: form bit clear, fixed bit set) addressed to a known connection ID.
    pub fn path_of(&self, payload: &[u8], side: Side) -> Option<PathOf> {
        let first = *payload.first()?;
        if first & 0xC0 != 0x40 || self.lengths == 0 {
            return None;
        }
        (MIN_MATCHED_CID..=20)
            .filter(|len| self.lengths & (1 << len) != 0)
            .find_map(|len| {
                let (conn, to) = *self.by_cid.get(&Cid::of(payload.get(1..1 + len)?))?;
                let client = match to {
                    Addressee::Server => side,
                    Addressee::Client => side.other(),
                };
                Some(PathOf { conn, client })
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_header_to_a_known_id_finds_its_connection() {
        let mut ids = QuicCids::default();
        ids.insert(Cid::of(&[1, 2, 3, 4, 5, 6, 7, 8]), 3, Addressee::Server);
        ids.insert(Cid::of(&[9; 20]), 3, Addressee::Client);
        // Fixed bit set, form bit clear, then the server's ID: sent by the client.
        let mut to_server = vec![0x41, 1, 2, 3, 4, 5, 6, 7, 8];
        to_server.extend([0xAA; 30]);
        assert_eq!(
            ids.path_of(&to_server, Side::B),
            Some(PathOf {
                conn: 3,
                client: Side::B
            })
        );
        let mut to_client = vec![0x5f];
        to_client.extend([9; 20]);
        assert_eq!(
            ids.path_of(&to_client, Side::B),
            Some(PathOf {
                conn: 3,
                client: Side::A
            })
        );
        // A long header, a cleared fixed bit, an unknown ID, a cut packet: nothing.
        to_server[0] = 0xC1;
        assert_eq!(ids.path_of(&to_server, Side::A), None);
        to_server[0] = 0x01;
        assert_eq!(ids.path_of(&to_server, Side::A), None);
        assert_eq!(ids.path_of(&[0x41, 1, 2, 3, 4, 5, 6, 7, 9], Side::A), None);
        for cut in 0..9 {
            assert_eq!(
                ids.path_of(&[0x41, 1, 2, 3, 4, 5, 6, 7, 8][..cut], Side::A),
                None
            );
        }
    }

    #[test]
    fn short_and_empty_ids_route_nothing() {
        let mut ids = QuicCids::default();
        ids.insert(Cid::of(&[]), 1, Addressee::Server);
        ids.insert(Cid::of(&[1, 2, 3]), 1, Addressee::Server);
        assert_eq!(ids.path_of(&[0x41, 1, 2, 3, 4, 5, 6], Side::A), None);
        assert_eq!(ids.lengths, 0);
    }
}
