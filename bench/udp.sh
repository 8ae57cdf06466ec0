#!/usr/bin/env bash
# bench/udp.sh: UDP (BEP 15) announce throughput of retracker (SQLite persistence on, and
# [DB] type = memory) and aquatic_udp side by side in one run, in a network namespace with only
# loopback, with aquatic_udp_load_test patched to send a distinct peer_id per simulated peer
# (bench/patches/; 0.9.0 sends all zeros, which is not equal work: see ensure_patched_udp_load_test
# in common.sh). The servers get CORES cores (default 1), the load the others (taskset).
# Rounds alternate the servers (A B C A B C ...), each run on a freshly started server; the
# table has every round, the medians and the ratios. Equal work is checked: the peers per
# answer of the servers must be within 10% of each other, or the comparison is refused (exit
# 1). retracker's write-behind backlog (/metrics) is sampled once a second. Any error answer:
# exit 1.
#
# Usage: bench/udp.sh    (knobs: see bench/README.md; e.g. CORES=4 ROUNDS=5 bench/udp.sh)
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-20}
TORRENTS=${TORRENTS:-10000}
PEERS=${PEERS:-100000}
WEIGHT_CONNECT=${WEIGHT_CONNECT:-1}
WEIGHT_ANNOUNCE=${WEIGHT_ANNOUNCE:-99}
NUMWANT=${NUMWANT:-50}
# aquatic_udp_load_test's request mix: each announce is a seeder's (event=completed, left=0)
# with this probability, else a leecher's (event=started), drawn afresh every time, so a
# peer changes role on about 2p(1-p) of its announces (37.5% at 0.75): a state change each.
# 0: every peer stays a leecher, the steady re-announces of real clients (1 would make
# every peer a seeder, which gets no seeders from retracker: not equal work).
SEEDER_PROBABILITY=${SEEDER_PROBABILITY:-0.75}
AQUATIC_UDP_SOCKET_WORKERS=${AQUATIC_UDP_SOCKET_WORKERS:-cores}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}

need_int ROUNDS 3
need_int DURATION 10
need_int TORRENTS 1
need_int PEERS 1
need_int WEIGHT_CONNECT 0
need_int WEIGHT_ANNOUNCE 1
need_int NUMWANT 1
[[ "$SEEDER_PROBABILITY" =~ ^(0(\.[0-9]+)?|1(\.0+)?)$ ]] || die "SEEDER_PROBABILITY: a number from 0 to 1"
[[ "$AQUATIC_UDP_SOCKET_WORKERS" =~ ^(cores|[0-9]+)$ ]] || die "AQUATIC_UDP_SOCKET_WORKERS: cores or a number"
setup_cores
# Load workers: one per load core, at most 8 (the issue's 16-core runs: 8 load cores).
LOAD_WORKERS=$((LOAD_CORES < 8 ? LOAD_CORES : 8))

if ! in_netns; then
  ensure_base_tools
  build_release
  ensure_patched_udp_load_test
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

SERVERS=(retracker retracker_memory aquatic_udp)
# retracker: HTTP (for /metrics and readiness) on 3011, UDP on 3012 (3014 in memory mode);
# aquatic_udp on 3013.
RT_HTTP=3011
declare -A PORT=([retracker]=3012 [retracker_memory]=3014 [aquatic_udp]=3013)
declare -A RATE FAIL RATIO WARMERR PPA BACKLOG
TOTAL_FAILURES=0

aquatic_config() { # FILE SOCKET_WORKERS
  cat >"$1" <<EOF
socket_workers = $2
log_level = "warn"

[network]
address = "127.0.0.1:${PORT[aquatic_udp]}"

[protocol]
# Equal work: aquatic_udp caps answers at 30 peers by default; retracker gives numwant.
max_response_peers = $NUMWANT
EOF
}

load_test_config() { # FILE PORT
  cat >"$1" <<EOF
server_address = "127.0.0.1:$2"
log_level = "error"
workers = $LOAD_WORKERS
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
announce_peers_wanted = $NUMWANT
weight_connect = $WEIGHT_CONNECT
weight_announce = $WEIGHT_ANNOUNCE
weight_scrape = 0
peer_seeder_probability = $SEEDER_PROBABILITY
EOF
}

