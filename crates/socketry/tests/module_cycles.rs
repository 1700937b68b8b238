//! No module of the library imports another that imports it back, directly or around a
//! circle. The test reads every `.rs` file under `src/`, maps it to its module path, collects
//! the paths it names through `crate::` (and `super::`, `self::`), in `use` declarations and
//! inline, resolves each to the deepest module file that exists, and fails listing every
//! cycle: every strongly connected component of that graph with more than one file.
//!
//! A parent's `mod child;` declaration is not an import; what a module names through a path
//! is: a child's `super::Item`, a parent's `child::f()` or `pub use child::Item`, anything
//! reached through `crate::`. `$crate::` inside a macro names the macro's own module, and
//! comments and string literals are skipped. Code under `#[cfg(test)]` (unit-test modules,
//! inline or in their own files) is not part of the library's graph: a test may build its
//! inputs with anything.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

/// Cycles that are known and owned by work in progress, as the sorted files of each
/// strongly connected component (relative to `src/`), of the whole graph or of the graph
/// without endpoint/mod.rs and address/. Each entry must match a component exactly: a new
/// cycle, or a known one that grew, fails the test, and so does an entry that no longer
/// occurs, so that the list shrinks as the cycles are removed.
const KNOWN_CYCLES: &[&[&str]] = &[];

/// The files the known cycles may go through. Without them the graph must have no cycle at
/// all, so that no other circle hides inside a known one.
fn tolerated(file: &str) -> bool {
    file == "endpoint/mod.rs" || file.starts_with("address/")
}

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let files = module_files(&src);
    assert!(
        files.len() > 20,
        "found only {} module files under {}",
        files.len(),
        src.display()
    );
    let graph = import_graph(&src, &files);
    let components = cycles(&graph);

    let known: BTreeSet<BTreeSet<String>> = KNOWN_CYCLES
        .iter()
        .map(|c| c.iter().map(|f| (*f).to_owned()).collect())
        .collect();
    let mut report = String::new();
    for component in &components {
        if known.contains(component) {
            continue;
        }
        report.push_str(&describe_cycle(component, &graph));
        // A known cycle that changed: say how, which is what the reader needs first.
        for entry in known.iter().filter(|k| !k.is_disjoint(component)) {
            let joined: Vec<_> = component.difference(entry).cloned().collect();
            let left: Vec<_> = entry.difference(component).cloned().collect();
            report.push_str(&format!(
                "  (differs from a KNOWN_CYCLES entry: joined by [{}], left by [{}])\n",
                joined.join(", "),
                left.join(", ")
            ));
        }
    }
    let without: Graph = graph
        .iter()
        .filter(|(from, _)| !tolerated(from))
        .map(|(from, edges)| {
            let kept = edges.iter().filter(|(to, _)| !tolerated(to));
            (
                from.clone(),
                kept.map(|(t, i)| (t.clone(), i.clone())).collect(),
            )
        })
        .collect();
    let inner = cycles(&without);
    for component in &inner {
        if components.contains(component) || known.contains(component) {
            continue; // Reported above already, or known.
        }
        report.push_str("\nwithout endpoint/mod.rs and address/, still:");
        report.push_str(&describe_cycle(component, &without));
    }
    for entry in &known {
        if !components.contains(entry) && !inner.contains(entry) {
            report.push_str(&format!(
                "\nKNOWN_CYCLES lists a cycle that no longer occurs; remove it:\n  {}\n",
                entry.iter().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
    }
    assert!(report.is_empty(), "\n{report}");
}

/// An import of one module file by another: where it is written, and the path.
#[derive(Debug, Clone)]
struct Import {
    line: usize,
    path: String,
}

/// For each file (relative to `src/`), the other files it imports, each with its first
/// import.
type Graph = BTreeMap<String, BTreeMap<String, Import>>;

/// Every `.rs` file under `src`, by its module path (`crate::endpoint::tcp`).
fn module_files(src: &Path) -> BTreeMap<Vec<String>, String> {
    let mut found = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let relative = relative(src, &path);
                found.insert(module_path(&relative), relative);
            }
        }
    }
    found
}

fn relative(src: &Path, path: &Path) -> String {
    path.strip_prefix(src)
        .expect("under src")
        .to_string_lossy()
        .into_owned()
}

