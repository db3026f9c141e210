#!/usr/bin/env bash
# Compose parity on a corpus of real projects (issue 22): for every compose file under
# $DOCKERFLOW_CORPUS (one project per directory: compose.yaml, docker-compose.yml...), compare
#   theirs = docker compose config            (the original file)
#   back   = docker compose -f OUT config     (OUT = docker flow config's output)
# Both sides are normalised by Compose itself, so "equal" means docker flow loaded the project
# as Compose does AND its output loads back to the same project (round trip). One more
# normalisation (jq, below): keys sorted, and an empty `volume: {}` (Compose prints it for a
# short-syntax named volume, and it means nothing) left out. The JSON form is
# checked the same way with DOCKERFLOW_CORPUS_FORMAT=json.
#
# The corpus is not part of the repository (fetched projects are never committed): point
# DOCKERFLOW_CORPUS at an extracted copy, e.g. of docker/awesome-compose.
#
#   DOCKERFLOW_CORPUS=/tmp/awesome-compose scripts/corpus.sh [table-file]
#
# Prints one line per project: equal / differ / we fail / compose fails / both fail, then the
# counts. Compose runs under a memory and time limit (alias bombs make it eat all memory).
set -u
corpus=${DOCKERFLOW_CORPUS:?set DOCKERFLOW_CORPUS to a directory of compose projects}
format=${DOCKERFLOW_CORPUS_FORMAT:-yaml}
flow=${DOCKERFLOW_BIN:-$(cd "$(dirname "$0")/.." && pwd)/target/debug/docker-flow}
out=${1:-/dev/stdout}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# docker compose, bounded: 4 GiB of address space, 60 s.
dc() { (ulimit -v 4194304; timeout 60 docker compose "$@"); }

norm() { jq -S 'walk(if type == "object" and .volume == {} then del(.volume) else . end)' "$1"; }

declare -A count=()
[ "$out" = /dev/stdout ] || : >"$out"
while IFS= read -r file; do
  dir=$(dirname "$file")
  rel=${file#"$corpus"/}
  theirs=$tmp/theirs.json back=$tmp/back.json ours=$tmp/ours.$format
  t_ok=1 o_ok=1
  (cd "$dir" && dc -f "$file" config --format json >"$theirs" 2>"$tmp/t.err") || t_ok=0
  (cd "$dir" && timeout 60 "$flow" flow config -f "$file" --format "$format" >"$ours" 2>"$tmp/o.err") || o_ok=0
  if [ $t_ok = 0 ] && [ $o_ok = 0 ]; then verdict="both fail"
  elif [ $t_ok = 0 ]; then verdict="compose fails"
  elif [ $o_ok = 0 ]; then verdict="we fail: $(head -c 300 "$tmp/o.err" | tr '\n' ' ')"
  elif ! (cd "$dir" && dc -f "$ours" --project-directory "$dir" config --format json >"$back" 2>"$tmp/b.err"); then
    verdict="differ: output does not load back: $(head -c 300 "$tmp/b.err" | tr '\n' ' ')"
  elif cmp -s <(norm "$theirs") <(norm "$back"); then verdict="equal"
  else verdict="differ: $(diff <(norm "$theirs") <(norm "$back") | grep '^[<>]' | head -4 | tr '\n' ' ' | head -c 300)"
  fi
  count[${verdict%%:*}]=$(( ${count[${verdict%%:*}]:-0} + 1 ))
  printf '%-60s %s\n' "$rel" "$verdict" >>"$out"
done < <(find "$corpus" -type f \( -name compose.yaml -o -name compose.yml -o -name docker-compose.yml -o -name docker-compose.yaml \) | sort)
for k in "equal" "differ" "we fail" "compose fails" "both fail"; do
  printf '%-14s %s\n' "$k" "${count[$k]:-0}" >>"$out"
done
