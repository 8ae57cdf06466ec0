#!/usr/bin/env bash
# bench/latency.sh: announce latency of retracker at half its peak load, with SQLite
# persistence and without ([DB] type = memory), in a network namespace with only loopback.
# First the peak: bench/bin/loadgen --max (closed loop, keep-alive) against retracker with
# SQLite (or PEAK=N given). Then loadgen open-loop at PEAK/2 announces/s, rounds alternating
# sqlite, memory, sqlite, memory ..., each on a freshly started retracker; latency is counted
# from each announce's intended send time (coordinated omission corrected, see loadgen.rs).
# Prints p50/p90/p99/p99.9/max per round and their medians per mode, and the write-behind
# backlog (retracker_persistence_backlog, sampled once a second). Target: p99 ≤ 2 ms.
# Any failure answer: exit 1.
#
# Usage: bench/latency.sh    (knobs: see bench/README.md; e.g. PEAK=26000 bench/latency.sh)
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-20}
WARMUP=${WARMUP:-3}
CONNECTIONS=${CONNECTIONS:-64}
PEAK_CONNECTIONS=${PEAK_CONNECTIONS:-128}
TORRENTS=${TORRENTS:-10000}
PEERS=${PEERS:-100000}
PEAK=${PEAK:-}
LOAD_FRACTION=${LOAD_FRACTION:-0.5}
P99_TARGET_US=${P99_TARGET_US:-2000}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}

need_int ROUNDS 3
need_int DURATION 5
need_int WARMUP 0
need_int CONNECTIONS 1
need_int PEAK_CONNECTIONS 1
need_int TORRENTS 1
need_int PEERS 1
setup_cores
((WARMUP < DURATION)) || die "WARMUP must be shorter than DURATION"
[[ -z "$PEAK" ]] || need_int PEAK 1

if ! in_netns; then
  ensure_base_tools
  build_release
  mkdir -p "$RESULTS_DIR"
  BENCH_OUT="$RESULTS_DIR/latency-$(date -u +%Y%m%dT%H%M%SZ).md"
  export BENCH_OUT
fi
enter_netns "$0" "$@"

exec > >(tee "${BENCH_OUT:-/dev/null}") 2>&1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/retracker-bench-latency.XXXXXX")
trap 'bench_cleanup; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

RT_PORT=3001
LOADGEN="$BIN_DIR/examples/loadgen"
MODES=(sqlite memory)
declare -A RES BACKLOG
TOTAL_FAILURES=0

# start MODE TAG: a fresh retracker with [DB] type = MODE.
start() {
  local mode=$1 tag=$2
  if [[ $mode == sqlite ]]; then
    mkdir -p "$WORK/db-$tag"
    retracker_config "$WORK/$tag.ini" "$RT_PORT" sqlite "$WORK/db-$tag/retracker.sqlite"
  else
    retracker_config "$WORK/$tag.ini" "$RT_PORT" memory ""
  fi
  start_server "$WORK/server-$tag.log" "$BIN_DIR/retracker" --config "$WORK/$tag.ini"
  wait_tcp "$RT_PORT"
  check_metrics "$RT_PORT"
  start_backlog_sampler "$RT_PORT" "$WORK/backlog-$tag"
}

stop() {
  local tag=$1
  stop_backlog_sampler
  BACKLOG[$tag]=$(backlog_summary "$WORK/backlog-$tag")
  say "   persistence backlog: ${BACKLOG[$tag]}, write failures $(metric "$RT_PORT" retracker_persistence_failures_total)"
  stop_server
  rm -rf "$WORK/db-$tag"
}

# loadgen TAG ARGS...: runs loadgen, prints its summary, sets RESULT (its RESULT line).
run_loadgen() {
  local tag=$1 out="$WORK/load-$1.out"
  shift
  assert_loopback "127.0.0.1:$RT_PORT"
  "${LOAD_PIN[@]}" "$LOADGEN" "127.0.0.1:$RT_PORT" --torrents "$TORRENTS" --peers "$PEERS" "$@" >"$out" 2>&1 || true
  sed 's/^/   /' "$out" | grep -v 'RESULT' || true
  RESULT=$(grep '^RESULT ' "$out" || true)
  [[ -n "$RESULT" ]] || {
    RESULT="rate=0 p50_us=NA p90_us=NA p99_us=NA p999_us=NA max_us=NA failures=1"
    say "   (no RESULT line from loadgen)"
  }
  local failures
  failures=$(field failures "$RESULT")
  TOTAL_FAILURES=$((TOTAL_FAILURES + failures))
}

# field NAME LINE: the value of NAME=... in a RESULT line.
field() { sed -E "s/.*(^| )$1=([^ ]+).*/\\2/" <<<"$2"; }

