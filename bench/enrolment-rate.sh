#!/bin/bash
# Enrolment rate of one server build: `serve` on a fresh database, N devices enrolled by
# long-poll-fleet.js (100 at a time), timed until every device has sent its first poll.
# Two trees so the server can be bisected while the fleet stays the same:
#   bench/enrolment-rate.sh <server tree> <fleet tree> <N> [serve options...]
# Each tree must be built (dist/). Prints `rate=<devices per second>`.
#   TWD_ENROLMENT_PG=postgres://…/postgres   a fresh PostgreSQL database there instead of a SQLite file
#   TWD_ENROLMENT_REPLICAS=3                 that many replicas on it, device i enrolling on replica i mod 3
set -euo pipefail
server=$(realpath "$1"); fleet=$(realpath "$2"); count=$3; shift 3
replicas=${TWD_ENROLMENT_REPLICAS:-1}
dir=$(mktemp -d "${TMPDIR:-/tmp}/twd-enrolment-XXXX")
base_port=$((20000 + RANDOM % 10000))
server_pids=()
cleanup() {
  kill "${fleet_pid:-}" "${server_pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$dir"
  if [ -n "${name:-}" ]; then psql "$TWD_ENROLMENT_PG" -qc "DROP DATABASE IF EXISTS $name"; fi
}
trap cleanup EXIT
db="$dir/t.db"
if [ -n "${TWD_ENROLMENT_PG:-}" ]; then
  name="twd_enrolment_$$"
  psql "$TWD_ENROLMENT_PG" -qc "CREATE DATABASE $name"
  db="${TWD_ENROLMENT_PG%/*}/$name"
elif [ "$replicas" != 1 ]; then
  echo "replicas share a PostgreSQL database: set TWD_ENROLMENT_PG"; exit 1
fi
cd "$server"
token=$(node bin/teamwork-devices.js enrollment-token create --db "$db" --tenant 5e7c1a2b-3d4e-4f50-8a61-b2c3d4e5f607 | tail -1)
urls=()
for ((i = 0; i < replicas; i++)); do
  port=$((base_port + i))
  node bin/teamwork-devices.js serve --db "$db" --port "$port" --log-level warn "$@" > "$dir/serve-$i.log" 2>&1 &
  server_pids+=($!)
  until curl -sf "http://127.0.0.1:$port/healthz" > /dev/null; do
    kill -0 "${server_pids[$i]}" 2>/dev/null || { echo "replica $i stopped:"; tail -5 "$dir/serve-$i.log"; exit 1; }
    sleep 0.2
  done
  urls+=("http://127.0.0.1:$port")
done
started=$(date +%s.%N)
cd "$fleet"
node dist/bench/long-poll-fleet.js "$(IFS=,; echo "${urls[*]}")" "$token" "$count" 100 > "$dir/fleet.log" 2>&1 &
fleet_pid=$!
until grep -q '"ready"' "$dir/fleet.log" 2>/dev/null; do
  kill -0 "$fleet_pid" 2>/dev/null || { echo "the fleet stopped:"; tail -5 "$dir/fleet.log"; exit 1; }
  sleep 0.2
done
ended=$(date +%s.%N)
awk -v s="$started" -v e="$ended" -v n="$count" -v r="$replicas" -v server="$server" -v fleet="$fleet" \
  'BEGIN { printf "server=%s fleet=%s replicas=%d devices=%d seconds=%.2f rate=%d\n", server, fleet, r, n, e - s, n / (e - s) }'
