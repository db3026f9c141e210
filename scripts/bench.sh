#!/usr/bin/env bash
# Benchmarks that print figures (not timed tests). One command, one table.
#
#   scripts/bench.sh                every benchmark, then one summary table (docs/benchmarks.md)
#   scripts/bench.sh handshake      the plugin metadata handshake vs docker compose v2's
#   scripts/bench.sh compose-load   loading a 200-service project vs `docker compose config`
#   scripts/bench.sh deploy         `docker flow deploy --scale=10` vs `docker compose up -d --scale`
#   scripts/bench.sh switch         requests lost while releases switch under load, vs compose
#   scripts/bench.sh swarm          the same switch with the releases as Swarm services (engine c)
#   scripts/bench.sh swarm-nodes    the same on the three-node Swarm: tasks on two workers
#
# Run it on an otherwise idle machine; figures are medians over many runs. `deploy` and `switch`
# need the test bed (scripts/testbed.sh up). Their knobs, from the environment:
#   BENCH_CYCLES=10        deploy+proxy+stop-old cycles of `switch` (and compose recreations)
#   SWARM_CYCLES=10        switches of `swarm` and of `swarm-nodes`
#   ONE_RUN_CYCLES=BENCH_CYCLES  `deploy --flow=proxy --flow=stop-old` cycles (one run each)
#   SCALE_CYCLES=3         scale +2 / scale -2 cycles of `switch`, each followed by `proxy`
#   RELOAD_CYCLES=1        scale +4 / scale -4 cycles of `switch` (past HAProxy's pre-allocated
#                          server slots, so a reload), measured apart; 0 skips them
#   BENCH_DEPLOY_RUNS=3    runs of each side of `deploy`
#   BENCH_THREADS=2        load threads per client kind (new connection, keep-alive)
#   BENCH_RATE=100         requests/s per load thread
#   BENCH_LOG_DIR=DIR      keep the load generator's failure logs and the phase timelines there
# Traffic goes to 127.0.0.1 only; everything created (containers, networks, Consul keys and
# registrations, all named dfbench-<pid>-...) is removed on exit, also on Ctrl-C.
set -eEuo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
# A command that fails where errexit is in force ends the script: say which one and where, or
# it ends without a word. Where errexit is off (a condition, `set +e`, a command substitution),
# failures are expected and left alone. (errtrace, `set -E`: also inside functions.)
on_err() { # line
  local rc=$? where="line $1 in ${FUNCNAME[1]}" i
  [[ $- == *e* ]] || return "$rc"
  for ((i = 2; i < ${#FUNCNAME[@]}; i++)); do where+=", called from line ${BASH_LINENO[i - 1]} in ${FUNCNAME[i]}"; done
  printf 'bench: error: `%s` failed (status %s) at %s\n' "$BASH_COMMAND" "$rc" "$where" >&2
  exit "$rc"
}
trap 'on_err "$LINENO"' ERR
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
  SUM_HS=("$o" "$c")
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
  SUM_LOAD=("$o" "$c")
  printf '%-34s %12s %12s %10s\n' "load a 200-service project" "docker flow" "compose v2" "ratio"
  printf '%-34s %12.2f %12.2f %9.1fx\n' "  median wall time (ms)" "$o" "$c" "$(echo "$c / $o" | bc -l)"
  rm -rf "$dir"
}

# --- deploy and switch: docker flow on the test bed ------------------------------------------
#
# Every project is `dfbench-<pid>-<tag>`, in a temp dir, with the plugin in a temp DOCKER_CONFIG;
# its proxy is `<project>-proxy`. bench_cleanup removes all of them (containers, networks,
# volumes, Consul keys and agent registrations) and ends the processes this script started, by
# PID, on every exit (Ctrl-C included).

BENCH_TMP=
BENCH_CFG=
LOAD=
PROJECT=
PORT=
BENCH_PIDS=()
BENCH_PROJECTS=()
BENCH_SWARM_PROJECTS=()
BENCH_PORTS=()

die() { echo "bench: $*" >&2; exit 1; }

bed_setup() {
  [ -z "$BENCH_TMP" ] || return 0
  need jq jq
  need curl curl
  need ss iproute2
  export LC_ALL=C # EPOCHREALTIME with a decimal point
  if [ -z "${CONSUL_HTTP_ADDR:-}" ] || [ -z "${DOCKERFLOW_DEMO_IMAGE:-}" ] || [ -z "${DOCKERFLOW_HAPROXY_IMAGE:-}" ]; then
    eval "$(scripts/testbed.sh env)"
  fi
  # Only our settings reach docker flow and compose.
  local v
  for v in $(compgen -e | grep -E '^(FLOW_|COMPOSE_)' || true); do unset "$v"; done
  docker info >/dev/null 2>&1 || die "no Docker engine at ${DOCKER_HOST:-the default socket}: run scripts/testbed.sh up"
  curl -fsS --max-time 3 "$CONSUL_HTTP_ADDR/v1/status/leader" >/dev/null 2>&1 ||
    die "Consul does not answer at $CONSUL_HTTP_ADDR: run scripts/testbed.sh up"
  docker image inspect "$DOCKERFLOW_DEMO_IMAGE" "$DOCKERFLOW_HAPROXY_IMAGE" >/dev/null 2>&1 ||
    die "images $DOCKERFLOW_DEMO_IMAGE and $DOCKERFLOW_HAPROXY_IMAGE missing: run scripts/testbed.sh up"
  docker compose version >/dev/null 2>&1 || die "docker compose v2 missing: run scripts/testbed.sh up"
  cargo build --release -q --bin docker-flow
  cargo build --release -q -p bench-load
  LOAD=$PWD/target/release/bench-load
  # A trap runs inside whatever redirection was active when the signal came (a phase's log):
  # fd 9 keeps the script's own stderr for the message.
  exec 9>&2
  trap bench_cleanup EXIT
  trap 'echo "bench: interrupted, removing what it created" >&9; exit 130' INT TERM
  BENCH_TMP=$(mktemp -d /tmp/dfbench.XXXXXX)
  BENCH_CFG=$BENCH_TMP/docker-config
  mkdir -p "$BENCH_CFG/cli-plugins"
  ln -s "$PWD/target/release/docker-flow" "$BENCH_CFG/cli-plugins/docker-flow"
}

bench_cleanup() {
  local rc=$? pid p
  trap - EXIT INT TERM
  for pid in "${BENCH_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${BENCH_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  for p in "${BENCH_PROJECTS[@]}"; do remove_project "$p"; done
  for p in "${BENCH_SWARM_PROJECTS[@]}"; do remove_project ${p% *} "${p#* }"; done
  [ -z "$BENCH_TMP" ] || rm -rf "$BENCH_TMP"
  exit "$rc"
}

# A background process of ours: remembered for the cleanup until waited for.
track() { BENCH_PIDS+=("$1"); }
reap() { # pid: wait for it and forget it; returns its status
  local pid=$1 rc=0 kept=() q
  wait "$pid" || rc=$?
  for q in "${BENCH_PIDS[@]}"; do [ "$q" = "$pid" ] || kept+=("$q"); done
  BENCH_PIDS=("${kept[@]}")
  return "$rc"
}

free_port() { # sets PORT to a free 127.0.0.1 port not handed out before
  local p
  while :; do
    p=$((20000 + RANDOM % 20000))
    [[ " ${BENCH_PORTS[*]} " == *" $p "* ]] && continue
    [ -z "$(ss -Htln "sport = :$p")" ] && break
  done
  BENCH_PORTS+=("$p")
  PORT=$p
}

# A fresh project dir with the demo as service `app`: new_project TAG health|none [HOST_PORT].
# Sets PROJECT. `none` disables the image's healthcheck; HOST_PORT publishes 8080 on 127.0.0.1.
new_project() {
  local tag=$1 health=$2 hostport=${3:-}
  PROJECT=dfbench-$$-$tag
  BENCH_PROJECTS+=("$PROJECT")
  mkdir -p "$BENCH_TMP/$PROJECT"
  {
    echo "services:"
    echo "  app:"
    echo "    image: $DOCKERFLOW_DEMO_IMAGE"
    echo "    environment:"
    echo "      RELEASE: \${RELEASE:-v1}"
    echo "    expose: [\"8080\"]"
    [ -z "$hostport" ] || echo "    ports: [\"127.0.0.1:$hostport:8080\"]"
    if [ "$health" = health ]; then
      echo "    healthcheck:"
      echo "      test: [\"CMD\", \"/demo\", \"health\"]"
      echo "      interval: 1s"
      echo "      timeout: 2s"
      echo "      retries: 2"
    else
      echo "    healthcheck:"
      echo "      disable: true"
    fi
  } >"$BENCH_TMP/$PROJECT/compose.yaml"
}

remove_project() { # project [docker host]
  local p=$1 ids id
  local -a d=(docker)
  [ -z "${2:-}" ] || d=(docker -H "$2")
  if [ -n "${2:-}" ]; then # a Swarm manager: the releases are services
    ids=$("${d[@]}" service ls -q --filter "label=com.docker.stack.namespace=$p" 2>/dev/null || true)
    [ -z "$ids" ] || "${d[@]}" service rm $ids >/dev/null 2>&1 || true
  fi
  ids=$("${d[@]}" ps -aq --filter "label=com.docker.compose.project=$p" 2>/dev/null || true)
  [ -z "$ids" ] || "${d[@]}" rm -f -v $ids >/dev/null 2>&1 || true
  "${d[@]}" rm -f -v "$p-proxy" >/dev/null 2>&1 || true
  ids=$("${d[@]}" network ls -q --filter "label=com.docker.compose.project=$p" 2>/dev/null || true)
  [ -z "$ids" ] || "${d[@]}" network rm $ids >/dev/null 2>&1 || true
  ids=$("${d[@]}" volume ls -q --filter "label=com.docker.compose.project=$p" 2>/dev/null || true)
  [ -z "$ids" ] || "${d[@]}" volume rm $ids >/dev/null 2>&1 || true
  curl -fsS --max-time 5 -X DELETE "$CONSUL_HTTP_ADDR/v1/kv/docker-flow/$p-app?recurse" >/dev/null 2>&1 || true
  for id in $(curl -fsS --max-time 5 "$CONSUL_HTTP_ADDR/v1/agent/services" 2>/dev/null |
    jq -r --arg p "$p-app-" 'keys[] | select(startswith($p))' 2>/dev/null || true); do
    curl -fsS --max-time 5 -X PUT "$CONSUL_HTTP_ADDR/v1/agent/service/deregister/$id" >/dev/null 2>&1 || true
  done
}

# docker flow in a project dir: flow PROJECT PROXY_PORT RELEASE args…
flow() {
  local project=$1 port=$2 release=$3
  shift 3
  (cd "$BENCH_TMP/$project" && env DOCKER_CONFIG="$BENCH_CFG" RELEASE="$release" \
    ${BENCH_DOCKER_HOST:+DOCKER_HOST="$BENCH_DOCKER_HOST"} \
    FLOW_PROJECT="$project" FLOW_TARGET=app FLOW_SERVICE_PATH=/demo \
    FLOW_CONSUL_ADDRESS="$CONSUL_HTTP_ADDR" FLOW_SKIP_PULL_TARGET=true \
    FLOW_PROXY_IMAGE="$DOCKERFLOW_HAPROXY_IMAGE" FLOW_PROXY_NAME="$project-proxy" \
    FLOW_PROXY_HTTP_PORT="$port" FLOW_PROXY_BIND_ADDRESS=127.0.0.1 FLOW_PROXY_HOST="127.0.0.1:$port" \
    docker flow "$@")
}

# docker compose on a project: compose PROJECT RELEASE args…
compose() {
  local project=$1 release=$2
  shift 2
  env DOCKER_CONFIG="$BENCH_CFG" RELEASE="$release" \
    docker compose -p "$project" -f "$BENCH_TMP/$project/compose.yaml" "$@"
}

running() { docker ps -q --filter "label=com.docker.compose.project=$1" --filter status=running | wc -l; }

# Each line of stdin, prefixed with the unix time it arrived.
# deploy, proxy and stop-old in one docker flow run, its JSON events stamped on arrival.
one_run() { # project port release
  flow "$1" "$2" "$3" deploy --flow=proxy --flow=stop-old --format json | stamp >"$BENCH_TMP/one-run.log"
}

# COUNT runs of deploy+proxy+stop-old in one docker flow run (releases r1…), each watched by a
# poller from before it starts: ONE_LAT gets the switch latencies (the deploy's `done` event to
# the first 200 of the new release), ONE_CMD the runs' wall times.
ONE_LAT=() ONE_CMD=()
one_run_cycles() { # project port count label-suffix
  local p=$1 port=$2 count=$3 suffix=$4 c rel wpid first polls healthy
  ONE_LAT=() ONE_CMD=()
  for c in $(seq 1 "$count"); do
    rel=r$c
    "${LOAD_NS[@]}" "$LOAD" watch --port "$port" --release "$rel" --max-seconds 120 --pause-ms 1 >"$BENCH_TMP/watch" &
    wpid=$!
    track "$wpid"
    phase "deploy+proxy+stop-old $rel$suffix" one_run "$p" "$port" "$rel"
    ONE_CMD+=("$(sub "$PHASE_T1" "$PHASE_T0")")
    reap "$wpid" || die "users never reached $rel through the proxy"
    read -r first polls <"$BENCH_TMP/watch"
    healthy=$(awk '/"event":"done"/ && /"flow":"deploy"/ { print $1; exit }' "$BENCH_TMP/one-run.log")
    [ -n "$healthy" ] || die "no deploy done event in $BENCH_TMP/one-run.log"
    ONE_LAT+=("$(awk -v f="$first" -v h="$healthy" 'BEGIN { printf "%.3f", f / 1e6 - h }')")
  done
}

stamp() { local l; while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done; }

sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
pct() { # p values…: nearest-rank percentile
  local p=$1
  shift
  printf '%s\n' "$@" | sort -g | awk -v p="$p" '{ a[NR] = $1 } END { i = int(p * NR); if (i < p * NR) i++; if (i < 1) i = 1; print a[i] }'
}

deploy_side() { # flow|compose run: appends to DEPLOY_FLOW / DEPLOY_RUNNING / DEPLOY_COMPOSE
  local side=$1 run=$2 p log t0 t1 last n
  if [ "$side" = flow ]; then
    new_project "d$run-flow" none
    p=$PROJECT
    log=$BENCH_TMP/$p.log
    free_port
    t0=$EPOCHREALTIME
    if ! flow "$p" "$PORT" v1 deploy --scale=10 2>&1 | stamp >"$log"; then
      cat "$log" >&2
      die "docker flow deploy --scale=10 failed"
    fi
    t1=$EPOCHREALTIME
    # The last `started <container>` line: all 10 run; the rest is Consul's TCP check.
    last=$(awk '/: started /{ t = $1 } END { print t }' "$log")
    DEPLOY_FLOW+=("$(sub "$t1" "$t0")")
    [ -z "$last" ] || DEPLOY_RUNNING+=("$(sub "$last" "$t0")")
  else
    new_project "d$run-compose" none
    p=$PROJECT
    log=$BENCH_TMP/$p.log
    t0=$EPOCHREALTIME
    compose "$p" v1 up -d --scale app=10 app >"$log" 2>&1 || { cat "$log" >&2; die "docker compose up failed"; }
    t1=$EPOCHREALTIME
    DEPLOY_COMPOSE+=("$(sub "$t1" "$t0")")
  fi
  n=$(running "$p")
  [ "$n" = 10 ] || die "$side run $run: $n containers running, not 10"
  remove_project "$p"
}

deploy_bench() {
  bed_setup
  local runs=${BENCH_DEPLOY_RUNS:-3} i f c r
  DEPLOY_FLOW=()
  DEPLOY_RUNNING=()
  DEPLOY_COMPOSE=()
  for i in $(seq 1 "$runs"); do
    # Alternate which side goes first, so neither always runs on the warmer engine.
    if [ $((i % 2)) = 1 ]; then
      deploy_side flow "$i"
      deploy_side compose "$i"
    else
      deploy_side compose "$i"
      deploy_side flow "$i"
    fi
  done
  f=$(median "${DEPLOY_FLOW[@]}")
  c=$(median "${DEPLOY_COMPOSE[@]}")
  SUM_DEPLOY=("$f" "$c" "$runs")
  printf '%-42s %11s %11s %12s\n' "deploy 10 instances, no healthcheck" "docker flow" "compose v2" "flow/compose"
  printf '%-42s %11.2f %11.2f %12.2f\n' "  median wall time of $runs runs (s)" "$f" "$c" "$(echo "$f / $c" | bc -l)"
  if [ ${#DEPLOY_RUNNING[@]} -gt 0 ]; then
    r=$(median "${DEPLOY_RUNNING[@]}")
    printf '%-42s %11.2f %11.2f %12.2f\n' "  of which until all 10 run (s)" "$r" "$c" "$(echo "$r / $c" | bc -l)"
    printf '%-42s %11.2f %11s\n' "  of which Consul TCP check (s)" "$(sub "$f" "$r")" "-"
  fi
}

# Load in the background at 127.0.0.1:PORT until stop_load: sets LOAD_PID, LOAD_DIR.
start_load() { # port name max-seconds
  local port=$1 name=$2 secs=$3 threads=${BENCH_THREADS:-2} rate=${BENCH_RATE:-100}
  LOAD_DIR=$BENCH_TMP/load-$name
  mkdir -p "$LOAD_DIR"
  "${LOAD_NS[@]}" "$LOAD" load --port "$port" --threads "$threads" --rate "$rate" --max-seconds "$secs" \
    --max-requests "$((rate * secs))" --stop-file "$LOAD_DIR/stop" \
    >"$LOAD_DIR/counts" 2>"$LOAD_DIR/failures" &
  LOAD_PID=$!
  track "$LOAD_PID"
}

# Stops the load, sets REQUESTS, FAIL_CLOSE, FAIL_KEEP, FAIL_DETAIL.
stop_load() {
  touch "$LOAD_DIR/stop"
  reap "$LOAD_PID" || die "the load generator failed: $(cat "$LOAD_DIR/failures")"
  local field='{ for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] } }'
  REQUESTS=$(awk "$field"' { n += v["ok"] + v["failed"] } END { print n }' "$LOAD_DIR/counts")
  FAIL_CLOSE=$(awk "$field"' $1 == "close" { print v["failed"] }' "$LOAD_DIR/counts")
  FAIL_KEEP=$(awk "$field"' $1 == "keepalive" { print v["failed"] }' "$LOAD_DIR/counts")
  KEEP_CONNS=$(awk "$field"' $1 == "keepalive" { print v["conns"] }' "$LOAD_DIR/counts")
  FAIL_DETAIL=$(awk '$3 != "failed=0" { print "    " $0 }' "$LOAD_DIR/counts")
}

# Runs a command as a named phase of the timeline (to place failures); dies if it fails.
phase() { # label command…
  local label=$1 t0
  shift
  t0=$EPOCHREALTIME
  if ! "$@" >>"$BENCH_TMP/commands.log" 2>&1; then
    tail -n 30 "$BENCH_TMP/commands.log" >&2
    die "$label failed"
  fi
  PHASE_T0=$t0
  PHASE_T1=$EPOCHREALTIME
  printf '%s %s %s\n' "$t0" "$PHASE_T1" "$label" >>"$BENCH_TMP/phases"
}

# Which phase each logged failure fell in: "  N × kind reason during LABEL".
failures_by_phase() { # load-dir
  awk 'FNR == NR { s[NR] = $1; e[NR] = $2; $1 = $2 = ""; l[NR] = substr($0, 3); n = NR; next }
       $1 == "fail" {
         t = substr($2, 3) + 0; where = "between commands"
         for (i = 1; i <= n; i++) if (t >= s[i] && t <= e[i]) { where = l[i]; break }
         if (where == "between commands") for (i = 1; i <= n; i++) if (t > e[i]) where = "after " l[i]
         kind = $3; sub(/^kind=/, "", kind)
         reason = $4; sub(/^reason=/, "", reason); if (reason == "status") reason = reason " " $5
         c[kind " " reason " during " where]++
       }
       END { for (k in c) printf "    %d x %s\n", c[k], k }' "$BENCH_TMP/phases" "$1/failures" | sort -k3
}

switch_bench() {
  bed_setup
  local k=${BENCH_CYCLES:-10} s=${SCALE_CYCLES:-3} reloads=${RELOAD_CYCLES:-1}
  local threads=${BENCH_THREADS:-2} rate=${BENCH_RATE:-100}
  local secs p port c rel healthy first polls lat=() cmd=() wpid started rows=() notes=()
  secs=$((120 + 40 * (k + 2 * s + 2 * reloads)))
  : >"$BENCH_TMP/phases"
  started=$SECONDS
  row() { # label requests fail-new fail-keep keep-conns lat50 lat99 cmd50 cmd99
    rows+=("$(printf '%-38s %9s %9s %10s %9s %8s %8s %8s %8s' "$@")")
  }
  keep_logs() { # name
    [ -z "${BENCH_LOG_DIR:-}" ] || { mkdir -p "$BENCH_LOG_DIR" && cp "$BENCH_TMP/phases" "$BENCH_LOG_DIR/$1-phases" &&
      cp "$LOAD_DIR/failures" "$BENCH_LOG_DIR/$1-failures" && cp "$LOAD_DIR/counts" "$BENCH_LOG_DIR/$1-counts"; }
  }
  failure_notes() { # title
    local by
    by=$(failures_by_phase "$LOAD_DIR" | sed -E 's/ (during|after) (.*) \(?[vbr]?[0-9]+\)?$/ \1 \2/' |
      awk '{ n = $1; $1 = ""; c[$0] += n } END { for (k in c) printf "    %d x%s\n", c[k], substr(k, 3) }' | sort -k3)
    [ -z "$FAIL_DETAIL$by" ] || notes+=("  $1:" "$FAIL_DETAIL" "$by")
  }

  # docker flow: the demo behind its proxy, switched K times and scaled S times, under load.
  free_port
  port=$PORT
  new_project sw health
  p=$PROJECT
  phase "first deploy" flow "$p" "$port" v0 deploy --flow=proxy
  "$LOAD" watch --port "$port" --release v0 --max-seconds 30 >/dev/null || die "the proxy does not serve v0"
  start_load "$port" flow "$secs"
  for c in $(seq 1 "$k"); do
    rel=v$c
    phase "deploy $rel" flow "$p" "$port" "$rel" deploy
    healthy=$PHASE_T1
    # Users' view of the switch: a poller on the proxy from the moment the candidate is healthy.
    "$LOAD" watch --port "$port" --release "$rel" --max-seconds 60 --pause-ms 1 >"$BENCH_TMP/watch" &
    wpid=$!
    track "$wpid"
    phase "proxy $rel" flow "$p" "$port" "$rel" proxy
    cmd+=("$(sub "$PHASE_T1" "$PHASE_T0")")
    reap "$wpid" || die "users never reached $rel through the proxy"
    read -r first polls <"$BENCH_TMP/watch"
    lat+=("$(awk -v f="$first" -v h="$healthy" 'BEGIN { printf "%.3f", f / 1e6 - h }')")
    phase "stop-old $rel" flow "$p" "$port" "$rel" stop-old
  done
  for c in $(seq 1 "$s"); do
    phase "scale +2 ($c)" flow "$p" "$port" "v$k" scale +2
    phase "proxy after scale +2 ($c)" flow "$p" "$port" "v$k" proxy
    phase "scale -2 ($c)" flow "$p" "$port" "v$k" scale -2
    phase "proxy after scale -2 ($c)" flow "$p" "$port" "v$k" proxy
  done
  stop_load
  SUM_SWITCH=("$k" "$REQUESTS" "$((FAIL_CLOSE + FAIL_KEEP))" "$(pct 0.5 "${lat[@]}")" "$(pct 0.99 "${lat[@]}")")
  row "docker flow: $k switches, $s x scale +-2" "$REQUESTS" "$FAIL_CLOSE" "$FAIL_KEEP" "$KEEP_CONNS" \
    "$(pct 0.5 "${lat[@]}")" "$(pct 0.99 "${lat[@]}")" "$(pct 0.5 "${cmd[@]}")" "$(pct 0.99 "${cmd[@]}")"
  failure_notes "docker flow failures"
  keep_logs flow

  # Scaling past the pre-allocated server slots (4 for up to 4 instances) changes HAProxy's
  # structure: a seamless reload instead of Runtime API commands. Measured apart.
  if [ "$reloads" -gt 0 ]; then
    : >"$BENCH_TMP/phases"
    cmd=()
    start_load "$port" reload "$secs"
    for c in $(seq 1 "$reloads"); do
      phase "scale +4 ($c)" flow "$p" "$port" "v$k" scale +4
      cmd+=("$(sub "$PHASE_T1" "$PHASE_T0")")
      phase "proxy after scale +4 ($c)" flow "$p" "$port" "v$k" proxy
      phase "scale -4 ($c)" flow "$p" "$port" "v$k" scale -4
      cmd+=("$(sub "$PHASE_T1" "$PHASE_T0")")
      phase "proxy after scale -4 ($c)" flow "$p" "$port" "v$k" proxy
    done
    stop_load
    row "docker flow: $reloads x scale +-4 (reload)" "$REQUESTS" "$FAIL_CLOSE" "$FAIL_KEEP" "$KEEP_CONNS" \
      - - "$(pct 0.5 "${cmd[@]}")" "$(pct 0.99 "${cmd[@]}")"
    failure_notes "docker flow failures while scaling past the slots"
    keep_logs reload
  fi

  # The switch in one run, `deploy --flow=proxy --flow=stop-old`: the candidate turns healthy and
  # the proxy switches in the same process, whose shell in the proxy container was opened while
  # the candidate started. Switch latency: from the deploy's `done` event (the candidate is
  # healthy) to the first 200 of the new release.
  local one=${ONE_RUN_CYCLES:-$k}
  if [ "$one" -gt 0 ]; then
    : >"$BENCH_TMP/phases"
    start_load "$port" onerun "$secs"
    one_run_cycles "$p" "$port" "$one" ""
    lat=("${ONE_LAT[@]}")
    cmd=("${ONE_CMD[@]}")
    stop_load
    SUM_ONE_RUN=("$one" "$REQUESTS" "$((FAIL_CLOSE + FAIL_KEEP))" "$(pct 0.5 "${lat[@]}")" "$(pct 0.99 "${lat[@]}")")
    row "docker flow: $one x the three in one run" "$REQUESTS" "$FAIL_CLOSE" "$FAIL_KEEP" "$KEEP_CONNS" \
      "$(pct 0.5 "${lat[@]}")" "$(pct 0.99 "${lat[@]}")" "$(pct 0.5 "${cmd[@]}")" "$(pct 0.99 "${cmd[@]}")"
    failure_notes "docker flow failures, one-run switches"
    keep_logs one-run
  fi
  remove_project "$p"

  # Baseline: plain compose, the demo published on 127.0.0.1, recreated K times under load.
  : >"$BENCH_TMP/phases"
  free_port
  port=$PORT
  new_project base health "$port"
  p=$PROJECT
  phase "compose up b0" compose "$p" b0 up -d app
  "$LOAD" watch --port "$port" --release b0 --max-seconds 30 >/dev/null || die "the compose project does not serve b0"
  lat=()
  cmd=()
  start_load "$port" compose "$secs"
  for c in $(seq 1 "$k"); do
    rel=b$c
    phase "compose up --force-recreate $rel" compose "$p" "$rel" up -d --force-recreate app
    cmd+=("$(sub "$PHASE_T1" "$PHASE_T0")")
    healthy=$PHASE_T1
    "$LOAD" watch --port "$port" --release "$rel" --max-seconds 60 --pause-ms 1 >"$BENCH_TMP/watch" ||
      die "$rel never answered"
    read -r first polls <"$BENCH_TMP/watch"
    lat+=("$(awk -v f="$first" -v h="$healthy" 'BEGIN { printf "%.3f", f / 1e6 - h }')")
  done
  stop_load
  SUM_RECREATE=("$k" "$REQUESTS" "$((FAIL_CLOSE + FAIL_KEEP))" "$(pct 0.5 "${lat[@]}")" "$(pct 0.99 "${lat[@]}")")
  row "compose up --force-recreate: $k x" "$REQUESTS" "$FAIL_CLOSE" "$FAIL_KEEP" "$KEEP_CONNS" \
    "$(pct 0.5 "${lat[@]}")" "$(pct 0.99 "${lat[@]}")" "$(pct 0.5 "${cmd[@]}")" "$(pct 0.99 "${cmd[@]}")"
  failure_notes "compose failures"
  notes+=("  compose: each recreate refused or cut requests for ~$(awk -v f="$FAIL_CLOSE" -v r="$rate" -v t="$threads" -v k="$k" \
    'BEGIN { printf "%.2f", f / (r * t) / k }') s (new-connection failures / their request rate / $k)")
  keep_logs compose
  remove_project "$p"

  echo "switch under load: $k x (deploy, proxy, stop-old), $s x (scale +2, proxy, scale -2, proxy)"
  echo "  load: $threads new-connection + $threads keep-alive clients, $rate req/s each, GET /demo/hello on 127.0.0.1"
  printf '%-38s %9s %9s %10s %9s %8s %8s %8s %8s\n' "" "requests" "failed" "failed" "keep-alive" "switch" "switch" "command" "command"
  printf '%-38s %9s %9s %10s %9s %8s %8s %8s %8s\n' "" "" "new conn" "keep-alive" "conns" "p50 (s)" "p99 (s)" "p50 (s)" "p99 (s)"
  printf '%s\n' "${rows[@]}"
  printf '%s\n' "${notes[@]}" | grep -v '^$' || true
  echo "  (section took $((SECONDS - started)) s)"
}

# The same zero-loss check with the releases as Swarm services: on engine c of the test bed (a
# single-node Swarm manager), or on its three-node Swarm (`nodes`: two tasks on the workers, the
# proxy on the manager, the load sent from inside the manager's network namespace).
# `deploy --flow=proxy --flow=stop-old` SWARM_CYCLES times under load.
LOAD_NS=()
swarm_bench() { # c|nodes
  local on=$1
  bed_setup
  [ -n "${DOCKERFLOW_NODES_HOST:-}" ] || eval "$(scripts/testbed.sh env)"
  local host=$DOCKERFLOW_ENGINE_C_HOST label="Swarm" scale=1
  if [ "$on" = nodes ]; then
    host=$DOCKERFLOW_NODES_HOST label="Swarm, 3 nodes" scale=2
    LOAD_NS=(nsenter "--net=/run/netns/$DOCKERFLOW_NODES_NETNS")
  fi
  [ -n "$host" ] || die "no Swarm engine: run scripts/testbed.sh up"
  local k=${SWARM_CYCLES:-10} threads=${BENCH_THREADS:-2} rate=${BENCH_RATE:-100}
  local secs port p started=$SECONDS lat=() cmd=()
  secs=$((120 + 40 * k))
  : >"$BENCH_TMP/phases"
  free_port
  port=$PORT
  new_project "swarm-$on" health
  p=$PROJECT
  if [ "$on" = nodes ]; then
    printf '    deploy:\n      placement:\n        constraints: ["node.role == worker"]\n' >>"$BENCH_TMP/$p/compose.yaml"
  fi
  BENCH_SWARM_PROJECTS+=("$p $host")
  BENCH_DOCKER_HOST=$host
  phase "first deploy ($label)" flow "$p" "$port" r0 deploy --flow=proxy --scale="$scale"
  "${LOAD_NS[@]}" "$LOAD" watch --port "$port" --release r0 --max-seconds 60 >/dev/null || die "the proxy on $host does not serve r0"
  start_load "$port" "swarm-$on" "$secs"
  one_run_cycles "$p" "$port" "$k" " ($label)"
  lat=("${ONE_LAT[@]}")
  cmd=("${ONE_CMD[@]}")
  stop_load
  BENCH_DOCKER_HOST=
  LOAD_NS=()
  remove_project "$p" "$host"
  local sum=("$k" "$REQUESTS" "$((FAIL_CLOSE + FAIL_KEEP))" "$(pct 0.5 "${lat[@]}")" "$(pct 0.99 "${lat[@]}")")
  if [ "$on" = nodes ]; then SUM_NODES=("${sum[@]}"); else SUM_SWARM=("${sum[@]}"); fi
  echo "switch under load on $label ($host): $k x deploy --flow=proxy --flow=stop-old, releases as services ($scale task(s))"
  echo "  load: $threads new-connection + $threads keep-alive clients, $rate req/s each, GET /demo/hello on 127.0.0.1"
  printf '%-38s %9s %9s %10s %9s %8s %8s %8s %8s\n' "" "requests" "failed" "failed" "keep-alive" "switch" "switch" "command" "command"
  printf '%-38s %9s %9s %10s %9s %8s %8s %8s %8s\n' "" "" "new conn" "keep-alive" "conns" "p50 (s)" "p99 (s)" "p50 (s)" "p99 (s)"
  printf '%-38s %9s %9s %10s %9s %8s %8s %8s %8s\n' "docker flow on $label: $k switches" "$REQUESTS" "$FAIL_CLOSE" "$FAIL_KEEP" "$KEEP_CONNS" \
    "$(pct 0.5 "${lat[@]}")" "$(pct 0.99 "${lat[@]}")" "$(pct 0.5 "${cmd[@]}")" "$(pct 0.99 "${cmd[@]}")"
  echo "  (section took $((SECONDS - started)) s)"
}

# The two summary rows of a Swarm section: label, then its SUM_* (switches, requests, lost,
# p50, p99); nothing when the section did not run.
swarm_rows() { # label figures…
  local label=$1
  shift
  [ $# = 5 ] || return 0
  printf '| %-44s | %-22s | %-32s | %-18s |\n' "$label: requests lost ($1 switches)" "$3 of $2" "-" "-"
  printf '| %-44s | %-22s | %-32s | %-18s |\n' "$label: switch latency, p50 / p99" "$4 s / $5 s" "-" "-"
}

# The one table `scripts/bench.sh` ends with (docs/benchmarks.md shows it), from the figures the
# sections above left in SUM_*; "-" where a section did not run.
SUM_HS=() SUM_LOAD=() SUM_DEPLOY=() SUM_SWITCH=() SUM_RECREATE=() SUM_ONE_RUN=() SUM_SWARM=() SUM_NODES=()
summary() {
  local mem os
  mem=$(awk '/^MemTotal:/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)
  os=$(. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-linux}")
  echo "summary: $(date -u '+%F %H:%M UTC'), $(nproc) cores, $mem GiB, $os, Docker $(docker version -f '{{.Server.Version}}' 2>/dev/null || echo '?')"
  printf '| %-44s | %-22s | %-32s | %-18s |\n' "what" "docker flow" "docker compose v2" "ratio"
  printf '|%s|%s|%s|%s|\n' "----------------------------------------------" "------------------------" "----------------------------------" "--------------------"
  local a b
  if [ ${#SUM_HS[@]} = 2 ]; then
    a=${SUM_HS[0]} b=${SUM_HS[1]}
    printf '| %-44s | %-22s | %-32s | %-18s |\n' "metadata handshake, median" "$(printf '%.2f ms' "$a")" "$(printf '%.2f ms' "$b")" "$(printf '%.1fx faster' "$(echo "$b / $a" | bc -l)")"
  fi
  if [ ${#SUM_SWITCH[@]} = 5 ]; then
    local per_flow="-" per_compose="-" compose_lat="-"
    per_flow=$(awk -v f="${SUM_SWITCH[2]}" -v k="${SUM_SWITCH[0]}" 'BEGIN { printf "%.1f", f / k }')
    if [ ${#SUM_RECREATE[@]} = 5 ]; then
      per_compose="$(awk -v f="${SUM_RECREATE[2]}" -v k="${SUM_RECREATE[0]}" 'BEGIN { printf "%.1f", f / k }') (${SUM_RECREATE[2]} of ${SUM_RECREATE[1]}, ${SUM_RECREATE[0]} recreates)"
      compose_lat="${SUM_RECREATE[3]} s / ${SUM_RECREATE[4]} s"
    fi
    printf '| %-44s | %-22s | %-32s | %-18s |\n' "requests lost per switch (${SUM_SWITCH[0]} switches)" "$per_flow (${SUM_SWITCH[2]} of ${SUM_SWITCH[1]})" "$per_compose" "-"
    printf '| %-44s | %-22s | %-32s | %-18s |\n' "switch latency, proxy run alone, p50 / p99" "${SUM_SWITCH[3]} s / ${SUM_SWITCH[4]} s" "$compose_lat" "-"
  fi
  if [ ${#SUM_ONE_RUN[@]} = 5 ]; then
    printf '| %-44s | %-22s | %-32s | %-18s |\n' "switch latency, deploy --flow=proxy, p50 / p99" "${SUM_ONE_RUN[3]} s / ${SUM_ONE_RUN[4]} s" "-" "-"
    printf '| %-44s | %-22s | %-32s | %-18s |\n' "requests lost, one-run switches (${SUM_ONE_RUN[0]})" "${SUM_ONE_RUN[2]} of ${SUM_ONE_RUN[1]}" "-" "-"
  fi
  swarm_rows "on Swarm" "${SUM_SWARM[@]}"
  swarm_rows "on 3 Swarm nodes" "${SUM_NODES[@]}"
  if [ ${#SUM_DEPLOY[@]} = 3 ]; then
    a=${SUM_DEPLOY[0]} b=${SUM_DEPLOY[1]}
    printf '| %-44s | %-22s | %-32s | %-18s |\n' "deploy 10 instances, median of ${SUM_DEPLOY[2]}" "$(printf '%.2f s' "$a")" "$(printf '%.2f s' "$b")" "$(printf 'flow/compose %.2f' "$(echo "$a / $b" | bc -l)")"
  fi
  if [ ${#SUM_LOAD[@]} = 2 ]; then
    a=${SUM_LOAD[0]} b=${SUM_LOAD[1]}
    printf '| %-44s | %-22s | %-32s | %-18s |\n' "load a 200-service project, median" "$(printf '%.2f ms' "$a")" "$(printf '%.2f ms' "$b")" "$(printf '%.1fx faster' "$(echo "$b / $a" | bc -l)")"
  fi
}

case "${1:-all}" in
  handshake) handshake ;;
  compose-load) compose_load ;;
  deploy) deploy_bench ;;
  switch) switch_bench ;;
  swarm) swarm_bench c ;;
  swarm-nodes) swarm_bench nodes ;;
  all)
    handshake
    echo
    compose_load
    echo
    deploy_bench
    echo
    switch_bench
    echo
    swarm_bench c
    echo
    swarm_bench nodes
    echo
    summary
    ;;
  *) echo "usage: $0 [handshake|compose-load|deploy|switch|swarm|swarm-nodes]" >&2; exit 2 ;;
esac
