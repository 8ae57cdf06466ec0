#!/usr/bin/env bash
# bench/soak.sh: retracker under a steady announce rate for 10 minutes, in a network namespace
# with only loopback; its resident memory must stay flat once the swarms have reached their
# steady size (issue 7, "Load": a benchmark script, not a CI test).
#
# The load churns: PEERS simulated peers announce at RATE/s in all, each every PEERS/RATE s,
# while peers expire after announce_interval x peer_expire_factor s and the cleanup runs every
# peer_cleanup_period s. With the defaults (1,000,000 peers at 5,000/s, expiry after 120 s),
# about 600,000 peers are live at any time, peers expire and come back all the time, and the
# write-behind writes and deletes rows in SQLite throughout.
#
# Every SAMPLE seconds it records the tracker's RSS (/proc/PID/status), peers, open
# connections and the persistence backlog. Verdict: the largest RSS after WARMUP against the
# RSS at the end of WARMUP; growth above MAX_GROWTH_PCT, or any failure answer, exits 1.
#
# Usage: bench/soak.sh    (knobs: DURATION=600 RATE=5000 PEERS=1000000 TORRENTS=20000
#                          CONNECTIONS=64 WARMUP=240 SAMPLE=10 MAX_GROWTH_PCT=10)
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

DURATION=${DURATION:-600}
RATE=${RATE:-5000}
PEERS=${PEERS:-1000000}
TORRENTS=${TORRENTS:-20000}
CONNECTIONS=${CONNECTIONS:-64}
WARMUP=${WARMUP:-240}
SAMPLE=${SAMPLE:-10}
MAX_GROWTH_PCT=${MAX_GROWTH_PCT:-10}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}

need_int DURATION 60
need_int RATE 1
need_int PEERS 1
need_int TORRENTS 1
need_int CONNECTIONS 1
need_int WARMUP 0
need_int SAMPLE 1
need_int MAX_GROWTH_PCT 0
((WARMUP + SAMPLE < DURATION)) || die "WARMUP + SAMPLE must be shorter than DURATION"

if ! in_netns; then
  ensure_base_tools
  build_release
  mkdir -p "$RESULTS_DIR"
  BENCH_OUT="$RESULTS_DIR/soak-$(date -u +%Y%m%dT%H%M%SZ).md"
  export BENCH_OUT
fi
enter_netns "$0" "$@"

exec > >(tee "${BENCH_OUT:-/dev/null}") 2>&1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/retracker-bench-soak.XXXXXX")
trap 'bench_cleanup; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

RT_PORT=3001
LOADGEN="$BIN_DIR/examples/loadgen"

header_lines "Soak: ${DURATION} s at ${RATE} announces/s (bench/soak.sh)"
say "- DURATION=$DURATION RATE=$RATE PEERS=$PEERS TORRENTS=$TORRENTS CONNECTIONS=$CONNECTIONS WARMUP=$WARMUP SAMPLE=$SAMPLE MAX_GROWTH_PCT=$MAX_GROWTH_PCT"
say "- retracker with SQLite; announce_interval 60 s, peer_expire_factor 2 (expiry after 120 s), cleanup every 30 s"
say

mkdir -p "$WORK/db"
retracker_config "$WORK/soak.ini" "$RT_PORT" sqlite "$WORK/db/retracker.sqlite"
# Short expiry and cleanup, so that peers leave and come back during the run.
start_server "$WORK/server.log" env RETRACKER_TRACKER_ANNOUNCE_INTERVAL=60 \
  RETRACKER_TRACKER_ANNOUNCE_INTERVAL_JITTER=0 RETRACKER_TRACKER_PEER_EXPIRE_FACTOR=2 \
  RETRACKER_TRACKER_PEER_CLEANUP_PERIOD=30 "$BIN_DIR/retracker" --config "$WORK/soak.ini"
wait_tcp "$RT_PORT"
check_metrics "$RT_PORT"
# `env` execs retracker, so SERVER_PID is the tracker's own pid.
PID=$SERVER_PID

show_urls "127.0.0.1:$RT_PORT" 3
note "load: loadgen open-loop, $RATE announces/s, $CONNECTIONS keep-alive connections, $DURATION s"
"$LOADGEN" "127.0.0.1:$RT_PORT" --rate "$RATE" --connections "$CONNECTIONS" --duration "$DURATION" \
  --warmup 0 --torrents "$TORRENTS" --peers "$PEERS" --show-urls 3 >"$WORK/load.out" 2>&1 &
LOAD_PID=$!

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$PID/status" 2>/dev/null || echo NA; }
peers() {
  curl -s --noproxy '*' --max-time 5 "http://127.0.0.1:$RT_PORT/metrics" |
    awk '/^retracker_peers\{/ { n += $2 } END { print n + 0 }'
}

say "| s | RSS MiB | peers | connections | backlog |"
say "| ---: | ---: | ---: | ---: | ---: |"
: >"$WORK/rss"
start=$SECONDS
next=$((start + SAMPLE))
while kill -0 "$LOAD_PID" 2>/dev/null; do
  kill -0 "$PID" 2>/dev/null || server_died "retracker exited during the soak"
  if ((SECONDS >= next)); then
    t=$((SECONDS - start))
    rss=$(rss_kib)
    printf '%s %s\n' "$t" "$rss" >>"$WORK/rss"
    say "| $t | $(awk -v k="$rss" 'BEGIN { printf "%.1f", k / 1024 }') | $(peers) | $(metric "$RT_PORT" retracker_http_connections) | $(metric "$RT_PORT" retracker_persistence_backlog) |"
    next=$((next + SAMPLE))
  fi
  sleep 0.5
done
wait "$LOAD_PID" || true
say
sed 's/^/   /' "$WORK/load.out" | grep -v '^ *RESULT' || true
RESULT=$(grep '^RESULT ' "$WORK/load.out" || echo "RESULT failures=1")
failures=$(sed -E 's/.*failures=([0-9]+).*/\1/' <<<"$RESULT")
reasons=$(failure_reasons "$RT_PORT")

# The baseline is the last sample inside the warm-up; the peak is the largest after it.
read -r base peak < <(awk -v w="$WARMUP" '$2 != "NA" { if ($1 <= w) b = $2; else if ($2 > p) p = $2 }
  END { print b + 0, p + 0 }' "$WORK/rss")
growth=$(awk -v b="$base" -v p="$peak" 'BEGIN { if (b > 0) printf "%.1f", (p - b) * 100 / b; else print "NA" }')
say
say "## Verdict"
say
say "- RSS at the end of the warm-up (${WARMUP} s): $((base / 1024)) MiB; largest after it: $((peak / 1024)) MiB; growth ${growth}% (limit ${MAX_GROWTH_PCT}%)"
say "- failure answers: $failures (tracker's refusals by reason: $reasons)"
ok=1
awk -v g="$growth" -v m="$MAX_GROWTH_PCT" 'BEGIN { exit !(g != "NA" && g + 0 <= m + 0) }' || ok=0
((failures == 0)) || ok=0
if ((ok)); then
  say "- **flat**: met"
else
  say "- **NOT met**"
  exit 1
fi
