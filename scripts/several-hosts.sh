#!/usr/bin/env bash
# Tries several hosts on this machine: three `xpert-host` processes on one PostgreSQL database
# and one Redis (no containers), listening on 127.0.0.1:3001..3003 with one admin token. The
# first host installs the WeCom plugin; the others find the installation in the database when
# they start. Any host serves the API and the UI; each bot's socket is held by exactly one of
# them (its lease lives in Redis), and the Status tab on any host names the owner.
#
#   scripts/several-hosts.sh            # start; Ctrl-C stops all three (SIGTERM: leases released)
#   WECOM_WS_URL=ws://127.0.0.1:8090 scripts/several-hosts.sh   # against a local wecom-sim
#
# Settings: XPERT_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/xpert_several, created
# if missing), XPERT_REDIS_URL (redis://127.0.0.1:6379), XPERT_ADMIN_TOKEN, HOSTS (3).
set -euo pipefail
cd "$(dirname "$0")/.."

db_name=xpert_several
export XPERT_DATABASE_URL="${XPERT_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/$db_name}"
export XPERT_REDIS_URL="${XPERT_REDIS_URL:-redis://127.0.0.1:6379}"
export XPERT_REDIS_PREFIX="${XPERT_REDIS_PREFIX:-xpert-several:}"
export XPERT_ADMIN_TOKEN="${XPERT_ADMIN_TOKEN:-several-hosts-admin-token}"
hosts="${HOSTS:-3}"

bash .ci/start-services.sh
if [[ "$XPERT_DATABASE_URL" == "postgres://postgres@127.0.0.1:5432/$db_name" ]] &&
  ! psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db_name'" | grep -q 1; then
  createdb -h 127.0.0.1 -U postgres "$db_name"
fi

cargo build --release -p xpert-host
mkdir -p target/several-hosts
pids=()
stop_all() {
  echo "stopping ${#pids[@]} hosts"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop_all EXIT INT TERM

start_host() { # n
  local n="$1"
  XPERT_DATA_DIR="target/several-hosts/host$n" XPERT_LISTEN="127.0.0.1:300$n" \
    ./target/release/xpert-host >"target/several-hosts/host$n.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    curl -fsS "http://127.0.0.1:300$n/api/health" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "host $n did not come up: see target/several-hosts/host$n.log" >&2
  return 1
}

start_host 1
# Installed once, in the shared database; the other hosts restore it when they start.
curl -fsS -X POST -H "Authorization: Bearer $XPERT_ADMIN_TOKEN" -H 'Content-Type: application/json' \
  -d '{"name":"wecom","level":"tenant"}' http://127.0.0.1:3001/api/plugins/install >/dev/null || true
for n in $(seq 2 "$hosts"); do
  start_host "$n"
done
for n in $(seq 1 "$hosts"); do
  echo "host $n: http://127.0.0.1:300$n (log: target/several-hosts/host$n.log)"
done
echo "admin token: $XPERT_ADMIN_TOKEN"
wait
