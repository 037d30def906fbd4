//! Colors in one place. `Theme::mono()` (NO_COLOR / --no-color) uses no colors
//! at all: marks become a column (`+ ~ -`) and the selection reverse video.

use super::rows::{Mark, Row};
use ratatui::style::{Color, Modifier, Style};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    pub fn color() -> Self {
        Theme { color: true }
    }

    pub fn mono() -> Self {
        Theme { color: false }
    }

    /// Colors unless `--no-color` or `NO_COLOR` (any non-empty value) is set.
    pub fn from_env(no_color_flag: bool) -> Self {
        let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        if no_color_flag || no_color {
            Theme::mono()
        } else {
            Theme::color()
        }
    }

    fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::default().fg(c)
        } else {
            Style::default()
        }
    }

    pub fn title(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn dim(&self) -> Style {
        if self.color {
            Style::default().fg(Color::DarkGray)
        } else {
            Style::default()
        }
    }

    pub fn table_header(&self) -> Style {
        Style::default().add_modifier(Modifier::BOLD | Modifier::UNDERLINED)
    }

    pub fn active_tab(&self) -> Style {
        if self.color {
            Style::default().fg(Color::Black).bg(Color::Cyan)
        } else {
            Style::default().add_modifier(Modifier::REVERSED)
        }
    }

    /// A socket row: change mark first, then collision risk.
    pub fn row(&self, r: &Row) -> Style {
        let base = match (self.color, r.mark) {
            (true, Mark::New) => Style::default().fg(Color::Green),
            (true, Mark::Changed) => Style::default().fg(Color::Yellow),
            (true, Mark::Closed) => Style::default().fg(Color::Red),
            _ => Style::default(),
        };
        if r.collision() {
            if self.color && r.mark == Mark::None {
                base.fg(Color::Magenta).add_modifier(Modifier::BOLD)
            } else {
                base.add_modifier(Modifier::BOLD)
            }
        } else {
            base
        }
    }

    pub fn selected(&self) -> Style {
        if self.color {
            Style::default()
                .bg(Color::Blue)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().add_modifier(Modifier::REVERSED)
        }
    }

    /// The pool gauge by level: ok < 80 % <= warn < 95 % <= critical.
    pub fn gauge(&self, pct: f64) -> Style {
        let c = if pct >= 95.0 {
            Color::Red
        } else if pct >= 80.0 {
            Color::Yellow
        } else {
            Color::Green
        };
        self.fg(c)
    }

    /// The prompt's cursor cell (reverse video works without colours too).
    pub fn cursor(&self) -> Style {
        Style::default().add_modifier(Modifier::REVERSED)
    }

    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow).add_modifier(Modifier::BOLD)
    }

    pub fn error(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    /// Sort direction arrow in the column header.
    pub fn arrow(&self, desc: bool) -> &'static str {
        match (self.color, desc) {
            (true, false) => "▲",
            (true, true) => "▼",
            (false, false) => "^",
            (false, true) => "v",
        }
    }
}
