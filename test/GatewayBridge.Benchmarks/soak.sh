#!/usr/bin/env bash
# Soak: 30 s of 4 KB POST echo at 64 connections against the gateway twin server on loopback (wrk installed
# from Debian if missing). Prints throughput, errors and the server's resident memory every 5 s; fails on
# any error or non-2xx answer. Not part of the test run.
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=common.sh
. test/GatewayBridge.Benchmarks/common.sh

PORT=5151
SECONDS_TOTAL="${SOAK_SECONDS:-30}"

ensure_wrk

dotnet build -c Release test/GatewayBridge.Benchmarks >/dev/null
BIN=test/GatewayBridge.Benchmarks/bin/Release/net10.0/GatewayBridge.Benchmarks
# A production-like GC (Server GC with DATAS), unlike load.sh, which fixes the heaps to count allocations.
DOTNET_GCDynamicAdaptationMode=1 "$BIN" serve gateway "$PORT" & SERVER=$!
WORK=$(mktemp -d)
trap 'kill $SERVER 2>/dev/null || true; rm -rf "$WORK"' EXIT
wait_for_server "$PORT"

make_post_script "$WORK"

rss() { awk '/VmRSS/ {print int($2 / 1024)}' "/proc/$SERVER/status"; }
echo "rss at start: $(rss) MB"
wrk -t1 -c64 -d"${SECONDS_TOTAL}s" -s "$WORK/post.lua" "http://127.0.0.1:$PORT/echo" > "$WORK/wrk.txt" &
WRK=$!
samples=()
while kill -0 "$WRK" 2>/dev/null; do
  sleep 5
  kill -0 "$WRK" 2>/dev/null || break
  samples+=("$(rss)")
  echo "rss after $(( ${#samples[@]} * 5 )) s: ${samples[-1]} MB"
done
wait "$WRK"
cat "$WORK/wrk.txt"
echo "rss at end: $(rss) MB"
if grep -q "Non-2xx\|Socket errors" "$WORK/wrk.txt"; then
  echo "soak: errors" >&2
  exit 1
fi
echo "soak: no errors"
