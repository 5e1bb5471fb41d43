#!/usr/bin/env python3
"""An independent WebSocket server for sockloop's client tests, built on the PyPI
`websockets` package (sync API, websockets >= 13).

usage: ws_server.py MODE
  echo        echo every message (text as text, binary as binary)
  close4000   echo the first message, then close with 4000 "custom goodbye"
  push_close  send "pushed before close" at once, then close with 1000 "done"
  headers     like echo, offering subprotocol "chat"; reports the request headers
  echo_back   send "alpha", binary 00 01 ff, "omega"; read 3 messages back; close 1000
  notfound    refuse every handshake with 404 "nothing here"

Prints `READY 127.0.0.1:PORT`, then one line per event, flushed at once:
  TEXT <message>            a text message received
  BINARY <hex>              a binary message received
  HEADER <name>: <value>    a request header (headers mode)
  SUBPROTOCOL <name|None>   the subprotocol chosen (headers mode)
  CLOSE <code> <reason>     the close frame received (code 1006 if there was none)
  DONE                      the connection is over; the server exits right after
Serves one connection; exits on its own after 15 s whatever happens.
"""

import os
import sys
import threading
import time

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import serve


def say(*words):
    print(*words, flush=True)


def record(message):
    if isinstance(message, bytes):
        say("BINARY", message.hex(" "))
    else:
        say("TEXT", message)


def main():
    mode = sys.argv[1] if len(sys.argv) > 1 else "echo"
    done = threading.Event()

    def handler(ws):
        try:
            if mode == "headers":
                for name, value in ws.request.headers.raw_items():
                    say(f"HEADER {name}: {value}")
                say("SUBPROTOCOL", ws.subprotocol)
            if mode in ("echo", "headers"):
                for message in ws:
                    record(message)
                    try:
                        ws.send(message)
                    except ConnectionClosed:
                        # The client's Close came first (and was answered at once);
                        # keep recording what it sent before it.
                        pass
            elif mode == "close4000":
                message = ws.recv(timeout=10)
                record(message)
                ws.send(message)
                ws.close(4000, "custom goodbye")
            elif mode == "push_close":
                ws.send("pushed before close")
                ws.close(1000, "done")
            elif mode == "echo_back":
                ws.send("alpha")
                ws.send(b"\x00\x01\xff")
                ws.send("omega")
                for _ in range(3):
                    record(ws.recv(timeout=10))
                ws.close(1000, "thanks")
        except ConnectionClosed:
            pass
        except TimeoutError:
            say("TIMEOUT")
        finally:
            # Wait (briefly) for the closing handshake to finish so close_code is known.
            deadline = time.monotonic() + 3
            while ws.close_code is None and time.monotonic() < deadline:
                time.sleep(0.01)
            say("CLOSE", ws.close_code, ws.close_reason)
            done.set()

    def process_request(connection, request):
        if mode == "notfound":
            return connection.respond(404, "nothing here\n")
        return None

    kwargs = {"subprotocols": ["chat"]} if mode == "headers" else {}
    with serve(
        handler,
        "127.0.0.1",
        0,
        process_request=process_request,
        close_timeout=3,
        **kwargs,
    ) as server:
        port = server.socket.getsockname()[1]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        say(f"READY 127.0.0.1:{port}")
        done.wait(15)
        say("DONE")
        # Let the handler's thread close the TCP connection, then go without waiting
        # for anything else.
        time.sleep(0.2)
        sys.stdout.flush()
        os._exit(0)


if __name__ == "__main__":
    main()
