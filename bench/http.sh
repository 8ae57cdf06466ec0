#!/usr/bin/env bash
# bench/http.sh: HTTP announce throughput of retracker, aquatic_http and hyper_ceiling (the
# ceiling of tokio + hyper on this machine: a fixed 200-byte announce answer) side by side in
# one run, in a network namespace with only loopback. Keep-alive: aquatic_http_load_test
# (1 worker, CONNECTIONS connections, TORRENTS torrents, announces only). Connection: close:
# bench/bin/loadgen --max --close (aquatic_http_load_test cannot: see bench/README.md). Rounds
# alternate the servers (A B C A B C ...), each run on a freshly started server; the table has
# every round, the medians and the ratios. retracker runs with SQLite persistence and in
# memory ([DB] type = memory), and its write-behind backlog (/metrics) is sampled once a second.
# The servers get CORES cores (default 1), the load the others (taskset). Any failure answer:
# exit 1.
#
# Usage: bench/http.sh    (knobs: see bench/README.md; e.g. ROUNDS=5 DURATION=30 bench/http.sh)
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-20}
CONNECTIONS=${CONNECTIONS:-128}
TORRENTS=${TORRENTS:-10000}
CLOSE=${CLOSE:-1}
CLOSE_WARMUP=${CLOSE_WARMUP:-2}
AQUATIC_HTTP_SOCKET_WORKERS=${AQUATIC_HTTP_SOCKET_WORKERS:-auto}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}

need_int ROUNDS 3
need_int DURATION 5
need_int CONNECTIONS 1
need_int TORRENTS 1
need_int CLOSE_WARMUP 0
setup_cores
((CLOSE_WARMUP < DURATION)) || die "CLOSE_WARMUP must be shorter than DURATION"
[[ "$AQUATIC_HTTP_SOCKET_WORKERS" =~ ^(auto|[0-9]+)$ ]] || die "AQUATIC_HTTP_SOCKET_WORKERS: auto or a number"

if ! in_netns; then
  ensure_base_tools
  build_release
  ensure_cargo_tool aquatic_http_load_test --locked aquatic_http_load_test
  ensure_cargo_tool aquatic_http --locked aquatic_http --no-default-features --features mimalloc
  mkdir -p "$RESULTS_DIR"
  BENCH_OUT="$RESULTS_DIR/http-$(date -u +%Y%m%dT%H%M%SZ).md"
  export BENCH_OUT
fi
enter_netns "$0" "$@"

exec > >(tee "${BENCH_OUT:-/dev/null}") 2>&1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/retracker-bench-http.XXXXXX")
trap 'bench_cleanup; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

SERVERS=(retracker retracker_memory aquatic_http hyper_ceiling)
declare -A PORT=([retracker]=3001 [aquatic_http]=3002 [hyper_ceiling]=3003 [retracker_memory]=3004)
declare -A RATE FAIL PORT0 BACKLOG
TOTAL_FAILURES=0
# The fewest connections aquatic_http_load_test may leave unanswered at its end (in flight).
UNANSWERED_LIMIT=$((2 * CONNECTIONS))
# The failure reason of retracker for port=0 (see keepalive_run).
PORT0_REASON=${PORT0_REASON:-port must be}

aquatic_config() { # FILE SOCKET_WORKERS
  cat >"$1" <<EOF
socket_workers = $2
swarm_workers = 1
log_level = "warn"

[network]
address = "127.0.0.1:${PORT[aquatic_http]}"
keep_alive = true
enable_tls = false
EOF
}

load_test_config() { # FILE PORT
  cat >"$1" <<EOF
server_address = "127.0.0.1:$2"
log_level = "error"
num_workers = 1
num_connections = $CONNECTIONS
connection_creation_interval_ms = 10
url_suffix = ""
duration = $DURATION
keep_alive = true
enable_tls = false

[torrents]
number_of_torrents = $TORRENTS
peer_seeder_probability = 0.25
weight_announce = 1
weight_scrape = 0
torrent_gamma_shape = 0.2
torrent_gamma_scale = 100.0
EOF
}

