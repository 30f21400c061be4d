//! The import layering of `harness/src`, checked from the source text: no cycle
//! between files, `supervisor/` and `worker/` never import each other, and
//! `protocol/` imports nothing but itself and leaves (files that import no other file
//! of the crate).
//!
//! A file's edges are the `crate::...` paths it names (in `use` items and in code),
//! `super::...` paths, and the relative paths of its `use` items that start at one of
//! its child modules; each path goes to the file of the longest module prefix it
//! names. A file naming its own child modules (declared with `mod x;`) is not an
//! edge, nor is a file naming itself; lib.rs declaring the crate's modules is not an
//! import, but a file naming an item *defined in* lib.rs is an edge to lib.rs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// A source file by its path relative to `src` (`worker/mod.rs`) and its module path
/// (`["worker"]`).
struct File {
    module: Vec<String>,
    text: String,
}

/// One reference of a file to another: the names it takes (for the messages).
type Edges = BTreeMap<String, BTreeMap<String, BTreeSet<String>>>;

fn module_of(rel: &str) -> Vec<String> {
    let without = rel.strip_suffix(".rs").expect("a .rs file");
    let mut parts: Vec<String> = without.split('/').map(str::to_string).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
        parts.pop();
    }
    parts
}

fn collect(dir: &Path, base: &Path, out: &mut BTreeMap<String, File>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|e| e.expect("a directory entry").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            collect(&path, base, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path
                .strip_prefix(base)
                .expect("under src")
                .to_string_lossy()
                .replace('\\', "/");
            let text = std::fs::read_to_string(&path)
                .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            out.insert(
                rel.clone(),
                File {
                    module: module_of(&rel),
                    text,
                },
            );
        }
    }
}

