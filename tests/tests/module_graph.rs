//! The layout has a direction: in the verifier core, both hosts and the issuer, no module
//! imports a sibling that imports it back, directly or through others.
//!
//! Imports are read from the source text (`crate::a::b`, `super::x`, brace groups), test
//! modules and comments aside. An import between two modules counts between the siblings
//! that contain them (`http::token` using `store::clients` is `http` → `store`); a module using
//! its own parent or child does not count, since `mod` already ties them. Print the graphs with
//! `cargo test -p e2e-tests --test module_graph -- --nocapture`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A module's path below its crate root (`["http", "token"]`; `[]` is the root).
type ModPath = Vec<String>;

/// The source trees whose module graphs must have no cycle.
const TREES: [&str; 4] = [
    "verifier-wasm/core/src",
    "verifier-wasm/envoy/src",
    "verifier-wasm/js/src",
    "issuer/src",
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ sits in the workspace")
        .to_path_buf()
}

/// Every module file below `src`, with its source up to its test module.
fn modules(src: &Path) -> BTreeMap<ModPath, String> {
    let mut found = BTreeMap::new();
    let mut dirs = vec![src.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).expect("below src");
            let mut segments: ModPath = relative
                .iter()
                .map(|s| s.to_string_lossy().trim_end_matches(".rs").to_owned())
                .collect();
            let last = segments.last().cloned().unwrap_or_default();
            if last == "mod" || (segments.len() == 1 && (last == "lib" || last == "main")) {
                segments.pop();
            }
            let text = std::fs::read_to_string(&path).expect("readable source");
            found.insert(segments, without_tests(&text));
        }
    }
    found
}

/// The source before its `#[cfg(test)]` module, without comment lines.
fn without_tests(text: &str) -> String {
    text.lines()
        .take_while(|line| line.trim() != "#[cfg(test)]")
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The module paths `source` (the module at `here`) names through `crate::` and `super::`.
fn imported(here: &ModPath, source: &str) -> Vec<ModPath> {
    let mut paths = Vec::new();
    for (start, _) in source.match_indices("::") {
        // Find the word before this `::` and keep only `crate` and `super` chains' starts.
        let word_start = source[..start]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let word = &source[word_start..start];
        let before = source[..word_start].chars().next_back();
        if before == Some(':') || !(word == "crate" || word == "super") {
            continue;
        }
        let mut base: ModPath = Vec::new();
        let mut rest = &source[word_start..];
        if word == "super" {
            base = here.clone();
            // `super` is the parent of the module the code is in.
            while let Some(tail) = rest.strip_prefix("super::") {
                base.pop();
                rest = tail;
            }
        } else {
            rest = &rest["crate::".len()..];
        }
        group(&base, rest, &mut paths);
    }
    paths
}

/// Reads `a::b::{c, d::e}` after `base`, pushing every path named.
fn group(base: &ModPath, text: &str, out: &mut Vec<ModPath>) {
    let mut path = base.clone();
    let mut rest = text.trim_start();
    loop {
        if let Some(inner) = rest.strip_prefix('{') {
            // Each entry of the group continues the path so far.
            let mut depth = 0usize;
            let mut entry_start = 0usize;
            for (i, c) in inner.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        group(&path, &inner[entry_start..i], out);
                        return;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        group(&path, &inner[entry_start..i], out);
                        entry_start = i + 1;
                    }
                    _ => {}
                }
            }
            return;
        }
        let end = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if end == 0 {
            break;
        }
        path.push(rest[..end].to_owned());
        match rest[end..].strip_prefix("::") {
            Some(tail) => rest = tail.trim_start(),
            None => break,
        }
    }
    out.push(path);
}

/// The sibling graph of one tree: for each parent module, which child uses which child.
fn graph(src: &Path) -> BTreeMap<ModPath, BTreeMap<String, BTreeSet<String>>> {
    let modules = modules(src);
    let mut graph: BTreeMap<ModPath, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for (here, source) in &modules {
        for named in imported(here, source) {
            // The longest known module the path names (the rest are items).
            let Some(target) = (0..=named.len())
                .rev()
                .map(|n| named[..n].to_vec())
                .find(|p| modules.contains_key(p))
            else {
                continue;
            };
            let common = here.iter().zip(&target).take_while(|(a, b)| a == b).count();
            // A module and its own ancestor or descendant are tied by `mod`, not by the import.
            if common == here.len() || common == target.len() {
                continue;
            }
            graph
                .entry(here[..common].to_vec())
                .or_default()
                .entry(here[common].clone())
                .or_default()
                .insert(target[common].clone());
        }
    }
    graph
}

/// The cycles among one parent's children: every strongly connected set of two or more.
fn cycles(edges: &BTreeMap<String, BTreeSet<String>>) -> Vec<BTreeSet<String>> {
    let reaches = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(node) = stack.pop() {
            for next in edges.get(&node).into_iter().flatten() {
                if seen.insert(next.clone()) {
                    stack.push(next.clone());
                }
            }
        }
        seen
    };
    let reach: BTreeMap<&String, BTreeSet<String>> =
        edges.keys().map(|k| (k, reaches(k))).collect();
    let mut found: Vec<BTreeSet<String>> = Vec::new();
    for (node, from_node) in &reach {
        if !from_node.contains(*node) {
            continue;
        }
        let set: BTreeSet<String> = from_node
            .iter()
            .filter(|other| reach.get(other).is_some_and(|r| r.contains(*node)))
            .cloned()
            .collect();
        if !found.contains(&set) {
            found.push(set);
        }
    }
    found
}

#[test]
fn no_module_imports_a_sibling_that_imports_it_back() {
    let mut problems = Vec::new();
    for tree in TREES {
        let graph = graph(&workspace().join(tree));
        println!("{tree}:");
        for (parent, edges) in &graph {
            let parent = if parent.is_empty() {
                "(root)".to_owned()
            } else {
                parent.join("::")
            };
            for (from, to) in edges {
                let to: Vec<&str> = to.iter().map(String::as_str).collect();
                println!("  {parent}: {from} -> {}", to.join(", "));
            }
            for cycle in cycles(edges) {
                let names: Vec<&str> = cycle.iter().map(String::as_str).collect();
                problems.push(format!("{tree} {parent}: {}", names.join(" <-> ")));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "module cycles:\n{}",
        problems.join("\n")
    );
}

#[test]
fn the_reader_sees_imports_in_every_form() {
    let here: ModPath = vec!["http".into(), "token".into()];
    let source = "use crate::store::{self, clients::Client};\nuse super::error::OAuthError;\n\
                  fn f() { crate::audit::write(); }\n// crate::ignored::Comment\n";
    let mut found = imported(&here, &without_tests(source));
    found.sort();
    let names: Vec<String> = found.iter().map(|p| p.join("::")).collect();
    assert_eq!(
        names,
        [
            "audit::write",
            "http::error::OAuthError",
            "store::clients::Client",
            "store::self"
        ]
    );
    let mut edges = BTreeMap::new();
    edges.insert("a".to_owned(), BTreeSet::from(["b".to_owned()]));
    edges.insert("b".to_owned(), BTreeSet::from(["c".to_owned()]));
    edges.insert("c".to_owned(), BTreeSet::from(["a".to_owned()]));
    edges.insert("d".to_owned(), BTreeSet::from(["a".to_owned()]));
    let found = cycles(&edges);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].len(), 3);
}
