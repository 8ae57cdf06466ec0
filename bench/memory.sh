#!/usr/bin/env bash
# bench/memory.sh: resident memory per peer and restore time (issue 6, "Memory").
#
# For each case PEERS:TORRENTS (default 100k:10k 100k:100k 1M:10k 1M:100k) it starts retracker
# with SQLite persistence on a fresh database, reads VmRSS once it answers (baseline), announces
# the peers over UDP with the `fill` example, waits until the write-behind backlog is 0, reads
# VmRSS again, then stops it (SIGTERM: it flushes), starts it again on the same database and
# times start -> first request answered (the restore of every peer), and reads VmRSS after the
# restore. Prints one table row per case and round.
#
# Runs in a network namespace of its own (re-executing itself under `unshare --net`, which needs
# root) so that every packet stays on that namespace's loopback.
#
# Environment: CASES="100000:10000 ..." to choose cases, ROUNDS (default 1), PORT (default 6969),
# KEEP=1 to keep the temporary directory, WINDOW for fill (default 256).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
target=${CARGO_TARGET_DIR:-$root/target}

if [[ "${RETRACKER_MEMORY_NETNS:-}" != 1 ]]; then
    # Build outside the namespace (cargo may need the registry), then re-execute inside one.
    (cd "$root" && cargo build --release --quiet --bin retracker --example fill)
    exec unshare --net env RETRACKER_MEMORY_NETNS=1 CARGO_TARGET_DIR="$target" "$0" "$@"
fi

ip link set lo up
links=$(ip -o link show | awk -F': ' '{print $2}' | tr '\n' ' ')
if [[ "$links" != "lo " ]]; then
    echo "memory.sh: expected only lo in the namespace, found: $links" >&2
    exit 1
fi

bin="$target/release/retracker"
fill="$target/release/examples/fill"
port=${PORT:-6969}
rounds=${ROUNDS:-1}
cases=${CASES:-"100000:10000 100000:100000 1000000:10000 1000000:100000"}
base="http://127.0.0.1:$port"

