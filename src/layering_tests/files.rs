//! The layers inside a folder: no import circle among the files of non-test code. Each path a
//! file names (`crate::…`, `super::…`, `self::…`, a child it declares, `use` groups included) is
//! resolved to the deepest file that exists, so `crate::auth::jwt::Claims` is `src/auth/jwt.rs`
//! and `crate::auth::Caller` is `src/auth/mod.rs`. A `mod x;` declaration is not an edge: a
//! parent declaring its children is not an import, but a parent that also imports from a child
//! which imports from it is a circle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::{circle_through, code_only, is_ident, is_test_file, rust_files, src, without_tests};

/// A module path (`["auth", "jwt"]`; the crate root is `[]`) → its file, relative to `src/`.
type Modules = BTreeMap<Vec<String>, String>;

/// The names a file re-exports → the absolute path each stands for.
type Exports = BTreeMap<String, Vec<String>>;

fn module_of(rel: &Path) -> Vec<String> {
    let mut segments: Vec<String> = rel
        .iter()
        .map(|c| c.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if segments.last().is_some_and(|s| s == "mod" || s == "lib") {
        segments.pop();
    }
    segments
}

/// The inline modules of a file (`mod name { … }`, outside tests): where each begins and ends
/// in `code`, and its name, so a `super::` inside one is resolved from there.
fn inline_modules(code: &str) -> Vec<(usize, usize, String)> {
    let mut found = Vec::new();
    for (at, _) in code.match_indices("mod ") {
        if at > 0 && is_ident(code[..at].chars().next_back().unwrap_or(' ')) {
            continue;
        }
        let rest = &code[at + 4..];
        let name: String = rest
            .trim_start()
            .chars()
            .take_while(|&c| is_ident(c))
            .collect();
        let after = rest.trim_start()[name.len()..].trim_start();
        if name.is_empty() || !after.starts_with('{') {
            continue;
        }
        let open = code.len() - after.len();
        let mut depth = 0usize;
        for (j, c) in code[open..].char_indices() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        found.push((open, open + j, name.clone()));
                        break;
                    }
                }
                _ => {}
            }
        }
    }
    found
}

/// The children a file declares with `mod x;`: a path may start with their names.
fn declared_children(code: &str) -> BTreeSet<String> {
    code.match_indices("mod ")
        .filter(|(at, _)| *at == 0 || !is_ident(code[..*at].chars().next_back().unwrap_or(' ')))
        .filter_map(|(at, _)| {
            let rest = code[at + 4..].trim_start();
            let name: String = rest.chars().take_while(|&c| is_ident(c)).collect();
            (!name.is_empty() && rest[name.len()..].trim_start().starts_with(';')).then_some(name)
        })
        .collect()
}

/// What a file re-exports (`pub use child::Name;`): each name → the path it stands for, and
/// where the `pub use` statements are in `code`. A re-export publishes a child's name, it does
/// not use it, so it is no edge; a path through it is followed to the file that holds the name.
fn re_exports(code: &str, module: &[String]) -> (Exports, Vec<(usize, usize)>) {
    let children = declared_children(code);
    let (mut names, mut spans) = (Exports::new(), Vec::new());
    for (at, _) in code.match_indices("use ") {
        let before = code[..at].trim_end();
        let public = before.ends_with("pub")
            || before.ends_with(')')
                && before
                    .rfind("pub(")
                    .is_some_and(|p| !before[p..].contains('\n'));
        if !public || (at > 0 && is_ident(code[..at].chars().next_back().unwrap_or(' '))) {
            continue;
        }
        let end = code[at..].find(';').map_or(code.len(), |e| at + e);
        let mut paths = Vec::new();
        use_tree(&code[at + 4..end], Vec::new(), &mut paths);
        for path in paths {
            if let (Some(name), Some(target)) = (path.last(), absolute(&path, module, &children)) {
                names.insert(name.clone(), target);
            }
        }
        spans.push((at, end));
    }
    (names, spans)
}

