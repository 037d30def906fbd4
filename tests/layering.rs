//! The layering of DESIGN.md, enforced: every `crate::x` a module's code names
//! must be one DESIGN.md's table ("Modules and what each may touch") lets it
//! depend on, and nothing its "must not" column names in backticks (a module
//! or a crate, e.g. `libc`) may appear in it. The table is parsed from
//! DESIGN.md itself, so the document and this test cannot drift apart; a
//! module under src/ without a row fails too.
//!
//! Test code is checked separately from the code it tests: `#[cfg(test)]`
//! items (inline `mod tests { .. }`, and the files such a `mod x;` declares:
//! `*_tests.rs`, `tests.rs`, the fixture kits) may use anything.
//!
//! The reader is a small Rust lexer (comments, strings, raw strings, chars and
//! lifetimes skipped), not a parser: enough to find paths and `#[cfg(test)]`
//! items, with no dependency.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Edges that break the table today and are being removed; each must still
/// exist (a stale exception fails, so the list only shrinks).
/// (From module, to module or crate, why.) Empty since feed's change landed:
/// `tui -> source` and `tui -> libc` were listed here, "removed by feed".
const KNOWN_EXCEPTIONS: &[(&str, &str, &str)] = &[];

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    /// `::`
    Path,
    Punct(char),
}

