//! `explain`: the long explanation of a finding, sliced from docs/detectors.md (compiled in, so
//! the command and the documentation are one text).

/// docs/detectors.md: a `## `id`` section per finding id, and a table of them all.
pub const DETECTORS_MD: &str = include_str!("../docs/detectors.md");

/// The section of `id`, from its `## `id`` heading to the next `## ` heading.
pub fn section(id: &str) -> Option<&'static str> {
    let heading = format!("## `{id}`\n");
    let start = DETECTORS_MD.find(&heading)?;
    let body = &DETECTORS_MD[start + heading.len()..];
    let end = body.find("\n## ").map_or(body.len(), |e| e + 1);
    Some(&DETECTORS_MD[start..start + heading.len() + end])
}

/// One row of the table at the top of docs/detectors.md.
pub struct Row {
    pub id: &'static str,
    pub severity: &'static str,
    pub about: &'static str,
}

/// The rows of the finding table (`| [`id`](#id) | severity | about |`), in its order.
pub fn rows() -> Vec<Row> {
    DETECTORS_MD
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.strip_prefix("| [`")?.splitn(2, '`').collect();
            let id = *cells.first()?;
            let mut rest = cells.get(1)?.split(" | ");
            rest.next()?;
            Some(Row {
                id,
                severity: rest.next()?.trim(),
                about: rest.next()?.trim_end_matches(" |").trim(),
            })
        })
        .collect()
}

/// `explain` without an id: every finding with its severity and a line about it.
pub fn list() -> String {
    let rows = rows();
    let w = rows.iter().map(|r| r.id.len()).max().unwrap_or(0);
    let sw = rows.iter().map(|r| r.severity.len()).max().unwrap_or(0);
    let mut s = String::from("Findings (offload-doctor explain ID tells more):\n\n");
    for r in &rows {
        s.push_str(&format!("  {:w$}  {:sw$}  {}\n", r.id, r.severity, r.about));
    }
    s
}

/// The error for an id with no section.
pub fn unknown(id: &str) -> String {
    let ids: Vec<&str> = rows().iter().map(|r| r.id).collect();
    format!(
        "there is no finding `{id}`; the findings are: {}",
        ids.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_are_sliced_at_headings() {
        let s = section("keep-alive").expect("documented");
        assert!(s.starts_with("## `keep-alive`\n"));
        assert!(!s.contains("## `out-of-order`"));
        assert!(s.ends_with('\n'));
        // The last section runs to the end of the file.
        let last = rows().last().map(|r| r.id).expect("rows");
        assert!(section(last).expect("documented").ends_with('\n'));
        assert!(section("keep").is_none());
        assert!(section("").is_none());
    }

    #[test]
    fn table_rows() {
        let rows = rows();
        assert_eq!(rows.first().map(|r| r.id), Some("gro-blocked-ip-id"));
        assert!(rows
            .iter()
            .all(|r| !r.about.is_empty() && !r.about.ends_with('|')));
        assert!(list().contains("keep-alive"));
    }
}
