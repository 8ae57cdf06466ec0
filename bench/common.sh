# shellcheck shell=bash
# bench/common.sh: sourced by bench/http.sh, bench/udp.sh and bench/latency.sh. Builds the
# release binaries, installs the load tools, moves the calling script into a network namespace
# of its own that has nothing but loopback (and checks that it does), starts and stops the
# servers under test with readiness polled (never a fixed sleep), samples retracker's
# persistence backlog, and has the small helpers of the tables (median, ratio, example URLs).
#
# Network safety: every server listens on 127.0.0.1 and every load tool is pointed at
# 127.0.0.1 (assert_loopback); inside the namespace no other address even exists.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_DIR=$(dirname "$BENCH_DIR")
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$REPO_DIR/target}"
# shellcheck disable=SC2034 # used by the scripts that source this file
BIN_DIR="$CARGO_TARGET_DIR/release"
export PATH="$HOME/.cargo/bin:$PATH"

# The marker that tells a script it already runs inside the namespace it made.
NETNS_MARKER=RETRACKER_BENCH_NETNS

say() { printf '%s\n' "$*"; }
note() { printf '== %s\n' "$*"; }
die() {
  printf '\nbench: ERROR: %s\n' "$*" >&2
  exit 1
}

# need_int NAME MIN: dies unless the variable NAME holds an integer of at least MIN.
need_int() {
  local v=${!1}
  if [[ "$v" =~ ^[0-9]+$ ]] && ((v >= $2)); then
    return
  fi
  die "$1 must be an integer of $2 or more (got '$v')"
}

in_netns() { [[ "${!NETNS_MARKER:-}" == 1 ]]; }

# --- cores --------------------------------------------------------------------------------

# setup_cores: CORES=N (default 1) pins the server under test to cores 0..N-1 and the load to
# the others (taskset), so that a result says how fast a server is on N cores and the load tool
# never competes with it. Sets SERVER_CPUS, LOAD_CPUS and LOAD_CORES.
setup_cores() {
  CORES=${CORES:-1}
  need_int CORES 1
  local n
  n=$(nproc)
  ((CORES < n)) || die "CORES=$CORES leaves no core for the load on this $n-core machine"
  SERVER_CPUS="0-$((CORES - 1))"
  LOAD_CPUS="$CORES-$((n - 1))"
  LOAD_CORES=$((n - CORES))
  # The prefix of every load command: "${LOAD_PIN[@]}" COMMAND... (also under `timeout`).
  LOAD_PIN=(taskset -c "$LOAD_CPUS")
}


# cores_line: the pinning, for the tables.
cores_line() {
  if [[ -n "${SERVER_CPUS:-}" ]]; then
    printf 'server pinned to %s core(s) (cpus %s), load to %s core(s) (cpus %s), taskset' \
      "$CORES" "$SERVER_CPUS" "$LOAD_CORES" "$LOAD_CPUS"
  else
    printf 'not pinned'
  fi
}

# --- building and tools (outside the namespace: they need crates.io and Debian) ------------

# Release build of retracker and the two bench helpers (hyper_ceiling, loadgen).
build_release() {
  note "building release binaries (CARGO_TARGET_DIR=$CARGO_TARGET_DIR)"
  (cd "$REPO_DIR" && cargo build --release --bin retracker --example hyper_ceiling --example loadgen)
}

# ensure_cargo_tool BINARY CARGO-INSTALL-ARGS...: `cargo install ARGS` unless BINARY is there.
ensure_cargo_tool() {
  local bin=$1
  shift
  if command -v "$bin" >/dev/null; then
    return
  fi
  note "installing $bin: cargo install $*"
  cargo install "$@"
  command -v "$bin" >/dev/null || die "cargo install $* did not install $bin"
}

# ensure_apt_tool COMMAND PACKAGE: apt-get install PACKAGE unless COMMAND is there.
ensure_apt_tool() {
  local cmd=$1 pkg=$2
  if command -v "$cmd" >/dev/null; then
    return
  fi
  note "installing $pkg (apt-get)"
  local -a sudo=()
  [[ $EUID -eq 0 ]] || sudo=(sudo)
  if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get -o DPkg::Lock::Timeout=600 install -y "$pkg"; then
    "${sudo[@]}" apt-get -o DPkg::Lock::Timeout=600 update
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
      apt-get -o DPkg::Lock::Timeout=600 install -y "$pkg"
  fi
  command -v "$cmd" >/dev/null || die "apt-get install $pkg did not provide $cmd"
}