# start NAME TAG [AQUATIC_WORKERS]: a fresh server, ready to answer.
start() {
  local name=$1 tag=$2 port=${PORT[$1]}
  case $name in
    retracker | retracker_memory)
      mkdir -p "$WORK/db-$tag"
      if [[ $name == retracker ]]; then
        retracker_config "$WORK/retracker-$tag.ini" "$port" sqlite "$WORK/db-$tag/retracker.sqlite"
      else
        retracker_config "$WORK/retracker-$tag.ini" "$port" memory ""
      fi
      start_server "$WORK/server-$tag.log" "$BIN_DIR/retracker" --config "$WORK/retracker-$tag.ini"
      wait_tcp "$port"
      check_metrics "$port"
      start_backlog_sampler "$port" "$WORK/backlog-$tag"
      ;;
    aquatic_http)
      aquatic_config "$WORK/aquatic-$tag.toml" "${3:-$AQUATIC_WORKERS}"
      start_server "$WORK/server-$tag.log" aquatic_http -c "$WORK/aquatic-$tag.toml"
      wait_tcp "$port"
      ;;
    hyper_ceiling)
      start_server "$WORK/server-$tag.log" "$BIN_DIR/examples/hyper_ceiling" "127.0.0.1:$port"
      wait_tcp "$port"
      ;;
  esac
}

# stop NAME TAG: stops the server; for retracker, records the backlog and checks persistence.
stop() {
  local name=$1 tag=$2
  if [[ $name == retracker* ]]; then
    stop_backlog_sampler
    local failures
    failures=$(metric "${PORT[$name]}" retracker_persistence_failures_total)
    BACKLOG[$tag]="$(backlog_summary "$WORK/backlog-$tag"), write failures $failures"
    say "   persistence backlog: ${BACKLOG[$tag]}"
    say "   retracker_failures_total: $(failure_reasons "${PORT[$name]}")"
    [[ "$failures" == 0 ]] || say "   WARNING: retracker_persistence_failures_total is $failures"
  fi
  stop_server
  rm -rf "$WORK/db-$tag"
}

