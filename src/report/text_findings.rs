//! The text report's findings: grouped by id, severity and hint (one heading, the flows listed
//! compactly, the hint once), filtered by `--min-severity`, wrapped to the terminal with a
//! hanging indent, severities in colour.

use std::fmt::Write as _;

use anstyle::{AnsiColor, Style};
use unicode_width::UnicodeWidthStr;

use super::text::TextOptions;
use super::Report;
use crate::analysis::{Finding, Severity};
use crate::units::plural;

/// Where a finding's text starts: two spaces, the severity padded to 7, two spaces.
pub(super) const INDENT: usize = 11;

/// Lines are wrapped to at least this width, so a tiny terminal still gets a few words a line.
const MIN_WRAP: usize = 40;

/// Findings of one group shown in full before the rest are listed by flow: every error, ten
/// warnings, three infos (info findings repeat per flow: oversized-frames on every coalesced
/// flow).
fn shown_per_group(s: Severity) -> usize {
    match s {
        Severity::Error => usize::MAX,
        Severity::Warning => 10,
        Severity::Info => 3,
    }
}

/// The severity's colour: red errors, yellow warnings, cyan infos (bold, so a dimmed theme
/// still shows them).
pub(super) fn severity_style(s: Severity) -> Style {
    let c = match s {
        Severity::Error => AnsiColor::Red,
        Severity::Warning => AnsiColor::Yellow,
        Severity::Info => AnsiColor::Cyan,
    };
    Style::new().fg_color(Some(c.into())).bold()
}

/// `text` in `style` when colour is on, padded to `pad` columns (padding outside the escapes).
pub(super) fn paint(text: &str, style: Style, pad: usize, color: bool) -> String {
    let fill = " ".repeat(pad.saturating_sub(text.width()));
    if color {
        format!("{style}{text}{style:#}{fill}")
    } else {
        format!("{text}{fill}")
    }
}

/// Findings that share id, severity and hint, in report order.
struct Group<'a> {
    first: &'a Finding,
    members: Vec<&'a Finding>,
}

pub(super) fn findings(out: &mut String, r: &Report, opts: &TextOptions) {
    let _ = writeln!(out, "\nFindings");
    let shown: Vec<&Finding> = r
        .findings
        .iter()
        .filter(|f| f.severity >= opts.min_severity)
        .collect();
    let below = r.findings.len() - shown.len();
    if shown.is_empty() {
        let _ = writeln!(out, "  none");
    }
    let mut groups: Vec<Group> = Vec::new();
    for f in shown {
        let same = |g: &&mut Group| {
            g.first.id == f.id && g.first.severity == f.severity && g.first.hint == f.hint
        };
        match groups.iter_mut().find(|g| same(g)) {
            Some(g) => g.members.push(f),
            None => groups.push(Group {
                first: f,
                members: vec![f],
            }),
        }
    }
    for g in &groups {
        group(out, g, opts);
    }
    if below > 0 {
        let line = format!(
            "({} below {} not shown; --format json lists every one)",
            plural(below as u64, "finding"),
            opts.min_severity.as_str()
        );
        out.push_str(&wrap(&line, "  ", 2, opts.width));
    }
}

