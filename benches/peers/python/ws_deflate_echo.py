#!/usr/bin/env python3
"""The Python `websockets` echo server (asyncio, one thread) with permessage-deflate
as it comes by default (context takeover, window 15, memLevel 5, compression level
websockets chooses): the peer of benches/deflate.sh.

usage: ws_deflate_echo.py      prints `READY 127.0.0.1:PORT`, serves until killed
"""

import asyncio

from websockets.asyncio.server import serve


async def echo(ws):
    async for message in ws:
        await ws.send(message)


async def main():
    async with serve(echo, "127.0.0.1", 0, max_size=2**20) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"READY 127.0.0.1:{port}", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main())
