//! `explain`: the long explanation of a finding, sliced from docs/detectors.md (compiled in, so
//! the command and the documentation are one text), and its Markdown styled for a terminal.

use anstyle::{AnsiColor, Color, Style};

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

/// Headings.
const HEADING: Style = Style::new().bold().underline();
/// `**bold**` runs: the "What it means." lead-ins.
const STRONG: Style = Style::new().bold();
/// `*emphasis*` and `_emphasis_`.
const EMPHASIS: Style = Style::new().italic();
/// `` `code` `` spans and fenced blocks: what the user types or reads in Wireshark.
const CODE: Style = Style::new().fg_color(Some(Color::Ansi(AnsiColor::Cyan)));
/// A link's target, after its text.
const LINK: Style = Style::new().dimmed();

/// The Markdown of docs/detectors.md (headings, `**bold**`, `*emphasis*`, `` `code` ``, links,
/// fenced code, tables left as they are) with terminal styles. Written through
/// `anstream::stdout()`, the styles are dropped when stdout is not a terminal, under `NO_COLOR`,
/// and with `--color never`; the text itself is the same. A small renderer because the page
/// uses only these constructs (a Markdown crate would parse much more to print this).
pub fn styled(md: &str) -> String {
    let mut out = String::with_capacity(md.len() + md.len() / 8);
    let mut fenced = false;
    // The lines of the paragraph being read: a span may continue on the next line.
    let mut para = String::new();
    for line in md.lines() {
        let fence = line.trim_start().starts_with("```");
        let title = heading(line).filter(|_| !fenced);
        if fenced || fence || title.is_some() || line.trim().is_empty() {
            out.push_str(&inline(&para));
            para.clear();
        }
        if fence {
            fenced = !fenced;
        } else if fenced {
            out.push_str(&format!("    {CODE}{line}{CODE:#}\n"));
        } else if let Some(t) = title {
            out.push_str(&format!("{HEADING}{}{HEADING:#}\n", t.replace('`', "")));
        } else if line.trim().is_empty() {
            out.push('\n');
        } else {
            para.push_str(line);
            para.push('\n');
        }
    }
    out.push_str(&inline(&para));
    out
}

/// The text of a `#`-heading line.
fn heading(line: &str) -> Option<&str> {
    let rest = line.trim_start_matches('#');
    let level = line.len() - rest.len();
    (level > 0 && rest.starts_with(' ')).then(|| rest.trim())
}

/// Inline spans of one line. Unclosed markers stay as they are.
fn inline(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(i) = rest.find(['`', '*', '_', '[']) {
        let (before, at) = rest.split_at(i);
        out.push_str(before);
        // `_` inside a word (snake_case names) opens nothing.
        let in_word = at.starts_with('_') && out.chars().last().is_some_and(char::is_alphanumeric);
        let Some((styled, len)) = span(at).filter(|_| !in_word) else {
            // Not a span: the marker is text (`_` inside a word: snake_case names).
            let c = at.chars().next().map_or(1, char::len_utf8);
            out.push_str(&at[..c]);
            rest = &at[c..];
            continue;
        };
        out.push_str(&styled);
        rest = &at[len..];
    }
    out.push_str(rest);
    out
}

/// The span `at` opens, styled, and the bytes it takes; `None` when it opens none.
fn span(at: &str) -> Option<(String, usize)> {
    let closed = |open: &str, close: &str| -> Option<(&str, usize)> {
        let body = at.strip_prefix(open)?;
        let end = body.find(close)?;
        (end > 0).then(|| (&body[..end], open.len() + end + close.len()))
    };
    if let Some((code, n)) = closed("`", "`") {
        return Some((format!("{CODE}{code}{CODE:#}"), n));
    }
    if let Some((text, n)) = closed("**", "**") {
        return Some((format!("{STRONG}{}{STRONG:#}", inline(text)), n));
    }
    if let Some((text, n)) = closed("[", "](") {
        let after = &at[n..];
        let end = after.find(')')?;
        let target = &after[..end];
        let shown = inline(text);
        // An anchor in the same page says nothing in a terminal.
        let link = if target.starts_with('#') {
            shown
        } else {
            format!("{shown} {LINK}({target}){LINK:#}")
        };
        return Some((link, n + end + 1));
    }
    let (text, n) = closed("*", "*").or_else(|| closed("_", "_"))?;
    (!text.starts_with(' ') && !text.ends_with(' '))
        .then(|| (format!("{EMPHASIS}{text}{EMPHASIS:#}"), n))
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
    fn markdown_is_styled_and_its_text_kept() {
        let md = "## `keep-alive`\n\n**What it means.** A *probe* with `tcp.len == 1`, see \
                  [ci.md](ci.md) and [the model](#the-model); ip_id_step stays.\n```\nethtool -k eth0\n```\n";
        let s = styled(md);
        // Stripped of its styles (what a pipe gets), the text reads as plain text.
        let plain = anstream::adapter::strip_str(&s).to_string();
        assert_eq!(
            plain,
            "keep-alive\n\nWhat it means. A probe with tcp.len == 1, see ci.md (ci.md) and the \
             model; ip_id_step stays.\n    ethtool -k eth0\n"
        );
        assert!(s.contains(&format!("{HEADING}keep-alive{HEADING:#}")));
        assert!(s.contains(&format!("{STRONG}What it means.{STRONG:#}")));
        assert!(s.contains(&format!("{EMPHASIS}probe{EMPHASIS:#}")));
        assert!(s.contains(&format!("{CODE}tcp.len == 1{CODE:#}")));
        // Unclosed markers are text.
        assert_eq!(styled("a * b and `x\n"), "a * b and `x\n");
    }

    #[test]
    fn every_section_renders_without_markdown_left() {
        for r in rows() {
            let s = styled(section(r.id).expect("documented"));
            let plain = anstream::adapter::strip_str(&s).to_string();
            assert!(!plain.contains("**"), "{}: {plain}", r.id);
            assert!(!plain.contains("## "), "{}", r.id);
        }
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
