#!/usr/bin/env bash
# bench/cluster.sh: announce throughput of three retracker nodes with cluster mode on (one
# Redis shared by the three, [CLUSTER] redis_url) against the same three nodes without it, on
# this one machine, in a network namespace with only loopback (issue 18). Each node gets the
# same load in both modes: one bench/bin/loadgen --max (closed loop, keep-alive) per node, all
# three on the same TORRENTS torrents (one --seed: the swarms span the nodes, which is what the
# cluster shares) with PEERS peers each of their own (--peer-seed). Rounds alternate on, off,
# on, off ... on fresh nodes (fresh SQLite files, Redis emptied), so drift hits both modes.
# Per node and in total: announces/s per round, medians, on/off (target >= 0.8). Equal work is
# checked: with the cluster on, answers merge the other nodes' peers, so the peers per answer
# of both modes must be within 10% (numwant filled in both), or the comparison is refused.
# For the on rounds: the sync lag (retracker_cluster_sync_lag_seconds, sampled during the
# load, and how long a new peer takes to show in another node's answers, probed), Redis
# commands per announce as the nodes count them and as Redis does (total_commands_processed,
# INFO commandstats), and retracker_cluster_errors_total (must be 0). Per round, the CPU time
# per announce of the nodes, Redis and the load generators (/proc), and the share of the
# machine other processes took (a machine that was not quiet shows there). Not pinned unless
# CORES is given. Any failed answer or cluster error: exit 1.
#
# Usage: bench/cluster.sh    (knobs: see bench/README.md; e.g. ROUNDS=5 DURATION=20 bench/cluster.sh)
set -euo pipefail
# shellcheck source=bench/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-10}
WARMUP=${WARMUP:-3}
TORRENTS=${TORRENTS:-1000}
PEERS=${PEERS:-100000}
NUMWANT=${NUMWANT:-50}
CONNECTIONS=${CONNECTIONS:-32}
RATIO_TARGET=${RATIO_TARGET:-0.8}
RESULTS_DIR=${RESULTS_DIR:-$BENCH_DIR/results}

need_int ROUNDS 3
need_int DURATION 5
need_int WARMUP 0
need_int TORRENTS 1
need_int PEERS 1
need_int NUMWANT 1
need_int CONNECTIONS 1
((WARMUP < DURATION)) || die "WARMUP must be shorter than DURATION"
# Not pinned unless CORES is given: then the nodes and Redis on cores 0..CORES-1, the load on
# the others (common.sh); by default everything shares every core, as on a small server.
LOAD_PIN=()
[[ -z "${CORES:-}" ]] || setup_cores

if ! in_netns; then
  ensure_base_tools
  ensure_apt_tool redis-server redis-server
  ensure_apt_tool redis-cli redis-tools
  build_release
  mkdir -p "$RESULTS_DIR"
  BENCH_OUT="$RESULTS_DIR/cluster-$(date -u +%Y%m%dT%H%M%SZ).md"
  export BENCH_OUT
fi
enter_netns "$0" "$@"

exec > >(tee "${BENCH_OUT:-/dev/null}") 2>&1
WORK=$(mktemp -d "${TMPDIR:-/tmp}/retracker-bench-cluster.XXXXXX")
NODES=(n1 n2 n3)
declare -A NODE_PID NODE_PORT RATE PPA FAIL CLUSTER CPU OTHER
HZ=$(getconf CLK_TCK)
REDIS_PID=
LAG_PID=
TOTAL_FAILURES=0 CLUSTER_ERRORS=0
LOADGEN="$BIN_DIR/examples/loadgen"

# free_port FROM: the first port from FROM up that nothing listens on (loopback).
free_port() {
  local p=$1
  while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; do p=$((p + 1)); done
  echo "$p"
}

stop_pid() { # PID: as stop_server (SIGTERM, 15 s, SIGKILL)
  [[ -n "$1" ]] || return 0
  SERVER_PID=$1
  stop_server
}

stop_nodes() {
  local n
  for n in "${NODES[@]}"; do
    stop_pid "${NODE_PID[$n]:-}"
    NODE_PID[$n]=
  done
}

