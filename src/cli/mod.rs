//! Command-line definitions (clap derive) and the glue that runs each command.

pub mod config;
mod run;
pub use run::{exit_code_for_usage_error, run, shorten_echoes, CliError};

use crate::filter::{Filter, FilterError};
use crate::model::{Family, Proto, SockState};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

pub const EXIT_CODES: &str = "\
Exit status:
  0  success (pool: level ok; check: verdict good)
  1  pool: level warn; check: verdict caution or bad
  2  bad input (unknown flag, bad port/range/state, unreadable file) or a runtime
     error; pool: level critical
  3  pool only: bad input or error (Nagios UNKNOWN), since 2 means critical there
  128+N  ended by signal N (143 SIGTERM, 130 SIGINT, 129 SIGHUP): the dashboard,
         serve, watch, record, pool --sample";

#[derive(Parser, Debug)]
#[command(
    name = "porttop",
    version,
    about = "Sockets, their processes and ephemeral-port pressure, live (TCPView for the terminal)",
    after_help = format!("{}\n{EXIT_CODES}", crate::filter::help_text())
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(flatten)]
    pub dash: DashArgs,
}

/// Options of the dashboard (`porttop` with no subcommand).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "Dashboard (no subcommand)")]
pub struct DashArgs {
    /// Initial filter of the dashboard (the same flags as `list`)
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Refresh interval: 500ms, 2s, 1.5 (seconds); at least 250ms [default: 1s]
    #[arg(long, value_name = "DURATION", value_parser = parse_interval)]
    pub interval: Option<std::time::Duration>,
    /// Keep closed sockets visible (red) for N refreshes [default: 2]
    #[arg(long, value_name = "N")]
    pub keep_closed: Option<u32>,
    /// No colors (also when NO_COLOR is set): a mark column and reverse video
    #[arg(long)]
    pub no_color: bool,
    /// Warn at this % of the ephemeral pool [default: 80]
    #[arg(long, value_parser = parse_percent, value_name = "PCT")]
    pub warn: Option<f64>,
    /// Critical at this % of the ephemeral pool [default: 95]
    #[arg(long, value_parser = parse_percent, value_name = "PCT")]
    pub crit: Option<f64>,
    #[command(flatten)]
    pub within: WithinArgs,
    /// The view to open on: all, listening, established, ephemeral, processes
    /// [default: all]
    #[arg(long, value_name = "VIEW", value_parser = config::parse_view)]
    pub view: Option<crate::tui::app::View>,
    /// The socket table's columns, comma-separated; the others start hidden (the
    /// column chooser, c, shows them). Names: proto, local-addr, local-port,
    /// remote-addr, remote-port, state, pid, process, user, age [default: all]
    #[arg(long, value_name = "COL[,COL..]", value_parser = config::parse_columns)]
    pub columns: Option<config::Columns>,
}

impl DashArgs {
    /// The dashboard-only flags given (they mean nothing to a subcommand, which
    /// has its own `--warn` and `--interval` where they apply).
    pub fn given(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.filter != FilterArgs::default() {
            v.push("filter flags");
        }
        for (set, name) in [
            (self.interval.is_some(), "--interval"),
            (self.keep_closed.is_some(), "--keep-closed"),
            (self.no_color, "--no-color"),
            (self.warn.is_some(), "--warn"),
            (self.crit.is_some(), "--crit"),
            (self.within.warn_within.is_some(), "--warn-within"),
            (self.within.crit_within.is_some(), "--crit-within"),
            (self.view.is_some(), "--view"),
            (self.columns.is_some(), "--columns"),
        ] {
            if set {
                v.push(name);
            }
        }
        v
    }
}

/// The dashboard's refresh interval and how long closed rows stay, when neither
/// a flag nor the config file says.
pub const DASH_INTERVAL: std::time::Duration = std::time::Duration::from_secs(1);
pub const DASH_KEEP_CLOSED: u32 = 2;