fn group(out: &mut String, g: &Group, opts: &TextOptions) {
    let sev = paint(
        g.first.severity.as_str(),
        severity_style(g.first.severity),
        7,
        opts.color,
    );
    let body = " ".repeat(INDENT);
    if let [f] = g.members.as_slice() {
        let scope = f.flow.map(|id| format!(" [flow {id}]")).unwrap_or_default();
        let _ = writeln!(out, "  {sev}  {}{scope}", f.id);
        out.push_str(&wrap(&f.message, &body, INDENT, opts.width));
        evidence(out, f, INDENT, opts.width);
    } else {
        let flows: Vec<u32> = g.members.iter().filter_map(|f| f.flow).collect();
        let heading = format!("{} [{}]", g.first.id, scope_list(&flows, g.members.len()));
        let first = format!("  {sev}  ");
        out.push_str(&wrap_styled(&heading, &first, INDENT, opts.width));
        let limit = shown_per_group(g.first.severity);
        let label_width = g.members.iter().take(limit).map(|f| label(f).len()).max();
        let indent = INDENT + label_width.unwrap_or(0) + 2;
        for f in g.members.iter().take(limit) {
            let lead = format!("{body}{:<w$}  ", label(f), w = indent - INDENT - 2);
            out.push_str(&wrap(&f.message, &lead, indent, opts.width));
            evidence(out, f, indent, opts.width);
        }
        let rest: Vec<u32> = g
            .members
            .iter()
            .skip(limit)
            .filter_map(|f| f.flow)
            .collect();
        if g.members.len() > limit {
            let line = format!(
                "… and {} more{}: --format json lists every one",
                g.members.len() - limit,
                if rest.is_empty() {
                    String::new()
                } else {
                    format!(", on flows {}", ranges(&rest))
                }
            );
            out.push_str(&wrap(&line, &body, INDENT, opts.width));
        }
    }
    let hint = format!("hint: {}", g.first.hint);
    out.push_str(&wrap(&hint, &body, INDENT + 6, opts.width));
}

/// What a grouped finding is about: its flow, or the capture.
fn label(f: &Finding) -> String {
    f.flow
        .map_or_else(|| "capture".into(), |id| format!("flow {id}"))
}

/// `3 flows: 1-2, 7` (and the capture-wide ones, if any).
fn scope_list(flows: &[u32], members: usize) -> String {
    let whole = members - flows.len();
    let mut parts = Vec::new();
    if !flows.is_empty() {
        parts.push(format!(
            "{}: {}",
            plural(flows.len() as u64, "flow"),
            ranges(flows)
        ));
    }
    if whole > 0 {
        parts.push(plural(whole as u64, "capture-wide finding"));
    }
    parts.join("; ")
}

/// Flow ids as sorted runs: `1-4, 7, 9-10`.
pub(super) fn ranges(ids: &[u32]) -> String {
    let mut v = ids.to_vec();
    v.sort_unstable();
    v.dedup();
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j + 1 < v.len() && v[j + 1] == v[j].saturating_add(1) {
            j += 1;
        }
        parts.push(match j - i {
            0 => v[i].to_string(),
            1 => format!("{}, {}", v[i], v[j]),
            _ => format!("{}-{}", v[i], v[j]),
        });
        i = j + 1;
    }
    parts.join(", ")
}

/// The frames and the Wireshark filter of a finding, indented to `indent`.
fn evidence(out: &mut String, f: &Finding, indent: usize, width: Option<u16>) {
    let pad = " ".repeat(indent);
    if !f.frames.is_empty() {
        let fr: Vec<String> = f.frames.iter().map(|n| n.to_string()).collect();
        let line = format!("frames: {}", fr.join(", "));
        out.push_str(&wrap(&line, &pad, indent + 8, width));
    }
    if let Some(w) = &f.wireshark_filter {
        let first = format!("{pad}wireshark: ");
        out.push_str(&wrap_filter(w, &first, indent + 11, width));
    }
}

/// `text` after `first`, wrapped at spaces to `width` with later lines indented to `indent`;
/// a word longer than a line stays whole (an address, a number). Without a width (output to a
/// pipe) the text stays on one line, its spaces as they were.
pub(super) fn wrap(text: &str, first: &str, indent: usize, width: Option<u16>) -> String {
    wrap_from(text, first, first.width(), indent, width)
}

/// [`wrap`] for a `first` that holds colour escapes: its visible width is the indent.
pub(super) fn wrap_styled(text: &str, first: &str, indent: usize, width: Option<u16>) -> String {
    wrap_from(text, first, indent, indent, width)
}

fn wrap_from(text: &str, first: &str, used: usize, indent: usize, width: Option<u16>) -> String {
    if width.is_none() {
        return format!("{first}{text}\n");
    }
    let words = keep_commands_whole(text);
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    wrap_atoms(&words, first, used, indent, width)
}

