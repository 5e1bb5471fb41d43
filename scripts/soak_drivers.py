"""The drivers of scripts/soak.py's load, one function per kind of client (Python 3
standard library only). What each does on purpose (drops, non-readers, idle timeouts) is
counted apart from errors: see soak.py's docstring."""

import os
import random
import re
import select
import socket
import struct
import time

from soak_wire import (
    TIME_RE,
    Reader,
    Ws,
    cmd_case,
    expect,
    frame,
    handshake_request,
    quiet_close,
    reset_on_close,
    tcp,
    unix,
)


# ---------------------------------------------------------------- the drivers
#
# Each driver is a function(ctx) that opens its sockets and works until ctx.stop is set;
# ctx.run restarts it after an error (which it counts).


class Ctx:
    def __init__(self, ports, stats, stop, seed):
        self.ports = ports
        self.stats = stats
        self.stop = stop
        self.rng = random.Random(seed)

    def pause(self, secs):
        """Sleep, or return True at once when the run is over."""
        return self.stop.wait(secs)


# Printable payloads: no newline, and never the line STOP (no capitals).
POOL_ALPHABET = b"abcdefghijklmnopqrstuvwxyz0123456789 .,-"
POOL = bytes(POOL_ALPHABET[b % len(POOL_ALPHABET)] for b in os.urandom(1 << 19))


def line_payload(rng, n):
    n = min(n, len(POOL))
    start = rng.randrange(len(POOL) - n + 1)
    return POOL[start : start + n]


def drive_tcp_echo(ctx):
    s = tcp(ctx.ports["tcp"]["echo"])
    r = Reader(s)
    try:
        while not ctx.pause(0.004):
            lines = [line_payload(ctx.rng, ctx.rng.choice([1, 10, 100, 1000, 4000])) + b"\n"
                     for _ in range(ctx.rng.randrange(1, 9))]
            blob = b"".join(lines)
            s.sendall(blob)
            got = r.exact(len(blob))
            expect(got == blob, "echo differs")
            ctx.stats.ok("tcp echo", len(lines))
    finally:
        quiet_close(s)


def drive_stream_cmd(ctx, sock, name):
    r = Reader(sock)
    try:
        while not ctx.pause(0.005):
            cases = [cmd_case(ctx.rng) for _ in range(ctx.rng.randrange(1, 17))]
            sock.sendall(b"".join(req + ctx.rng.choice([b"\n", b"\r\n"]) for req, _ in cases))
            for _, check in cases:
                check(r.line())
            ctx.stats.ok(name, len(cases))
        sock.sendall(b"QUIT\n")
        expect(r.line() == b"BYE", "QUIT did not get BYE")
        expect(r.eof(), "no close after BYE")
    finally:
        quiet_close(sock)


def drive_tcp_cmd(ctx):
    drive_stream_cmd(ctx, tcp(ctx.ports["tcp"]["cmd"]), "tcp cmd")


def drive_unix_cmd(ctx):
    drive_stream_cmd(ctx, unix(ctx.ports["unix"]["cmd"]), "unix cmd")


def drive_small_services(ctx):
    """daytime (connect, read, closed), counter and random lines, one after the other."""
    last_k = 0
    while not ctx.pause(0.02):
        s = tcp(ctx.ports["tcp"]["daytime"])
        try:
            r = Reader(s)
            expect(TIME_RE.match(r.line()), "daytime format")
            expect(r.eof(), "daytime did not close")
        finally:
            quiet_close(s)
        ctx.stats.ok("tcp daytime")

        s = tcp(ctx.ports["tcp"]["counter"])
        try:
            r = Reader(s)
            for _ in range(ctx.rng.randrange(1, 4)):
                s.sendall(b"hello\n")
                m = re.fullmatch(rb"Client number: (\d+)", r.line())
                expect(m and int(m.group(1)) >= last_k, "counter reply")
                last_k = int(m.group(1))
                ctx.stats.ok("tcp counter")
            s.sendall(b"STOP\n")
            r.rest()  # STOP's answer, if any, then the close
        finally:
            quiet_close(s)

        s = tcp(ctx.ports["tcp"]["random"])
        try:
            r = Reader(s)
            for _ in range(ctx.rng.randrange(1, 6)):
                lo = ctx.rng.randrange(-100, 100)
                hi = lo + ctx.rng.randrange(0, 50)
                s.sendall(f"{lo} {hi}\n".encode())
                v = int(r.line())
                expect(lo <= v <= hi, f"random {lo} {hi} gave {v}")
                s.sendall(b"\n")
                v = int(r.line())
                expect(1 <= v <= 1000, f"random gave {v}")
                ctx.stats.ok("tcp random", 2)
        finally:
            quiet_close(s)


