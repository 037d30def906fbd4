#!/usr/bin/env bash
# The BPF iterator walk (PORTTOP_WALK=bpf) against the /proc walk, at N loopback
# connections held by one loadlab process (2N+1 sockets; default N=5000: 10,001).
#
#   bench/bpf_iter.sh [--reps R] [--iters K] [--churn C] [N]
#
# 1. `porttop bench-walk --iterations K` (default 15): in one process, rounds of
#    a one-shot attribution of every socket, once per walk in alternating order,
#    each on a fresh lazy source (the walk, then the process details of every
#    owner and the kernel lookup of what no process holds: what `list` does
#    after its dump); per round both walks' owners are compared. Medians, the
#    ratio, and where the BPF walk's time goes (BTF, load, the kernel's walk).
# 2. The cold commands, R times each (default 7) in rotating order:
#    PORTTOP_WALK=proc porttop list --json, PORTTOP_WALK=bpf porttop list --json,
#    ss -tanp, ss -tan. Medians and ratios.
# Needs root (CAP_BPF + CAP_PERFMON) for the BPF walk; says so and stops otherwise.
# Only the N connections in the dump, whatever else the machine holds: run it in
# a namespace of its own,
#   ip netns add bpfb && ip -n bpfb link set lo up && ip netns exec bpfb bench/bpf_iter.sh
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPS=7 ITERS=15 CHURN=0 N=5000
while [ $# -gt 0 ]; do
    case "$1" in
        --reps) REPS="$2"; shift ;;
        --iters) ITERS="$2"; shift ;;
        --churn) CHURN="$2"; shift ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *[!0-9]*) echo "bpf_iter.sh: unknown argument $1" >&2; exit 2 ;;
        *) N="$1" ;;
    esac
    shift
done

NAME=bpf_iter.sh
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
fd_limit "$N"
[ "$PER" -ge "$N" ] || { echo "$NAME: the fd limit keeps one process below $N connections" >&2; exit 2; }

start_load "$N" "$CHURN"
socks=$(ss -tan | tail -n +2 | wc -l)
printf '\n%s\n' "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
# Both walks visit every fd of every process on the machine, whatever the
# namespace: their cost is the machine's fd count, the dump's is the namespace's.
# (stat fails for processes that exit meanwhile: not the script's end)
fds=$( (stat -c %s /proc/[0-9]*/fd 2>/dev/null || true) | awk '{n+=$1} END{print n+0}')
echo "$N connections in one process, $socks TCP sockets in this network namespace, $fds fds open on the machine"

out=$(PORTTOP_NETNS=host timeout 600 "$PORTTOP" bench-walk --iterations "$ITERS") || {
    echo "$out"; echo "$NAME: the BPF walk cannot run here" >&2; exit 1; }
[ -n "${VERBOSE:-}" ] && echo "$out"
echo "$out" | grep -q 'owners_differ [1-9]' && echo "note: some rounds' owners differed (see VERBOSE=1)"
echo "in-process attribution of every socket: $(echo "$out" | grep '^median' | sed 's/^median //')"

TOOLS=(proc bpf "ss -tanp" "ss -tan")
declare -A CMD=([proc]="env PORTTOP_WALK=proc PORTTOP_NETNS=host $PORTTOP list --json"
                [bpf]="env PORTTOP_WALK=bpf PORTTOP_NETNS=host $PORTTOP list --json"
                ["ss -tanp"]="ss -tanp" ["ss -tan"]="ss -tan")
declare -A LABEL=([proc]="porttop list --json, /proc walk" [bpf]="porttop list --json, BPF walk")
for r in $(seq 1 "$REPS"); do
    k=$(( (r - 1) % ${#TOOLS[@]} ))
    for i in $(seq 0 $((${#TOOLS[@]} - 1))); do
        t="${TOOLS[$(( (i + k) % ${#TOOLS[@]} ))]}"
        key=$(echo "$t" | tr ' ' '_')
        t0=$(date +%s%N)
        # shellcheck disable=SC2086
        timeout 120 ${CMD[$t]} >/dev/null 2>"$WORK/$key.err" || true
        t1=$(date +%s%N)
        awk -v d=$((t1 - t0)) 'BEGIN{printf "%.1f\n", d/1e6}' >>"$WORK/$key.ms"
    done
done
grep -h . "$WORK"/bpf.err 2>/dev/null | sort -u | sed 's/^/bpf run said: /' || true
proc_ms=$(median <"$WORK/proc.ms")
printf '%-34s %10s %12s\n' command "median ms" "vs /proc walk"
for t in "${TOOLS[@]}"; do
    ms=$(median <"$WORK/$(echo "$t" | tr ' ' '_').ms")
    printf '%-34s %10s %12s\n' "${LABEL[$t]:-$t}" "$ms" "$(awk -v a="$ms" -v b="$proc_ms" 'BEGIN{printf "%.2fx", a/b}')"
done