#[derive(Args, Debug, Clone, Default)]
pub struct GlobalArgs {
    /// Read defaults from this TOML file instead of
    /// $XDG_CONFIG_HOME/porttop/config.toml (else ~/.config/porttop/config.toml)
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Read no config file
    #[arg(long, global = true, conflicts_with = "config")]
    pub no_config: bool,
    /// Use this ephemeral range instead of the OS's (what-if), e.g. 40000-40099
    #[arg(long, global = true, value_name = "LO-HI")]
    pub range: Option<String>,
    /// Use these reserved ports instead of the OS's, e.g. 1-4,10,40005-40007
    #[arg(long, global = true, value_name = "LIST")]
    pub reserved: Option<String>,
    /// Read snapshots from a recording (`porttop list --json` output, or JSON lines)
    #[arg(long, global = true, value_name = "FILE")]
    pub replay: Option<PathBuf>,
    /// Network namespaces to read: host (the one porttop runs in), all, or names
    /// (`ip netns` name, container name or id, inode), comma-separated
    /// [default: all as root, else host]
    #[arg(long, global = true, value_name = "host|all|NAME[,..]", env = "PORTTOP_NETNS",
          value_parser = crate::source::NetnsSelect::parse)]
    pub netns: Option<crate::source::NetnsSelect>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print the socket table once (aligned table, --json or --csv)
    List(ListArgs),
    /// Show the ephemeral port range in force, reserved ports and pool use
    Range(RangeArgs),
    /// Ephemeral pool pressure, busiest destinations, projection and collisions;
    /// exits 0 ok, 1 warn, 2 critical, 3 bad input (a Nagios plugin)
    Pool(PoolArgs),
    /// Judge ports for a new service: privileged, IANA, malware, ephemeral range,
    /// reserved, in use; exits 0 when every port is good, 1 otherwise
    Check(CheckArgs),
    /// Suggest listening ports that pass every rule, with the commands to reserve them
    Suggest(SuggestArgs),
    /// Reserve ports in ip_local_reserved_ports (Linux, root), keeping the existing list
    Reserve(ReserveArgs),
    /// Serve Prometheus /metrics, /healthz and /snapshot.json over HTTP
    Serve(ServeArgs),
    /// Print socket, pool-level and collision changes as JSON lines
    Watch(WatchArgs),
    /// Record snapshots as JSON lines (with range and processes) for --replay
    Record(RecordArgs),
    /// Close the TCP connections FILTER matches, in whichever network namespace
    /// (SOCK_DESTROY, as `ss -K`; root);
    /// exits 0 when all were closed, 1 when some were not, 2 on bad input
    Close(CloseArgs),
    /// Print the effective configuration and where each value came from
    Config(ConfigArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions(CompletionsArgs),
    /// Print the manual page (roff), or write one page per subcommand with --dir
    Man(ManArgs),
    /// Times steady-state refreshes of the live source (for bench/compare.sh)
    #[command(hide = true)]
    BenchRefresh(BenchRefreshArgs),
    /// Times a one-shot attribution of every socket by the /proc walk and by
    /// the BPF iterator, interleaved (for bench/bpf_iter.sh)
    #[command(hide = true)]
    BenchWalk(BenchWalkArgs),
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell to complete for
    #[arg(value_enum, value_name = "SHELL")]
    pub shell: clap_complete::Shell,
}

#[derive(Args, Debug)]
pub struct ManArgs {
    /// The page of this subcommand (e.g. `pool` for porttop-pool(1)); default: porttop(1)
    #[arg(value_name = "SUBCOMMAND", conflicts_with = "dir")]
    pub subcommand: Option<String>,
    /// Write porttop.1 and a porttop-SUBCOMMAND.1 for every subcommand into DIR
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Args, Debug)]
pub struct ConfigArgs {
    /// TOML output (a file `--config` reads back), without the sources
    #[arg(long)]
    pub toml: bool,
}

