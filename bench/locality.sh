#!/usr/bin/env bash
# bench/locality.sh: what peer selection by locality buys, in process (no network at all): a
# synthetic operator of 20 named networks and 100k peers over 10k swarms with Zipf popularity
# announces to the real swarm store as clients do, once per mode (off, prefer, strict). Prints
# the share of handed-out peers in the requester's own network and in its or the operator's
# networks, and checks that every swarm spanning several networks stays connected (exit 1 if
# one splits). Knobs are passed through, e.g. bench/locality.sh --peers 1000000 --outside 0.3;
# see `cargo run --release --example locality -- --help`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
echo "== cargo build --release --example locality"
cargo build --release --example locality
target="${CARGO_TARGET_DIR:-target}"
echo "== $target/release/examples/locality $*"
exec "$target/release/examples/locality" "$@"
