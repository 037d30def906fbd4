//! A private tmux server for driving the real dashboard.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

/// A private tmux server (own socket), killed on drop even when the test fails.
pub struct Tmux {
    pub sock: String,
}

impl Tmux {
    pub fn new(tag: &str) -> Tmux {
        Tmux {
            sock: format!("porttop-{tag}-{}", std::process::id()),
        }
    }

    pub fn cmd(&self, args: &[&str]) -> String {
        let o = Command::new("tmux")
            .args(["-L", &self.sock, "-f", "/dev/null"])
            .args(args)
            .output()
            .expect("tmux runs");
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    pub fn start(&self, w: u16, h: u16, shell_cmd: &str) {
        let o = Command::new("tmux")
            .args(["-L", &self.sock, "-f", "/dev/null", "new-session", "-d"])
            .args(["-x", &w.to_string(), "-y", &h.to_string(), "-s", "t"])
            .args(["sh", "-c", shell_cmd])
            // (only the namespace it runs in, as `common::porttop`)
            .env("PORTTOP_NETNS", "host")
            .output()
            .expect("tmux runs");
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    }

    pub fn screen(&self) -> String {
        self.cmd(&["capture-pane", "-p", "-t", "t"])
    }

    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend_from_slice(keys);
        self.cmd(&args);
    }

    /// Polls the screen until `pred` holds (bounded); returns the screen.
    pub fn wait(&self, what: &str, secs: u64, pred: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if Instant::now() > end {
                panic!("timed out waiting for {what}; screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn alternate_on(&self) -> String {
        self.cmd(&["display", "-p", "-t", "t", "#{alternate_on}"])
            .trim()
            .to_string()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.sock, "kill-server"])
            .output();
    }
}
