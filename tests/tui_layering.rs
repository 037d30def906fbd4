//! Layering of the dashboard: nothing under `src/tui` reaches the OS. The
//! snapshots come from `crate::feed` (which owns the source), signals to
//! processes go through `crate::actions`, privilege facts come with the data.
//! And nothing reads the environment or runs the advisor while drawing
//! (`src/tui/ui`).

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
fn layering_nothing_under_src_tui_imports_source_or_libc() {
    let bad = offending(
        "src/tui",
        &["crate::source", "libc::", "use libc", "extern crate libc"],
    );
    assert!(
        bad.is_empty(),
        "the dashboard reaches the OS:\n{}",
        bad.join("\n")
    );
}

#[test]
fn layering_drawing_reads_no_environment_and_runs_no_advisor() {
    let bad = offending(
        "src/tui/ui",
        &["std::env", "env::var", "advisor::", "judge(", "geteuid"],
    );
    assert!(bad.is_empty(), "work while drawing:\n{}", bad.join("\n"));
}
