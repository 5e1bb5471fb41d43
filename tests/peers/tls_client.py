"""TLS clients for tests/tls.rs, with Python's own ssl module (OpenSSL underneath).

  tls_client.py hold HOST PORT CAFILE GOFILE
      Connects with TLS to a line service, verifying against CAFILE, and prints
      `READY <sha256 of the server's certificate, hex>`. Then waits for GOFILE to
      exist, sends `ADD 1 2` on the same connection and prints `ANSWER <reply>`.

  tls_client.py unwrap HOST PORT CAFILE
      Connects to an echo service, prints `READY <TLS version>`, sends a line, prints
      `ECHO <reply>`, then says close_notify and waits for the server's (ssl's
      `unwrap`): prints `UNWRAPPED` only if the server answered it.

  tls_client.py wss URL CAFILE
      (needs the `websockets` package) Opens URL, sends a text and a 100 kB binary
      message, prints `READY <protocol version>`, `TEXT <echo>` and `BINARY <length>`.
"""
import hashlib
import os
import socket
import ssl
import sys
import time


def context(cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    return ctx


def hold(host, port, cafile, gofile):
    raw = socket.create_connection((host, int(port)), timeout=10)
    tls = context(cafile).wrap_socket(raw, server_hostname=host)
    der = tls.getpeercert(binary_form=True)
    print("READY", hashlib.sha256(der).hexdigest(), flush=True)
    deadline = time.time() + 20
    while not os.path.exists(gofile):
        if time.time() > deadline:
            print("TIMEOUT waiting for", gofile, flush=True)
            return
        time.sleep(0.02)
    tls.sendall(b"ADD 1 2\n")
    reply = tls.makefile("rb").readline().decode().strip()
    print("ANSWER", reply, flush=True)
    tls.close()


def unwrap(host, port, cafile):
    raw = socket.create_connection((host, int(port)), timeout=10)
    tls = context(cafile).wrap_socket(raw, server_hostname=host)
    print("READY", tls.version(), flush=True)
    tls.sendall(b"over tls\n")
    print("ECHO", tls.makefile("rb").readline().decode().strip(), flush=True)
    tls.unwrap()
    print("UNWRAPPED", flush=True)
    raw.close()


def wss(url, cafile):
    from websockets.sync.client import connect

    with connect(url, ssl=context(cafile), open_timeout=10) as ws:
        print("READY", ws.socket.version(), flush=True)
        ws.send("over wss")
        print("TEXT", ws.recv(timeout=10), flush=True)
        ws.send(bytes(range(256)) * 400)
        print("BINARY", len(ws.recv(timeout=10)), flush=True)


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    {"hold": hold, "unwrap": unwrap, "wss": wss}[mode](*args)