cleanup() {
  [[ -z "$LAG_PID" ]] || kill "$LAG_PID" 2>/dev/null || true
  stop_nodes
  stop_pid "$REDIS_PID"
  rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rcli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

announces() { metric "$1" 'retracker_requests_total{kind="announce",result="ok"}'; }

# start_nodes MODE TAG: three fresh nodes, with [CLUSTER] when MODE is on; ready to answer
# (and, when on, connected to Redis).
start_nodes() {
  local mode=$1 tag=$2 n port deadline
  for n in "${NODES[@]}"; do
    port=${NODE_PORT[$n]}
    mkdir -p "$WORK/db-$tag-$n"
    retracker_config "$WORK/$tag-$n.ini" "$port" sqlite "$WORK/db-$tag-$n/retracker.sqlite"
    if [[ $mode == on ]]; then
      printf '\n[CLUSTER]\nredis_url = redis://127.0.0.1:%s\nnode_id = %s\n' "$REDIS_PORT" "$n" >>"$WORK/$tag-$n.ini"
    fi
    start_server "$WORK/server-$tag-$n.log" "$BIN_DIR/retracker" --config "$WORK/$tag-$n.ini"
    NODE_PID[$n]=$SERVER_PID
    wait_tcp "$port"
    check_metrics "$port"
    if [[ $mode == on ]]; then
      deadline=$((SECONDS + 30))
      until [[ "$(metric "$port" retracker_cluster_up)" == 1 ]]; do
        ((SECONDS < deadline)) || server_died "node $n does not reach Redis (retracker_cluster_up)"
        sleep 0.05
      done
    fi
  done
}

# probe FROM TO: a new seeder announces to node FROM in a swarm of its own, then a leecher
# asks node TO every 100 ms until TO's answer lists that seeder (127.0.0.1 and its port in the
# compact peers): prints the milliseconds from FROM's answer to there (NA after 5 s).
probe() {
  local q="uploaded=0&downloaded=0&compact=1&numwant=$NUMWANT" ih lid port pat t0
  ih=$(random_pct20) lid=$(random_pct20) port=$((20000 + RANDOM % 40000))
  pat=$(printf '\\x7f\\x00\\x00\\x01\\x%02x\\x%02x' $((port >> 8)) $((port & 255)))
  curl -s --noproxy '*' --max-time 2 -o /dev/null \
    "http://127.0.0.1:${NODE_PORT[$1]}/announce?info_hash=$ih&peer_id=$(random_pct20)&port=$port&left=0&event=started&$q"
  t0=${EPOCHREALTIME/./}
  while ((${EPOCHREALTIME/./} - t0 < 5000000)); do
    if curl -s --noproxy '*' --max-time 2 "http://127.0.0.1:${NODE_PORT[$2]}/announce?info_hash=$ih&peer_id=$lid&port=$((port + 1))&left=100&$q" |
      LC_ALL=C grep -qaP "$pat"; then
      echo $(((${EPOCHREALTIME/./} - t0) / 1000))
      return
    fi
    sleep 0.1
  done
  echo NA
}

# sampler: after the warm-up, over and over: each node's retracker_cluster_sync_lag_seconds
# (into $WORK/lag, in ms) and one probe to the next node (into $WORK/seen). It runs in the off
# rounds too (where it finds nothing), so that both modes carry the same observer.
sampler() {
  local n k=0
  sleep "$WARMUP" # the measured part of the run, not a readiness wait
  while :; do
    for n in "${NODES[@]}"; do
      metric "${NODE_PORT[$n]}" retracker_cluster_sync_lag_seconds | awk '$1 != "NA" { printf "%.0f\n", $1 * 1000 }'
    done >>"$WORK/lag"
    probe "${NODES[k % 3]}" "${NODES[(k + 1) % 3]}" >>"$WORK/seen"
    k=$((k + 1))
  done
}

# spread FILE: "median | max | samples" of the numbers in FILE.
spread() {
  { grep -v NA "$1" || true; } | sort -n | awk '{ a[NR] = $1 } END { if (NR) printf "%d | %d | %d", a[int((NR + 1) / 2)], a[NR], NR; else printf "NA | NA | 0" }'
}

ticks() { awk '{ print $14 + $15 + $16 + $17 }' "/proc/$1/stat"; } # CPU of PID and its reaped children
busy() { awk '/^cpu / { print $2 + $3 + $4 + $9 }' /proc/stat; } # the machine's user, system, steal
us_per() { ratio "$(($1 * 1000000 / HZ))" "$2"; } # TICKS ANNOUNCES: µs of CPU per announce

# one MODE ROUND: fresh nodes, the three load generators at once, the figures.
one() {
  local mode=$1 round=$2 tag="$1-r$2" n i=0 line sum=0 port pid pids=() t_start
  local -A a0 c0 t0
  start_nodes "$mode" "$tag"
  for n in "${NODES[@]}"; do
    a0[$n]=$(announces "${NODE_PORT[$n]}")
    c0[$n]=$(metric "${NODE_PORT[$n]}" retracker_cluster_commands_total)
    t0[$n]=$(ticks "${NODE_PID[$n]}")
  done
  t0[redis]=$(ticks "$REDIS_PID") t0[busy]=$(busy) t_start=${EPOCHREALTIME/./}
  [[ $mode == off ]] || rcli CONFIG RESETSTAT >/dev/null
  : >"$WORK/lag"
  : >"$WORK/seen"
  sampler &
  LAG_PID=$!
  for n in "${NODES[@]}"; do
    i=$((i + 1))
    port=${NODE_PORT[$n]}
    assert_loopback "127.0.0.1:$port"
    # The subshell reaps loadgen, so its children's CPU time is loadgen's: written at the end.
    (
      timeout -k 5 $((DURATION + 60)) "${LOAD_PIN[@]}" "$LOADGEN" "127.0.0.1:$port" --max \
        --connections "$CONNECTIONS" --duration "$DURATION" --warmup "$WARMUP" --torrents "$TORRENTS" \
        --peers "$PEERS" --numwant "$NUMWANT" --seed 1 --peer-seed "$((1000 + i))" --show-urls 0 \
        >"$WORK/load-$tag-$n.out" 2>&1 || true
      ticks "$BASHPID" >"$WORK/ticks-$tag-$n"
    ) &
    pids+=("$!")
  done
  for pid in "${pids[@]}"; do wait "$pid" || true; done
  local ann=0 cmds=0 errs=0 views=0 nodes_seen="" nt=0 lt=0 ours
  ours=$(ticks "$LAG_PID")
  kill "$LAG_PID" 2>/dev/null || true
  wait "$LAG_PID" 2>/dev/null || true
  LAG_PID=
  for n in "${NODES[@]}"; do
    port=${NODE_PORT[$n]}
    line=$(grep '^RESULT ' "$WORK/load-$tag-$n.out" || true)
    if [[ -z "$line" ]]; then
      say "   ---- no RESULT line from loadgen for $n:"
      tail -n 20 "$WORK/load-$tag-$n.out"
      line="rate=0 failures=1 peers_per_answer=0"
    fi
    RATE[$mode,$n,$round]=$(sed -E 's/.*(^| )rate=([0-9.]+).*/\2/' <<<"$line")
    FAIL[$mode,$n,$round]=$(sed -E 's/.*(^| )failures=([0-9]+).*/\2/' <<<"$line")
    PPA[$mode,$n,$round]=$(sed -E 's/.*(^| )peers_per_answer=([0-9.]+).*/\2/' <<<"$line")
    TOTAL_FAILURES=$((TOTAL_FAILURES + FAIL[$mode,$n,$round]))
    sum=$((sum + RATE[$mode,$n,$round]))
    ann=$((ann + $(announces "$port") - a0[$n]))
    nt=$((nt + $(ticks "${NODE_PID[$n]}") - t0[$n]))
    lt=$((lt + $(cat "$WORK/ticks-$tag-$n")))
    say "   $n (127.0.0.1:$port): ${RATE[$mode,$n,$round]} announces/s, ${PPA[$mode,$n,$round]} peers per answer, failures ${FAIL[$mode,$n,$round]}; retracker_failures_total: $(failure_reasons "$port")"
    if [[ $mode == on ]]; then
      cmds=$((cmds + $(metric "$port" retracker_cluster_commands_total) - c0[$n]))
      errs=$((errs + $(metric "$port" retracker_cluster_errors_total)))
      views=$((views + $(metric "$port" retracker_cluster_view_refreshes_total)))
      nodes_seen+="${nodes_seen:+/}$(metric "$port" retracker_cluster_nodes)"
    fi
  done
  RATE[$mode,all,$round]=$sum
  # CPU per announce answered (warm-up included): nodes, Redis, load generators (µs); and the
  # share of the machine that went to processes other than these and the sampler.
  local rt=$(($(ticks "$REDIS_PID") - t0[redis]))
  ours=$((ours + nt + rt + lt))
  OTHER[$mode,$round]=$(awk -v b="$(($(busy) - t0[busy]))" -v o="$ours" \
    -v cap="$(((${EPOCHREALTIME/./} - t_start) * HZ * $(nproc) / 1000000))" 'BEGIN { x = 100 * (b - o) / cap; printf "%.0f", x < 0 ? 0 : x }')
  CPU[$mode,$round]="$(us_per "$nt" "$ann") | $(us_per "$rt" "$ann") | $(us_per "$lt" "$ann") | ${OTHER[$mode,$round]}%"
  say "   all three: $sum announces/s; CPU µs per announce, nodes | Redis | load | other processes: ${CPU[$mode,$round]}"
  if [[ $mode == on ]]; then
    local redis_total
    redis_total=$(rcli INFO stats | tr -d '\r' | awk -F: '$1 == "total_commands_processed" { print $2 }')
    rcli INFO commandstats | tr -d '\r' | awk -F'[:=,]' -v ann="$ann" '/^cmdstat_/ {
      sub("cmdstat_", "", $1); print $1, $3, ann }' >>"$WORK/commandstats"
    CLUSTER[$round]="| $round | $(spread "$WORK/lag") | $(spread "$WORK/seen") | $(ratio "$cmds" "$ann") | $(ratio "$redis_total" "$ann") | $(ratio "$views" "$ann") | $errs | $nodes_seen |"
    CLUSTER_ERRORS=$((CLUSTER_ERRORS + errs))
    ((errs == 0)) || say "   WARNING: retracker_cluster_errors_total $errs (should stay 0)"
  fi
  stop_nodes
  rm -rf "$WORK"/db-"$tag"-*
}