/// Tokens of Rust source with the line each starts on.
fn lex(src: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = src.chars().collect();
    let (mut i, mut line, mut out) = (0, 1, Vec::new());
    let count_lines = |s: &[char]| s.iter().filter(|&&x| x == '\n').count();
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch == '/' && c.get(i + 1) == Some(&'/') {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if ch == '/' && c.get(i + 1) == Some(&'*') {
            let (start, mut depth) = (i, 0);
            while i < c.len() {
                if c[i] == '/' && c.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && c.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            line += count_lines(&c[start..i.min(c.len())]);
        } else if ch == '"' || ((ch == 'b' || ch == 'r') && raw_or_byte_string(&c, i).is_some()) {
            let start_line = line;
            let (text, end) = string_at(&c, i);
            line += count_lines(&c[i..end]);
            out.push((Tok::Str(text), start_line));
            i = end;
        } else if ch == '\'' {
            // a char literal ('x', '\n', '{') or a lifetime ('a)
            if c.get(i + 1) == Some(&'\\') {
                i += 2;
                while i < c.len() && c[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if c.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if ch.is_alphabetic() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(c[start..i].iter().collect()), line));
        } else if ch.is_ascii_digit() {
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push((Tok::Path, line));
            i += 2;
        } else {
            out.push((Tok::Punct(ch), line));
            i += 1;
        }
    }
    out
}

/// At `b"`, `br"`, `r"`, `r#"`, `br#"`: the number of `#`s.
fn raw_or_byte_string(c: &[char], i: usize) -> Option<usize> {
    let mut j = i;
    if c.get(j) == Some(&'b') {
        j += 1;
    }
    if c.get(j) == Some(&'r') {
        j += 1;
        let mut hashes = 0;
        while c.get(j) == Some(&'#') {
            hashes += 1;
            j += 1;
        }
        return (c.get(j) == Some(&'"')).then_some(hashes);
    }
    (j > i && c.get(j) == Some(&'"')).then_some(0)
}

/// The string literal starting at `i`: its text and the index after it.
fn string_at(c: &[char], i: usize) -> (String, usize) {
    let mut j = i;
    let raw = {
        let mut k = i;
        if c[k] == 'b' {
            k += 1;
        }
        c.get(k) == Some(&'r')
    };
    let hashes = if c[j] == '"' {
        0
    } else {
        raw_or_byte_string(c, i).unwrap_or(0)
    };
    while c[j] != '"' {
        j += 1;
    }
    j += 1;
    let start = j;
    loop {
        if j >= c.len() {
            return (c[start..].iter().collect(), c.len());
        }
        if !raw && c[j] == '\\' {
            j += 2;
            continue;
        }
        if c[j] == '"' && (0..hashes).all(|h| c.get(j + 1 + h) == Some(&'#')) {
            return (c[start..j].iter().collect(), j + 1 + hashes);
        }
        j += 1;
    }
}

/// What one file names: (top-level crate module or external crate, line), for
/// its non-test code and its test code, and the files its `#[cfg(test)] mod
/// x;` declarations pull in.
#[derive(Default)]
struct Uses {
    code: Vec<(String, usize)>,
    test: Vec<(String, usize)>,
    test_files: Vec<PathBuf>,
}

fn is_punct(t: Option<&(Tok, usize)>, ch: char) -> bool {
    matches!(t, Some((Tok::Punct(p), _)) if *p == ch)
}

fn ident(t: Option<&(Tok, usize)>) -> Option<&str> {
    match t {
        Some((Tok::Ident(s), _)) => Some(s),
        _ => None,
    }
}

/// The index after the attribute starting at `i` (`#[ .. ]`), if one starts.
fn attr_end(t: &[(Tok, usize)], i: usize) -> Option<usize> {
    if !(is_punct(t.get(i), '#') && is_punct(t.get(i + 1), '[')) {
        return None;
    }
    let mut depth = 0;
    for (j, (tok, _)) in t.iter().enumerate().skip(i + 1) {
        match tok {
            Tok::Punct('[') => depth += 1,
            Tok::Punct(']') => {
                depth -= 1;
                if depth == 0 {
                    return Some(j + 1);
                }
            }
            _ => {}
        }
    }
    None
}

/// The index after the item starting at `i`: at a `;` outside brackets or
/// after the `{ .. }` block that ends it.
fn item_end(t: &[(Tok, usize)], i: usize) -> usize {
    let mut depth = 0i32;
    for (j, (tok, _)) in t.iter().enumerate().skip(i) {
        match tok {
            Tok::Punct('{' | '(' | '[') => depth += 1,
            Tok::Punct('}' | ')' | ']') => {
                depth -= 1;
                if depth == 0 && matches!(tok, Tok::Punct('}')) {
                    return j + 1;
                }
            }
            Tok::Punct(';') if depth == 0 => return j + 1,
            _ => {}
        }
    }
    t.len()
}

/// `a/b/../c` as `a/c` (no file system access).
fn normalise(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            std::path::Component::ParentDir => {
                out.pop();
            }
            std::path::Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

/// The file a `mod name;` in `file` loads (`path`: its `#[path]`).
fn module_file(file: &Path, name: &str, path: Option<&str>) -> PathBuf {
    let dir = file.parent().unwrap_or(Path::new("."));
    if let Some(p) = path {
        return normalise(&dir.join(p));
    }
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    let base = if matches!(stem, "mod" | "lib" | "main") {
        dir.to_path_buf()
    } else {
        dir.join(stem)
    };
    let flat = base.join(format!("{name}.rs"));
    if flat.exists() {
        flat
    } else {
        base.join(name).join("mod.rs")
    }
}

fn uses(file: &Path, src: &str, externals: &BTreeSet<String>) -> Uses {
    let t = lex(src);
    let mut u = Uses::default();
    // (start, end) token spans of #[cfg(test)] items
    let mut test_spans: Vec<(usize, usize)> = Vec::new();
    let mut i = 0;
    while i < t.len() {
        let Some(end) = attr_end(&t, i) else {
            i += 1;
            continue;
        };
        let is_cfg_test = end == i + 7
            && ident(t.get(i + 2)) == Some("cfg")
            && ident(t.get(i + 4)) == Some("test")
            && is_punct(t.get(i + 5), ')');
        if !is_cfg_test {
            i = end;
            continue;
        }
        // further attributes (#[path = ".."]), visibility, then the item
        let mut j = end;
        let mut path = None;
        while let Some(e) = attr_end(&t, j) {
            if ident(t.get(j + 2)) == Some("path") {
                if let Some((Tok::Str(p), _)) = t.get(j + 4) {
                    path = Some(p.clone());
                }
            }
            j = e;
        }
        let item = j;
        if ident(t.get(j)) == Some("pub") {
            j += 1;
            if is_punct(t.get(j), '(') {
                j = item_end(&t, j).min(j + 3);
            }
        }
        if ident(t.get(j)) == Some("mod") && is_punct(t.get(j + 2), ';') {
            if let Some(name) = ident(t.get(j + 1)) {
                u.test_files.push(module_file(file, name, path.as_deref()));
            }
        }
        let stop = item_end(&t, item);
        test_spans.push((i, stop));
        i = stop;
    }
    let in_test = |k: usize| test_spans.iter().any(|&(a, b)| a <= k && k < b);
    let mut push = |k: usize, name: &str, line: usize| {
        let v = if in_test(k) { &mut u.test } else { &mut u.code };
        v.push((name.to_string(), line));
    };
    for k in 0..t.len() {
        let prev_is_path = k > 0 && matches!(t[k - 1].0, Tok::Path | Tok::Punct('.'));
        match ident(t.get(k)) {
            Some("crate") if !prev_is_path && matches!(t.get(k + 1), Some((Tok::Path, _))) => {
                if let Some(name) = ident(t.get(k + 2)) {
                    push(k, name, t[k].1);
                } else if is_punct(t.get(k + 2), '{') {
                    // use crate::{a::B, c, d::{..}}: the first name of each part
                    let (mut depth, mut first) = (0, true);
                    for (tok, line) in &t[k + 2..] {
                        match tok {
                            Tok::Punct('{') => {
                                depth += 1;
                            }
                            Tok::Punct('}') => {
                                depth -= 1;
                                if depth == 0 {
                                    break;
                                }
                            }
                            Tok::Punct(',') if depth == 1 => first = true,
                            Tok::Ident(n) if depth == 1 && first => {
                                first = false;
                                push(k, n, *line);
                            }
                            _ => {}
                        }
                    }
                }
            }
            Some(name)
                if !prev_is_path
                    && externals.contains(name)
                    && (matches!(t.get(k + 1), Some((Tok::Path, _)))
                        || (k > 0 && ident(t.get(k - 1)) == Some("use"))) =>
            {
                push(k, name, t[k].1);
            }
            _ => {}
        }
    }
    u
}

/// One row of the table: who, what it may use, what it must not.
#[derive(Debug)]
struct Rule {
    may: BTreeSet<String>,
    everything: bool,
    must_not: BTreeSet<String>,
}

/// The names in backticks in `s`.
fn backticked(s: &str) -> Vec<String> {
    s.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

/// The table of DESIGN.md: module -> rule.
fn table(design: &str) -> BTreeMap<String, Rule> {
    let section = design
        .split("\n## ")
        .find(|s| s.starts_with("Modules and what each may touch"))
        .expect("DESIGN.md has the section \"Modules and what each may touch\"");
    let mut out = BTreeMap::new();
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = row.trim_matches('|').split(" | ").map(str::trim).collect();
        assert!(cells.len() >= 4, "a row of four cells: {row}");
        // the may-depend cell without its parenthesised remarks
        let (mut depth, mut plain) = (0, String::new());
        for ch in cells[2].chars() {
            match ch {
                '(' => depth += 1,
                ')' => depth -= 1,
                _ if depth == 0 => plain.push(ch),
                _ => {}
            }
        }
        let may: BTreeSet<String> = plain
            .split(',')
            .filter_map(|p| p.split_whitespace().next())
            .map(|w| w.trim_matches('`').to_string())
            .collect();
        for m in backticked(cells[0]) {
            out.insert(
                m,
                Rule {
                    everything: may.contains("everything"),
                    may: may.clone(),
                    must_not: backticked(cells[3]).into_iter().collect(),
                },
            );
        }
    }
    out
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The layering violations of the tree at `root` against its DESIGN.md, as
/// lines for the user; and the known exceptions that no longer occur.
fn violations(root: &Path) -> (Vec<String>, Vec<String>) {
    let design = std::fs::read_to_string(root.join("DESIGN.md")).expect("DESIGN.md");
    let rules = table(&design);
    let src = root.join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    // the crate's top-level modules: src/x.rs and src/x/
    let top = |p: &Path| -> Option<String> {
        let rel = p.strip_prefix(&src).ok()?;
        let first = rel.components().next()?.as_os_str().to_str()?;
        let name = first.trim_end_matches(".rs").to_string();
        (!matches!(name.as_str(), "lib" | "main" | "bin")).then_some(name)
    };
    let mut parsed = BTreeMap::new();
    let mut test_files = BTreeSet::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("source file");
        let u = uses(f, &text, &BTreeSet::new());
        test_files.extend(u.test_files.iter().cloned());
        parsed.insert(f.clone(), text);
    }
    // a module the crate root declares under #[cfg(test)] (the test kit) is
    // test code through and through
    let test_modules: BTreeSet<String> = test_files
        .iter()
        .filter(|f| {
            let rel = f.strip_prefix(&src).unwrap_or(f);
            rel.components().count() == 1
                || (rel.components().count() == 2 && rel.ends_with("mod.rs"))
        })
        .filter_map(|f| top(f))
        .collect();
    let modules: BTreeSet<String> = files
        .iter()
        .filter_map(|p| top(p))
        .filter(|m| !test_modules.contains(m))
        .collect();
    let mut bad = Vec::new();
    for m in &modules {
        if !rules.contains_key(m) {
            bad.push(format!(
                "src/{m}: a module without a row in DESIGN.md's table \"Modules and what each may touch\""
            ));
        }
    }
    let externals: BTreeSet<String> = rules
        .values()
        .flat_map(|r| r.must_not.iter())
        .filter(|n| !modules.contains(*n))
        .cloned()
        .collect();
    let parsed: BTreeMap<PathBuf, Uses> = parsed
        .into_iter()
        .map(|(f, text)| {
            let u = uses(&f, &text, &externals);
            (f, u)
        })
        .collect();
    let mut hit_exceptions = BTreeSet::new();
    for (f, u) in &parsed {
        let Some(m) = top(f) else { continue };
        if test_modules.contains(&m) {
            continue;
        }
        let Some(rule) = rules.get(&m) else { continue };
        if test_files.contains(f) {
            continue; // test code: may use anything
        }
        let rel = f.strip_prefix(root).unwrap_or(f).display().to_string();
        for (name, line) in &u.code {
            let internal = modules.contains(name);
            let why = if rule.must_not.contains(name) {
                Some("which its row's \"must not\" names".to_string())
            } else if internal && name != &m && !rule.everything && !rule.may.contains(name) {
                Some(format!(
                    "which DESIGN.md's table does not allow (may depend on: {})",
                    rule.may.iter().cloned().collect::<Vec<_>>().join(", ")
                ))
            } else {
                None
            };
            let Some(why) = why else { continue };
            if let Some(e) = KNOWN_EXCEPTIONS
                .iter()
                .find(|(from, to, _)| *from == m && to == name)
            {
                hit_exceptions.insert((e.0, e.1));
                continue;
            }
            let what = if internal {
                format!("crate::{name}")
            } else {
                format!("the crate `{name}`")
            };
            bad.push(format!("{rel}:{line}: `{m}` uses {what}, {why}"));
        }
    }
    let stale = KNOWN_EXCEPTIONS
        .iter()
        .filter(|(from, to, _)| !hit_exceptions.contains(&(*from, *to)))
        .map(|(from, to, why)| {
            format!("`{from}` no longer uses `{to}` ({why}): remove it from KNOWN_EXCEPTIONS")
        })
        .collect();
    bad.sort();
    bad.dedup();
    (bad, stale)
}

#[test]
fn layering_of_every_module_follows_the_design_table() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let (bad, stale) = violations(root);
    assert!(
        bad.is_empty(),
        "{} layering violation(s) (fix the code, or DESIGN.md's table if the house changed):\n{}",
        bad.len(),
        bad.join("\n")
    );
    assert!(stale.is_empty(), "{}", stale.join("\n"));
}

#[test]
fn layering_reader_finds_paths_and_skips_test_code_comments_and_strings() {
    let src = r##"
        //! crate::tui in a doc comment
        use crate::model::Socket;
        use crate::{analysis::pool, filter, output::{safe, list}};
        /* crate::serve in a block comment */
        fn f() -> &'static str { let _ = '{'; let _c = crate::range::x(); "crate::cli" }
        const R: &str = r#"crate::actions"#;
        fn g() { libc::getpid(); other::libc::x(); }
        #[cfg(test)]
        mod tests { use crate::source::Fixture; fn h() { let _ = '}'; } }
        #[cfg(test)]
        #[path = "x_tests.rs"]
        mod more;
        fn after() { crate::ports::lookup(); }
    "##;
    let ext: BTreeSet<String> = ["libc".to_string()].into();
    let u = uses(Path::new("src/a/b.rs"), src, &ext);
    let names: Vec<&str> = u.code.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["model", "analysis", "filter", "output", "range", "libc", "ports"]
    );
    let tests: Vec<&str> = u.test.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(tests, ["source"]);
    assert_eq!(u.test_files, [PathBuf::from("src/a/x_tests.rs")]);
    assert_eq!(u.code[0].1, 3, "line numbers");
}

#[test]
fn layering_table_is_read_from_design_md() {
    let design = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("DESIGN.md"))
        .expect("DESIGN.md");
    let t = table(&design);
    for m in ["model", "source", "analysis", "tui", "cli", "main"] {
        assert!(t.contains_key(m), "a row for {m}");
    }
    assert!(t["cli"].everything);
    assert!(t["analysis"].may.contains("model"));
    assert!(!t["analysis"].may.contains("tui"));
}