/// The text with comments, string literals and character literals blanked out (the
/// same length; line breaks kept), so that paths in docs and messages are not edges.
fn strip(text: &str) -> Vec<char> {
    let c: Vec<char> = text.chars().collect();
    let mut out = c.clone();
    let blank = |out: &mut Vec<char>, from: usize, to: usize| {
        for ch in out.iter_mut().take(to.min(c.len())).skip(from) {
            if *ch != '\n' {
                *ch = ' ';
            }
        }
    };
    let is_ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < c.len() {
        if c[i] == '/' && c.get(i + 1) == Some(&'/') {
            let end = (i..c.len()).find(|&j| c[j] == '\n').unwrap_or(c.len());
            blank(&mut out, i, end);
            i = end;
        } else if c[i] == '/' && c.get(i + 1) == Some(&'*') {
            let mut depth = 0;
            let mut j = i;
            while j < c.len() {
                if c[j] == '/' && c.get(j + 1) == Some(&'*') {
                    depth += 1;
                    j += 2;
                } else if c[j] == '*' && c.get(j + 1) == Some(&'/') {
                    depth -= 1;
                    j += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    j += 1;
                }
            }
            blank(&mut out, i, j);
            i = j;
        } else if c[i] == 'r'
            && (i == 0 || !is_ident(c[i - 1]) || c[i - 1] == 'b')
            && matches!(c.get(i + 1), Some('#') | Some('"'))
        {
            let hashes = (i + 1..c.len()).take_while(|&j| c[j] == '#').count();
            if c.get(i + 1 + hashes) != Some(&'"') {
                i += 1;
                continue;
            }
            let close: String = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            let close: Vec<char> = close.chars().collect();
            let mut j = i + 2 + hashes;
            while j < c.len() && c[j..].iter().take(close.len()).ne(close.iter()) {
                j += 1;
            }
            let end = (j + close.len()).min(c.len());
            blank(&mut out, i, end);
            i = end;
        } else if c[i] == '"' {
            let mut j = i + 1;
            while j < c.len() && c[j] != '"' {
                j += if c[j] == '\\' { 2 } else { 1 };
            }
            blank(&mut out, i, j + 1);
            i = j + 1;
        } else if c[i] == '\'' {
            // A character literal ('x', '\n', '\''), else a lifetime or label.
            if c.get(i + 1) == Some(&'\\') {
                let j = (i + 3..c.len()).find(|&j| c[j] == '\'').unwrap_or(c.len());
                blank(&mut out, i, j + 1);
                i = j + 1;
            } else if c.get(i + 2) == Some(&'\'') {
                blank(&mut out, i, i + 3);
                i += 3;
            } else {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out
}

/// A parser of the paths in one stripped file.
struct Paths<'a> {
    c: &'a [char],
    i: usize,
}

impl Paths<'_> {
    fn skip_ws(&mut self) {
        while self.i < self.c.len() && self.c[self.i].is_whitespace() {
            self.i += 1;
        }
    }

    fn ident(&mut self) -> Option<String> {
        self.skip_ws();
        let start = self.i;
        while self.i < self.c.len() && (self.c[self.i].is_alphanumeric() || self.c[self.i] == '_') {
            self.i += 1;
        }
        (self.i > start).then(|| self.c[start..self.i].iter().collect())
    }

    fn colons(&mut self) -> bool {
        self.skip_ws();
        if self.c.get(self.i) == Some(&':') && self.c.get(self.i + 1) == Some(&':') {
            self.i += 2;
            true
        } else {
            false
        }
    }

    /// A path or a use tree after `prefix::`; every path it names, into `out`.
    fn tree(&mut self, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
        let mut path = prefix;
        loop {
            self.skip_ws();
            match self.c.get(self.i) {
                Some('{') => {
                    self.i += 1;
                    loop {
                        self.skip_ws();
                        match self.c.get(self.i) {
                            Some('}') => {
                                self.i += 1;
                                return;
                            }
                            Some(',') => self.i += 1,
                            None => return,
                            _ => {
                                let before = self.i;
                                self.tree(path.clone(), out);
                                if self.i == before {
                                    self.i += 1;
                                }
                            }
                        }
                    }
                }
                Some('*') => {
                    self.i += 1;
                    out.push(path);
                    return;
                }
                _ => match self.ident() {
                    Some(id) if id == "self" => {
                        out.push(path);
                        return;
                    }
                    Some(id) => {
                        path.push(id);
                        if !self.colons() {
                            out.push(path);
                            return;
                        }
                    }
                    None => {
                        out.push(path);
                        return;
                    }
                },
            }
        }
    }
}

/// Every path a file names, as absolute module paths (`["worker", "limit_of"]`).
fn paths_of(file: &File, children: &BTreeSet<String>) -> Vec<Vec<String>> {
    let c = strip(&file.text);
    let mut out = Vec::new();
    let mut p = Paths { c: &c, i: 0 };
    // Inline modules (`mod tests { .. }`) by the brace depth they opened at: `super`
    // inside one names the file's own module.
    let mut depth = 0usize;
    let mut inline: Vec<usize> = Vec::new();
    let resolve = |first: &str, rest: &[String], inline_depth: usize| -> Option<Vec<String>> {
        let mut abs = match first {
            "crate" => Vec::new(),
            "super" if inline_depth > 0 => file.module.clone(),
            "super" => {
                let mut m = file.module.clone();
                m.pop()?;
                m
            }
            "self" => file.module.clone(),
            child if inline_depth == 0 && children.contains(child) => {
                let mut m = file.module.clone();
                m.push(child.to_string());
                m
            }
            _ => return None,
        };
        abs.extend_from_slice(rest);
        Some(abs)
    };
    while p.i < c.len() {
        let ch = c[p.i];
        if ch == '{' {
            depth += 1;
            p.i += 1;
            continue;
        }
        if ch == '}' {
            if inline.last() == Some(&depth) {
                inline.pop();
            }
            depth = depth.saturating_sub(1);
            p.i += 1;
            continue;
        }
        if !(ch.is_alphanumeric() || ch == '_') {
            p.i += 1;
            continue;
        }
        let preceded = p.i > 0 && (c[p.i - 1].is_alphanumeric() || matches!(c[p.i - 1], '_' | '$'));
        let start = p.i;
        let word = p.ident().expect("an identifier");
        if preceded {
            continue;
        }
        let after_colons = start >= 2 && c[start - 2] == ':' && c[start - 1] == ':';
        match word.as_str() {
            "mod" => {
                let at = p.i;
                if p.ident().is_some() {
                    p.skip_ws();
                    if c.get(p.i) == Some(&'{') {
                        inline.push(depth + 1);
                    }
                }
                if p.i == at {
                    continue;
                }
            }
            "use" => {
                let mut trees = Vec::new();
                p.tree(Vec::new(), &mut trees);
                for t in trees {
                    if let Some((first, rest)) = t.split_first() {
                        if let Some(abs) = resolve(first, rest, inline.len()) {
                            out.push(abs);
                        }
                    }
                }
            }
            "crate" | "super" if !after_colons && p.colons() => {
                let mut trees = Vec::new();
                p.tree(Vec::new(), &mut trees);
                for t in trees {
                    if let Some(abs) = resolve(&word, &t, inline.len()) {
                        out.push(abs);
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// The edges between the files (relative paths) of a crate's `src`.
fn edges(files: &BTreeMap<String, File>) -> Edges {
    let by_module: BTreeMap<Vec<String>, String> = files
        .iter()
        .map(|(rel, f)| (f.module.clone(), rel.clone()))
        .collect();
    let mut edges = Edges::new();
    for (rel, file) in files {
        let children: BTreeSet<String> = by_module
            .keys()
            .filter(|m| m.len() == file.module.len() + 1 && m.starts_with(&file.module))
            .map(|m| m.last().expect("a child").clone())
            .collect();
        let mine = edges.entry(rel.clone()).or_default();
        for path in paths_of(file, &children) {
            let known = (0..=path.len())
                .rev()
                .find(|&n| by_module.contains_key(&path[..n]))
                .expect("the crate root is a module");
            let target = &by_module[&path[..known]];
            let name = path.get(known).cloned().unwrap_or_else(|| "self".into());
            let to = &files[target].module;
            let child = to.len() == file.module.len() + 1 && to.starts_with(&file.module);
            if target == rel || child {
                continue;
            }
            mine.entry(target.clone()).or_default().insert(name);
        }
    }
    edges
}

/// The cycles between files (each a strongly connected component of two or more).
fn cycles(edges: &Edges) -> Vec<Vec<String>> {
    struct Tarjan<'a> {
        edges: &'a Edges,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        out: Vec<Vec<String>>,
    }
    impl<'a> Tarjan<'a> {
        fn visit(&mut self, v: &'a str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            self.on_stack.insert(v);
            if let Some(targets) = self.edges.get(v) {
                for w in targets.keys() {
                    let w = w.as_str();
                    if !self.index.contains_key(w) {
                        self.visit(w);
                        let low = self.low[v].min(self.low[w]);
                        self.low.insert(v, low);
                    } else if self.on_stack.contains(w) {
                        let low = self.low[v].min(self.index[w]);
                        self.low.insert(v, low);
                    }
                }
            }
            if self.low[v] == self.index[v] {
                let mut scc = Vec::new();
                while let Some(w) = self.stack.pop() {
                    self.on_stack.remove(w);
                    scc.push(w.to_string());
                    if w == v {
                        break;
                    }
                }
                if scc.len() > 1 {
                    scc.sort();
                    self.out.push(scc);
                }
            }
        }
    }
    let mut t = Tarjan {
        edges,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        out: Vec::new(),
    };
    for v in edges.keys() {
        if !t.index.contains_key(v.as_str()) {
            t.visit(v);
        }
    }
    t.out
}

/// Every breach of the layering, as a line naming the files.
fn problems(files: &BTreeMap<String, File>) -> Vec<String> {
    let edges = edges(files);
    let mut out = Vec::new();
    for scc in cycles(&edges) {
        let inner: Vec<String> = scc
            .iter()
            .flat_map(|from| {
                edges[from]
                    .iter()
                    .filter(|(to, _)| scc.contains(to))
                    .map(move |(to, names)| format!("{from} -> {to} ({names:?})"))
            })
            .collect();
        out.push(format!(
            "import cycle between {}: {}",
            scc.join(", "),
            inner.join("; ")
        ));
    }
    let leaf = |f: &str| edges.get(f).is_none_or(BTreeMap::is_empty);
    for (from, targets) in &edges {
        for (to, names) in targets {
            let crosses = (from.starts_with("supervisor/") && to.starts_with("worker/"))
                || (from.starts_with("worker/") && to.starts_with("supervisor/"));
            if crosses {
                out.push(format!(
                    "{from} -> {to} ({names:?}): supervisor/ and worker/ share only protocol/ and leaves"
                ));
            }
            if from.starts_with("protocol/") && !to.starts_with("protocol/") && !leaf(to) {
                out.push(format!(
                    "{from} -> {to} ({names:?}): protocol/ imports only protocol/ and leaf modules"
                ));
            }
        }
    }
    out
}

#[test]
fn harness_src_imports_run_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = BTreeMap::new();
    collect(&src, &src, &mut files);
    assert!(
        files.contains_key("lib.rs"),
        "no lib.rs under {}",
        src.display()
    );
    let problems = problems(&files);
    assert!(
        problems.is_empty(),
        "the imports of harness/src do not run one way:\n{}",
        problems.join("\n")
    );
}

fn crate_of(files: &[(&str, &str)]) -> BTreeMap<String, File> {
    files
        .iter()
        .map(|(rel, text)| {
            (
                rel.to_string(),
                File {
                    module: module_of(rel),
                    text: text.to_string(),
                },
            )
        })
        .collect()
}

#[test]
fn the_check_finds_cycles_crossings_and_protocol_breaches() {
    let files = crate_of(&[
        (
            "lib.rs",
            "mod a; mod b; mod protocol; mod supervisor; mod worker;\n\
             pub use worker::deep::f;\npub fn root_item() {}\npub fn format_limit() {}",
        ),
        ("a.rs", "use crate::b::thing;\n"),
        ("b.rs", "pub fn thing() { crate::a::other(); }\n"),
        ("protocol/mod.rs", "pub(crate) mod events;\n"),
        (
            "protocol/events.rs",
            "use crate::worker::Sink; use crate::format_limit;\n",
        ),
        (
            "supervisor/mod.rs",
            "mod blame;\nuse blame::Blame;\nfn f() { let _ = crate::worker::limit_of; }\n",
        ),
        (
            "supervisor/blame.rs",
            "// crate::worker::nothing in a comment\nconst S: &str = \"crate::worker::x\";\n",
        ),
        (
            "worker/mod.rs",
            "pub(crate) mod deep;\npub trait Sink {}\nuse crate::protocol::events;\n",
        ),
        (
            "worker/deep.rs",
            "use crate::root_item; use crate::format_limit;\npub fn f() {}\n",
        ),
    ]);
    let problems = problems(&files);
    let has = |needle: &str| problems.iter().any(|p| p.contains(needle));
    assert!(has("import cycle between a.rs, b.rs"), "{problems:#?}");
    assert!(
        has("import cycle between lib.rs, worker/deep.rs"),
        "{problems:#?}"
    );
    assert!(has("supervisor/mod.rs -> worker/mod.rs"), "{problems:#?}");
    assert!(has("protocol/events.rs -> worker/mod.rs"), "{problems:#?}");
    assert!(!has("supervisor/blame.rs"), "{problems:#?}");
    // An item defined in lib.rs is an edge to lib.rs, whatever its name.
    assert!(has("protocol/events.rs -> lib.rs"), "{problems:#?}");
}
