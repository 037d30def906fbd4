#!/usr/bin/env bash
# What the dashboard costs while it sits there: % of one core, averaged over a
# minute, with N loopback connections (2N sockets) held by loadlab.
#
#   bench/cpu.sh [--conns N] [--seconds S] [--interval DUR] [--churn C]
#                [--reps R] [--variants "NAME=ARGS;NAME=ARGS"] [--perf]
#
# Defaults: N=25000 (50,000 sockets), S=60, DUR=1s, C=0 (connections closed and
# reopened a second), R=1. Each variant is the real dashboard in a 120x40 tmux
# session with its own arguments (default: `default=` the plain dashboard, and
# `bare=--columns ...` without the connection columns, i.e. no tcp_info);
# variants run interleaved R times (ARGS may start with VAR=value words: the
# dashboard's environment; PORTTOP_BIN=path runs another build). Per run: utime+stime of the dashboard from
# /proc/PID/stat over S seconds (after it shows the rows), and its peak RSS.
# For reference, at the same count: `ss -tan` (its CPU per run: what running
# it every DUR would cost) and `porttop bench-refresh` (the bare dump and the
# dump with tcp_info, in-process, ms per refresh). --perf: `perf record` of the
# first run of each variant, top symbols printed (needs perf).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
NAME=cpu.sh
CONNS=25000 SECS=60 INTERVAL=1s CHURN=0 REPS=1 PERF=0
BARE="proto,local-addr,local-port,remote-addr,remote-port,state,pid,process,user,age"
VARIANTS="default=;bare=--columns $BARE"
while [ $# -gt 0 ]; do
    case "$1" in
        --conns) CONNS="$2"; shift ;;
        --seconds) SECS="$2"; shift ;;
        --interval) INTERVAL="$2"; shift ;;
        --churn) CHURN="$2"; shift ;;
        --reps) REPS="$2"; shift ;;
        --variants) VARIANTS="$2"; shift ;;
        --perf) PERF=1 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "$NAME: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
for t in tmux python3; do
    command -v "$t" >/dev/null || { echo "$NAME: needs $t" >&2; exit 2; }
done
[ "$PERF" = 0 ] || command -v perf >/dev/null || { echo "$NAME: --perf needs perf" >&2; exit 2; }

# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
fd_limit "$CONNS"
TSOCK="porttop-cpu-$$"
stop_tmux() { tmux -L "$TSOCK" kill-server 2>/dev/null || true; }
CLEANUP_EXTRA=stop_tmux
HZ=$(getconf CLK_TCK)
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# the dashboard's status line says "SEL/ROWS ? help"
rows_shown() {
    tmux -L "$TSOCK" capture-pane -p -t "$1" | grep -oE '[0-9]+/[0-9]+ +\? help' | head -n1 |
        sed -E 's#^[0-9]+/([0-9]+).*#\1#'
}

printf 'machine: %s cores, %s, kernel %s; load average %s\n' "$(nproc)" \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" "$(uname -r)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"
start_load "$CONNS" "$CHURN"
socks=$(ss -tanH | wc -l)
echo "load: $CONNS connections (churn $CHURN/s), $socks TCP sockets (ss -tan)"

# ss -tan: wall and CPU (user+sys) per run, medians of 10.
walls=() cpus=()
for _ in $(seq 1 10); do
    /usr/bin/time -f '%e %U %S' -o "$WORK/t" ss -tan >/dev/null
    read -r e u s <"$WORK/t"
    walls+=("$(awk -v x="$e" 'BEGIN{print x*1000}')")
    cpus+=("$(awk -v u="$u" -v s="$s" 'BEGIN{print (u+s)*1000}')")
done
ssw=$(printf '%s\n' "${walls[@]}" | median); ssc=$(printf '%s\n' "${cpus[@]}" | median)
echo "ss -tan: median $ssw ms wall, $ssc ms CPU per run (once every $INTERVAL: $(awk -v c="$ssc" -v i="${INTERVAL%s}" 'BEGIN{printf "%.1f", c/10/i}') % of a core)"

# The dump alone, in-process (what every refresh pays at least).
for info in "" --info; do
    "$PORTTOP" bench-refresh $info --iterations 7 --interval-ms 300 >"$WORK/br" 2>&1 || true
    awk -v w="${info:-bare}" '/^median/ {printf "bench-refresh %s: dump %s ms, refresh %s ms wall (ratio %s); ", w, $3, $5, $7}
        /^cpu_median/ {printf "CPU: dump %s ms, refresh %s ms per refresh\n", $3, $5}' "$WORK/br"
done

IFS=';' read -r -a vs <<<"$VARIANTS"
for rep in $(seq 1 "$REPS"); do
    for v in "${vs[@]}"; do
        name=${v%%=*} args=${v#*=} envs=""
        # leading VAR=value words are the dashboard's environment
        while [[ "$args" =~ ^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*=[^[:space:]]*)[[:space:]]*(.*)$ ]]; do
            envs="$envs ${BASH_REMATCH[1]}"; args=${BASH_REMATCH[2]}
        done
        bin=$PORTTOP # PORTTOP_BIN=path: another build (against the previous release)
        for e in $envs; do case $e in PORTTOP_BIN=*) bin=${e#PORTTOP_BIN=} ;; esac; done
        s="$name$rep"
        tmux -L "$TSOCK" -f /dev/null new-session -d -x 120 -y 40 -s "$s" \
            "exec env $envs $bin --interval $INTERVAL $args"
        DPID=$(tmux -L "$TSOCK" list-panes -t "$s" -F '#{pane_pid}')
        for _ in $(seq 1 600); do
            n=$(rows_shown "$s" || true)
            [ -n "$n" ] && [ "$n" -ge $((socks * 9 / 10)) ] && break
            sleep 0.2
        done
        sleep 2
        if [ "$PERF" = 1 ] && [ "$rep" = 1 ]; then
            perf record -F 199 -g -o "$WORK/perf.$name" -p "$DPID" -- sleep "$SECS" >/dev/null 2>&1 &
            PP=$!
        fi
        t0=$(ticks "$DPID"); sleep "$SECS"; t1=$(ticks "$DPID")
        [ "$PERF" = 1 ] && [ "$rep" = 1 ] && wait "$PP" || true
        rss=$(awk '/VmHWM/ {printf "%.1f", $2 / 1024}' "/proc/$DPID/status")
        awk -v t=$((t1 - t0)) -v hz="$HZ" -v s="$SECS" -v n="$name" -v a="$args" -v r="$rss" -v rows="${n:-?}" \
            -v e="$envs" 'BEGIN { printf "dashboard %-8s %6.2f %% of a core over %d s; %s rows; peak RSS %s MB  [%s%s]\n", n, 100 * t / hz / s, s, rows, r, e, a }'
        tmux -L "$TSOCK" kill-session -t "$s"
        if [ "$PERF" = 1 ] && [ "$rep" = 1 ]; then
            echo "perf ($name), top symbols (self):"
            perf report -i "$WORK/perf.$name" --no-children --sort dso,symbol --percent-limit 1.5 --stdio 2>/dev/null |
                grep -E '^ +[0-9.]+%' | head -n 30
        fi
    done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
