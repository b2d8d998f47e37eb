#!/usr/bin/env bash
# A soak run: a fresh SQLite database, one server (release build), LINKS rating links of
# one agency, RATE ratings a second for MINUTES minutes; prints the server's RSS every 30 s.
#   bash benches/soak/run.sh [MINUTES] [RATE] [LINKS]
# Environment: PORT (18095), DB (/tmp/soak.db), H (target/release/hailong).
set -euo pipefail
MINUTES=${1:-120} RATE=${2:-30} LINKS=${3:-200}
PORT=${PORT:-18095} DB=${DB:-/tmp/soak.db} H=${H:-target/release/hailong}
rm -f "$DB" "$DB-wal" "$DB-shm"
export DATABASE_URL="sqlite://$DB" HAILONG_RATE_LIMIT=off
"$H" migrate >/dev/null
KEY=$("$H" key create --role admin --name soak | tail -1)
"$H" serve --addr "127.0.0.1:$PORT" >/tmp/soak-server.log 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null' EXIT
for _ in $(seq 50); do curl -sf "127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
api() { curl -sf -H "Authorization: Bearer $KEY" -H 'Content-Type: application/json' "$@"; }
api -d '{"code":"SOAK","name":"Trung tâm Phục vụ hành chính công","parent":null}' \
  "127.0.0.1:$PORT/api/v1/agencies" >/dev/null
TOKENS=()
for _ in $(seq "$LINKS"); do
  TOKENS+=("$(api -d '{"agency":"SOAK"}' "127.0.0.1:$PORT/api/v1/links" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')")
done
python3 "$(dirname "$0")/soak.py" "$PORT" "$PID" "$MINUTES" "$RATE" "$KEY" "${TOKENS[@]}"
