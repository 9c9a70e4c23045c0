#!/usr/bin/env bash
# Python WSGI apps through GatewayBridge against gunicorn (sync, 2 workers, the usual production setup) and uWSGI
# where it is installed, side by side in one run on this machine, with wrk (1 thread, 16 connections) on loopback.
# Rounds alternate the servers (A/B, B/A, ...) and ratios are medians over rounds, since this VM's speed drifts.
# Then a native endpoint's latency while CPU-bound Python saturates the interpreter.
# Bounded: ROUNDS x 2 scenarios x servers x DURATION s, plus one 10 s isolation run: about two minutes by default.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=common.sh
. test/GatewayBridge.Benchmarks/common.sh

DURATION="${DURATION:-3}"
ROUNDS="${ROUNDS:-5}"
CONNECTIONS="${CONNECTIONS:-16}"
THREADS="${THREADS:-8}"
PYTHON=/usr/bin/python3
APPS=test/GatewayBridge.Benchmarks/python

ensure_wrk
bash test/prepare.sh
dotnet build -c Release test/GatewayBridge.Benchmarks >/dev/null
BIN=test/GatewayBridge.Benchmarks/bin/Release/net10.0/GatewayBridge.Benchmarks

PIDS=()
WORK=$(mktemp -d)
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT

start_gateway() { # port app
  "$BIN" serve-python "$2" "$1" "$THREADS" >/dev/null 2>&1 & PIDS+=($!)
}
start_gunicorn() { # port app
  "$PYTHON" -m gunicorn --workers 2 --bind "127.0.0.1:$1" --chdir "$APPS" --log-level warning "$2" >/dev/null 2>&1 & PIDS+=($!)
}
start_uwsgi() { # port app
  uwsgi --http-socket "127.0.0.1:$1" --plugin python3 --processes 2 --chdir "$APPS" --module "${2%%:*}" --callable "${2##*:}" \
    --disable-logging >/dev/null 2>&1 & PIDS+=($!)
}
ready() { # port: any answer from / will do
  for _ in $(seq 1 150); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.1; done
  echo "server on port $1 did not start" >&2; return 1
}
rps() { # port
  wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "http://127.0.0.1:$1/" | awk '/Requests\/sec/ {print $2}'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

SERVERS=(gateway gunicorn)
command -v uwsgi >/dev/null && "$PYTHON" -c 'import sys' && uwsgi --plugin python3 --version >/dev/null 2>&1 && SERVERS+=(uwsgi)

printf '%-12s %-9s %12s %14s\n' scenario server req/s "÷ gunicorn"
port=5300
for scenario in bare:bench_apps:hello flask:bench_apps:flask_app; do
  name=${scenario%%:*}; app=${scenario#*:}
  declare -A PORT=()
  for server in "${SERVERS[@]}"; do
    port=$((port + 1)); PORT[$server]=$port
    "start_$server" "$port" "$app"
  done
  for server in "${SERVERS[@]}"; do ready "${PORT[$server]}"; done
  [ "$(curl -s "http://127.0.0.1:${PORT[gateway]}/")" = "$(curl -s "http://127.0.0.1:${PORT[gunicorn]}/")" ] || { echo "bodies differ for $name" >&2; exit 1; }
  for server in "${SERVERS[@]}"; do rps "${PORT[$server]}" >/dev/null; done # warm-up
  declare -A RESULTS=()
  for round in $(seq 1 "$ROUNDS"); do
    order=("${SERVERS[@]}"); (( round % 2 )) || order=($(printf '%s\n' "${SERVERS[@]}" | tac))
    for server in "${order[@]}"; do RESULTS[$server]+="$(rps "${PORT[$server]}") "; done
  done
  base=$(tr ' ' '\n' <<<"${RESULTS[gunicorn]}" | grep . | median)
  for server in "${SERVERS[@]}"; do
    value=$(tr ' ' '\n' <<<"${RESULTS[$server]}" | grep . | median)
    printf '%-12s %-9s %12.0f %14.2f\n' "$name hello" "$server" "$value" "$(awk -v a="$value" -v b="$base" 'BEGIN { print a / b }')"
  done
  kill "${PIDS[@]}" 2>/dev/null || true; PIDS=()
  unset PORT RESULTS
  sleep 1
done

# A native endpoint beside a saturated Python app: CPU-bound requests (about 5 ms of hashing each) from 32
# connections keep every Python thread busy while a second wrk measures the minimal API's latency.
cat > "$WORK/p95.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("native p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, %d requests\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, summary.requests))
end
LUA
start_gateway 5390 bench_apps:busy
ready 5390
wrk -t1 -c32 -d12s "http://127.0.0.1:5390/" > "$WORK/busy.txt" & BUSY=$!
sleep 1
wrk -t1 -c4 -d10s -s "$WORK/p95.lua" "http://127.0.0.1:5390/native" | tail -n 1
wait "$BUSY"
echo "busy python: $(awk '/Requests\/sec/ {print $2}' "$WORK/busy.txt") req/s"
