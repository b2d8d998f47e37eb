#!/bin/bash
# Times pages of a running hailong as a signed-in demo administrator (docs/PERFORMANCE.md).
# usage: benches/pages.sh PORT PATH... ; each path is fetched once to warm up, then six times.
set -euo pipefail
P=$1; shift
J=$(mktemp); trap 'rm -f "$J"' EXIT
T=$(curl -s -c "$J" "localhost:$P/login" | grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//;s/"//')
curl -s -b "$J" -c "$J" -o /dev/null -d "csrf=$T&username=demo-admin&password=hailong-demo-admin" "localhost:$P/login"
for path in "$@"; do
  curl -s -b "$J" -o /dev/null "localhost:$P$path"
  printf '%s ' "$path"
  for _ in 1 2 3 4 5 6; do curl -s -b "$J" -o /dev/null -w '%{time_total} ' "localhost:$P$path"; done
  echo
done
