//! The layers, checked from the source: no circle among the top-level modules of `src/` (in
//! code that is not a test), and nothing outside the HTTP layer, the composition root and the
//! command line imports `crate::http` or an actix crate (docs/architecture.md, "Layers"). The
//! same holds among the files of a folder (`files.rs`).

mod files;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The modules that may speak HTTP: the layer itself, the composition root and the CLI (which
/// serves and prints the OpenAPI document).
const HTTP_ALLOWED: [&str; 3] = ["http", "startup", "cli"];

const ACTIX_CRATES: [&str; 6] = [
    "actix_web",
    "actix_http",
    "actix_server",
    "actix_service",
    "actix_multipart",
    "actix_cors",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// Test-only files (`tests.rs`, `*_tests.rs`, and what a `*_tests/` folder holds) are test code.
fn is_test_file(rel: &Path) -> bool {
    rel.iter().any(|c| {
        let c = c.to_string_lossy();
        let stem = c.trim_end_matches(".rs");
        stem == "tests" || stem.ends_with("_tests")
    })
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

/// The code of a file without comments, string and char literals (each replaced by a space),
/// so that braces and paths are only those of the code.
fn code_only(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'/' if b.get(i + 1) == Some(&b'/') => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
            }
            b'/' if b.get(i + 1) == Some(&b'*') => {
                let end = text[i + 2..].find("*/").map_or(b.len(), |e| i + 2 + e + 2);
                i = end;
                out.push(' ');
            }
            b'r' if matches!(b.get(i + 1), Some(b'"' | b'#'))
                && (i == 0 || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'_')) =>
            {
                let hashes = b[i + 1..].iter().take_while(|&&c| c == b'#').count();
                if b.get(i + 1 + hashes) != Some(&b'"') {
                    out.push('r');
                    i += 1;
                    continue;
                }
                let close = format!("\"{}", "#".repeat(hashes));
                let start = i + 2 + hashes;
                i = text[start..]
                    .find(&close)
                    .map_or(b.len(), |e| start + e + close.len());
                out.push(' ');
            }
            b'"' => {
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                out.push(' ');
            }
            b'\'' => {
                // A char literal ('x', '\n', '{'), or a lifetime ('a), which is kept.
                if b.get(i + 1) == Some(&b'\\') {
                    i += 2;
                    while i < b.len() && b[i] != b'\'' {
                        i += 1;
                    }
                    i += 1;
                    out.push(' ');
                } else if let Some(c) = text[i + 1..].chars().next()
                    && text[i + 1 + c.len_utf8()..].starts_with('\'')
                {
                    i += 1 + c.len_utf8() + 1;
                    out.push(' ');
                } else {
                    out.push('\'');
                    i += 1;
                }
            }
            _ => {
                let c = text[i..].chars().next().unwrap();
                out.push(c);
                i += c.len_utf8();
            }
        }
    }
    out
}

/// `code` without the items behind `#[cfg(test)]` (a test module or function).
fn without_tests(code: &str) -> String {
    let mut out = String::with_capacity(code.len());
    let mut rest = code;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        // The item ends at its `;` or at the brace that closes its first `{`.
        let (Some(open), semi) = (after.find('{'), after.find(';')) else {
            rest = "";
            break;
        };
        if semi.is_some_and(|s| s < open) {
            rest = &after[semi.unwrap() + 1..];
            continue;
        }
        let mut depth = 0usize;
        let mut end = after.len();
        for (j, c) in after[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        end = open + j + 1;
                        break;
                    }
                }
                _ => {}
            }
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The top-level modules `code` names through `crate::`, including inside `use crate::{…}`.
fn crate_imports(code: &str, tops: &BTreeSet<String>) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for (at, _) in code.match_indices("crate::") {
        if at > 0 && is_ident(code[..at].chars().next_back().unwrap()) {
            continue;
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 1;
            let mut start = 0;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' => depth -= 1,
                    _ => {}
                }
                if depth == 1 && (c == ',' || j == 0) || depth == 0 {
                    let from = if j == 0 { 0 } else { start };
                    let name: String = group[from..]
                        .trim_start_matches([',', ' ', '\n', '\t'])
                        .chars()
                        .take_while(|&c| is_ident(c))
                        .collect();
                    if tops.contains(&name) {
                        found.insert(name);
                    }
                    start = j + 1;
                }
                if depth == 0 {
                    break;
                }
            }
        } else {
            let name: String = rest.chars().take_while(|&c| is_ident(c)).collect();
            if tops.contains(&name) {
                found.insert(name);
            }
        }
    }
    found
}

