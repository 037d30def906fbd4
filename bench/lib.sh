# Shared by the bench/ scripts (sourced, not run): release binaries, a scratch
# directory, and loopback load held by loadlab processes, all cleaned up on exit.
# The sourcing script sets ROOT and NAME (for messages) first.

TARGET="${CARGO_TARGET_DIR:-$ROOT/target}"
echo "building release binaries..." >&2
(cd "$ROOT" && CARGO_TARGET_DIR="$TARGET" cargo build --release --quiet --bin porttop --bin loadlab)
PORTTOP="$TARGET/release/porttop" LOADLAB="$TARGET/release/loadlab"

WORK="$(mktemp -d)"
LOAD_PIDS=()
CLEANUP_EXTRA=:
stop_load() {
    for p in "${LOAD_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${LOAD_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    LOAD_PIDS=()
}
cleanup() {
    $CLEANUP_EXTRA
    stop_load
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

median() { sort -n | awk '{a[NR]=$1} END {if (NR==0) print "nan"; else if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# fd_limit MAXN: 2N fds (both ends of every connection) live in loadlab processes:
# raise the fd limit when allowed (root with CAP_SYS_RESOURCE), else split the
# connections over several processes that each stay below the limit. Sets PER,
# the connections one loadlab process may hold.
fd_limit() {
    local need=$((2 * $1 + 1000)) limit
    if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
        ulimit -Hn "$need" 2>/dev/null || true
        ulimit -n "$need" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
    fi
    limit=$(ulimit -n); [ "$limit" = unlimited ] && limit=$need
    PER=$(((limit - 200) / 2))
    [ "$PER" -ge 1 ] || { echo "$NAME: fd limit $limit is too low" >&2; exit 2; }
}

# start_load N CHURN: N loopback connections, CHURN of them closed and reopened per
# second, over as many loadlab processes as the fd limit needs; returns when all
# are ready.
start_load() {
    local n=$1 churn=$2 procs left c j
    procs=$(((n + PER - 1) / PER)); left=$n
    for j in $(seq 1 "$procs"); do
        c=$((left / (procs - j + 1))); left=$((left - c))
        "$LOADLAB" hold --conns "$c" --churn "$((churn / procs))" --seconds 900 \
            >"$WORK/ready.$j" 2>"$WORK/load.$j.err" &
        LOAD_PIDS+=($!)
        for _ in $(seq 1 600); do
            grep -q '^ready' "$WORK/ready.$j" 2>/dev/null && break
            kill -0 "$!" 2>/dev/null || { cat "$WORK/load.$j.err" >&2; exit 1; }
            sleep 0.1
        done
        grep -q '^ready' "$WORK/ready.$j" || { echo "$NAME: loadlab not ready" >&2; exit 1; }
    done
}
