#!/usr/bin/env bash
# Builds docker flow's release artifacts from this checkout (release profile, `--locked`):
#
#   scripts/package.sh deb       dist/docker-flow_<version>-1_<arch>.deb (Debian package)
#   scripts/package.sh archive   dist/docker-flow-<version>-<target>.tar.gz and its .sha256
#   scripts/package.sh all       both
#
# Options: --target TRIPLE (default: the host's; another needs its Rust std and a linker),
#          --out DIR (default: dist),
#          --binary FILE (package this docker-flow, built before for --target, e.g. by an
#          earlier CI step, instead of running cargo; its version must be Cargo.toml's).
# The .deb is laid out here and built by `dpkg-deb` itself: no packager crate to compile first.
# Needs cargo, dpkg-deb and dpkg-shlibdeps (Debian's dpkg-dev), gzip, tar, sha256sum.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
here=$PWD # --binary and --out are relative to where it was run
cd "$ROOT"

die() { printf 'package: error: %s\n' "$*" >&2; exit 1; }
log() { printf 'package: %s\n' "$*" >&2; }
usage() { sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; }

what="" target="" out=dist binary=""
while [ $# -gt 0 ]; do
  case "$1" in
    deb | archive | all) [ -z "$what" ] || die "one of deb, archive, all (got $what and $1)"; what=$1 ;;
    --target) [ $# -ge 2 ] || die "--target needs a value (a Rust target triple)"; target=$2; shift ;;
    --target=*) target=${1#--target=} ;;
    --out) [ $# -ge 2 ] || die "--out needs a value (a directory)"; out=$2; shift ;;
    --out=*) out=${1#--out=} ;;
    --binary) [ $# -ge 2 ] || die "--binary needs a value (a docker-flow binary)"; binary=$2; shift ;;
    --binary=*) binary=${1#--binary=} ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown argument $1 (usage: scripts/package.sh deb|archive|all [--target TRIPLE] [--out DIR] [--binary FILE])" ;;
  esac
  shift
done
[ -n "$what" ] || die "what to build? scripts/package.sh deb|archive|all"

command -v cargo >/dev/null || export PATH="$HOME/.cargo/bin:$PATH"
command -v cargo >/dev/null || die "cargo not found: install the Rust toolchain (https://rustup.rs)"
host=$(rustc -vV | sed -n 's/^host: //p')
target=${target:-$host}
case "$target" in
  x86_64-unknown-linux-gnu) deb_arch=amd64 ;;
  aarch64-unknown-linux-gnu) deb_arch=arm64 ;;
  *) die "--target $target: only x86_64-unknown-linux-gnu and aarch64-unknown-linux-gnu are packaged" ;;
esac
case "$out" in /*) ;; *) out=$here/$out ;; esac
case "$binary" in /* | "") ;; *) binary=$here/$binary ;; esac
if [ "$target" != "$host" ] && [ -z "$binary" ]; then
  installed=$(rustup target list --installed 2>/dev/null || true)
  grep -qx "$target" <<<"$installed" ||
    die "the Rust std for $target is not installed: rustup target add $target (needs static.rust-lang.org)"
fi

# --- the binary ---------------------------------------------------------------------------------

build_args=(build --release --locked --bin docker-flow)
bin_dir=${CARGO_TARGET_DIR:-$ROOT/target}/release
if [ "$target" != "$host" ]; then
  build_args+=(--target "$target")
  bin_dir=${CARGO_TARGET_DIR:-$ROOT/target}/$target/release
fi
version=$(sed -n '/^version = "\(.*\)"$/{s//\1/p;q}' Cargo.toml)
[ -n "$version" ] || die "no version in Cargo.toml"
if [ -n "$binary" ]; then
  [ -f "$binary" ] && [ -x "$binary" ] || die "--binary $binary: not an executable file"
  bin=$binary
  if [ "$target" = "$host" ]; then
    said=$("$bin" version 2>&1 || true)
    grep -q "^docker flow version $version," <<<"$said" ||
      die "--binary $binary is not docker flow $version: $(sed -n 1p <<<"$said")"
  fi
else
  log "cargo ${build_args[*]}"
  t0=$SECONDS
  cargo "${build_args[@]}"
  log "release build: $((SECONDS - t0)) s"
  bin=$bin_dir/docker-flow
fi
# "docker flow version 0.1.0, build abc1234": the commit build.rs recorded (runs only on the host).
commit=unknown
[ "$target" != "$host" ] || commit=$("$bin" version | sed -n 's/.*, build //p')
# Dates from the commit, so that two builds of one commit give the same files.
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH=$epoch

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The text `docker flow --help` and every command's --help print: the manual in the package.
help_text() {
  local cmd
  "$bin" --help
  for cmd in $("$bin" __completeNoDesc "" | sed '/^:/d'); do
    printf '\n\n==> docker flow %s --help\n\n' "$cmd"
    "$bin" "$cmd" --help
  done
}

# --- release archive ----------------------------------------------------------------------------

archive() {
  local name=docker-flow-$version-$target dir
  dir=$work/$name
  mkdir -p "$dir"
  install -m 755 "$bin" "$dir/docker-flow"
  install -m 644 README.md LICENSE "$dir/"
  help_text >"$dir/docker-flow.txt"
  tar --sort=name --mtime="@$epoch" --owner=0 --group=0 --numeric-owner \
    -C "$work" -czf "$out/$name.tar.gz" "$name"
  (cd "$out" && sha256sum "$name.tar.gz" >"$name.tar.gz.sha256")
  log "archive: $out/$name.tar.gz ($(stat -c %s "$out/$name.tar.gz") bytes), $name.tar.gz.sha256"
}

# --- Debian package -----------------------------------------------------------------------------

maintainer=${DEB_MAINTAINER:-docker flow maintainers <docker-flow@users.noreply.github.com>}
homepage=$(sed -n 's/.*"URL": *"\([^"]*\)".*/\1/p' plugin-metadata)

