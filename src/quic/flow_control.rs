//! With keys: each side's stream data against the peer's flow-control limits (RFC 9000 §4):
//! the largest offset sent per stream (STREAM frames), the limits the peer raised (MAX_DATA,
//! MAX_STREAM_DATA), the BLOCKED frames the side sent, and the time it spent held at a limit.
//!
//! A side is held when a stream it has not finished reached the peer's limit for that stream,
//! or its streams together reached the connection's limit, and it stays held until the peer's
//! next MAX_STREAM_DATA or MAX_DATA raises the limit above what was sent. The initial limits
//! are transport parameters: the client's are read from its ClientHello (so the server's
//! first window is known), the server's sit in its Handshake packets, not decrypted here, so
//! the client's limits are known from the server's first update of them.

use serde::Serialize;

use super::transport_params::TransportParams;
use crate::evidence::Evidence;

/// Streams followed per side at most (an HTTP/3 connection has a few control streams and one
/// per request; past this, further streams count toward the connection's data only).
const MAX_STREAMS: usize = 256;

#[derive(Debug, Clone, Copy)]
struct Stream {
    id: u64,
    /// The largest offset + length sent.
    sent: u64,
    /// The peer's MAX_STREAM_DATA, once it sent one.
    limit: Option<u64>,
    fin: bool,
    held: bool,
}

impl Stream {
    fn at_limit(&self) -> bool {
        !self.fin && self.limit.is_some_and(|l| self.sent >= l)
    }
}

/// One side's stream data and the peer's limits on it.
#[derive(Debug, Clone, Default)]
pub struct FlowControl {
    streams: Vec<Stream>,
    /// The sum of the streams' largest offsets (what MAX_DATA limits).
    sent: u64,
    /// The peer's MAX_DATA, once it sent one.
    conn_limit: Option<u64>,
    /// Streams held at their own limit now.
    held_streams: u32,
    /// Since when the side has been held, and by what.
    held_since: Option<(i64, Limit)>,
    pub held_ns: i64,
    /// Times the side came to be held, by the connection's limit and by a stream's.
    pub held_conn: u64,
    pub held_stream: u64,
    /// DATA_BLOCKED and STREAM_DATA_BLOCKED frames the side sent (RFC 9000 §19.12-13).
    pub blocked_frames: u64,
    /// The first and last STREAM frame of the side.
    pub first_data_ns: Option<i64>,
    pub last_data_ns: i64,
    /// The frames where the side came to be held.
    pub evidence: Evidence,
    /// The largest limits the peer gave.
    pub max_conn_limit: Option<u64>,
    pub max_stream_limit: Option<u64>,
    /// The peer's transport parameters (its initial limits) and whether the peer is the
    /// client, when they were read.
    granted: Option<(TransportParams, bool)>,
}

/// One stream of a side, as the report lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StreamState {
    pub id: u64,
    /// The largest offset sent (offset plus length of its STREAM frames).
    pub bytes: u64,
    /// A STREAM frame with FIN was sent.
    pub fin: bool,
    /// The peer's limit on it (MAX_STREAM_DATA, or the initial one), when known.
    pub limit: Option<u64>,
}

/// What held a side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Limit {
    /// MAX_DATA: the connection's.
    Connection,
    /// MAX_STREAM_DATA: a stream's.
    Stream,
}

impl FlowControl {
    /// The peer's transport parameters: the limits it grants from the start (`client`: the
    /// peer is the client).
    pub fn grant(&mut self, params: TransportParams, client: bool) {
        self.granted = Some((params, client));
        if let Some(l) = params.initial_data_limit() {
            self.conn_limit = Some(self.conn_limit.map_or(l, |c| c.max(l)));
            self.max_conn_limit = self.conn_limit;
        }
    }

    /// The streams the side sent on (at most [`MAX_STREAMS`] are followed), by ID.
    pub fn streams(&self) -> Vec<StreamState> {
        let mut v: Vec<StreamState> = self
            .streams
            .iter()
            .filter(|s| s.sent > 0 || s.fin)
            .map(|s| StreamState {
                id: s.id,
                bytes: s.sent,
                fin: s.fin,
                limit: s.limit,
            })
            .collect();
        v.sort_unstable_by_key(|s| s.id);
        v
    }

    /// The largest offset sent on stream `id` so far (0 before its first STREAM frame).
    pub fn stream_end(&self, id: u64) -> u64 {
        self.streams
            .iter()
            .find(|s| s.id == id)
            .map_or(0, |s| s.sent)
    }

    /// The initial limit the peer granted on stream `id` (bit 0 of an ID: opened by the server).
    pub fn initial_limit(&self, id: u64) -> Option<u64> {
        let (params, peer_is_client) = self.granted?;
        let opened_by_peer = (id & 1 == 0) == peer_is_client;
        params.initial_stream_limit(id, opened_by_peer)
    }

