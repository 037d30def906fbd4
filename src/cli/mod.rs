//! Command-line definitions (clap derive) and the glue that runs each command.

pub mod config;
mod run;
pub use run::{exit_code_for_usage_error, run, CliError};

use crate::filter::{Filter, FilterError};
use crate::model::{Family, Proto};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

pub const EXIT_CODES: &str = "\
Exit status:
  0  success (pool: level ok; check: verdict good)
  1  pool: level warn; check: verdict caution or bad
  2  bad input (unknown flag, bad port/range/state, unreadable file) or a runtime
     error; pool: level critical
  3  pool only: bad input or error (Nagios UNKNOWN), since 2 means critical there
  128+N  the dashboard was ended by signal N (143 SIGTERM, 129 SIGHUP)";

#[derive(Parser, Debug)]
#[command(
    name = "porttop",
    version,
    about = "Sockets, their processes and ephemeral-port pressure, live (TCPView for the terminal)",
    after_help = EXIT_CODES
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
    /// Refresh interval: 500ms, 2s, 1.5 (seconds); at least 250ms
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = parse_interval)]
    pub interval: std::time::Duration,
    /// Keep closed sockets visible (red) for N refreshes
    #[arg(long, value_name = "N", default_value_t = 2)]
    pub keep_closed: u32,
    /// No colors (also when NO_COLOR is set): a mark column and reverse video
    #[arg(long)]
    pub no_color: bool,
    /// Warn at this % of the ephemeral pool
    #[arg(long, default_value = "80", value_parser = parse_percent, value_name = "PCT")]
    pub warn: f64,
    /// Critical at this % of the ephemeral pool
    #[arg(long, default_value = "95", value_parser = parse_percent, value_name = "PCT")]
    pub crit: f64,
    /// The view to open on: all, listening, established, ephemeral, processes
    #[arg(long, value_name = "VIEW", default_value = "all", value_parser = config::parse_view)]
    pub view: crate::tui::app::View,
    /// The socket table's columns, in order, comma-separated (default: all of
    /// proto,local-addr,local-port,remote-addr,remote-port,state,pid,process,user)
    #[arg(long, value_name = "COL[,COL..]", value_parser = config::parse_columns)]
    pub columns: Option<config::Columns>,
}

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
    /// Print socket, pool-level and collision changes as JSON lines (--jsonl)
    Watch(WatchArgs),
    /// Record snapshots as JSON lines (with range and processes) for --replay
    Record(RecordArgs),
    /// Print the effective configuration and where each value came from
    Config(ConfigArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions(CompletionsArgs),
    /// Print the manual page (roff), or write one page per subcommand with --dir
    Man(ManArgs),
    /// Times steady-state refreshes of the live source (for bench/compare.sh)
    #[command(hide = true)]
    BenchRefresh(BenchRefreshArgs),
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
}

#[derive(Args, Debug)]
pub struct WatchArgs {
    #[command(flatten)]
    pub filter: FilterArgs,
    /// One JSON object per line and event (the only output mode for now)
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
}

/// `127.0.0.1:6996`, `[::1]:6996`, `0.0.0.0:6996`.
pub fn parse_listen(s: &str) -> Result<std::net::SocketAddr, String> {
    s.trim().parse().map_err(|_| {
        format!(
            "expected ADDR:PORT with a numeric address, e.g. 127.0.0.1:{} or [::1]:{}",
            crate::serve::DEFAULT_PORT,
            crate::serve::DEFAULT_PORT
        )
    })
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
    /// Also check against every common OS default ephemeral range
    #[arg(long)]
    pub portable: bool,
    /// JSON output
    #[arg(long)]
    pub json: bool,
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
    #[arg(long, value_name = "S[,S..]")]
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
}

fn parse_port_arg(s: &str) -> Result<u16, String> {
    s.parse::<u16>()
        .map_err(|_| format!("'{s}' is not a port (expected 0-65535)"))
}

impl FilterArgs {
    pub fn to_filter(&self) -> Result<Filter, FilterError> {
        let mut f = Filter::default();
        if self.tcp {
            f.add_proto(Proto::Tcp);
        }
        if self.udp {
            f.add_proto(Proto::Udp);
        }
        if self.ipv4 {
            f.add_family(Family::Ipv4);
        }
        if self.ipv6 {
            f.add_family(Family::Ipv6);
        }
        if self.listening {
            crate::filter::LISTENING
                .iter()
                .for_each(|s| f.add_state(*s));
        }
        if self.established {
            f.add_state(crate::model::SockState::Established);
        }
        for s in &self.state {
            f.add_states(s)?;
        }
        f.port = self.port;
        f.pid = self.pid;
        f.process = self.process.clone();
        f.ephemeral = self.ephemeral;
        Ok(f)
    }
}

#[derive(Args, Debug)]
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
}

#[derive(Args, Debug)]
pub struct RangeArgs {
    /// JSON output
    #[arg(long)]
    pub json: bool,
}
