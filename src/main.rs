//! porttop's binary: parse, dispatch, map errors to one line and an exit status.

use clap::{CommandFactory, FromArgMatches};
use porttop::cli::{exit_code_for_usage_error, run, Cli};
use std::io::{self, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    // The matches are kept: they tell a flag the user gave from a default, which
    // the config file may replace.
    let parsed = Cli::command()
        .try_get_matches_from(&args)
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
                eprintln!("porttop: {first} (see porttop --help)");
            }
            return ExitCode::from(code as u8);
        }
    };
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
            eprintln!("porttop: {}", e.msg);
            ExitCode::from(e.code as u8)
        }
    }
}
