"""Reads Stryker.NET's JSON report and test/mutation-reasons.txt; prints the scores and writes
test/mutation-equivalents.md, the surviving mutants grouped by the reason each cannot be told from the real code.

A reason is keyed by the member a mutant is in (Type.Member) and the mutation (Stryker's mutator name, and
optionally its replacement text), never by line, so that it still applies after the file is edited.

    python3 test/mutation_report.py REPORT.json [--commit SHA] [--minutes N]
"""

import argparse
import datetime
import fnmatch
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REASONS = os.path.join(HERE, "mutation-reasons.txt")
EQUIVALENTS = os.path.join(HERE, "mutation-equivalents.md")

# What every request runs through, from the middleware to the end of the response.
REQUEST_PATH = ("/Hosting/GatewayMiddleware.cs", "/Hosting/GatewayEndpointRouteBuilderExtensions.cs", "/Request/",
                "/Environ/EnvironDictionary.cs", "/Environ/EnvironSource.cs", "/Environ/EnvironTable.cs",
                "/Environ/EnvironFormat.cs", "/Environ/EnvironHeaders.cs", "/Environ/HeaderKeys.cs",
                "/Invocation/", "/Response/", "/Rules/ResponseRules.cs", "/Scheduling/")

DETECTED = ("Killed", "Timeout")
LIVE = ("Survived", "NoCoverage")

TYPE = re.compile(r"^\s*(?:[\w\[\]()\", ]+\s)?(?:class|struct|record|interface|enum)\s+(\w+)")
MODIFIERS = r"(?:public|private|protected|internal|static|readonly|override|async|sealed|virtual|abstract|partial|const|required|new|unsafe|extern)"
MEMBER = re.compile(r"^\s*(?:" + MODIFIERS + r"\s+)+[^;=]*?\b(\w+)\s*(?:<[^>()]*>)?\s*(?:\(|=>|\{|=|;|$)")


def member_of(lines, line_number):
    """Type.Member around a 1-based line: walking up, each line less indented than the scope so far encloses it."""
    def indent(text):
        return len(text) - len(text.lstrip())

    scope = indent(lines[line_number - 1]) + 1
    member = None
    for i in range(line_number - 1, -1, -1):
        text = lines[i]
        stripped = text.strip()
        if not stripped or stripped.startswith(("//", "[", "{", "}")) or indent(text) >= scope:
            continue
        scope = indent(text)
        kind = TYPE.match(text)
        if kind:
            return f"{kind.group(1)}.{member or '(type)'}"
        found = MEMBER.match(text)
        if found and member is None:
            member = found.group(1)
    return f"(file).{member or '(top)'}"


def normalize(text):
    return " ".join((text or "").split())


def load_reasons():
    reasons = []  # (id, sentence, [(member, mutator, replacement glob)])
    current = None
    with open(REASONS, encoding="utf-8") as file:
        for raw in file:
            line = raw.rstrip("\n")
            if not line.strip() or line.startswith("# "):
                continue
            if line.startswith("## "):
                current = [line[3:].strip(), "", []]
                reasons.append(current)
            elif current is not None and "|" not in line:
                current[1] = (current[1] + " " + line.strip()).strip()
            elif current is not None:
                parts = [p.strip() for p in line.split("|")]
                if len(parts) != 3:
                    sys.exit(f"{REASONS}: '{line}' is not 'Type.Member | mutator | replacement'")
                current[2].append((parts[0], parts[1], normalize(parts[2])))
    return reasons


def score(mutants):
    detected = sum(1 for m in mutants if m["status"] in DETECTED)
    valid = sum(1 for m in mutants if m["status"] in DETECTED + LIVE)
    return detected, valid


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("report")
    parser.add_argument("--commit", default="")
    parser.add_argument("--minutes", default="")
    args = parser.parse_args()
    report = json.load(open(args.report, encoding="utf-8"))
    reasons = load_reasons()

    everything, request_path, live = [], [], []
    for path, file in sorted(report["files"].items()):
        name = path.replace("\\", "/").split("/src/GatewayBridge/")[-1]
        lines = file["source"].split("\n")
        for mutant in file["mutants"]:
            everything.append(mutant)
            if any(part in "/" + name for part in REQUEST_PATH):
                request_path.append(mutant)
            if mutant["status"] in LIVE:
                key = member_of(lines, mutant["location"]["start"]["line"])
                live.append((key, mutant["mutatorName"], normalize(mutant.get("replacement")), mutant["status"], name))

    grouped = {r[0]: [] for r in reasons}
    unexplained = []
    used = set()
    for entry in live:
        key, mutator, replacement = entry[0], entry[1], entry[2]
        for rid, _, rules in reasons:
            match = next((r for r in rules if r[0] == key and r[1] == mutator and fnmatch.fnmatchcase(replacement, r[2])), None)
            if match:
                grouped[rid].append(entry)
                used.add((rid,) + match)
                break
        else:
            unexplained.append(entry)

    scores = []
    for label, subset in (("whole library", everything), ("request path", request_path)):
        detected, valid = score(subset)
        scores.append((label, detected, valid))
        print(f"{label}: {100 * detected / max(valid, 1):.1f}% ({detected} of {valid})")

    stale = [(rid,) + rule for rid, _, rules in reasons for rule in rules if (rid,) + rule not in used]
    out = ["# Surviving mutants, and why each is equivalent", "",
           "Written by `bash test/mutation.sh` from Stryker.NET's report and the reasons in",
           "[mutation-reasons.txt](mutation-reasons.txt); do not edit by hand. A mutant is equivalent when no caller",
           "can observe it: it only changes speed or allocation, repeats a check the next statement makes anyway, or",
           "needs an input the server never produces or a thread race no deterministic test can arrange.", "",
           f"Run of {datetime.date.today().isoformat()}" + (f" on commit `{args.commit}`" if args.commit else "")
           + (f", {args.minutes} minutes on 2 cores" if args.minutes else "") + ": "
           + "; ".join(f"{label} {100 * d / max(v, 1):.1f} % ({d} of {v} detected)" for label, d, v in scores) + ".", ""]

    def table(entries):
        rows = ["| member | mutation | replacement | status |", "| --- | --- | --- | --- |"]
        for key, mutator, replacement, status, _ in sorted(entries):
            shown = replacement.replace("|", "\\|")
            rows.append(f"| `{key}` | {mutator} | `{shown[:90]}` | {status} |")
        return rows

    if unexplained:
        out += ["## Needs a test or a reason", "",
                "Survivors no reason covers: write a test that kills each, or add its reason to mutation-reasons.txt.", ""]
        out += table(unexplained) + [""]
    for rid, sentence, _ in reasons:
        if grouped[rid]:
            out += [f"## {rid}", "", sentence, ""] + table(grouped[rid]) + [""]
    with open(EQUIVALENTS, "w", encoding="utf-8") as file:
        file.write("\n".join(out))

    print(f"{len(live)} survivors: {len(live) - len(unexplained)} explained, {len(unexplained)} need a test or a reason")
    for key, mutator, replacement, status, name in unexplained:
        print(f"  {status}: {key} ({name}) {mutator}: {replacement[:80]}")
    for rid, key, mutator, replacement in stale:
        print(f"  no longer needed: [{rid}] {key} | {mutator} | {replacement}")


if __name__ == "__main__":
    main()