/// A `command` in backquotes (up to [`MIN_WRAP`] columns) as one atom, so that it can be
/// copied from one line; everything else word by word.
fn keep_commands_whole(text: &str) -> Vec<String> {
    let mut atoms: Vec<String> = Vec::new();
    let mut open: Option<String> = None;
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        match open.as_mut() {
            Some(span) => {
                span.push(' ');
                span.push_str(word);
            }
            None if word.starts_with('`') && word[1..].contains('`') => {
                atoms.push(word.to_string())
            }
            None if word.starts_with('`') => open = Some(word.to_string()),
            None => atoms.push(word.to_string()),
        }
        if open
            .as_ref()
            .is_some_and(|s| s.len() > 1 && s[1..].contains('`'))
        {
            let span = open.take().unwrap_or_default();
            if span.width() <= MIN_WRAP {
                atoms.push(span);
            } else {
                atoms.extend(span.split(' ').map(str::to_string));
            }
        }
    }
    // An unclosed quote: its words as they were.
    if let Some(span) = open {
        atoms.extend(span.split(' ').map(str::to_string));
    }
    atoms
}

/// A display filter wrapped between its terms (`ip.addr == 10.0.0.1 &&` stays on one line).
fn wrap_filter(filter: &str, first: &str, indent: usize, width: Option<u16>) -> String {
    let terms: Vec<&str> = filter.split(" && ").collect();
    let atoms: Vec<String> = terms
        .iter()
        .enumerate()
        .map(|(i, t)| {
            if i + 1 < terms.len() {
                format!("{t} &&")
            } else {
                (*t).to_string()
            }
        })
        .collect();
    let atoms: Vec<&str> = atoms.iter().map(String::as_str).collect();
    wrap_atoms(&atoms, first, first.width(), indent, width)
}

/// Atoms joined by single spaces, a line broken only between two of them.
fn wrap_atoms(
    atoms: &[&str],
    first: &str,
    used: usize,
    indent: usize,
    width: Option<u16>,
) -> String {
    let mut out = String::from(first);
    let w = width.map_or(usize::MAX, |w| usize::from(w).max(MIN_WRAP));
    let mut col = used;
    let mut line_empty = true;
    for atom in atoms {
        let aw = atom.width();
        if !line_empty && col.saturating_add(1 + aw) > w {
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            col = indent;
            line_empty = true;
        }
        if !line_empty {
            out.push(' ');
            col += 1;
        }
        out.push_str(atom);
        col += aw;
        line_empty = false;
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_keeps_words_whole_and_hangs() {
        let text = "from 2001:db8:1234:5678:9abc:def0:1234:5678 port 443 sent 1,234,567 bytes";
        let got = wrap(text, "  note ", 7, Some(40));
        assert_eq!(
            got,
            "  note from\n       2001:db8:1234:5678:9abc:def0:1234:5678\n       port 443 sent 1,234,567 bytes\n"
        );
        assert!(!wrap(text, "", 0, None).trim_end().contains('\n'));
        let f = "ip.addr == 10.8.0.1 && ip.addr == 65.39.128.135 && tcp.port == 80";
        assert_eq!(
            wrap_filter(f, "w: ", 3, Some(40)),
            "w: ip.addr == 10.8.0.1 &&\n   ip.addr == 65.39.128.135 &&\n   tcp.port == 80\n"
        );
    }

    #[test]
    fn commands_stay_on_one_line() {
        let got = wrap(
            "to see it, run `ethtool -K IFACE gro off` now",
            "",
            0,
            Some(40),
        );
        assert_eq!(got, "to see it, run\n`ethtool -K IFACE gro off` now\n");
    }

    #[test]
    fn flow_ranges() {
        assert_eq!(ranges(&[7, 1, 2, 3, 4, 9, 10]), "1-4, 7, 9, 10");
        assert_eq!(ranges(&[5]), "5");
        assert_eq!(
            ranges(&[u32::MAX, u32::MAX - 1]),
            format!("{}, {}", u32::MAX - 1, u32::MAX)
        );
    }

    #[test]
    fn paint_pads_outside_the_escapes() {
        let s = severity_style(Severity::Error);
        assert_eq!(paint("error", s, 7, false), "error  ");
        let c = paint("error", s, 7, true);
        assert!(
            c.starts_with("\u{1b}[") && c.ends_with("\u{1b}[0m  "),
            "{c:?}"
        );
    }
}