def udp_cmd_check(reply, check):
    """A cmd reply over UDP: the answer, or, when the answer would be over 3x the
    request on the wire (anti-amplification), the ERR that points to TCP."""
    reply = reply.rstrip(b"\n")
    if reply.startswith(b"ERR reply too big for UDP"):
        expect(b"TCP port" in reply or b"allowed" in reply, f"udp ERR {reply!r}")
        return
    check(reply)


def drive_udp(ctx):
    """echo, cmd, random and daytime over UDP, one datagram in flight. A reply that does
    not come within a second is counted as lost (UDP may drop); a wrong one is an error."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1.0)
    u = ctx.ports["udp"]
    try:
        while not ctx.pause(0.003):
            k = ctx.rng.randrange(4)
            if k == 0:
                req = os.urandom(ctx.rng.choice([1, 64, 512, 1400, 8000]))
                port, check = u["echo"], (lambda r, req=req: expect(r == req, "udp echo differs"))
            elif k == 1:
                req, c = cmd_case(ctx.rng)
                port, check = u["cmd"], (lambda r, c=c: udp_cmd_check(r, c))
            elif k == 2:
                port, req = u["random"], b"5 9\n"
                check = (lambda r: expect(5 <= int(r) <= 9, f"udp random gave {r!r}"))
            else:
                port, req = u["daytime"], b"\n"
                check = (lambda r: expect(TIME_RE.match(r.rstrip(b"\n")), f"udp daytime {r!r}"))
            s.sendto(req, ("127.0.0.1", port))
            try:
                reply, _ = s.recvfrom(65536)
            except socket.timeout:
                ctx.stats.event("udp replies lost")
                continue
            check(reply)
            ctx.stats.ok("udp")
    finally:
        s.close()


def drive_ws_echo(ctx, sizes, name, depth):
    ws = Ws(ctx.ports["http"][0], "/ws")
    try:
        while not ctx.pause(0.005):
            sent = []
            for _ in range(depth):
                n = ctx.rng.choice(sizes)
                if ctx.rng.random() < 0.5:
                    m = (1, line_payload(ctx.rng, n))
                else:
                    m = (2, os.urandom(n))
                ws.send(*m)
                sent.append(m)
            for m in sent:
                got = ws.message()
                expect(got == m, f"ws echo differs ({len(m[1])} bytes)")
            ctx.stats.ok(name, len(sent))
        ws.close()
    finally:
        quiet_close(ws.s)


def drive_ws_small(ctx):
    drive_ws_echo(ctx, [64, 64, 1, 16, 125, 126, 1000], "ws echo 1 B-1000 B", 8)


def drive_ws_large(ctx):
    drive_ws_echo(ctx, [256 * 1024, 65536, 256 * 1024 + 1], "ws echo 64-256 KiB", 1)


def drive_ws_cmd_random(ctx):
    """/cmd (one request per text message) and /random (N MIN MAX, N messages)."""
    port = ctx.ports["http"][0]
    wc, wr = Ws(port, "/cmd"), Ws(port, "/random")
    try:
        while not ctx.pause(0.01):
            for _ in range(4):
                req, check = cmd_case(ctx.rng)
                if req == b"QUIT":
                    continue
                wc.send(1, req)
                op, reply = wc.message()
                expect(op == 1, f"/cmd answered with opcode {op}")
                check(reply.rstrip(b"\n"))
                ctx.stats.ok("ws cmd")
            n = ctx.rng.randrange(1, 30)
            wr.send(1, f"{n} 10 20".encode())
            for _ in range(n):
                op, v = wr.message()
                expect(op == 1 and 10 <= int(v) <= 20, f"/random gave {v!r}")
            ctx.stats.ok("ws random", n)
        wc.close()
        wr.close()
    finally:
        quiet_close(wc.s)
        quiet_close(wr.s)


def http_get(sock, r, path):
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    status = r.line().rstrip(b"\r")
    length = int(r.headers().get(b"content-length", b"0"))
    return int(status.split()[1]), r.exact(length)


def drive_http(ctx):
    """Plain HTTP on the web listener, keep-alive: /stats, the page, a 404."""
    s = tcp(ctx.ports["http"][0])
    r = Reader(s)
    try:
        while not ctx.pause(0.02):
            code, body = http_get(s, r, "/stats")
            expect(code == 200 and b"uptime=" in body, f"/stats: {code}")
            code, body = http_get(s, r, "/")
            expect(code == 200 and b"<html" in body.lower(), f"/: {code}")
            code, _ = http_get(s, r, "/no-such-page")
            expect(code == 404, f"/no-such-page: {code}")
            ctx.stats.ok("http", 3)
    finally:
        quiet_close(s)


def drive_idle(ctx):
    """Holds 60 quiet connections (TCP echo, cmd over Unix, WebSockets), each for 1-10 s
    (under the idle timeout); then checks it still answers, closes it, opens another."""
    held = []  # (deadline, kind, socket or Ws)

    def open_one():
        kind = ctx.rng.choice(["tcp", "unix", "ws"])
        if kind == "tcp":
            c = tcp(ctx.ports["tcp"]["echo"])
        elif kind == "unix":
            c = unix(ctx.ports["unix"]["cmd"])
        else:
            c = Ws(ctx.ports["http"][0], "/ws")
        held.append((time.monotonic() + ctx.rng.uniform(1, 10), kind, c))

    def check_and_close(kind, c):
        if kind == "ws":
            c.send(1, b"still there?")
            expect(c.message() == (1, b"still there?"), "idle ws echo")
            c.close() if ctx.rng.random() < 0.7 else quiet_close(c.s)
        else:
            line = b"ECHO still there?\n" if kind == "unix" else b"still there?\n"
            c.sendall(line)
            got = Reader(c).line()
            expect(got == b"still there?", f"idle {kind} answered {got!r}")
            quiet_close(c)
        ctx.stats.ok("idle conns checked")

    try:
        while not ctx.stop.is_set():
            while len(held) < 60 and not ctx.stop.is_set():
                open_one()
            now = time.monotonic()
            due = [h for h in held if h[0] <= now]
            for h in due:
                held.remove(h)
                check_and_close(h[1], h[2])
            ctx.pause(0.1)
    finally:
        for _, kind, c in held:
            quiet_close(c.s if kind == "ws" else c)


def drive_idle_timeout(ctx):
    """A cmd connection and a WebSocket that say nothing: the server must close them at
    its idle timeout (ERR line / Close 1001), not before it and not long after."""
    idle = ctx.ports["idle_timeout"]
    while not ctx.stop.is_set():
        t0 = time.monotonic()
        s = tcp(ctx.ports["tcp"]["cmd"])
        ws = Ws(ctx.ports["http"][0], "/ws")
        try:
            # Wait for both to be readable, looking at the clock and the stop flag.
            waiting = [s, ws.s]
            while waiting:
                if ctx.stop.is_set():
                    return
                expect(time.monotonic() - t0 < idle + 15, f"no idle close after {idle + 15} s")
                ready, _, _ = select.select(waiting, [], [], 0.5)
                waiting = [w for w in waiting if w not in ready]
            expect(time.monotonic() - t0 >= idle - 1, "the idle timeout came early")
            line = Reader(s).line()
            expect(line.startswith(b"ERR idle"), f"idle cmd got {line!r}")
            op, code = ws.message()
            expect((op, code) == ("close", 1001), f"idle ws got {(op, code)}")
            ws.send(8, struct.pack(">H", 1000))  # answer the Close
            ctx.stats.event("idle timeouts seen", 2)
        finally:
            quiet_close(s)
            quiet_close(ws.s)


# The ways a peer goes away mid-request (each on a fresh connection).
def drop_cases(ctx):
    port, p = ctx.ports["http"][0], ctx.ports["tcp"]

    def ws_then(data):
        def go():
            ws = Ws(port, "/ws")
            ws.s.sendall(data)
            return ws.s

        return go

    def raw(port_or_path, data):
        def go():
            s = unix(port_or_path) if isinstance(port_or_path, str) else tcp(port_or_path)
            s.sendall(data)
            return s

        return go

    big = frame(2, os.urandom(256 * 1024))
    return [
        ("ws partial frame", ws_then(frame(2, os.urandom(1000))[:30])),
        ("ws partial header", ws_then(b"\x82")),
        ("ws partial 64-bit length", ws_then(b"\x82\xff\x00\x00\x00")),
        ("ws half a 256 KiB message", ws_then(big[: len(big) // 2])),
        ("ws partial handshake", raw(port, handshake_request(port, "/ws")[1][:50])),
        ("http partial head", raw(port, b"GET /stats HTTP/1.1\r\nHost: x\r\n")),
        ("cmd partial line", raw(p["cmd"], b"ADD 1")),
        ("unix cmd partial line", raw(ctx.ports["unix"]["cmd"], b"ECHO half a li")),
        ("cmd RANDOMS then gone", raw(p["cmd"], b"RANDOMS 10000 1 1000000\n" * 4)),
        ("echo 100 KiB then gone", raw(p["echo"], b"x" * 100_000)),
        ("random partial line", raw(p["random"], b"1 ")),
    ]


def drive_drops(ctx):
    cases = drop_cases(ctx)
    while not ctx.pause(0.03):
        name, go = ctx.rng.choice(cases)
        s = go()  # connecting and the handshake must work: errors here count
        try:
            if ctx.rng.random() < 0.5:
                reset_on_close(s)
            if ctx.rng.random() < 0.3:
                time.sleep(0.05)
        finally:
            quiet_close(s)
        ctx.stats.event(f"dropped: {name}")


def drive_non_readers(ctx):
    """Up to 8 peers at a time that send requests and never read the replies, so the
    server's output to them backs up (backpressure); each is kept 1-20 s (some past the
    idle timeout, some half-closed), then closed without reading."""
    port, p = ctx.ports["http"][0], ctx.ports["tcp"]
    held = []

    def flood(s, data, cap):
        """Sends `data` over and over (whole frames: a short send resumes where it
        stopped) until the kernel takes no more or `cap` bytes went."""
        s.setblocking(False)
        sent, at, view = 0, 0, memoryview(data)
        while sent < cap:
            try:
                n = s.send(view[at:])
            except (BlockingIOError, InterruptedError):
                break
            except OSError:  # the server closed it (it may): nothing more to send
                break
            sent += n
            at = (at + n) % len(data)
        return sent

    def open_one():
        kind = ctx.rng.randrange(5)
        if kind == 0:
            s = tcp(p["cmd"])
            flood(s, b"RANDOMS 10000 1 1000000\n" * 20, 4 << 20)
        elif kind == 1:
            s = tcp(p["echo"])
            flood(s, b"y" * 65536, 8 << 20)
        elif kind == 2:
            ws = Ws(port, "/ws")
            s = ws.s
            flood(s, frame(2, os.urandom(256 * 1024)), 8 << 20)
        elif kind == 3:
            ws = Ws(port, "/random")
            s = ws.s
            flood(s, frame(1, b"10000 1 6"), 1)
        else:
            s = unix(ctx.ports["unix"]["cmd"])
            flood(s, b"HELP\n" * 1000, 4 << 20)
        if ctx.rng.random() < 0.3:
            try:
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass
        held.append((time.monotonic() + ctx.rng.uniform(1, 20), s))
        ctx.stats.event("non-reading peers")

    try:
        while not ctx.stop.is_set():
            while len(held) < 8:
                open_one()
            now = time.monotonic()
            for h in [h for h in held if h[0] <= now]:
                held.remove(h)
                quiet_close(h[1])
            ctx.pause(0.2)
    finally:
        for _, s in held:
            quiet_close(s)


def drive_udp_non_reader(ctx):
    """A UDP socket that sends requests and never reads: the replies pile up and drop."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        while not ctx.pause(0.01):
            s.sendto(b"RANDOMS 100 1 6", ("127.0.0.1", ctx.ports["udp"]["cmd"]))
            s.sendto(os.urandom(1000), ("127.0.0.1", ctx.ports["udp"]["echo"]))
            ctx.stats.event("udp datagrams never read", 2)
    finally:
        s.close()


DRIVERS = [
    (drive_tcp_echo, 3),
    (drive_tcp_cmd, 2),
    (drive_unix_cmd, 1),
    (drive_small_services, 1),
    (drive_udp, 2),
    (drive_ws_small, 2),
    (drive_ws_large, 1),
    (drive_ws_cmd_random, 1),
    (drive_http, 1),
    (drive_idle, 1),
    (drive_idle_timeout, 1),
    (drive_drops, 1),
    (drive_non_readers, 1),
    (drive_udp_non_reader, 1),
]
