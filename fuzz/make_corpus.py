#!/usr/bin/env python3
"""Writes the committed seed corpora under fuzz/corpus/<target>/ (run it from anywhere).

Seeds come from RFC examples (RFC 6455 sections 1.2, 1.3 and 5.7, RFC 3629) and from the
unit-test vectors in src/proto/. Each target's input layout (a short fixed header, then
the protocol bytes) is described at the top of its fuzz_targets/<target>.rs; the
helpers below build those headers. Re-running it rewrites the same files.
"""
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
KEY = bytes([0x37, 0xFA, 0x21, 0x3D])  # RFC 6455 section 5.7


def chunking(*sizes):
    """The sockloop_fuzz chunking header: chunks of the given sizes (1..=256), cycled."""
    assert 1 <= len(sizes) <= 8 and all(1 <= s <= 256 for s in sizes)
    return bytes([len(sizes) - 1] + [s - 1 for s in sizes])


def mask(payload, key, offset=0):
    return bytes(b ^ key[(offset + i) % 4] for i, b in enumerate(payload))


def frame(opcode, payload=b"", fin=True, key=None, rsv=0):
    b0 = (0x80 if fin else 0) | (rsv << 4) | opcode
    mbit = 0x80 if key else 0
    n = len(payload)
    if n < 126:
        head = bytes([b0, mbit | n])
    elif n <= 0xFFFF:
        head = bytes([b0, mbit | 126]) + struct.pack(">H", n)
    else:
        head = bytes([b0, mbit | 127]) + struct.pack(">Q", n)
    if key:
        return head + key + mask(payload, key)
    return head + payload


def close(code, reason=b"", key=None):
    return frame(0x8, struct.pack(">H", code) + reason, key=key)


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- ws_frame: raw frames, as on the wire ----
RFC_FRAMES = {
    "rfc5.7-unmasked-hello": bytes.fromhex("810548656c6c6f"),
    "rfc5.7-masked-hello": bytes.fromhex("818537fa213d7f9f4d5158"),
    "rfc5.7-fragmented": bytes.fromhex("010348656c") + bytes.fromhex("80026c6f"),
    "rfc5.7-ping": bytes.fromhex("890548656c6c6f"),
    "rfc5.7-masked-pong": bytes.fromhex("8a8537fa213d7f9f4d5158"),
    "rfc5.7-256-bytes": bytes.fromhex("827e0100") + bytes(range(256)),
    # The 64 KiB example's header, with the payload cut short (keeps the seed small).
    "rfc5.7-64k-header": bytes.fromhex("827f0000000000010000") + b"\xcd" * 16,
}
for name, data in RFC_FRAMES.items():
    write("ws_frame", name, data)
write("ws_frame", "close-1000-masked", close(1000, b"bye", KEY))
write("ws_frame", "masked-binary-stream",
      frame(0x2, b"abc", fin=False, key=KEY) + frame(0x0, b"defghij", key=KEY))
write("ws_frame", "rsv-bits", frame(0x1, b"x", rsv=7))
write("ws_frame", "err-reserved-opcode", bytes([0x8B, 0x00]))
write("ws_frame", "err-non-minimal-16", bytes([0x82, 0x7E, 0x00, 0x7D]))
write("ws_frame", "err-length-top-bit", bytes([0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0]))
write("ws_frame", "err-fragmented-ping", bytes([0x09, 0x00]))

# ---- ws_session: flags, max_message (u16 LE), chunking, calls, stream ----
SERVER, CLIENT, TRACE = 0, 1, 2


def session(flags, max_message, chunks, stream, calls=b"\x00"):
    return bytes([flags]) + struct.pack("<H", max_message) + chunking(*chunks) + calls + stream


def ping_call(at, payload):
    return struct.pack("<HB", at, 0) + bytes([len(payload)]) + payload


def close_call(at, code, reason):
    return struct.pack("<HBH", at, 1, code) + bytes([len(reason)]) + reason


hello = frame(0x1, b"Hello", key=KEY)
write("ws_session", "server-rfc-masked-hello",
      session(SERVER, 1024, [256], RFC_FRAMES["rfc5.7-masked-hello"]))
write("ws_session", "server-fragments-and-ping",
      session(SERVER | TRACE, 1024, [3, 1, 7],
              frame(0x1, b"Hel", fin=False, key=KEY) + frame(0x9, b"ping!", key=KEY)
              + frame(0x0, b"lo", key=KEY) + close(1000, b"done", KEY)))
write("ws_session", "server-utf8-split",
      session(SERVER, 1024, [2, 5],
              frame(0x1, "κό".encode()[:3], fin=False, key=KEY)
              + frame(0x0, "κόσμε".encode()[3:], key=KEY)))
write("ws_session", "server-invalid-utf8",
      session(SERVER, 1024, [4],
              frame(0x1, b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
                    key=KEY)))
write("ws_session", "server-too-big",
      session(SERVER, 10, [6], frame(0x1, b"123456", fin=False, key=KEY)
              + frame(0x0, b"78901", key=KEY)))
