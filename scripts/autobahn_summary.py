#!/usr/bin/env python3
"""Helper for scripts/autobahn.sh: pick the Autobahn cases to run, and summarise
the kosoku reports afterwards. Run it with the autobahn venv's python (the
`select` subcommand imports kosoku's case index).

    autobahn_summary.py select [-i PATTERN]... [-x PATTERN]...
        Print the selected case ids, one line per section: "SECTION ID ID ...".
        Patterns follow kosoku's (and Autobahn's) rules: a plain id matches
        exactly; a pattern with `*` is a glob anchored at the start only, so
        `9.*` is section 9 while `1*` would also take 10.*, 12.* and 13.*.
        An include pattern that matches nothing is an error, as in kosoku.

    autobahn_summary.py summary REPORT_DIR [--timed-out FILE] [--not-run FILE]
                                [--gate-max-section N] [--strict-close]
        Merge every index.json under REPORT_DIR (kosoku writes one per run),
        print the one-line summary, a table of 9.* durations, and the failures.
        Exit 1 if a case in sections 1..N (default 13: all) has behavior
        FAILED, NON-STRICT or UNIMPLEMENTED, ERROR (kosoku could not run it:
        refused connection, no 101, crash), timed out, or was not run; an ERROR
        or time-out in any section fails too. With N = 10, sections 12 and 13
        (permessage-deflate) are shown but do not gate.
        --strict-close also fails on a FAILED or UNCLEAN closing handshake.

kosoku's index.json (Autobahn's format) is {agent: {case_id: {"behavior",
"behaviorClose", "duration" (ms), "remoteCloseCode", "reportfile"}}}; the
agent is the server's `Server` header, or HOST:PORT when there was none (so a
run can hold several agents: we merge them). The per-case JSON named by
"reportfile" sits beside it and adds "description", "result", "resultClose",
"remoteCloseReason", ...
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

# Autobahn's verdicts in report order, then the ones kosoku or we add.
BEHAVIORS = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]
# The verdicts that fail a gated case: only OK and INFORMATIONAL pass.
GATING = {"FAILED", "NON-STRICT", "UNIMPLEMENTED"}
EXTRA = ["ERROR", "TIMEOUT", "NOT RUN"]  # shown only when non-zero
CLOSE_FAILURES = {"FAILED", "UNCLEAN"}
MAX_LISTED = 25  # failures printed in full; the rest are only counted


def id_key(case_id: str) -> list[int]:
    """Numeric order: 1.2.10 after 1.2.9, 10.* after 9.*."""
    return [int(p) for p in case_id.split(".")]


def section(case_id: str) -> int:
    return int(case_id.split(".")[0])


# --------------------------------------------------------------------------
# select


def glob_matches(pattern: str, ids: list[str]) -> list[str]:
    if "*" not in pattern:
        return [pattern] if pattern in ids else []
    rx = re.compile("^" + pattern.replace(".", r"\.").replace("*", ".*"))
    return [i for i in ids if rx.match(i)]


def cmd_select(args: argparse.Namespace) -> int:
    from kosoku.cases import CASES  # the suite's full, ordered case index

    all_ids = list(CASES)
    if args.include:
        chosen: set[str] = set()
        for pat in args.include:
            hits = glob_matches(pat, all_ids)
            if not hits:
                print(f"autobahn: no cases match {pat!r}", file=sys.stderr)
                return 2
            chosen.update(hits)
    else:
        chosen = set(all_ids)
    for pat in args.exclude or []:
        chosen.difference_update(glob_matches(pat, all_ids))
    if not chosen:
        print("autobahn: the selection is empty", file=sys.stderr)
        return 2

    by_section: dict[int, list[str]] = {}
    for cid in sorted(chosen, key=id_key):
        by_section.setdefault(section(cid), []).append(cid)
    for sec, ids in by_section.items():
        print(sec, *ids)
    return 0


# --------------------------------------------------------------------------
# summary


def load_results(report_dir: Path) -> dict[str, dict]:
    """case id -> index entry, plus "_file" (the per-case JSON path)."""
    results: dict[str, dict] = {}
    for index in sorted(report_dir.rglob("index.json")):
        for cases in json.loads(index.read_text()).values():
            for cid, entry in cases.items():
                entry = dict(entry)
                entry["_file"] = index.parent / entry["reportfile"]
                results[cid] = entry
    return results


def read_ids(path: str | None) -> list[str]:
    if not path or not Path(path).exists():
        return []
    return Path(path).read_text().split()


def case_detail(entry: dict) -> dict:
    try:
        return json.loads(Path(entry["_file"]).read_text())
    except (OSError, ValueError, KeyError):
        return {}


def one_line(text: object, limit: int = 160) -> str:
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 3] + "..."


def print_durations(results: dict[str, dict]) -> None:
    """The 9.* (limits/performance) cases, four "id ms" pairs to a row; a
    verdict other than OK is shown after the time."""
    nine = sorted((c for c in results if section(c) == 9), key=id_key)
    if not nine:
        return
    total = sum(results[c]["duration"] for c in nine)
    print(f"9.* durations (ms), {len(nine)} cases, {total} ms in all:")
    cells = []
    for cid in nine:
        e = results[cid]
        mark = "" if e["behavior"] == "OK" else f" {e['behavior']}"
        cells.append(f"{cid:>7} {e['duration']:>6}{mark:<10}")
    for i in range(0, len(cells), 4):
        print("  " + "".join(cells[i : i + 4]).rstrip())


def cmd_summary(args: argparse.Namespace) -> int:
    results = load_results(Path(args.report_dir))
    timed_out = [c for c in read_ids(args.timed_out) if c not in results]
    not_run = [c for c in read_ids(args.not_run) if c not in results]

    counts = Counter(e["behavior"] for e in results.values())
    counts["TIMEOUT"] = len(timed_out)
    counts["NOT RUN"] = len(not_run)
    total = len(results) + len(timed_out) + len(not_run)
    parts = [f"{b} {counts[b]}" for b in BEHAVIORS]
    parts += [f"{b} {counts[b]}" for b in EXTRA if counts[b]]
    parts += [f"{b} {n}" for b, n in counts.items() if b not in BEHAVIORS + EXTRA]
    print(f"autobahn: {total} cases \u2014 " + ", ".join(parts))

    close = Counter(e["behaviorClose"] for e in results.values())
    if results and set(close) != {"OK"}:
        print("autobahn: closing handshake \u2014 " + ", ".join(f"{k} {v}" for k, v in close.most_common()))

    print_durations(results)

    # What fails the run.
    def gated(cid: str) -> bool:
        return section(cid) <= args.gate_max_section

    bad = []  # (case id, entry) with a failing verdict
    for cid in sorted(results, key=id_key):
        e = results[cid]
        if e["behavior"] == "ERROR" or (e["behavior"] in GATING and gated(cid)):
            bad.append(cid)
        elif args.strict_close and gated(cid) and e["behaviorClose"] in CLOSE_FAILURES:
            bad.append(cid)
    # FAILED in ungated sections is shown, but does not fail the run.
    shown = bad + [
        c for c in sorted(results, key=id_key)
        if c not in bad and results[c]["behavior"] == "FAILED"
    ]

    if shown:
        print(f"failed cases ({len(shown)}):")
    for cid in shown[:MAX_LISTED]:
        e = results[cid]
        d = case_detail(e)
        tag = "" if cid in bad else " (not gating)"
        print(f"  {cid}: behavior={e['behavior']} close={e['behaviorClose']}"
              f" remoteCloseCode={e['remoteCloseCode']} {e['duration']} ms{tag}")
        if d.get("description"):
            print(f"      case:   {one_line(d['description'])}")
        result, result_close = d.get("result", ""), d.get("resultClose", "")
        if result_close and result_close != result:
            result = f"{result} / close: {result_close}"
        print(f"      result: {one_line(result, 200)}")
        if d.get("remoteCloseReason"):
            print(f"      server close reason: {one_line(d['remoteCloseReason'], 100)}")
        print(f"      report: {e['_file']}")
    if len(shown) > MAX_LISTED:
        print(f"  ... and {len(shown) - MAX_LISTED} more (see the reports)")

    if timed_out:
        print(f"timed out, no verdict ({len(timed_out)}): {' '.join(timed_out)}")
        print("      kosoku waits forever for a reply to its close frame; a case that"
              " never ends usually means the server did not answer the close")
    if not_run:
        print(f"not run, overall time limit reached ({len(not_run)}): {' '.join(not_run)}")

    failing = bad + [c for c in timed_out + not_run]
    return 1 if failing else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("select")
    p.add_argument("-i", "--include", action="append")
    p.add_argument("-x", "--exclude", action="append")
    p.set_defaults(func=cmd_select)

    p = sub.add_parser("summary")
    p.add_argument("report_dir")
    p.add_argument("--timed-out", help="file listing case ids that timed out")
    p.add_argument("--not-run", help="file listing case ids never run")
    p.add_argument("--gate-max-section", type=int, default=13)
    p.add_argument("--strict-close", action="store_true")
    p.set_defaults(func=cmd_summary)

    args = parser.parse_args()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
