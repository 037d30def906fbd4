//! A one-line editor for the dashboard's prompts (`/` filter, `w` save), with
//! the keys of a shell line (readline's emacs mode, which bash and zsh share):
//! cursor left/right, Home/End (Ctrl-A/Ctrl-E), Ctrl-U, Ctrl-K, Ctrl-W, Delete,
//! and history with Up/Down. Pure: the cursor is a char index into `text`.

use unicode_width::UnicodeWidthChar;

/// An edit of the line (a printable character is `LineEdit::insert`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Edit {
    Left,
    Right,
    Home,
    End,
    /// Backspace: the character before the cursor.
    Backspace,
    /// Delete: the character under the cursor.
    Delete,
    /// Ctrl-U: everything before the cursor.
    KillToStart,
    /// Ctrl-K: everything from the cursor on.
    KillToEnd,
    /// Ctrl-W: the word before the cursor (with the blanks after it), as
    /// readline's unix-word-rubout.
    KillWord,
    /// Up: the previous (older) history entry.
    HistPrev,
    /// Down: the next (newer) history entry, then back to the line being typed.
    HistNext,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineEdit {
    pub text: String,
    /// In chars, 0..=text.chars().count().
    pub cursor: usize,
    /// Index into the history while browsing it (0 = newest).
    hist: Option<usize>,
    /// The line being typed before browsing started.
    draft: String,
}

impl LineEdit {
    /// A line holding `text`, the cursor at its end.
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        LineEdit {
            cursor: text.chars().count(),
            text,
            ..Default::default()
        }
    }

    fn byte(&self, char_idx: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_idx)
            .map_or(self.text.len(), |(b, _)| b)
    }

    fn len(&self) -> usize {
        self.text.chars().count()
    }

    pub fn insert(&mut self, c: char) {
        let b = self.byte(self.cursor);
        self.text.insert(b, c);
        self.cursor += 1;
        self.hist = None;
    }

    /// Applies an edit; `history` is newest first.
    pub fn apply(&mut self, e: Edit, history: &[String]) {
        let len = self.len();
        match e {
            Edit::Left => self.cursor = self.cursor.saturating_sub(1),
            Edit::Right => self.cursor = (self.cursor + 1).min(len),
            Edit::Home => self.cursor = 0,
            Edit::End => self.cursor = len,
            Edit::Backspace => {
                if self.cursor > 0 {
                    let (a, b) = (self.byte(self.cursor - 1), self.byte(self.cursor));
                    self.text.replace_range(a..b, "");
                    self.cursor -= 1;
                }
            }
            Edit::Delete => {
                if self.cursor < len {
                    let (a, b) = (self.byte(self.cursor), self.byte(self.cursor + 1));
                    self.text.replace_range(a..b, "");
                }
            }
            Edit::KillToStart => {
                let b = self.byte(self.cursor);
                self.text.replace_range(..b, "");
                self.cursor = 0;
            }
            Edit::KillToEnd => {
                let b = self.byte(self.cursor);
                self.text.truncate(b);
            }
            Edit::KillWord => {
                let chars: Vec<char> = self.text.chars().collect();
                let mut start = self.cursor.min(chars.len());
                while start > 0 && chars[start - 1].is_whitespace() {
                    start -= 1;
                }
                while start > 0 && !chars[start - 1].is_whitespace() {
                    start -= 1;
                }
                let (a, b) = (self.byte(start), self.byte(self.cursor));
                self.text.replace_range(a..b, "");
                self.cursor = start;
            }
            Edit::HistPrev => {
                let next = self.hist.map_or(0, |i| i + 1);
                if let Some(h) = history.get(next) {
                    if self.hist.is_none() {
                        self.draft = self.text.clone();
                    }
                    self.hist = Some(next);
                    self.set(h.clone());
                }
            }
            Edit::HistNext => match self.hist {
                Some(0) => {
                    self.hist = None;
                    let d = std::mem::take(&mut self.draft);
                    self.set(d);
                }
                Some(i) => {
                    if let Some(h) = history.get(i - 1) {
                        self.hist = Some(i - 1);
                        self.set(h.clone());
                    }
                }
                None => {}
            },
        }
        // A change of the text leaves history browsing (the edited line is new).
        let moves_only = matches!(
            e,
            Edit::Left | Edit::Right | Edit::Home | Edit::End | Edit::HistPrev | Edit::HistNext
        );
        if !moves_only {
            self.hist = None;
        }
    }

    fn set(&mut self, t: String) {
        self.text = t;
        self.cursor = self.len();
    }

    /// The part of the line to show in `width` columns so that the cursor is
    /// visible: (text before the cursor, the char under it or ' ', text after).
    pub fn window(&self, width: usize) -> (String, char, String) {
        let chars: Vec<char> = self.text.chars().collect();
        let cur = self.cursor.min(chars.len());
        let under = chars.get(cur).copied().unwrap_or(' ');
        let w = |c: &char| c.width().unwrap_or(0);
        // Start as far left as possible while the cursor cell still fits.
        let mut start = 0;
        let mut used: usize = chars[..cur].iter().map(w).sum::<usize>() + w(&under).max(1);
        while used > width && start < cur {
            used -= w(&chars[start]);
            start += 1;
        }
        let before: String = chars[start..cur].iter().collect();
        let mut after = String::new();
        for c in chars.iter().skip(cur + 1) {
            if used + w(c) > width {
                break;
            }
            used += w(c);
            after.push(*c);
        }
        (before, under, after)
    }
}

