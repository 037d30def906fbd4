//! porttop's binary: parse, dispatch, map errors to one line and an exit status.

use clap::{CommandFactory, FromArgMatches};
use porttop::cli::{exit_code_for_usage_error, run, Cli};
use std::io::{self, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicI32, Ordering};

/// The exit status when memory runs out: 2 (a runtime error), 3 for `pool`.
static OOM_EXIT: AtomicI32 = AtomicI32::new(2);

/// The system allocator, except that an allocation the system refuses (a limit
/// such as `ulimit -v` / `prlimit --as`, or a machine out of memory) ends porttop
/// with the usual one line and exit status instead of Rust's abort (SIGABRT,
/// exit 134, "memory allocation of N bytes failed"). porttop has no fallible
/// allocation (`try_reserve`) that would want the null back.
struct Allocator;

#[cold]
fn out_of_memory(size: usize) -> ! {
    // The dashboard's terminal first (once; a second failure skips it).
    porttop::tui::term::restore();
    let mut buf = [0u8; 200];
    let mut w = io::Cursor::new(&mut buf[..]);
    // Formatting into a fixed buffer allocates nothing.
    let _ = writeln!(
        w,
        "porttop: out of memory: {size} bytes could not be allocated (memory limit \
         reached; a recording too large for it?)"
    );
    let n = w.position() as usize;
    // SAFETY: writes `n` initialised bytes of `buf` to fd 2, then ends the process
    // without running destructors or allocating (async-signal-safe calls only).
    unsafe {
        libc::write(2, buf.as_ptr().cast(), n);
        libc::_exit(OOM_EXIT.load(Ordering::Relaxed))
    }
}

// SAFETY: every call is forwarded to the system allocator with its arguments.
unsafe impl std::alloc::GlobalAlloc for Allocator {
    unsafe fn alloc(&self, l: std::alloc::Layout) -> *mut u8 {
        let p = std::alloc::System.alloc(l);
        if p.is_null() {
            out_of_memory(l.size());
        }
        p
    }
    unsafe fn alloc_zeroed(&self, l: std::alloc::Layout) -> *mut u8 {
        let p = std::alloc::System.alloc_zeroed(l);
        if p.is_null() {
            out_of_memory(l.size());
        }
        p
    }
    unsafe fn realloc(&self, p: *mut u8, l: std::alloc::Layout, size: usize) -> *mut u8 {
        let q = std::alloc::System.realloc(p, l, size);
        if q.is_null() {
            out_of_memory(size);
        }
        q
    }
    unsafe fn dealloc(&self, p: *mut u8, l: std::alloc::Layout) {
        std::alloc::System.dealloc(p, l)
    }
}

#[global_allocator]
static ALLOCATOR: Allocator = Allocator;

fn main() -> ExitCode {
    // args_os: std::env::args() panics on an argument that is not UTF-8 (a
    // --replay path may be any bytes); the lossy copy is for messages only.
    let args_os: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let args: Vec<String> = args_os
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    // The matches are kept: they tell a flag the user gave from a default, which
    // the config file may replace.
    let parsed = Cli::command()
        .try_get_matches_from(&args_os)
        .and_then(|m| Cli::from_arg_matches(&m).map(|c| (c, m)));
    let (cli, matches) = match parsed {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            let code = match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => 0,
                _ => exit_code_for_usage_error(&args),
            };
            if code == 0 {
                let _ = e.print();
            } else {
                // clap's message, cut to its first line: one clear line.
                let text = e.render().to_string();
                let first = text.lines().next().unwrap_or("invalid arguments");
                let first = first.trim_start_matches("error: ");
                let first = porttop::cli::shorten_echoes(first, &args);
                eprintln!("porttop: {first} (see porttop --help)");
            }
            return ExitCode::from(code as u8);
        }
    };
    if matches!(cli.command, Some(porttop::cli::Command::Pool(_))) {
        OOM_EXIT.store(3, Ordering::Relaxed);
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let result = run(cli, &matches, &mut out).and_then(|code| {
        out.flush().map_err(porttop::cli::CliError::from)?;
        Ok(code)
    });
    match result {
        Ok(code) => ExitCode::from(code as u8),
        Err(e) if e.msg.is_empty() => ExitCode::from(e.code as u8),
        Err(e) => {
            eprintln!("porttop: {}", porttop::cli::shorten_echoes(&e.msg, &args));
            ExitCode::from(e.code as u8)
        }
    }
}
