#!/usr/bin/python3
"""Baseline gRPC client for bench/grpc.sh (Debian's python3-grpcio, asyncio API).

  grpc_peer.py ADDR CONNS SECONDS
      CONNS tasks on one channel call herd.demo.Demo/Echo {text: "hello"} back to
      back for SECONDS (the same loop as bench/grpc_unary.js); prints one JSON line
      {"calls", "errors", "seconds"}. No generated code: the request is encoded by
      hand (field 1, string) and the reply is left as bytes.
"""
import asyncio
import json
import sys
import time

import grpc

REQUEST = b"\x0a\x05hello"  # herd.demo.EchoRequest{text: "hello"}


async def run(addr, conns, seconds):
    counts = {"calls": 0, "errors": 0}
    async with grpc.aio.insecure_channel(addr) as channel:
        echo = channel.unary_unary("/herd.demo.Demo/Echo")
        await asyncio.wait_for(channel.channel_ready(), 10)
        start = time.monotonic()
        end = start + seconds

        async def loop():
            while time.monotonic() < end:
                try:
                    await echo(REQUEST, timeout=10)
                    counts["calls"] += 1
                except grpc.aio.AioRpcError:
                    counts["errors"] += 1

        await asyncio.gather(*(loop() for _ in range(conns)))
        counts["seconds"] = time.monotonic() - start
    print(json.dumps(counts), flush=True)


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    asyncio.run(run(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
