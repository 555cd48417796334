//! One qlog event as serde reads it (only the fields we use; everything else is skipped without
//! allocating), and the fold of a trace's events into a bounded [`Tally`].
//!
//! Event names: draft-02's `transport:` / `recovery:` names (quic-go, aioquic), the QUIC event
//! draft's `quic:` names (draft-ietf-quic-qlog-quic-events-06 and later), and draft-01's separate
//! `category` / `event` fields. Times are milliseconds (qlog's default `time_units`).

use serde::de::{Deserializer, Visitor};
use serde::Deserialize;

use super::timeline::{Mark, Timeline};
use super::QlogCid;

/// Metric points kept per trace for graphs: beyond this, every other point is dropped and the
/// stride doubles, so a long trace keeps an even sample of its whole life.
pub const MAX_POINTS: usize = 4096;

/// The events we count. Any other name is `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(super) enum Name {
    #[serde(
        rename = "transport:packet_sent",
        alias = "quic:packet_sent",
        alias = "packet_sent"
    )]
    PacketSent,
    #[serde(
        rename = "transport:packet_received",
        alias = "quic:packet_received",
        alias = "packet_received"
    )]
    PacketReceived,
    #[serde(
        rename = "transport:packet_dropped",
        alias = "quic:packet_dropped",
        alias = "packet_dropped"
    )]
    PacketDropped,
    #[serde(
        rename = "recovery:packet_lost",
        alias = "quic:packet_lost",
        alias = "packet_lost"
    )]
    PacketLost,
    #[serde(
        rename = "recovery:metrics_updated",
        alias = "quic:recovery_metrics_updated",
        alias = "quic:metrics_updated",
        alias = "metrics_updated"
    )]
    MetricsUpdated,
    #[serde(
        rename = "transport:datagrams_sent",
        alias = "quic:udp_datagrams_sent",
        alias = "datagrams_sent"
    )]
    DatagramsSent,
    #[serde(
        rename = "transport:datagrams_received",
        alias = "quic:udp_datagrams_received",
        alias = "datagrams_received"
    )]
    DatagramsReceived,
    #[serde(
        rename = "recovery:loss_timer_updated",
        alias = "quic:loss_timer_updated",
        alias = "loss_timer_updated"
    )]
    LossTimerUpdated,
    #[serde(other)]
    Other,
}

/// `loss_timer_updated`'s `event_type` (QUIC events draft §7.4, recovery draft-02 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(super) enum TimerEvent {
    #[serde(rename = "expired")]
    Expired,
    #[serde(other)]
    Other,
}

/// `loss_timer_updated`'s `timer_type`: the ACK timer (time-threshold loss, RFC 9002 §6.1.2)
/// or the probe timeout (§6.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(super) enum TimerType {
    #[serde(rename = "pto")]
    Pto,
    #[serde(other)]
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(super) enum PacketType {
    #[serde(rename = "initial")]
    Initial,
    #[serde(rename = "handshake")]
    Handshake,
    #[serde(rename = "0RTT")]
    ZeroRtt,
    #[serde(rename = "1RTT")]
    OneRtt,
    #[serde(other)]
    Other,
}

/// A hex connection ID read without allocating; `None` when empty or not hex.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct HexCid(pub Option<QlogCid>);

