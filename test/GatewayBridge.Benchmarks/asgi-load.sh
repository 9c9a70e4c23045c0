#!/usr/bin/env bash
# Python ASGI apps through GatewayBridge, in the host's interpreter ("inproc", one loop) and in 2 worker processes
# ("workers"), against uvicorn --workers 2 with uvloop and httptools (Debian's python3-uvicorn 0.17.6), side by side
# in one run on this machine, with wrk (1 thread, 16 connections) on loopback. Rounds alternate the order of the
# servers; figures are medians over rounds, since this VM's speed drifts. Then: a native endpoint's latency beside
# CPU-bound ASGI work, and 1,000 concurrent long polls (FastAPI, 10 s each) with the memory they take.
# Bounded: ROUNDS x 2 scenarios x 3 servers x DURATION s, plus about 50 s of the rest: about two minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=common.sh
. test/GatewayBridge.Benchmarks/common.sh

python_load_setup

start_inproc() { "$BIN" serve-asgi "$2" "$1" 0 >/dev/null 2>&1 & PIDS+=($!); }
start_workers() { "$BIN" serve-asgi "$2" "$1" "${3:-2}" >/dev/null 2>&1 & PIDS+=($!); }
start_uvicorn() {
  "$PYTHON" -m uvicorn --workers 2 --host 127.0.0.1 --port "$1" --app-dir "$APPS" --loop uvloop --http httptools \
    --no-access-log --log-level warning "$2" >/dev/null 2>&1 & PIDS+=($!)
}
rss_kb() { # pid: the process and its children, in kB
  local total=0
  for p in "$1" $(pgrep -P "$1" || true); do total=$((total + $(awk '/VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0))); done
  echo "$total"
}

SERVERS=(inproc workers uvicorn)
printf '%-14s %-9s %12s %12s\n' scenario server req/s "÷ uvicorn"
port=5500
for scenario in bare:asgi_bench_apps:hello fastapi:asgi_bench_apps:fastapi_app; do
  name=${scenario%%:*}; app=${scenario#*:}
  declare -A PORT=()
  for server in "${SERVERS[@]}"; do port=$((port + 1)); PORT[$server]=$port; "start_$server" "$port" "$app"; done
  for server in "${SERVERS[@]}"; do ready "${PORT[$server]}"; done
  for server in inproc workers; do
    [ "$(curl -s "http://127.0.0.1:${PORT[$server]}/")" = "$(curl -s "http://127.0.0.1:${PORT[uvicorn]}/")" ] || { echo "bodies differ for $name on $server" >&2; exit 1; }
  done
  for server in "${SERVERS[@]}"; do rps "${PORT[$server]}" >/dev/null; done # warm-up
  declare -A RESULTS=()
  for round in $(seq 1 "$ROUNDS"); do
    order=("${SERVERS[@]}"); (( round % 2 )) || order=($(printf '%s\n' "${SERVERS[@]}" | tac))
    for server in "${order[@]}"; do RESULTS[$server]+="$(rps "${PORT[$server]}") "; done
  done
  uvicorn=$(tr ' ' '\n' <<<"${RESULTS[uvicorn]}" | grep . | median)
  for server in "${SERVERS[@]}"; do
    value=$(tr ' ' '\n' <<<"${RESULTS[$server]}" | grep . | median)
    printf '%-14s %-9s %12.0f %12.2f\n' "$name hello" "$server" "$value" "$(awk -v a="$value" -v b="$uvicorn" 'BEGIN { print a / b }')"
  done
  stop_all
  unset PORT RESULTS
done

# A native endpoint beside CPU-bound ASGI work (about 5 ms of hashing per request on the loop) in 2 workers.
start_workers 5591 asgi_bench_apps:busy 2
ready 5591
native_beside_busy 5591 "2 saturated ASGI workers" asgi
stop_all

# 1,000 long polls held at once (each answered after 10 s) by 2 workers: every one answered, and what they cost.
ulimit -n 8192
start_workers 5592 asgi_bench_apps:fastapi_app 2
ready 5592
host=${PIDS[-1]}
idle=$(rss_kb "$host")
wrk -t1 -c1000 -d11s --timeout 20s "http://127.0.0.1:5592/poll" > "$WORK/poll.txt" &
POLL=$!
sleep 6
held=$(rss_kb "$host")
wait "$POLL"
answered=$(awk '/requests in/ {print $1}' "$WORK/poll.txt")
errors=$(awk '/Socket errors|Non-2xx/ {print}' "$WORK/poll.txt" | tr '\n' ' ')
echo "1000 long polls: ${answered} answered ${errors:-no errors}; host and workers ${idle} kB idle, ${held} kB holding them ($(( (held - idle) / 1000 )) kB per poll)"
stop_all
