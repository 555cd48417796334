//! Policy files: the TOML a CI job gives `check --policy` (or `analyze --policy`) to set detector
//! thresholds, per-finding severities and the severity that fails the check (docs/ci.md).

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::analysis::{self, Severity};
use crate::units::{parse_percent, parse_size};

/// A policy file could not be used; the message names the file and what to change.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {what}")]
pub struct PolicyError {
    pub path: String,
    pub what: String,
}

/// What a policy asks for. Every field is optional: what it leaves out keeps its default (or the
/// command line's value, which wins over the policy).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Policy {
    /// The least severity that fails `check`.
    pub fail_on: Option<Severity>,
    /// `retransmissions` is a problem above this share of a direction's segments (0.005 = 0.5%).
    pub retransmission_rate: Option<f64>,
    /// `high-inflight` is a problem above this many bytes in flight at once.
    pub inflight_budget: Option<u64>,
    /// `quic-memory`: bytes one QUIC connection holds, and the memory for all of them.
    pub conn_buffer: Option<u64>,
    pub memory_budget: Option<u64>,
    /// Per finding id: the severity of its problem level, or `None` to drop it.
    pub severities: Vec<(&'static str, Option<Severity>)>,
}

/// The file as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct File {
    fail_on: Option<Level>,
    #[serde(default)]
    thresholds: Thresholds,
    #[serde(default)]
    severity: BTreeMap<String, Level>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct Thresholds {
    /// `"0.5%"` or `0.5` (percent).
    retransmission_rate: Option<NumberOrText>,
    /// `"64M"` or `67108864`.
    inflight_budget: Option<NumberOrText>,
    /// `"64K"` or `65536`.
    conn_buffer: Option<NumberOrText>,
    /// `"1G"` or `1073741824`.
    memory_budget: Option<NumberOrText>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum NumberOrText {
    Int(i64),
    Float(f64),
    Text(String),
}

impl NumberOrText {
    fn text(&self) -> String {
        match self {
            NumberOrText::Int(n) => n.to_string(),
            NumberOrText::Float(f) => f.to_string(),
            NumberOrText::Text(s) => s.clone(),
        }
    }
}

#[derive(Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Level {
    Ignore,
    Info,
    Warning,
    Error,
}

impl Level {
    fn severity(self) -> Option<Severity> {
        match self {
            Level::Ignore => None,
            Level::Info => Some(Severity::Info),
            Level::Warning => Some(Severity::Warning),
            Level::Error => Some(Severity::Error),
        }
    }
}