REDIS_PORT=$(free_port 6379)
port=3021
for n in "${NODES[@]}"; do
  NODE_PORT[$n]=$(free_port "$port")
  port=$((NODE_PORT[$n] + 1))
done

header_lines "Cluster mode: three nodes and one Redis on one machine (bench/cluster.sh)"
say "- $(redis-server --version | awk '{ print $1, $2, $3 }'), on 127.0.0.1:$REDIS_PORT (no persistence); nodes ${NODES[*]} on 127.0.0.1:${NODE_PORT[n1]}, ${NODE_PORT[n2]}, ${NODE_PORT[n3]}"
say "- ROUNDS=$ROUNDS DURATION=$DURATION WARMUP=$WARMUP TORRENTS=$TORRENTS PEERS=$PEERS (per node) NUMWANT=$NUMWANT CONNECTIONS=$CONNECTIONS (per node)"
say "- $(cores_line) (the server: the three nodes and Redis; the load: the three load generators); $(nproc) cores in all"
say

note "starting redis-server on 127.0.0.1:$REDIS_PORT"
start_server "$WORK/redis.log" redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --save '' --appendonly no --dir "$WORK"
REDIS_PID=$SERVER_PID
deadline=$((SECONDS + 30))
until [[ "$(rcli PING 2>/dev/null)" == PONG ]]; do
  kill -0 "$REDIS_PID" 2>/dev/null || server_died "redis-server exited"
  ((SECONDS < deadline)) || server_died "redis-server does not answer PING"
  sleep 0.05
