//! The module graph holds the layering that `src/lib.rs` documents: every `crate::`, `super::`
//! and `self::` path in `src/` (in `use` items, `use` groups and inline paths, inside inline
//! modules too) is resolved to the top-level module it names. The test fails on any import cycle
//! between top-level modules, on any edge the documented layering does not allow, and on a
//! module that `lib.rs` does not document.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

/// Source text with comments, string and char literals blanked (so that a path written in a doc
/// comment or a message is not an import), newlines kept.
fn strip(src: &str) -> String {
    let b: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied().unwrap_or('\0');
        if c == '/' && next == '/' {
            while i < b.len() && b[i] != '\n' {
                out.push(' ');
                i += 1;
            }
        } else if c == '/' && next == '*' {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == '"' || next == '#') && !ident_char(b.get(i.wrapping_sub(1)))
        {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while b.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if b.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            j += 1;
            loop {
                if j >= b.len() {
                    break;
                }
                if b[j] == '"' && (0..hashes).all(|k| b.get(j + 1 + k) == Some(&'#')) {
                    j += 1 + hashes;
                    break;
                }
                j += 1;
            }
            out.extend(b[i..j.min(b.len())].iter().map(|&c| blank(c)));
            i = j;
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < b.len() && b[i] != '"' {
                if b[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < b.len() {
                    out.push(blank(b[i]));
                    i += 1;
                }
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\u{..}'), not a lifetime ('a).
            let end = if next == '\\' {
                (i + 2..b.len().min(i + 12)).find(|&j| b[j] == '\'')
            } else if b.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(e) => {
                    out.extend(std::iter::repeat_n(' ', e - i + 1));
                    i = e + 1;
                }
                None => {
                    out.push(c);
                    i += 1;
                }
            }
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

fn ident_char(c: Option<&char>) -> bool {
    c.is_some_and(|c| c.is_alphanumeric() || *c == '_')
}

/// The module path of a file under `src/` (`a/b.rs` and `a/b/mod.rs` are `[a, b]`).
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap_or(file);
    let mut parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().trim_end_matches(".rs").to_string())
        .collect();
    if matches!(
        parts.last().map(String::as_str),
        Some("mod" | "lib" | "main")
    ) {
        parts.pop();
    }
    parts
}

/// Every path a file names, resolved to absolute module paths (first segment = top module).
fn paths_in(module: &[String], text: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = text.chars().collect();
    let mut found = Vec::new();
    // Inline modules: (brace depth at which the module's body opened, its name).
    let mut inline: Vec<(usize, String)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '{' {
            depth += 1;
            i += 1;
            continue;
        }
        if c == '}' {
            depth = depth.saturating_sub(1);
            while inline.last().is_some_and(|(d, _)| *d > depth) {
                inline.pop();
            }
            i += 1;
            continue;
        }
        if !(c.is_alphabetic() || c == '_') || ident_char(i.checked_sub(1).map(|j| &chars[j])) {
            i += 1;
            continue;
        }
        let word: String = chars[i..]
            .iter()
            .take_while(|c| c.is_alphanumeric() || **c == '_')
            .collect();
        let after = i + word.chars().count();
        let preceded_by_colons = i >= 2 && chars[i - 1] == ':' && chars[i - 2] == ':';
        if word == "mod" {
            let rest: String = chars[after..].iter().take(80).collect();
            let rest = rest.trim_start();
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() && rest[name.len()..].trim_start().starts_with('{') {
                inline.push((depth + 1, name));
            }
            i = after;
            continue;
        }
        if preceded_by_colons || !matches!(word.as_str(), "crate" | "super" | "self") {
            i = after;
            continue;
        }
        let mut here: Vec<String> = module.to_vec();
        here.extend(inline.iter().map(|(_, n)| n.clone()));
        let (expanded, end) = expand_path(&chars, i);
        for segments in expanded {
            if let Some(abs) = resolve(&here, &segments) {
                found.push(abs);
            }
        }
        i = end.max(after);
    }
    found
}