#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Address and port to listen on; a non-loopback address exposes this host's
    /// sockets and processes to whoever can reach it
    #[arg(long, value_name = "ADDR:PORT", value_parser = parse_listen,
          default_value_t = std::net::SocketAddr::from(([127, 0, 0, 1], crate::serve::DEFAULT_PORT)))]
    pub listen: std::net::SocketAddr,
    /// Seconds between refreshes of the socket table (minimum 250ms)
    #[arg(long, default_value = "5", value_parser = parse_interval, value_name = "SECS")]
    pub interval: std::time::Duration,
    /// How many of the busiest destinations to export as labelled series
    #[arg(long, default_value_t = 10, value_name = "K",
          value_parser = clap::value_parser!(u16).range(0..=1000))]
    pub top: u16,
    /// Warn at this % of the pool
    #[arg(long, default_value = "80", value_parser = parse_percent, value_name = "PCT")]
    pub warn: f64,
    /// Critical at this % of the pool
    #[arg(long, default_value = "95", value_parser = parse_percent, value_name = "PCT")]
    pub crit: f64,
    #[command(flatten)]
    pub within: WithinArgs,
    /// Include command lines in /snapshot.json also on a non-loopback --listen
    /// (they can hold secrets: left out there by default)
    #[arg(long)]
    pub expose_cmdline: bool,
    /// TLS and basic auth from a Prometheus exporter-toolkit web config file
    /// (tls_server_config, basic_auth_users); with TLS, plain HTTP is refused
    #[arg(long, value_name = "FILE")]
    pub web_config: Option<std::path::PathBuf>,
}

#[derive(Args, Debug)]
#[command(after_help = crate::filter::help_text())]
pub struct WatchArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// One JSON object per line and event (the default and only mode; accepted
    /// for scripts that say it)
    #[arg(long)]
    pub jsonl: bool,
    /// Seconds between snapshots (minimum 250ms)
    #[arg(long, default_value = "1", value_parser = parse_interval, value_name = "SECS")]
    pub interval: std::time::Duration,
    /// Stop after N events
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Stop after this long (e.g. 30, 2.5, 500ms)
    #[arg(long, value_parser = parse_seconds, value_name = "SECS")]
    pub duration: Option<f64>,
    /// Warn at this % of the pool (pool_level events)
    #[arg(long, default_value = "80", value_parser = parse_percent, value_name = "PCT")]
    pub warn: f64,
    /// Critical at this % of the pool (pool_level events)
    #[arg(long, default_value = "95", value_parser = parse_percent, value_name = "PCT")]
    pub crit: f64,
    #[command(flatten)]
    pub within: WithinArgs,
}

/// `127.0.0.1:6996`, `[::1]:6996`, `0.0.0.0:6996`; `:6996` is every IPv4
/// address (0.0.0.0), `localhost:6996` is 127.0.0.1 (no resolver is asked).
pub fn parse_listen(s: &str) -> Result<std::net::SocketAddr, String> {
    use std::net::{Ipv4Addr, SocketAddr};
    let s = s.trim();
    let bad = || {
        format!(
            "'{}' is not ADDR:PORT (e.g. 127.0.0.1:{p}, [::1]:{p}, localhost:{p}, :{p})",
            crate::output::safe(s),
            p = crate::serve::DEFAULT_PORT
        )
    };
    let port = |p: &str| p.parse::<u16>().map_err(|_| bad());
    if let Some(p) = s.strip_prefix(':') {
        return Ok(SocketAddr::from((Ipv4Addr::UNSPECIFIED, port(p)?)));
    }
    if let Some((host, p)) = s.rsplit_once(':') {
        if host.eq_ignore_ascii_case("localhost") {
            return Ok(SocketAddr::from((Ipv4Addr::LOCALHOST, port(p)?)));
        }
    }
    s.parse().map_err(|_| bad())
}

/// A refresh interval: `500ms`, `2s`, `1.5` (seconds), `1m`; at least 250 ms.
pub fn parse_interval(s: &str) -> Result<std::time::Duration, String> {
    let v = duration(s, 86_400.0)?;
    let d = std::time::Duration::from_secs_f64(v);
    if d < crate::model::MIN_INTERVAL {
        return Err(format!("interval '{s}' is below the minimum of 250ms"));
    }
    Ok(d)
}