fn uses_actix(code: &str) -> bool {
    ACTIX_CRATES.iter().any(|krate| {
        code.match_indices(krate).any(|(at, _)| {
            let before_ok = at == 0 || !is_ident(code[..at].chars().next_back().unwrap());
            before_ok && code[at + krate.len()..].starts_with("::")
        })
    })
}

struct Graph {
    edges: BTreeMap<String, BTreeSet<String>>,
    actix: BTreeSet<String>,
}

fn graph() -> Graph {
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let top_of = |path: &Path| -> String {
        let rel = path.strip_prefix(&root).unwrap();
        let first = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy();
        first.trim_end_matches(".rs").to_string()
    };
    let tops: BTreeSet<String> = files
        .iter()
        .map(|p| top_of(p))
        .filter(|t| t != "lib" && t != "main")
        .collect();
    let mut edges: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut actix = BTreeSet::new();
    for path in &files {
        let top = top_of(path);
        if !tops.contains(&top) || is_test_file(path.strip_prefix(&root).unwrap()) {
            continue;
        }
        let code = without_tests(&code_only(&std::fs::read_to_string(path).unwrap()));
        let imports = crate_imports(&code, &tops);
        edges
            .entry(top.clone())
            .or_default()
            .extend(imports.into_iter().filter(|m| *m != top));
        if uses_actix(&code) {
            actix.insert(format!("{}", path.strip_prefix(&root).unwrap().display()));
        }
    }
    Graph { edges, actix }
}

/// A circle through `from`, if there is one: the path back to it.
fn circle_through(edges: &BTreeMap<String, BTreeSet<String>>, from: &str) -> Option<Vec<String>> {
    let mut stack = vec![(from.to_string(), vec![from.to_string()])];
    let mut seen = BTreeSet::new();
    while let Some((at, path)) = stack.pop() {
        for next in edges.get(&at).into_iter().flatten() {
            if next == from {
                let mut circle = path.clone();
                circle.push(from.to_string());
                return Some(circle);
            }
            if seen.insert(next.clone()) {
                let mut longer = path.clone();
                longer.push(next.clone());
                stack.push((next.clone(), longer));
            }
        }
    }
    None
}

#[test]
fn no_circle_among_the_top_level_modules() {
    let g = graph();
    let circles: Vec<String> = g
        .edges
        .keys()
        .filter_map(|m| circle_through(&g.edges, m))
        .map(|c| c.join(" → "))
        .collect();
    assert!(
        circles.is_empty(),
        "import circles:\n{}",
        circles.join("\n")
    );
}

#[test]
fn only_the_http_layer_the_composition_root_and_the_cli_know_http() {
    let g = graph();
    let importers: Vec<&String> = g
        .edges
        .iter()
        .filter(|(m, to)| to.contains("http") && !HTTP_ALLOWED.contains(&m.as_str()))
        .map(|(m, _)| m)
        .collect();
    assert!(
        importers.is_empty(),
        "modules importing crate::http: {importers:?}"
    );
    let actix: Vec<&String> = g
        .actix
        .iter()
        .filter(|f| !HTTP_ALLOWED.iter().any(|m| f.starts_with(m)))
        .collect();
    assert!(
        actix.is_empty(),
        "actix used outside the HTTP layer: {actix:?}"
    );
}

#[test]
fn the_reader_sees_code_not_comments_strings_or_tests() {
    let tops: BTreeSet<String> = ["auth", "http", "ledger"].map(String::from).into();
    let code = without_tests(&code_only(
        r##"
        use crate::{auth::Caller, ledger};
        // use crate::http::problem::ApiError;
        const S: &str = "crate::http";
        const R: &str = r#"{ crate::http }"#;
        const C: char = '{';
        fn f<'a>(x: &'a str) {}
        #[cfg(test)]
        mod tests { use crate::http::state::AppState; fn g() { let _ = "}"; } }
        fn after() { actix_web::web::Data::new(1); }
        "##,
    ));
    assert_eq!(
        crate_imports(&code, &tops),
        ["auth", "ledger"].map(String::from).into()
    );
    assert!(uses_actix(&code));
    assert!(!uses_actix("fn f() { my_actix_web::x(); }"));
}
