#!/usr/bin/env python3
"""Memory per idle WebSocket, plain (ws://) and over TLS (wss://), in the same run.

    benches/tls_idle.py [N] [SOCKLOOP]     (default: 5000, target/release/sockloop)

For each scheme, starts its own `sockloop serve` (https with --tls-self-signed, or
http), opens N WebSockets to /ws one after another (TLS handshake, then the upgrade
request and its 101), holds them all, and reads the server's resident memory
(VmRSS) and what its memory budget counts (STATS through a cmd listener). Prints the
bytes per held connection over the server's RSS before the first one, and the
difference between the two schemes: what TLS costs a connection once its handshake
is over. Loopback only; needs N * 2 + 50 open files (`ulimit -n`).
"""
import re
import socket
import ssl
import subprocess
import sys
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 5000
BIN = sys.argv[2] if len(sys.argv) > 2 else "target/release/sockloop"
UPGRADE = (
    "GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
).encode()


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+)", f.read()).group(1))


def stats(port):
    with socket.create_connection(("127.0.0.1", port)) as c:
        c.sendall(b"STATS\nQUIT\n")
        text = c.makefile().readline()
    return dict(kv.split("=") for kv in text.split())


def start(tls):
    web = "https://127.0.0.1:0" if tls else "http://127.0.0.1:0"
    args = [BIN, "serve", "-q", "-l", web, "-l", "tcp://127.0.0.1:0=cmd",
            "--max-conns-per-ip", "0", "--max-conns", str(N + 100), "--idle-timeout", "0"]
    if tls:
        args.append("--tls-self-signed")
    server = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    banner = []
    for line in server.stdout:
        banner.append(line)
        if line.startswith("ready"):
            break
    text = "".join(banner)
    port = int(re.search(r"https? +127\.0\.0\.1:(\d+)", text).group(1))
    cmd = int(re.search(r"tcp +127\.0\.0\.1:(\d+) +cmd", text).group(1))
    cert = re.search(r"(/\S+cert\.pem)", text)
    return server, port, cmd, cert.group(1) if cert else None


def open_ws(port, ctx):
    sock = socket.create_connection(("127.0.0.1", port))
    # Else Nagle holds the upgrade request behind the client's Finished until the
    # server's delayed ACK (40 ms a connection).
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if ctx:
        sock = ctx.wrap_socket(sock, server_hostname="localhost")
    sock.sendall(UPGRADE)
    head = b""
    while b"\r\n\r\n" not in head:
        got = sock.recv(4096)
        if not got:
            raise RuntimeError("closed during the upgrade")
        head += got
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(head.split(b"\r\n")[0].decode())
    return sock


def measure(tls):
    server, port, cmd, cert = start(tls)
    ctx = ssl.create_default_context(cafile=cert) if tls else None
    time.sleep(0.3)
    before = rss_kib(server.pid)
    t = time.monotonic()
    held = [open_ws(port, ctx) for _ in range(N)]
    opened = time.monotonic() - t
    time.sleep(0.5)
    after = rss_kib(server.pid)
    s = stats(cmd)
    for sock in held:
        sock.close()
    server.terminate()
    server.wait()
    per_conn = (after - before) * 1024 / N
    budget = int(s["memory_used"]) / N
    name = "wss" if tls else "ws "
    print(f"{name}: {N} held, RSS {before} -> {after} KiB, {per_conn:,.0f} bytes per "
          f"connection; budget counts {budget:,.0f} per connection; opened in "
          f"{opened:.1f} s ({N / opened:,.0f}/s, one client at a time)")
    return per_conn


if __name__ == "__main__":
    plain = measure(False)
    tls = measure(True)
    print(f"TLS costs an idle WebSocket {tls - plain:,.0f} bytes more "
          f"({tls / 1024:.1f} KiB in all)")
