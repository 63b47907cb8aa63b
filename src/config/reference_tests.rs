//! `docs/reference.md` is the contract: every `CUTOVER_*` setting the code reads must be in it.
//! The names come from the sections' declarations AND from a scan of `src/` for `"CUTOVER_`
//! string literals, so a variable read outside the config (the logger's) is caught too.

use std::path::{Path, PathBuf};

use super::all_settings;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn reference() -> String {
    std::fs::read_to_string(root().join("docs/reference.md")).expect("docs/reference.md exists")
}

/// The table row of a setting in the reference: the line that starts with its name.
fn row<'a>(doc: &'a str, env_name: &str) -> Option<&'a str> {
    let cell = format!("| `{env_name}` |");
    doc.lines().find(|line| line.starts_with(&cell))
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

/// Every `"CUTOVER_NAME` literal in the production code of `src/` (a name of upper-case letters,
/// digits and `_`). Test code names made-up settings on purpose, so test files and everything
/// from a file's first `#[cfg(test)]` on (the test module, by convention last) are left out.
fn names_in_source() -> Vec<(String, PathBuf)> {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    let mut names = Vec::new();
    for file in files {
        let stem = file.file_stem().unwrap().to_string_lossy();
        if stem == "tests" || stem.ends_with("_tests") {
            continue;
        }
        let full = std::fs::read_to_string(&file).unwrap();
        let text = full.split("#[cfg(test)]").next().unwrap_or_default();
        for (at, _) in text.match_indices("\"CUTOVER_") {
            let name: String = text[at + 1..]
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            // A prefix alone (`"CUTOVER_"`, used to strip or build names) is not a setting.
            if name.len() > "CUTOVER_".len() {
                names.push((name, file.clone()));
            }
        }
    }
    names
}

#[test]
fn every_declared_setting_has_a_row_in_the_reference_with_its_default() {
    let doc = reference();
    let mut missing = Vec::new();
    for s in all_settings() {
        match row(&doc, &s.env_name()) {
            None => missing.push(format!("{} (no row)", s.env_name())),
            Some(line) if !s.default.is_empty() && !line.contains(&format!("`{}`", s.default)) => {
                missing.push(format!(
                    "{} (default `{}` not in its row)",
                    s.env_name(),
                    s.default
                ))
            }
            Some(_) => {}
        }
    }
    assert!(missing.is_empty(), "docs/reference.md lacks: {missing:?}");
}

#[test]
fn every_cutover_variable_named_in_the_source_is_in_the_reference() {
    let doc = reference();
    let found = names_in_source();
    assert!(
        found.iter().any(|(name, _)| name == "CUTOVER_LOG"),
        "the scan finds the logger's variable in src/telemetry.rs"
    );
    let missing: Vec<_> = found
        .iter()
        .filter(|(name, _)| row(&doc, name).is_none())
        .map(|(name, file)| format!("{name} ({})", file.display()))
        .collect();
    assert!(missing.is_empty(), "docs/reference.md lacks: {missing:?}");
}

#[test]
fn every_setting_is_declared_once() {
    let mut names: Vec<_> = all_settings().map(|s| s.name).collect();
    let count = names.len();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), count, "a setting is declared by two sections");
}
