#!/usr/bin/env bash
# Python WSGI apps through GatewayBridge, in the host's interpreter ("inproc", 8 Python threads) and in 2 worker
# processes ("workers"), against gunicorn (2 sync workers, the usual production setup) and uWSGI (2 processes), side
# by side in one run on this machine, with wrk (1 thread, 16 connections) on loopback: a bare hello (what the server
# costs), Flask's hello, and a bare hello whose body is a lazy iterable with close() (the shape Flask and Django
# return). Each server's req/s, its CPU per request (every process of it, from /proc: what a request costs on any
# machine) and, from one round under perf, its system calls and context switches per request. Rounds alternate the
# order of the servers and figures are medians over rounds, since this VM's speed drifts. Then: a CPU-bound app in 1
# and in 2 workers; a native endpoint's latency while the workers are saturated; each worker's resident memory.
# BEFORE_BIN=<an earlier build's GatewayBridge.Benchmarks> runs that build's servers in the same rounds.
# Bounded: (WARMUP + (ROUNDS + 1) x DURATION) s x 3 scenarios x 4 servers (5 in the bare one: plain Kestrel as a
# reference), plus about 45 s of the rest: about six minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=common.sh
. test/GatewayBridge.Benchmarks/common.sh

python_load_setup
if ! command -v uwsgi >/dev/null || ! uwsgi --plugin python3 --version >/dev/null 2>&1; then
  echo "installing uwsgi-plugin-python3 (Debian package)..." >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq uwsgi-core uwsgi-plugin-python3) >/dev/null
fi

start_inproc() { # name port app [bin]
  "${4:-$BIN}" serve-python "$3" "$2" 8 0 >/dev/null 2>&1 & started "$1"
}
start_workers() { # name port app [bin] [workers]
  "${4:-$BIN}" serve-python "$3" "$2" 0 "${5:-2}" >/dev/null 2>&1 & started "$1"
}
start_gunicorn() { # name port app
  "$PYTHON" -m gunicorn --workers 2 --bind "127.0.0.1:$2" --chdir "$APPS" --log-level warning "$3" >/dev/null 2>&1 & started "$1"
}
start_uwsgi() { # name port app; --http11-socket keeps connections alive, as every other server here does (--http-socket
  # closes each after one response); --master --die-on-term, or its workers outlive the run
  uwsgi --http11-socket "127.0.0.1:$2" --plugin python3 --master --die-on-term --processes 2 --chdir "$APPS" \
    --module "${3%%:*}" --callable "${3##*:}" --disable-logging >/dev/null 2>&1 & started "$1"
}
start_kestrel() { # name port app: plain Kestrel's hello (ASP.NET Core middleware, no Python), what the host's share starts from
  "$BIN" serve plain "$2" >/dev/null 2>&1 & started "$1"
}
start_server() { # name port app: inproc, workers, gunicorn, uwsgi, kestrel, or inproc-before and workers-before from BEFORE_BIN
  case $1 in
    *-before) "start_${1%-before}" "$1" "$2" "$3" "$BEFORE_BIN" ;;
    *) "start_$1" "$1" "$2" "$3" ;;
  esac
}

PYTHON_SERVERS=(inproc workers gunicorn uwsgi)
[ -n "$BEFORE_BIN" ] && PYTHON_SERVERS=(inproc inproc-before workers workers-before gunicorn uwsgi)
REFERENCE=uwsgi REFERENCE2=gunicorn
echo "CPU per request: user + system time of every process of the server (first: the host, or the master; rest: the"
echo "workers), from /proc; sys/req and ctx/req: system calls and context switches per request (first+rest), from perf."
port=5300
for scenario in bare:bench_apps:hello flask:bench_apps:flask_app lazy:bench_apps:lazy_hello; do
  name=${scenario%%:*}; app=${scenario#*:}
  SERVERS=("${PYTHON_SERVERS[@]}")
  [ "$name" = bare ] && SERVERS+=(kestrel)
  declare -A PORT=()
  for server in "${SERVERS[@]}"; do
    port=$((port + 1)); PORT[$server]=$port
    start_server "$server" "$port" "$app"
  done
  for server in "${SERVERS[@]}"; do ready "${PORT[$server]}"; done
  for server in "${SERVERS[@]}"; do
    [ "$(curl -s "http://127.0.0.1:${PORT[$server]}/")" = "$(curl -s "http://127.0.0.1:${PORT[gunicorn]}/")" ] || { echo "bodies differ for $name on $server" >&2; exit 1; }
  done
  compare_servers "$name hello"
  if [ "$name" = flask ]; then
    # Resident memory of each Flask worker after the run, ours and gunicorn's (kB).
    ours=$(pgrep -P "${ROOT[workers]}" | xargs -I{} awk '/VmRSS/ {print $2}' /proc/{}/status | tr '\n' ' ')
    theirs=$(pgrep -P "${ROOT[gunicorn]}" | xargs -I{} awk '/VmRSS/ {print $2}' /proc/{}/status | tr '\n' ' ')
    echo "memory per Flask worker (kB RSS): workers $ours, gunicorn $theirs"
  fi
  stop_all
  unset PORT
done

# A CPU-bound app (about 5 ms of hashing per request, pure Python) in 1 worker and in 2: Python on every core.
start_workers busy1 5391 bench_apps:busy "$BIN" 1
start_workers busy2 5392 bench_apps:busy "$BIN" 2
ready 5391; ready 5392
rps 5391 32 >/dev/null; rps 5392 32 >/dev/null
one=""; two=""
for round in 1 2 3; do one+="$(rps 5391 32) "; two+="$(rps 5392 32) "; done
one=$(tr ' ' '\n' <<<"$one" | grep . | median); two=$(tr ' ' '\n' <<<"$two" | grep . | median)
printf 'cpu-bound: 1 worker %.0f req/s, 2 workers %.0f req/s, ratio %.2f\n' "$one" "$two" "$(awk -v a="$two" -v b="$one" 'BEGIN { print a / b }')"
stop_all

# A native endpoint beside saturated workers: CPU-bound requests from 32 connections keep both workers busy while a
# second wrk measures the minimal API's latency.
start_workers busy 5393 bench_apps:busy "$BIN" 2
ready 5393
native_beside_busy 5393 "2 saturated workers" python
