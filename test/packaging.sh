#!/usr/bin/env bash
# The packages as a user gets them. Packs the libraries and the tool into a local folder (no warnings allowed);
# creates a web project outside the repository with `dotnet new web` that takes GatewayBridge from that folder only,
# runs it on a free loopback port and checks its answers; installs the tool from the same folder and serves both a
# .NET app and a Python app with it; publishes examples/HelloGateway with native AOT and checks the binary serves,
# printing its startup time and resident memory next to the JIT build's. About two minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
WORK=$(mktemp -d)
PIDS=()
trap 'kill "${PIDS[@]}" 2>/dev/null || true; rm -rf "$WORK"' EXIT
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_for() { # url
  for _ in $(seq 1 300); do curl -sf -o /dev/null "$1" && return 0; sleep 0.05; done
  echo "nothing answered at $1" >&2; return 1
}
expect() { # url expected
  local got; got=$(curl -sf "$1")
  [ "$got" = "$2" ] || { echo "FAIL: $1 answered '$got', expected '$2'" >&2; exit 1; }
  echo "ok: $1 -> $got"
}

VERSION=$(dotnet msbuild src/GatewayBridge -getProperty:PackageVersion)
FEED="$WORK/feed"
for project in GatewayBridge GatewayBridge.Python GatewayBridge.Serve; do
  dotnet pack "src/$project" -c Release -o "$FEED" -warnaserror --nologo -v q
done
echo "packed $VERSION: $(cd "$FEED" && ls | tr '\n' ' ')"

# A new project, outside the repository, that knows only the local folder, with a package cache of its own so that
# nothing from an earlier build can stand in for what was just packed.
export NUGET_PACKAGES="$WORK/packages"
CONSUMER="$WORK/consumer"
mkdir -p "$CONSUMER"
cat > "$WORK/nuget.config" <<XML
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="local" value="$FEED" />
  </packageSources>
</configuration>
XML
cp "$WORK/nuget.config" "$CONSUMER/"
(cd "$CONSUMER" && dotnet new web --name Consumer --output . >/dev/null && dotnet add package GatewayBridge --version "$VERSION" >/dev/null)
cat > "$CONSUMER/Program.cs" <<'CS'
using System.Text;
using GatewayBridge;

var app = WebApplication.CreateBuilder(args).Build();
app.MapGet("/native", () => "native");
app.UseGatewayApp(Legacy.Handle);
app.Run();

public static class Legacy
{
    public static IEnumerable<byte[]> Handle(IDictionary<string, object?> environ, StartResponse startResponse)
    {
        startResponse("200 OK", [("Content-Type", "text/plain")]);
        return [Encoding.UTF8.GetBytes($"consumer {environ[Environ.PathInfo]}")];
    }
}
CS
(cd "$CONSUMER" && dotnet build -c Release --nologo -v q -warnaserror)
port=$(free_port)
dotnet "$CONSUMER/bin/Release/net10.0/Consumer.dll" --urls "http://127.0.0.1:$port" >/dev/null 2>&1 & PIDS+=($!)
wait_for "http://127.0.0.1:$port/native"
expect "http://127.0.0.1:$port/native" "native"
expect "http://127.0.0.1:$port/hello" "consumer /hello"

# The tool, from the same folder: a .NET app from its assembly, and a Python app as gunicorn names it.
dotnet tool install GatewayBridge.Serve --version "$VERSION" --tool-path "$WORK/tools" --configfile "$WORK/nuget.config" >/dev/null
port=$(free_port)
"$WORK/tools/gatewaybridge" serve "$CONSUMER/bin/Release/net10.0/Consumer.dll" Legacy.Handle --urls "http://127.0.0.1:$port" >/dev/null 2>&1 & PIDS+=($!)
wait_for "http://127.0.0.1:$port/"
expect "http://127.0.0.1:$port/from-the-tool" "consumer /from-the-tool"
port=$(free_port)
"$WORK/tools/gatewaybridge" serve flask_site:app --python /usr/bin/python3 --chdir "$REPO/examples/PythonApps/python" --urls "http://127.0.0.1:$port" >/dev/null 2>&1 & PIDS+=($!)
wait_for "http://127.0.0.1:$port/"
expect "http://127.0.0.1:$port/" "Flask to-dos: /todos"

# Native AOT: the core is AOT-compatible, and an app using it publishes and serves as a native binary.
unset NUGET_PACKAGES
dotnet publish examples/HelloGateway -c Release -r linux-x64 -p:PublishAot=true -o "$WORK/aot" --nologo -v q -warnaserror
dotnet publish examples/HelloGateway -c Release -r linux-x64 --self-contained false -o "$WORK/jit" --nologo -v q
measure() { # label binary
  local port start pid ready rss
  port=$(free_port)
  start=$(date +%s%N)
  "$2" --urls "http://127.0.0.1:$port" >/dev/null 2>&1 & pid=$!; PIDS+=("$pid")
  wait_for "http://127.0.0.1:$port/healthz"
  ready=$(( ($(date +%s%N) - start) / 1000000 ))
  expect "http://127.0.0.1:$port/alice" "<h1>Hello, alice!</h1>" >/dev/null
  expect "http://127.0.0.1:$port/healthz" "ok" >/dev/null
  for _ in $(seq 1 200); do curl -sf -o /dev/null "http://127.0.0.1:$port/bob"; done
  rss=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
  kill "$pid"
  echo "$1: first answer $ready ms after start, resident memory $(( rss / 1024 )) MB after 200 requests"
}
measure "HelloGateway, native AOT ($(( $(stat -c %s "$WORK/aot/HelloGateway") / 1048576 )) MB binary)" "$WORK/aot/HelloGateway"
measure "HelloGateway, JIT" "$WORK/jit/HelloGateway"
echo "packaging checks passed"
