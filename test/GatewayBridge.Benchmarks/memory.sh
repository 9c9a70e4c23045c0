#!/usr/bin/env bash
# Memory of preloaded workers, as the workers' own pages count it: with 4 workers, each worker's PSS (its share of every
# page it maps) and USS (pages no other process maps), from /proc/<pid>/smaps_rollup after a warm-up, for a bare hello
# and for the Django site in examples/, against gunicorn -w 4 with and without --preload and uWSGI --processes 4 (which
# imports in its master and forks, by default). Then how long a worker takes to be replaced (SIGKILL to serving again),
# with and without --preload. Loopback only; bounded: about two minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=common.sh
. test/GatewayBridge.Benchmarks/common.sh
python_load_setup
dotnet build -c Release src/GatewayBridge.Serve >/dev/null
SERVE=(dotnet src/GatewayBridge.Serve/bin/Release/net10.0/GatewayBridge.Serve.dll serve)
if ! command -v uwsgi >/dev/null || ! uwsgi --plugin python3 --version >/dev/null 2>&1; then
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq uwsgi-core uwsgi-plugin-python3) >/dev/null
fi

kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/smaps_rollup"; }
uss() { echo $(( $(kb "$1" Private_Clean) + $(kb "$1" Private_Dirty) )); }
status_pids() { # port: our workers' pids, from the status page
  curl -s "http://127.0.0.1:$1/_status" | "$PYTHON" -c 'import json,sys; print(" ".join(str(w["pid"]) for w in json.load(sys.stdin)["apps"][0]["workers"]))'
}
report() { # name root worker-pids...
  local name=$1 root=$2 pss=0 own=0 n=0 p total=0
  shift 2
  for p in "$@"; do pss=$((pss + $(kb "$p" Pss))); own=$((own + $(uss "$p"))); n=$((n + 1)); done
  for p in $(tree_pids "$root"); do total=$((total + $(kb "$p" Pss))); done
  printf '%-7s %-24s %d workers, each: PSS %6d kB  USS %6d kB;  every process of the server: PSS %7d kB\n' "$SCENARIO" "$name" "$n" $((pss / n)) $((own / n)) "$total"
}
warm() { for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$1/"; done; }

run_scenario() { # scenario app chdir
  SCENARIO=$1; local app=$2 dir=$3
  "${SERVE[@]}" "$app" --python "$PYTHON" --chdir "$dir" --interface wsgi -w 4 -b 127.0.0.1:5501 --status-path /_status >/dev/null 2>&1 & started ours
  "${SERVE[@]}" "$app" --python "$PYTHON" --chdir "$dir" --interface wsgi -w 4 --preload -b 127.0.0.1:5502 --status-path /_status >/dev/null 2>&1 & started ours-preload
  "$PYTHON" -m gunicorn -w 4 -b 127.0.0.1:5503 --chdir "$dir" "$app" >/dev/null 2>&1 & started gunicorn
  "$PYTHON" -m gunicorn -w 4 --preload -b 127.0.0.1:5504 --chdir "$dir" "$app" >/dev/null 2>&1 & started gunicorn-preload
  uwsgi --http11-socket 127.0.0.1:5505 --plugin python3 --master --die-on-term --processes 4 --chdir "$dir" \
    --module "${app%%:*}" --callable "${app##*:}" --disable-logging >/dev/null 2>&1 & started uwsgi
  for port in 5501 5502 5503 5504 5505; do ready "$port"; warm "$port"; done
  # shellcheck disable=SC2046
  report "gatewaybridge" "${ROOT[ours]}" $(status_pids 5501)
  # shellcheck disable=SC2046
  report "gatewaybridge --preload" "${ROOT[ours-preload]}" $(status_pids 5502)
  # shellcheck disable=SC2046
  report "gunicorn" "${ROOT[gunicorn]}" $(pgrep -P "${ROOT[gunicorn]}")
  # shellcheck disable=SC2046
  report "gunicorn --preload" "${ROOT[gunicorn-preload]}" $(pgrep -P "${ROOT[gunicorn-preload]}")
  # shellcheck disable=SC2046
  report "uwsgi (preloads)" "${ROOT[uwsgi]}" $(pgrep -P "${ROOT[uwsgi]}")
  for port in 5501 5502; do
    local victim start elapsed
    victim=$(curl -s "http://127.0.0.1:$port/_status" | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["apps"][0]["workers"][0]["pid"])')
    start=$(date +%s%N)
    kill -9 "$victim"
    until curl -s "http://127.0.0.1:$port/_status" | "$PYTHON" -c "import json,sys; w=json.load(sys.stdin)['apps'][0]['workers']; sys.exit(0 if sum(x['state']=='serving' and x['pid']!=$victim for x in w)==4 else 1)"; do sleep 0.01; done
    elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
    printf '%-7s replacing a worker (SIGKILL to serving again): %s %d ms\n' "$SCENARIO" "$([ $port = 5502 ] && echo 'with --preload' || echo 'without --preload')" "$elapsed"
  done
  stop_all
}

run_scenario hello bench_apps:hello test/GatewayBridge.Benchmarks/python
run_scenario django django_site:application examples/PythonApps/python
