#!/usr/bin/env bash
# Scale check, in a network namespace of its own (root and iproute2 needed):
#
#   bench/scale.sh [TIME_WAIT (default 450000)] [ESTABLISHED_CONNS (default 25000)]
#
# 1. ESTABLISHED_CONNS loopback connections (2x sockets) held by loadlab; the
#    dashboard at a 1 s interval for 60 s: its CPU share (% of one core, from
#    /proc/<pid>/stat), the figure of issue 19 at 50,000 sockets.
# 2. TIME-WAIT churn on top: `loadlab timewait` at TIME_WAIT/60 connections a
#    second over several loopback destinations (127.0.0.1..N, at most 40,000
#    TIME-WAIT each, with the range widened to 1024-65535 and tcp_tw_reuse 0 in
#    the namespace), until the table holds ~TIME_WAIT of them; then every command
#    is run and timed with its peak RSS, `bench-refresh` gives the warm refresh
#    against the bare dump, `serve` is scraped, and the dashboard is driven in
#    tmux: rows shown, key latency (median, p99 of 100 keys, each sent at a
#    random moment of the refresh cycle) and its peak RSS.
# SCALE_CPU=0 skips step 1, SCALE_CMDS=0 the commands, bench-refresh and serve;
# SCALE_KEEP=SECONDS keeps the filled namespace that long at the end.
# The dashboard part: SCALE_KEYS keys (100), SCALE_REPS rounds (1) of
# SCALE_VARIANTS="NAME=VAR=value ...;NAME=..." run interleaved (VAR=value words
# are the dashboard's environment; PORTTOP_BIN=path another build, AUTOGROUP=0|1
# sets kernel.sched_autogroup_enabled before it starts; restored on exit).
# The load runs in a session of its own (setsid), as a host's services do: with
# the kernel's autogroups (sched(7)) it then has one session's share of the
# CPU, not the share of this script and the key-timing harness it would
# otherwise starve (SCALE_LOAD_SESSION=0: in this script's session, as before).
# Loopback only, bounded in time; cleans up on exit.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TW="${1:-450000}"; EST="${2:-25000}"
NAME=scale.sh
[ "$(id -u)" = 0 ] && command -v ip >/dev/null || { echo "$NAME: needs root and iproute2" >&2; exit 2; }
for t in tmux python3 curl; do command -v "$t" >/dev/null || { echo "$NAME: needs $t" >&2; exit 2; }; done
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
fd_limit 9000
NS="porttop-scale-$$"; TSOCK="porttop-scale-$$"
AUTOGROUP0=$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || true)
cleanup_ns() {
    tmux -L "$TSOCK" kill-server 2>/dev/null || true
    [ -z "$AUTOGROUP0" ] || echo "$AUTOGROUP0" > /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || true
    stop_load
    # whatever still runs in the namespace (loadlab behind `ip netns exec`)
    ip netns pids "$NS" 2>/dev/null | xargs -r kill 2>/dev/null || true
    ip netns del "$NS" 2>/dev/null || true
}
CLEANUP_EXTRA=cleanup_ns
ip netns add "$NS"
inns() { ip netns exec "$NS" "$@"; }
LOAD_SESSION=setsid; [ "${SCALE_LOAD_SESSION:-1}" != 0 ] || LOAD_SESSION=
inns ip link set lo up
inns sh -c 'echo 1024 65535 > /proc/sys/net/ipv4/ip_local_port_range; echo 0 > /proc/sys/net/ipv4/tcp_tw_reuse'
inns sh -c "echo $((TW * 2)) > /proc/sys/net/ipv4/tcp_max_tw_buckets" 2>/dev/null || true

printf 'machine: %s cores, %s, kernel %s; load average %s\n' "$(nproc)" \
    "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')" "$(uname -r)" \
    "$(cut -d' ' -f1-3 /proc/loadavg)"

# ESTABLISHED: loadlab processes of at most PER connections each.
left=$EST; j=0
while [ "$left" -gt 0 ]; do
    n=$(( left < PER ? left : PER )); j=$((j + 1))
    inns $LOAD_SESSION "$LOADLAB" hold --conns "$n" --port $((1000 + j)) --seconds 1800 >"$WORK/hold.$j" 2>&1 & LOAD_PIDS+=($!)
    until grep -q ready "$WORK/hold.$j" 2>/dev/null; do
        kill -0 "${LOAD_PIDS[-1]}" 2>/dev/null || { cat "$WORK/hold.$j" >&2; exit 1; }
        sleep 0.2
    done
    left=$((left - n))