impl<'de> Deserialize<'de> for HexCid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = HexCid;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a hex connection ID")
            }
            fn visit_str<E: serde::de::Error>(self, s: &str) -> Result<HexCid, E> {
                Ok(HexCid(QlogCid::from_hex(s)))
            }
            // Some writers put a number or null where a connection ID belongs: no ID.
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<HexCid, E> {
                Ok(HexCid(None))
            }
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<HexCid, E> {
                Ok(HexCid(None))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<HexCid, E> {
                Ok(HexCid(None))
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<HexCid, E> {
                Ok(HexCid(None))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Header {
    #[serde(default)]
    pub packet_type: Option<PacketType>,
    #[serde(default)]
    pub dcid: HexCid,
    #[serde(default)]
    pub scid: HexCid,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Data {
    #[serde(default)]
    pub header: Option<Header>,
    #[serde(default)]
    pub count: Option<u64>,
    #[serde(default)]
    pub cwnd: Option<f64>,
    #[serde(default)]
    pub congestion_window: Option<f64>,
    #[serde(default)]
    pub bytes_in_flight: Option<f64>,
    #[serde(default)]
    pub smoothed_rtt: Option<f64>,
    #[serde(default)]
    pub latest_rtt: Option<f64>,
    #[serde(default)]
    pub min_rtt: Option<f64>,
    #[serde(default)]
    pub event_type: Option<TimerEvent>,
    #[serde(default)]
    pub timer_type: Option<TimerType>,
}

/// One event: draft-02+ `name`, or draft-01 `category` + `event`.
#[derive(Debug, Deserialize)]
pub(super) struct RawEvent {
    #[serde(default)]
    pub time: Option<f64>,
    #[serde(default)]
    pub name: Option<Name>,
    #[serde(default)]
    pub event: Option<Name>,
    #[serde(default)]
    pub data: Option<Data>,
}

/// Packets of one direction by type.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PacketCount {
    pub packets: u64,
    pub initial: u64,
    pub handshake: u64,
    #[serde(rename = "0rtt")]
    pub zero_rtt: u64,
    #[serde(rename = "1rtt")]
    pub one_rtt: u64,
}

impl PacketCount {
    fn count(&mut self, t: Option<PacketType>) {
        self.packets += 1;
        match t {
            Some(PacketType::Initial) => self.initial += 1,
            Some(PacketType::Handshake) => self.handshake += 1,
            Some(PacketType::ZeroRtt) => self.zero_rtt += 1,
            Some(PacketType::OneRtt) => self.one_rtt += 1,
            _ => {}
        }
    }
}

/// Whether a trace's times are Unix milliseconds (comparable with the capture's clock) or
/// relative to an unknown start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Clock {
    Absolute,
    #[default]
    Relative,
}

/// Congestion window and bytes in flight at one moment (ms on the trace's clock).
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct MetricPoint {
    pub t_ms: f64,
    pub cwnd: Option<u64>,
    pub in_flight: Option<u64>,
}

/// What one trace says, in bounded memory.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub sent: PacketCount,
    pub received: PacketCount,
    pub datagrams_sent: u64,
    pub datagrams_received: u64,
    pub dropped: u64,
    pub lost: u64,
    pub clock: Clock,
    /// First and last event, first packet sent and first received (ms on `clock`).
    pub first_ms: Option<f64>,
    pub last_ms: Option<f64>,
    pub first_sent_ms: Option<f64>,
    pub first_received_ms: Option<f64>,
    /// The last packet sent, and the last received (ms on `clock`).
    pub last_sent_ms: Option<f64>,
    pub last_received_ms: Option<f64>,
    pub min_rtt_ms: Option<f64>,
    pub smoothed_rtt_ms: Option<f64>,
    pub max_latest_rtt_ms: Option<f64>,
    pub max_cwnd: Option<u64>,
    pub max_in_flight: Option<u64>,
    pub points: Vec<MetricPoint>,
    /// Probe timeouts that expired (`loss_timer_updated` with `event_type: expired`).
    pub probe_timeouts: u64,
    /// When packets were sent, declared lost, and probe timers expired.
    pub timeline: Timeline,
    /// The last record was cut short (the endpoint stopped mid-write) and was left out.
    pub truncated: bool,
    stride: u64,
    seen_metrics: u64,
    last: MetricPoint,
    delta: bool,
    prev_ms: f64,
}

fn min_opt(a: Option<f64>, b: f64) -> Option<f64> {
    Some(a.map_or(b, |a| a.min(b)))
}

fn max_opt(a: Option<f64>, b: f64) -> Option<f64> {
    Some(a.map_or(b, |a| a.max(b)))
}

/// A qlog number as a byte count (negative or non-finite values are dropped).
fn bytes(v: f64) -> Option<u64> {
    (v.is_finite() && v >= 0.0).then_some(v as u64)
}

impl Tally {
    /// Times are deltas from the previous event (`time_format: delta`).
    pub(super) fn set_delta(&mut self) {
        self.delta = true;
    }

    pub(super) fn add(&mut self, e: RawEvent, cids: &mut Vec<QlogCid>) {
        let t = match e.time.filter(|t| t.is_finite()) {
            Some(t) if self.delta => {
                self.prev_ms += t;
                self.prev_ms
            }
            Some(t) => t,
            None => self.last_ms.unwrap_or(0.0),
        };
        self.first_ms = min_opt(self.first_ms, t);
        self.last_ms = max_opt(self.last_ms, t);
        let data = e.data.unwrap_or_default();
        let header = data.header.as_ref();
        if let Some(h) = header {
            for c in [h.dcid.0, h.scid.0].into_iter().flatten() {
                if cids.len() < super::MAX_CIDS && !cids.contains(&c) {
                    cids.push(c);
                }
            }
        }
        let kind = header.and_then(|h| h.packet_type);
        match e.name.or(e.event).unwrap_or(Name::Other) {
            Name::PacketSent => {
                self.sent.count(kind);
                self.timeline.record(t, Mark::Sent);
                self.first_sent_ms.get_or_insert(t);
                self.last_sent_ms = max_opt(self.last_sent_ms, t);
            }
            Name::PacketReceived => {
                self.received.count(kind);
                self.first_received_ms.get_or_insert(t);
                self.last_received_ms = max_opt(self.last_received_ms, t);
            }
            Name::PacketDropped => self.dropped += 1,
            Name::PacketLost => {
                self.lost += 1;
                self.timeline.record(t, Mark::Lost);
            }
            // Only a timer named `pto`: an untyped one may be the ACK timer, whose expiry
            // declares packets lost (logged as such) without probing.
            Name::LossTimerUpdated
                if data.event_type == Some(TimerEvent::Expired)
                    && data.timer_type == Some(TimerType::Pto) =>
            {
                self.probe_timeouts += 1;
                self.timeline.record(t, Mark::Pto);
            }
            Name::DatagramsSent => self.datagrams_sent += data.count.unwrap_or(1),
            Name::DatagramsReceived => self.datagrams_received += data.count.unwrap_or(1),
            Name::MetricsUpdated => self.metrics(t, &data),
            Name::LossTimerUpdated | Name::Other => {}
        }
    }

    fn metrics(&mut self, t: f64, d: &Data) {
        if let Some(r) = d.min_rtt.filter(|r| r.is_finite() && *r > 0.0) {
            self.min_rtt_ms = min_opt(self.min_rtt_ms, r);
        }
        if let Some(r) = d.latest_rtt.filter(|r| r.is_finite() && *r > 0.0) {
            self.min_rtt_ms = min_opt(self.min_rtt_ms, r);
            self.max_latest_rtt_ms = max_opt(self.max_latest_rtt_ms, r);
        }
        if let Some(r) = d.smoothed_rtt.filter(|r| r.is_finite() && *r > 0.0) {
            self.smoothed_rtt_ms = Some(r);
        }
        let cwnd = d.cwnd.or(d.congestion_window).and_then(bytes);
        let in_flight = d.bytes_in_flight.and_then(bytes);
        if cwnd.is_none() && in_flight.is_none() {
            return;
        }
        self.max_cwnd = self.max_cwnd.max(cwnd);
        self.max_in_flight = self.max_in_flight.max(in_flight);
        // A metrics event carries only what changed: keep the other value from before.
        self.last = MetricPoint {
            t_ms: t,
            cwnd: cwnd.or(self.last.cwnd),
            in_flight: in_flight.or(self.last.in_flight),
        };
        self.point();
    }

    fn point(&mut self) {
        let stride = self.stride.max(1);
        self.seen_metrics += 1;
        if !(self.seen_metrics - 1).is_multiple_of(stride) {
            return;
        }
        if self.points.len() == MAX_POINTS {
            let mut i = 0;
            self.points.retain(|_| {
                i += 1;
                i % 2 == 1
            });
            self.stride = stride * 2;
        }
        self.points.push(self.last);
    }

    /// Puts every time on the capture's clock: `reference_ms` (Unix ms) is added to relative
    /// times; times above 10^11 ms (1973) with no reference are taken as Unix ms already.
    pub(super) fn finish(&mut self, reference_ms: Option<f64>, absolute: bool) {
        let big = self.first_ms.is_some_and(|t| t > 1e11);
        let offset = match reference_ms {
            Some(r) => r,
            None if absolute || big => 0.0,
            None => return,
        };
        self.clock = Clock::Absolute;
        for t in [
            &mut self.first_ms,
            &mut self.last_ms,
            &mut self.first_sent_ms,
            &mut self.first_received_ms,
            &mut self.last_sent_ms,
            &mut self.last_received_ms,
        ] {
            *t = t.map(|t| t + offset);
        }
        for p in &mut self.points {
            p.t_ms += offset;
        }
        self.timeline.shift(offset);
    }
}

/// `time_format` (main schema §7.1): how event times are expressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(super) enum TimeFormat {
    #[serde(rename = "absolute")]
    Absolute,
    #[serde(rename = "delta", alias = "relative_to_previous_event")]
    Delta,
    #[serde(other)]
    Relative,
}

