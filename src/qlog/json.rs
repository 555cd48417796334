//! qlog's `JSON` serialisation: one document, `{"qlog_format": "JSON", "traces": [{"common_fields":
//! …, "vantage_point": …, "events": […]}]}`. Read with serde visitors that fold each event into
//! its trace's [`Tally`] as it is parsed, so no event list is ever held.

use std::fmt;
use std::io::BufRead;
use std::path::Path;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::event::{Common, RawEvent, Tally, VantagePoint};
use super::{QlogError, QlogTrace, Vantage};

/// Reads the document from `r`.
pub(super) fn read(path: &Path, r: impl BufRead) -> Result<Vec<QlogTrace>, QlogError> {
    let mut de = serde_json::Deserializer::from_reader(r);
    let traces = Document
        .deserialize(&mut de)
        .and_then(|t| de.end().map(|()| t))
        .map_err(|e| from_serde(path, &e))?;
    if traces.is_empty() {
        return Err(QlogError::new(path, None, "no trace in this qlog file"));
    }
    Ok(traces)
}

/// A serde_json error as ours: its line, and its message without the position it appends.
pub(super) fn from_serde(path: &Path, e: &serde_json::Error) -> QlogError {
    let text = e.to_string();
    let what = match text.rfind(" at line ") {
        Some(i) => &text[..i],
        None => &text,
    };
    let line = (e.line() > 0).then_some(e.line() as u64);
    QlogError::new(path, line, format!("column {}: {what}", e.column()))
}

/// The top-level object: its `traces`.
struct Document;

impl<'de> DeserializeSeed<'de> for Document {
    type Value = Vec<QlogTrace>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Document {
    type Value = Vec<QlogTrace>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a qlog document (an object with a \"traces\" array)")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut traces = Vec::new();
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Traces => traces = map.next_value_seed(Traces)?,
                Key::Trace => traces.push(map.next_value_seed(TraceSeed)?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(traces)
    }
}

/// The keys we read, at any level; `Other` for the rest.
#[derive(serde::Deserialize)]
#[serde(rename_all = "snake_case")]
enum Key {
    Traces,
    Trace,
    CommonFields,
    VantagePoint,
    Events,
    #[serde(other)]
    Other,
}

struct Traces;

impl<'de> DeserializeSeed<'de> for Traces {
    type Value = Vec<QlogTrace>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Traces {
    type Value = Vec<QlogTrace>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of traces")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(t) = seq.next_element_seed(TraceSeed)? {
            out.push(t);
        }
        Ok(out)
    }
}

struct TraceSeed;

impl<'de> DeserializeSeed<'de> for TraceSeed {
    type Value = QlogTrace;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for TraceSeed {
    type Value = QlogTrace;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a trace object")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut common = Common::default();
        let mut vantage = Vantage::Unknown;
        let mut t = QlogTrace {
            file: Default::default(),
            vantage,
            odcid: None,
            cids: Vec::new(),
            tally: Tally::default(),
        };
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::CommonFields => {
                    common = map.next_value()?;
                    if common.delta() {
                        t.tally.set_delta();
                    }
                }
                Key::VantagePoint => vantage = map.next_value::<VantagePoint>()?.vantage(),
                Key::Events => map.next_value_seed(Events(&mut t))?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        t.vantage = vantage;
        t.odcid = common.cid();
        t.tally.finish(common.reference_ms(), common.absolute());
        Ok(t)
    }
}

/// A trace's `events` array, folded into the trace as it is read.
struct Events<'t>(&'t mut QlogTrace);

impl<'de> DeserializeSeed<'de> for Events<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Events<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of event objects")
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(e) = seq.next_element::<RawEvent>()? {
            self.0.tally.add(e, &mut self.0.cids);
        }
        Ok(())
    }
}
