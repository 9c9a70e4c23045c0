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

# The Python load scripts' settings, wrk, the Debian packages and the Release build ($BIN); they run their servers in
# the background with each pid in PIDS (stopped on exit) and keep scratch files in WORK.
python_load_setup() {
  DURATION="${DURATION:-3}"
  ROUNDS="${ROUNDS:-5}"
  CONNECTIONS="${CONNECTIONS:-16}"
  PYTHON=/usr/bin/python3
  APPS=test/GatewayBridge.Benchmarks/python
  ensure_wrk
  bash test/prepare.sh
  dotnet build -c Release test/GatewayBridge.Benchmarks >/dev/null
  BIN=test/GatewayBridge.Benchmarks/bin/Release/net10.0/GatewayBridge.Benchmarks
  PIDS=()
  WORK=$(mktemp -d)
  trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
}
ready() { # port: any answer from / will do
  for _ in $(seq 1 150); do curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0; sleep 0.1; done
  echo "server on port $1 did not start" >&2; return 1
}
rps() { # port [connections] [path]
  wrk -t1 -c"${2:-$CONNECTIONS}" -d"${DURATION}s" "http://127.0.0.1:$1${3:-/}" | awk '/Requests\/sec/ {print $2}'
}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
stop_all() { kill "${PIDS[@]}" 2>/dev/null || true; wait "${PIDS[@]}" 2>/dev/null || true; PIDS=(); sleep 1; }

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
