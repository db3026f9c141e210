#!/usr/bin/env bash
# The README's quick start: from Docker and this repository to a blue-green release answering
# through the proxy, in one command.
#
#   ./scripts/quickstart.sh          install the plugin, deploy examples/demo, ask it through the proxy
#   ./scripts/quickstart.sh down     remove what it started (the demo's containers and network, and
#                                    the proxy and embedded Consul if it was the one starting them)
#   ./scripts/quickstart.sh down --all   also the proxy and the embedded Consul (and its volume)
#                                    when something else started them (the README's tour)
#
# It runs on docker flow's defaults: no Consul address (docker flow starts docker-flow-consul) and
# the proxy container docker-flow-proxy, published on 127.0.0.1:8080 (examples/demo/docker-flow.yml).
# Where the official images cannot be pulled (no registry, or QUICKSTART_OFFLINE=1), it uses images
# built locally by `scripts/testbed.sh images` (Debian, as root: also starts dockerd if none answers).
# Knobs: FLOW_PROXY_HTTP_PORT, FLOW_PROXY_NAME, FLOW_PROJECT and every other FLOW_* variable;
# QUICKSTART_SKIP_INSTALL=1 uses the docker flow plugin already installed.
set -eEuo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
EXAMPLE=$ROOT/examples/demo
PORT=${FLOW_PROXY_HTTP_PORT:-$(sed -n 's/^proxy_http_port: *\([0-9]*\).*/\1/p' "$EXAMPLE/docker-flow.yml")}
PROXY=${FLOW_PROXY_NAME:-docker-flow-proxy}
PROJECT=${FLOW_PROJECT:-flow-demo}
CONSUL=docker-flow-consul
# What `up` created, so that `down` removes that and nothing the user had before.
CREATED=${QUICKSTART_STATE:-${XDG_STATE_HOME:-$HOME/.local/state}/docker-flow/quickstart-$PROJECT}

log() { printf 'quickstart: %s\n' "$*" >&2; }
die() { printf 'quickstart: error: %s\n' "$*" >&2; exit 1; }
# A command that fails where errexit is in force ends the script: say which one and where, or
# it ends without a word. Where errexit is off (a condition, `set +e`, a command substitution),
# failures are expected and left alone. (errtrace, `set -E`: also inside functions.)
on_err() { # line
  local rc=$? where="line $1 in ${FUNCNAME[1]}" i
  [[ $- == *e* ]] || return "$rc"
  for ((i = 2; i < ${#FUNCNAME[@]}; i++)); do where+=", called from line ${BASH_LINENO[i - 1]} in ${FUNCNAME[i]}"; done
  printf 'quickstart: error: `%s` failed (status %s) at %s\n' "$BASH_COMMAND" "$rc" "$where" >&2
  exit "$rc"
}
trap 'on_err "$LINENO"' ERR
# One GET on loopback: curl, or bash's /dev/tcp where curl is not installed.
get() { # port path
  if command -v curl >/dev/null; then
    curl -fsS --max-time 2 "http://127.0.0.1:$1$2"
  else
    local body
    exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
    body=$(timeout 2 cat <&3) || true
    exec 3<&-
    case "$body" in "HTTP/1."?" 200"*) printf '%s' "${body#*$'\r\n\r\n'}" ;; *) return 1 ;; esac
  fi
}
exists() { docker inspect --type container "$1" >/dev/null 2>&1; }

down() { # [--all]
  local ids name all=${1:-}
  ids=$(docker ps -aq --filter "label=com.docker.compose.project=$PROJECT")
  [ -z "$ids" ] || { log "removing the $PROJECT containers"; docker rm -f -v $ids >/dev/null; }
  local names
  names=$(cat "$CREATED" 2>/dev/null || true)
  [ "$all" != --all ] || names=$(printf '%s\n' $names "$PROXY" "$CONSUL" "volume:$CONSUL-data" | sort -u)
  # The release state goes with the embedded Consul; in one that stays, delete the service's keys.
  if ! grep -qx "$CONSUL" <<<"$names"; then
    local addr=${FLOW_CONSUL_ADDRESS:-${CONSUL_HTTP_ADDR:-}} token=${FLOW_CONSUL_TOKEN:-${CONSUL_HTTP_TOKEN:-}}
    [ -n "$addr" ] || ! exists "$CONSUL" || addr=http://127.0.0.1:8501
    case "$addr" in "" | http://* | https://*) ;; *) addr=http://$addr ;; esac
    [ -z "$addr" ] || curl -fsS -X DELETE ${token:+-H "X-Consul-Token: $token"} \
      "$addr/v1/kv/docker-flow/$PROJECT-app?recurse" >/dev/null 2>&1 || true
  fi
  for name in $names; do
    case "$name" in
      volume:*) docker volume rm "${name#volume:}" >/dev/null 2>&1 && log "removed volume ${name#volume:}" || true ;;
      *) docker rm -f -v "$name" >/dev/null 2>&1 && log "removed $name" || true ;;
    esac
  done
  for name in $(docker network ls -q --filter "label=com.docker.compose.project=$PROJECT"); do
    docker network rm "$name" >/dev/null 2>&1 ||
      log "left network $name: still used (by $PROXY or $CONSUL, which this did not start; \`$0 down --all\` removes them too)"
  done
  rm -f "$CREATED"
  log "done"
}

