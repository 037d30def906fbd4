//! `completions` and `man`: generated from the clap definitions themselves
//! (clap_complete, clap_mangen), so they cannot drift from `--help`.

use super::CliError;
use crate::cli::{Cli, CompletionsArgs, ManArgs};
use clap::CommandFactory;
use std::io::Write;

/// The command tree as the pages and scripts describe it: built, so every
/// subcommand carries its display name (`porttop-pool`), without clap's
/// implicit `help` subcommand (porttop has none to document).
fn command() -> clap::Command {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    cmd
}

pub fn completions(a: &CompletionsArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    let mut cmd = command();
    // Into memory first: clap_complete panics when its writer fails (a full
    // disk, `| head`), and a write error here must be one line like elsewhere.
    let mut script = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "porttop", &mut script);
    out.write_all(&script)?;
    Ok(0)
}

/// The visible subcommands, each with its page's name.
fn pages(cmd: &clap::Command) -> impl Iterator<Item = &clap::Command> {
    cmd.get_subcommands().filter(|s| !s.is_hide_set())
}

/// Escapes text for roff: backslashes, and a leading `.` or `'`.
fn roff_text(s: &str) -> String {
    let s = s.replace('\\', "\\e").replace('-', "\\-");
    match s.chars().next() {
        Some('.' | '\'') => format!("\\&{s}"),
        _ => s,
    }
}

/// porttop(1): clap_mangen's sections, with EXIT STATUS (from the same text as
/// `--help`'s), FILES and SEE ALSO in their customary places instead of clap's
/// pre-formatted after-help.
fn top_page(cmd: &clap::Command, out: &mut dyn Write) -> std::io::Result<()> {
    let man = clap_mangen::Man::new(cmd.clone().after_help(None::<&str>));
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    man.render_subcommands_section(out)?;
    writeln!(out, ".SH \"EXIT STATUS\"")?;
    for line in crate::cli::EXIT_CODES.lines().skip(1) {
        // "  N  meaning" starts an entry; deeper indentation continues it.
        let rest = line.trim_start();
        if line.len() - rest.len() <= 2 {
            let (code, text) = rest.split_once(' ').unwrap_or((rest, ""));
            writeln!(
                out,
                ".TP\n\\fB{}\\fR\n{}",
                roff_text(code),
                roff_text(text.trim())
            )?;
        } else {
            writeln!(out, "{}", roff_text(rest))?;
        }
    }
    writeln!(out, ".SH FILES")?;
    writeln!(
        out,
        ".TP\n\\fI$XDG_CONFIG_HOME/porttop/config.toml\\fR, else \\fI~/.config/porttop/config.toml\\fR\n{}",
        roff_text(
            "Defaults for the pool thresholds, the dashboard and serve (see porttop-config(1)); \
             flags override them. --config FILE reads another file, --no-config none."
        )
    )?;
    writeln!(out, ".SH \"SEE ALSO\"")?;
    let subs: Vec<String> = pages(cmd)
        .map(|s| {
            format!(
                "\\fB{}\\fR(1)",
                roff_text(s.get_display_name().unwrap_or(s.get_name()))
            )
        })
        .collect();
    writeln!(out, "{}, \\fBss\\fR(8), \\fBlsof\\fR(8)", subs.join(", "))?;
    man.render_version_section(out)
}

/// The page of `cmd` (porttop(1) or a subcommand's) into `out`.
fn render(cmd: &clap::Command, top: bool, out: &mut dyn Write) -> std::io::Result<()> {
    if top {
        top_page(cmd, out)
    } else {
        clap_mangen::Man::new(cmd.clone()).render(out)
    }
}

pub fn man(a: &ManArgs, out: &mut dyn Write) -> Result<i32, CliError> {
    let cmd = command();
    if let Some(dir) = &a.dir {
        let fail = |e: std::io::Error| CliError::bad_input(format!("{}: {e}", dir.display()));
        std::fs::create_dir_all(dir).map_err(fail)?;
        for (page, top) in std::iter::once((&cmd, true)).chain(pages(&cmd).map(|p| (p, false))) {
            let name = page.get_display_name().unwrap_or(page.get_name());
            let path = dir.join(format!("{name}.1"));
            let mut buf = Vec::new();
            render(page, top, &mut buf)?;
            std::fs::write(&path, buf).map_err(fail)?;
            writeln!(out, "{}", path.display())?;
        }
        return Ok(0);
    }
    let Some(name) = &a.subcommand else {
        top_page(&cmd, out)?;
        return Ok(0);
    };
    let page = pages(&cmd).find(|s| s.get_name() == name).ok_or_else(|| {
        let known: Vec<&str> = pages(&cmd).map(|s| s.get_name()).collect();
        CliError::bad_input(format!(
            "no subcommand '{name}' (one of: {})",
            known.join(", ")
        ))
    })?;
    render(page, false, out)?;
    Ok(0)
}
