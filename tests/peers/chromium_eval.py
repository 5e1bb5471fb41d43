#!/usr/bin/env python3
"""Drives headless Chromium over the DevTools protocol (with the PyPI `websockets`
client), for tests that need a real browser.

usage: chromium_eval.py CHROMIUM URL EXPRESSION [FLAG...]

Opens URL in a fresh headless Chromium (its own temporary profile), then evaluates the
JavaScript EXPRESSION in the page every 100 ms until it returns a non-empty string.
Prints `READY <url>` at once, then `RESULT <string>`, and exits; gives
up after 9 s (within the tests' 10 s wait for a peer) with `RESULT TIMEOUT`. FLAGs go to Chromium's command line (such as
--ignore-certificate-errors-spki-list=HASH to trust one test certificate).
"""

import itertools
import json
import shutil
import subprocess
import sys
import tempfile
import time

from websockets.sync.client import connect

LIMIT = 9.0


def say(*words):
    print(*words, flush=True)


def main():
    chromium, url, expression = sys.argv[1:4]
    flags = sys.argv[4:]
    # READY at once: a loaded machine may take seconds to start Chromium, and the
    # whole run (under LIMIT) is what the test waits for.
    say("READY", url)
    profile = tempfile.mkdtemp(prefix="sockloop-chromium-")
    browser = subprocess.Popen(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--remote-debugging-port=0", f"--user-data-dir={profile}", *flags, "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + LIMIT
    try:
        devtools = None
        for line in browser.stderr:
            if line.startswith("DevTools listening on "):
                devtools = line.split()[-1]
                break
        if devtools is None:
            say("RESULT NO-DEVTOOLS")
            return
        ids = itertools.count(1)
        with connect(devtools, max_size=2**24) as cdp:
            def call(method, session=None, **params):
                msg = {"id": next(ids), "method": method, "params": params}
                if session:
                    msg["sessionId"] = session
                cdp.send(json.dumps(msg))
                while True:
                    reply = json.loads(cdp.recv(timeout=max(0.1, deadline - time.monotonic())))
                    if reply.get("id") == msg["id"]:
                        return reply.get("result", {})

            target = call("Target.createTarget", url=url)["targetId"]
            session = call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
            while time.monotonic() < deadline:
                result = call("Runtime.evaluate", session, expression=expression,
                              returnByValue=True).get("result", {})
                value = result.get("value")
                if isinstance(value, str) and value:
                    say("RESULT", value)
                    return
                time.sleep(0.1)
        say("RESULT TIMEOUT")
    finally:
        browser.kill()
        browser.wait()
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    main()
