#!/usr/bin/env python3
"""A bare WebSocket server for sockloop's client tests, standard library only, for
behaviour a well-behaved library will not produce.

usage: ws_raw_server.py MODE
  mute   complete the handshake, then read frames and never answer anything
         (not even a Close): the client has to give up waiting on its own
  drop   complete the handshake, send the text message "last words", then end
         TCP (FIN) without a Close frame (the client should report 1006)
  linger answer a Close with the same Close, then keep TCP open and wait: closing
         it is left to the client (RFC 6455 §7.1.1 wants the server to do it)
  reset  send the text message "count 7" and a Close 1000, wait until the client's
         answering Close is in our receive queue, then close without reading it:
         the kernel sends RST, as a server that closes right after its Close does
  bad_deflate  accept permessage-deflate with `client_max_window_bits` and no value,
         which RFC 7692 §7.1.2.2 forbids in an answer, then behave like mute

Prints `READY 127.0.0.1:PORT`, then one line per event, flushed at once:
  TEXT <message>        a text frame received (unfragmented)
  CLOSE <code>          a close frame received (code "none" if it had no body)
  OTHER <opcode>        any other frame
  EOF                   the client closed TCP
Serves one connection; exits on its own after 15 s.
"""

import base64
import hashlib
import socket
import sys

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def say(*words):
    print(*words, flush=True)


def read_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def read_frame(conn):
    b0, b1 = read_exact(conn, 2)
    opcode = b0 & 0x0F
    length = b1 & 0x7F
    if length == 126:
        length = int.from_bytes(read_exact(conn, 2), "big")
    elif length == 127:
        length = int.from_bytes(read_exact(conn, 8), "big")
    mask = read_exact(conn, 4) if b1 & 0x80 else b"\0\0\0\0"
    payload = bytes(b ^ mask[i % 4] for i, b in enumerate(read_exact(conn, length)))
    return opcode, payload


def handshake(conn, extra=b""):
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = conn.recv(4096)
        if not chunk:
            raise EOFError
        head += chunk
    key = None
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"sec-websocket-key":
            key = value.strip()
    accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
    conn.sendall(
        b"HTTP/1.1 101 Switching Protocols\r\n"
        b"Upgrade: websocket\r\n"
        b"Connection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept + b"\r\n" + extra + b"\r\n"
    )


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "mute"
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(15)
    say(f"READY 127.0.0.1:{listener.getsockname()[1]}")
    conn, _ = listener.accept()
    conn.settimeout(15)
    try:
        if mode == "bad_deflate":
            handshake(conn, b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n")
        else:
            handshake(conn)
        if mode == "drop":
            payload = b"last words"
            conn.sendall(bytes([0x81, len(payload)]) + payload)
            # A FIN, not a reset: shut our side, then drain what the client sends
            # until it closes (closing with unread data would send RST instead).
            conn.shutdown(socket.SHUT_WR)
            say("DROPPED")
            while conn.recv(65536):
                pass
            say("EOF")
            return
        if mode == "reset":
            payload = b"count 7"
            conn.sendall(bytes([0x81, len(payload)]) + payload + b"\x88\x02\x03\xe8")
            # Wait for the client's Close (a masked frame: 2 + 4 + 2 bytes) without
            # consuming it, so that close() finds unread data and resets.
            while len(conn.recv(8, socket.MSG_PEEK)) < 8:
                pass
            say("RESET")
            conn.close()
            return
        while True:
            opcode, payload = read_frame(conn)
            if opcode == 0x1:
                say("TEXT", payload.decode("utf-8", "replace"))
            elif opcode == 0x8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else "none"
                say("CLOSE", code)
                if mode == "linger":
                    conn.sendall(bytes([0x88, len(payload)]) + payload)
            else:
                say("OTHER", opcode)
    except EOFError:
        say("EOF")
    except (socket.timeout, ConnectionError) as e:
        say("ERROR", e)


if __name__ == "__main__":
    main()