/// Reads the path starting at `start` (`crate::a::{b::C, d}`), with its groups expanded.
fn expand_path(chars: &[char], start: usize) -> (Vec<Vec<String>>, usize) {
    let mut segments = Vec::new();
    let mut i = start;
    loop {
        while i < chars.len() && chars[i].is_whitespace() {
            i += 1;
        }
        if i < chars.len() && chars[i] == '{' {
            // A group: each item is a path of its own below the prefix.
            let mut items = Vec::new();
            let mut j = i + 1;
            loop {
                while j < chars.len() && (chars[j].is_whitespace() || chars[j] == ',') {
                    j += 1;
                }
                if j >= chars.len() || chars[j] == '}' {
                    break;
                }
                let (sub, end) = expand_path(chars, j);
                for s in sub {
                    let mut full = segments.clone();
                    full.extend(s);
                    items.push(full);
                }
                j = end;
                // Skip `as name` and anything else up to the separator.
                while j < chars.len() && chars[j] != ',' && chars[j] != '}' {
                    j += 1;
                }
            }
            return (items, j + 1);
        }
        let word: String = chars[i..]
            .iter()
            .take_while(|c| c.is_alphanumeric() || **c == '_' || **c == '*')
            .collect();
        if word.is_empty() {
            break;
        }
        segments.push(word.clone());
        i += word.chars().count();
        if chars.get(i) == Some(&':') && chars.get(i + 1) == Some(&':') {
            i += 2;
        } else {
            break;
        }
    }
    (vec![segments], i)
}

/// An absolute module path from a path written in module `here`.
fn resolve(here: &[String], segments: &[String]) -> Option<Vec<String>> {
    let mut base: Vec<String> = match segments.first()?.as_str() {
        "crate" => Vec::new(),
        "self" | "super" => here.to_vec(),
        _ => return None,
    };
    let mut rest = segments;
    if rest[0] == "crate" {
        rest = &rest[1..];
    }
    while let Some(first) = rest.first() {
        match first.as_str() {
            "super" => {
                base.pop()?;
            }
            "self" => {}
            _ => break,
        }
        rest = &rest[1..];
    }
    base.extend(rest.iter().cloned());
    Some(base)
}

/// The top-level module graph of the crate rooted at `src`: for each module, the modules it
/// names, each with the files that name it.
fn graph(src: &Path) -> Graph {
    let mut files = Vec::new();
    collect(src, &mut files);
    let mut g: Graph = BTreeMap::new();
    for file in files {
        if file.file_name().is_some_and(|n| n == "main.rs") && file.parent() == Some(src) {
            continue; // the binary is its own crate
        }
        let module = module_of(src, &file);
        let Some(top) = module.first().cloned() else {
            continue; // lib.rs
        };
        let text = strip(&std::fs::read_to_string(&file).unwrap_or_default());
        let entry = g.entry(top.clone()).or_default();
        for path in paths_in(&module, &text) {
            if let Some(target) = path.first()
                && *target != top
            {
                entry.entry(target.clone()).or_default().insert(
                    file.strip_prefix(src)
                        .unwrap_or(&file)
                        .display()
                        .to_string(),
                );
            }
        }
    }
    g
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            collect(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The top-level modules that sit in a cycle, as strongly connected components of two or more.
fn cycles(g: &Graph) -> Vec<Vec<String>> {
    let nodes: Vec<&String> = g.keys().collect();
    let reach = |from: &String| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.clone()];
        while let Some(n) = stack.pop() {
            for m in g.get(&n).into_iter().flat_map(|e| e.keys()) {
                if seen.insert(m.clone()) {
                    stack.push(m.clone());
                }
            }
        }
        seen
    };
    let reaches: BTreeMap<&String, BTreeSet<String>> =
        nodes.iter().map(|n| (*n, reach(n))).collect();
    let mut done = BTreeSet::new();
    let mut out = Vec::new();
    for n in &nodes {
        if done.contains(*n) || !reaches[n].contains(*n) {
            continue;
        }
        let comp: Vec<String> = nodes
            .iter()
            .filter(|m| reaches[n].contains(**m) && reaches[*m].contains(*n))
            .map(|m| (*m).clone())
            .collect();
        done.extend(comp.iter().cloned());
        out.push(comp);
    }
    out
}

