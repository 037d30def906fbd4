#!/usr/bin/env bash
# porttop vs ss/netstat/lsof on the same live sockets, timed interleaved in one run.
#
#   bench/compare.sh [--smoke] [--reps R] [--iters K] [--churn C] [N ...]
#
# For each N (default: 1000 10000 20000) it opens N loopback connections (2N sockets)
# with `loadlab hold` in one process that closes and reopens C of them a second
# (default 100), then times, R times each (default 5), in rotating order:
#   porttop list --json > /dev/null  (a fresh process: the cold cost)
#   ss -tanp, ss -tan, netstat -tanp, lsof -nP -iTCP  (each only when installed)
#   porttop list --json -t -l, ss -tlnp  (listeners only, with processes)
#   porttop range, pool --sample 0, suggest, check FREE_PORT, check LISTENER_PORT
#     (the short commands: they walk /proc only for the sockets they name)
# plus `porttop bench-refresh`: K in-process steady-state refreshes (default 20) timed
# against the bare netlink dump (and netstat2's dump, for reference). Prints medians, ratios against `ss -tanp` and peak
# RSS; the last column is each porttop row against the `ss` that does the same
# work (list --json: ss -tanp; -t -l: ss -tlnp; the short commands: ss -tan). --smoke: N=200, R=2, K=3 (seconds; for CI). Builds the release binaries itself.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
REPS=5 ITERS=20 CHURN=100 NS=()
while [ $# -gt 0 ]; do
    case "$1" in
        --smoke) NS=(200) REPS=2 ITERS=3 ;;
        --reps) REPS="$2"; shift ;;
        --iters) ITERS="$2"; shift ;;
        --churn) CHURN="$2"; shift ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *[!0-9]*) echo "compare.sh: unknown argument $1" >&2; exit 2 ;;
        *) NS+=("$1") ;;
    esac
    shift
done
[ ${#NS[@]} -gt 0 ] || NS=(1000 10000 20000)

NAME=compare.sh
# shellcheck source=bench/lib.sh
. "$ROOT/bench/lib.sh"
MAXN=0; for n in "${NS[@]}"; do [ "$n" -gt "$MAXN" ] && MAXN=$n; done
fd_limit "$MAXN"

HAVE_TIME=0; [ -x /usr/bin/time ] && HAVE_TIME=1
TOOLS=(porttop "ss -tanp" "ss -tan" "netstat -tanp" "lsof -nP -iTCP" porttop-l "ss -tlnp"
       porttop-range porttop-pool porttop-suggest porttop-check-free porttop-check-used)
# The free port: below the range, the first above the listener's that no
# socket uses (a second loadlab process's listener takes the next one).
declare -A CMD=([porttop]="$PORTTOP list --json" ["ss -tanp"]="ss -tanp" ["ss -tan"]="ss -tan"
                ["netstat -tanp"]="netstat -tanp" ["lsof -nP -iTCP"]="lsof -nP -iTCP"
                [porttop-l]="$PORTTOP list --json --tcp --listening" ["ss -tlnp"]="ss -tlnp"
                [porttop-range]="$PORTTOP range" [porttop-pool]="$PORTTOP pool --sample 0"
                [porttop-suggest]="$PORTTOP suggest")
declare -A LABEL=([porttop]="porttop list --json (cold)" [porttop-l]="porttop list --json -t -l (cold)"
                  [porttop-range]="porttop range" [porttop-pool]="porttop pool --sample 0"
                  [porttop-suggest]="porttop suggest" [porttop-check-free]="porttop check FREE (names none)"
                  [porttop-check-used]="porttop check LISTENER (names it)")
declare -A REF=([porttop]="ss -tanp" [porttop-l]="ss -tlnp" [porttop-range]="ss -tan"
                [porttop-pool]="ss -tan" [porttop-suggest]="ss -tan" [porttop-check-free]="ss -tan"
                [porttop-check-used]="ss -tan")
RUN=()
for t in "${TOOLS[@]}"; do
    if command -v "${t%% *}" >/dev/null 2>&1 || [ "${t%%-*}" = porttop ]; then RUN+=("$t")
    else echo "skipped: $t (not installed)" >&2; fi
done

# time_one KEY CMD...: wall ms to $WORK/KEY.ms, peak RSS kB to $WORK/KEY.kb
time_one() {
    local key="$1"; shift
    local t0 t1
    t0=$(date +%s%N)
    if [ $HAVE_TIME = 1 ]; then
        timeout 120 /usr/bin/time -f '%M' -o "$WORK/rss" "$@" >/dev/null 2>&1 || true
        tail -n1 "$WORK/rss" >>"$WORK/$key.kb"
    else
        timeout 120 "$@" >/dev/null 2>&1 || true
    fi
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000)) | awk '{printf "%.1f\n", $1/1000}' >>"$WORK/$key.ms"
}

