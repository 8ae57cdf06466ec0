#!/usr/bin/env bash
# bench/udp.sh: UDP (BEP 15) announce throughput of retracker and aquatic_udp side by side in
# one run, in a network namespace with only loopback, with aquatic_udp_load_test (1 worker,
# 4 sockets, TORRENTS torrents, PEERS peers, announces with a few connects to keep connection
# ids fresh). Rounds alternate the servers (A B A B ...), each run on a freshly started server;
# the table has every round, the medians and the ratio. retracker runs with SQLite
# persistence, and its write-behind backlog (/metrics) is sampled once a second. Any error
# answer: exit 1.
#
# Usage: bench/udp.sh    (knobs: see bench/README.md; e.g. ROUNDS=5 DURATION=30 bench/udp.sh)
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-20}
TORRENTS=${TORRENTS:-10000}
PEERS=${PEERS:-100000}
WEIGHT_CONNECT=${WEIGHT_CONNECT:-1}
WEIGHT_ANNOUNCE=${WEIGHT_ANNOUNCE:-99}
AQUATIC_UDP_SOCKET_WORKERS=${AQUATIC_UDP_SOCKET_WORKERS:-auto}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}

need_int ROUNDS 3
need_int DURATION 10
need_int TORRENTS 1
need_int PEERS 1
need_int WEIGHT_CONNECT 0
need_int WEIGHT_ANNOUNCE 1
[[ "$AQUATIC_UDP_SOCKET_WORKERS" =~ ^(auto|[0-9]+)$ ]] || die "AQUATIC_UDP_SOCKET_WORKERS: auto or a number"

if ! in_netns; then
  ensure_base_tools
  build_release
  ensure_cargo_tool aquatic_udp_load_test --locked aquatic_udp_load_test
  ensure_cargo_tool aquatic_udp --locked aquatic_udp --no-default-features --features mimalloc
  mkdir -p "$RESULTS_DIR"
  BENCH_OUT="$RESULTS_DIR/udp-$(date -u +%Y%m%dT%H%M%SZ).md"
  export BENCH_OUT
fi
enter_netns "$0" "$@"

exec > >(tee "${BENCH_OUT:-/dev/null}") 2>&1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/retracker-bench-udp.XXXXXX")
trap 'bench_cleanup; rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM

SERVERS=(retracker aquatic_udp)
# retracker: HTTP (for /metrics and readiness) on 3011, UDP on 3012; aquatic_udp on 3013.
RT_HTTP=3011
declare -A PORT=([retracker]=3012 [aquatic_udp]=3013)
declare -A RATE FAIL RATIO WARMERR PPA BACKLOG
TOTAL_FAILURES=0

aquatic_config() { # FILE SOCKET_WORKERS
  cat >"$1" <<EOF
socket_workers = $2
log_level = "warn"

[network]
address = "127.0.0.1:${PORT[aquatic_udp]}"
EOF
}

load_test_config() { # FILE PORT
  cat >"$1" <<EOF
server_address = "127.0.0.1:$2"
log_level = "error"
workers = 1
duration = $DURATION
summarize_last = 0
extra_statistics = false

[network]
multiple_client_ipv4s = true
sockets_per_worker = 4
recv_buffer = 8000000

[requests]
number_of_torrents = $TORRENTS
number_of_peers = $PEERS
scrape_max_torrents = 10
announce_peers_wanted = 30
weight_connect = $WEIGHT_CONNECT
weight_announce = $WEIGHT_ANNOUNCE
weight_scrape = 0
peer_seeder_probability = 0.75
EOF
}

# start NAME TAG [AQUATIC_WORKERS]: a fresh server, ready to answer BEP 15 connects.
start() {
  local name=$1 tag=$2 port=${PORT[$1]}
  case $name in
    retracker)
      mkdir -p "$WORK/db-$tag"
      retracker_config "$WORK/retracker-$tag.ini" "$RT_HTTP" sqlite "$WORK/db-$tag/retracker.sqlite" "$port"
      start_server "$WORK/server-$tag.log" "$BIN_DIR/retracker" --config "$WORK/retracker-$tag.ini"
      wait_tcp "$RT_HTTP"
      wait_udp "$port"
      check_metrics "$RT_HTTP"
      start_backlog_sampler "$RT_HTTP" "$WORK/backlog-$tag"
      ;;
    aquatic_udp)
      aquatic_config "$WORK/aquatic-$tag.toml" "${3:-$AQUATIC_WORKERS}"
      start_server "$WORK/server-$tag.log" aquatic_udp -c "$WORK/aquatic-$tag.toml"
      wait_udp "$port"
      ;;
  esac
}

