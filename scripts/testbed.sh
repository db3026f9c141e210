#!/usr/bin/env bash
# The test bed: a real Docker Engine (two, for context tests; a third as a single-node Swarm;
# three more in network namespaces as a three-node Swarm), Consul 1.8.7, the images every test
# and example uses, and docker compose v2 for conformance checks. Runs as root on Debian.
#
#   scripts/testbed.sh up     install what is missing, start what is not running, build images
#   scripts/testbed.sh down   stop what `up` started (by PID), nothing else
#   scripts/testbed.sh env    print the environment the tests read
#   scripts/testbed.sh images one engine and the local images only (what scripts/quickstart.sh
#                             needs where no registry answers)
#   scripts/testbed.sh node stop|start N
#                             a node of the three-node Swarm lost (its dockerd killed, its link
#                             down) or brought back (the multi-node test's fault)
#
# Idempotent: a second `up` finds everything in place and returns in seconds.
#
# Under pipefail, no pipeline here ends with a reader that can stop early (`grep -q`, `head`):
# its writer would die of SIGPIPE at random and the pipeline read as failed. Read the whole
# output instead (docs/testbed.md; tests/scripts_pipefail.rs checks it).
set -eEuo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STATE=${DOCKERFLOW_TESTBED_STATE:-/var/lib/dockerflow-testbed}
RUN=/run/dockerflow-testbed
VERSION=$(sed -n '/^version *= *"\(.*\)"/{s//\1/p;q}' "$ROOT/demo/Cargo.toml")

DEMO_IMAGE=dockerflow/demo
HAPROXY_IMAGE=dockerflow/haproxy:test
CONSUL_IMAGE=dockerflow/consul:test
CONSUL_ADDR=${DOCKERFLOW_TESTBED_CONSUL_ADDR:-127.0.0.1:8500}
ENGINE_B_SOCK=$RUN/engine-b/docker.sock
ENGINE_B_TLS_PORT=23760
ENGINE_B_BRIDGE=dockerflow-b0
ENGINE_B_BRIDGE_CIDR=172.31.254.1/24
ENGINE_C_SOCK=$RUN/engine-c/docker.sock
ENGINE_C_BRIDGE=dockerflow-c0
ENGINE_C_BRIDGE_CIDR=172.31.253.1/24
# The three-node Swarm: node i in network namespace dockerflow-n<i>, on bridge dockerflow-sw0 at
# 172.31.252.(10+i); node 0 is the manager, nodes 1 and 2 are workers.
NODES=(0 1 2)
NODES_BRIDGE=dockerflow-sw0
NODES_NET=172.31.252
COMPOSE_PLUGIN=/usr/local/lib/docker/cli-plugins/docker-compose

