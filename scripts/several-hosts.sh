#!/usr/bin/env bash
# Tries several hosts on this machine: three `xpert-host` processes on one PostgreSQL database
# and one Redis (no containers), listening on 127.0.0.1:3001..3003 with one admin token. The
# first host installs the WeCom plugin; the others find the installation in the database when
# they start. Any host serves the API and the UI; each bot's socket is held by exactly one of
# them (its lease lives in Redis), bots spread over the live hosts, and the Status tab on any host
# names the owner.
#
#   scripts/several-hosts.sh            # start; Ctrl-C stops all three (SIGTERM: each drains)
#   WECOM_WS_URL=ws://127.0.0.1:8090 scripts/several-hosts.sh   # against a local wecom-sim
#   DEMO_BOTS=30 scripts/several-hosts.sh   # also a simulator with 30 bots answered by an echo
#                                           # expert; prints how the bots spread
#
# Settings: XPERT_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/xpert_several, created
# if missing; with DEMO_BOTS the database xpert_several_demo, made afresh), XPERT_REDIS_URL
# (redis://127.0.0.1:6379), XPERT_ADMIN_TOKEN, HOSTS (3), DEMO_BOTS (0), WECOM_* timings (see the
# README's "Running several hosts").
set -euo pipefail
cd "$(dirname "$0")/.."

demo_bots="${DEMO_BOTS:-0}"
db_name=xpert_several
[[ "$demo_bots" -gt 0 ]] && db_name=xpert_several_demo
export XPERT_DATABASE_URL="${XPERT_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/$db_name}"
export XPERT_REDIS_URL="${XPERT_REDIS_URL:-redis://127.0.0.1:6379}"
export XPERT_REDIS_PREFIX="${XPERT_REDIS_PREFIX:-${db_name//_/-}:}"
export XPERT_ADMIN_TOKEN="${XPERT_ADMIN_TOKEN:-several-hosts-admin-token}"
hosts="${HOSTS:-3}"
auth=(-H "Authorization: Bearer $XPERT_ADMIN_TOKEN" -H 'Content-Type: application/json')

bash .ci/start-services.sh
if [[ "$XPERT_DATABASE_URL" == "postgres://postgres@127.0.0.1:5432/$db_name" ]]; then
  if [[ "$demo_bots" -gt 0 ]]; then
    # The demo's own database and keys, made afresh each time.
    dropdb -h 127.0.0.1 -U postgres --if-exists "$db_name"
    redis-cli -u "$XPERT_REDIS_URL" --scan --pattern "${XPERT_REDIS_PREFIX}*" | xargs -r redis-cli -u "$XPERT_REDIS_URL" del >/dev/null
  fi
  if ! psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$db_name'" | grep -q 1; then
    createdb -h 127.0.0.1 -U postgres "$db_name"
  fi
fi

cargo build --release -p xpert-host -p wecom-sim
mkdir -p target/several-hosts
pids=()
stop_all() {
  trap - EXIT INT TERM
  echo "stopping ${#pids[@]} processes (SIGTERM: each host drains and releases its bots)"
  kill -TERM "${pids[@]}" 2>/dev/null || true
  wait "${pids[@]}" 2>/dev/null || true
}
trap stop_all EXIT INT TERM

if [[ "$demo_bots" -gt 0 ]]; then
  bots=()
  for n in $(seq -w 1 "$demo_bots"); do bots+=(--bot "DEMOBOT$n:demo-secret"); done
  ./target/release/wecom-sim serve --listen 127.0.0.1:8090 "${bots[@]}" >target/several-hosts/sim.log 2>&1 &
  pids+=($!)
  export WECOM_WS_URL=ws://127.0.0.1:8090
  # Short enough to watch the spread; production keeps the 60 s default.
  export WECOM_SETTLE_MS="${WECOM_SETTLE_MS:-10000}"
  for _ in $(seq 1 100); do curl -fsS http://127.0.0.1:8090/sim/bots >/dev/null 2>&1 && break; sleep 0.1; done
fi

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

connected_on() { # n → bots connected on host n, from its /metrics
  curl -fsS -H "Authorization: Bearer $XPERT_ADMIN_TOKEN" "http://127.0.0.1:300$1/metrics" |
    awk '/^wecom_connections\{state="connected"/ {s += $2} END {print s + 0}'
}

start_host 1
# Installed once, in the shared database; the other hosts restore it when they start.
curl -fsS -X POST "${auth[@]}" -d '{"name":"wecom","level":"tenant"}' \
  http://127.0.0.1:3001/api/plugins/install >/dev/null || true
if [[ "$demo_bots" -gt 0 ]]; then
  # Created through the first host before the others start: a host runs its long connections
  # once it has seen one of their events (at start it replays them for every enabled one).
  triggers="[]"
  for n in $(seq -w 1 "$demo_bots"); do
    id=$(curl -fsS -X POST "${auth[@]}" http://127.0.0.1:3001/api/integration \
      -d "{\"name\":\"DEMOBOT$n\",\"provider\":\"wecom_long\",\"options\":{\"botId\":\"DEMOBOT$n\",\"secret\":\"demo-secret\"}}" | jq -r .id)
    triggers=$(jq -c --arg id "$id" '. + [{"provider":"wecom","config":{"enabled":true,"integrationId":$id}}]' <<<"$triggers")
  done
  xpert=$(curl -fsS -X POST "${auth[@]}" http://127.0.0.1:3001/api/xpert -d '{"name":"echo","agent":{"kind":"echo"}}' | jq -r .id)
  curl -fsS -X PUT "${auth[@]}" "http://127.0.0.1:3001/api/xpert/$xpert/triggers" -d "$triggers" >/dev/null
  curl -fsS -X POST "${auth[@]}" "http://127.0.0.1:3001/api/xpert/$xpert/publish" -d '{}' >/dev/null
  echo "$demo_bots demo bots published; simulator: http://127.0.0.1:8090 (chat page at /chat)"
fi
for n in $(seq 2 "$hosts"); do
  start_host "$n"
done
for n in $(seq 1 "$hosts"); do
  echo "host $n: http://127.0.0.1:300$n (log: target/several-hosts/host$n.log)"
done
echo "admin token: $XPERT_ADMIN_TOKEN"

if [[ "$demo_bots" -gt 0 ]]; then
  fair=$(((demo_bots + hosts - 1) / hosts))
  for _ in $(seq 1 60); do
    counts=()
    total=0
    spread=1
    for n in $(seq 1 "$hosts"); do
      c=$(connected_on "$n")
      counts+=("host $n: $c")
      total=$((total + c))
      [[ "$c" -le "$fair" ]] || spread=0
    done
    echo "bots connected per host: ${counts[*]} (total $total of $demo_bots; fair share $fair)"
    [[ "$total" -eq "$demo_bots" && "$spread" -eq 1 ]] && break
    sleep 2
  done
  echo "simulator: $(curl -fsS http://127.0.0.1:8090/sim/sockets)"
fi
wait
