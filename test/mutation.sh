#!/usr/bin/env bash
# Mutation testing of the core library with Stryker.NET against its test suite: by hand, not in CI (it takes a
# while on 2 cores). Prints the score for the whole library and for the request path, and leaves the HTML and
# JSON reports under test/StrykerOutput/<date>/reports. Surviving mutants judged equivalent are listed, with why,
# in test/mutation-equivalents.md.
set -euo pipefail
cd "$(dirname "$0")"
TOOLS="${TMPDIR:-/tmp}/gatewaybridge-stryker"
[ -x "$TOOLS/dotnet-stryker" ] || dotnet tool install dotnet-stryker --version 5.1.0 --tool-path "$TOOLS" >/dev/null
bash prepare.sh
"$TOOLS/dotnet-stryker" --config-file stryker-config.json --solution ../GatewayBridge.sln "$@"

report=$(ls -t StrykerOutput/*/reports/mutation-report.json | head -n 1)
python3 - "$report" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
# The request path: what every request runs through, from the middleware to the end of the response.
request_path = ("GatewayMiddleware", "GatewayRequestHandler", "RequestAdmission", "GatewayAppInvoker", "ResponseBodyWriter",
                "StartResponseState", "EnvironDictionary", "EnvironTable", "EnvironSource", "EnvironFormat", "EnvironHeaders",
                "HeaderKeys", "ResponseRules", "GatewayWorkerPool", "GatewayEndpointRouteBuilderExtensions")
def score(files):
    counts = {}
    for name, file in files:
        for mutant in file["mutants"]:
            counts[mutant["status"]] = counts.get(mutant["status"], 0) + 1
    detected = counts.get("Killed", 0) + counts.get("Timeout", 0)
    valid = detected + counts.get("Survived", 0) + counts.get("NoCoverage", 0)
    return detected, valid, counts
files = list(report["files"].items())
for label, subset in (("library", files), ("request path", [f for f in files if any(p in f[0] for p in request_path)])):
    detected, valid, counts = score(subset)
    print(f"{label}: {100 * detected / max(valid, 1):.1f}% ({detected} of {valid}; {counts})")
for name, file in files:
    for mutant in file["mutants"]:
        if mutant["status"] in ("Survived", "NoCoverage"):
            print(f"  {mutant['status']}: {name.split('/src/')[-1]}:{mutant['location']['start']['line']} {mutant['mutatorName']}: {mutant.get('replacement', '')[:80]}")
PY