printf '\n%s\n' "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), kernel $(uname -r)"
printf '%-7s %-8s %-34s %10s %14s %10s  %s\n' N sockets tool "median ms" "vs ss -tanp" "peak RSS MB" "vs its ss"
for n in "${NS[@]}"; do
    start_load "$n" "$CHURN"
    lport=$(sed -n 's/.*"listener":\([0-9]*\).*/\1/p' "$WORK/ready.1" | head -n1)
    CMD[porttop-check-used]="$PORTTOP check $lport/tcp"
    # A port no socket uses (below the range): with several loadlab processes
    # the next one's listener sits at lport + 1.
    free=$((lport + 1))
    while [ -n "$(ss -Htan "( sport = :$free )" 2>/dev/null | head -n1)" ]; do free=$((free + 1)); done
    CMD[porttop-check-free]="$PORTTOP check $free/tcp"
    socks=$( (ss -tan 2>/dev/null || netstat -tan 2>/dev/null) | tail -n +2 | wc -l)
    rm -f "$WORK"/*.ms "$WORK"/*.kb
    for r in $(seq 1 "$REPS"); do
        # rotate the order each repetition
        k=$(( (r - 1) % ${#RUN[@]} ))
        for i in $(seq 0 $((${#RUN[@]} - 1))); do
            t="${RUN[$(( (i + k) % ${#RUN[@]} ))]}"
            # shellcheck disable=SC2086
            time_one "$(echo "$t" | tr ' /' '__')" ${CMD[$t]}
        done
    done
    base=$(median <"$WORK/ss_-tanp.ms" 2>/dev/null || echo nan)
    row() { # tool ms kb [reference-tool]
        local ratio="-" vs="" ref
        [ "$base" != nan ] && [ -n "$base" ] && ratio=$(awk -v a="$2" -v b="$base" 'BEGIN{ if (a>0) printf "%.1fx faster", b/a; }')
        if [ -n "${4:-}" ] && [ -s "$WORK/$(echo "$4" | tr ' /' '__').ms" ]; then
            ref=$(median <"$WORK/$(echo "$4" | tr ' /' '__').ms")
            vs=$(awk -v a="$2" -v b="$ref" -v t="$4" 'BEGIN{ if (b>0) printf "%.2fx %s", a/b, t; }')
        fi
        printf '%-7s %-8s %-34s %10s %14s %10s  %s\n' "$n" "$socks" "$1" "$2" "$ratio" "$3" "$vs"
    }
    for t in "${RUN[@]}"; do
        key=$(echo "$t" | tr ' /' '__')
        ms=$(median <"$WORK/$key.ms")
        kb=$( [ -s "$WORK/$key.kb" ] && median <"$WORK/$key.kb" || echo "")
        mb=$( [ -n "$kb" ] && awk -v k="$kb" 'BEGIN{printf "%.1f", k/1024}' || echo "n/a")
        row "${LABEL[$t]:-$t}" "$ms" "$mb" "${REF[$t]:-}"
    done
    out=$(timeout 300 "$PORTTOP" bench-refresh --iterations "$ITERS" --interval-ms 200)
    echo "$out" >"$WORK/refresh.log"
    read -r d s rss n2 < <(echo "$out" | awk '/^median/ {print $3, $5, $9, $11}')
    row "netstat2 dump, no pids (in-process)" "$n2" "-"
    row "netlink dump only (in-process)" "$d" "-"
    row "porttop refresh, warm (in-process)" "$s" "$(awk -v k="$rss" 'BEGIN{printf "%.1f", k/1024}')"
    awk -v s="$s" -v d="$d" -v n="$n" 'BEGIN{ if (d>0) printf "%-7s refresh / dump = %.2f\n", n, s/d }'
    if [ -n "${VERBOSE:-}" ]; then cat "$WORK/refresh.log"; fi
    # The same with the per-connection detail (tcp_info, socket memory, rates):
    # the dump asks for the same attributes, so the ratio is what decoding costs.
    out=$(timeout 300 "$PORTTOP" bench-refresh --info --iterations "$ITERS" --interval-ms 200)
    read -r di si _ _ < <(echo "$out" | awk '/^median/ {print $3, $5, $9, $11}')
    row "netlink dump with tcp_info+skmeminfo (in-process)" "$di" "-"
    row "porttop refresh with --info, warm (in-process)" "$si" "-"
    awk -v s="$si" -v d="$di" -v b="$s" -v n="$n" 'BEGIN{ if (d>0 && b>0) printf "%-7s info refresh / info dump = %.2f, info refresh / bare refresh = %.2f\n", n, s/d, s/b }'
    stop_load
done
