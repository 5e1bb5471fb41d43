#!/usr/bin/env python3
"""Clients of sockloop's chat and pub/sub services for tests/chat_peers.rs.

  chat_peer.py chat URL
      (needs the PyPI `websockets` package) Opens URL (ws://…/chat), takes the nick
      `py`, prints `READY <its guest nick>`, then prints every line of the room as
      `HEARD <line>`. When someone says `hello python` it answers `hi from python`;
      once it hears its own answer it prints `DONE` and closes with 1000.

  chat_peer.py subscribe HOST PORT TOPIC COUNT
      (standard library only) A pubsub subscriber on a plain TCP socket: `SUB TOPIC`,
      prints `READY <the reply>`, then `MSG <payload>` for each of COUNT messages, and
      exits.
"""
import socket
import sys


def say(*words):
    print(*words, flush=True)


def chat(url):
    from websockets.sync.client import connect

    with connect(url, open_timeout=5, close_timeout=2) as ws:
        welcome = ws.recv(timeout=5)
        guest = welcome.split(", ")[1].split(";")[0]
        ws.recv(timeout=5)  # its own arrival in the lobby
        ws.send("/nick py")
        say("READY", guest)
        while True:
            line = ws.recv(timeout=8)
            say("HEARD", line)
            if line.endswith("> hello python"):
                ws.send("hi from python")
            if line == "<py> hi from python":
                say("DONE")
                return


def subscribe(host, port, topic, count):
    with socket.create_connection((host, int(port)), timeout=8) as s:
        lines = s.makefile("rb")
        s.sendall(b"SUB " + topic.encode() + b"\n")
        say("READY", lines.readline().decode().strip())
        for _ in range(int(count)):
            line = lines.readline().decode().rstrip("\n")
            say("MSG", line.split(" ", 2)[2])


if __name__ == "__main__":
    {"chat": chat, "subscribe": subscribe}[sys.argv[1]](*sys.argv[2:])