done

for n in "${NODES[@]}"; do
  say "   requests to $n are of this shape ($PEERS peers of its own, the $TORRENTS torrents shared):"
  show_urls "127.0.0.1:${NODE_PORT[$n]}" 1
done
for ((round = 1; round <= ROUNDS; round++)); do
  for mode in on off; do
    note "round $round/$ROUNDS: cluster $mode"
    [[ $mode == off ]] || rcli FLUSHALL >/dev/null
    one "$mode" "$round"
  done
done

say
header_lines "Cluster mode (bench/cluster.sh): results"
say "- three retracker nodes (SQLite, log level warn, tokio default workers), each loaded by its own \`loadgen --max\`, $CONNECTIONS keep-alive connections, ${DURATION} s (first ${WARMUP} s not counted), the same $TORRENTS torrents, $PEERS peers per node, numwant $NUMWANT; on = [CLUSTER] redis_url (sync_interval_ms 250, view_max_age_ms 1000), off = no [CLUSTER]"
say "- $(cores_line) (the server: the three nodes and Redis; the load: the three load generators); $(nproc) cores in all"
say
say "| round | cluster | n1 | n2 | n3 | all three | peers per answer (n1/n2/n3) | failures | CPU µs per announce: nodes | Redis | load | other processes (% of the machine) |"
say "| ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |"
for ((round = 1; round <= ROUNDS; round++)); do
  for mode in on off; do
    say "| $round | $mode | ${RATE[$mode,n1,$round]} | ${RATE[$mode,n2,$round]} | ${RATE[$mode,n3,$round]} | ${RATE[$mode,all,$round]} | ${PPA[$mode,n1,$round]}/${PPA[$mode,n2,$round]}/${PPA[$mode,n3,$round]} | $((FAIL[$mode,n1,$round] + FAIL[$mode,n2,$round] + FAIL[$mode,n3,$round])) | ${CPU[$mode,$round]} |"
  done
