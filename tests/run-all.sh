#!/usr/bin/env bash
# Runs every test of retracker, as README says and CI does: installs what the tests need
# (Debian packages for the real-client, LAN, browser, storage-fault and package tests, rustfmt
# and clippy), then checks formatting and lints, runs `cargo test`, then as root the tests that
# need it (tests/lan.rs: network namespaces; tests/storage_faults.rs: mounts), fuzzes the parsers
# for a bounded time (fuzz/run; RETRACKER_SKIP_FUZZ=1 skips it), then builds the Debian package
# and tests it in a fresh Debian root (packaging/test-install; RETRACKER_SKIP_INSTALL_TEST=1
# skips it).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Real BitTorrent clients for tests/real_clients.rs, and a browser for tests/browser.rs.
missing=()
command -v aria2c >/dev/null || missing+=(aria2)
command -v transmission-cli >/dev/null || missing+=(transmission-cli)
[ -x /usr/bin/chromium ] || missing+=(chromium)
# The package test: a Debian root, lintian, systemd-analyze, and systemd-nspawn to boot it.
command -v debootstrap >/dev/null || missing+=(debootstrap)
command -v lintian >/dev/null || missing+=(lintian)
command -v systemd-analyze >/dev/null || missing+=(systemd)
command -v systemd-nspawn >/dev/null || missing+=(systemd-container)
# The LAN test (tests/lan.rs): nginx in front of the tracker, two more clients, curl.
command -v nginx >/dev/null || missing+=(nginx)
command -v ctorrent >/dev/null || missing+=(ctorrent)
command -v curl >/dev/null || missing+=(curl)
/usr/bin/python3 -c 'import libtorrent' 2>/dev/null || missing+=(python3-libtorrent)
# The cluster tests (tests/cluster.rs): Redis, standalone and as a Redis Cluster (redis-cli).
command -v redis-server >/dev/null || missing+=(redis-server)
command -v redis-cli >/dev/null || missing+=(redis-tools)
# The storage fault tests: an ext4 image (mkfs.ext4, chattr).
[ -x /usr/sbin/mkfs.ext4 ] && [ -x /usr/bin/chattr ] || missing+=(e2fsprogs)
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]}"
  # The tests start their own nginx in a network namespace and their own redis-server on free
  # ports: the packages must not start one on this machine's port 80 or 6379 (policy-rc.d,
  # honoured by Debian's maintainer scripts) nor at boot.
  guard=
  if [[ " ${missing[*]} " =~ " "(nginx|redis-server)" " && ! -e /usr/sbin/policy-rc.d ]]; then
    guard=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' | as_root tee "$guard" >/dev/null
    as_root chmod 755 "$guard"
    trap 'as_root rm -f "$guard"' EXIT
  fi
  # The image deletes downloaded .debs after each apt run, so wait for the lock and retry.
  for attempt in 1 2 3; do
    if as_root apt-get -o DPkg::Lock::Timeout=600 update -qq &&
       as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}"; then
      break
    fi
    [ "$attempt" -eq 3 ] && { echo "apt-get failed three times" >&2; exit 1; }
    sleep 15
  done
  if [ -n "$guard" ]; then
    as_root rm -f "$guard"
    trap - EXIT
    if [ -d /run/systemd/system ]; then
      as_root systemctl disable nginx redis-server >/dev/null 2>&1 || true
    fi
  fi
fi

rustup component add rustfmt clippy >/dev/null 2>&1 || true

echo "== cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
echo "== cargo clippy"
cargo clippy --locked --all-targets -- -D warnings
echo "== cargo test"
cargo test --locked
# The tests that need root: network namespaces (LAN), mounts (a tmpfs, an ext4 image on a
# loop device) and add-torrent run as root on a database of another user. Plain `cargo test`
# skips them as ignored.
echo "== cargo test --test lan --test storage_faults --test add_torrent -- --ignored (as root)"
as_root env PATH="$PATH" ${CARGO_TARGET_DIR:+CARGO_TARGET_DIR="$CARGO_TARGET_DIR"} \
  ${CARGO_HOME:+CARGO_HOME="$CARGO_HOME"} ${RUSTUP_HOME:+RUSTUP_HOME="$RUSTUP_HOME"} \
  cargo test --locked --test lan --test storage_faults --test add_torrent -- --ignored

if [ "${RETRACKER_SKIP_FUZZ:-}" = 1 ]; then
  echo "== fuzz/run skipped (RETRACKER_SKIP_FUZZ=1)"
else
  echo "== fuzz/run"
  fuzz/run
fi

if [ "${RETRACKER_SKIP_INSTALL_TEST:-}" = 1 ]; then
  echo "== packaging/test-install skipped (RETRACKER_SKIP_INSTALL_TEST=1)"
else
  echo "== packaging/test-install"
  as_root env PATH="$PATH" ${CARGO_TARGET_DIR:+CARGO_TARGET_DIR="$CARGO_TARGET_DIR"} \
    ${CARGO_HOME:+CARGO_HOME="$CARGO_HOME"} ${RUSTUP_HOME:+RUSTUP_HOME="$RUSTUP_HOME"} \
    packaging/test-install
fi
