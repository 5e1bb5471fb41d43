"""The wire side of scripts/soak.py's load: counters, sockets, a WebSocket client and
the cmd protocol's cases with the check of each reply (Python 3 standard library only)."""

import base64
import hashlib
import os
import re
import socket
import struct
import threading
import time


GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
IO_TIMEOUT = 10.0  # any single socket operation of a checked driver
I64 = (-(2**63), 2**63 - 1)


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

    def headers(self):
        """The header lines of an HTTP head up to its blank line, as {lower-case name: value}."""
        out = {}
        while True:
            h = self.line().rstrip(b"\r")
            if not h:
                return out
            name, _, value = h.partition(b":")
            out[name.strip().lower()] = value.strip()

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
        got = r.headers().get(b"sec-websocket-accept")
        expect(got is not None, "no Sec-WebSocket-Accept")
        expect(got == accept, "wrong Sec-WebSocket-Accept")
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
