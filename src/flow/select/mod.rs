//! Which flows a report covers: `--flow`, `--host`, `--port`, `--time` and `--filter`
//! (docs/selection.md). A flow-stage concern: a selection is a predicate on a finished
//! [`Flow`], so it never changes how frames are accounted and flow ids stay those of the whole
//! capture (`--flow 7` copied from an unfiltered report names the same connection).
//!
//! Selection is applied on output, after the one pass over every frame: the TCP engine needs a
//! connection's handshake and every segment before a window to judge the segments in it (a
//! capture cut at `--time`'s start would make every in-flight segment look like a retransmission
//! or a gap, as `editcap -A` output does to Wireshark's analysis). A flow is in a `--time`
//! window when its lifetime overlaps it; its report stays the whole flow's.

pub mod filter;

use std::fmt::Write as _;
use std::net::IpAddr;

pub use filter::{Filter, FilterError};

use super::Flow;
use filter::{Prim, Role};

/// `--time START..END`: offsets from the capture's first frame, END excluded (as editcap's `-B`
/// keeps frames before the stop time and `-A` those at or after the start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeRange {
    pub start_ns: Option<i64>,
    pub end_ns: Option<i64>,
}

impl TimeRange {
    /// `START..END`, `START..` or `..END`; each a number of seconds or a number with a unit
    /// (`ns`, `us`, `ms`, `s`, `min`).
    pub fn parse(s: &str) -> Result<TimeRange, String> {
        let (a, b) = s
            .split_once("..")
            .ok_or_else(|| format!("`{s}` is not a range: write START..END, e.g. 1.5s..20s"))?;
        let r = TimeRange {
            start_ns: offset(a)?,
            end_ns: offset(b)?,
        };
        match (r.start_ns, r.end_ns) {
            (None, None) => Err("the range `..` selects everything: give a start or an end".into()),
            (Some(x), Some(y)) if x >= y => {
                Err(format!("`{s}` is empty: START must be before END"))
            }
            _ => Ok(r),
        }
    }

    /// Whether `[first, last]` (offsets from the capture's start) overlaps the range.
    pub fn overlaps(self, first: i64, last: i64) -> bool {
        self.start_ns.is_none_or(|s| last >= s) && self.end_ns.is_none_or(|e| first < e)
    }
}

/// One end of a range in nanoseconds; `None` when empty.
fn offset(s: &str) -> Result<Option<i64>, String> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    let v: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a time: write e.g. 2.5s, 300ms or 12"))?;
    let scale = match unit {
        "" | "s" => 1e9,
        "ns" => 1.0,
        "us" | "µs" => 1e3,
        "ms" => 1e6,
        "min" => 60e9,
        _ => {
            return Err(format!(
                "unknown unit `{unit}` in `{s}`: use ns, us, ms, s or min"
            ))
        }
    };
    let ns = v * scale;
    // A year is far beyond any capture; the bound keeps the conversion exact enough and finite.
    if !(0.0..=3.2e16).contains(&ns) {
        return Err(format!("`{s}` is out of range"));
    }
    Ok(Some(ns.round() as i64))
}

/// The flows to report: every given option must match (`--flow`, `--host` and `--port` match
/// any of their values).
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub flows: Vec<u32>,
    pub hosts: Vec<IpAddr>,
    pub ports: Vec<u16>,
    pub time: Option<TimeRange>,
    pub filter: Option<Filter>,
}

impl Selection {
    /// No option given: every flow.
    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
            && self.hosts.is_empty()
            && self.ports.is_empty()
            && self.time.is_none()
            && self.filter.is_none()
    }

    /// Only `--flow` given: the flows are known without a pass.
    pub fn only_flows(&self) -> bool {
        !self.flows.is_empty()
            && Selection {
                flows: Vec::new(),
                ..self.clone()
            }
            .is_empty()
    }

    /// Whether flow `f` is selected; `capture_start_ns` is the first frame's time.
    pub fn matches(&self, f: &Flow, capture_start_ns: i64) -> bool {
        let host = |&h: &IpAddr| Prim::Host(Role::Either, h).matches(f);
        let port = |&p: &u16| Prim::Ports(Role::Either, p, p).matches(f);
        let offset = |t: i64| t.saturating_sub(capture_start_ns);
        (self.flows.is_empty() || self.flows.contains(&f.id))
            && (self.hosts.is_empty() || self.hosts.iter().any(host))
            && (self.ports.is_empty() || self.ports.iter().any(port))
            && self
                .time
                .is_none_or(|t| t.overlaps(offset(f.first_ts_ns()), offset(f.last_ts_ns())))
            && self.filter.as_ref().is_none_or(|x| x.matches(f))
    }

    /// The options as a command line would give them (`--host 10.0.0.1 --port 443`), for the
    /// report to say what it covers.
    pub fn describe(&self) -> String {
        let mut s = String::new();
        for id in &self.flows {
            let _ = write!(s, " --flow {id}");
        }
        for h in &self.hosts {
            let _ = write!(s, " --host {h}");
        }
        for p in &self.ports {
            let _ = write!(s, " --port {p}");
        }
        if let Some(t) = self.time {
            let secs = |v: Option<i64>| v.map(|ns| format!("{}s", ns as f64 / 1e9));
            let (a, b) = (secs(t.start_ns), secs(t.end_ns));
            let _ = write!(
                s,
                " --time {}..{}",
                a.unwrap_or_default(),
                b.unwrap_or_default()
            );
        }
        if let Some(f) = &self.filter {
            let _ = write!(s, " --filter '{}'", f.text);
        }
        s.trim_start().to_string()
    }
}

#[cfg(test)]
mod tests;