stop() {
  local name=$1 tag=$2
  if [[ $name == retracker ]]; then
    stop_backlog_sampler
    local failures
    failures=$(metric "$RT_HTTP" retracker_persistence_failures_total)
    BACKLOG[$tag]="$(backlog_summary "$WORK/backlog-$tag"), write failures $failures"
    say "   persistence backlog: ${BACKLOG[$tag]}"
    say "   retracker_failures_total: $(failure_reasons "$RT_HTTP")"
  fi
  stop_server
  rm -rf "$WORK/db-$tag"
}

# run NAME TAG: aquatic_udp_load_test against the running server; sets R_RATE, R_FAIL, R_RATIO.
run() {
  local name=$1 tag=$2 port=${PORT[$1]} out="$WORK/load-$2.out"
  load_test_config "$WORK/load-$tag.toml" "$port"
  assert_loopback "127.0.0.1:$port"
  say "-- $tag: aquatic_udp_load_test -> udp://127.0.0.1:$port, ${DURATION} s"
  say "   packets: BEP 15 connect (weight $WEIGHT_CONNECT) and announce (weight $WEIGHT_ANNOUNCE) to 127.0.0.1:$port from 127.0.0.1"
  timeout -k 5 $((DURATION + 60)) aquatic_udp_load_test -c "$WORK/load-$tag.toml" >"$out" 2>&1 ||
    say "   aquatic_udp_load_test exited with $?"
  # Figures every 5 s (rates over the interval); the report at the end is not read. The
  # first 5 s are the warm-up and left out of the rate and of the failures: the load test
  # takes the connection id of all its 4 sockets from a connect on the first one, and
  # retracker binds ids to the client's address and port (aquatic_udp to the address only),
  # so the other 3 sockets get "connection ID expired or invalid" until their first connect
  # (a fraction of a second). Those warm-up errors are shown apart. Failures: error responses
  # (rate × 5 s) after the warm-up, and "Received invalid response" lines. Answered:
  # responses in / requests out (UDP may drop). Peers: peers per announce response.
  local parsed
  parsed=$(awk '
    /^# aquatic load test report/ { done = 1 }
    done { next }
    /^Requests out:/ { n++; sub("/second", "", $3); req[n] = $3 }
    /^Responses in:/ { sub("/second", "", $3); resp[n] = $3 }
    /- Announce responses:/ { ann[n] = $4 }
    /- Error responses:/ { err[n] = $4 }
    /^Peers per announce response:/ { peers[n] = $5 }
    /^Received invalid response/ { invalid++ }
    END {
      if (n < 2) { print "0 -1 0 0 0 0"; exit }
      for (i = 2; i <= n; i++) { sum += ann[i]; p += peers[i]; terr += err[i] * 5; c++ }
      for (i = 1; i <= n; i++) { treq += req[i]; tresp += resp[i] }
      printf "%.0f %d %d %.1f %.1f %d\n", sum / c, int(terr + 0.5) + invalid, int(err[1] * 5 + 0.5),
        (treq > 0 ? 100 * tresp / treq : 0), p / c, n
    }' "$out")
  local intervals
  read -r R_RATE R_FAIL R_WARMUP_ERR R_RATIO R_PEERS intervals <<<"$parsed"
  if ((R_FAIL < 0)); then
    say "   ---- no figures (at least two 5-s intervals) in the output of aquatic_udp_load_test:"
    tail -n 20 "$out"
    R_FAIL=1
  fi
  say "   $R_RATE announce responses/s (mean of $((intervals - 1)) 5-s intervals after the first), error responses $R_FAIL (warm-up: $R_WARMUP_ERR, not counted), answered ${R_RATIO}% of requests, ${R_PEERS} peers per announce response"
}

one() {
  local name=$1 round=$2 tag="$1-r$2"
  start "$name" "$tag"
  run "$name" "$tag"
  stop "$name" "$tag"
  RATE[$name,$round]=$R_RATE
  FAIL[$name,$round]=$R_FAIL
  RATIO[$name,$round]=$R_RATIO
  WARMERR[$name,$round]=$R_WARMUP_ERR
  PPA[$name,$round]=$R_PEERS
  TOTAL_FAILURES=$((TOTAL_FAILURES + R_FAIL))
}

header_lines "UDP announce throughput (bench/udp.sh)"
say "- aquatic_udp $(aquatic_udp -v 2>/dev/null | head -n 1), aquatic_udp_load_test $(aquatic_udp_load_test -v 2>/dev/null | head -n 1)"
say "- ROUNDS=$ROUNDS DURATION=$DURATION TORRENTS=$TORRENTS PEERS=$PEERS WEIGHT_CONNECT=$WEIGHT_CONNECT WEIGHT_ANNOUNCE=$WEIGHT_ANNOUNCE"
say

if [[ $AQUATIC_UDP_SOCKET_WORKERS == auto ]]; then
  note "choosing aquatic_udp socket_workers (1 or 2)"
  best_rate=-1
  for w in 1 2; do
    start aquatic_udp "tune-w$w" "$w"
    run aquatic_udp "tune-w$w"
    stop aquatic_udp "tune-w$w"
    if ((R_RATE > best_rate)); then best_rate=$R_RATE AQUATIC_WORKERS=$w; fi
  done
  AQUATIC_CHOICE="socket_workers = $AQUATIC_WORKERS (measured best of 1 and 2), mio (no io_uring: built without default features)"
else
  AQUATIC_WORKERS=$AQUATIC_UDP_SOCKET_WORKERS
  AQUATIC_CHOICE="socket_workers = $AQUATIC_WORKERS (AQUATIC_UDP_SOCKET_WORKERS), mio"
fi
note "aquatic_udp: $AQUATIC_CHOICE"

for ((round = 1; round <= ROUNDS; round++)); do
  for name in "${SERVERS[@]}"; do
    note "round $round/$ROUNDS: $name"
    one "$name" "$round"
  done
done

say
header_lines "UDP announce throughput (bench/udp.sh): results"
say "- servers: retracker with SQLite persistence (default flush_interval_ms), log level warn, tokio default workers ($(nproc)); aquatic_udp $AQUATIC_CHOICE"
say "- load: aquatic_udp_load_test, 1 worker, 4 sockets, $TORRENTS torrents, $PEERS peers, numwant 30, connect:announce $WEIGHT_CONNECT:$WEIGHT_ANNOUNCE, ${DURATION} s (the first 5-s interval not counted); figures in announce responses per second"
say "- note: every peer of aquatic_udp_load_test sends peer_id 0 from 127.0.0.1, so retracker (peers keyed by peer_id) keeps one peer per torrent and answers with no peers; see 'peers per answer'"
say
head="| server |" rule="| --- |"
for ((r = 1; r <= ROUNDS; r++)); do head+=" round $r |"; rule+=" ---: |"; done
say "$head median | error responses | warm-up errors (not counted) | answered | peers per answer |"
say "$rule ---: | ---: | ---: | ---: | ---: |"
declare -A MED
for name in "${SERVERS[@]}"; do
  row="| $name |" rates=() fails=0 warm=0 ratios="" peers=""
  for ((r = 1; r <= ROUNDS; r++)); do
    row+=" ${RATE[$name,$r]} |"
    rates+=("${RATE[$name,$r]}")
    fails=$((fails + FAIL[$name,$r]))
    warm=$((warm + WARMERR[$name,$r]))
    ratios+="${ratios:+ }${RATIO[$name,$r]}%"
    peers+="${peers:+ }${PPA[$name,$r]}"
  done
  MED[$name]=$(median "${rates[@]}")
  say "$row ${MED[$name]} | $fails | $warm | $ratios | $peers |"
done
say
r=$(ratio "${MED[retracker]}" "${MED[aquatic_udp]}")
say "- retracker / aquatic_udp: **$r** (target ≥ 1.0: $(at_least "$r" 1.0))"
say
say "### retracker persistence backlog (retracker_persistence_backlog, sampled once a second)"
say
for ((round = 1; round <= ROUNDS; round++)); do
  say "- round $round: ${BACKLOG[retracker-r$round]:-not sampled}"
done
say
[[ -n "${BENCH_OUT:-}" ]] && say "(written to $BENCH_OUT)"
if ((TOTAL_FAILURES > 0)); then
  say
  say "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  say "!!! FAILED: $TOTAL_FAILURES error responses in this run; the throughput figures"
  say "!!! above do not count. See the error responses column."
  say "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  exit 1
fi
