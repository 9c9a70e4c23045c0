#!/usr/bin/env bash
# Mutation testing of the core library with Stryker.NET against its test suite: by hand, not in CI (about 35
# minutes on 2 cores). Prints the score for the whole library and for the request path, rewrites
# test/mutation-equivalents.md (the survivors, grouped by the reasons in test/mutation-reasons.txt) and lists the
# survivors no reason covers. The HTML and JSON reports stay under test/StrykerOutput/<date>/reports.
set -euo pipefail
cd "$(dirname "$0")"
TOOLS="${TMPDIR:-/tmp}/gatewaybridge-stryker"
[ -x "$TOOLS/dotnet-stryker" ] || dotnet tool install dotnet-stryker --version 5.1.0 --tool-path "$TOOLS" >/dev/null
bash prepare.sh
started=$(date +%s)
"$TOOLS/dotnet-stryker" --config-file stryker-config.json --solution ../GatewayBridge.sln "$@"
minutes=$(( ($(date +%s) - started + 59) / 60 ))

report=$(ls -t StrykerOutput/*/reports/mutation-report.json | head -n 1)
python3 mutation_report.py "$report" --commit "$(git rev-parse --short HEAD)" --minutes "$minutes"