write("ws_session", "server-binary-256",
      session(SERVER, 300, [100, 1], frame(0x2, bytes(range(256)), key=KEY)))
write("ws_session", "server-unmasked-is-1002",
      session(SERVER, 1024, [256], RFC_FRAMES["rfc5.7-unmasked-hello"]))
write("ws_session", "server-calls",
      session(SERVER, 1024, [5], hello + hello + frame(0xA, b"pong", key=KEY),
              calls=bytes([2]) + ping_call(5, b"keepalive") + close_call(20, 1001, b"going away")))
write("ws_session", "client-rfc-frames",
      session(CLIENT, 1024, [1],
              RFC_FRAMES["rfc5.7-unmasked-hello"] + RFC_FRAMES["rfc5.7-fragmented"]
              + RFC_FRAMES["rfc5.7-ping"] + close(1000)))
write("ws_session", "client-masked-is-1002",
      session(CLIENT | TRACE, 1024, [2], RFC_FRAMES["rfc5.7-masked-pong"]))

# ---- http_request: max_head (u16 LE), max_headers, chunking, head ----
def http(head, chunks=(64,), max_head=4096, max_headers=64):
    return struct.pack("<HB", max_head, max_headers) + chunking(*chunks) + head


RFC_REQUEST = (b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               b"Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
               b"Sec-WebSocket-Version: 13\r\n\r\n")