/// `endpoint/unix/mod.rs` -> `crate::endpoint::unix`; `lib.rs` -> `crate`.
fn module_path(relative: &str) -> Vec<String> {
    let mut parts: Vec<String> = vec!["crate".to_owned()];
    let path = PathBuf::from(relative);
    let components: Vec<String> = path
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    for (i, part) in components.iter().enumerate() {
        let last = i + 1 == components.len();
        if !last {
            parts.push(part.clone());
            continue;
        }
        let stem = part.trim_end_matches(".rs");
        if !(stem == "mod" || (stem == "lib" && components.len() == 1)) {
            parts.push(stem.to_owned());
        }
    }
    parts
}

fn import_graph(src: &Path, files: &BTreeMap<Vec<String>, String>) -> Graph {
    // Inline modules (`mod tests { ... }`) resolve to the file they are written in.
    let mut modules: BTreeMap<Vec<String>, String> = files.clone();
    let mut parsed = Vec::new();
    let mut test_files = BTreeSet::new();
    for (module, file) in files {
        let text = fs::read_to_string(src.join(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        let tokens = tokenize(&strip(&text));
        // Once to learn the modules the file declares, once to read its paths with them.
        let declared = paths_in(&tokens, module, &BTreeSet::new()).declared;
        let found = paths_in(&tokens, module, &declared);
        for inline in &found.inline_modules {
            modules.insert(inline.clone(), file.clone());
        }
        test_files.extend(
            found
                .test_modules
                .iter()
                .filter_map(|m| files.get(m).cloned()),
        );
        parsed.push((file.clone(), found.paths));
    }
    let mut graph = Graph::new();
    for (file, paths) in parsed {
        if test_files.contains(&file) {
            continue;
        }
        let edges = graph.entry(file.clone()).or_default();
        for (line, path) in paths {
            let Some(target) = resolve(&path, &modules) else {
                continue;
            };
            if target != file && !test_files.contains(&target) {
                edges.entry(target).or_insert(Import {
                    line,
                    path: path.join("::"),
                });
            }
        }
    }
    graph
}

/// The file of the deepest module that `path` names.
fn resolve(path: &[String], modules: &BTreeMap<Vec<String>, String>) -> Option<String> {
    (1..=path.len())
        .rev()
        .find_map(|n| modules.get(&path[..n]).cloned())
}

/// Source text with comments and the contents of string and character literals blanked
/// out, keeping line breaks so that line numbers stay true.
fn strip(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
        } else if c == 'r' && (next == Some('"') || next == Some('#')) && !ident_before(&chars, i) {
            // A raw string: r"..." or r#"..."#.
            let mut j = i + 1;
            let mut hashes = 0;
            while chars.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if chars.get(j) != Some(&'"') {
                out.push(c);
                i += 1;
                continue;
            }
            out.push('"');
            j += 1;
            loop {
                match chars.get(j) {
                    None => break,
                    Some('"') if (0..hashes).all(|k| chars.get(j + 1 + k) == Some(&'#')) => {
                        j += 1 + hashes;
                        break;
                    }
                    Some(&other) => {
                        out.push(blank(other));
                        j += 1;
                    }
                }
            }
            out.push('"');
            i = j;
        } else if c == '"' {
            out.push('"');
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < chars.len() {
                    out.push(blank(chars[i]));
                    i += 1;
                }
            }
            out.push('"');
            i += 1;
        } else if c == '\'' {
            // A character literal ('x', '\n', '\u{1F600}'), or else a lifetime.
            let end = if next == Some('\\') {
                (i + 3..chars.len()).find(|&j| chars[j] == '\'')
            } else if chars.get(i + 2) == Some(&'\'') {
                Some(i + 2)
            } else {
                None
            };
            match end {
                Some(end) => {
                    out.push_str("' '");
                    i = end + 1;
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

fn ident_before(chars: &[char], i: usize) -> bool {
    i > 0 && (chars[i - 1].is_alphanumeric() || chars[i - 1] == '_')
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Ident(String),
    PathSep,
    Dollar,
    Punct(char),
}

/// Identifiers, `::`, `$` and single punctuation, each with its line.
fn tokenize(text: &str) -> Vec<(usize, Token)> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\n' {
            line += 1;
            i += 1;
        } else if c.is_whitespace() {
            i += 1;
        } else if c.is_alphabetic() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            tokens.push((line, Token::Ident(word.trim_start_matches("r#").to_owned())));
        } else if c == ':' && chars.get(i + 1) == Some(&':') {
            tokens.push((line, Token::PathSep));
            i += 2;
        } else if c == '$' {
            tokens.push((line, Token::Dollar));
            i += 1;
        } else {
            tokens.push((line, Token::Punct(c)));
            i += 1;
        }
    }
    tokens
}

