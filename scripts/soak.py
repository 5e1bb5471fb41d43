#!/usr/bin/env python3
"""Helpers of scripts/soak.sh (Python 3 standard library only).

    soak.py ports BANNER IDLE_SECS                  the listeners of a serve banner, as JSON
    soak.py sample PID CSV PHASE_FILE               one line a second: RSS, fds, CPU, phase
    soak.py load PORTS SECONDS WARMUP PHASE REPORT   every service at once; JSON report
    soak.py summary CSV REPORT                      the summary and the leak verdict (exit 1)

The load runs a thread per driver, each on loopback with a bounded number of sockets and
a pause between rounds, so it takes well under a core. Every reply is checked (an echo
byte for byte, arithmetic against Python's integers, ranges, formats): a wrong or missing
reply, a refused connection or a reset where none is expected is an error. What the
drivers do on purpose (drop a connection mid-frame, never read, wait for the idle
timeout) is counted apart, and what the peer does then (a reset, a close) is expected.
"""

import base64
import hashlib
import json
import os
import random
import re
import select
import socket
import struct
import sys
import threading
import time
import traceback

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
IO_TIMEOUT = 10.0  # any single socket operation of a checked driver
I64 = (-(2**63), 2**63 - 1)


# ---------------------------------------------------------------- banner, sampler


def parse_banner(path):
    """{'http': [port], 'tcp': {service: port}, 'udp': {...}, 'unix': {service: path}}"""
    out = {"http": [], "tcp": {}, "udp": {}, "unix": {}}
    for line in open(path, encoding="utf-8", errors="replace"):
        f = line.split()
        if len(f) < 3 or f[0] not in out:
            continue
        if f[0] == "unix":
            out["unix"][f[2]] = f[1]
            continue
        port = int(f[1].rsplit(":", 1)[1])
        if f[0] == "http":
            out["http"].append(port)
        else:
            out[f[0]][f[2]] = port
    return out


def proc_sample(pid, ticks):
    """(rss KiB, open fds, CPU seconds) of a process, or None once it is gone."""
    try:
        rss = 0
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    rss = int(line.split()[1])
        fds = len(os.listdir(f"/proc/{pid}/fd"))
        with open(f"/proc/{pid}/stat") as f:
            # The command name may hold spaces: fields count from after its ')'.
            rest = f.read().rsplit(")", 1)[1].split()
        cpu = (int(rest[11]) + int(rest[12])) / ticks  # utime, stime (fields 14, 15)
        return rss, fds, cpu
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError):
        return None


def sample(pid, csv_path, phase_file):
    ticks = os.sysconf("SC_CLK_TCK")
    start = time.monotonic()
    with open(csv_path, "w", buffering=1) as out:
        out.write("elapsed_s,phase,rss_kib,fds,cpu_s\n")
        n = 0
        while True:
            s = proc_sample(pid, ticks)
            if s is None:
                return
            try:
                phase = open(phase_file).read().strip() or "?"
            except FileNotFoundError:
                phase = "?"
            out.write(f"{time.monotonic() - start:.1f},{phase},{s[0]},{s[1]},{s[2]:.2f}\n")
            n += 1
            # On a fixed grid, so the rows stay a second apart however long a read took.
            time.sleep(max(0.0, start + n - time.monotonic()))


# ---------------------------------------------------------------- counters


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = {}  # driver -> checked request/reply pairs
        self.errors = {}  # driver -> unexpected errors
        self.expected = {}  # what happened on purpose (drops, idle timeouts, UDP loss)
        self.samples = []  # the first few error messages

    def ok(self, name, n=1):
        with self.lock:
            self.requests[name] = self.requests.get(name, 0) + n

    def event(self, name, n=1):
        with self.lock:
            self.expected[name] = self.expected.get(name, 0) + n

    def error(self, name, err):
        with self.lock:
            self.errors[name] = self.errors.get(name, 0) + 1
            if len(self.samples) < 20:
                msg = f"{time.strftime('%H:%M:%S')} {name}: {type(err).__name__}: {err}"
                self.samples.append(msg[:400])


class Bad(Exception):
    """A reply that is not what the request must get."""


def expect(cond, what):
    if not cond:
        raise Bad(what)


# ---------------------------------------------------------------- sockets


def tcp(port, timeout=IO_TIMEOUT):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def unix(path, timeout=IO_TIMEOUT):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s


