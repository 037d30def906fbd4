//! Terminal hygiene: raw mode + alternate screen behind a guard whose Drop never
//! panics, a panic hook that restores the terminal before printing the panic.

use ratatui::crossterm::{
    cursor,
    event::{DisableMouseCapture, EnableMouseCapture},
    execute,
    terminal::{disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen},
};
use ratatui::{backend::CrosstermBackend, Terminal};
use std::io::{self, Stdout};
use std::sync::atomic::{AtomicBool, Ordering};

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Whether the terminal is in porttop's state (raw mode, alternate screen).
static ACTIVE: AtomicBool = AtomicBool::new(false);

/// Restores the terminal once (every error ignored). A second LeaveAlternateScreen
/// would move the cursor back to where the first left it, and the shell would then
/// overwrite a panic message just printed: so only the first call acts.
pub fn restore() {
    if !ACTIVE.swap(false, Ordering::SeqCst) {
        return;
    }
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        cursor::Show
    );
}

/// Turns mouse capture on or off (off: the terminal selects text itself).
pub fn set_mouse(on: bool) {
    let _ = if on {
        execute!(io::stdout(), EnableMouseCapture)
    } else {
        execute!(io::stdout(), DisableMouseCapture)
    };
}

/// The real terminal's side of the loop's effects (mouse capture, clipboard).
pub struct Host;

impl super::Host for Host {
    fn set_mouse(&mut self, on: bool) {
        set_mouse(on);
    }

    fn copy(&mut self, seq: &str) {
        use std::io::Write;
        let _ = io::stdout().write_all(seq.as_bytes());
        let _ = io::stdout().flush();
    }
}

/// Owns the terminal state; dropping it restores the terminal.
pub struct Guard {
    _private: (),
}

impl Guard {
    /// Enters raw mode and the alternate screen, installs the panic hook.
    pub fn enter() -> io::Result<(Guard, Term)> {
        install_panic_hook();
        enable_raw_mode()?;
        ACTIVE.store(true, Ordering::SeqCst);
        // From here on, the guard restores whatever happened.
        let guard = Guard { _private: () };
        execute!(
            io::stdout(),
            EnterAlternateScreen,
            EnableMouseCapture,
            cursor::Hide
        )?;
        let term = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        Ok((guard, term))
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

fn install_panic_hook() {
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        prev(info);
        // A panic on another thread (the collector, input or signal thread) would
        // leave the UI drawing into a restored, cooked terminal with frozen data:
        // end the process instead, after the message.
        if std::thread::current().name() != Some("main") {
            std::process::exit(101);
        }
    }));
}
