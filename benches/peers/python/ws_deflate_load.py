#!/usr/bin/env python3
"""Load for benches/deflate.sh: CONNS connections (Python `websockets`, offering
permessage-deflate as browsers do), each sending COUNT compressible 1 KiB text
messages (JSON-like chat lines, every one different) DEPTH at a time, checking every
echo. Prints `DONE <messages> <seconds>` or `ERROR <why>`.

usage: ws_deflate_load.py URL CONNS COUNT DEPTH
"""

import asyncio
import sys
import time

from websockets.asyncio.client import connect


def message(conn, i):
    line = (f'{{"room": "lobby", "from": "user{conn}", "seq": {i}, '
            f'"text": "message {i} from user {conn}: the weather is fine today and ')
    return (line + "we meet at eight near the station, " * 40)[:1024]


async def one(url, conn, count, depth):
    async with connect(url, max_size=2**20) as ws:
        if ws.response.headers.get("Sec-WebSocket-Extensions") is None:
            raise RuntimeError("the server did not accept permessage-deflate")
        sent = received = 0
        while received < count:
            while sent < count and sent - received < depth:
                await ws.send(message(conn, sent))
                sent += 1
            echo = await ws.recv()
            if echo != message(conn, received):
                raise RuntimeError(f"echo {received} on connection {conn} differs")
            received += 1


async def main():
    url, conns, count, depth = sys.argv[1], *map(int, sys.argv[2:5])
    start = time.monotonic()
    try:
        await asyncio.wait_for(
            asyncio.gather(*(one(url, c, count, depth) for c in range(conns))), 300)
    except Exception as e:  # noqa: BLE001 - reported, not hidden
        print("ERROR", e, flush=True)
        sys.exit(1)
    print("DONE", conns * count, round(time.monotonic() - start, 3), flush=True)


if __name__ == "__main__":
    asyncio.run(main())