/// What one file names: module paths with their lines, the inline modules it declares, and
/// every module it declares (`mod child;` and inline ones).
struct Found {
    paths: Vec<(usize, Vec<String>)>,
    inline_modules: Vec<Vec<String>>,
    declared: BTreeSet<Vec<String>>,
    /// Modules in files of their own that only tests compile (`#[cfg(test)] mod tests;`).
    test_modules: Vec<Vec<String>>,
}

/// Keywords that start an item, which a pending `#[cfg(test)]` then belongs to.
const ITEM_KEYWORDS: &[&str] = &[
    "fn",
    "struct",
    "enum",
    "impl",
    "trait",
    "const",
    "static",
    "type",
    "macro_rules",
];

/// Whether the tokens at `at` are `#[cfg(test)]`.
fn is_cfg_test(tokens: &[(usize, Token)], at: usize) -> bool {
    let expected = [
        Token::Punct('#'),
        Token::Punct('['),
        Token::Ident("cfg".to_owned()),
        Token::Punct('('),
        Token::Ident("test".to_owned()),
        Token::Punct(')'),
        Token::Punct(']'),
    ];
    tokens.len() >= at + expected.len()
        && tokens[at..at + expected.len()]
            .iter()
            .zip(&expected)
            .all(|((_, token), want)| token == want)
}

/// The paths in `tokens`, a file of module `file_module` that declares the modules in
/// `declared` (which relative paths may start from).
fn paths_in(
    tokens: &[(usize, Token)],
    file_module: &[String],
    declared: &BTreeSet<Vec<String>>,
) -> Found {
    let mut found = Found {
        paths: Vec::new(),
        inline_modules: Vec::new(),
        declared: BTreeSet::new(),
        test_modules: Vec::new(),
    };
    // The inline modules we are inside, with the brace depth each one's body starts at, and
    // how many of them are test-only.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut test_depths: Vec<usize> = Vec::new();
    let mut cfg_test = false;
    let mut depth = 0usize;
    let mut i = 0;
    let current = |inline: &[(String, usize)]| -> Vec<String> {
        let mut module = file_module.to_vec();
        module.extend(inline.iter().map(|(name, _)| name.clone()));
        module
    };
    while i < tokens.len() {
        let (line, token) = &tokens[i];
        match token {
            Token::Punct('{') => {
                depth += 1;
                i += 1;
            }
            Token::Punct('}') => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                if test_depths.last() == Some(&depth) {
                    test_depths.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
            }
            Token::Punct('#') if is_cfg_test(tokens, i) => {
                cfg_test = true;
                i += 1;
            }
            Token::Ident(word) if ITEM_KEYWORDS.contains(&word.as_str()) => {
                cfg_test = false;
                i += 1;
            }
            Token::Ident(word) if word == "mod" => {
                let test_only = std::mem::take(&mut cfg_test);
                match (tokens.get(i + 1), tokens.get(i + 2)) {
                    (Some((_, Token::Ident(name))), Some((_, Token::Punct('{')))) => {
                        if test_only {
                            test_depths.push(depth + 1);
                        }
                        inline.push((name.clone(), depth + 1));
                        found.inline_modules.push(current(&inline));
                        found.declared.insert(current(&inline));
                    }
                    (Some((_, Token::Ident(name))), Some((_, Token::Punct(';')))) => {
                        let mut child = current(&inline);
                        child.push(name.clone());
                        if test_only || !test_depths.is_empty() {
                            found.test_modules.push(child.clone());
                        }
                        found.declared.insert(child);
                    }
                    _ => {}
                }
                i += 1;
            }
            _ if !test_depths.is_empty() => i += 1,
            Token::Ident(word) if word == "use" => {
                cfg_test = false;
                let module = current(&inline);
                let mut j = i + 1;
                let mut trees = Vec::new();
                use_tree(tokens, &mut j, Vec::new(), &mut trees);
                for (tree_line, path) in trees {
                    if let Some(absolute) = absolute(&path, &module, declared) {
                        found.paths.push((tree_line, absolute));
                    }
                }
                i = j.max(i + 1);
            }
            Token::Ident(word)
                if matches!(tokens.get(i + 1), Some((_, Token::PathSep)))
                    && !matches!(
                        i.checked_sub(1).and_then(|p| tokens.get(p)),
                        Some((_, Token::Dollar | Token::PathSep | Token::Punct('.')))
                    ) =>
            {
                let mut path = vec![word.clone()];
                let mut j = i + 1;
                while let (Some((_, Token::PathSep)), Some((_, Token::Ident(next)))) =
                    (tokens.get(j), tokens.get(j + 1))
                {
                    path.push(next.clone());
                    j += 2;
                }
                if let Some(absolute) = absolute(&path, &current(&inline), declared) {
                    found.paths.push((*line, absolute));
                }
                i = j;
            }
            _ => i += 1,
        }
    }
    found
}

