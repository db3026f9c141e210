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
#   scripts/corpus.sh extract /tmp/compose-go/loader /tmp/cg-inline   (then DOCKERFLOW_CORPUS=...)
#
# DOCKERFLOW_CORPUS_ALL=1 takes every *.yaml / *.yml file as a project (compose-go's
# loader/testdata names its fixtures freely).
#
# Prints one line per project: equal / differ / we fail / compose fails / both fail, then the
# counts. Compose runs under a memory and time limit (alias bombs make it eat all memory).
set -u

# `scripts/corpus.sh extract GO_DIR DEST`: every Go raw string holding a `services:` section in
# GO_DIR's *_test.go files (compose-go's loader tests) becomes DEST/<file>-<n>/compose.yaml.
if [ "${1:-}" = extract ]; then
  src=${2:?extract GO_DIR DEST} dest=${3:?extract GO_DIR DEST}
  mkdir -p "$dest"
  python3 - "$src" "$dest" <<'PY'
import os, re, sys
src, dest = sys.argv[1], sys.argv[2]
n = 0
for root, _, files in os.walk(src):
    for f in sorted(files):
        if not f.endswith("_test.go"):
            continue
        text = open(os.path.join(root, f), encoding="utf-8").read()
        for i, body in enumerate(re.findall(r"`([^`]*)`", text)):
            if re.search(r"^\s*services:", body, re.M) and "\n" in body:
                d = os.path.join(dest, f"{f[:-3]}-{i}")
                os.makedirs(d, exist_ok=True)
                open(os.path.join(d, "compose.yaml"), "w").write(body)
                n += 1
print(f"{n} fixtures in {dest}")
PY
  exit 0
fi
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
  else
    d=$(diff <(norm "$theirs") <(norm "$back") || true)
    d=$(grep '^[<>]' <<<"$d" | sed -n 1,4p | tr '\n' ' ' || true)
    verdict="differ: ${d:0:300}"
  fi
  count[${verdict%%:*}]=$(( ${count[${verdict%%:*}]:-0} + 1 ))
  printf '%-60s %s\n' "$rel" "$verdict" >>"$out"
done < <(if [ "${DOCKERFLOW_CORPUS_ALL:-}" = 1 ]; then
  find "$corpus" -type f \( -name '*.yaml' -o -name '*.yml' \)
else
  find "$corpus" -type f \( -name compose.yaml -o -name compose.yml -o -name docker-compose.yml -o -name docker-compose.yaml \)
fi | sort)
for k in "equal" "differ" "we fail" "compose fails" "both fail"; do
  printf '%-14s %s\n' "$k" "${count[$k]:-0}" >>"$out"
done
