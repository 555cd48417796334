//! What detectors report: a [`Finding`] with its [`Severity`], evidence frames and details.

use serde::Serialize;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One diagnosis, with its evidence.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// Stable kebab-case id (part of the interface: CI policies refer to it).
    pub id: &'static str,
    pub severity: Severity,
    /// The flow it is about, or `None` for the whole capture.
    pub flow: Option<u32>,
    /// Evidence: 1-based frame numbers, the first [`crate::evidence::MAX_EVIDENCE`] at most
    /// (a bound for memory: evidence is kept per flow and direction while the capture streams).
    pub frames: Vec<u64>,
    /// How many evidence frames there were in all: `frames` lists the first of them, so
    /// `frames_total - frames.len()` were left out (never fewer than `frames.len()`).
    pub frames_total: u64,
    /// One sentence: what was seen.
    pub message: String,
    /// What to do about it.
    pub hint: String,
    /// A Wireshark display filter that shows the evidence.
    pub wireshark_filter: Option<String>,
    /// The detector's typed details ([`details`]), as the JSON object the report carries.
    pub details: Map<String, Value>,
}

/// A detector's typed details as the report's JSON object. Each detector declares its details
/// as a `Serialize` struct (documented field by field in docs/json-format.md); keys come out in
/// the order serde_json's map keeps them (sorted), whatever the struct's field order.
pub fn details<T: Serialize>(d: &T) -> Map<String, Value> {
    match serde_json::to_value(d) {
        Ok(Value::Object(m)) => m,
        // A struct of plain fields always serialises to an object; nothing else is a detail.
        _ => Map::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize)]
    struct Example {
        zeta: u32,
        alpha: Option<f64>,
    }

    #[test]
    fn details_are_the_structs_fields_sorted() {
        let m = details(&Example {
            zeta: 1,
            alpha: None,
        });
        let keys: Vec<&str> = m.keys().map(String::as_str).collect();
        assert_eq!(keys, ["alpha", "zeta"]);
        assert_eq!(m["zeta"], 1);
        assert!(m["alpha"].is_null());
        assert!(details(&3u8).is_empty());
    }
}
