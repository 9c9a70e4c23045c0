# Shared by the load scripts (sourced, not run).

ensure_wrk() {
  if ! command -v wrk >/dev/null; then
    echo "installing wrk (Debian package)..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk) >/dev/null
  fi
}

# Writes a 4 KB body and a wrk script that POSTs it into folder $1.
make_post_script() {
  head -c 4096 /dev/zero | tr '\0' 'x' > "$1/body"
  cat > "$1/post.lua" <<LUA
wrk.method = "POST"
wrk.body = io.open("$1/body"):read("*a")
wrk.headers["Content-Type"] = "application/octet-stream"
LUA
}

wait_for_server() { # port
  for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$1/_alloc" >/dev/null && return 0; sleep 0.1; done
  echo "server on port $1 did not start" >&2
  return 1
}

# The Python load scripts' settings, wrk, perf, the Debian packages and the Release build ($BIN); they run their servers
# in the background with each server's process in ROOT[name] (all of them in PIDS, stopped on exit) and keep scratch
# files in WORK. BEFORE_BIN names another build of the benchmarks (an earlier commit's): its servers run beside this
# build's as "<server>-before", in the same rounds, so a change is measured before and after in one run.
python_load_setup() {
  DURATION="${DURATION:-3}"
  ROUNDS="${ROUNDS:-5}"
  # .NET's tiered JIT keeps compiling for about ten seconds of load: the first run of each server is that long.
  WARMUP="${WARMUP:-10}"
  CONNECTIONS="${CONNECTIONS:-16}"
  PYTHON=/usr/bin/python3
  APPS=test/GatewayBridge.Benchmarks/python
  ensure_wrk
  if ! command -v perf >/dev/null; then
    echo "installing linux-perf (Debian package)..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq linux-perf) >/dev/null
  fi
  bash test/prepare.sh
  dotnet build -c Release test/GatewayBridge.Benchmarks >/dev/null
  BIN=test/GatewayBridge.Benchmarks/bin/Release/net10.0/GatewayBridge.Benchmarks
  BEFORE_BIN="${BEFORE_BIN:-}"
  # The earlier build serves this build's apps.
  [ -z "$BEFORE_BIN" ] || cp "$APPS"/*.py "$(dirname "$BEFORE_BIN")/python/"
  TICK=$(getconf CLK_TCK)
  PIDS=()
  declare -gA ROOT=()
  WORK=$(mktemp -d)
  trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
}
started() { # name: the server just started in the background is that name's
  PIDS+=($!); ROOT[$1]=$!
}
ready() { # port: any answer from / will do
  for _ in $(seq 1 150); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.1; done
  echo "server on port $1 did not start" >&2; return 1
}
rps() { # port [connections] [path]
  wrk -t1 -c"${2:-$CONNECTIONS}" -d"${DURATION}s" "http://127.0.0.1:$1${3:-/}" | awk '/Requests\/sec/ {print $2}'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
stop_all() { kill "${PIDS[@]}" 2>/dev/null || true; wait "${PIDS[@]}" 2>/dev/null || true; PIDS=(); ROOT=(); sleep 1; }

# Every process of a server: its own and all its descendants' (a host's workers, gunicorn's and uWSGI's workers).
tree_pids() { echo "$1"; local child; for child in $(pgrep -P "$1" || true); do tree_pids "$child"; done; }

# "pid ticks" for each process: user + system time, its own threads' and its reaped children's.
cpu_snapshot() { local p; for p in "$@"; do [ -r "/proc/$p/stat" ] && echo "$p $(sed 's/.*) //' "/proc/$p/stat" | awk '{print $12 + $13 + $14 + $15}')"; done; return 0; }

# One wrk run against a server, with the CPU its processes spent meanwhile (from /proc, every process of the server):
# "req/s, µs of CPU per request in all, in the first process (the host, or the Python server's master), in the rest".
measure() { # name port [path] [seconds]
  local root=${ROOT[$1]} port=$2 path=${3:-/} out requests
  cpu_snapshot $(tree_pids "$root") > "$WORK/cpu-before"
  out=$(wrk -t1 -c"$CONNECTIONS" -d"${4:-$DURATION}s" "http://127.0.0.1:$port$path")
  cpu_snapshot $(tree_pids "$root") > "$WORK/cpu-after"
  if grep -q "Non-2xx\|Socket errors" <<<"$out"; then echo "errors from $1: $out" >&2; fi
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  awk -v root="$root" -v hz="$TICK" -v n="$requests" -v rps="$(awk '/Requests\/sec/ {print $2}' <<<"$out")" '
    FNR == NR { before[$1] = $2; next }
    { d = $2 - ($1 in before ? before[$1] : 0); if ($1 == root) first += d; else rest += d }
    END { f = 1e6 / hz / n; printf "%s %.1f %.1f %.1f\n", rps, (first + rest) * f, first * f, rest * f }' "$WORK/cpu-before" "$WORK/cpu-after"
}

# The same load once more under perf: system calls and context switches per request, in the first process and in the
# rest (every thread of each; perf counts the threads a process starts meanwhile too). A round of its own, since
# counting costs a little CPU: "syscalls first, syscalls rest, switches first, switches rest" per request.
profile() { # name port [path]
  local root=${ROOT[$1]} port=$2 path=${3:-/} rest out requests
  rest=$(tree_pids "$root" | tail -n +2 | paste -sd, -)
  perf stat -x, -e raw_syscalls:sys_enter,context-switches -p "$root" -o "$WORK/perf-first" -- sleep "$DURATION" 2>/dev/null &
  local first_perf=$! rest_perf=""
  : > "$WORK/perf-rest"
  if [ -n "$rest" ]; then
    perf stat -x, -e raw_syscalls:sys_enter,context-switches -p "$rest" -o "$WORK/perf-rest" -- sleep "$DURATION" 2>/dev/null &
    rest_perf=$!
  fi
  out=$(wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" "http://127.0.0.1:$port$path")
  wait $first_perf $rest_perf 2>/dev/null || true
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  count() { awk -F, -v e="$2" '$3 == e { print $1 + 0; found = 1 } END { if (!found) print 0 }' "$1"; }
  awk -v n="$requests" -v a="$(count "$WORK/perf-first" raw_syscalls:sys_enter)" -v b="$(count "$WORK/perf-rest" raw_syscalls:sys_enter)" \
      -v c="$(count "$WORK/perf-first" context-switches)" -v d="$(count "$WORK/perf-rest" context-switches)" \
      'BEGIN { printf "%.1f %.1f %.2f %.2f\n", a / n, b / n, c / n, d / n }'
}

# Rounds of measure() over the servers named in SERVERS, alternating their order (this VM's speed drifts: each
# round's figures share its drift), then one profile() round; prints a table with the medians, each ratio taken
# against REFERENCE's (and REFERENCE2's, when set) median req/s and CPU per request.
compare_servers() { # scenario port-of-each-server...: PORT[name] set by the caller
  local scenario=$1 server round
  declare -A RESULTS=()
  for server in "${SERVERS[@]}"; do measure "$server" "${PORT[$server]}" / "$WARMUP" >/dev/null; done # warm-up
  for round in $(seq 1 "$ROUNDS"); do
    local order=("${SERVERS[@]}")
    (( round % 2 )) || order=($(printf '%s\n' "${SERVERS[@]}" | tac))
    for server in "${order[@]}"; do RESULTS[$server]+="$(measure "$server" "${PORT[$server]}")"$'\n'; done
  done
  declare -A RPS=() CPU=() FIRST=() REST=()
  for server in "${SERVERS[@]}"; do
    RPS[$server]=$(awk 'NF { print $1 }' <<<"${RESULTS[$server]}" | median)
    CPU[$server]=$(awk 'NF { print $2 }' <<<"${RESULTS[$server]}" | median)
    FIRST[$server]=$(awk 'NF { print $3 }' <<<"${RESULTS[$server]}" | median)
    REST[$server]=$(awk 'NF { print $4 }' <<<"${RESULTS[$server]}" | median)
  done
  local ref=${REFERENCE} ref2=${REFERENCE2:-}
  printf '%-16s %-16s %9s %8s %8s %9s %7s %7s %8s %8s %9s %9s\n' scenario server req/s "÷$ref" "${ref2:+÷$ref2}" "µs CPU/req" "first" "rest" \
    "CPU÷$ref" "${ref2:+CPU÷$ref2}" "sys/req" "ctx/req"
  for server in "${SERVERS[@]}"; do
    local p; p=$(profile "$server" "${PORT[$server]}")
    read -r sys_first sys_rest ctx_first ctx_rest <<<"$p"
    awk -v s="$scenario" -v n="$server" -v r="${RPS[$server]}" -v c="${CPU[$server]}" -v f="${FIRST[$server]}" -v o="${REST[$server]}" \
        -v rr="${RPS[$ref]}" -v rc="${CPU[$ref]}" -v rr2="${ref2:+${RPS[$ref2]}}" -v rc2="${ref2:+${CPU[$ref2]}}" \
        -v sf="$sys_first" -v sr="$sys_rest" -v cf="$ctx_first" -v cr="$ctx_rest" '
      function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "" }
      BEGIN { printf "%-16s %-16s %9.0f %8s %8s %10.1f %7.1f %7.1f %8s %9s %4.1f+%-4.1f %4.2f+%-4.2f\n", s, n, r, ratio(r, rr), ratio(r, rr2),
        c, f, o, ratio(c, rc), ratio(c, rc2), sf, sr, cf, cr }'
  done
}

# A minimal API's latency (/native) while 32 connections keep the app at / of the same server busy for 12 s.
native_beside_busy() { # port what-is-busy name-of-the-busy-app
  cat > "$WORK/p95.lua" <<'LUA'
done = function(summary, latency, requests)
  io.write(string.format("native p50 %.2f ms, p95 %.2f ms, p99 %.2f ms, %d requests\n",
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000, summary.requests))
end
LUA
  wrk -t1 -c32 -d12s "http://127.0.0.1:$1/" > "$WORK/busy.txt" &
  local busy=$!
  sleep 1
  echo "beside $2: $(wrk -t1 -c4 -d10s -s "$WORK/p95.lua" "http://127.0.0.1:$1/native" | tail -n 1)"
  wait "$busy"
  echo "busy $3: $(awk '/Requests\/sec/ {print $2}' "$WORK/busy.txt") req/s"
}