# keepalive_run NAME TAG: aquatic_http_load_test against the running server; sets R_RATE, R_FAIL.
keepalive_run() {
  local name=$1 tag=$2 port=${PORT[$1]} out="$WORK/load-$2.out"
  load_test_config "$WORK/load-$tag.toml" "$port"
  say "-- $tag: aquatic_http_load_test -> 127.0.0.1:$port, ${DURATION} s"
  show_urls "127.0.0.1:$port"
  timeout -k 5 $((DURATION + 60)) "${LOAD_PIN[@]}" aquatic_http_load_test -c "$WORK/load-$tag.toml" >"$out" 2>&1 ||
    say "   aquatic_http_load_test exited with $?"
  # Figures every 5 s; the first 5 s (connections still opening) are left out when there are
  # more. Failures: the "failure response: reason:" lines (one per failure answer), or the
  # per-interval rates times 5 if larger. The load test picks each port at random from 0 to
  # 65535, so about one announce in 65536 has port=0, which retracker refuses (a port must
  # be 1..65535) and aquatic_http accepts: such refusals are counted apart (R_PORT0), not as
  # failures, while they stay near that share. Unanswered: requests out minus responses in.
  local parsed
  parsed=$(awk -v re="$PORT0_REASON" '
    /^Requests out:/ { n++; sub("/second", "", $3); req[n] = $3 }
    /^Responses in:/ { sub("/second", "", $3); resp[n] = $3 }
    /- Announce responses:/ { ann[n] = $4 }
    /- Failure responses:/ { fail[n] = $4 }
    /^failure response: reason:/ { lines++; if ($0 ~ re) port0++ }
    END {
      if (n == 0) { print "0 -1 0 0 0"; exit }
      first = (n >= 2) ? 2 : 1
      for (i = first; i <= n; i++) { sum += ann[i]; c++ }
      for (i = 1; i <= n; i++) { treq += req[i] * 5; tresp += resp[i] * 5; tfail += fail[i] * 5 }
      f = int(tfail + 0.5); if (lines > f) f = lines
      # Far more than one in 65536 is no longer the random port: all count as failures then.
      if (port0 > treq / 65536 * 5 + 10) port0 = 0
      printf "%.0f %d %.0f %d %d\n", sum / c, f - port0, treq - tresp, n, port0
    }' "$out")
  local unanswered intervals
  read -r R_RATE R_FAIL unanswered intervals R_PORT0 <<<"$parsed"
  if ((R_FAIL < 0)); then
    say "   ---- no figures in the output of aquatic_http_load_test:"
    tail -n 20 "$out"
    R_FAIL=1
  fi
  if ((unanswered > UNANSWERED_LIMIT)); then
    say "   $unanswered requests got no parseable answer (more than $UNANSWERED_LIMIT in flight)"
    R_FAIL=$((R_FAIL + unanswered))
  fi
  ((R_FAIL + R_PORT0 == 0)) || grep '^failure response' "$out" | sort | uniq -c | sort -rn | head -n 5 || true
  say "   $R_RATE announces/s (mean of $((intervals >= 2 ? intervals - 1 : intervals)) 5-s intervals), failures $R_FAIL, port=0 refusals $R_PORT0"
}

# close_run NAME TAG: loadgen --max --close against the running server; sets R_RATE, R_FAIL.
close_run() {
  local name=$1 tag=$2 port=${PORT[$1]} out="$WORK/load-$2.out"
  say "-- $tag: loadgen --max --close -> 127.0.0.1:$port, ${DURATION} s (first ${CLOSE_WARMUP} s not counted)"
  assert_loopback "127.0.0.1:$port"
  "${LOAD_PIN[@]}" "$BIN_DIR/examples/loadgen" "127.0.0.1:$port" --max --close --connections "$CONNECTIONS" \
    --duration "$DURATION" --warmup "$CLOSE_WARMUP" --torrents "$TORRENTS" >"$out" 2>&1 || true
  grep '^example request' "$out" | sed 's/^/   /' || true
  local line
  line=$(grep '^RESULT ' "$out" || true)
  if [[ -z "$line" ]]; then
    say "   ---- no RESULT line from loadgen:"
    tail -n 20 "$out"
    R_RATE=0 R_FAIL=1 R_PORT0=0
    return
  fi
  R_RATE=$(sed -E 's/.* rate=([0-9.]+).*/\1/' <<<"$line")
  R_FAIL=$(sed -E 's/.* failures=([0-9]+).*/\1/' <<<"$line")
  R_PORT0=0
  grep -E '^(latency|failures)' "$out" | sed 's/^/   /'
  say "   $R_RATE announces/s, failures $R_FAIL"
}

# one MODE NAME ROUND: start, measure, stop; results into RATE/FAIL[MODE,NAME,ROUND].
one() {
  local mode=$1 name=$2 round=$3 tag="$1-$2-r$3"
  start "$name" "$tag"
  if [[ $mode == keepalive ]]; then keepalive_run "$name" "$tag"; else close_run "$name" "$tag"; fi
  stop "$name" "$tag"
  RATE[$mode,$name,$round]=$R_RATE
  FAIL[$mode,$name,$round]=$R_FAIL
  PORT0[$mode,$name,$round]=$R_PORT0
  TOTAL_FAILURES=$((TOTAL_FAILURES + R_FAIL))
}

# table MODE TITLE
table() {
  local mode=$1 name r
  local -A med
  say
  say "### $2"
  say
  local head="| server |" rule="| --- |"
  for ((r = 1; r <= ROUNDS; r++)); do head+=" round $r |"; rule+=" ---: |"; done
  say "$head median | failures | port=0 refused |"
  say "$rule ---: | ---: | ---: |"
  for name in "${SERVERS[@]}"; do
    local row="| $name |" rates=() fails=0 port0=0
    for ((r = 1; r <= ROUNDS; r++)); do
      row+=" ${RATE[$mode,$name,$r]} |"
      rates+=("${RATE[$mode,$name,$r]}")
      fails=$((fails + FAIL[$mode,$name,$r]))
      port0=$((port0 + PORT0[$mode,$name,$r]))
    done
    med[$name]=$(median "${rates[@]}")
    say "$row ${med[$name]} | $fails | $port0 |"
  done
  say
  local ra rh rm
  rm=$(ratio "${med[retracker]}" "${med[retracker_memory]}")
  say "- retracker with SQLite / in memory: **$rm** (target ≥ 0.90: $(at_least "$rm" 0.90))"
  ra=$(ratio "${med[retracker]}" "${med[aquatic_http]}")
  rh=$(ratio "${med[retracker]}" "${med[hyper_ceiling]}")
  if [[ $mode == keepalive ]]; then
    say "- retracker / aquatic_http: **$ra** (target ≥ 1.2: $(at_least "$ra" 1.2))"
    say "- retracker / hyper_ceiling: **$rh** (target ≥ 0.5 at 8 cores: $(at_least "$rh" 0.5))"
  else
    say "- retracker / aquatic_http: **$ra**"
    say "- retracker / hyper_ceiling: **$rh**"
  fi
}

header_lines "HTTP announce throughput (bench/http.sh)"
say "- aquatic_http $(aquatic_http -v 2>/dev/null | head -n 1), aquatic_http_load_test $(aquatic_http_load_test -v 2>/dev/null | head -n 1)"
say "- CORES=$CORES ROUNDS=$ROUNDS DURATION=$DURATION CONNECTIONS=$CONNECTIONS TORRENTS=$TORRENTS CLOSE=$CLOSE CLOSE_WARMUP=$CLOSE_WARMUP"
say "- $(cores_line)"
say

# aquatic_http at its best on this machine: one socket worker or two, measured once each.
if [[ $AQUATIC_HTTP_SOCKET_WORKERS == auto ]]; then
  note "choosing aquatic_http socket_workers (1 or 2; swarm_workers 1)"
  best_rate=-1
  for w in 1 2; do
    start aquatic_http "tune-w$w" "$w"
    keepalive_run aquatic_http "tune-w$w"
    stop aquatic_http "tune-w$w"
    ((R_FAIL == 0)) || say "   (failures while tuning: $R_FAIL)"
    if ((R_RATE > best_rate)); then best_rate=$R_RATE AQUATIC_WORKERS=$w; fi
  done
  AQUATIC_CHOICE="socket_workers = $AQUATIC_WORKERS (measured best of 1 and 2), swarm_workers = 1"
else
  AQUATIC_WORKERS=$AQUATIC_HTTP_SOCKET_WORKERS
  AQUATIC_CHOICE="socket_workers = $AQUATIC_WORKERS (AQUATIC_HTTP_SOCKET_WORKERS), swarm_workers = 1"
fi
note "aquatic_http: $AQUATIC_CHOICE"

MODES=(keepalive)
[[ $CLOSE == 1 ]] && MODES+=(close)
for mode in "${MODES[@]}"; do
  for ((round = 1; round <= ROUNDS; round++)); do
    for name in "${SERVERS[@]}"; do
      note "$mode round $round/$ROUNDS: $name"
      one "$mode" "$name" "$round"
    done
  done
done

say
header_lines "HTTP announce throughput (bench/http.sh): results"
say "- servers: retracker with SQLite persistence (default flush_interval_ms), retracker_memory ([DB] type = memory), log level warn, tokio default workers (one per server core); aquatic_http $AQUATIC_CHOICE, keep_alive on, plain HTTP; hyper_ceiling tokio default workers"
say "- ROUNDS=$ROUNDS DURATION=$DURATION CONNECTIONS=$CONNECTIONS TORRENTS=$TORRENTS; figures in announces per second"
table keepalive "Keep-alive: aquatic_http_load_test, 1 worker, $CONNECTIONS connections, $TORRENTS torrents, ${DURATION} s (the first 5-s interval not counted when there are more)"
if [[ $CLOSE == 1 ]]; then
  table close "Connection: close: loadgen --max --close, 1 thread, $CONNECTIONS concurrent, $TORRENTS torrents, ${DURATION} s (first ${CLOSE_WARMUP} s not counted)"
fi
say
say "### retracker persistence backlog (retracker_persistence_backlog, sampled once a second)"
say
for mode in "${MODES[@]}"; do
  for ((round = 1; round <= ROUNDS; round++)); do
    say "- $mode round $round: ${BACKLOG[$mode-retracker-r$round]:-not sampled}"
  done
done
say
[[ -n "${BENCH_OUT:-}" ]] && say "(written to $BENCH_OUT)"
if ((TOTAL_FAILURES > 0)); then
  say
  say "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  say "!!! FAILED: $TOTAL_FAILURES failure answers (or unanswered requests) in this run;"
  say "!!! the throughput figures above do not count. See the failures column."
  say "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  exit 1
fi