# The aquatic_udp_load_test that bench/udp.sh drives, patched to send a distinct peer_id per
# simulated peer (0.9.0 sends all zeros, so a tracker keying peers by peer_id, as retracker
# and BEP 3 do, holds one peer per torrent and answers none: not the work aquatic_udp does).
# The crate's source comes from the cargo registry (crates.io, checked against its SHA-256),
# bench/patches/ is applied, and it is built with its own Cargo.lock (--locked). Sets
# UDP_LOAD_TEST; rebuilds only when the patch changed.
UDP_LOAD_TEST_VERSION=0.9.0
UDP_LOAD_TEST_SHA256=ed713666b9308d340063dd9d0d3c07a0b94f34691c45ddf31c49629941c35403
# Its own target dir beside retracker's (the crate's lock file pins other versions).
UDP_LOAD_TEST="$CARGO_TARGET_DIR/aqlt/release/aquatic_udp_load_test"
ensure_patched_udp_load_test() {
  local v=$UDP_LOAD_TEST_VERSION
  local patch="$BENCH_DIR/patches/aquatic_udp_load_test-$v.patch"
  local base="$CARGO_TARGET_DIR/bench-tools" stamp
  local src="$base/aquatic_udp_load_test-$v"
  stamp="$src/.patched-$(sha256sum "$patch" | cut -c1-16)"
  if [[ -e "$stamp" && -x "$UDP_LOAD_TEST" ]]; then
    return
  fi
  ensure_apt_tool patch patch
  note "building aquatic_udp_load_test $v with $(basename "$patch")"
  mkdir -p "$base"
  rm -rf "$src"
  curl -sSfL --retry 3 -o "$src.crate" \
    "https://static.crates.io/crates/aquatic_udp_load_test/$v/download"
  echo "$UDP_LOAD_TEST_SHA256  $src.crate" | sha256sum -c --quiet - ||
    die "aquatic_udp_load_test-$v.crate does not have the expected SHA-256"
  tar -xzf "$src.crate" -C "$base"
  patch -d "$src" -p1 --quiet <"$patch" || die "$patch does not apply"
  (cd "$src" && CARGO_TARGET_DIR="$CARGO_TARGET_DIR/aqlt" cargo build --release --locked)
  [[ -x "$UDP_LOAD_TEST" ]] || die "the build did not make $UDP_LOAD_TEST"
  touch "$stamp"
}

# Tools every script needs: unshare and ip for the namespace, curl for /metrics.
ensure_base_tools() {
  ensure_apt_tool unshare util-linux
  ensure_apt_tool ip iproute2
  ensure_apt_tool curl curl
  ensure_apt_tool timeout coreutils
  ensure_apt_tool taskset util-linux
}

# --- the network namespace ----------------------------------------------------------------

