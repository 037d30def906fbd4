//! Layering of the dashboard's drawing: nothing under `src/tui/ui` reads the
//! environment, asks for the euid or runs the advisor while drawing (those come
//! with the data). That nothing under `src/tui` imports `source` or `libc` is
//! `tests/layering.rs`'s table check (DESIGN.md's `tui` row).

use std::path::{Path, PathBuf};

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).expect("read_dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The lines of the files under `dir` that contain one of `words`, comments
/// left out.
fn offending(dir: &str, words: &[&str]) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(!files.is_empty(), "no sources under {dir}");
    let mut bad = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).expect("read");
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if words.iter().any(|w| code.contains(w)) {
                bad.push(format!("{}:{}: {}", f.display(), i + 1, line.trim()));
            }
        }
    }
    bad
}

#[test]
fn layering_drawing_reads_no_environment_and_runs_no_advisor() {
    let bad = offending(
        "src/tui/ui",
        &["std::env", "env::var", "advisor::", "judge(", "geteuid"],
    );
    assert!(bad.is_empty(), "work while drawing:\n{}", bad.join("\n"));
}