# An engine: the user's, else (Debian, root) the one the test bed installs and starts.
engine() {
  docker version >/dev/null 2>&1 && return
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "no Docker engine answers: installing and starting one (scripts/testbed.sh images)"
    "$ROOT/scripts/testbed.sh" images
  else
    command -v docker >/dev/null || die "the docker CLI is not installed: install Docker (https://docs.docker.com/engine/install/), then run this again"
    die "no Docker engine answers (docker version failed): start Docker, or point DOCKER_HOST / \`docker context use NAME\` at one, then run this again"
  fi
}

# The official images where a registry answers; the test bed's local ones where none does.
images() {
  if [ "${QUICKSTART_OFFLINE:-0}" != 1 ]; then
    local proxy_image=${FLOW_PROXY_IMAGE:-haproxy:lts} consul_image=${FLOW_CONSUL_IMAGE:-hashicorp/consul:1.20}
    if docker image inspect "$proxy_image" >/dev/null 2>&1 && docker image inspect "$consul_image" >/dev/null 2>&1; then
      return
    fi
    log "pulling $proxy_image and $consul_image"
    if timeout 300 docker pull -q "$proxy_image" >/dev/null 2>&1 && timeout 300 docker pull -q "$consul_image" >/dev/null 2>&1; then
      return
    fi
    log "cannot pull from a registry: using locally built images instead"
  fi
  local want=(dockerflow/demo:latest dockerflow/haproxy:test dockerflow/consul:test) image
  for image in "${want[@]}"; do
    docker image inspect "$image" >/dev/null 2>&1 && continue
    [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null ||
      die "image $image is missing and no registry answers: on Debian, run \`sudo scripts/testbed.sh images\` to build it locally"
    log "building the images locally (scripts/testbed.sh images)"
    "$ROOT/scripts/testbed.sh" images
    break
  done
  export FLOW_PROXY_IMAGE=${FLOW_PROXY_IMAGE:-dockerflow/haproxy:test}
  export FLOW_CONSUL_IMAGE=${FLOW_CONSUL_IMAGE:-dockerflow/consul:test}
}

up() {
  engine
  images
  if [ "${QUICKSTART_SKIP_INSTALL:-0}" = 1 ]; then
    docker flow version >/dev/null 2>&1 || die "QUICKSTART_SKIP_INSTALL=1 but \`docker flow\` is not installed: run ./install.sh"
  else
    "$ROOT/install.sh"
  fi

  mkdir -p "$(dirname "$CREATED")"
  touch "$CREATED"
  exists "$PROXY" || echo "$PROXY" >>"$CREATED"
  if [ -z "${FLOW_CONSUL_ADDRESS:-}${CONSUL_HTTP_ADDR:-}" ] && ! exists "$CONSUL"; then
    printf '%s\nvolume:%s-data\n' "$CONSUL" "$CONSUL" >>"$CREATED"
  fi

  log "deploying examples/demo: docker flow deploy --flow=proxy"
  (cd "$EXAMPLE" && docker flow deploy --flow=proxy)

  local url=http://127.0.0.1:$PORT/demo/hello answer="" i
  for i in $(seq 1 50); do
    answer=$(get "$PORT" /demo/hello 2>/dev/null) && break
    sleep 0.2
  done
  [ -n "$answer" ] || die "the proxy did not answer on $url (docker logs $PROXY; docker flow status in examples/demo)"
  log "curl $url -> $answer"
  cat >&2 <<EOF
quickstart: the demo runs blue-green behind $PROXY. Next, in examples/demo:
  RELEASE=v2 docker flow deploy --flow=proxy --flow=stop-old   # a new release, no request lost
  docker flow status
  ./scripts/quickstart.sh down                                 # remove it all again
The README's tour goes on from here.
EOF
}

case "${1:-up}" in
  up) up ;;
  down) down "${2:-}" ;;
  -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die "unknown command $1 (commands: up, down)" ;;
esac