#[derive(Args, Debug)]
pub struct BenchRefreshArgs {
    /// Timed refreshes after the first (cold) one
    #[arg(long, default_value_t = 10)]
    pub iterations: usize,
    /// Pause between refreshes, so sockets can churn as they would between frames
    #[arg(long, default_value_t = 200)]
    pub interval_ms: u64,
    /// Ask for tcp_info and socket memory (the dump then asks for them too)
    #[arg(long)]
    pub info: bool,
}

#[derive(Args, Debug)]
pub struct BenchWalkArgs {
    /// Timed rounds (each times both walks, in alternating order)
    #[arg(long, default_value_t = 15)]
    pub iterations: usize,
}

#[derive(Args, Debug)]
pub struct RecordArgs {
    /// How many snapshots
    #[arg(long, short = 'n', default_value_t = 10, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub count: u32,
    /// Time between snapshots
    #[arg(long, default_value = "1s", value_parser = parse_interval, value_name = "DURATION")]
    pub interval: std::time::Duration,
}

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Ports, each optionally with /tcp or /udp (without: both), e.g. 8080 5353/udp
    #[arg(required = true, value_name = "PORT[/PROTO]", value_parser = parse_port_proto)]
    pub ports: Vec<(u16, Option<Proto>)>,
    /// Also check against every common OS default ephemeral range, and name the
    /// rows of the Windows MaxUserPort table the port conflicts with
    #[arg(long)]
    pub portable: bool,
    /// JSON output
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub windows: WindowsArgs,
}

#[derive(Args, Debug)]
pub struct SuggestArgs {
    /// How many ports
    #[arg(short = 'n', default_value_t = 5, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=1000))]
    pub n: u16,
    /// Protocol the port must be free for (default: both)
    #[arg(long, value_parser = parse_proto, value_name = "tcp|udp")]
    pub proto: Option<Proto>,
    /// Prefer ports closest to this one
    #[arg(long, value_name = "PORT", value_parser = parse_port_arg)]
    pub near: Option<u16>,
    /// Stay outside every common OS default ephemeral range
    #[arg(long)]
    pub portable: bool,
    /// JSON output
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub windows: WindowsArgs,
}

/// What-if for a Windows host: the range from the knowledge-base article's
/// MaxUserPort table (`crate::range::windows`) instead of this host's.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Windows what-if (the MaxUserPort table)")]
pub struct WindowsArgs {
    /// Windows version: nt (NT/2000/XP/2003), nt-kb951748 (2000/XP/2003 with
    /// KB951748/KB951746), vista (Vista/2008 and later)
    #[arg(long, value_name = "VERSION", value_parser = parse_windows_version)]
    pub windows: Option<crate::range::windows::WindowsVersion>,
    /// The MaxUserPort registry value, decimal or 0x hex as `reg query` prints it
    /// (alone: --windows vista)
    #[arg(long, value_name = "N", value_parser = parse_dword, conflicts_with = "app")]
    pub maxuserport: Option<u32>,
    /// The MaxUserPort a product sets: sbs, exchange2003 (60000), isa,
    /// sbs-exchange (65535) (alone: --windows nt, where those products run)
    #[arg(long, value_name = "APP", value_parser = parse_windows_app)]
    pub app: Option<crate::range::windows::App>,
}

impl WindowsArgs {
    /// The table's range for these flags, or `None` when none is given.
    pub fn derive(
        &self,
    ) -> Result<Option<crate::range::windows::Derivation>, crate::range::RangeError> {
        use crate::range::windows::{derive, WindowsVersion};
        let version = match (self.windows, self.maxuserport, self.app) {
            (None, None, None) => return Ok(None),
            (Some(v), _, _) => v,
            (None, _, Some(_)) => WindowsVersion::Nt,
            (None, Some(_), None) => WindowsVersion::Vista,
        };
        derive(version, self.maxuserport, self.app).map(Some)
    }
}

fn parse_windows_version(s: &str) -> Result<crate::range::windows::WindowsVersion, String> {
    use crate::range::windows::WindowsVersion;
    WindowsVersion::parse(s).ok_or_else(|| {
        let ids: Vec<&str> = WindowsVersion::ALL.iter().map(|v| v.id()).collect();
        format!("'{s}' is not a Windows version ({})", ids.join(", "))
    })
}