/// The paths of the use tree at the start of `text` (`a::b::{c, d::{e, *}}`), each as its
/// segments after `base`; returns where the tree ends.
fn use_tree(text: &str, base: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let skip_space = |i: usize| i + text[i..].len() - text[i..].trim_start().len();
    let mut path = base;
    let mut i = 0;
    loop {
        i = skip_space(i);
        if text[i..].starts_with('{') {
            i += 1;
            loop {
                i = skip_space(i);
                if i >= text.len() || text[i..].starts_with('}') {
                    return (i + 1).min(text.len());
                }
                let used = use_tree(&text[i..], path.clone(), out);
                i = skip_space(i + used);
                // A separator, or something no path holds (skipped, so the reader always moves on).
                if text[i..].starts_with(',')
                    || (used == 0 && i < text.len() && !text[i..].starts_with('}'))
                {
                    i += text[i..].chars().next().map_or(0, char::len_utf8);
                }
            }
        }
        let name: String = text[i..].chars().take_while(|&c| is_ident(c)).collect();
        i += name.len();
        if !name.is_empty() && name != "self" {
            path.push(name);
        }
        if text[i..].starts_with("::") {
            i += 2;
            continue;
        }
        if text[i..].starts_with('*') {
            i += 1;
        }
        out.push(path);
        return i;
    }
}

/// The absolute module path of `segments` named from module `here` (`crate`, `self`, `super`
/// and a declared child resolved), or `None` for a path into another crate.
fn absolute(
    segments: &[String],
    here: &[String],
    children: &BTreeSet<String>,
) -> Option<Vec<String>> {
    let (first, rest) = segments.split_first()?;
    let mut at: Vec<String> = match first.as_str() {
        "crate" => Vec::new(),
        "self" | "super" => here.to_vec(),
        child if children.contains(child) => [here, &[child.to_string()]].concat(),
        _ => return None,
    };
    let mut rest = rest;
    if first == "super" {
        at.pop();
    }
    while let Some(("super", more)) = rest.split_first().map(|(s, m)| (s.as_str(), m)) {
        at.pop();
        rest = more;
    }
    at.extend(rest.iter().cloned());
    Some(at)
}

/// The file that holds `path`: the deepest that exists (the crate root when none does), or,
/// when that file re-exports the next name, the file that name comes from.
fn file_of<'m>(
    path: &[String],
    modules: &'m Modules,
    exports: &BTreeMap<String, Exports>,
) -> Option<&'m String> {
    let mut path = path.to_vec();
    // Bounded: two facades that re-export each other's name would otherwise loop.
    for _ in 0..8 {
        let n = (0..=path.len())
            .rev()
            .find(|&n| modules.contains_key(&path[..n]))?;
        let file = &modules[&path[..n]];
        match path.get(n).and_then(|name| exports.get(file)?.get(name)) {
            Some(target) => path = [target.as_slice(), &path[n + 1..]].concat(),
            None => return Some(file),
        }
    }
    None
}

/// The files of `modules` that `code` (the non-test code of module `module`) imports.
fn file_imports(
    code: &str,
    module: &[String],
    modules: &Modules,
    exports: &BTreeMap<String, Exports>,
) -> BTreeSet<String> {
    let inline = inline_modules(code);
    let (_, published) = re_exports(code, module);
    let children = declared_children(code);
    let starts = ["crate", "super", "self"]
        .into_iter()
        .map(String::from)
        .chain(children.iter().cloned());
    let mut found = BTreeSet::new();
    for start in starts {
        let keyword = format!("{start}::");
        for (at, _) in code.match_indices(&keyword) {
            let before = code[..at].chars().next_back().unwrap_or(' ');
            if is_ident(before)
                || before == ':'
                || published.iter().any(|(s, e)| *s < at && at < *e)
            {
                continue;
            }
            // The module this path is written in: the file's, then each inline module around it.
            let here: Vec<String> = module
                .iter()
                .cloned()
                .chain(
                    inline
                        .iter()
                        .filter(|(s, e, _)| *s < at && at < *e)
                        .map(|m| m.2.clone()),
                )
                .collect();
            let mut paths = Vec::new();
            use_tree(&code[at..], Vec::new(), &mut paths);
            for path in paths {
                let resolved = absolute(&path, &here, &children);
                if let Some(file) = resolved.and_then(|p| file_of(&p, modules, exports)) {
                    found.insert(file.clone());
                }
            }
        }
    }
    found
}

