#!/usr/bin/env bash
# Starts a load-lab scenario and porttop side by side (a tmux split when tmux is
# present), on loopback only; cleans up processes and namespaces on exit/Ctrl-C.
#
#   demo/run.sh steady|churn|exhaust [porttop args...]
#   (PORTTOP_BIN_DIR=dir: use the binaries there; DEMO_DRY_RUN=1: print the
#   commands instead of running them)
#
# steady   listeners (one inside the ephemeral range, two processes on one port with
#          SO_REUSEPORT) and 200 connections, some closing and opening every second
# churn    200 short-lived connections per second to one listener: TIME-WAIT piles up
# exhaust  (root) a private network namespace with a 200-port range; connections to
#          one destination ramp up until connect() fails with EADDRNOTAVAIL, while
#          porttop runs in the same namespace. Without root: a what-if on the host.
set -euo pipefail
cd "$(dirname "$0")/.."
scenario="${1:-steady}"; shift || true
seconds="${DEMO_SECONDS:-120}"

# The binaries: $PORTTOP_BIN_DIR if set; else built with cargo (sudo resets PATH,
# so under sudo the invoking user's ~/.cargo/bin/cargo is tried, and the build runs
# as that user); else ones already built; else say exactly what to do.
target="${CARGO_TARGET_DIR:-target}"
find_cargo() {
  if command -v cargo >/dev/null; then command -v cargo; return; fi
  if [ -n "${SUDO_USER:-}" ]; then
    local home
    home=$(getent passwd "$SUDO_USER" | cut -d: -f6)
    [ -n "$home" ] && [ -x "$home/.cargo/bin/cargo" ] && echo "$home/.cargo/bin/cargo"
  fi
}
if [ -n "${PORTTOP_BIN_DIR:-}" ]; then
  bin="$PORTTOP_BIN_DIR"
elif cargo_bin=$(find_cargo) && [ -n "$cargo_bin" ]; then
  if [ "$(id -u)" = 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
    sudo -u "$SUDO_USER" -- "$cargo_bin" build --release --quiet --bin porttop --bin loadlab
  else
    "$cargo_bin" build --release --quiet --bin porttop --bin loadlab
  fi
  bin="$target/release"
elif [ -x "$target/release/porttop" ] && [ -x "$target/release/loadlab" ]; then
  echo "demo: cargo not found (sudo resets PATH); using the binaries in $target/release" >&2
  bin="$target/release"
else
  cat >&2 <<MSG
demo: cargo is not on this PATH (sudo resets PATH) and $target/release has no
porttop and loadlab yet. Build them first as yourself, then run the demo again:
  cargo build --release --bin porttop --bin loadlab
  sudo demo/run.sh $scenario
or keep your PATH: sudo env "PATH=\$PATH" demo/run.sh $scenario
MSG
  exit 2
fi
for b in porttop loadlab; do
  [ -x "$bin/$b" ] || { echo "demo: $bin/$b is missing" >&2; exit 2; }
done
ns=""
cleanup() {
  [ -n "${lab_pid:-}" ] && kill "$lab_pid" 2>/dev/null || true
  [ -n "$ns" ] && ip netns del "$ns" 2>/dev/null || true
  [ -n "${tmux_sock:-}" ] && tmux -L "$tmux_sock" kill-server 2>/dev/null || true
}
trap cleanup EXIT INT TERM

case "$scenario" in
  steady) lab=("$bin/loadlab" steady --conns 200 --seconds "$seconds"); top=("$bin/porttop" "$@") ;;
  churn)  lab=("$bin/loadlab" churn --rate 200 --seconds "$seconds"); top=("$bin/porttop" "$@") ;;
  exhaust)
    if [ "$(id -u)" = 0 ] && command -v ip >/dev/null; then
      ns="porttop-demo-$$"
      ip netns add "$ns"
      ip netns exec "$ns" ip link set lo up
      lab=(ip netns exec "$ns" "$bin/loadlab" exhaust --set-range 200 --rate 10 --seconds "$seconds")
      top=(ip netns exec "$ns" "$bin/porttop" --interval 500ms "$@")
    else
      echo "exhaust needs root for a private namespace; showing a what-if on the host instead:"
      echo "porttop --range A-B treats a 200-port slice as the whole pool."
      lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
      lab=("$bin/loadlab" hold --conns 170 --bind-from "$lo" --seconds "$seconds")
      top=("$bin/porttop" --range "$lo-$((lo + 199))" "$@")
    fi ;;
  *) echo "usage: demo/run.sh steady|churn|exhaust [porttop args...]" >&2; exit 2 ;;
esac

if [ -n "${DEMO_DRY_RUN:-}" ]; then
  # What would run, for checking the set-up (tests use it).
  printf 'lab:'; printf ' %q' "${lab[@]}"; echo
  printf 'porttop:'; printf ' %q' "${top[@]}"; echo
  exit 0
fi

if command -v tmux >/dev/null && [ -t 1 ]; then
  tmux_sock="porttop-demo-$$"
  q() { printf '%q ' "$@"; }
  tmux -L "$tmux_sock" new-session -d -s demo -x "$(tput cols)" -y "$(tput lines)" "$(q "${top[@]}")"
  tmux -L "$tmux_sock" split-window -t demo -v -l 8 "$(q "${lab[@]}"); echo '[lab finished]'; sleep 3600"
  tmux -L "$tmux_sock" select-pane -t demo.0
  TMUX= tmux -L "$tmux_sock" attach -t demo   # TMUX=: also from inside tmux
else
  "${lab[@]}" > /tmp/porttop-demo-lab.log 2>&1 &
  lab_pid=$!
  sleep 1
  "${top[@]}"
fi
