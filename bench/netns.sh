#!/usr/bin/env bash
# porttop across network namespaces: K namespaces with S sockets each, and E empty
# ones, refreshed by one porttop (root: it enters each namespace).
#
#   bench/netns.sh [--smoke] [--ns K] [--conns C] [--empty E] [--iters I]
#
# Creates K namespaces (default 20), each with `loadlab hold --conns C` (default
# 250 connections: 500 sockets and a listener), and E empty ones (default 20).
# Then `porttop bench-refresh` reads, in one process, (a) the K loaded ones and
# (b) the K loaded ones plus the E empty ones, I refreshes each (default 20):
# dump_ms is the sum of the bare sock_diag dumps of every namespace read,
# snapshot_ms the whole refresh (discovery, entering each namespace for its
# range and counters, the dumps, attribution, naming). Prints both medians, the
# ratio, and the cost of one empty namespace ((b) - (a)) / E.
# --smoke: K=3, C=20, E=3, I=3. Needs root and iproute2.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
K=20 C=250 E=20 ITERS=20
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) K=3 C=20 E=3 ITERS=3 ;;
        --ns) K="$2"; shift ;;
        --conns) C="$2"; shift ;;
        --empty) E="$2"; shift ;;
        --iters) ITERS="$2"; shift ;;
        -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
        *) echo "netns.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
[ "$(id -u)" = 0 ] || { echo "netns.sh: needs root (ip netns add, setns)" >&2; exit 2; }

NAME=netns.sh
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
PREFIX="porttop-bench-$$"
NSES=()
del_ns() { for n in "${NSES[@]}"; do ip netns del "$n" 2>/dev/null || true; done; }
CLEANUP_EXTRA=del_ns

LOADED="" ALL=""
for i in $(seq 1 "$K"); do
    n="$PREFIX-l$i"; ip netns add "$n"; NSES+=("$n")
    ip netns exec "$n" ip link set lo up
    ip netns exec "$n" "$LOADLAB" hold --conns "$C" --seconds 600 > "$WORK/$n.out" &
    LOAD_PIDS+=($!)
    LOADED="${LOADED:+$LOADED,}$n"
done
ALL="$LOADED"
for i in $(seq 1 "$E"); do
    n="$PREFIX-e$i"; ip netns add "$n"; NSES+=("$n")
    ALL="$ALL,$n"
done
for i in $(seq 1 "$K"); do
    until grep -q '^ready' "$WORK/$PREFIX-l$i.out" 2>/dev/null; do sleep 0.1; done
done

run() { # run NAMES LABEL -> "dump_ms snapshot_ms"
    "$PORTTOP" --netns "$1" bench-refresh --iterations "$ITERS" --interval-ms 100 \
        | awk '/^median/ {print $3, $5}'
}
read -r d1 s1 < <(run "$LOADED")
read -r d2 s2 < <(run "$ALL")
awk -v k="$K" -v c="$C" -v e="$E" -v d1="$d1" -v s1="$s1" -v d2="$d2" -v s2="$s2" 'BEGIN {
    printf "%d namespaces x %d sockets: sum of bare dumps %.2f ms, refresh %.2f ms, ratio %.2f\n", k, 2*c+1, d1, s1, (d1 > 0 ? s1/d1 : 0)
    printf "plus %d empty namespaces: refresh %.2f ms (dumps %.2f ms): %.3f ms per empty namespace\n", e, s2, d2, (e > 0 ? (s2-s1)/e : 0)
}'
