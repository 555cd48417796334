//! `high-inflight`: bytes in flight per TCP connection and summed over the connections open at the
//! same time. A proxy or terminator relaying those connections holds about that much in buffers
//! (the QUIC memory story: many long-lived connections with large buffers exhausted memory).
//!
//! The engine keeps each direction's bytes in flight (highest sequence sent minus cumulative ACK
//! minus SACKed bytes) after every frame; this detector keeps the running sum over connections
//! and its peak.

use serde::Serialize;

use super::kit::tcp_flows;
use super::{details, Detector, Finding, FrameCtx, Identity, Severity, Summary};
use crate::units::bytes;

/// Default budget: 16 MiB, four times Linux's default `tcp_wmem` maximum (4 MiB).
pub const DEFAULT_BUDGET: u64 = 16 << 20;
/// Connections listed in `details`.
const MAX_LISTED: usize = 10;

#[derive(Default)]
pub struct HighInflight {
    budget: u64,
    /// In flight per connection, indexed by flow index, after its latest frame.
    now: Vec<u64>,
    sum: u64,
    open: u64,
    peak: u64,
    peak_frame: u64,
    peak_ts_ns: i64,
    peak_open: u64,
}

impl HighInflight {
    pub fn new(budget: u64) -> Self {
        HighInflight {
            budget,
            ..Default::default()
        }
    }
}

/// `details` of a `high-inflight` finding.
#[derive(Serialize)]
struct Details {
    /// The peak of bytes in flight summed over concurrent connections.
    peak_concurrent_bytes: u64,
    at_frame: u64,
    /// Seconds from the first flow's first frame.
    at_time_s: f64,
    connections_in_flight: u64,
    budget_bytes: u64,
    /// The connections with the largest own peaks, largest first.
    largest: Vec<Largest>,
}

#[derive(Serialize)]
struct Largest {
    flow: u32,
    peak_bytes: u64,
}

impl Identity for HighInflight {
    const ID: &'static str = "high-inflight";
    const SEVERITY: Severity = Severity::Warning;
}

impl Detector for HighInflight {
    /// An evicted connection was the least recently active: what it had in flight is stale and
    /// leaves the concurrent sum (it would otherwise stay there for the rest of the capture).
    fn evicted(&mut self, indexes: &[usize]) {
        for &i in indexes {
            if let Some(old) = self.now.get_mut(i) {
                if *old > 0 {
                    self.sum = self.sum.saturating_sub(*old);
                    self.open = self.open.saturating_sub(1);
                    *old = 0;
                }
            }
        }
    }

    fn watches(&self) -> super::Watch {
        super::Watch::Tcp
    }

    fn on_frame(&mut self, ctx: &FrameCtx<'_>) {
        let frame = ctx.frame;
        let (Some(_), Some(fr)) = (&ctx.pkt.tcp, ctx.flow) else {
            return;
        };
        if self.now.len() <= fr.index {
            if fr.inflight == 0 {
                return;
            }
            self.now.resize(fr.index + 1, 0);
        }
        let old = &mut self.now[fr.index];
        if *old == fr.inflight {
            return;
        }
        self.sum = self.sum - *old + fr.inflight;
        match (*old, fr.inflight) {
            (0, _) => self.open += 1,
            (_, 0) => self.open -= 1,
            _ => {}
        }
        *old = fr.inflight;
        if self.sum > self.peak {
            self.peak = self.sum;
            self.peak_frame = frame.number;
            self.peak_ts_ns = frame.ts_ns;
            self.peak_open = self.open;
        }
    }

    fn finish(&mut self, s: &Summary<'_>) -> Vec<Finding> {
        if self.peak <= self.budget {
            return Vec::new();
        }
        let mut per_conn: Vec<(u32, u64)> = tcp_flows(s.flows)
            .map(|(f, c)| {
                let peak = c.dirs().iter().map(|d| u64::from(d.inflight_peak)).max();
                (f.id, peak.unwrap_or(0))
            })
            .filter(|&(_, p)| p > 0)
            .collect();
        per_conn.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let largest = per_conn.first().copied().unwrap_or((0, 0));
        let start = s.flows.flows.first().map_or(0, |f| f.first_ts_ns());
        vec![Finding {
            id: Self::ID,
            severity: Self::SEVERITY,
            flow: None,
            frames: vec![self.peak_frame],
            frames_total: 1,
            message: format!(
                "At frame {}, {} connection{} had {} in flight at once, more than the {} budget \
                 (the most any single connection had: {} on flow {}); a proxy relaying them needs \
                 about that much buffer memory.",
                self.peak_frame,
                self.peak_open,
                if self.peak_open == 1 { "" } else { "s" },
                bytes(self.peak),
                bytes(self.budget),
                bytes(largest.1),
                largest.0,
            ),
            hint: "In-flight bytes are bounded by min(congestion window, receive window): cap \
                   per-connection buffers where memory is tight (net.ipv4.tcp_wmem / tcp_rmem \
                   maxima, SO_SNDBUF, tcp_notsent_lowat) or limit concurrent connections; raise \
                   --inflight-budget if this much is expected."
                .into(),
            wireshark_filter: Some(format!("frame.number == {}", self.peak_frame)),
            details: details(&Details {
                peak_concurrent_bytes: self.peak,
                at_frame: self.peak_frame,
                at_time_s: self.peak_ts_ns.saturating_sub(start) as f64 / 1e9,
                connections_in_flight: self.peak_open,
                budget_bytes: self.budget,
                largest: per_conn
                    .iter()
                    .take(MAX_LISTED)
                    .map(|&(flow, peak_bytes)| Largest { flow, peak_bytes })
                    .collect(),
            }),
        }]
    }
}