# enter_netns SCRIPT ARGS...: outside the namespace, re-executes SCRIPT under `unshare --net`
# (never returns); inside, brings lo up, checks that lo is the only link and that every
# address is a loopback one (aborts otherwise), and raises the limits a load test needs.
enter_netns() {
  local script=$1
  shift
  if ! in_netns; then
    local -a ns=(unshare --net)
    [[ $EUID -eq 0 ]] || ns=(unshare --user --map-root-user --net)
    note "entering a new network namespace with only loopback: ${ns[*]}"
    export "$NETNS_MARKER=1"
    exec "${ns[@]}" -- "$BASH" "$script" "$@"
  fi
  local links
  links=$(ip -o link show | awk -F': ' '{ sub(/@.*/, "", $2); print $2 }' | sort -u | tr '\n' ' ')
  [[ "$links" == "lo " ]] ||
    die "this network namespace has links other than lo ($links); refusing to run a load test"
  ip link set lo up || die "cannot bring lo up"
  local addr
  for addr in $(ip -o addr show | awk '{ print $4 }'); do
    case $addr in
      127.* | ::1/*) ;;
      *) die "non-loopback address $addr in the namespace; refusing to run a load test" ;;
    esac
  done
  # Many short connections (Connection: close runs): a wide ephemeral range, TIME_WAIT reuse.
  sysctl -qw net.ipv4.ip_local_port_range="10000 65000" 2>/dev/null || true
  sysctl -qw net.ipv4.tcp_tw_reuse=1 2>/dev/null || true
  sysctl -qw net.core.somaxconn=4096 2>/dev/null || true
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
  note "network namespace: links: ${links% }; addresses: $(ip -o addr show | awk '{ print $4 }' | tr '\n' ' ')"
}

# assert_loopback HOST:PORT: aborts unless the address is 127.0.0.0/8 or [::1].
assert_loopback() {
  case $1 in
    127.*:* | "[::1]:"*) ;;
    *) die "$1 is not a loopback address; the benchmarks only ever talk to 127.0.0.0/8 or ::1" ;;
  esac
}

# --- servers ------------------------------------------------------------------------------

SERVER_PID=
SERVER_LOG=
SAMPLER_PID=

# start_server LOG COMMAND...: starts COMMAND in the background (SERVER_PID, SERVER_LOG).
start_server() {
  SERVER_LOG=$1
  shift
  if [[ -n "${SERVER_CPUS:-}" ]]; then
    taskset -c "$SERVER_CPUS" "$@" >"$SERVER_LOG" 2>&1 &
  else
    "$@" >"$SERVER_LOG" 2>&1 &
  fi
  SERVER_PID=$!
}

server_died() {
  say "---- last lines of $SERVER_LOG:"
  tail -n 30 "$SERVER_LOG" || true
  die "$1"
}

# wait_tcp PORT [SECONDS]: polls until 127.0.0.1:PORT accepts a TCP connection.
wait_tcp() {
  local port=$1 deadline=$((SECONDS + ${2:-30}))
  until (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do
    kill -0 "$SERVER_PID" 2>/dev/null || server_died "the server exited before listening on $port"
    ((SECONDS < deadline)) || server_died "nothing listens on 127.0.0.1:$port after ${2:-30} s"
    sleep 0.05
  done
}

# wait_udp PORT [SECONDS]: polls until 127.0.0.1:PORT answers a BEP 15 connect request.
wait_udp() {
  local port=$1 deadline=$((SECONDS + ${2:-30})) got
  while :; do
    got=$(
      exec 3<>"/dev/udp/127.0.0.1/$port" || exit 0
      # protocol id 0x41727101980, action 0 (connect), transaction id 0x12345678
      printf '\x00\x00\x04\x17\x27\x10\x19\x80\x00\x00\x00\x00\x12\x34\x56\x78' >&3
      timeout 0.3 head -c 16 <&3 2>/dev/null | wc -c
    ) || true
    [[ "${got:-0}" -ge 16 ]] && return
    kill -0 "$SERVER_PID" 2>/dev/null || server_died "the server exited before answering on UDP $port"
    ((SECONDS < deadline)) || server_died "no UDP tracker answers on 127.0.0.1:$port after ${2:-30} s"
    sleep 0.05
  done
}

# stop_server: SIGTERM, up to 15 s to exit, then SIGKILL.
stop_server() {
  [[ -n "$SERVER_PID" ]] || return 0
  local pid=$SERVER_PID i
  SERVER_PID=
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# retracker_config FILE PORT DB_TYPE DB_PATH [UDP_PORT]: a config for the benchmarks (log
# level warn, no log file, listening on 127.0.0.1 only, UDP off unless UDP_PORT is given).
retracker_config() {
  local file=$1 port=$2 db_type=$3 db_path=$4 udp_port=${5:-0}
  cat >"$file" <<EOF
; Written by bench/common.sh for a benchmark run.
[LOGGING]
log_file =
level = warn
console_output = true

[TRACKER]
host = 127.0.0.1
port = $port
udp_port = $udp_port

[DB]
type = $db_type
path = $db_path
EOF
}

# check_metrics PORT: /metrics must answer 200 without login from loopback.
check_metrics() {
  local code
  code=$(curl -s --noproxy '*' --max-time 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/metrics") || true
  [[ "$code" == 200 ]] || die "GET http://127.0.0.1:$1/metrics answered $code, not 200 (is [METRICS] allowed_networks loopback?)"
}

# metric PORT NAME: the value of one unlabelled metric from /metrics.
metric() {
  curl -s --noproxy '*' --max-time 5 "http://127.0.0.1:$1/metrics" |
    awk -v name="$2" '$1 == name { print $2; found = 1 } END { if (!found) print "NA" }'
}

# failure_reasons PORT: retracker's non-zero retracker_failures_total{reason=...}, or "none".
failure_reasons() {
  curl -s --noproxy '*' --max-time 5 "http://127.0.0.1:$1/metrics" |
    awk '/^retracker_failures_total\{/ && $2 + 0 > 0 {
           r = $1; sub(/.*reason="/, "", r); sub(/".*/, "", r); out = out " " r "=" $2 }
         END { print (out == "" ? "none" : substr(out, 2)) }'
}