write("http_request", "rfc6455-1.2-request", http(RFC_REQUEST, (16, 1)))
write("http_request", "browser-chromium-upgrade", http(
    b"GET /ws HTTP/1.1\r\nHost: localhost:8080\r\nConnection: Upgrade\r\nPragma: no-cache\r\n"
    b"Cache-Control: no-cache\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) "
    b"AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36\r\n"
    b"Upgrade: websocket\r\nOrigin: http://localhost:8080\r\nSec-WebSocket-Version: 13\r\n"
    b"Accept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\n"
    b"Sec-WebSocket-Key: x3JJHMbDL1EzLkh9GBhXDw==\r\n"
    b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"))
write("http_request", "browser-firefox-upgrade", http(
    b"GET /chat?room=1 HTTP/1.1\r\nHost: 127.0.0.1:9001\r\n"
    b"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0\r\n"
    b"Accept: */*\r\nSec-WebSocket-Version: 13\r\nOrigin: null\r\n"
    b"Sec-WebSocket-Key: AQIDBAUGBwgJCgsMDQ4PEA==\r\nConnection: keep-alive, Upgrade\r\n"
    b"Sec-Fetch-Dest: websocket\r\nSec-Fetch-Mode: websocket\r\nUpgrade: websocket\r\n\r\n",
    (200,)))
write("http_request", "rfc6455-1.3-response", http(
    b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n"))
write("http_request", "response-404-body", http(
    b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nContent-Length: 4\r\n\r\nnope"))
write("http_request", "response-no-reason", http(b"HTTP/1.0 200\r\nA: b\r\n\r\n", (1,)))
write("http_request", "lf-only-leading-blank-lines", http(b"\r\n\nGET / HTTP/1.0\nHost: a\n\n"))
write("http_request", "absolute-form", http(
    b"GET HTTP://Example.com:80/a/b?x=/y HTTP/1.1\r\nConnection: keep-alive,\tUpgrade\r\n"
    b"connection: x , Close\r\n\r\n"))
write("http_request", "asterisk-form", http(b"OPTIONS * HTTP/1.1\r\n\r\n"))
write("http_request", "version-8-is-426", http(RFC_REQUEST.replace(b"Version: 13", b"Version: 8")))
write("http_request", "post-is-405", http(RFC_REQUEST.replace(b"GET", b"POST")))
write("http_request", "obs-fold", http(b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n"))
write("http_request", "too-large", http(b"GET / HTTP/1.1\r\nA: 0123456789\r\n\r\n", (7,), 32, 2))

# ---- line: max (byte), chunking, stream ----
def line(max_len, chunks, stream):
    return bytes([max_len]) + chunking(*chunks) + stream


write("line", "lf-and-crlf", line(10, (1,), b"a\r\nbc\nd"))
write("line", "long-line-once", line(16, (3, 97, 200), b"x" * 300 + b"\nok\n"))
write("line", "cap-exact", line(3, (4,), b"abc\nabc\r\nabcd\nabcd"))
write("line", "stop-lines", line(80, (4, 1), b"hello\nSTOPX\nxSTOP\n  ST" + b"OP \r\nafter\n"))
write("line", "stop-unterminated", line(8, (2,), b"stop\n\tSTOP \r"))

# ---- command: time, a, b (i64 LE), fmt (byte), count (u16 LE), seed (u64 LE), line ----
def cmd(text, time=1_795_356_309, a=-17, b=18, fmt=0, count=3, seed=0x9E3779B97F4A7C15):
    return struct.pack("<qqqBHQ", time, a, b, fmt, count, seed) + text


for i, text in enumerate([
    b"ADD -17 18", b"sub -17 18", b"HELP", b"echo  two  spaces ", b"time", b"TIMESTAMP",
    b"RANDOM", b"random 10 20", b"RANDOMS 3 0 0", b"COUNT", b"STATS", b"QUIT", b"  stop",
    b"ADD 9223372036854775807 1", b"SUB -9223372036854775808 1", b"RANDOM 5 1",
    b"RANDOMS 10001", b"FROB x", b"", b"HELP me", b"ADD x 2", b"ECHO caf\xc3\xa9\r",
]):
    write("command", "line-%02d" % i, cmd(text))
write("command", "overflow-edge",
      cmd(b"add +0009223372036854775807\t-1", a=2**63 - 1, b=-(2**63), fmt=0xF5, count=0x8001))

# ---- utf8: chunking, bytes ----
for name, chunks, data in [
    ("kosme", (1,), "κόσμε".encode()),
    ("mixed-valid", (3, 5), "κόσμε 😀 U+10FFFF:\U0010ffff ascii-run-longer-than-eight \ufffd".encode()),
    ("autobahn-6.4.1-surrogate", (12,), b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited"),
    ("above-10ffff", (1,), b"\xf4\x90\x80\x80"),
    ("overlong-c0", (2,), b"ab\xc0\xaf"),
    ("overlong-e0", (1,), b"\xe0\x9f\xbf"),
    ("overlong-f0", (256,), b"\xf0\x8f\xbf\xbf"),
    ("cut-off", (2,), b"a\xf0\x9f"),
    ("lone-continuation", (8,), b"0123456789abcdef\x80"),
]:
    write("utf8", name, chunking(*chunks) + data)


# ---- tls_server: client hellos built by hand (RFC 8446 section 4.1.2, RFC 5246 7.4.1.2) ----
def ext(kind, body):
    return struct.pack(">HH", kind, len(body)) + body


def u16_list(*values):
    body = b"".join(struct.pack(">H", v) for v in values)
    return struct.pack(">H", len(body)) + body


def client_hello(tls13=True):
    name = b"localhost"
    exts = ext(0x0000, struct.pack(">HBH", len(name) + 3, 0, len(name)) + name)  # SNI
    exts += ext(0x000A, u16_list(0x001D, 0x0017))  # supported_groups: x25519, P-256
    exts += ext(0x000D, u16_list(0x0403, 0x0804, 0x0807))  # ECDSA, RSA-PSS, Ed25519
    exts += ext(0x0010, struct.pack(">HB", 9, 8) + b"http/1.1")  # ALPN
    if tls13:
        exts += ext(0x002B, bytes([4]) + struct.pack(">HH", 0x0304, 0x0303))  # versions
        share = struct.pack(">HH", 0x001D, 32) + bytes(range(1, 33))  # an x25519 key
        exts += ext(0x0033, struct.pack(">H", len(share)) + share)
        suites = (0x1301, 0x1302, 0x1303, 0xC02B, 0xC02F)
    else:
        exts += ext(0x000B, b"\x01\x00")  # ec_point_formats: uncompressed
        exts += ext(0x0017, b"")  # extended master secret
        exts += ext(0xFF01, b"\x00")  # renegotiation_info, empty
        suites = (0xC02B, 0xC02F)
    body = struct.pack(">H", 0x0303) + bytes(range(32))  # legacy_version, random
    body += bytes([32]) + bytes(32)  # legacy_session_id
    body += u16_list(*suites) + b"\x01\x00"  # no compression
    body += struct.pack(">H", len(exts)) + exts
    hs = bytes([1]) + struct.pack(">I", len(body))[1:] + body
    return struct.pack(">BHH", 0x16, 0x0301, len(hs)) + hs


# Raw mode (flags bit 0 clear; bit 1: the wire ends after the bytes).
write("tls_server", "raw-hello13", bytes([0]) + chunking(256) + client_hello())
write("tls_server", "raw-hello13-bytewise-fin", bytes([2]) + chunking(1) + client_hello())
write("tls_server", "raw-hello12", bytes([0]) + chunking(97, 5) + client_hello(False))
write("tls_server", "raw-http-get", bytes([2]) + chunking(256) + b"GET / HTTP/1.1\r\n\r\n")
# Man in the middle (flags bit 0): corruption count, then (offset u16 LE, xor) each.
write("tls_server", "mitm-hello", bytes([1]) + chunking(256) + b"\x00" + b"hello\n")
write("tls_server", "mitm-small-reads", bytes([1]) + chunking(3, 200) + b"\x00" + b"x" * 300)
write("tls_server", "mitm-empty", bytes([1]) + chunking(64) + b"\x00")
write("tls_server", "mitm-flip-hello", bytes([1]) + chunking(256) + b"\x01\x40\x00\x01" + b"hi")
write("tls_server", "mitm-flip-data", bytes([1]) + chunking(256) + b"\x01\x00\x03\x80" + b"hi")