# start NAME TAG [AQUATIC_WORKERS]: a fresh server, ready to answer BEP 15 connects.
start() {
  local name=$1 tag=$2 port=${PORT[$1]}
  case $name in
    retracker | retracker_memory)
      mkdir -p "$WORK/db-$tag"
      if [[ $name == retracker ]]; then
        retracker_config "$WORK/retracker-$tag.ini" "$RT_HTTP" sqlite "$WORK/db-$tag/retracker.sqlite" "$port"
      else
        retracker_config "$WORK/retracker-$tag.ini" "$RT_HTTP" memory "" "$port"
      fi
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
  if [[ $name == retracker* ]]; then
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
  timeout -k 5 $((DURATION + 60)) "${LOAD_PIN[@]}" "$UDP_LOAD_TEST" -c "$WORK/load-$tag.toml" >"$out" 2>&1 ||
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
say "- aquatic_udp $(aquatic_udp -v 2>/dev/null | head -n 1), aquatic_udp_load_test $("$UDP_LOAD_TEST" -v 2>/dev/null | head -n 1) with bench/patches/aquatic_udp_load_test-$UDP_LOAD_TEST_VERSION.patch (distinct peer ids)"
say "- CORES=$CORES ROUNDS=$ROUNDS DURATION=$DURATION TORRENTS=$TORRENTS PEERS=$PEERS NUMWANT=$NUMWANT SEEDER_PROBABILITY=$SEEDER_PROBABILITY WEIGHT_CONNECT=$WEIGHT_CONNECT WEIGHT_ANNOUNCE=$WEIGHT_ANNOUNCE"
say "- $(cores_line)"
say

if [[ $AQUATIC_UDP_SOCKET_WORKERS == cores ]]; then
  AQUATIC_WORKERS=$CORES
  AQUATIC_CHOICE="socket_workers = $AQUATIC_WORKERS (one per server core), mio (no io_uring: built without default features)"
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
say "- servers: retracker (default [LOCALITY] mode = prefer) with SQLite persistence (default flush_interval_ms), and retracker_memory ([DB] type = memory), log level warn, on $CORES core(s); aquatic_udp $AQUATIC_CHOICE"
say "- load: aquatic_udp_load_test (patched: distinct peer ids), $LOAD_WORKERS worker(s), 4 sockets each, $TORRENTS torrents, $PEERS peers, numwant $NUMWANT, connect:announce $WEIGHT_CONNECT:$WEIGHT_ANNOUNCE, ${DURATION} s (the first 5-s interval not counted); figures in announce responses per second"
say "- $(cores_line)"
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
p=$(ratio "${MED[retracker]}" "${MED[retracker_memory]}")
say "- retracker with SQLite / in memory: **$p** (target ≥ 0.90, persistence costs at most 10%: $(at_least "$p" 0.90))"
say
# Equal work: the same peers per answer (median of the rounds) from every server, within 10%.
declare -A PMED
for name in "${SERVERS[@]}"; do
  peers=()
  for ((r = 1; r <= ROUNDS; r++)); do peers+=("${PPA[$name,$r]}"); done
  PMED[$name]=$(printf '%s\n' "${peers[@]}" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
done
UNEQUAL=$(awk -v a="${PMED[retracker]}" -v b="${PMED[retracker_memory]}" -v c="${PMED[aquatic_udp]}" 'BEGIN {
  lo = a; hi = a; if (b < lo) lo = b; if (c < lo) lo = c; if (b > hi) hi = b; if (c > hi) hi = c
  print (hi <= 0 || lo < 0.9 * hi) ? 1 : 0 }')
say "- equal work: peers per answer (median) retracker ${PMED[retracker]}, retracker_memory ${PMED[retracker_memory]}, aquatic_udp ${PMED[aquatic_udp]}: $( ((UNEQUAL)) && echo 'NOT within 10%' || echo 'within 10%')"
say
say "### retracker persistence backlog (retracker_persistence_backlog, sampled once a second)"
say
for ((round = 1; round <= ROUNDS; round++)); do
  say "- round $round: ${BACKLOG[retracker-r$round]:-not sampled}"
done
say
[[ -n "${BENCH_OUT:-}" ]] && say "(written to $BENCH_OUT)"
if ((UNEQUAL)); then
  say
  say "!!! REFUSED: the servers did not answer the same number of peers per announce (within"
  say "!!! 10%), so their rates are not comparable. See 'peers per answer'."
  exit 1
fi
if ((TOTAL_FAILURES > 0)); then
  say
  say "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  say "!!! FAILED: $TOTAL_FAILURES error responses in this run; the throughput figures"
  say "!!! above do not count. See the error responses column."
  say "!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"
  exit 1
fi
