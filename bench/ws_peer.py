#!/usr/bin/python3
"""WebSocket peer for bench/ws.sh (Debian's python3-websockets, asyncio).

  ws_peer.py server            a plain echo server on 127.0.0.1, free port; prints
                               "listening on ws://127.0.0.1:PORT/" and serves until killed
  ws_peer.py client URL CONNS SECONDS SIZE
                               CONNS sockets, each in the same loop as bench/ws_echo.js:
                               send one SIZE-byte text message, wait for its echo, send the
                               next, for SECONDS; prints one JSON line
                               {"sent", "received", "seconds", "errors"}
"""
import asyncio
import json
import sys
import time

import websockets


async def echo(sock, _path=None):
    try:
        async for msg in sock:
            await sock.send(msg)
    except websockets.ConnectionClosed:
        pass


async def server():
    async with websockets.serve(echo, "127.0.0.1", 0, max_size=None, compression=None) as srv:
        port = srv.sockets[0].getsockname()[1]
        print(f"listening on ws://127.0.0.1:{port}/", flush=True)
        await asyncio.Future()


async def client(url, conns, seconds, size):
    counts = {"sent": 0, "received": 0, "errors": 0}
    msg = "x" * size
    socks = []
    try:
        for _ in range(conns):
            socks.append(await websockets.connect(url, max_size=None, compression=None))
    except (OSError, websockets.WebSocketException) as e:
        print(f"ws_peer: connect {url}: {e}", file=sys.stderr)
        counts["errors"] += 1
    start = time.monotonic()
    end = start + seconds

    async def loop(sock):
        try:
            while time.monotonic() < end:
                await sock.send(msg)
                counts["sent"] += 1
                await sock.recv()
                counts["received"] += 1
        except websockets.WebSocketException:
            counts["errors"] += 1

    await asyncio.gather(*(loop(s) for s in socks))
    elapsed = time.monotonic() - start
    await asyncio.gather(*(s.close() for s in socks), return_exceptions=True)
    counts["seconds"] = elapsed
    print(json.dumps(counts), flush=True)


def main():
    if len(sys.argv) == 2 and sys.argv[1] == "server":
        asyncio.run(server())
    elif len(sys.argv) == 6 and sys.argv[1] == "client":
        asyncio.run(client(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