/// `reference_time`: draft-02's Unix milliseconds, or the later `{clock_type, epoch}` object.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum RefTime {
    Millis(f64),
    Clock {
        #[serde(default)]
        clock_type: Option<String>,
        #[serde(default)]
        epoch: Option<String>,
    },
    Other(serde::de::IgnoredAny),
}

impl RefTime {
    /// The reference as Unix ms, when it is one: a number, or the system clock's 1970 epoch
    /// (times are then Unix ms themselves). A monotonic clock has no known start.
    fn unix_ms(&self) -> Option<f64> {
        match self {
            RefTime::Millis(ms) if ms.is_finite() => Some(*ms),
            RefTime::Clock { clock_type, epoch } => {
                let system = clock_type.as_deref().is_none_or(|c| c == "system");
                let unix = epoch
                    .as_deref()
                    .is_none_or(|e| e.starts_with("1970-01-01T00:00:00"));
                (system && unix).then_some(0.0)
            }
            _ => None,
        }
    }
}

/// `common_fields` of a trace: the connection and the clock.
#[derive(Debug, Default, Deserialize)]
pub(super) struct Common {
    #[serde(default, rename = "ODCID", alias = "odcid")]
    pub odcid: HexCid,
    #[serde(default)]
    pub group_id: HexCid,
    #[serde(default)]
    pub reference_time: Option<RefTime>,
    #[serde(default)]
    pub time_format: Option<TimeFormat>,
}

impl Common {
    pub fn cid(&self) -> Option<QlogCid> {
        self.odcid.0.or(self.group_id.0)
    }

    pub fn reference_ms(&self) -> Option<f64> {
        self.reference_time.as_ref().and_then(RefTime::unix_ms)
    }

    pub fn absolute(&self) -> bool {
        self.time_format == Some(TimeFormat::Absolute)
    }

    pub fn delta(&self) -> bool {
        self.time_format == Some(TimeFormat::Delta)
    }
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct VantagePoint {
    #[serde(default, rename = "type")]
    pub kind: Option<VantageKind>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub(super) enum VantageKind {
    #[serde(rename = "client")]
    Client,
    #[serde(rename = "server")]
    Server,
    #[serde(other)]
    Other,
}

impl VantagePoint {
    pub fn vantage(&self) -> super::Vantage {
        match self.kind {
            Some(VantageKind::Client) => super::Vantage::Client,
            Some(VantageKind::Server) => super::Vantage::Server,
            _ => super::Vantage::Unknown,
        }
    }
}