done
count() { inns ss -tanH "$@" | wc -l; }
ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
dashboard() { # dashboard SESSION [VAR=value...]: the dashboard in the namespace, in tmux; sets DPID
    local s=$1 bin=$PORTTOP e; shift
    # each variant starts from the machine's own setting
    [ -z "$AUTOGROUP0" ] || echo "$AUTOGROUP0" > /proc/sys/kernel/sched_autogroup_enabled
    for e in "$@"; do case $e in
        PORTTOP_BIN=*) bin=${e#PORTTOP_BIN=} ;;
        # the kernel's session autogroups (sched(7)) on or off for this dashboard
        AUTOGROUP=*) echo "${e#AUTOGROUP=}" > /proc/sys/kernel/sched_autogroup_enabled ;;
    esac; done
    tmux -L "$TSOCK" -f /dev/null new-session -d -x 120 -y 40 -s "$s" \
        "exec ip netns exec $NS env $* $bin --interval 1s"
    # ip netns exec, env and porttop each exec: the pane's pid is the dashboard
    DPID=$(tmux -L "$TSOCK" display -p -t "$s" '#{pane_pid}')
}

if [ "${SCALE_CPU:-1}" != 0 ]; then
echo
echo "1. CPU: $(count) sockets, dashboard at 1 s for 60 s (bench/cpu.sh does this in detail)"
dashboard cpu
sleep 5
t0=$(ticks "$DPID"); sleep 60; t1=$(ticks "$DPID")
awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" \
    'BEGIN { printf "   dashboard CPU: %.2f %% of a core (60 s average)\n", 100 * t / hz / 60 }'
awk '/VmHWM/ {printf "   dashboard peak RSS: %.1f MB\n", $2 / 1024}' "/proc/$DPID/status"
tmux -L "$TSOCK" kill-session -t cpu
fi

# TIME-WAIT: steady state is rate x 60 s.
addrs=$(( (TW + 39999) / 40000 )); rate=$(( TW / 60 ))
inns $LOAD_SESSION "$LOADLAB" timewait --port 900 --addrs "$addrs" --rate "$rate" --seconds 1800 >"$WORK/tw" 2>&1 & LOAD_PIDS+=($!)
echo
echo "2. TIME-WAIT: $rate connections/s over $addrs destinations"
# Until ~90 % of TIME_WAIT, or the count stops growing (a loaded machine makes
# fewer connections a second than asked: steady state is below the target).
prev=0
for _ in $(seq 1 150); do
    sleep 1
    now=$(count state time-wait)
    [ "$now" -ge $((TW * 9 / 10)) ] && break
    [ "$prev" -gt $((TW / 2)) ] && [ "$now" -le $((prev + prev / 100)) ] && break
    prev=$now
done
total=$(count)
echo "   sockets: $total (ss -tan); TIME-WAIT: $(count state time-wait); established: $(count state established); load average $(cut -d' ' -f1-3 /proc/loadavg)"

if [ "${SCALE_CMDS:-1}" != 0 ]; then
measure() { # measure LABEL CMD...: wall ms and peak RSS, in the namespace
    local label=$1 t0 t1 rss; shift
    t0=$(date +%s%N)
    inns /usr/bin/time -f '%M' -o "$WORK/rss" "$@" >"$WORK/out" 2>&1 || true
    t1=$(date +%s%N)
    rss=$(tail -n1 "$WORK/rss")
    printf '   %-34s %8d ms  peak RSS %7.1f MB\n' "$label" $(( (t1 - t0) / 1000000 )) "$(awk -v k="$rss" 'BEGIN{print k/1024}')"
}
echo
measure "ss -tan" ss -tan
measure "ss -tanp" ss -tanp
measure "porttop list --json" "$PORTTOP" list --json
measure "porttop list" "$PORTTOP" list
measure "porttop list -t -l" "$PORTTOP" list -t -l
measure "porttop range" "$PORTTOP" range
measure "porttop pool --sample 0" "$PORTTOP" pool --sample 0
measure "porttop pool --sample 1" "$PORTTOP" pool --sample 1
measure "porttop check 1001 (names it)" "$PORTTOP" check 1001
measure "porttop check 999 (free)" "$PORTTOP" check 999
measure "porttop suggest" "$PORTTOP" suggest
measure "porttop watch --duration 3" "$PORTTOP" watch --jsonl --duration 3
measure "porttop record --count 1" "$PORTTOP" record --count 1

echo
out=$(inns "$PORTTOP" bench-refresh --iterations 5 --interval-ms 1000)
echo "$out" | awk '/^median/ {printf "   warm refresh %s ms, bare dump %s ms: refresh / dump = %s; peak RSS %.1f MB\n", $5, $3, $7, $9/1024}
    /^cpu_median/ {printf "   CPU time: bare dump %s ms, warm refresh %s ms\n", $3, $5}'