/// Reads one use tree at `*at`, pushing every full path it names (globs and `self` end at
/// their prefix).
fn use_tree(
    tokens: &[(usize, Token)],
    at: &mut usize,
    prefix: Vec<String>,
    out: &mut Vec<(usize, Vec<String>)>,
) {
    let mut path = prefix;
    let line = tokens.get(*at).map_or(0, |(l, _)| *l);
    loop {
        match tokens.get(*at) {
            Some((_, Token::PathSep)) => *at += 1,
            Some((_, Token::Ident(word))) if word == "as" => {
                *at += 2;
                out.push((line, path));
                return;
            }
            Some((_, Token::Ident(word))) if word == "self" && !path.is_empty() => {
                *at += 1;
            }
            Some((_, Token::Ident(word))) => {
                path.push(word.clone());
                *at += 1;
            }
            Some((_, Token::Punct('*'))) => {
                *at += 1;
                out.push((line, path));
                return;
            }
            Some((_, Token::Punct('{'))) => {
                *at += 1;
                loop {
                    match tokens.get(*at) {
                        Some((_, Token::Punct('}'))) => {
                            *at += 1;
                            return;
                        }
                        Some((_, Token::Punct(','))) => *at += 1,
                        None => return,
                        Some(_) => use_tree(tokens, at, path.clone(), out),
                    }
                }
            }
            _ => {
                out.push((line, path));
                return;
            }
        }
    }
}

/// `path` as seen from `module`, made absolute; `None` for paths into other crates, and for
/// relative paths that start from no module `module` declares.
fn absolute(
    path: &[String],
    module: &[String],
    declared: &BTreeSet<Vec<String>>,
) -> Option<Vec<String>> {
    let mut segments = path.iter().peekable();
    let mut base = match segments.peek().map(|s| s.as_str()) {
        Some("crate") => {
            segments.next();
            vec!["crate".to_owned()]
        }
        Some("self") => {
            segments.next();
            module.to_vec()
        }
        Some("super") => module.to_vec(),
        Some(first) => {
            let mut child = module.to_vec();
            child.push(first.to_owned());
            if !declared.contains(&child) {
                return None;
            }
            module.to_vec()
        }
        None => return None,
    };
    while segments.peek().is_some_and(|s| *s == "super") {
        segments.next();
        base.pop();
    }
    if base.is_empty() {
        return None;
    }
    base.extend(segments.cloned());
    Some(base)
}

