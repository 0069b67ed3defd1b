#!/bin/bash
# Enrolment rate of one server build: `serve` on a fresh SQLite file, N devices enrolled by
# long-poll-fleet.js (100 at a time), timed until every device has sent its first poll.
# Two trees so the server can be bisected while the fleet stays the same:
#   bench/enrolment-rate.sh <server tree> <fleet tree> <N> [serve options...]
# Each tree must be built (dist/). Prints `rate=<devices per second>`. On SQLite unless
# TWD_ENROLMENT_PG names a PostgreSQL server (postgres://…/postgres): then a fresh database there.
set -euo pipefail
server=$(realpath "$1"); fleet=$(realpath "$2"); count=$3; shift 3
dir=$(mktemp -d "${TMPDIR:-/tmp}/twd-enrolment-XXXX")
port=$((20000 + RANDOM % 10000))
cleanup() {
  kill "${fleet_pid:-}" "${server_pid:-}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"
  if [ -n "${name:-}" ]; then psql "$TWD_ENROLMENT_PG" -qc "DROP DATABASE IF EXISTS $name"; fi
}
trap cleanup EXIT
db="$dir/t.db"
if [ -n "${TWD_ENROLMENT_PG:-}" ]; then
  name="twd_enrolment_$$"
  psql "$TWD_ENROLMENT_PG" -qc "CREATE DATABASE $name"
  db="${TWD_ENROLMENT_PG%/*}/$name"
fi
cd "$server"
token=$(node bin/teamwork-devices.js enrollment-token create --db "$db" --tenant 5e7c1a2b-3d4e-4f50-8a61-b2c3d4e5f607 | tail -1)
node bin/teamwork-devices.js serve --db "$db" --port "$port" --log-level warn "$@" > "$dir/serve.log" 2>&1 &
server_pid=$!
until grep -q . "$dir/serve.log" 2>/dev/null || curl -s "http://127.0.0.1:$port/healthz" > /dev/null; do sleep 0.2; done
started=$(date +%s.%N)
cd "$fleet"
node dist/bench/long-poll-fleet.js "http://127.0.0.1:$port" "$token" "$count" 100 > "$dir/fleet.log" 2>&1 &
fleet_pid=$!
until grep -q '"ready"' "$dir/fleet.log"; do
  kill -0 "$fleet_pid" 2>/dev/null || { echo "the fleet stopped:"; tail -5 "$dir/fleet.log"; exit 1; }
  sleep 0.2
done
ended=$(date +%s.%N)
echo "server=$server fleet=$fleet devices=$count seconds=$(echo "$ended - $started" | bc) rate=$(echo "$count / ($ended - $started)" | bc)"
