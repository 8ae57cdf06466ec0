#!/usr/bin/env bash
# Runs every test of retracker, as README says and CI does: installs what the tests need
# (Debian packages for the real-client, browser and package tests, rustfmt and clippy), then
# checks formatting and lints, runs `cargo test`, fuzzes the parsers for a bounded time (fuzz/run;
# RETRACKER_SKIP_FUZZ=1 skips it), then builds the Debian package and tests it in a fresh
# Debian root (packaging/test-install; RETRACKER_SKIP_INSTALL_TEST=1 skips it).
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
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing ${missing[*]}"
  # The image deletes downloaded .debs after each apt run, so wait for the lock and retry.
  for attempt in 1 2 3; do
    if as_root apt-get -o DPkg::Lock::Timeout=600 update -qq &&
       as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}"; then
      break
    fi
    [ "$attempt" -eq 3 ] && { echo "apt-get failed three times" >&2; exit 1; }
    sleep 15
  done
fi

rustup component add rustfmt clippy >/dev/null 2>&1 || true

echo "== cargo fmt --check"
cargo fmt --all -- --check
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
echo "== cargo clippy"
cargo clippy --locked --all-targets -- -D warnings
echo "== cargo test"
cargo test --locked

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
