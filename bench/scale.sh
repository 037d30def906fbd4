#!/usr/bin/env bash
# Scale check: ~100,000 sockets (TIME-WAIT from churn to several listeners, plus tens
# of thousands of established loopback connections), then every command is run and
# timed, with its peak RSS; the dashboard is driven in tmux (scroll to the end).
# Loopback only, bounded in time; cleans up on exit.
#
#   bench/scale.sh [ESTABLISHED_CONNS (default 30000)] [CHURN_CONNS (default 80000)]
set -euo pipefail
cd "$(dirname "$0")/.."
EST="${1:-30000}"; CHURN="${2:-80000}"
cargo build --release --quiet --bin porttop --bin loadlab
bin="$PWD/target/release"
pids=(); sock="porttop-scale-$$"
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; tmux -L "$sock" kill-server 2>/dev/null || true; }
trap cleanup EXIT INT TERM
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
per=$(( ($(ulimit -n) - 100) / 2 ))
left=$EST
while [ "$left" -gt 0 ]; do
  n=$(( left < per ? left : per ))
  "$bin/loadlab" hold --conns "$n" --seconds 300 > /tmp/porttop-scale-hold.$$ 2>&1 & pids+=($!)
  left=$(( left - n ))
  until grep -q ready /tmp/porttop-scale-hold.$$ 2>/dev/null || ! kill -0 "${pids[-1]}" 2>/dev/null; do sleep 0.2; done
  rm -f /tmp/porttop-scale-hold.$$
done
# TIME-WAIT: four churn listeners, each below the per-destination pool.
rate=2000; secs=$(( CHURN / rate / 4 + 1 ))
for _ in 1 2 3 4; do
  "$bin/loadlab" churn --rate "$rate" --seconds "$secs" > /dev/null 2>&1 & pids+=($!)
done
sleep "$(( secs + 2 ))"
total=$(ss -tanH | wc -l)
echo "sockets: $total (ss -tan); TIME-WAIT: $(ss -tanH state time-wait | wc -l); established: $(ss -tanH state established | wc -l)"

measure() { # measure LABEL CMD...: wall ms and peak RSS
  local label=$1 t0 t1 rss; shift
  t0=$(date +%s%N)
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%M' -o /tmp/porttop-scale-rss.$$ "$@" > /dev/null 2>&1 || true
    rss=$(tail -1 /tmp/porttop-scale-rss.$$); rm -f /tmp/porttop-scale-rss.$$
  else
    "$@" > /dev/null 2>&1 || true; rss="?"
  fi
  t1=$(date +%s%N)
  printf '%-34s %8.0f ms  peak RSS %6s KB\n' "$label" "$(( (t1 - t0) / 1000000 ))" "$rss"
}
measure_cmd() { local label=$1; shift; measure "$label" "$@"; }
echo
measure_cmd "porttop list --json" "$bin/porttop" list --json
measure_cmd "porttop list" "$bin/porttop" list
measure_cmd "porttop range" "$bin/porttop" range
measure_cmd "porttop pool --sample 1" "$bin/porttop" pool --sample 1
measure_cmd "porttop check 8080" "$bin/porttop" check 8080
measure_cmd "porttop suggest" "$bin/porttop" suggest
measure_cmd "ss -tanp" ss -tanp

# serve: one scrape.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin/porttop" serve --listen "127.0.0.1:$port" --interval 2 2>/dev/null & pids+=($!)
for _ in $(seq 1 100); do curl -sf "127.0.0.1:$port/metrics" > /tmp/porttop-scale-metrics.$$ 2>/dev/null && break; sleep 0.2; done
echo "serve: /metrics $(wc -c < /tmp/porttop-scale-metrics.$$) bytes, $(grep -c '^porttop_' /tmp/porttop-scale-metrics.$$) samples, RSS $(grep VmHWM /proc/${pids[-1]}/status | awk '{print $2}') KB peak"
rm -f /tmp/porttop-scale-metrics.$$

# The dashboard: scroll to the end and back, measure its peak RSS.
if command -v tmux >/dev/null; then
  tmux -L "$sock" -f /dev/null new-session -d -s s -x 120 -y 40 "$bin/porttop --interval 2s"
  sleep 4
  tmux -L "$sock" send-keys -t s End; sleep 1
  last=$(tmux -L "$sock" capture-pane -p -t s | tail -1)
  tmux -L "$sock" send-keys -t s g; sleep 0.5
  tmux -L "$sock" send-keys -t s 4; sleep 1.5
  pid=$(pgrep -f "^$bin/porttop --interval 2s" | head -1)
  echo "dashboard: status line at End: '$last'; peak RSS $(grep VmHWM /proc/"$pid"/status | awk '{print $2}') KB"
  tmux -L "$sock" send-keys -t s q
fi
