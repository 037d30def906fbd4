#!/usr/bin/env bash
# bench/leadtime.sh TARGET_DIR (e.g. target/release), as root. Lead time of the exhaust demo: loadlab exhaust --set-range 200 --rate 10 in a private
# namespace, porttop watch next to it; ms between the level events and the first fail.
set -u
bin=$1
ns=pt-lead-$$
ip netns add $ns; ip netns exec $ns ip link set lo up
trap 'kill $(jobs -p) 2>/dev/null; ip netns del $ns' EXIT
ip netns exec $ns "$bin/porttop" watch --interval 1s --duration 60 --port 1 > /tmp/lead-watch.$$ &
sleep 1.5
ip netns exec $ns "$bin/loadlab" exhaust --set-range 200 --rate 10 --seconds 40 | while read -r l; do echo "$(date +%s%3N) $l"; done > /tmp/lead-lab.$$
sleep 1
fail=$(grep -m1 ' fail ' /tmp/lead-lab.$$ | cut -d' ' -f1)
python3 - "$fail" /tmp/lead-watch.$$ <<'PY'
import json,sys
fail=int(sys.argv[1]); ev=[json.loads(l) for l in open(sys.argv[2]) if '"pool_level"' in l]
for e in ev: print(e['level'], e.get('level_by'), 'lead %.1f s' % ((fail-e['ts_ms'])/1000))
PY