header_lines "Announce latency at $(awk -v f="$LOAD_FRACTION" 'BEGIN { printf "%g", f * 100 }')% of peak (bench/latency.sh)"
say "- CORES=$CORES, $(cores_line)"
say "- ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP CONNECTIONS=$CONNECTIONS PEAK_CONNECTIONS=$PEAK_CONNECTIONS TORRENTS=$TORRENTS PEERS=$PEERS LOAD_FRACTION=$LOAD_FRACTION"
say

if [[ -z "$PEAK" ]]; then
  note "peak: loadgen --max, keep-alive, $PEAK_CONNECTIONS connections, retracker with SQLite"
  start sqlite peak
  run_loadgen peak --max --connections "$PEAK_CONNECTIONS" --duration "$DURATION" --warmup "$WARMUP"
  stop peak
  PEAK=$(field rate "$RESULT")
  PEAK_SOURCE="measured: loadgen --max, $PEAK_CONNECTIONS connections, ${DURATION} s"
else
  PEAK_SOURCE="given: PEAK=$PEAK"
fi
RATE=$(awk -v p="$PEAK" -v f="$LOAD_FRACTION" 'BEGIN { printf "%.0f", p * f }')
((RATE > 0)) || die "no peak rate to take a fraction of (PEAK=$PEAK)"
note "peak $PEAK announces/s ($PEAK_SOURCE); open-loop load: $RATE announces/s"

for ((round = 1; round <= ROUNDS; round++)); do
  for mode in "${MODES[@]}"; do
    tag="$mode-r$round"
    note "round $round/$ROUNDS: retracker with [DB] type = $mode, $RATE announces/s open-loop"
    start "$mode" "$tag"
    run_loadgen "$tag" --rate "$RATE" --connections "$CONNECTIONS" --duration "$DURATION" --warmup "$WARMUP"
    stop "$tag"
    RES[$mode,$round]=$RESULT
  done
done

say
header_lines "Announce latency (bench/latency.sh): results"
say "- retracker: log level warn, tokio default workers (one per server core); sqlite = [DB] type = sqlite (default flush_interval_ms), memory = [DB] type = memory"
say "- peak: $PEAK announces/s ($PEAK_SOURCE); load: $RATE announces/s open-loop (LOAD_FRACTION=$LOAD_FRACTION), keep-alive, $CONNECTIONS connections, $TORRENTS torrents, $PEERS peers, ${DURATION} s (first ${WARMUP} s not counted)"
say "- latency in microseconds, from the intended send time (coordinated omission corrected)"
say
say "| [DB] type | round | announces/s | p50 | p90 | p99 | p99.9 | max | failures | backlog |"
say "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
declare -A MED
for mode in "${MODES[@]}"; do
  for ((round = 1; round <= ROUNDS; round++)); do
    r=${RES[$mode,$round]}
    say "| $mode | $round | $(field rate "$r") | $(field p50_us "$r") | $(field p90_us "$r") | $(field p99_us "$r") | $(field p999_us "$r") | $(field max_us "$r") | $(field failures "$r") | ${BACKLOG[$mode-r$round]} |"
  done
  row="| $mode | **median** |"
  for f in rate p50_us p90_us p99_us p999_us max_us; do
    vals=()
    for ((round = 1; round <= ROUNDS; round++)); do vals+=("$(field "$f" "${RES[$mode,$round]}")"); done
    MED[$mode,$f]=$(median "${vals[@]}")
    row+=" **${MED[$mode,$f]}** |"
  done
  say "$row | |"
done
say
for mode in "${MODES[@]}"; do
  verdict=$(awk -v v="${MED[$mode,p99_us]}" -v t="$P99_TARGET_US" 'BEGIN { print (v != "NA" && v + 0 <= t + 0) ? "met" : "NOT met" }')
  say "- p99 with $mode: **${MED[$mode,p99_us]} µs** (target ≤ $P99_TARGET_US µs: $verdict)"
done
say "- p99 with SQLite minus p99 in memory: $(awk -v a="${MED[sqlite,p99_us]}" -v b="${MED[memory,p99_us]}" 'BEGIN { printf "%+d µs", a - b }')"
backlog_maxes=()
for ((round = 1; round <= ROUNDS; round++)); do backlog_maxes+=("$(backlog_max "$WORK/backlog-sqlite-r$round")"); done
say "- persistence backlog with SQLite: largest sample $(printf '%s\n' "${backlog_maxes[@]}" | sort -n | tail -n 1) (per round: ${backlog_maxes[*]})"
say
[[ -n "${BENCH_OUT:-}" ]] && say "(written to $BENCH_OUT)"
if ((TOTAL_FAILURES > 0)); then
  say
  say "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  say "!!! FAILED: $TOTAL_FAILURES failed announces (status, failure reason, I/O or timeout)"
  say "!!! in this run; the latency figures above do not count."
  say "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  exit 1
fi