fn parse_windows_app(s: &str) -> Result<crate::range::windows::App, String> {
    use crate::range::windows::App;
    App::parse(s).ok_or_else(|| {
        let ids: Vec<&str> = App::ALL.iter().map(|a| a.id()).collect();
        format!("'{s}' is not a known application ({})", ids.join(", "))
    })
}

/// A registry DWORD: decimal (`60000`) or hex as `reg query` prints it (`0xea60`).
fn parse_dword(s: &str) -> Result<u32, String> {
    let t = s.trim();
    let parsed = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(h) if !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
            u32::from_str_radix(h, 16).ok()
        }
        Some(_) => None,
        None if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) => t.parse().ok(),
        None => None,
    };
    parsed.ok_or_else(|| format!("'{s}' is not a registry DWORD (decimal or 0x hex, 0-4294967295)"))
}

#[derive(Args, Debug)]
pub struct ReserveArgs {
    /// Ports to reserve
    #[arg(required = true, value_name = "PORT", value_parser = parse_nonzero_port)]
    pub ports: Vec<u16>,
    /// Print what would be written, change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask (required when stdin is not a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
}

fn parse_nonzero_port(s: &str) -> Result<u16, String> {
    match parse_port_arg(s)? {
        0 => Err("port 0 cannot be reserved".into()),
        p => Ok(p),
    }
}

fn parse_proto(s: &str) -> Result<Proto, String> {
    match s.to_ascii_lowercase().as_str() {
        "tcp" => Ok(Proto::Tcp),
        "udp" => Ok(Proto::Udp),
        _ => Err(format!("'{s}' is not a protocol (tcp or udp)")),
    }
}

/// `8080` (both protocols), `8080/tcp`, `5353/udp`.
pub fn parse_port_proto(s: &str) -> Result<(u16, Option<Proto>), String> {
    let (port, proto) = match s.split_once('/') {
        Some((p, pr)) => (p, Some(parse_proto(pr)?)),
        None => (s, None),
    };
    let port = parse_port_arg(port)?;
    if port == 0 {
        return Err("port 0 is not a listening port".into());
    }
    Ok((port, proto))
}

#[derive(Args, Debug)]
pub struct PoolArgs {
    /// JSON output
    #[arg(long)]
    pub json: bool,
    /// One line in the Nagios/Icinga plugin format, with performance data
    #[arg(long, conflicts_with = "json")]
    pub nagios: bool,
    /// Warn at this % of the pool
    #[arg(long, default_value = "80", value_parser = parse_percent, value_name = "PCT")]
    pub warn: f64,
    /// Critical at this % of the pool
    #[arg(long, default_value = "95", value_parser = parse_percent, value_name = "PCT")]
    pub crit: f64,
    #[command(flatten)]
    pub within: WithinArgs,
    /// How many destinations to show
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub top: usize,
    /// Seconds between the two snapshots used for the churn rate (0: one snapshot,
    /// no projection)
    #[arg(long, default_value = "1", value_parser = parse_seconds, value_name = "SECS")]
    pub sample: f64,
}

/// `80`, `80%` or `80.5` -> 0.805. Must lie in 0-100.
pub fn parse_percent(s: &str) -> Result<f64, String> {
    let v: f64 = s
        .trim()
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("'{s}' is not a percentage"))?;
    if !(0.0..=100.0).contains(&v) {
        return Err(format!("{s}: a percentage must lie in 0-100"));
    }
    Ok(v / 100.0)
}

/// The projection windows of the pool level (`--warn-within`, `--crit-within`).
#[derive(Args, Debug, Clone, Copy, Default, PartialEq)]
pub struct WithinArgs {
    /// Warn when a pool is projected to run out within this long (e.g. 5m, 90s)
    /// [default: 5m]
    #[arg(long, value_parser = parse_window, value_name = "DURATION")]
    pub warn_within: Option<f64>,
    /// Critical when a pool is projected to run out within this long [default: 1m]
    #[arg(long, value_parser = parse_window, value_name = "DURATION")]
    pub crit_within: Option<f64>,
}