impl Policy {
    /// Reads and checks a policy file.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let name = path.display().to_string();
        // A policy is a few lines; a huge file is a mistake (a capture given by accident).
        const MAX_BYTES: u64 = 1 << 20;
        let meta = std::fs::metadata(path).map_err(|e| PolicyError {
            path: name.clone(),
            what: e.to_string(),
        })?;
        if meta.len() > MAX_BYTES {
            return Err(PolicyError {
                path: name,
                what: "larger than 1 MiB: is this a policy file?".into(),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError {
            path: name.clone(),
            what: e.to_string(),
        })?;
        Policy::parse(&text, &name)
    }

    /// Parses the text of a policy file called `name`.
    pub fn parse(text: &str, name: &str) -> Result<Policy, PolicyError> {
        let err = |what: String| PolicyError {
            path: name.to_string(),
            what,
        };
        let file: File = toml::from_str(text).map_err(|e| {
            // toml's message spans lines (a snippet of the file); keep it, on one line.
            err(e
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "))
        })?;
        let known = analysis::finding_ids();
        let mut severities = Vec::with_capacity(file.severity.len());
        for (id, level) in &file.severity {
            let Some(&id) = known.iter().find(|k| **k == id.as_str()) else {
                return Err(err(format!(
                    "[severity]: there is no finding `{id}`{}; `offload-doctor explain` lists them",
                    did_you_mean(id, &known)
                        .map(|k| format!(" (did you mean `{k}`?)"))
                        .unwrap_or_default()
                )));
            };
            severities.push((id, level.severity()));
        }
        let retransmission_rate = file
            .thresholds
            .retransmission_rate
            .map(|v| parse_percent(&v.text()).map(|p| p / 100.0))
            .transpose()
            .map_err(|e| err(format!("[thresholds] retransmission-rate: {e}")))?;
        let size = |v: Option<NumberOrText>, name: &str| {
            v.map(|v| parse_size(&v.text()))
                .transpose()
                .map_err(|e| err(format!("[thresholds] {name}: {e}")))
        };
        let inflight_budget = size(file.thresholds.inflight_budget, "inflight-budget")?;
        let conn_buffer = size(file.thresholds.conn_buffer, "conn-buffer")?;
        let memory_budget = size(file.thresholds.memory_budget, "memory-budget")?;
        let fail_on =
            match file.fail_on {
                None => None,
                Some(Level::Ignore) => return Err(err(
                    "fail-on is a severity: info, warning or error (`ignore` would fail nothing; \
                     leave fail-on out and set findings to `info` instead)"
                        .into(),
                )),
                Some(l) => l.severity(),
            };
        Ok(Policy {
            fail_on,
            retransmission_rate,
            inflight_budget,
            conn_buffer,
            memory_budget,
            severities,
        })
    }
}

/// The known id closest to a misspelt one (at most 3 edits away).
fn did_you_mean<'a>(id: &str, known: &[&'a str]) -> Option<&'a str> {
    known
        .iter()
        .map(|k| (edit_distance(id, k), *k))
        .filter(|(d, _)| *d <= 3)
        .min()
        .map(|(_, k)| k)
}

/// Levenshtein distance (ids are short ASCII).
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_policy() {
        let p = Policy::parse(
            r#"
            fail-on = "warning"
            [thresholds]
            retransmission-rate = "0.5%"
            inflight-budget = "64M"
            conn-buffer = "64K"
            memory-budget = 1073741824
            [severity]
            gro-blocked-ip-id = "error"
            keep-alive = "ignore"
            "#,
            "p.toml",
        )
        .expect("valid");
        assert_eq!(p.fail_on, Some(Severity::Warning));
        assert_eq!(p.retransmission_rate, Some(0.005));
        assert_eq!(p.inflight_budget, Some(64 << 20));
        assert_eq!(p.conn_buffer, Some(64 << 10));
        assert_eq!(p.memory_budget, Some(1 << 30));
        assert_eq!(
            p.severities,
            vec![
                ("gro-blocked-ip-id", Some(Severity::Error)),
                ("keep-alive", None)
            ]
        );
        // Numbers are accepted as well as text.
        let p = Policy::parse(
            "[thresholds]\nretransmission-rate = 2\ninflight-budget = 65536",
            "p",
        )
        .expect("valid");
        assert_eq!(p.retransmission_rate, Some(0.02));
        assert_eq!(p.inflight_budget, Some(65536));
        assert_eq!(
            Policy::parse("", "p").expect("empty is valid"),
            Policy::default()
        );
    }

    #[test]
    fn mistakes_are_named() {
        let e = |t: &str| {
            Policy::parse(t, "ci.toml")
                .expect_err("invalid")
                .to_string()
        };
        assert!(e("[severity]\nkeepalive = \"ignore\"").contains("did you mean `keep-alive`"));
        assert!(e("[severity]\nkeep-alive = \"off\"").starts_with("ci.toml: "));
        assert!(e("fail_on = \"error\"").contains("unknown field"));
        assert!(e("fail-on = \"ignore\"").contains("fail-on is a severity"));
        assert!(e("[thresholds]\nretransmission-rate = \"lots\"").contains("retransmission-rate"));
        assert!(e("[thresholds]\ninflight-budget = \"5T\"").contains("inflight-budget"));
        assert!(e("[thresholds]\nmemory-budget = \"lots\"").contains("memory-budget"));
        assert!(e("[thresholds]\nretransmission-rate = 150").contains("between 0 and 100"));
        assert!(!e("fail-on = [").contains('\n'));
    }
}