/// Every non-test file of `src/` → the files it imports (itself and the crate root left out).
fn file_graph() -> BTreeMap<String, BTreeSet<String>> {
    let root = src();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    let rels: Vec<&Path> = files
        .iter()
        .map(|p| p.strip_prefix(&root).unwrap())
        .filter(|rel| !is_test_file(rel) && *rel != Path::new("main.rs"))
        .collect();
    let modules: Modules = rels
        .iter()
        .map(|rel| (module_of(rel), rel.display().to_string()))
        .collect();
    let code: BTreeMap<String, String> = rels
        .iter()
        .map(|rel| {
            let text = std::fs::read_to_string(root.join(rel)).unwrap();
            (rel.display().to_string(), without_tests(&code_only(&text)))
        })
        .collect();
    let exports: BTreeMap<String, Exports> = rels
        .iter()
        .map(|rel| {
            let name = rel.display().to_string();
            (name.clone(), re_exports(&code[&name], &module_of(rel)).0)
        })
        .collect();
    let mut edges = BTreeMap::new();
    for rel in rels {
        let name = rel.display().to_string();
        let mut imports = file_imports(&code[&name], &module_of(rel), &modules, &exports);
        imports.retain(|f| *f != name && f != "lib.rs");
        edges.insert(name, imports);
    }
    edges
}

#[test]
fn no_circle_among_the_files_of_a_folder() {
    let edges = file_graph();
    let mut circles: Vec<Vec<String>> = edges
        .keys()
        .filter_map(|f| circle_through(&edges, f))
        .collect();
    // One circle is found once from each of its files: keep the one that starts at its least.
    circles.retain(|c| c.iter().min() == c.first());
    let named: Vec<String> = circles.iter().map(|c| c.join(" → ")).collect();
    assert!(
        named.is_empty(),
        "import circles between files:\n{}",
        named.join("\n")
    );
}

#[test]
fn the_resolver_finds_the_deepest_file_of_each_path() {
    let modules: Modules = [
        ("", "lib.rs"),
        ("auth", "auth/mod.rs"),
        ("auth/jwt", "auth/jwt.rs"),
        ("auth/cache", "auth/cache.rs"),
        ("auth/gate", "auth/gate.rs"),
        ("common", "common/mod.rs"),
        ("common/clock", "common/clock.rs"),
        ("http", "http/mod.rs"),
        ("http/admin", "http/admin/mod.rs"),
        ("http/admin/console", "http/admin/console/mod.rs"),
        ("http/admin/widget", "http/admin/widget.rs"),
    ]
    .into_iter()
    .map(|(m, f)| {
        let m = m
            .split('/')
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect();
        (m, f.to_string())
    })
    .collect();
    let code = without_tests(&code_only(
        r#"
        pub mod console;
        pub mod widget;
        pub use widget::Widget;
        mod hidden { use super::Thing; }
        use super::super::{auth::{self, jwt::Claims}, common};
        use self::console::page;
        fn f() { console::render(); crate::common::clock::now(); my_console::x(); }
        fn g(c: crate::auth::Caller) {}
        // use crate::auth::cache::Cache;
        const S: &str = "super::super::auth::cache";
        #[cfg(test)]
        mod tests { use crate::auth::cache::Cache; }
        "#,
    ));
    let module = ["http".to_string(), "admin".to_string()];
    let facade = [("Caller", "auth/gate/Caller")].map(|(name, path)| {
        (
            name.to_string(),
            path.split('/').map(String::from).collect(),
        )
    });
    let exports = [("auth/mod.rs".to_string(), facade.into())].into();
    let got = file_imports(&code, &module, &modules, &exports);
    let want: BTreeSet<String> = [
        "auth/mod.rs",
        "auth/jwt.rs",
        "auth/gate.rs",
        "common/mod.rs",
        "common/clock.rs",
        "http/admin/console/mod.rs",
        "http/admin/mod.rs",
    ]
    .map(String::from)
    .into();
    assert_eq!(got, want);
    let children = ["console", "widget"].map(String::from).into();
    assert_eq!(declared_children(&code), children);
    let widget: Vec<String> = ["http", "admin", "widget", "Widget"]
        .map(String::from)
        .into();
    assert_eq!(
        re_exports(&code, &module).0,
        [("Widget".to_string(), widget)].into()
    );
}
