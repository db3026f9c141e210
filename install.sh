#!/usr/bin/env bash
# Installs docker flow as a Docker CLI plugin: built from this checkout (release mode, needs
# cargo), or from a release archive (no Rust toolchain needed).
#
#   ./install.sh                     build, install into ${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins
#   ./install.sh --system            ... into /usr/local/lib/docker/cli-plugins (all users; root)
#   ./install.sh --from FILE|URL     install from a release archive (docker-flow-*.tar.gz), checked
#                                    against FILE.sha256 beside it, or against --sha256 HEX
#   ./install.sh --uninstall [--system]   remove what an install put there
#
# Running it again replaces the installed plugin (upgrade or downgrade) in one rename.
set -euo pipefail
here=$PWD # --from FILE is relative to where it was run, the build to this checkout
cd "$(dirname "${BASH_SOURCE[0]}")"

die() { printf 'install: error: %s\n' "$*" >&2; exit 1; }

system=0 uninstall=0 from="" sha256=""
while [ $# -gt 0 ]; do
  case "$1" in
    --system) system=1 ;;
    --uninstall) uninstall=1 ;;
    --from) [ $# -ge 2 ] || die "--from needs a value (a release archive: file or URL)"; from=$2; shift ;;
    --from=*) from=${1#--from=} ;;
    --sha256) [ $# -ge 2 ] || die "--sha256 needs a value (64 hex digits)"; sha256=$2; shift ;;
    --sha256=*) sha256=${1#--sha256=} ;;
    -h | --help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (options: --system, --from FILE|URL, --sha256 HEX, --uninstall)" ;;
  esac
  shift
done
[ -z "$sha256" ] || [ -n "$from" ] || die "--sha256 checks an archive: give it with --from FILE|URL"
[ -z "$sha256" ] || [[ "$sha256" =~ ^[0-9a-fA-F]{64}$ ]] || die "--sha256 $sha256: not 64 hex digits"

if [ $system = 1 ]; then
  dir=/usr/local/lib/docker/cli-plugins
else
  dir=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins
fi
target=$dir/docker-flow

if [ $uninstall = 1 ]; then
  [ -z "$from" ] || die "--uninstall takes no --from"
  removed=0
  for f in "$target" "$target.new"; do
    if [ -e "$f" ] || [ -L "$f" ]; then rm -f "$f" && echo "removed $f" && removed=1; fi
  done
  [ $removed = 1 ] || echo "nothing to remove at $target"
  # The directory too when the plugin was all it held (it stays when other plugins live there).
  if [ -d "$dir" ] && rmdir "$dir" 2>/dev/null; then echo "removed $dir (empty)"; fi
  exit 0
fi

command -v docker >/dev/null || die "the docker CLI is not on PATH: docker flow is a plugin of it (install Docker first: https://docs.docker.com/engine/install/)"

# The plugin binary to install: from the archive, or built here.
if [ -n "$from" ]; then
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  archive=$tmp/$(basename "${from%%\?*}")
  case "$from" in
    http://* | https://*)
      command -v curl >/dev/null || die "curl not found: it downloads $from"
      curl -fsSL --retry 2 -o "$archive" "$from" || die "cannot download $from"
      [ -n "$sha256" ] || sha256=$(curl -fsSL "$from.sha256" | awk '{print $1}') ||
        die "cannot download $from.sha256 to check the archive: give the checksum with --sha256 HEX"
      ;;
    *)
      case "$from" in /*) ;; *) from=$here/$from ;; esac
      [ -f "$from" ] || die "--from $from: no such file"
      cp "$from" "$archive"
      if [ -z "$sha256" ]; then
        [ -f "$from.sha256" ] || die "no $from.sha256 beside the archive to check it: give the checksum with --sha256 HEX"
        sha256=$(awk '{print $1}' "$from.sha256")
      fi
      ;;
  esac
  actual=$(sha256sum "$archive" | awk '{print $1}')
  [ "${actual,,}" = "${sha256,,}" ] || die "checksum mismatch for $from: expected $sha256, got $actual (nothing installed)"
  tar -xzf "$archive" -C "$tmp" || die "$from is not a gzip'ed tar archive"
  bin=$(find "$tmp" -mindepth 2 -maxdepth 2 -type f -name docker-flow -print -quit)
  [ -n "$bin" ] || die "$from holds no docker-flow-*/docker-flow (not a docker flow release archive)"
else
  command -v cargo >/dev/null || export PATH="$HOME/.cargo/bin:$PATH"
  command -v cargo >/dev/null || die "cargo not found: install the Rust toolchain (https://rustup.rs), or install a release archive with --from FILE|URL"
  cargo build --release --locked --bin docker-flow
  bin=${CARGO_TARGET_DIR:-target}/release/docker-flow
fi

mkdir -p "$dir" || die "cannot create $dir (for --system, run as root)"
install -m 755 "$bin" "$target.new" && mv -f "$target.new" "$target"
echo "installed $target"
if [ $system = 1 ] && [ -e "${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins/docker-flow" ]; then
  echo "note: ${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins/docker-flow is what docker runs for you (the user's plugin wins over the system's)"
fi
docker flow version >/dev/null 2>&1 || die "docker does not load the plugin from $dir: check \`docker --help\` for an \"Invalid Plugins\" section"
echo "$(docker flow version): try \`docker flow --help\`"