/// Remembers submitted lines, newest first, without repeats, at most `MAX`.
pub fn remember(history: &mut Vec<String>, line: &str) {
    const MAX: usize = 100;
    let line = line.trim();
    if line.is_empty() {
        return;
    }
    history.retain(|h| h != line);
    history.insert(0, line.to_string());
    history.truncate(MAX);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(s: &str) -> LineEdit {
        let mut l = LineEdit::default();
        for c in s.chars() {
            l.insert(c);
        }
        l
    }

    #[test]
    fn cursor_moves_and_inserts_in_the_middle() {
        let mut l = typed("port:443");
        l.apply(Edit::Home, &[]);
        l.insert('!');
        assert_eq!((l.text.as_str(), l.cursor), ("!port:443", 1));
        l.apply(Edit::End, &[]);
        l.apply(Edit::Left, &[]);
        l.apply(Edit::Left, &[]);
        l.apply(Edit::Backspace, &[]);
        assert_eq!(l.text, "!port:43");
        l.apply(Edit::Delete, &[]);
        assert_eq!((l.text.as_str(), l.cursor), ("!port:3", 6));
        l.apply(Edit::Right, &[]);
        l.apply(Edit::Right, &[]);
        assert_eq!(l.cursor, 7, "not past the end");
    }

    #[test]
    fn ctrl_u_ctrl_k_and_ctrl_w_as_in_a_shell() {
        let mut l = typed("tcp port:443  proc:nginx  ");
        l.apply(Edit::KillWord, &[]);
        assert_eq!(l.text, "tcp port:443  ");
        l.apply(Edit::KillWord, &[]);
        assert_eq!(l.text, "tcp ");
        l.apply(Edit::Left, &[]);
        l.apply(Edit::Left, &[]);
        l.apply(Edit::KillToEnd, &[]);
        assert_eq!(l.text, "tc");
        l.insert('x');
        l.apply(Edit::Left, &[]);
        l.apply(Edit::KillToStart, &[]);
        assert_eq!((l.text.as_str(), l.cursor), ("x", 0));
    }

    #[test]
    fn history_up_down_and_back_to_the_draft() {
        let mut h = Vec::new();
        remember(&mut h, "port:80");
        remember(&mut h, "tcp");
        remember(&mut h, "port:80");
        assert_eq!(h, ["port:80", "tcp"], "newest first, no repeats");
        let mut l = typed("dra");
        l.apply(Edit::HistPrev, &h);
        assert_eq!(l.text, "port:80");
        l.apply(Edit::HistPrev, &h);
        assert_eq!(l.text, "tcp");
        l.apply(Edit::HistPrev, &h);
        assert_eq!(l.text, "tcp", "stays at the oldest");
        l.apply(Edit::HistNext, &h);
        assert_eq!(l.text, "port:80");
        l.apply(Edit::HistNext, &h);
        assert_eq!((l.text.as_str(), l.cursor), ("dra", 3), "the draft is back");
    }

    #[test]
    fn multibyte_text_edits_by_character() {
        let mut l = typed("proc:café");
        l.apply(Edit::Left, &[]);
        l.apply(Edit::Backspace, &[]);
        assert_eq!(l.text, "proc:caé");
        let (b, u, a) = l.window(80);
        assert_eq!((b.as_str(), u, a.as_str()), ("proc:ca", 'é', ""));
    }

    #[test]
    fn a_long_line_scrolls_to_keep_the_cursor_visible() {
        let l = typed(&"x".repeat(50));
        let (b, u, a) = l.window(10);
        assert_eq!((b.chars().count(), u, a.len()), (9, ' ', 0));
        let mut l = l;
        l.apply(Edit::Home, &[]);
        let (b, u, a) = l.window(10);
        assert_eq!((b.len(), u, a.len()), (0, 'x', 9));
    }
}
