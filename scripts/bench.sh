#!/usr/bin/env bash
# Benchmarks that print figures (not timed tests). One command, one table.
#
#   scripts/bench.sh             every benchmark available so far
#   scripts/bench.sh handshake      the plugin metadata handshake vs docker compose v2's
#   scripts/bench.sh compose-load   loading a 200-service project vs `docker compose config`
#
# Run it on an otherwise idle machine; figures are medians over many runs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
command -v cargo >/dev/null || export PATH="$HOME/.cargo/bin:$PATH"

need() { # command debian-package
  command -v "$1" >/dev/null && return
  [ "$(id -u)" = 0 ] || { echo "bench: $1 missing: apt-get install $2" >&2; exit 1; }
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$2" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$2" >/dev/null 2>&1; }
}

# Median wall time (ms) of N runs, from hyperfine's JSON.
median_ms() { # runs command…
  local runs=$1; shift
  local json
  json=$(mktemp)
  hyperfine -N --warmup 20 --runs "$runs" --export-json "$json" "$*" >/dev/null 2>&1
  jq '.results[0].median * 1000' "$json"
  rm -f "$json"
}

# Peak resident memory (MiB), the largest of 5 runs.
peak_mib() {
  local max=0 kb i
  for i in 1 2 3 4 5; do
    kb=$( { /usr/bin/time -f '%M' "$@" >/dev/null; } 2>&1 | tail -n 1)
    [ "$kb" -gt "$max" ] && max=$kb
  done
  awk -v kb="$max" 'BEGIN { printf "%.1f", kb / 1024 }'
}

handshake() {
  need hyperfine hyperfine
  need jq jq
  need bc bc
  [ -x /usr/bin/time ] || need /usr/bin/time time
  cargo build --release -q --bin docker-flow
  local ours=target/release/docker-flow
  local compose=${DOCKERFLOW_COMPOSE_PLUGIN:-/usr/local/lib/docker/cli-plugins/docker-compose}
  [ -x "$compose" ] || { echo "bench: no docker compose plugin at $compose: run scripts/testbed.sh up" >&2; exit 1; }
  local o c om cm
  o=$(median_ms 500 "$ours docker-cli-plugin-metadata")
  c=$(median_ms 100 "$compose docker-cli-plugin-metadata")
  om=$(peak_mib "$ours" docker-cli-plugin-metadata)
  cm=$(peak_mib "$compose" docker-cli-plugin-metadata)
  printf '%-34s %12s %12s %10s\n' "metadata handshake" "docker flow" "compose v2" "ratio"
  printf '%-34s %12.2f %12.2f %9.1fx\n' "  median wall time (ms)" "$o" "$c" "$(echo "$c / $o" | bc -l)"
  printf '%-34s %12s %12s %9.1fx\n' "  peak memory (MiB)" "$om" "$cm" "$(echo "$cm / $om" | bc -l)"
}

# A project of 200 services shaped like real ones (ports, env, volumes, healthchecks, deps,
# an override file and interpolation), loaded by `docker flow config` and `docker compose config`.
compose_load() {
  need hyperfine hyperfine
  need jq jq
  cargo build --release -q --bin docker-flow
  local dir
  dir=$(mktemp -d)
  {
    echo "name: bench"
    echo "x-common: &common"
    echo "  restart: unless-stopped"
    echo "  environment:"
    echo "    LOG_LEVEL: \${LOG_LEVEL:-info}"
    echo "services:"
    for i in $(seq 1 200); do
      cat <<YAML
  svc$i:
    <<: *common
    image: dockerflow/demo:\${TAG:-latest}
    command: ["/demo", "serve"]
    ports: ["127.0.0.1::8080"]
    environment:
      RELEASE: r$i
      COLOR: blue
    labels:
      tier: "$((i % 3))"
    volumes:
      - data$i:/data
      - ./conf:/conf:ro
    healthcheck:
      test: ["CMD", "/demo", "health"]
      interval: 5s
      retries: 3
$( [ "$i" -gt 1 ] && printf '    depends_on: [svc%d]\n' $((i - 1)) )
YAML
    done
    echo "volumes:"
    for i in $(seq 1 200); do echo "  data$i: {}"; done
  } >"$dir/compose.yaml"
  {
    echo "services:"
    for i in $(seq 1 200 | awk 'NR % 10 == 0'); do
      printf '  svc%d:\n    environment:\n      EXTRA: "yes"\n' "$i"
    done
  } >"$dir/compose.override.yaml"
  mkdir -p "$dir/conf"
  local o c
  o=$(cd "$dir" && median_ms 50 "$OLDPWD/target/release/docker-flow config --format json")
  c=$(cd "$dir" && median_ms 20 "docker compose config --format json")
  printf '%-34s %12s %12s %10s\n' "load a 200-service project" "docker flow" "compose v2" "ratio"
  printf '%-34s %12.2f %12.2f %9.1fx\n' "  median wall time (ms)" "$o" "$c" "$(echo "$c / $o" | bc -l)"
  rm -rf "$dir"
}

case "${1:-all}" in
  handshake) handshake ;;
  compose-load) compose_load ;;
  all) handshake; echo; compose_load ;;
  *) echo "usage: $0 [handshake|compose-load]" >&2; exit 2 ;;
esac
