#!/usr/bin/env bash
# Regenerates the recorded dashboard screens under demo/screens/: for each scenario,
# porttop runs in a 110x32 tmux pane next to the load lab; the pane is captured as
# text (.txt) and with its colours as an SVG (.svg, rendered by demo/ansi2svg.py).
#
#   sudo demo/record.sh          (exhaust needs root for its network namespace)
set -euo pipefail
cd "$(dirname "$0")/.."
command -v tmux >/dev/null || { echo "record.sh needs tmux" >&2; exit 2; }
cargo build --release --quiet --bin porttop --bin loadlab
bin="$PWD/target/release"
out=demo/screens
mkdir -p "$out"
sock="porttop-rec-$$"
ns=""
cleanup() {
  tmux -L "$sock" kill-server 2>/dev/null || true
  [ -n "${lab_pid:-}" ] && kill "$lab_pid" 2>/dev/null || true
  [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null || true
}
trap cleanup EXIT INT TERM

# wait_for TEXT SECONDS: polls the pane until TEXT shows.
wait_for() {
  for _ in $(seq 1 $(( $2 * 10 ))); do
    tmux -L "$sock" capture-pane -p -t rec | grep -q -- "$1" && return 0
    sleep 0.1
  done
  echo "record.sh: '$1' did not show within $2 s" >&2
  return 1
}

# shot NAME: saves the pane as NAME.txt and NAME.svg.
shot() {
  tmux -L "$sock" capture-pane -p -t rec > "$out/$1.txt"
  tmux -L "$sock" capture-pane -p -e -t rec | python3 demo/ansi2svg.py --title "porttop: $1" > "$out/$1.svg"
  echo "recorded $out/$1.txt and $out/$1.svg"
}

n=0
start() { # start PREFIX... : porttop in a fresh tmux server (a new socket each time:
          # a client can race a server that is still shutting down)
  tmux -L "$sock" kill-server 2>/dev/null || true
  n=$((n + 1)); sock="porttop-rec-$$-$n"
  tmux -L "$sock" -f /dev/null new-session -d -s rec -x 110 -y 32 "$(printf '%q ' "$@")"
}

stop_lab() { [ -n "${lab_pid:-}" ] && kill "$lab_pid" 2>/dev/null; wait "${lab_pid}" 2>/dev/null || true; lab_pid=""; }

# steady: new (green) and closed (red) rows, a collision, a shared port.
"$bin/loadlab" steady --conns 60 --seconds 60 > /dev/null & lab_pid=$!
sleep 1
start "$bin/porttop" --interval 1s --process loadlab
wait_for "collisions" 10; sleep 3
shot steady
tmux -L "$sock" send-keys -t rec 5; sleep 0.5
shot steady-processes
stop_lab

# churn: TIME-WAIT piling up on one destination, with a projection.
"$bin/loadlab" churn --rate 150 --seconds 60 > /dev/null 2>&1 & lab_pid=$!
sleep 1
start "$bin/porttop" --interval 1s
sleep 6
tmux -L "$sock" send-keys -t rec 4; sleep 1.2
shot churn
stop_lab

# exhaust: a 200-port pool in a private namespace, ramped to failure.
if [ "$(id -u)" = 0 ] && command -v ip >/dev/null; then
  ns="porttop-rec-$$"
  ip netns add "$ns"
  ip netns exec "$ns" ip link set lo up
  ip netns exec "$ns" "$bin/loadlab" exhaust --set-range 200 --rate 20 --seconds 60 > /dev/null 2>&1 & lab_pid=$!
  sleep 0.5
  start ip netns exec "$ns" "$bin/porttop" --interval 250ms
  wait_for "WARNING " 30; shot exhaust-warn
  wait_for "CRITICAL " 30; sleep 0.4; shot exhaust-critical
  stop_lab
else
  echo "skipping exhaust (needs root for a network namespace)"
fi