impl WithinArgs {
    /// The thresholds with these windows (defaults where not given); `--warn`
    /// above `--crit` and `--crit-within` above `--warn-within` are refused.
    pub fn thresholds(
        &self,
        warn: f64,
        crit: f64,
    ) -> Result<crate::analysis::pool::Thresholds, String> {
        let d = crate::analysis::pool::Thresholds::default();
        let t = crate::analysis::pool::Thresholds {
            warn,
            crit,
            warn_within_secs: self.warn_within.unwrap_or(d.warn_within_secs),
            crit_within_secs: self.crit_within.unwrap_or(d.crit_within_secs),
        };
        if t.warn > t.crit {
            return Err(format!(
                "--warn {:.0}% is above --crit {:.0}%",
                warn * 100.0,
                crit * 100.0
            ));
        }
        if t.crit_within_secs > t.warn_within_secs {
            return Err(format!(
                "--crit-within {} s is longer than --warn-within {} s",
                t.crit_within_secs, t.warn_within_secs
            ));
        }
        Ok(t)
    }
}

/// A projection window: a duration of at most a day (0 turns that level's
/// projection off).
pub fn parse_window(s: &str) -> Result<f64, String> {
    duration(s, 86_400.0)
}

/// Seconds with an optional unit: `1`, `1.5`, `500ms`, `2s`; at most an hour.
pub fn parse_seconds(s: &str) -> Result<f64, String> {
    duration(s, 3600.0)
}