# start_backlog_sampler PORT FILE: appends retracker_persistence_backlog to FILE once a second.
start_backlog_sampler() {
  local port=$1 file=$2
  : >"$file"
  (
    while :; do
      metric "$port" retracker_persistence_backlog >>"$file" || true
      sleep 1
    done
  ) &
  SAMPLER_PID=$!
}

stop_backlog_sampler() {
  [[ -n "$SAMPLER_PID" ]] || return 0
  kill "$SAMPLER_PID" 2>/dev/null || true
  wait "$SAMPLER_PID" 2>/dev/null || true
  SAMPLER_PID=
}

# backlog_summary FILE: "max M, last L (N samples)".
backlog_summary() {
  awk '$1 != "NA" { n++; if ($1 + 0 > max) max = $1 + 0; last = $1 }
       END { if (n) printf "max %d, last %d (%d samples)", max, last, n; else printf "no samples" }' "$1"
}

# backlog_max FILE: the largest sample (0 when there is none).
backlog_max() { awk '$1 != "NA" && $1 + 0 > m { m = $1 + 0 } END { print m + 0 }' "$1"; }

bench_cleanup() {
  stop_backlog_sampler
  stop_server
}

# --- numbers and text ---------------------------------------------------------------------

# median NUMBER...: the median (mean of the middle two for an even count).
median() {
  printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 }
    END { if (NR == 0) print "NA"; else if (NR % 2) printf "%.0f\n", a[(NR + 1) / 2];
          else printf "%.0f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# ratio A B: A/B with two decimals.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "NA" }'; }

# at_least VALUE TARGET: "met" or "NOT met".
at_least() { awk -v v="$1" -v t="$2" 'BEGIN { print (v != "NA" && v + 0 >= t + 0) ? "met" : "NOT met" }'; }

# random_pct20: 20 random bytes, percent-encoded (as in an announce URL).
random_pct20() { od -An -v -tx1 -N20 /dev/urandom | tr -d ' \n' | sed 's/../%&/g'; }

# show_urls HOST:PORT [N]: prints N example announce URLs of the kind the load tool sends
# (the network-safety rule: what is about to be requested is shown before every run).
show_urls() {
  local addr=$1 n=${2:-3} i
  assert_loopback "$addr"
  for ((i = 0; i < n; i++)); do
    say "   example: http://$addr/announce?info_hash=$(random_pct20)&peer_id=$(random_pct20)&port=$((1025 + RANDOM))&uploaded=0&downloaded=0&left=50&event=started&compact=1"
  done
}

# machine_line: one line about this machine, for the tables.
machine_line() {
  local cpu
  cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
  printf '%s cores (%s), %s GiB, Linux %s' "$(nproc)" "${cpu:-unknown CPU}" \
    "$(awk '/^MemTotal/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)" "$(uname -r)"
}

# header_lines TITLE: date, commit, machine, for the top of a result.
header_lines() {
  say "# $1"
  say
  say "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  say "- commit: $(git -C "$REPO_DIR" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$REPO_DIR" diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
  say "- machine: $(machine_line)"
}