/// The strongly connected components with more than one file (Tarjan's algorithm).
fn cycles(graph: &Graph) -> Vec<BTreeSet<String>> {
    struct State<'g> {
        graph: &'g Graph,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        on_stack: BTreeSet<&'g str>,
        next: usize,
        found: Vec<BTreeSet<String>>,
    }
    fn visit<'g>(state: &mut State<'g>, node: &'g str) {
        state.index.insert(node, state.next);
        state.low.insert(node, state.next);
        state.next += 1;
        state.stack.push(node);
        state.on_stack.insert(node);
        let graph = state.graph;
        for target in graph.get(node).into_iter().flat_map(|e| e.keys()) {
            let target = target.as_str();
            if !state.index.contains_key(target) {
                visit(state, target);
                let low = state.low[node].min(state.low[target]);
                state.low.insert(node, low);
            } else if state.on_stack.contains(target) {
                let low = state.low[node].min(state.index[target]);
                state.low.insert(node, low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut component = BTreeSet::new();
            while let Some(member) = state.stack.pop() {
                state.on_stack.remove(member);
                component.insert(member.to_owned());
                if member == node {
                    break;
                }
            }
            if component.len() > 1 {
                state.found.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        next: 0,
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !state.index.contains_key(node.as_str()) {
            visit(&mut state, node);
        }
    }
    state.found
}

/// A cycle as its files, and each import that keeps it closed.
fn describe_cycle(component: &BTreeSet<String>, graph: &Graph) -> String {
    let mut text = format!(
        "\nimport cycle among {} files: {}\n",
        component.len(),
        component.iter().cloned().collect::<Vec<_>>().join(", ")
    );
    for from in component {
        for (to, import) in graph.get(from).into_iter().flatten() {
            if component.contains(to) {
                text.push_str(&format!(
                    "  {from}:{} -> {to}  (uses {})\n",
                    import.line, import.path
                ));
            }
        }
    }
    text
}

#[cfg(test)]
mod checks {
    use super::*;

    fn paths(source: &str, module: &[&str]) -> Vec<String> {
        let module: Vec<String> = module.iter().map(|s| (*s).to_owned()).collect();
        let tokens = tokenize(&strip(source));
        let declared = paths_in(&tokens, &module, &BTreeSet::new()).declared;
        paths_in(&tokens, &module, &declared)
            .paths
            .into_iter()
            .map(|(_, p)| p.join("::"))
            .collect()
    }

    #[test]
    fn use_trees_super_chains_and_inline_paths_are_made_absolute() {
        let source = r#"
            use super::{a::B, c::{D, self}, *};
            use crate::x::y as z;
            use std::io;
            use child::Thing;
            use not_a_child::Thing;
            // use crate::in_a_comment;
            fn f() { let s = "crate::in_a_string"; super::super::g::h(); crate::k::l(); }
            fn g() { child::run(); Other::child::x(); value.child::<u8>(); }
            macro_rules! m { () => { $crate::own::path } }
            mod child;
        "#;
        assert_eq!(
            paths(source, &["crate", "p", "q"]),
            [
                "crate::p::a::B",
                "crate::p::c::D",
                "crate::p::c",
                "crate::p",
                "crate::x::y",
                "crate::p::q::child::Thing",
                "crate::g::h",
                "crate::k::l",
                "crate::p::q::child::run",
            ]
        );
    }

    #[test]
    fn test_only_code_is_not_part_of_the_graph() {
        let source = "#[cfg(test)]\nmod tests { use crate::registry::X; }\n#[cfg(test)]\nmod more;\nuse crate::kept;";
        let module = vec!["crate".to_owned(), "p".to_owned()];
        let tokens = tokenize(&strip(source));
        let found = paths_in(&tokens, &module, &BTreeSet::new());
        let paths: Vec<String> = found.paths.iter().map(|(_, p)| p.join("::")).collect();
        assert_eq!(paths, ["crate::kept"]);
        assert_eq!(found.test_modules, [["crate", "p", "more"]]);
    }

    #[test]
    fn inside_an_inline_module_super_is_the_file_module() {
        let source = "mod tests { use super::*; fn t() { super::f(); } }\nuse super::up;";
        assert_eq!(
            paths(source, &["crate", "p"]),
            ["crate::p", "crate::p::f", "crate::up"]
        );
    }

    #[test]
    fn a_cycle_is_found_with_the_imports_that_close_it() {
        let mut graph = Graph::new();
        let import = |path: &str| Import {
            line: 1,
            path: path.to_owned(),
        };
        graph
            .entry("a.rs".into())
            .or_default()
            .insert("b.rs".into(), import("crate::b"));
        graph
            .entry("b.rs".into())
            .or_default()
            .insert("c.rs".into(), import("crate::c"));
        graph
            .entry("c.rs".into())
            .or_default()
            .insert("a.rs".into(), import("crate::a"));
        graph
            .entry("c.rs".into())
            .or_default()
            .insert("d.rs".into(), import("crate::d"));
        let found = cycles(&graph);
        let expected: BTreeSet<String> = ["a.rs", "b.rs", "c.rs"].map(String::from).into();
        assert_eq!(found, vec![expected.clone()]);
        assert_eq!(
            describe_cycle(&expected, &graph),
            "\nimport cycle among 3 files: a.rs, b.rs, c.rs\n  a.rs:1 -> b.rs  (uses crate::b)\n  b.rs:1 -> c.rs  (uses crate::c)\n  c.rs:1 -> a.rs  (uses crate::a)\n"
        );
    }

    #[test]
    fn module_paths_follow_the_file_layout() {
        assert_eq!(module_path("lib.rs"), ["crate"]);
        assert_eq!(module_path("relay/mod.rs"), ["crate", "relay"]);
        assert_eq!(
            module_path("endpoint/unix/fdpass.rs"),
            ["crate", "endpoint", "unix", "fdpass"]
        );
    }
}