/// The one duration syntax of every flag: `500ms`, `2s`, `1.5` (seconds), `1m`;
/// 0 to `max_secs` seconds.
fn duration(s: &str, max_secs: f64) -> Result<f64, String> {
    let t = s.trim();
    let (num, scale) = if let Some(n) = t.strip_suffix("ms") {
        (n, 0.001)
    } else if let Some(n) = t.strip_suffix('s') {
        (n, 1.0)
    } else if let Some(n) = t.strip_suffix('m') {
        (n, 60.0)
    } else {
        (t, 1.0)
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (e.g. 500ms, 2s, 1.5)"))?;
    if !v.is_finite() || v < 0.0 || v * scale > max_secs {
        return Err(format!("{s}: a duration must lie in 0-{max_secs} s"));
    }
    Ok(v * scale)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn durations_take_ms_s_m_and_bare_seconds() {
        assert_eq!(parse_interval("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_interval("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_interval("1.5"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_interval("1m"), Ok(Duration::from_secs(60)));
        assert!(parse_interval("100ms").unwrap_err().contains("minimum"));
        for bad in ["abc", "-1", "NaN", "inf", "", "1h"] {
            assert!(parse_interval(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_seconds("0"), Ok(0.0));
        assert!(parse_seconds("3601").is_err());
    }

    #[test]
    fn listen_takes_a_bare_port_and_localhost() {
        let a = |s: &str| parse_listen(s).map(|a| a.to_string());
        assert_eq!(a(":6996").as_deref(), Ok("0.0.0.0:6996"));
        assert_eq!(a("localhost:6996").as_deref(), Ok("127.0.0.1:6996"));
        assert_eq!(a("LOCALHOST:1").as_deref(), Ok("127.0.0.1:1"));
        assert_eq!(a("[::1]:6996").as_deref(), Ok("[::1]:6996"));
        assert_eq!(a(" 10.0.0.5:80 ").as_deref(), Ok("10.0.0.5:80"));
        for bad in [
            ":",
            ":70000",
            "localhost",
            "localhost:x",
            "example.com:80",
            "6996",
        ] {
            assert!(parse_listen(bad).is_err(), "{bad}");
        }
    }
}

#[derive(Args, Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterArgs {
    /// TCP sockets only (with --udp: both)
    #[arg(short = 't', long)]
    pub tcp: bool,
    /// UDP sockets only (with --tcp: both)
    #[arg(short = 'u', long)]
    pub udp: bool,
    /// IPv4 sockets only
    #[arg(short = '4')]
    pub ipv4: bool,
    /// IPv6 sockets only
    #[arg(short = '6')]
    pub ipv6: bool,
    /// Listening sockets (TCP LISTEN and bound UDP)
    #[arg(short = 'l', long)]
    pub listening: bool,
    /// Established TCP connections
    #[arg(short = 'e', long)]
    pub established: bool,
    /// States, comma-separated, ss or netstat names (e.g. time-wait,SYN_SENT)
    #[arg(long, value_name = "S[,S..]", value_parser = parse_state_list)]
    pub state: Vec<String>,
    /// Local or remote port
    #[arg(long, value_name = "N", value_parser = parse_port_arg)]
    pub port: Option<u16>,
    /// Sockets held by this pid
    #[arg(long, value_name = "N")]
    pub pid: Option<u32>,
    /// Process name contains NAME (case-insensitive)
    #[arg(long, value_name = "NAME")]
    pub process: Option<String>,
    /// Sockets whose local port is in the ephemeral pool
    #[arg(long)]
    pub ephemeral: bool,
    /// Filter words, as in the dashboard's `/` prompt (see below), e.g.
    /// `dport:443 !state:listen`
    #[arg(value_name = "FILTER", allow_hyphen_values = false)]
    pub words: Vec<String>,
}

/// A `--state` list: at least one state (`--state ''` used to mean no filter).
fn parse_state_list(s: &str) -> Result<String, String> {
    if s.split(',').all(|p| p.trim().is_empty()) {
        return Err("no state given (e.g. --state time-wait or --state listen,estab)".into());
    }
    Ok(s.to_string())
}

fn parse_port_arg(s: &str) -> Result<u16, String> {
    s.parse::<u16>()
        .map_err(|_| format!("'{s}' is not a port (expected 0-65535)"))
}

impl FilterArgs {
    pub fn to_filter(&self) -> Result<Filter, FilterError> {
        use crate::filter::Term;
        let mut f = Filter::default();
        let flags = [
            (self.tcp, Term::Proto(Proto::Tcp)),
            (self.udp, Term::Proto(Proto::Udp)),
            (self.ipv4, Term::Family(Family::Ipv4)),
            (self.ipv6, Term::Family(Family::Ipv6)),
            (self.established, Term::State(SockState::Established)),
            (self.ephemeral, Term::Ephemeral),
        ];
        for (on, t) in flags {
            if on {
                f.add(t);
            }
        }
        if self.listening {
            SockState::LISTENING
                .iter()
                .for_each(|s| f.add(Term::State(*s)));
        }
        for s in &self.state {
            f.add_states(s)?;
        }
        if let Some(p) = self.port {
            f.add(Term::Port(crate::filter::Ports::one(p)));
        }
        if let Some(p) = self.pid {
            f.add(Term::Pid(p));
        }
        if let Some(p) = &self.process {
            f.add(Term::Process(p.clone()));
        }
        f.extend(Filter::parse_words(&self.words)?);
        Ok(f)
    }
}

#[derive(Args, Debug)]
#[command(after_help = crate::filter::help_text())]
pub struct ListArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// JSON array of socket records (loadable with --replay)
    #[arg(long, conflicts_with = "csv")]
    pub json: bool,
    /// CSV with a header line
    #[arg(long)]
    pub csv: bool,
    /// Leave out the header line
    #[arg(long)]
    pub no_header: bool,
    /// Each connection's queues, RTT, retransmits, cwnd, bytes, timer and drops
    /// (tcp_info and socket memory, as `ss -tinoem`; JSON and CSV get every field)
    #[arg(long, short = 'i')]
    pub info: bool,
}

#[derive(Args, Debug)]
#[command(after_help = crate::filter::help_text())]
pub struct CloseArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// List what would be closed, close nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Do not ask (required when stdin is not a terminal)
    #[arg(long, short = 'y')]
    pub yes: bool,
}

#[derive(Args, Debug)]
pub struct RangeArgs {
    /// JSON output
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub windows: WindowsArgs,
}