    /// A STREAM frame of this side: `end` is its offset plus length.
    pub fn stream(&mut self, id: u64, end: u64, fin: bool, ts_ns: i64, frame: u64) {
        self.first_data_ns.get_or_insert(ts_ns);
        self.last_data_ns = ts_ns;
        let i = match self.streams.iter().position(|s| s.id == id) {
            Some(i) => i,
            None if self.streams.len() < MAX_STREAMS => {
                let limit = self.initial_limit(id);
                if let Some(l) = limit {
                    self.max_stream_limit = Some(self.max_stream_limit.map_or(l, |m| m.max(l)));
                }
                self.streams.push(Stream {
                    id,
                    sent: 0,
                    limit,
                    fin: false,
                    held: false,
                });
                self.streams.len() - 1
            }
            None => return,
        };
        let s = &mut self.streams[i];
        if end > s.sent {
            self.sent += end - s.sent;
            s.sent = end;
        }
        s.fin |= fin;
        self.update_stream(i);
        self.update(ts_ns, frame);
    }

    /// A DATA_BLOCKED or STREAM_DATA_BLOCKED frame this side sent.
    pub fn blocked_frame(&mut self) {
        self.blocked_frames += 1;
    }

    /// The peer's MAX_DATA.
    pub fn max_data(&mut self, max: u64, ts_ns: i64, frame: u64) {
        let l = self.conn_limit.map_or(max, |l| l.max(max));
        self.conn_limit = Some(l);
        self.max_conn_limit = Some(l);
        self.update(ts_ns, frame);
    }

    /// The peer's MAX_STREAM_DATA for stream `id`.
    pub fn max_stream_data(&mut self, id: u64, max: u64, ts_ns: i64, frame: u64) {
        if let Some(i) = self.streams.iter().position(|s| s.id == id) {
            let s = &mut self.streams[i];
            s.limit = Some(s.limit.map_or(max, |l| l.max(max)));
            self.update_stream(i);
        } else if self.streams.len() < MAX_STREAMS {
            // A limit for a stream not yet sent on (the peer's window opened ahead).
            let limit = self.initial_limit(id).map_or(max, |l| l.max(max));
            self.streams.push(Stream {
                id,
                sent: 0,
                limit: Some(limit),
                fin: false,
                held: false,
            });
        }
        self.max_stream_limit = Some(self.max_stream_limit.map_or(max, |l| l.max(max)));
        self.update(ts_ns, frame);
    }

    fn update_stream(&mut self, i: usize) {
        let s = &mut self.streams[i];
        let held = s.at_limit();
        if held != s.held {
            s.held = held;
            if held {
                self.held_streams += 1;
            } else {
                self.held_streams -= 1;
            }
        }
    }

    /// Starts or ends a held stretch at `ts_ns` (frame `frame`).
    fn update(&mut self, ts_ns: i64, frame: u64) {
        let conn = self.conn_limit.is_some_and(|l| self.sent >= l);
        let by = if conn {
            Some(Limit::Connection)
        } else {
            (self.held_streams > 0).then_some(Limit::Stream)
        };
        match (self.held_since, by) {
            (None, Some(limit)) => {
                self.held_since = Some((ts_ns, limit));
                self.evidence.push(frame);
                match limit {
                    Limit::Connection => self.held_conn += 1,
                    Limit::Stream => self.held_stream += 1,
                }
            }
            (Some((since, _)), None) => {
                self.held_ns += (ts_ns - since).max(0);
                self.held_since = None;
            }
            _ => {}
        }
    }

    /// Time held, a stretch still open counted up to `end_ns`.
    pub fn held_until(&self, end_ns: i64) -> i64 {
        self.held_ns + self.held_since.map_or(0, |(s, _)| (end_ns - s).max(0))
    }

    /// The stretches by the connection's limit, then by streams', and the limit kind that held
    /// the side most often.
    pub fn mostly(&self) -> Limit {
        if self.held_conn >= self.held_stream && self.held_conn > 0 {
            Limit::Connection
        } else {
            Limit::Stream
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: i64 = 1_000_000;

    /// A stream sent up to its limit is held until the peer raises it; a finished stream and a
    /// limit never reached hold nothing.
    #[test]
    fn a_stream_at_its_limit_is_held_until_the_limit_rises() {
        let mut f = FlowControl::default();
        f.max_stream_data(0, 1000, 0, 1);
        f.stream(0, 600, false, MS, 2);
        assert_eq!(f.held_until(MS), 0);
        f.stream(0, 1000, false, 2 * MS, 3);
        f.max_stream_data(0, 2000, 12 * MS, 4);
        assert_eq!(f.held_ns, 10 * MS);
        assert_eq!((f.held_stream, f.evidence.frames()), (1, vec![3]));
        // At the new limit, but the stream ends there: not held.
        f.stream(0, 2000, true, 13 * MS, 5);
        assert_eq!(f.held_until(50 * MS), 10 * MS);
    }

    #[test]
    fn the_connection_limit_counts_every_stream() {
        let mut f = FlowControl::default();
        f.max_data(1500, 0, 1);
        f.stream(0, 1000, false, MS, 2);
        f.stream(4, 500, false, 2 * MS, 3);
        assert_eq!(f.mostly(), Limit::Connection);
        // Still held at the end: counted up to it.
        assert_eq!(f.held_until(7 * MS), 5 * MS);
        // A resend below the largest offset adds nothing.
        f.stream(0, 400, false, 3 * MS, 4);
        assert_eq!(f.sent, 1500);
    }
}
