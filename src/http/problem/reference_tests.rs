//! `docs/reference.md` is the contract: its "Problem types" section and the table of
//! problem types (`types.rs`) say the same thing, row for row, as `config/reference_tests.rs`
//! holds the settings to it. And no problem `type` is written anywhere but the table.

use std::path::{Path, PathBuf};

use super::{ProblemType, Registry};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The "Problem types" section, up to the next `## ` heading.
fn section() -> String {
    let doc = std::fs::read_to_string(root().join("docs/reference.md")).unwrap();
    let from = doc
        .find("\n## Problem types\n")
        .expect("the section exists");
    let rest = &doc[from + 1..];
    let to = rest[3..].find("\n## ").map_or(rest.len(), |i| i + 3);
    rest[..to].to_string()
}

/// The section's table rows: (slug, status, title column).
fn rows(section: &str) -> Vec<(String, String, String)> {
    section
        .lines()
        .filter_map(|line| {
            let cells: Vec<&str> = line.strip_prefix("| `")?.split(" | ").collect();
            let [slug, status, title, ..] = cells[..] else {
                return None;
            };
            Some((
                slug.trim_end_matches('`').to_string(),
                status.to_string(),
                title.trim_end_matches(" |").to_string(),
            ))
        })
        .collect()
}

#[test]
fn every_problem_type_is_in_the_reference_with_its_status_and_title() {
    let section = section();
    let rows = rows(&section);
    let mut wrong = Vec::new();
    for &kind in ProblemType::ALL {
        match kind.registry() {
            Registry::Cutover => {
                let Some((_, status, title)) = rows.iter().find(|r| r.0 == kind.slug()) else {
                    wrong.push(format!("{} (no row)", kind.slug()));
                    continue;
                };
                if *status != kind.status_u16().to_string() {
                    wrong.push(format!(
                        "{} (status {status}, not {})",
                        kind.slug(),
                        kind.status_u16()
                    ));
                }
                // The column may go on after the title: what the body adds, when it is answered.
                let rest = title.strip_prefix(kind.title());
                if !rest.is_some_and(|r| r.is_empty() || r.starts_with([' ', ':', '('])) {
                    wrong.push(format!(
                        "{} (title `{title}`, not `{}`)",
                        kind.slug(),
                        kind.title()
                    ));
                }
            }
            // Registered types are named by their URI, in a paragraph that gives their status.
            Registry::Iana => {
                let documented = section.split("\n\n").any(|paragraph| {
                    paragraph.contains(&format!("`{}`", kind.uri()))
                        && paragraph.contains(&format!("A {}", kind.status_u16()))
                });
                if !documented {
                    wrong.push(format!("{} (no paragraph with its status)", kind.uri()));
                }
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "docs/reference.md's problem types: {wrong:?}"
    );
}

#[test]
fn every_documented_problem_type_is_in_the_table() {
    let rows = rows(&section());
    assert!(rows.len() > 10, "the table was not found: {rows:?}");
    let unknown: Vec<_> = rows
        .iter()
        .filter(|(slug, ..)| {
            !ProblemType::ALL
                .iter()
                .any(|k| k.registry() == Registry::Cutover && k.slug() == slug)
        })
        .collect();
    assert!(
        unknown.is_empty(),
        "documented but never answered: {unknown:?}"
    );
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// A body built by hand elsewhere would name its type there: only the table writes one.
#[test]
fn no_problem_type_is_written_outside_the_table() {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let table = root().join("src/http/problem/types.rs");
    let mut found = Vec::new();
    for file in files.iter().filter(|f| **f != table) {
        let stem = file.file_stem().unwrap().to_string_lossy();
        if stem == "tests" || stem.ends_with("_tests") {
            continue;
        }
        let full = std::fs::read_to_string(file).unwrap();
        let code = full.split("#[cfg(test)]").next().unwrap_or_default();
        for needle in [
            "\"urn:cutover:problem:",
            "http-problem-types#",
            "\"about:blank\"",
        ] {
            if code.contains(needle) {
                found.push(format!("{} ({needle})", file.display()));
            }
        }
    }
    assert!(
        found.is_empty(),
        "problem types written outside the table: {found:?}"
    );
}
