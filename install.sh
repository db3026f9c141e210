#!/usr/bin/env bash
# Builds docker flow in release mode and installs it as a Docker CLI plugin.
#
#   ./install.sh                     -> ${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins/docker-flow
#   ./install.sh --system            -> /usr/local/lib/docker/cli-plugins/docker-flow (all users)
#   ./install.sh --uninstall [--system]
#
# Running it again replaces the installed binary with a fresh build.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"

die() { printf 'install: error: %s\n' "$*" >&2; exit 1; }

system=0 uninstall=0
for arg in "$@"; do
  case "$arg" in
    --system) system=1 ;;
    --uninstall) uninstall=1 ;;
    -h | --help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $arg (options: --system, --uninstall)" ;;
  esac
done

if [ $system = 1 ]; then
  dir=/usr/local/lib/docker/cli-plugins
else
  dir=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins
fi
target=$dir/docker-flow

if [ $uninstall = 1 ]; then
  if [ -e "$target" ]; then rm -f "$target" && echo "removed $target"; else echo "nothing to remove at $target"; fi
  exit 0
fi

command -v docker >/dev/null || die "the docker CLI is not on PATH: docker flow is a plugin of it (install Docker first: https://docs.docker.com/engine/install/)"
command -v cargo >/dev/null || export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo >/dev/null || die "cargo not found: install the Rust toolchain (https://rustup.rs), then run ./install.sh again"

cargo build --release --locked --bin docker-flow
mkdir -p "$dir" || die "cannot create $dir (for --system, run as root)"
install -m 755 "${CARGO_TARGET_DIR:-target}/release/docker-flow" "$target.new" && mv -f "$target.new" "$target"
echo "installed $target"
docker flow version >/dev/null 2>&1 || die "docker does not load the plugin from $dir: check \`docker --help\` for an \"Invalid Plugins\" section"
echo "$(docker flow version): try \`docker flow --help\`"