done
say
say "| node | on (median) | off (median) | on / off | target ≥ $RATIO_TARGET |"
say "| --- | ---: | ---: | ---: | --- |"
declare -A MED PMED
for n in "${NODES[@]}" all; do
  for mode in on off; do
    vals=() peers=()
    for ((round = 1; round <= ROUNDS; round++)); do
      vals+=("${RATE[$mode,$n,$round]}")
      [[ $n == all ]] || peers+=("${PPA[$mode,$n,$round]}")
    done
    MED[$mode,$n]=$(median "${vals[@]}")
    [[ $n == all ]] || PMED[$mode,$n]=$(printf '%s\n' "${peers[@]}" | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }')
  done
  r=$(ratio "${MED[on,$n]}" "${MED[off,$n]}")
  say "| $([[ $n == all ]] && echo 'all three' || echo "$n") | ${MED[on,$n]} | ${MED[off,$n]} | **$r** | $(at_least "$r" "$RATIO_TARGET") |"
done
say
# Equal work: the median peers per answer of every node, on against off, within 10%.
UNEQUAL=0
for n in "${NODES[@]}"; do
  u=$(awk -v a="${PMED[on,$n]}" -v b="${PMED[off,$n]}" 'BEGIN { hi = a > b ? a : b; lo = a > b ? b : a; print (hi <= 0 || lo < 0.9 * hi) ? 1 : 0 }')
  UNEQUAL=$((UNEQUAL + u))
done
say "- equal work: peers per answer (median) on/off: n1 ${PMED[on,n1]}/${PMED[off,n1]}, n2 ${PMED[on,n2]}/${PMED[off,n2]}, n3 ${PMED[on,n3]}/${PMED[off,n3]}: $( ((UNEQUAL)) && echo 'NOT within 10%' || echo 'within 10%')"
say
say "### The cluster in the on rounds"
say
say "Sync lag: retracker_cluster_sync_lag_seconds of each node, sampled over and over after the warm-up, in ms. Seen after: a new seeder announced to one node, then a leecher asking the next node every 100 ms: ms until that node's answer lists the seeder (the push, then the view's refresh). Commands per announce: Δ retracker_cluster_commands_total of the three nodes / Δ announces answered (warm-up included), and Redis's own total_commands_processed (script calls and the commands they run) over the same announces."
say
say "| round | sync lag median (ms) | max | samples | seen by another node after, median (ms) | max | probes | commands per announce (nodes) | Redis total_commands_processed per announce | view refreshes per announce | cluster errors | nodes seen (n1/n2/n3) |"
say "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
for ((round = 1; round <= ROUNDS; round++)); do say "${CLUSTER[$round]}"; done
say
say "- Redis INFO commandstats, calls per announce over the on rounds: $(awk '{ c[$1] += $2; a[$1] += $3 }
  END { for (k in c) if (k !~ /^(info|config|flushall|ping)/) printf "%s %.3f\n", k, c[k] / a[k] }' "$WORK/commandstats" | sort -k2 -gr | awk '{ printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2 }')"
say "- retracker_cluster_errors_total over all on rounds: $CLUSTER_ERRORS $( ((CLUSTER_ERRORS)) && echo '(NOT 0)' || echo '(0, as it must be)')"
busiest=$(printf '%s\n' "${OTHER[@]}" | sort -n | tail -n 1)
((busiest <= 5)) || say "- WARNING: other processes took up to $busiest% of the machine in a round (column \"other processes\"): it was not quiet, compare with care"
say
[[ -n "${BENCH_OUT:-}" ]] && say "(written to $BENCH_OUT)"
if ((UNEQUAL)); then
  say
  say "!!! REFUSED: the nodes did not answer the same number of peers per announce with the"
  say "!!! cluster on and off (within 10%), so the rates are not comparable. Raise PEERS or"
  say "!!! WARMUP (numwant must be filled in both modes), or lower TORRENTS."
  exit 1
fi
if ((TOTAL_FAILURES + CLUSTER_ERRORS > 0)); then
  say
  say "!!! FAILED: $TOTAL_FAILURES failed announces and $CLUSTER_ERRORS cluster errors in this run;"
  say "!!! the figures above do not count."
  exit 1
fi