log() { printf 'testbed: %s\n' "$*" >&2; }
die() { printf 'testbed: error: %s\n' "$*" >&2; exit 1; }
# A command that fails where errexit is in force ends the script: say which one and where, or
# it ends without a word. Where errexit is off (a condition, `set +e`, a command substitution),
# failures are expected and left alone. (errtrace, `set -E`: also inside functions.)
on_err() { # line
  local rc=$? where="line $1 in ${FUNCNAME[1]}" i
  [[ $- == *e* ]] || return "$rc"
  for ((i = 2; i < ${#FUNCNAME[@]}; i++)); do where+=", called from line ${BASH_LINENO[i - 1]} in ${FUNCNAME[i]}"; done
  printf 'testbed: error: `%s` failed (status %s) at %s\n' "$BASH_COMMAND" "$rc" "$where" >&2
  exit "$rc"
}
trap 'on_err "$LINENO"' ERR
# The first line of stdin, reading all of it (`head -n 1` stops reading: see the top).
first_line() { sed -n 1p; }

# Waits until "$@" succeeds, for at most $deadline seconds (polling, no fixed sleep).
wait_for() {
  local deadline=$1; shift
  local end=$((SECONDS + deadline))
  until "$@" >/dev/null 2>&1; do
    [ "$SECONDS" -lt "$end" ] || return 1
    sleep 0.2
  done
}

# A PID file names a live process of the expected program.
pid_alive() { # pidfile comm
  local pid
  [ -s "$1" ] || return 1
  pid=$(cat "$1")
  [ -d "/proc/$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$2" ]
}

preflight() {
  [ "$(id -u)" = 0 ] || die "must run as root (it installs Debian packages and starts dockerd): sudo $0 up"
  command -v apt-get >/dev/null || die "apt-get not found: the test bed needs a Debian machine"
  command -v dpkg-deb >/dev/null || die "dpkg-deb not found: the test bed needs a Debian machine"
  mkdir -p "$STATE" "$RUN"
}

# --- Debian packages -------------------------------------------------------------------------

apt_updated=0
apt_install() { # packages… (only the missing ones are installed)
  local missing=() p status
  for p in "$@"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null) || status=
    [[ $status == *'install ok installed'* ]] || missing+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] || return 0
  if [ $apt_updated = 0 ]; then
    log "apt-get update"
    apt-get update -q >"$STATE/apt-update.log" 2>&1 || { tail -n 20 "$STATE/apt-update.log" >&2; die "apt-get update failed (log: $STATE/apt-update.log)"; }
    apt_updated=1
  fi
  log "installing ${missing[*]}"
  # Packages must not start their own daemons (dockerd, haproxy): we start what we need.
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' >$policy && chmod 755 $policy && made_policy=1
  fi
  local rc=0
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" \
    >"$STATE/apt-install.log" 2>&1 || rc=$?
  [ $made_policy = 0 ] || rm -f $policy
  [ $rc = 0 ] || { tail -n 20 "$STATE/apt-install.log" >&2; die "apt-get install ${missing[*]} failed (log: $STATE/apt-install.log)"; }
}

# The mirror this machine's own apt sources use, for the one-package downloads from other suites.
debian_mirror() {
  local uri
  # The first URI that is not the security archive's (awk reads all its input: no early exit).
  uri=$({ grep -hsE '^URIs:' /etc/apt/sources.list.d/*.sources || true; } |
    awk '$2 !~ /security/ && u == "" { u = $2 } END { print u }')
  [ -n "$uri" ] || uri=$({ grep -hsE '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list || true; } |
    awk 'u == "" { for (i = 2; i <= NF; i++) if ($i ~ /^https?:/) { if ($i !~ /security/) u = $i; break } } END { print u }')
  [ -n "$uri" ] || die "no Debian mirror found in /etc/apt/sources.list{,.d}"
  echo "${uri%/}"
}

# Downloads one package from another Debian suite and unpacks it under $STATE/pkg/<suite>/<pkg>,
# with apt state kept apart from the system's: nothing on the machine is upgraded.
fetch_deb() { # suite package
  local suite=$1 pkg=$2 dir=$STATE/apt-$1
  local root=$STATE/pkg/$suite/$pkg
  [ -d "$root" ] && { echo "$root"; return; }
  mkdir -p "$dir/lists/partial" "$dir/cache/archives/partial" "$dir/debs"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(debian_mirror) $suite main" >"$dir/sources.list"
  local opts=(-o "Dir::Etc::SourceList=$dir/sources.list" -o Dir::Etc::SourceParts=/dev/null
    -o "Dir::State::Lists=$dir/lists" -o "Dir::Cache=$dir/cache" -o Debug::NoLocking=1)
  if [ -z "$(ls "$dir/lists" 2>/dev/null | grep Packages)" ]; then
    log "reading the $suite suite's package list"
    apt-get "${opts[@]}" update -q >"$dir/update.log" 2>&1 || { tail -n 20 "$dir/update.log" >&2; die "apt-get update of suite $suite failed"; }
  fi
  log "downloading $pkg from $suite"
  (cd "$dir/debs" && apt-get "${opts[@]}" download "$pkg" >"$dir/download.log" 2>&1) ||
    { tail -n 20 "$dir/download.log" >&2; die "apt-get download $pkg ($suite) failed"; }
  mkdir -p "$root.tmp"
  dpkg-deb -x "$(ls -t "$dir/debs/${pkg}"_*.deb | first_line)" "$root.tmp"
  mv "$root.tmp" "$root"
  echo "$root"
}

# --- Docker Engine -----------------------------------------------------------------------------

engine_up() {
  engine_main_up
  engine_b_up
  engine_c_up
  # Needs network namespaces, veths and VXLAN: where the machine refuses them, the rest of the
  # bed still works and tests/swarm_nodes.rs fails with this log's reason.
  # (Not `if ! (nodes_up)`: errexit is off inside a condition, even in a subshell.)
  local rc
  set +e
  (set -e; nodes_up)
  rc=$?
  set -e
  [ $rc = 0 ] || log "error: the three-node Swarm did not come up (tests/swarm_nodes.rs will fail); the rest of the bed goes on"
}

engine_main_up() {
  apt_install docker.io iptables iproute2 ca-certificates curl openssl busybox-static haproxy procps util-linux
  # tests/package.rs: scripts/package.sh (dpkg-shlibdeps) and the .deb's check.
  apt_install dpkg-dev lintian
  if docker -H unix:///var/run/docker.sock version >/dev/null 2>&1; then
    log "engine: answering on unix:///var/run/docker.sock"
  else
    [ ! -S /var/run/docker.sock ] || ! pid_alive "$STATE/dockerd.pid" dockerd || die "dockerd (PID $(cat "$STATE/dockerd.pid")) runs but does not answer: see $STATE/dockerd.log"
    log "engine: starting dockerd"
    nohup dockerd >"$STATE/dockerd.log" 2>&1 </dev/null &
    echo $! >"$STATE/dockerd.pid"
    if ! wait_for 60 docker -H unix:///var/run/docker.sock version; then
      tail -n 30 "$STATE/dockerd.log" >&2
      die "dockerd did not answer within 60 s (log above, full log: $STATE/dockerd.log)"
    fi
  fi
}

# A second engine for Docker context tests: its own socket and data, plus a TCP+TLS endpoint on
# loopback with certificates made here.
engine_b_up() {
  local tls=$STATE/tls
  if docker -H "unix://$ENGINE_B_SOCK" version >/dev/null 2>&1; then
    log "engine b: answering on unix://$ENGINE_B_SOCK"
    return
  fi
  make_certs "$tls"
  log "engine b: starting a second dockerd"
  extra_dockerd b "$ENGINE_B_SOCK" "$ENGINE_B_BRIDGE" "$ENGINE_B_BRIDGE_CIDR" \
    -H "tcp://127.0.0.1:$ENGINE_B_TLS_PORT" \
    --tlsverify --tlscacert "$tls/ca.pem" --tlscert "$tls/server-cert.pem" --tlskey "$tls/server-key.pem"
}

# Another dockerd beside the first: its own data and exec root, pidfile, socket and bridge
# (`--bridge=none` would make it delete the first engine's docker0), no iptables rules.
extra_dockerd() { # name socket bridge bridge-cidr extra-dockerd-args…
  local name=$1 sock=$2 bridge=$3 cidr=$4
  shift 4
  local dir=$STATE/engine-$name
  mkdir -p "$dir/data" "$RUN/engine-$name/exec"
  if ! ip link show "$bridge" >/dev/null 2>&1; then
    ip link add "$bridge" type bridge
    ip addr add "$cidr" dev "$bridge"
    ip link set "$bridge" up
  fi
  nohup dockerd --data-root "$dir/data" --exec-root "$RUN/engine-$name/exec" \
    --pidfile "$RUN/engine-$name/docker.pid" --bridge="$bridge" --iptables=false --ip-masq=false \
    -H "unix://$sock" "$@" >"$dir/dockerd.log" 2>&1 </dev/null &
  echo $! >"$STATE/dockerd-$name.pid"
  if ! wait_for 60 docker -H "unix://$sock" version; then
    tail -n 30 "$dir/dockerd.log" >&2
    die "dockerd of engine $name did not answer within 60 s (log above, full log: $dir/dockerd.log)"
  fi
}

# A third engine, a single-node Swarm manager on loopback, for the Swarm-mode flows. Only one
# dockerd on a host can run Swarm (it binds 2377, 7946 and 4789), so the others stay plain.
engine_c_up() {
  local dir=$STATE/engine-c c="docker -H unix://$ENGINE_C_SOCK"
  if $c version >/dev/null 2>&1; then
    log "engine c: answering on unix://$ENGINE_C_SOCK"
  else
    log "engine c: starting a third dockerd"
    extra_dockerd c "$ENGINE_C_SOCK" "$ENGINE_C_BRIDGE" "$ENGINE_C_BRIDGE_CIDR"
  fi
  if [ "$($c info --format '{{.Swarm.LocalNodeState}}')" != active ]; then
    log "engine c: docker swarm init on 127.0.0.1"
    $c swarm init --advertise-addr 127.0.0.1 >"$dir/swarm-init.log" 2>&1 ||
      { cat "$dir/swarm-init.log" >&2; die "docker swarm init on engine c failed"; }
  fi
}

# --- the three-node Swarm ------------------------------------------------------------------------
# Each node is a dockerd in its own network namespace (each namespace has its own ports, so each
# can run Swarm), reached through a veth on a private bridge; overlay traffic is VXLAN over it.
# `nsenter --net` and not `ip netns exec`: the latter remounts /sys, hiding the cgroup mounts.

node_sock() { echo "$RUN/node-$1/docker.sock"; }
node_addr() { echo "$NODES_NET.$((10 + $1))"; }
node_docker() { local i=$1; shift; docker -H "unix://$(node_sock "$i")" "$@"; }

nodes_net_up() {
  if ! ip link show "$NODES_BRIDGE" >/dev/null 2>&1; then
    ip link add "$NODES_BRIDGE" type bridge
    ip addr add "$NODES_NET.1/24" dev "$NODES_BRIDGE"
  fi
  ip link set "$NODES_BRIDGE" up
  # Frames between the nodes cross this bridge; with br_netfilter they meet the FORWARD chain,
  # whose policy the first dockerd sets to DROP.
  iptables -C FORWARD -i "$NODES_BRIDGE" -o "$NODES_BRIDGE" -j ACCEPT 2>/dev/null ||
    iptables -I FORWARD -i "$NODES_BRIDGE" -o "$NODES_BRIDGE" -j ACCEPT
  local i ns addrs
  for i in "${NODES[@]}"; do
    ns=dockerflow-n$i
    [ -e "/run/netns/$ns" ] || ip netns add "$ns"
    if ! ip link show "dfn$i-h" >/dev/null 2>&1; then
      ip -n "$ns" link del "dfn$i-n" 2>/dev/null || true
      ip link add "dfn$i-h" type veth peer name "dfn$i-n"
    fi
    ! ip link show "dfn$i-n" >/dev/null 2>&1 || ip link set "dfn$i-n" netns "$ns"
    addrs=$(ip -n "$ns" addr show dev "dfn$i-n") || addrs=
    [[ $addrs == *"$(node_addr "$i")/"* ]] || ip -n "$ns" addr add "$(node_addr "$i")/24" dev "dfn$i-n"
    ip link set "dfn$i-h" master "$NODES_BRIDGE" up
    ip -n "$ns" link set "dfn$i-n" up
    ip -n "$ns" link set lo up
    # The node's own bridge for its containers, inside its namespace.
    if ! ip -n "$ns" link show dfn-br >/dev/null 2>&1; then
      ip -n "$ns" link add dfn-br type bridge
      ip -n "$ns" addr add "172.30.$((200 + i)).1/24" dev dfn-br
    fi
    ip -n "$ns" link set dfn-br up
  done
}

node_dockerd_up() { # i
  local i=$1 dir=$STATE/node-$1
  # Answering, or started and not answering yet (node_wait waits for it): never a second one.
  node_docker "$i" version >/dev/null 2>&1 && return
  pid_alive "$STATE/dockerd-node-$i.pid" dockerd && return
  mkdir -p "$dir/data" "$RUN/node-$i/exec"
  # Appended: the log of a node killed by `node stop` is kept.
  nohup nsenter --net="/run/netns/dockerflow-n$i" dockerd --data-root "$dir/data" \
    --exec-root "$RUN/node-$i/exec" --pidfile "$RUN/node-$i/docker.pid" --bridge=dfn-br \
    --iptables=false --ip-masq=false -H "unix://$(node_sock "$i")" >>"$dir/dockerd.log" 2>&1 </dev/null &
  echo $! >"$STATE/dockerd-node-$i.pid"
}

node_wait() { # i
  if ! wait_for 60 node_docker "$1" version; then
    tail -n 30 "$STATE/node-$1/dockerd.log" >&2
    die "dockerd of Swarm node $1 did not answer within 60 s (full log: $STATE/node-$1/dockerd.log)"
  fi
}

swarm_state() { node_docker "$1" info --format '{{.Swarm.LocalNodeState}}' 2>/dev/null; }
# A restarted node rejoins its Swarm on its own: `pending` until it has.
swarm_settled() { local st; st=$(swarm_state "$1") && [ -n "$st" ] && [ "$st" != pending ]; }

nodes_up() {
  local i
  nodes_net_up
  for i in "${NODES[@]}"; do node_dockerd_up "$i"; done
  for i in "${NODES[@]}"; do node_wait "$i"; done
  for i in "${NODES[@]}"; do wait_for 60 swarm_settled "$i" || log "Swarm node $i: still pending after 60 s"; done
  if [ "$(swarm_state 0)" != active ]; then
    log "Swarm nodes: docker swarm init on node 0 ($(node_addr 0))"
    # A 1 s heartbeat: a lost node is marked down within seconds, not 15.
    node_docker 0 swarm init --advertise-addr "$(node_addr 0)" --listen-addr "$(node_addr 0):2377" \
      --dispatcher-heartbeat 1s >"$STATE/node-0/swarm-init.log" 2>&1 ||
      { cat "$STATE/node-0/swarm-init.log" >&2; die "docker swarm init on node 0 failed"; }
  fi
  local token
  token=$(node_docker 0 swarm join-token -q worker)
  for i in "${NODES[@]:1}"; do
    [ "$(swarm_state "$i")" != active ] || continue
    [ "$(swarm_state "$i")" = inactive ] || node_docker "$i" swarm leave --force >/dev/null 2>&1 || true
    log "Swarm nodes: node $i joins as a worker"
    node_docker "$i" swarm join --token "$token" --advertise-addr "$(node_addr "$i")" \
      --listen-addr "$(node_addr "$i"):2377" "$(node_addr 0):2377" >"$STATE/node-$i/swarm-join.log" 2>&1 ||
      { cat "$STATE/node-$i/swarm-join.log" >&2; die "node $i could not join the Swarm of node 0"; }
  done
  wait_for 60 nodes_ready || { node_docker 0 node ls >&2; die "the Swarm nodes are not all ready within 60 s"; }
  # A worker that left and joined again (its state was lost) is a new node; the old entry stays
  # Down for good.
  local down
  down=$(node_docker 0 node ls --filter role=worker --format '{{.ID}} {{.Status}}' | awk '$2 == "Down" { print $1 }')
  [ -z "$down" ] || node_docker 0 node rm --force $down >/dev/null
  log "Swarm nodes: 3 ready (manager unix://$(node_sock 0))"
}

nodes_ready() { [ "$(node_docker 0 node ls --format '{{.Status}}' | grep -c '^Ready$')" = "${#NODES[@]}" ]; }

# A node lost mid-life: its dockerd killed (SIGKILL, by PID) and its link cut, so its tasks are
# unreachable, as when a machine dies. `node start` brings it back; it rejoins the Swarm.
node_stop() { # i
  local i=$1
  ip link set "dfn$i-h" down
  if pid_alive "$STATE/dockerd-node-$i.pid" dockerd; then
    local pid
    pid=$(cat "$STATE/dockerd-node-$i.pid")
    kill -9 "$pid"
    # Gone, or a zombie (a PID 1 that does not reap, as in some CI containers): dead either way.
    wait_for 30 bash -c "! kill -0 $pid || grep -q '^$pid ([^)]*) Z' /proc/$pid/stat" ||
      die "dockerd of node $i outlived SIGKILL"
  fi
  log "Swarm node $i: stopped (dockerd killed, link down)"
}

node_start() { # i
  local i=$1
  ip link set "dfn$i-h" up
  node_dockerd_up "$i"
  node_wait "$i"
  wait_for 60 nodes_ready || { node_docker 0 node ls >&2; die "node $i did not rejoin within 60 s"; }
  log "Swarm node $i: back and ready"
}

nodes_down() {
  local i m
  for i in "${NODES[@]}"; do
    stop_pid "$STATE/dockerd-node-$i.pid" dockerd "the dockerd of Swarm node $i"
    # A node killed mid-test leaves its namespaces' mounts behind.
    { grep -oE "($RUN|$STATE)/node-$i/[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do
      umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
    done
    [ ! -e "/run/netns/dockerflow-n$i" ] || ip netns del "dockerflow-n$i"
    ! ip link show "dfn$i-h" >/dev/null 2>&1 || ip link del "dfn$i-h"
  done
  ! ip link show "$NODES_BRIDGE" >/dev/null 2>&1 || ip link del "$NODES_BRIDGE"
  ! iptables -C FORWARD -i "$NODES_BRIDGE" -o "$NODES_BRIDGE" -j ACCEPT 2>/dev/null ||
    iptables -D FORWARD -i "$NODES_BRIDGE" -o "$NODES_BRIDGE" -j ACCEPT
}

# A CA, a server certificate for 127.0.0.1/localhost and a client certificate, as `docker` wants.
make_certs() {
  local d=$1
  [ -s "$d/key.pem" ] && return
  log "making TLS certificates in $d"
  mkdir -p "$d" && chmod 700 "$d"
  (
    cd "$d"
    openssl genrsa -out ca-key.pem 2048 2>/dev/null
    openssl req -x509 -new -key ca-key.pem -days 3650 -subj "/CN=docker flow test CA" -out ca.pem 2>/dev/null
    openssl genrsa -out server-key.pem 2048 2>/dev/null
    openssl req -new -key server-key.pem -subj "/CN=localhost" -out server.csr 2>/dev/null
    printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' >server.ext
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 \
      -extfile server.ext -out server-cert.pem 2>/dev/null
    openssl genrsa -out key.pem 2048 2>/dev/null
    openssl req -new -key key.pem -subj "/CN=docker flow test client" -out client.csr 2>/dev/null
    printf 'extendedKeyUsage=clientAuth\n' >client.ext
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 \
      -extfile client.ext -out cert.pem 2>/dev/null
    rm -f ./*.csr ./*.ext ca.srl
    chmod 600 ./*key.pem
  )
}

# --- Consul --------------------------------------------------------------------------------------

consul_bin() { echo "$STATE/bin/consul"; }

consul_install() {
  local bin version
  bin=$(consul_bin)
  # The whole output first: `| grep -q` stopped at the match, `consul version` died of SIGPIPE
  # on its next line, and a right binary was reinstalled (about once in ten runs).
  if [ -x "$bin" ] && version=$("$bin" version 2>/dev/null) && [[ $version == *'Consul v1.8.7'* ]]; then return; fi
  local root
  root=$(fetch_deb bullseye consul)
  [ -x "$root/usr/bin/consul" ] || die "the bullseye consul package has no usr/bin/consul"
  mkdir -p "$STATE/bin"
  install -m 755 "$root/usr/bin/consul" "$bin"
  "$bin" version | first_line >&2
}

consul_answers() { local leader; leader=$(curl -fsS --max-time 2 "http://$CONSUL_ADDR/v1/status/leader" 2>/dev/null) && [[ $leader == *:* ]]; }

consul_up() {
  consul_install
  if consul_answers; then
    log "consul: answering on $CONSUL_ADDR"
    return
  fi
  if [ -n "$(ss -Hltn "sport = :${CONSUL_ADDR##*:}")" ]; then
    die "port ${CONSUL_ADDR##*:} is taken by something that is not Consul: $(ss -Hltnp "sport = :${CONSUL_ADDR##*:}" | first_line)"
  fi
  log "consul: starting an agent on $CONSUL_ADDR"
  # A dev agent (in-memory server) bound to loopback only.
  nohup "$(consul_bin)" agent -dev -bind 127.0.0.1 -client 127.0.0.1 -http-port "${CONSUL_ADDR##*:}" \
    -log-level warn >"$STATE/consul.log" 2>&1 </dev/null &
  echo $! >"$STATE/consul.pid"
  if ! wait_for 30 consul_answers; then
    tail -n 30 "$STATE/consul.log" >&2
    die "consul did not elect a leader within 30 s (log above)"
  fi
}

# --- docker compose v2 ---------------------------------------------------------------------------

compose_install() {
  if [ -x "$COMPOSE_PLUGIN" ] && "$COMPOSE_PLUGIN" version >/dev/null 2>&1; then return; fi
  local root bin
  root=$(fetch_deb trixie docker-compose)
  bin=$(find "$root" -type f -name docker-compose -path '*cli-plugins*' | first_line)
  [ -n "$bin" ] || bin=$(find "$root" -type f -name docker-compose | first_line)
  [ -n "$bin" ] || die "the trixie docker-compose package has no docker-compose binary"
  mkdir -p "$(dirname "$COMPOSE_PLUGIN")"
  install -m 755 "$bin" "$COMPOSE_PLUGIN"
  log "docker compose: $("$COMPOSE_PLUGIN" version)"
}

# --- images --------------------------------------------------------------------------------------

# Copies a dynamically linked program and the libraries it loads into a root filesystem.
copy_with_libs() { # program rootfs [path in rootfs]
  local prog=$1 rootfs=$2 dest=${3:-$1} lib
  install -D -m 755 "$prog" "$rootfs$dest"
  for lib in $(ldd "$prog" 2>/dev/null | grep -oE '/[^ ]+' | sort -u); do
    install -D -m 755 "$(readlink -f "$lib")" "$rootfs$lib"
  done
}

# Builds an image unless one with the same build-context digest is already there.
build_image() { # context tag…
  local ctx=$1; shift
  local digest
  # File modes and links count too (a library without its x bit breaks the image).
  digest=$(cd "$ctx" && { find . -printf '%m %p %l\n' | sort; find . -type f -print0 | sort -z | xargs -0 sha256sum; } |
    sha256sum | cut -c1-16)
  if [ "$(docker image inspect -f '{{index .Config.Labels "dockerflow.testbed.digest"}}' "$1" 2>/dev/null)" = "$digest" ]; then
    return
  fi
  log "building $*"
  local tags=() t
  for t in "$@"; do tags+=(-t "$t"); done
  DOCKER_BUILDKIT=0 docker build -q --label "dockerflow.testbed.digest=$digest" "${tags[@]}" "$ctx" >"$STATE/build.log" 2>&1 ||
    { cat "$STATE/build.log" >&2; die "docker build $* failed"; }
}

images_up() {
  local ctx=$STATE/images
  # The demo service, statically linked so that it runs FROM scratch.
  command -v cargo >/dev/null || die "cargo not found: the demo image is built from this repository's Rust code"
  log "building the demo service"
  (cd "$ROOT" && RUSTFLAGS='-C target-feature=+crt-static' cargo build -q --release -p dockerflow-demo \
    --target x86_64-unknown-linux-gnu --target-dir target/static) || die "cargo build of the demo service failed"
  rm -rf "$ctx/demo" && mkdir -p "$ctx/demo"
  cp "$ROOT/images/demo/Dockerfile" "$ctx/demo/"
  cp "$ROOT/target/static/x86_64-unknown-linux-gnu/release/demo" "$ctx/demo/demo"
  build_image "$ctx/demo" "$DEMO_IMAGE:$VERSION" "$DEMO_IMAGE:latest"

  # HAProxy from Debian, laid out like the official image, with busybox as its shell.
  rm -rf "$ctx/haproxy" && mkdir -p "$ctx/haproxy/rootfs"
  copy_with_libs /usr/sbin/haproxy "$ctx/haproxy/rootfs" /usr/local/sbin/haproxy
  add_busybox "$ctx/haproxy/rootfs"
  cp "$ROOT/images/haproxy/Dockerfile" "$ROOT/images/haproxy/docker-entrypoint.sh" "$ctx/haproxy/"
  build_image "$ctx/haproxy" "$HAPROXY_IMAGE"

  # Consul 1.8.7, as the "run Consul for me" default of the flows.
  rm -rf "$ctx/consul" && mkdir -p "$ctx/consul/rootfs"
  copy_with_libs "$(consul_bin)" "$ctx/consul/rootfs" /bin/consul
  add_busybox "$ctx/consul/rootfs"
  cp "$ROOT/images/consul/Dockerfile" "$ctx/consul/"
  build_image "$ctx/consul" "$CONSUL_IMAGE"
}

# The other engines get the demo and the proxy from the first one (no registry to pull from).
# Engine b: the tests put the services on one engine and the proxy on the other, both ways.
# Engine c and the Swarm nodes run the demo as services and the proxy.
engines_load_images() {
  local image id sock sockets=("$ENGINE_B_SOCK" "$ENGINE_C_SOCK") i
  for i in "${NODES[@]}"; do
    ! node_docker "$i" version >/dev/null 2>&1 || sockets+=("$(node_sock "$i")")
  done
  for sock in "${sockets[@]}"; do
    for image in "$DEMO_IMAGE:$VERSION" "$DEMO_IMAGE:latest" "$HAPROXY_IMAGE"; do
      id=$(docker image inspect -f '{{.Id}}' "$image")
      if [ "$(docker -H "unix://$sock" image inspect -f '{{.Id}}' "$image" 2>/dev/null)" != "$id" ]; then
        log "loading $image into unix://$sock"
        docker save "$image" | docker -H "unix://$sock" load -q >/dev/null ||
          die "loading $image into unix://$sock failed"
      fi
    done
  done
}

# A static busybox as /bin/sh and the usual tools, plus the files a user lookup needs.
add_busybox() {
  local rootfs=$1 tool
  install -D -m 755 /bin/busybox "$rootfs/bin/busybox"
  for tool in sh cat ls ps kill wget nc sleep mkdir rm grep sed chown chmod id cp mv env test; do
    ln -sf busybox "$rootfs/bin/$tool"
  done
  mkdir -p "$rootfs/etc" "$rootfs/tmp" && chmod 1777 "$rootfs/tmp"
}

# --- the commands --------------------------------------------------------------------------------

print_env() {
  cat <<EOF
export DOCKER_HOST=unix:///var/run/docker.sock
export CONSUL_HTTP_ADDR=http://$CONSUL_ADDR
export DOCKERFLOW_DEMO_IMAGE=$DEMO_IMAGE:$VERSION
export DOCKERFLOW_HAPROXY_IMAGE=$HAPROXY_IMAGE
export DOCKERFLOW_CONSUL_IMAGE=$CONSUL_IMAGE
export DOCKERFLOW_ENGINE_B_HOST=unix://$ENGINE_B_SOCK
export DOCKERFLOW_ENGINE_B_TLS_HOST=tcp://127.0.0.1:$ENGINE_B_TLS_PORT
export DOCKERFLOW_ENGINE_C_HOST=unix://$ENGINE_C_SOCK
export DOCKERFLOW_NODES_HOST=unix://$(node_sock 0)
export DOCKERFLOW_NODES_NETNS=dockerflow-n0
export DOCKERFLOW_NODES_NET=$NODES_NET
export DOCKERFLOW_TLS_DIR=$STATE/tls
export DOCKERFLOW_COMPOSE_PLUGIN=$COMPOSE_PLUGIN
EOF
}

up() {
  preflight
  local t0=$SECONDS
  engine_up
  consul_up
  compose_install
  images_up
  engines_load_images
  print_env >"$STATE/env"
  log "up in $((SECONDS - t0)) s; environment for the tests ($STATE/env):"
  print_env
}

stop_pid() { # pidfile comm what
  if pid_alive "$1" "$2"; then
    local pid
    pid=$(cat "$1")
    log "stopping $3 (PID $pid)"
    kill "$pid"
    wait_for 30 bash -c "! kill -0 $pid" || { log "$3 did not stop in 30 s, killing PID $pid"; kill -9 "$pid"; }
  fi
  rm -f "$1"
}

down() {
  preflight
  stop_pid "$STATE/consul.pid" consul consul
  nodes_down
  stop_pid "$STATE/dockerd-c.pid" dockerd "the third dockerd (Swarm)"
  ! ip link show "$ENGINE_C_BRIDGE" >/dev/null 2>&1 || ip link del "$ENGINE_C_BRIDGE"
  stop_pid "$STATE/dockerd-b.pid" dockerd "the second dockerd"
  stop_pid "$STATE/dockerd.pid" dockerd dockerd
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  env) print_env ;;
  images) preflight && engine_main_up && consul_install && images_up ;;
  node)
    preflight
    case "${2:-}:${3:-}" in
      stop:[12]) node_stop "$3" ;;
      start:[12]) node_start "$3" ;;
      *) echo "usage: $0 node stop|start 1|2 (a worker of the three-node Swarm)" >&2; exit 2 ;;
    esac ;;
  *) echo "usage: $0 up|down|env|images|node" >&2; exit 2 ;;
esac