# Depends from the libraries the binary links (dpkg-shlibdeps reads its ELF NEEDED entries).
shlib_depends() {
  command -v dpkg-shlibdeps >/dev/null || die "dpkg-shlibdeps not found: apt-get install dpkg-dev"
  mkdir -p "$work/shlibs/debian"
  printf 'Source: docker-flow\n\nPackage: docker-flow\nArchitecture: any\n' >"$work/shlibs/debian/control"
  (cd "$work/shlibs" && dpkg-shlibdeps -O "$bin") | sed -n 's/^shlibs:Depends=//p'
}

deb() {
  local root=$work/deb deb_version=$version-1 doc
  doc=$root/usr/share/doc/docker-flow
  # Docker looks for system-wide plugins here (after the user's ~/.docker/cli-plugins).
  install -D -m 755 "$bin" "$root/usr/libexec/docker/cli-plugins/docker-flow"
  install -d -m 755 "$doc"
  install -m 644 README.md "$doc/README.md"
  help_text >"$doc/docker-flow.txt"
  gzip -9n "$doc/README.md" "$doc/docker-flow.txt"
  copyright >"$doc/copyright"
  cat >"$work/changelog" <<EOF
docker-flow ($deb_version) unstable; urgency=medium

  * docker flow $version, built from commit $commit.

 -- $maintainer  $(date -u -R -d "@$epoch")
EOF
  gzip -9n -c "$work/changelog" >"$doc/changelog.Debian.gz"
  chmod 644 "$doc"/*
  # serde_yaml's parser is unsafe-libyaml, libyaml translated to Rust: lintian sees libyaml's
  # strings, but there is no C library that could be linked instead.
  install -d -m 755 "$root/usr/share/lintian/overrides"
  printf '%s\n' "# libyaml translated to Rust (crate unsafe-libyaml, under serde_yaml), not the C library" \
    "docker-flow: embedded-library libyaml [usr/libexec/docker/cli-plugins/docker-flow]" \
    >"$root/usr/share/lintian/overrides/docker-flow"
  chmod 644 "$root/usr/share/lintian/overrides/docker-flow"

  local depends size
  depends=$(shlib_depends)
  [ -n "$depends" ] || die "dpkg-shlibdeps found no library dependencies for $bin"
  size=$(du -sk --apparent-size "$root/usr" | cut -f1)
  install -d -m 755 "$root/DEBIAN"
  cat >"$root/DEBIAN/control" <<EOF
Package: docker-flow
Version: $deb_version
Architecture: $deb_arch
Maintainer: $maintainer
Installed-Size: $size
Depends: $depends
Recommends: docker.io | docker-ce-cli
Section: admin
Priority: optional
Homepage: $homepage
Description: zero-downtime blue-green deploys of Compose services
 docker flow is a Docker CLI plugin: "docker flow deploy" runs the new
 release of a compose service beside the live one and waits until it is
 healthy, "docker flow proxy" switches HAProxy to it with no request lost,
 and scale, stop-old, rollback and status finish the set. Release state
 lives in Consul, so every machine sees the same truth.
EOF
  (cd "$root" && find usr -type f -print0 | sort -z | xargs -0 md5sum) >"$root/DEBIAN/md5sums"
  chmod 644 "$root/DEBIAN/control" "$root/DEBIAN/md5sums"
  find "$root" -exec touch -h -d "@$epoch" {} +
  local file=$out/docker-flow_${deb_version}_$deb_arch.deb
  dpkg-deb --root-owner-group -Zxz --build "$root" "$file" >/dev/null
  log "deb: $file ($(stat -c %s "$file") bytes; Depends: $depends)"
}

# The licence, in Debian's machine-readable form, and the crates linked into the binary.
copyright() {
  cat <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: docker-flow
Source: $homepage

Files: *
Copyright: 2026 docker flow maintainers
License: MIT
Comment: The binary also contains these Rust crates, each under its own licence
 (SPDX expression after the name):
EOF
  cargo tree --locked --edges normal,no-proc-macro --prefix none --target "$target" \
    --format '{p} {l}' --package docker-flow | sed -E 's# \(/[^)]*\)##; s# \(\*\)##; s/^/ /' | sort -u
  printf '\nLicense: MIT\n'
  sed '1,4d; s/^$/./; s/^/ /' LICENSE
}

case "$what" in
  deb) deb ;;
  archive) archive ;;
  all) deb; archive ;;
esac
