#!/usr/bin/env bash
# Python WSGI apps through GatewayBridge, in the host's interpreter ("inproc", 8 Python threads) and in 2 worker
# processes ("workers"), against gunicorn (2 sync workers, the usual production setup) and uWSGI (2 processes), side
# by side in one run on this machine, with wrk (1 thread, 16 connections) on loopback. Rounds alternate the order of
# the servers and figures are medians over rounds, since this VM's speed drifts. Then: a CPU-bound app in 1 and in 2
# workers; a native endpoint's latency while the workers are saturated; each worker's resident memory.
# Bounded: ROUNDS x 2 scenarios x 4 servers x DURATION s, plus about 45 s of the rest: about three minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=common.sh
. test/GatewayBridge.Benchmarks/common.sh

python_load_setup
if ! command -v uwsgi >/dev/null || ! uwsgi --plugin python3 --version >/dev/null 2>&1; then
  echo "installing uwsgi-plugin-python3 (Debian package)..." >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq uwsgi-core uwsgi-plugin-python3) >/dev/null
fi

start_inproc() { # port app
  "$BIN" serve-python "$2" "$1" 8 0 >/dev/null 2>&1 & PIDS+=($!)
}
start_workers() { # port app [workers]
  "$BIN" serve-python "$2" "$1" 0 "${3:-2}" >/dev/null 2>&1 & PIDS+=($!)
}
start_gunicorn() { # port app
  "$PYTHON" -m gunicorn --workers 2 --bind "127.0.0.1:$1" --chdir "$APPS" --log-level warning "$2" >/dev/null 2>&1 & PIDS+=($!)
}
start_uwsgi() { # port app; --master --die-on-term, or its workers outlive the run
  uwsgi --http-socket "127.0.0.1:$1" --plugin python3 --master --die-on-term --processes 2 --chdir "$APPS" \
    --module "${2%%:*}" --callable "${2##*:}" --disable-logging >/dev/null 2>&1 & PIDS+=($!)
}

SERVERS=(inproc workers gunicorn uwsgi)
printf '%-12s %-9s %12s %12s %10s\n' scenario server req/s "÷ gunicorn" "÷ uwsgi"
port=5300
for scenario in bare:bench_apps:hello flask:bench_apps:flask_app; do
  name=${scenario%%:*}; app=${scenario#*:}
  declare -A PORT=()
  for server in "${SERVERS[@]}"; do
    port=$((port + 1)); PORT[$server]=$port
    "start_$server" "$port" "$app"
  done
  for server in "${SERVERS[@]}"; do ready "${PORT[$server]}"; done
  for server in inproc workers uwsgi; do
    [ "$(curl -s "http://127.0.0.1:${PORT[$server]}/")" = "$(curl -s "http://127.0.0.1:${PORT[gunicorn]}/")" ] || { echo "bodies differ for $name on $server" >&2; exit 1; }
  done
  for server in "${SERVERS[@]}"; do rps "${PORT[$server]}" >/dev/null; done # warm-up
  declare -A RESULTS=()
  for round in $(seq 1 "$ROUNDS"); do
    order=("${SERVERS[@]}"); (( round % 2 )) || order=($(printf '%s\n' "${SERVERS[@]}" | tac))
    for server in "${order[@]}"; do RESULTS[$server]+="$(rps "${PORT[$server]}") "; done
  done
  gunicorn=$(tr ' ' '\n' <<<"${RESULTS[gunicorn]}" | grep . | median)
  uwsgi=$(tr ' ' '\n' <<<"${RESULTS[uwsgi]}" | grep . | median)
  for server in "${SERVERS[@]}"; do
    value=$(tr ' ' '\n' <<<"${RESULTS[$server]}" | grep . | median)
    printf '%-12s %-9s %12.0f %12.2f %10.2f\n' "$name hello" "$server" "$value" \
      "$(awk -v a="$value" -v b="$gunicorn" 'BEGIN { print a / b }')" "$(awk -v a="$value" -v b="$uwsgi" 'BEGIN { print a / b }')"
  done
  if [ "$name" = flask ]; then
    # Resident memory of each Flask worker after the run, ours and gunicorn's (kB).
    ours=$(pgrep -P "$(pgrep -f "serve-python bench_apps:flask_app ${PORT[workers]}")" | xargs -I{} awk '/VmRSS/ {print $2}' /proc/{}/status | tr '\n' ' ')
    theirs=$(pgrep -P "$(pgrep -f "gunicorn --workers 2 --bind 127.0.0.1:${PORT[gunicorn]}" | head -n 1)" | xargs -I{} awk '/VmRSS/ {print $2}' /proc/{}/status | tr '\n' ' ')
    echo "memory per Flask worker (kB RSS): workers $ours, gunicorn $theirs"
  fi
  stop_all
  unset PORT RESULTS
done

# A CPU-bound app (about 5 ms of hashing per request, pure Python) in 1 worker and in 2: Python on every core.
start_workers 5391 bench_apps:busy 1
start_workers 5392 bench_apps:busy 2
ready 5391; ready 5392
rps 5391 32 >/dev/null; rps 5392 32 >/dev/null
one=""; two=""
for round in 1 2 3; do one+="$(rps 5391 32) "; two+="$(rps 5392 32) "; done
one=$(tr ' ' '\n' <<<"$one" | grep . | median); two=$(tr ' ' '\n' <<<"$two" | grep . | median)
printf 'cpu-bound: 1 worker %.0f req/s, 2 workers %.0f req/s, ratio %.2f\n' "$one" "$two" "$(awk -v a="$two" -v b="$one" 'BEGIN { print a / b }')"
stop_all

# A native endpoint beside saturated workers: CPU-bound requests from 32 connections keep both workers busy while a
# second wrk measures the minimal API's latency.
start_workers 5393 bench_apps:busy 2
ready 5393
native_beside_busy 5393 "2 saturated workers" python
