//! The layout rules of docs/architecture.md, checked on the source tree: which module may import
//! which (data flows one way), files under 600 lines, and a `//!` line opening every file.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::root;

/// Each top-level module and the crate modules it may use. The stages are listed in pipeline
/// order; `flow::side` (the `Side`/`PerSide`/`Direction` types) is a leaf that the flow stage's
/// engines (`tcp`, `gro`, `quic`) may use without depending on the flow table, and
/// `tcp::stats` (bounded sample sets) a leaf the QUIC engine shares with TCP's.
const ALLOWED: &[(&str, &[&str])] = &[
    ("units", &[]),
    ("evidence", &[]),
    ("atomic", &[]),
    ("explain", &[]),
    ("capture", &[]),
    ("decode", &["capture"]),
    ("tcp", &["decode", "evidence", "flow::side"]),
    ("gro", &["decode", "evidence", "tcp", "flow::side"]),
    ("quic", &["decode", "evidence", "flow::side", "tcp::stats"]),
    ("qlog", &[]),
    (
        "flow",
        &["capture", "decode", "evidence", "tcp", "gro", "quic"],
    ),
    (
        "analysis",
        &[
            "capture", "decode", "evidence", "flow", "gro", "qlog", "quic", "tcp", "units",
        ],
    ),
    (
        "report",
        &[
            "analysis", "capture", "decode", "flow", "gro", "quic", "tcp", "units",
        ],
    ),
    (
        "plot",
        &["atomic", "decode", "flow", "quic", "tcp", "units"],
    ),
    ("policy", &["analysis", "units"]),
    ("cli", &["analysis", "gro", "plot", "units"]),
    (
        "pipeline",
        &[
            "analysis", "capture", "decode", "flow", "gro", "plot", "report", "tcp",
        ],
    ),
    (
        "commands",
        &[
            "analysis", "atomic", "capture", "cli", "decode", "explain", "flow", "gro", "pipeline",
            "plot", "policy", "qlog", "quic", "report", "tcp", "units",
        ],
    ),
];

/// Files may not grow beyond this many lines (the style guide's limit).
const MAX_LINES: usize = 600;

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).expect("readable source folder") {
        let p = e.expect("dir entry").path();
        if p.is_dir() {
            sources(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The library's source files (not the tests, not the binary's entry), relative to `src/`.
fn library_files() -> Vec<(String, String)> {
    let src = root().join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    files.sort();
    files
        .into_iter()
        .filter_map(|p| {
            let rel = p.strip_prefix(&src).ok()?.to_string_lossy().into_owned();
            let text = fs::read_to_string(&p).ok()?;
            Some((rel, text))
        })
        .filter(|(rel, _)| !rel.starts_with("tests/"))
        .collect()
}

/// The leaf submodules another module may use without its parent: they import nothing.
const LEAVES: &[(&str, &str)] = &[
    ("flow::side", "flow/side.rs"),
    ("tcp::stats", "tcp/stats.rs"),
];

/// The crate modules a file uses outside its tests: `crate::X`, or a leaf (`flow::side`).
fn imports(text: &str) -> Vec<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or(text);
    let mut out = Vec::new();
    for (i, _) in code.match_indices("crate::") {
        let rest = &code[i + "crate::".len()..];
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        let leaf = LEAVES.iter().map(|(l, _)| *l).find(|l| {
            l.split_once("::").is_some_and(|(m, sub)| {
                m == name && rest[name.len()..].starts_with(&format!("::{sub}"))
            })
        });
        let full = leaf.map_or(name, str::to_string);
        if !full.is_empty() && !out.contains(&full) {
            out.push(full);
        }
    }
    out
}

#[test]
fn modules_import_only_what_the_layering_allows() {
    let mut wrong = Vec::new();
    for (rel, text) in library_files() {
        let top = rel.split('/').next().unwrap_or("").trim_end_matches(".rs");
        if matches!(top, "main" | "lib") {
            continue;
        }
        let Some((_, allowed)) = ALLOWED.iter().find(|(m, _)| *m == top) else {
            wrong.push(format!(
                "{rel}: module `{top}` is not in the layering table"
            ));
            continue;
        };
        let leaf = LEAVES.iter().any(|(_, file)| rel == *file);
        for used in imports(&text) {
            let own = used == top || used.starts_with(&format!("{top}::"));
            let ok = if leaf {
                false
            } else {
                own || allowed.contains(&used.as_str())
                    || LEAVES.iter().any(|(l, _)| {
                        used == *l && allowed.contains(&l.split("::").next().unwrap_or(""))
                    })
            };
            if !ok {
                wrong.push(format!("{rel} uses crate::{used}"));
            }
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[test]
fn files_are_small_and_say_what_they_own() {
    let mut wrong = Vec::new();
    let src = root().join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    for p in files {
        let text = fs::read_to_string(&p).expect("readable");
        let rel = p.strip_prefix(&src).unwrap_or(&p).display().to_string();
        let lines = text.lines().count();
        if lines > MAX_LINES {
            wrong.push(format!("{rel}: {lines} lines (at most {MAX_LINES})"));
        }
        if !text.starts_with("//!") {
            wrong.push(format!("{rel}: does not open with a `//!` line"));
        }
    }
    assert!(wrong.is_empty(), "\n{}", wrong.join("\n"));
}

#[test]
fn the_layering_check_sees_imports() {
    // The rule above would pass vacuously if the scan found nothing.
    let used = imports("use crate::flow::side::Side;\nuse crate::decode::{Packet};\n");
    assert_eq!(used, ["flow::side", "decode"]);
    let used = imports("use crate::flow::{Flow};\n#[cfg(test)]\nuse crate::report::Report;");
    assert_eq!(used, ["flow"]);
    let used = imports("use crate::tcp::stats::Samples;\nuse crate::tcp::SeqNum;\n");
    assert_eq!(used, ["tcp::stats", "tcp"]);
}