def reset_on_close(s):
    """SO_LINGER 0: close() sends a reset instead of a FIN."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def quiet_close(s):
    try:
        s.close()
    except OSError:
        pass


class Reader:
    """Buffered reads from a stream socket: lines and exact byte counts."""

    def __init__(self, sock, pending=b""):
        self.s = sock
        self.buf = bytearray(pending)

    def _more(self):
        chunk = self.s.recv(65536)
        if not chunk:
            raise Bad(f"peer closed with {len(self.buf)} bytes of an answer pending")
        self.buf += chunk

    def exact(self, n):
        while len(self.buf) < n:
            self._more()
        out = bytes(self.buf[:n])
        del self.buf[:n]
        return out

    def line(self, limit=1 << 20):
        start = 0
        while True:
            i = self.buf.find(b"\n", start)
            if i >= 0:
                out = bytes(self.buf[:i])
                del self.buf[: i + 1]
                return out
            expect(len(self.buf) <= limit, "reply line too long")
            start = len(self.buf)
            self._more()

    def eof(self):
        """True when the peer has closed and nothing is left unread."""
        if self.buf:
            return False
        return not self.s.recv(1 << 16)

    def rest(self):
        """Everything until the peer closes."""
        while True:
            chunk = self.s.recv(65536)
            if not chunk:
                out = bytes(self.buf)
                self.buf.clear()
                return out
            self.buf += chunk


# ---------------------------------------------------------------- WebSocket client


def mask(data, key):
    if not data:
        return data
    n = len(data)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(data, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


def frame(opcode, payload, fin=True):
    """A masked client frame."""
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    key = os.urandom(4)
    return head + key + mask(payload, key)


def handshake_request(port, path):
    key = base64.b64encode(os.urandom(16))
    req = (
        b"GET " + path.encode() + b" HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % port
        + b"Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key
        + b"\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
    return key, req


class Ws:
    def __init__(self, port, path, timeout=IO_TIMEOUT):
        self.s = tcp(port, timeout)
        key, req = handshake_request(port, path)
        self.s.sendall(req)
        r = Reader(self.s)
        status = r.line()
        expect(status.startswith(b"HTTP/1.1 101"), f"handshake answered {status!r}")
        accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
        seen = False
        while True:
            h = r.line().rstrip(b"\r")
            if not h:
                break
            name, _, value = h.partition(b":")
            if name.strip().lower() == b"sec-websocket-accept":
                expect(value.strip() == accept, "wrong Sec-WebSocket-Accept")
                seen = True
        expect(seen, "no Sec-WebSocket-Accept")
        self.r = r
        self.close_code = None

    def send(self, opcode, payload):
        self.s.sendall(frame(opcode, payload))

    def frame(self):
        b0, b1 = self.r.exact(2)
        expect(b0 & 0x70 == 0, "RSV bits set")
        expect(b1 & 0x80 == 0, "server frame masked")
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack(">H", self.r.exact(2))[0]
        elif n == 127:
            n = struct.unpack(">Q", self.r.exact(8))[0]
        return b0 & 0x80 != 0, b0 & 0x0F, self.r.exact(n)

    def message(self):
        """(opcode, payload) of the next data message; ('close', code) on Close."""
        op0, parts = None, []
        while True:
            fin, op, data = self.frame()
            if op == 9:
                self.send(10, data)
                continue
            if op == 10:
                continue
            if op == 8:
                code = struct.unpack(">H", data[:2])[0] if len(data) >= 2 else 1005
                self.close_code = code
                return "close", code
            if op0 is None:
                expect(op in (1, 2), f"message starts with opcode {op}")
                op0 = op
            else:
                expect(op == 0, f"opcode {op} inside a fragmented message")
            parts.append(data)
            if fin:
                return op0, b"".join(parts)

    def close(self, code=1000):
        """The closing handshake: our Close, the server's Close, then its FIN."""
        try:
            self.send(8, struct.pack(">H", code))
            while self.close_code is None:
                self.message()
            self.r.buf.clear()
            self.s.settimeout(3)
            while self.s.recv(1 << 16):
                pass
        finally:
            quiet_close(self.s)


# ---------------------------------------------------------------- the cmd protocol

TIME_RE = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
HELP_START = b"commands: HELP"