/// The layering `lib.rs` documents: `//! - [`name`]: ... Uses: `a`, `b`.` (an item may go on
/// over the next indented lines; `Uses: nothing.`, or `Uses: every module` for the top).
fn documented(lib: &str) -> BTreeMap<String, Option<BTreeSet<String>>> {
    let mut items: Vec<String> = Vec::new();
    for line in lib.lines() {
        let Some(doc) = line.trim_start().strip_prefix("//!") else {
            continue;
        };
        if let Some(item) = doc.strip_prefix(" - [`") {
            items.push(item.to_string());
        } else if doc.starts_with("   ") && !items.is_empty() {
            let last = items.len() - 1;
            items[last].push_str(doc);
        } else {
            items.push(String::new());
        }
    }
    let mut out = BTreeMap::new();
    for item in items {
        let Some((name, rest)) = item.split_once("`]") else {
            continue;
        };
        let uses = rest.rsplit_once("Uses:").map(|(_, u)| u).unwrap_or("");
        if uses.trim_start().starts_with("every module") {
            out.insert(name.to_string(), None);
            continue;
        }
        let allowed: BTreeSet<String> = uses
            .split('`')
            .skip(1)
            .step_by(2)
            .map(str::to_string)
            .collect();
        out.insert(name.to_string(), Some(allowed));
    }
    out
}

/// Every problem with the crate at `root`: cycles, undocumented modules, forbidden edges.
fn problems(root: &Path) -> Vec<String> {
    let src = root.join("src");
    let g = graph(&src);
    let lib = std::fs::read_to_string(src.join("lib.rs")).unwrap_or_default();
    let layers = documented(&lib);
    let mut out = Vec::new();
    for comp in cycles(&g) {
        out.push(format!(
            "{} of {} top-level modules sit in an import cycle: {}",
            comp.len(),
            g.len(),
            comp.join(" -> ")
        ));
    }
    let declared: BTreeSet<String> = lib
        .lines()
        .filter_map(|l| {
            l.trim()
                .strip_prefix("pub mod ")
                .or(l.trim().strip_prefix("mod "))
        })
        .map(|m| m.trim_end_matches(';').to_string())
        .collect();
    for m in &declared {
        if !layers.contains_key(m) {
            out.push(format!("module `{m}` is not documented in lib.rs's Layout"));
        }
    }
    for (from, edges) in &g {
        let allowed = layers.get(from).cloned().unwrap_or(Some(BTreeSet::new()));
        for (to, files) in edges {
            if allowed.as_ref().is_some_and(|a| !a.contains(to)) {
                out.push(format!(
                    "`{from}` uses `{to}` (in {}), which lib.rs does not allow it",
                    files.iter().cloned().collect::<Vec<_>>().join(", ")
                ));
            }
        }
    }
    out
}

#[test]
fn the_crate_has_no_import_cycle_and_keeps_its_documented_layers() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let g = graph(&root.join("src"));
    assert!(g.len() >= 20, "the module graph was not read: {g:?}");
    assert!(
        g.get("runner").is_some_and(|e| e.contains_key("store")),
        "the reader misses a known edge (runner -> store)"
    );
    let found = problems(root);
    assert!(found.is_empty(), "layering problems:\n{}", found.join("\n"));
}

#[test]
fn a_planted_cycle_through_super_chains_groups_and_inline_paths_is_caught() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/layering");
    let g = graph(&root.join("src"));
    // `alpha` names `beta` only in a `use crate::{beta::inner::Thing}` group inside an inline
    // module; `beta::inner` names `alpha` only through `super::super::alpha` in a function body.
    assert!(g["alpha"].contains_key("beta"), "{g:?}");
    assert!(g["beta"].contains_key("alpha"), "{g:?}");
    // A path in a comment or a string is not an edge.
    assert!(!g["gamma"].contains_key("alpha"), "{g:?}");
    let found = problems(&root);
    assert!(
        found
            .iter()
            .any(|p| p.contains("import cycle: alpha -> beta")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|p| p.starts_with("`gamma` uses `beta`")),
        "a forbidden edge is reported: {found:?}"
    );
    assert!(
        found
            .iter()
            .any(|p| p.contains("module `delta` is not documented")),
        "{found:?}"
    );
}