# serve: three scrapes after the first answer.
inns "$PORTTOP" serve --listen 127.0.0.1:9309 --interval 2s 2>/dev/null & LOAD_PIDS+=($!)
for _ in $(seq 1 300); do inns curl -sf -o /dev/null 127.0.0.1:9309/metrics && break; sleep 0.2; done
for i in 1 2 3; do
    inns curl -s -o "$WORK/metrics" -w "   serve /metrics scrape $i: %{time_total} s, %{size_download} bytes\n" 127.0.0.1:9309/metrics
    sleep 1
done
fi

echo
# Each variant (SCALE_VARIANTS="NAME=VAR=value ...;NAME=..."; VAR=value words are
# the dashboard's environment, PORTTOP_BIN=path another build), SCALE_REPS times
# interleaved, SCALE_KEYS keys each.
IFS=';' read -r -a variants <<<"${SCALE_VARIANTS:-default=}"
for rep in $(seq 1 "${SCALE_REPS:-1}"); do
for v in "${variants[@]}"; do
name=${v%%=*}; read -r -a envs <<<"${v#*=}"
echo "   [$name$rep ${envs[*]}]"
dashboard load "${envs[@]}"
t0=$(ticks "$DPID"); s0=$(date +%s%N)
python3 - "$TSOCK" "$total" "${SCALE_KEYS:-100}" <<'PY'
import random, re, statistics, subprocess, sys, time
sock, total, keys = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
counter = re.compile(r"(\d+)/(\d+)\s+\? help")
def screen():
    return subprocess.run(["tmux", "-L", sock, "capture-pane", "-p", "-t", "load"],
                          capture_output=True, text=True).stdout
def position():
    m = counter.search(screen())
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)
deadline = time.time() + 180
while position()[1] < total * 8 // 10:
    if time.time() > deadline:
        sys.exit(f"scale.sh: the dashboard never showed {total * 8 // 10} rows:\n{screen()}")
    time.sleep(0.5)
rows = position()[1]
# Without a key: does the selected row's index move by itself (rows inserted or
# removed above it by the churn)? A key's latency below is counted until the
# index is the one the key asked for, so a drifting index would count as latency.
seen = set()
t_end = time.time() + 5
while time.time() < t_end:
    seen.add(position()[0])
    time.sleep(0.05)
print(f"   selection index without keys over 5 s: {len(seen)} distinct values {sorted(seen)[:8]}")
lat = []
for i in range(keys):
    time.sleep(random.uniform(0, 1.0))
    before = position()[0]
    key, want = ("j", before + 1) if i % 2 == 0 or before <= 1 else ("k", before - 1)
    t0 = time.perf_counter()
    subprocess.run(["tmux", "-L", sock, "send-keys", "-t", "load", key], check=True)
    while position()[0] != want:
        if time.perf_counter() - t0 > 10:
            break
    lat.append((time.perf_counter() - t0) * 1000)
    if lat[-1] > 10000:
        print(f"   key {key} not shown after 10 s (after {len(lat) - 1} keys)")
        break
lat.sort()
p99 = lat[min(len(lat) - 1, int(round(0.99 * (len(lat) - 1))))]
print(f"   dashboard: {rows} rows; {len(lat)} keys: median {statistics.median(lat):.1f} ms, "
      f"p99 {p99:.1f} ms, max {lat[-1]:.1f} ms")
PY
t1=$(ticks "$DPID"); s1=$(date +%s%N)
awk -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v ns=$((s1 - s0)) \
    'BEGIN { printf "   dashboard CPU while filling and keyed: %.1f %% of a core over %.0f s\n", 100 * t / hz / (ns / 1e9), ns / 1e9 }'
tmux -L "$TSOCK" send-keys -t load End; sleep 2
echo "   status line at End: $(tmux -L "$TSOCK" capture-pane -p -t load | tail -n1)"
awk '/VmHWM/ {printf "   dashboard peak RSS: %.1f MB\n", $2 / 1024}' "/proc/$DPID/status"
tmux -L "$TSOCK" kill-session -t load
sleep 1
done
done
echo "   $(tail -n2 "$WORK/tw" | tr '\n' ' ')"
if [ "${SCALE_KEEP:-0}" -gt 0 ]; then
    # the filled namespace stays for other measurements (ip netns exec NS ...)
    echo "   namespace $NS kept for ${SCALE_KEEP} s (kill $$ to end sooner)"
    # (in the background: a signal to the script ends the wait at once)
    sleep "$SCALE_KEEP" & wait $! || true
fi
