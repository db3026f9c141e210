#!/usr/bin/env bash
# The project's one test command: sets up the test bed (scripts/testbed.sh up: Docker Engine,
# Consul, images, compose v2), then checks formatting and lints, then runs every test, unit and
# end-to-end.
#
#   scripts/test.sh          everything (as root, or with sudo available for the test bed)
#   scripts/test.sh --unit   unit tests only, no test bed needed
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v cargo >/dev/null || export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo >/dev/null || { echo "test: cargo not found (install Rust: https://rustup.rs)" >&2; exit 1; }

if [ "${1:-}" = --unit ]; then
  exec cargo test --workspace --lib --bins
fi

start=$SECONDS
sudo_=()
[ "$(id -u)" = 0 ] || sudo_=(sudo)
# testbed.sh prints the environment the tests read on stdout, its progress on stderr.
bed_env=$("${sudo_[@]}" scripts/testbed.sh up)
eval "$bed_env"
echo "test: test bed ready in $((SECONDS - start)) s" >&2

cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
cargo test --workspace
echo "test: all done in $((SECONDS - start)) s" >&2