def cmd_case(rng):
    """(request bytes, checker(reply bytes)) for one random cmd request."""
    k = rng.randrange(12)
    if k <= 2:
        a = rng.choice([rng.randint(*I64), rng.randint(-1000, 1000), I64[1], I64[0]])
        b = rng.choice([rng.randint(*I64), rng.randint(-1000, 1000), 1, -1])
        op, verb = ("+", "ADD") if k < 2 else ("-", "SUB")
        want = a + b if op == "+" else a - b
        if I64[0] <= want <= I64[1]:
            answer = str(want).encode()
        else:
            answer = f"ERR {a} {op} {b} does not fit in a signed 64-bit integer".encode()
        verb = rng.choice([verb, verb.lower()])

        def check(r):
            expect(r == answer, f"{verb} {a} {b} gave {r!r}, not {answer!r}")

        return f"{verb} {a} {b}".encode(), check
    if k == 3:
        text = "".join(rng.choice("abcdefghij  XYZ0123456789") for _ in range(rng.randrange(1, 200)))
        text = text.strip() or "x"

        def check(r):
            expect(r == text.encode(), f"ECHO gave {r[:60]!r}")

        return b"ECHO " + text.encode(), check
    if k == 4:
        lo = rng.randint(-10**12, 10**12)
        hi = lo + rng.randrange(0, 1000)

        def check(r):
            expect(re.fullmatch(rb"-?\d+", r) and lo <= int(r) <= hi, f"RANDOM {lo} {hi} gave {r!r}")

        return f"RANDOM {lo} {hi}".encode(), check
    if k == 5:
        n = rng.choice([1, 3, 10, 100, 1000])

        def check(r):
            nums = r.split(b" ")
            expect(len(nums) == n and all(1 <= int(x) <= 6 for x in nums), f"RANDOMS {n} gave {r[:60]!r}")

        return f"RANDOMS {n} 1 6".encode(), check
    if k == 6:
        return b"TIME", lambda r: expect(TIME_RE.match(r), f"TIME gave {r!r}")
    if k == 7:

        def check(r):
            expect(re.fullmatch(rb"\d+", r) and abs(int(r) - time.time()) < 30, f"TIMESTAMP gave {r!r}")

        return b"TIMESTAMP", check
    if k == 8:
        return b"COUNT", lambda r: expect(re.fullmatch(rb"Client number: \d+", r), f"COUNT gave {r!r}")
    if k == 9:
        return b"STATS", lambda r: expect(r.startswith(b"uptime="), f"STATS gave {r!r}")
    if k == 10:
        return b"HELP", lambda r: expect(r.startswith(HELP_START), f"HELP gave {r[:60]!r}")
    return b"FROB 1 2", lambda r: expect(r.startswith(b"ERR "), f"FROB gave {r!r}")


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
    length = 0
    while True:
        h = r.line().rstrip(b"\r")
        if not h:
            break
        name, _, value = h.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
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


def write_phase(path, phase):
    with open(path + ".tmp", "w") as f:
        f.write(phase + "\n")
    os.replace(path + ".tmp", path)


def run_driver(fn, ctx, name):
    while not ctx.stop.is_set():
        try:
            fn(ctx)
        except Exception as e:  # counted, then the driver starts again
            ctx.stats.error(name, e)
            if os.environ.get("SOAK_TRACEBACK"):
                traceback.print_exc()
            ctx.pause(0.5)


