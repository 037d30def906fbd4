#!/usr/bin/env bash
# `porttop serve` under hostile /snapshot.json readers: is /metrics still quick,
# and does RSS stay bounded?
#
#   bench/serve.sh [--smoke] [--conns N] [--stuck S] [--slow M] [--rate B] [--seconds T]
#
# Opens N loopback connections with `loadlab hold` (2N sockets; default 10000, so
# 20,000 sockets as in issue 20), starts the release `porttop serve`, then runs S
# clients that request /snapshot.json and never read (default 8) and M that read
# B bytes/s each (default 80 at 16 KiB/s) and reconnect when dropped, for T
# seconds (default 60). Meanwhile it scrapes /metrics twice a second with curl and
# samples the server's RSS. Prints scrape latency (median, p99, max), RSS (start,
# max, peak VmHWM), the snapshot size, and the server's own HTTP counters.
# --smoke: N=500, T=10 (for CI). Builds the release binaries itself.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
N=10000 STUCK=8 SLOW=80 RATE=16384 SECS=60
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) N=500 SECS=10 ;;
        --conns) N="$2"; shift ;;
        --stuck) STUCK="$2"; shift ;;
        --slow) SLOW="$2"; shift ;;
        --rate) RATE="$2"; shift ;;
        --seconds) SECS="$2"; shift ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "serve.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
command -v curl >/dev/null || { echo "serve.sh: needs curl" >&2; exit 2; }
command -v python3 >/dev/null || { echo "serve.sh: needs python3" >&2; exit 2; }

NAME=serve.sh
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
fd_limit "$N"

SERVE_PID=
CLEANUP_EXTRA=stop_serve
stop_serve() {
    # serve exits 128+15 on SIGTERM (after the line in hand): that is its
    # clean stop, not a failure of this script.
    if [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null; then
        wait "$SERVE_PID" 2>/dev/null || true
    fi
    SERVE_PID=
}

echo "opening $N loopback connections ($((2 * N)) sockets)..." >&2
start_load "$N" 0

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL="http://127.0.0.1:$PORT"
"$PORTTOP" serve --listen "127.0.0.1:$PORT" --interval 5 2>"$WORK/serve.err" &
SERVE_PID=$!
for _ in $(seq 1 300); do
    curl -fs -o /dev/null "$URL/healthz" && break
    sleep 0.1
done
curl -fs -o /dev/null "$URL/healthz" || { cat "$WORK/serve.err" >&2; exit 1; }
SNAP=$(curl -s "$URL/snapshot.json" | wc -c)
rss() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$SERVE_PID/status"; }
RSS0=$(rss VmRSS)
echo "snapshot.json: $SNAP bytes; RSS before the readers: $RSS0 kB" >&2

python3 "$ROOT/bench/hostile_readers.py" "$PORT" --stuck "$STUCK" --slow "$SLOW" \
    --rate "$RATE" --seconds "$SECS" >"$WORK/readers.out" &
READERS=$!
sleep 1
: >"$WORK/lat"
: >"$WORK/rss"
end=$((SECONDS + SECS - 2))
while [ $SECONDS -lt $end ]; do
    curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 30 "$URL/metrics" >>"$WORK/lat" || echo "000 30" >>"$WORK/lat"
    rss VmRSS >>"$WORK/rss"
    sleep 0.5
done
METRICS=$(curl -s "$URL/metrics")
wait "$READERS" || true
HWM=$(rss VmHWM)

n=$(wc -l <"$WORK/lat")
ok=$(awk '$1 == 200' "$WORK/lat" | wc -l)
lat=$(awk '{print $2 * 1000}' "$WORK/lat" | sort -n)
p() { echo "$lat" | awk -v q="$1" '{a[NR]=$1} END {i=int(NR*q+0.999); if (i<1) i=1; printf "%.1f", a[i]}'; }
echo
echo "== porttop serve, $((2 * N)) sockets, snapshot.json $((SNAP / 1024)) KiB, $STUCK never-reading + $SLOW readers at $RATE B/s, ${SECS} s"
echo "/metrics scrapes: $n, $ok answered 200; latency ms: median $(p 0.5), p99 $(p 0.99), max $(p 1.0)"
echo "RSS kB: before $RSS0, max during $(sort -n "$WORK/rss" | tail -1), peak (VmHWM) $HWM"
echo "readers: $(cat "$WORK/readers.out")"
echo "server counters:"
echo "$METRICS" | grep -E '^porttop_http_(responses|dropped)_total' | grep -v ' 0$' | sed 's/^/  /'
