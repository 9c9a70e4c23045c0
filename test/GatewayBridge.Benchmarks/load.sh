#!/usr/bin/env bash
# Load benchmark: twin Kestrel servers on loopback answering identical bytes, one with plain middleware and
# one with gateway apps, measured alternately (A/B, B/A, ...) with wrk: 1 thread, 16 connections.
# Prints req/s for each side, the ratio gateway/plain, bytes allocated and server CPU time per request on each side.
# Bounded: 24 s of warm-up, then 4 scenarios x ROUNDS x 2 runs x DURATION s (6 and 2 by default): about two minutes.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=common.sh
. test/GatewayBridge.Benchmarks/common.sh

DURATION="${DURATION:-2}"
ROUNDS="${ROUNDS:-6}"
CONNECTIONS="${CONNECTIONS:-16}"
PLAIN_PORT=5101
GATEWAY_PORT=5102

ensure_wrk

dotnet build -c Release test/GatewayBridge.Benchmarks >/dev/null
BIN=test/GatewayBridge.Benchmarks/bin/Release/net10.0/GatewayBridge.Benchmarks

# wrk on CPU 0 and the servers on the last CPU, so that the load generator and the server under test do not
# fight over the same core from one run to the next (the largest source of noise on a 2-core machine).
# PIN=0 lets everything share all cores instead, as a plain `wrk` run against a server does.
if [ "${PIN:-1}" = 1 ]; then
  SERVER_CPUS=(taskset -c "$(( $(nproc) - 1 ))"); WRK_CPUS=(taskset -c 0)
else
  SERVER_CPUS=(); WRK_CPUS=()
fi
"${SERVER_CPUS[@]}" "$BIN" serve plain "$PLAIN_PORT" & PLAIN_PID=$!
"${SERVER_CPUS[@]}" "$BIN" serve gateway "$GATEWAY_PORT" & GATEWAY_PID=$!
WORK=$(mktemp -d)
trap 'kill $PLAIN_PID $GATEWAY_PID 2>/dev/null || true; rm -rf "$WORK"' EXIT

wait_for_server "$PLAIN_PORT"
wait_for_server "$GATEWAY_PORT"

make_post_script "$WORK"

# Both sides must answer the same bytes, or the comparison means nothing.
for path in /hello /stream /file; do
  a=$(curl -s "http://127.0.0.1:$PLAIN_PORT$path" | sha256sum); b=$(curl -s "http://127.0.0.1:$GATEWAY_PORT$path" | sha256sum)
  [ "$a" = "$b" ] || { echo "bodies differ for $path" >&2; exit 1; }
done
a=$(curl -s --data-binary @"$WORK/body" "http://127.0.0.1:$PLAIN_PORT/echo" | sha256sum)
b=$(curl -s --data-binary @"$WORK/body" "http://127.0.0.1:$GATEWAY_PORT/echo" | sha256sum)
[ "$a" = "$b" ] || { echo "bodies differ for /echo" >&2; exit 1; }

alloc() { # the server's total allocated bytes; retried, since a port can be briefly busy after a run
  local value=""
  for _ in 1 2 3 4 5; do
    value=$(curl -sf --max-time 5 "http://127.0.0.1:$1/_alloc" || true)
    [ -n "$value" ] && break
    sleep 0.5
  done
  [ -n "$value" ] || { echo "no allocation figure from port $1" >&2; exit 1; }
  echo "$value"
}

TICK=$(getconf CLK_TCK)
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # the server's user + system CPU time so far

run() { # seconds port path [lua] -> "reqs_per_sec bytes_per_request cpu_microseconds_per_request"
  local seconds=$1 port=$2 path=$3 script=${4:-}
  local before after out requests rps pid cpu_before cpu_after
  pid=$PLAIN_PID; [ "$port" = "$GATEWAY_PORT" ] && pid=$GATEWAY_PID
  before=$(alloc "$port")
  cpu_before=$(cpu_ticks "$pid")
  if [ -n "$script" ]; then
    out=$("${WRK_CPUS[@]}" wrk -t1 -c"$CONNECTIONS" -d"${seconds}s" -s "$script" "http://127.0.0.1:$port$path")
  else
    out=$("${WRK_CPUS[@]}" wrk -t1 -c"$CONNECTIONS" -d"${seconds}s" "http://127.0.0.1:$port$path")
  fi
  cpu_after=$(cpu_ticks "$pid")
  after=$(alloc "$port")
  requests=$(awk '/requests in/ {print $1}' <<<"$out")
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  if grep -q "Non-2xx\|Socket errors" <<<"$out"; then echo "errors: $out" >&2; fi
  echo "$rps $(( (after - before) / requests )) $(awk -v t=$((cpu_after - cpu_before)) -v hz="$TICK" -v n="$requests" 'BEGIN { printf "%.2f", t * 1e6 / hz / n }')"
}

# Warm-up, not counted: tiered compilation (with PGO) needs many calls and spare CPU to reach its final code;
# a server pinned to one busy core gets there only after several seconds under load.
for scenario in hello echo stream file; do
  lua=""; [ "$scenario" = echo ] && lua="$WORK/post.lua"
  run 3 "$PLAIN_PORT" "/$scenario" "$lua" >/dev/null
  run 3 "$GATEWAY_PORT" "/$scenario" "$lua" >/dev/null
done

# Each round measures both sides back to back (in turn first, so neither always gets the warmer machine) and the
# ratios are the median over rounds: this virtual machine's speed drifts by 20-30% within a minute, and a pair
# taken seconds apart shares that drift. cpu_ratio is plain's server CPU time per request over the gateway's.
printf '%-8s %11s %11s %6s %12s %12s %10s %10s %9s\n' scenario plain_rps gateway_rps ratio plain_B/req gateway_B/req plain_us gateway_us cpu_ratio
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
queued_before=$(curl -sf "http://127.0.0.1:$GATEWAY_PORT/_queued")
for scenario in hello echo stream file; do
  path=/$scenario; lua=""
  [ "$scenario" = echo ] && lua="$WORK/post.lua"
  results=""
  for round in $(seq 1 "$ROUNDS"); do
    if (( round % 2 )); then
      plain=$(run "$DURATION" "$PLAIN_PORT" "$path" "$lua"); gateway=$(run "$DURATION" "$GATEWAY_PORT" "$path" "$lua")
    else
      gateway=$(run "$DURATION" "$GATEWAY_PORT" "$path" "$lua"); plain=$(run "$DURATION" "$PLAIN_PORT" "$path" "$lua")
    fi
    results+="$plain $gateway"$'\n'
  done
  ratio=$(awk 'NF == 6 { print $4 / $1 }' <<<"$results" | median)
  cpu_ratio=$(awk 'NF == 6 { print $3 / $6 }' <<<"$results" | median)
  awk -v s="$scenario" -v r="$ratio" -v c="$cpu_ratio" 'NF == 6 { p += $1; pa += $2; pc += $3; g += $4; ga += $5; gc += $6; n++ }
    END { printf "%-8s %11.0f %11.0f %6.3f %12d %12d %10.2f %10.2f %9.3f\n", s, p / n, g / n, r, pa / n, ga / n, pc / n, gc / n, c }' <<<"$results"
done
echo "gateway app calls that waited for a worker thread: $(( $(curl -sf "http://127.0.0.1:$GATEWAY_PORT/_queued") - queued_before ))"
