#!/usr/bin/env bash
# The real dashboard, driven through tmux as an operator would drive it:
#
#   bench/keys.sh [--smoke] [--conns N] [--interval DUR] [--samples K] [--idle SECS]
#
# 1. idle: the dashboard at a 1 s interval with a few hundred sockets (150 idle
#    loopback connections plus the machine's own); its CPU share over SECS seconds
#    (default 30), from /proc/<pid>/stat.
# 2. load: N loopback connections (default 20000; 2N sockets) held by loadlab, 100 of
#    them closed and reopened a second; the dashboard at DUR (default 1s). Once it
#    shows them, K keys (default 40, j and k in turn), each sent at a random moment
#    of the refresh cycle; per key the time from `tmux send-keys` until
#    `capture-pane` shows the selection moved (includes tmux's own latency; the
#    screen is polled, so the resolution is one capture, a few ms). Prints median,
#    p90 and max, and the dashboard's peak RSS (VmHWM) at the end.
# --smoke: N=200, K=5, SECS=2, DUR=250ms (seconds; for CI). Needs tmux and python3.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NAME=keys.sh
CONNS=20000 INTERVAL=1s SAMPLES=40 IDLE=30 CHURN=100
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) CONNS=200 SAMPLES=5 IDLE=2 INTERVAL=250ms ;;
        --conns) CONNS="$2"; shift ;;
        --interval) INTERVAL="$2"; shift ;;
        --samples) SAMPLES="$2"; shift ;;
        --idle) IDLE="$2"; shift ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "$NAME: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
for t in tmux python3; do
    command -v "$t" >/dev/null || { echo "$NAME: needs $t" >&2; exit 2; }
done

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
fd_limit "$CONNS"
TSOCK="porttop-keys-$$"
stop_tmux() { tmux -L "$TSOCK" kill-server 2>/dev/null || true; }
CLEANUP_EXTRA=stop_tmux

# dashboard SESSION ARGS...: starts the dashboard in a 120x40 tmux session (ending
# the previous one); sets DPID.
SESSION=""
dashboard() {
    local s=$1; shift
    [ -z "$SESSION" ] || tmux -L "$TSOCK" kill-session -t "$SESSION" 2>/dev/null || true
    SESSION=$s
    tmux -L "$TSOCK" -f /dev/null new-session -d -x 120 -y 40 -s "$s" "exec $PORTTOP $*"
    DPID=$(tmux -L "$TSOCK" list-panes -t "$s" -F '#{pane_pid}')
}

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

printf '\nmachine: %s cores, %s, kernel %s\n' "$(nproc)" \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" "$(uname -r)"

start_load 150 0
dashboard idle --interval 1s
sleep 2
t0=$(ticks "$DPID")
sleep "$IDLE"
t1=$(ticks "$DPID")
idle_socks=$(ss -tuan 2>/dev/null | tail -n +2 | wc -l)
awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v s="$IDLE" -v n="$idle_socks" \
    'BEGIN { printf "idle: %d sockets, 1 s interval: %.2f %% of a core over %d s\n", n, 100 * t / hz / s, s }'

stop_load
start_load "$CONNS" "$CHURN"
dashboard load --interval "$INTERVAL"
python3 - "$TSOCK" "$CONNS" "$SAMPLES" "$INTERVAL" <<'PY'
import random, re, statistics, subprocess, sys, time

sock, conns, samples, interval = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
secs = float(interval[:-2]) / 1000 if interval.endswith("ms") else float(interval.rstrip("s"))
counter = re.compile(r"(\d+)/(\d+)\s+\? help")

def screen():
    return subprocess.run(["tmux", "-L", sock, "capture-pane", "-p", "-t", "load"],
                          capture_output=True, text=True).stdout

def position():
    m = counter.search(screen())
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)

deadline = time.time() + 120
while position()[1] < 2 * conns:
    if time.time() > deadline:
        sys.exit(f"keys.sh: the dashboard never showed {2 * conns} rows:\n{screen()}")
    time.sleep(0.2)
rows = position()[1]

lat = []
for i in range(samples):
    time.sleep(random.uniform(0, secs))
    before = position()[0]
    key, want = ("j", before + 1) if i % 2 == 0 or before <= 1 else ("k", before - 1)
    t0 = time.perf_counter()
    subprocess.run(["tmux", "-L", sock, "send-keys", "-t", "load", key], check=True)
    while position()[0] != want:
        if time.perf_counter() - t0 > 10:
            sys.exit(f"keys.sh: key {key} not shown after 10 s:\n{screen()}")
    lat.append((time.perf_counter() - t0) * 1000)

lat.sort()
p90 = lat[min(len(lat) - 1, int(round(0.9 * (len(lat) - 1))))]
print(f"load: {rows} rows, {interval} interval, {len(lat)} keys: median {statistics.median(lat):.1f} ms, "
      f"p90 {p90:.1f} ms, max {lat[-1]:.1f} ms")
PY
awk '/VmHWM/ {printf "dashboard peak RSS: %.1f MB\n", $2 / 1024}' "/proc/$DPID/status"
