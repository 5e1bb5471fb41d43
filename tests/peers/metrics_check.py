#!/usr/bin/env python3
"""Checks sockloop's /metrics and /health with independent clients, for
tests/metrics.rs.

  metrics_check.py scrape HOST:PORT
      (needs the PyPI `websockets` and `prometheus_client` packages) Prints `READY HOST:PORT`,
      opens ws://HOST:PORT/ws, sends one message, closes with 1000; then fetches
      /metrics, parses it with prometheus_client's text parser (which rejects
      malformed input) and prints `FAMILY <name> <type>` and
      `SAMPLE <name> <label=value,...> <value>` lines, sorted.

  metrics_check.py health URL
      (standard library only) Prints `READY URL`, then `STATUS <code> <body>` for a GET.
"""
import sys
import urllib.error
import urllib.request


def say(*words):
    print(*words, flush=True)


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers.get("Content-Type", ""), e.read().decode()


def scrape(hostport):
    from prometheus_client.parser import text_string_to_metric_families
    from websockets.sync.client import connect

    say("READY", hostport)
    with connect(f"ws://{hostport}/ws", open_timeout=5, close_timeout=2) as ws:
        ws.send("hello")
        ws.recv(timeout=5)
    status, ctype, text = fetch(f"http://{hostport}/metrics")
    say("STATUS", status, ctype)
    lines = []
    for family in text_string_to_metric_families(text):
        lines.append(f"FAMILY {family.name} {family.type}")
        for s in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
            lines.append(f"SAMPLE {s.name} {labels or '-'} {s.value:g}")
    for line in sorted(lines):
        say(line)


def health(url):
    say("READY", url)
    status, _, body = fetch(url)
    say("STATUS", status, body.strip())


if __name__ == "__main__":
    {"scrape": scrape, "health": health}[sys.argv[1]](*sys.argv[2:])