work=$(mktemp -d /tmp/retracker-memory.XXXXXX)
pid=
poller=
cleanup() {
    [[ -n "$poller" ]] && kill "$poller" 2>/dev/null || true
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true
    if [[ "${KEEP:-}" == 1 ]]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

now_ns() { date +%s%N; }
rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$1/status"; }
hwm_kib() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status"; }
metric() { # metric NAME: its value from /metrics, empty when not answered
    curl -s --max-time 30 "$base/metrics" | awk -v m="$1" '$1 == m {print $2}'
}

write_config() { # write_config DIR LEVEL
    cat >"$1/config.ini" <<EOF
[LOGGING]
log_file =
level = $2
console_output = true
[TRACKER]
host = 127.0.0.1
port = $port
; peers must outlive the run and the restart: expire after a day
announce_interval = 3600
peer_expire_factor = 24
peer_cleanup_period = 86400
[DB]
type = sqlite
path = $1/retracker.sqlite
flush_interval_ms = 1000
[METRICS]
allowed_networks = 127.0.0.0/8
EOF
}

start() { # start DIR: starts retracker, returns once it answered a request; sets pid, ready_ms
    local t0
    t0=$(now_ns)
    "$bin" --config "$1/config.ini" 2>>"$1/retracker.log" &
    pid=$!
    # The listeners are bound before the restore and requests wait for it, so the first answer
    # marks the end of the restore. Poll until then (connection refused before the bind).
    until curl -s -o /dev/null --max-time 120 "$base/metrics"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "memory.sh: retracker exited; log:" >&2
            cat "$1/retracker.log" >&2
            exit 1
        fi
        sleep 0.01
    done
    ready_ms=$((($(now_ns) - t0) / 1000000))
}

stop() {
    kill -TERM "$pid"
    wait "$pid" || true
    pid=
}

wait_backlog_empty() { # polls /metrics until the write-behind backlog is 0; sets drained_ms
    local t0 prev="" rows
    t0=$(now_ns)
    until [[ "$(metric retracker_persistence_backlog)" == 0 ]]; do sleep 0.1; done
    drained_ms=$((($(now_ns) - t0) / 1000000))
    # And no write finishes during one more flush interval (the backlog counts the batch being
    # written, so this only guards against a reading taken between a drain and its write).
    while :; do
        rows=$(metric retracker_persistence_rows_total)
        [[ "$rows" == "$prev" && "$(metric retracker_persistence_backlog)" == 0 ]] && return
        prev=$rows
        sleep 1.1
    done
}

poll_backlog() { # FILE: prints backlog and RSS every second while fill runs, keeps them in FILE
    while :; do
        printf '  backlog %s  rss %s MiB\n' "$(metric retracker_persistence_backlog)" \
            $(($(rss_kib "$pid") / 1024)) | tee -a "$1"
        sleep 1
    done
}

printf '%s\n' "memory.sh: $(uname -r), $(nproc) cores, retracker $("$bin" --version)"
results=()
for round in $(seq 1 "$rounds"); do
    for c in $cases; do
        peers=${c%%:*}
        torrents=${c##*:}
        dir="$work/$round-$peers-$torrents"
        mkdir -p "$dir"
        write_config "$dir" warn
        echo "== round $round: $peers peers across $torrents torrents"
        start "$dir"
        before=$(rss_kib "$pid")
        poll_backlog "$dir/backlog.log" &
        poller=$!
        t0=$(now_ns)
        "$fill" --addr "127.0.0.1:$port" --peers "$peers" --torrents "$torrents" \
            --window "${WINDOW:-256}" --progress-secs 5
        fill_ms=$((($(now_ns) - t0) / 1000000))
        kill "$poller"
        wait "$poller" 2>/dev/null || true
        poller=
        wait_backlog_empty
        drain_ms=$drained_ms
        max_backlog=$(awk '{ if ($2 > m) m = $2 } END { print m + 0 }' "$dir/backlog.log")
        after=$(rss_kib "$pid")
        hwm=$(hwm_kib "$pid")
        grep -E '^(RssAnon|RssFile|RssShmem)' "/proc/$pid/status" | tr -s ' \n' ' '
        echo
        stop
        db_kib=$(du -k "$dir/retracker.sqlite" | cut -f1)
        # info for the restart: its "restored ... in N ms" line times the restore alone.
        write_config "$dir" info
        : >"$dir/retracker.log"
        start "$dir"
        restore_ms=$ready_ms
        restore_log_ms=$(grep -o 'restored .* in [0-9]* ms' "$dir/retracker.log" |
            grep -o '[0-9]* ms$' | cut -d' ' -f1 || true)
        grep -o 'restored .*' "$dir/retracker.log" || true
        wait_backlog_empty
        restored=$(rss_kib "$pid")
        stop
        results+=("$(printf '%8s %8s %8s %8s %8s %7s %7s %8s %8s %9s %8s %10s %8s %7s' \
            "$peers" "$torrents" "$((before / 1024))" "$((after / 1024))" "$((hwm / 1024))" \
            "$(((after - before) * 1024 / peers))" "$((after * 1024 / peers))" \
            "$fill_ms" "$drain_ms" "$max_backlog" "$restore_ms" "$restore_log_ms" \
            "$((restored / 1024))" "$((db_kib / 1024))")")
        rm -f "$dir"/retracker.sqlite*
    done
done

echo
printf '%8s %8s %8s %8s %8s %7s %7s %8s %8s %9s %8s %10s %8s %7s\n' peers torrents \
    "rss0 MiB" "rss MiB" "peak MiB" "B/peer" "raw B/p" "fill ms" "drain ms" "backlog" \
    "start ms" "restore ms" "rss' MiB" "db MiB"
printf '%s\n' "${results[@]}"
cat <<'EOF'
rss0: after start; rss: after the fill with the backlog written; peak: VmHWM then;
B/peer: (rss - rss0) / peers; raw B/p: rss / peers; fill ms: the fill example's run;
drain ms: fill end -> backlog 0; backlog: the largest backlog seen during the fill (1 s samples);
start ms: restart on the same database -> first answer; restore ms: the restore alone, as logged;
rss': after the restart; db: the database file after the fill.
EOF