def load(ports_json, seconds, warmup, phase_file, report_path):
    ports = json.load(open(ports_json))
    stats, stop = Stats(), threading.Event()
    threads = []
    seed = int(os.environ.get("SOAK_SEED", time.time_ns() % 2**32))
    for fn, n in DRIVERS:
        for i in range(n):
            name = fn.__name__.removeprefix("drive_")
            ctx = Ctx(ports, stats, stop, seed + len(threads))
            t = threading.Thread(target=run_driver, args=(fn, ctx, name), name=f"{name}{i}", daemon=True)
            t.start()
            threads.append(t)
    start = time.monotonic()
    phase = "warmup"
    write_phase(phase_file, phase)
    while True:
        now = time.monotonic()
        if now >= start + seconds:
            break
        if phase == "warmup" and now >= start + warmup:
            phase = "load"
            write_phase(phase_file, phase)
        nxt = start + seconds if phase == "load" else start + warmup
        time.sleep(max(0.0, min(10.0, nxt - now)))
        with stats.lock:
            done, errs = sum(stats.requests.values()), sum(stats.errors.values())
        print(f"soak: {time.monotonic() - start:4.0f} s  {phase:7} {done} requests checked, {errs} errors",
              flush=True)
    write_phase(phase_file, "stopping")
    stop.set()
    # Each driver finishes its round and closes its sockets; one that hangs is an error.
    deadline = time.monotonic() + 30
    for t in threads:
        t.join(max(0.1, deadline - time.monotonic()))
        if t.is_alive():
            stats.error(t.name, Bad("driver did not stop within 30 s"))
    report = {
        "seed": seed,
        "seconds": seconds,
        "requests": stats.requests,
        "errors": stats.errors,
        "expected": stats.expected,
        "error_samples": stats.samples,
    }
    with open(report_path, "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)


# ---------------------------------------------------------------- summary and verdict


def summary(csv_path, report_path, fd_slack, rss_factor, rss_slack_kib):
    rows = []
    for line in open(csv_path).read().splitlines()[1:]:
        t, phase, rss, fds, cpu = line.split(",")
        rows.append((float(t), phase, int(rss), int(fds), float(cpu)))
    report = json.load(open(report_path))

    def of(phase):
        return [r for r in rows if r[1] == phase]

    base, warm, load_, end = of("baseline"), of("warmup"), of("load"), of("end")
    failures = []
    if not (base and warm and end):
        print(f"soak: samples missing (baseline {len(base)}, warm-up {len(warm)}, end {len(end)})")
        return 1
    rss_start, fds_base = base[-1][2], base[-1][3]
    rss_warm = max(r[2] for r in warm)
    rss_peak = max(r[2] for r in rows)
    fds_peak = max(r[3] for r in rows)
    rss_end, fds_end = end[-1][2], end[-1][3]
    cpu = end[-1][4] - base[-1][4]
    rss_limit = max(int(rss_warm * rss_factor), rss_warm + rss_slack_kib)
    requests, errors = report["requests"], report["errors"]
    n_req, n_err = sum(requests.values()), sum(errors.values())

    print(f"RSS KiB: start {rss_start}, after warm-up {rss_warm}, peak {rss_peak}, end {rss_end}"
          f" (limit {rss_limit})")
    if load_:
        print(f"RSS KiB during the load after warm-up: first {load_[0][2]}, last {load_[-1][2]}")
    print(f"fds: baseline {fds_base}, peak {fds_peak}, end {fds_end} (limit {fds_base + fd_slack})")
    print(f"CPU: {cpu:.2f} s of server CPU over {rows[-1][0]:.0f} s sampled")
    print(f"requests checked: {n_req}, unexpected errors: {n_err}")
    for k in sorted(requests):
        print(f"  {k:24} {requests[k]}")
    print("on purpose (expected):")
    for k in sorted(report["expected"]):
        print(f"  {k:32} {report['expected'][k]}")
    if errors:
        print("errors by driver:")
        for k in sorted(errors):
            print(f"  {k:24} {errors[k]}")
        for s in report["error_samples"]:
            print(f"  ! {s}")

    if fds_end > fds_base + fd_slack:
        failures.append(f"fd leak: {fds_end} open at the end, baseline {fds_base} (+{fd_slack} allowed)")
    if rss_end > rss_limit:
        failures.append(f"memory: RSS {rss_end} KiB at the end, over {rss_limit} KiB")
    if n_err:
        failures.append(f"{n_err} unexpected errors in the load drivers")
    if n_req == 0:
        failures.append("no request was answered")
    udp_lost = report["expected"].get("udp replies lost", 0)
    udp_done = requests.get("udp", 0)
    if udp_lost > 0.01 * (udp_lost + udp_done) + 5:
        failures.append(f"UDP: {udp_lost} replies lost of {udp_lost + udp_done} (more than 1%)")
    for f in failures:
        print(f"soak: FAIL: {f}")
    return 1 if failures else 0


def main(argv):
    if len(argv) == 3 and argv[0] == "ports":
        ports = parse_banner(argv[1])
        ports["idle_timeout"] = float(argv[2])
        json.dump(ports, sys.stdout)
        return 0
    if len(argv) == 4 and argv[0] == "sample":
        sample(int(argv[1]), argv[2], argv[3])
        return 0
    if len(argv) == 6 and argv[0] == "load":
        load(argv[1], float(argv[2]), float(argv[3]), argv[4], argv[5])
        return 0
    if len(argv) == 3 and argv[0] == "summary":
        return summary(
            argv[1],
            argv[2],
            int(os.environ.get("SOAK_FD_SLACK", 2)),
            float(os.environ.get("SOAK_RSS_FACTOR", 1.5)),
            int(os.environ.get("SOAK_RSS_SLACK_KIB", 8192)),
        )
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
