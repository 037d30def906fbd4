//! Private network namespaces for tests that need their own ephemeral range.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub struct Netns {
    pub name: String,
}

impl Netns {
    /// Creates a namespace with loopback up; None (after saying why) when that is
    /// not permitted here.
    pub fn create(tag: &str) -> Option<Netns> {
        if !super::is_root() || !super::have("ip") {
            eprintln!("SKIP: needs root and iproute2 to create a network namespace");
            return None;
        }
        sweep_stale();
        let name = format!("porttop-t-{tag}-{}", std::process::id());
        let _ = Command::new("ip")
            .args(["netns", "del", &name])
            .stderr(std::process::Stdio::null())
            .status();
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            eprintln!("SKIP: `ip netns add` is not permitted here");
            return None;
        }
        let ns = Netns { name };
        let up = ns.cmd("ip").args(["link", "set", "lo", "up"]).status();
        if !up.map(|s| s.success()).unwrap_or(false) {
            eprintln!("SKIP: cannot bring loopback up in the namespace");
            return None;
        }
        Some(ns)
    }

    /// A command that runs `prog` inside the namespace.
    pub fn cmd(&self, prog: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, prog]);
        c
    }

    pub fn sysctl(&self, file: &str, value: &str) {
        let path = format!("/proc/sys/net/ipv4/{file}");
        let st = self
            .cmd("sh")
            .args(["-c", &format!("echo '{value}' > {path}")])
            .status()
            .unwrap();
        assert!(st.success(), "cannot set {path} in {}", self.name);
    }

    pub fn read(&self, file: &str) -> String {
        let o = self
            .cmd("cat")
            .arg(format!("/proc/sys/net/ipv4/{file}"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).trim().to_string()
    }

    /// Runs porttop in the namespace: (exit code, stdout, stderr).
    pub fn porttop(&self, args: &[&str]) -> (i32, String, String) {
        super::outcome(
            self.cmd(env!("CARGO_BIN_EXE_porttop"))
                .env("PORTTOP_NETNS", "host")
                .args(args),
        )
    }

    /// Starts loadlab in the namespace and waits for its `ready` line.
    pub fn lab(&self, args: &[&str]) -> Lab {
        Lab::start(self.cmd(env!("CARGO_BIN_EXE_loadlab")), args)
    }
}

/// Deletes namespaces left by test processes that died (killed by a timeout, say):
/// their names end in the pid of a process that no longer exists.
fn sweep_stale() {
    let Ok(o) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&o.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        if !name.starts_with("porttop-t-") {
            continue;
        }
        let pid = name.rsplit('-').next().and_then(|p| p.parse::<u32>().ok());
        if let Some(pid) = pid {
            if !std::path::Path::new(&format!("/proc/{pid}")).exists() {
                let _ = Command::new("ip").args(["netns", "del", name]).status();
            }
        }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// A running loadlab; killed when dropped.
pub struct Lab {
    pub child: Child,
    pub ready: serde_json::Value,
    pub stdin: Option<ChildStdin>,
    pub lines: mpsc::Receiver<String>,
}

impl Lab {
    pub fn start(mut cmd: Command, args: &[&str]) -> Lab {
        let mut child = cmd
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start loadlab");
        let stdout: ChildStdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let first = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("loadlab did not get ready");
        let json = first.strip_prefix("ready ").expect("a ready line");
        Lab {
            ready: serde_json::from_str(json).unwrap(),
            stdin: child.stdin.take(),
            child,
            lines: rx,
        }
    }

    pub fn port(&self, key: &str) -> u16 {
        self.ready[key].as_u64().unwrap() as u16
    }

    pub fn next_line(&self) -> Option<String> {
        self.lines.recv_timeout(Duration::from_secs(30)).ok()
    }

    pub fn step(&mut self) {
        if let Some(s) = self.stdin.as_mut() {
            let _ = s.write_all(b"\n");
            let _ = s.flush();
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
