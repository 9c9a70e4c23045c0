#!/usr/bin/env bash
# Python ASGI apps through GatewayBridge, in the host's interpreter ("inproc", one loop) and in 2 worker processes
# ("workers"), against uvicorn --workers 2 with uvloop and httptools (Debian's python3-uvicorn 0.17.6), side by side
# in one run on this machine, with wrk (1 thread, 16 connections) on loopback. Rounds alternate the order of the
# servers; figures are medians over rounds, since this VM's speed drifts. Each server's req/s, its CPU per request
# (every process of it, from /proc) and, from one round under perf, its system calls and context switches per
# request. Then: a native endpoint's latency beside CPU-bound ASGI work, and 1,000 concurrent long polls (FastAPI,
# 10 s each) with the memory they take. BEFORE_BIN=<an earlier build's GatewayBridge.Benchmarks> runs that build's
# servers in the same rounds. Bounded: (WARMUP + (ROUNDS + 1) x DURATION) s x 2 scenarios x 3 servers, plus about 50 s of the
# rest: about four minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=common.sh
. test/GatewayBridge.Benchmarks/common.sh

python_load_setup

start_inproc() { "${4:-$BIN}" serve-asgi "$3" "$2" 0 >/dev/null 2>&1 & started "$1"; }
start_workers() { "${4:-$BIN}" serve-asgi "$3" "$2" "${5:-2}" >/dev/null 2>&1 & started "$1"; }
start_uvicorn() {
  "$PYTHON" -m uvicorn --workers 2 --host 127.0.0.1 --port "$2" --app-dir "$APPS" --loop uvloop --http httptools \
    --no-access-log --log-level warning "$3" >/dev/null 2>&1 & started "$1"
}
start_server() { # name port app: inproc, workers, uvicorn, or inproc-before and workers-before from BEFORE_BIN
  case $1 in
    *-before) "start_${1%-before}" "$1" "$2" "$3" "$BEFORE_BIN" ;;
    *) "start_$1" "$1" "$2" "$3" ;;
  esac
}
rss_kb() { # pid: the process and its children, in kB
  local total=0
  for p in "$1" $(pgrep -P "$1" || true); do total=$((total + $(awk '/VmRSS/ {print $2}' "/proc/$p/status" 2>/dev/null || echo 0))); done
  echo "$total"
}

SERVERS=(inproc workers uvicorn)
[ -n "$BEFORE_BIN" ] && SERVERS=(inproc inproc-before workers workers-before uvicorn)
REFERENCE=uvicorn REFERENCE2=""
echo "CPU per request: user + system time of every process of the server (first: the host, or uvicorn's supervisor;"
echo "rest: the workers), from /proc; sys/req and ctx/req: system calls and context switches per request, from perf."
port=5500
for scenario in bare:asgi_bench_apps:hello fastapi:asgi_bench_apps:fastapi_app; do
  name=${scenario%%:*}; app=${scenario#*:}
  declare -A PORT=()
  for server in "${SERVERS[@]}"; do port=$((port + 1)); PORT[$server]=$port; start_server "$server" "$port" "$app"; done
  for server in "${SERVERS[@]}"; do ready "${PORT[$server]}"; done
  for server in "${SERVERS[@]}"; do
    [ "$(curl -s "http://127.0.0.1:${PORT[$server]}/")" = "$(curl -s "http://127.0.0.1:${PORT[uvicorn]}/")" ] || { echo "bodies differ for $name on $server" >&2; exit 1; }
  done
  compare_servers "$name hello"
  stop_all
  unset PORT
done

# A native endpoint beside CPU-bound ASGI work (about 5 ms of hashing per request on the loop) in 2 workers.
start_workers busy 5591 asgi_bench_apps:busy "$BIN" 2
ready 5591
native_beside_busy 5591 "2 saturated ASGI workers" asgi
stop_all

# 1,000 long polls held at once (each answered after 10 s) by 2 workers: every one answered, and what they cost.
ulimit -n 8192
start_workers poll 5592 asgi_bench_apps:fastapi_app "$BIN" 2
ready 5592
host=${ROOT[poll]}
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
