#!/usr/bin/env python3
"""A WebSocket client on the PyPI `websockets` package (sync API), which offers
permessage-deflate by default, for sockloop's compression tests.

usage: ws_deflate_client.py URL

Connects, then prints, flushed at once:
  READY <url>                  connected
  EXTENSIONS <value|None>      the server's Sec-WebSocket-Extensions answer
  ECHO <n> <bytes> ok|MISMATCH each message sent and whether its echo came back equal
  DONE                         closed with 1000
The messages: a 100 KiB JSON-like text, a 64 KiB binary pattern, a short text,
and 20 chat-sized texts (300 bytes). Gives up after 15 s.
"""

import sys

from websockets.sync.client import connect


def say(*words):
    print(*words, flush=True)


def messages():
    yield "".join(f'{{"id": {i}, "user": "alice", "text": "hello number {i}"}}\n' for i in range(2000))[:100 * 1024]
    yield bytes(i % 251 for i in range(64 * 1024))
    yield "hi"
    for i in range(20):
        yield (f"<bob> message {i} to the room: " + "the weather is fine today, " * 12)[:300]


def main():
    url = sys.argv[1]
    with connect(url, open_timeout=15, close_timeout=5, max_size=2**21) as ws:
        say("READY", url)
        say("EXTENSIONS", ws.response.headers.get("Sec-WebSocket-Extensions"))
        for n, message in enumerate(messages()):
            ws.send(message)
            echo = ws.recv(timeout=15)
            size = len(message.encode() if isinstance(message, str) else message)
            say("ECHO", n, size, "ok" if echo == message else "MISMATCH")
    say("DONE")


if __name__ == "__main__":
    main()
