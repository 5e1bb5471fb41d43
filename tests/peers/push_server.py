#!/usr/bin/env python3
"""A stream server for sockloop's tcp/unix client tests, standard library only.

usage: push_server.py MODE [--unix PATH]
  greet   on accept, send "hello from python" at once (before reading anything);
          then answer each line with "py: <line>"; at end of input (the client's
          FIN) send "bye after N lines" and close
  count   read until end of input, then send "got N bytes" and close

Listens on 127.0.0.1, any free port, or on the Unix socket PATH. Prints
`READY <address>`, then `RECEIVED <n> bytes` and `EOF` as the session goes.
Serves one connection; exits on its own after 15 s.
"""

import os
import socket
import sys


def say(*words):
    print(*words, flush=True)


def main():
    mode = sys.argv[1]
    if len(sys.argv) >= 4 and sys.argv[2] == "--unix":
        path = sys.argv[3]
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(4)
        address = path
    else:
        listener = socket.create_server(("127.0.0.1", 0))
        address = f"127.0.0.1:{listener.getsockname()[1]}"
    listener.settimeout(15)
    say("READY", address)
    conn, _ = listener.accept()
    conn.settimeout(15)
    total = 0
    if mode == "greet":
        conn.sendall(b"hello from python\n")
        lines = 0
        pending = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            total += len(chunk)
            pending += chunk
            while b"\n" in pending:
                line, pending = pending.split(b"\n", 1)
                lines += 1
                conn.sendall(b"py: " + line + b"\n")
        say("EOF")
        conn.sendall(f"bye after {lines} lines\n".encode())
    elif mode == "count":
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            total += len(chunk)
        say("EOF")
        conn.sendall(f"got {total} bytes\n".encode())
    say("RECEIVED", total, "bytes")
    conn.close()
    if address.startswith("/"):
        os.unlink(address)


if __name__ == "__main__":
    main()
