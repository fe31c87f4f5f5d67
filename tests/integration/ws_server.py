#!/usr/bin/python3
"""WebSocket test server on loopback for herd's k6/ws and k6/websockets tests.

A real RFC 6455 implementation (Debian's python3-websockets 10.4). Writes its
port to the file named by argv[1] once it listens. With argv[2], a directory
holding cert.pem/key.pem and ca.pem, it serves wss:// instead: client
certificates are asked for and checked against ca.pem, but optional.
Routes (by path):
  /echo        echoes every message (text stays text, binary stays binary)
  /broadcast   sends every message to every client on /broadcast
  /close       closes with 4001 "bye" after the first message
  /drop        drops the TCP connection (no close frame) after the first message
  /reject      refuses the upgrade with 403
  /subproto    picks the first offered subprotocol; sends it back as a message
  /headers     sends the request's Cookie, X-Test and User-Agent headers as one JSON message
  /serverping  pings the client, then sends "pong seen" once the pong arrives
  /badframe    sends a frame with a reserved bit set after the first message
  /badutf8     sends a text frame that is not UTF-8 after the first message
  /silent      accepts and never answers (the client closes)
  /peercert    sends "client cert: <subject CN>" or "client cert: none"
  /extensions  sends the negotiated extensions' names ("" when none)
  /record      echoes like /echo; when the connection ends, records the client's close code
  /lastclose   sends the close codes /record saw, comma-separated (waits up to 5 s for ?n=N of them, default 1)
  /bomb        after the first message, sends a permessage-deflate frame that
               inflates to 65 MiB (over the client's 64 MiB limit)
permessage-deflate is on (the library's defaults: window bits 12 both ways)
for clients that offer it.
"""
import asyncio
import http
import json
import os
import resource
import ssl
import struct
import sys
import zlib

import websockets

soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

BROADCAST = set()
RECORDED = []


async def process_request(path, headers):
    if path.startswith("/reject"):
        return http.HTTPStatus.FORBIDDEN, [("X-Reason", "test")], b"forbidden\n"
    return None


def raw_frame(first_byte, payload):
    return bytes([first_byte, len(payload)]) + payload


async def handler(ws, path):
    if path.startswith("/echo"):
        async for m in ws:
            await ws.send(m)
    elif path.startswith("/broadcast"):
        BROADCAST.add(ws)
        try:
            async for m in ws:
                websockets.broadcast(BROADCAST, m)
        finally:
            BROADCAST.discard(ws)
    elif path.startswith("/close"):
        await ws.recv()
        await ws.close(4001, "bye")
    elif path.startswith("/drop"):
        await ws.recv()
        ws.transport.abort()
    elif path.startswith("/subproto"):
        await ws.send(ws.subprotocol or "")
        async for _ in ws:
            pass
    elif path.startswith("/headers"):
        h = ws.request_headers
        await ws.send(json.dumps({"cookie": h.get("Cookie", ""), "x": h.get("X-Test", ""),
                                  "ua": h.get("User-Agent", "")}))
        async for _ in ws:
            pass
    elif path.startswith("/serverping"):
        waiter = await ws.ping(b"hi")
        await waiter
        await ws.send("pong seen")
        async for _ in ws:
            pass
    elif path.startswith("/badframe"):
        await ws.recv()
        ws.transport.write(raw_frame(0xC1, b"x"))
        await asyncio.sleep(5)
    elif path.startswith("/badutf8"):
        await ws.recv()
        ws.transport.write(raw_frame(0x81, b"\xc3\x28"))
        await asyncio.sleep(5)
    elif path.startswith("/peercert"):
        cert = ws.transport.get_extra_info("peercert")
        cn = "none"
        if cert:
            cn = dict(x[0] for x in cert.get("subject", ()))["commonName"]
        await ws.send("client cert: " + cn)
        async for _ in ws:
            pass
    elif path.startswith("/extensions"):
        await ws.send(",".join(e.name for e in ws.extensions))
        async for _ in ws:
            pass
    elif path.startswith("/bomb"):
        await ws.recv()
        z = zlib.compressobj(9, zlib.DEFLATED, -15)
        data = z.compress(b"\0" * (65 << 20)) + z.flush(zlib.Z_SYNC_FLUSH)
        data = data[:-4]
        ws.transport.write(bytes([0xC2, 127]) + struct.pack("!Q", len(data)) + data)
        await asyncio.sleep(5)
    elif path.startswith("/record"):
        try:
            async for m in ws:
                await ws.send(m)
        finally:
            await ws.wait_closed()
            RECORDED.append(str(ws.close_code))
    elif path.startswith("/lastclose"):
        want = int(path.split("n=")[1]) if "n=" in path else 1
        for _ in range(250):
            if len(RECORDED) >= want:
                break
            await asyncio.sleep(0.02)
        await ws.send(",".join(RECORDED))
        async for _ in ws:
            pass
    elif path.startswith("/silent"):
        async for _ in ws:
            pass


def select_subprotocol(client_protocols, server_protocols):
    return client_protocols[0] if client_protocols else None


def tls_context():
    if len(sys.argv) < 3:
        return None
    d = sys.argv[2]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(d, "cert.pem"), os.path.join(d, "key.pem"))
    ctx.verify_mode = ssl.CERT_OPTIONAL
    ctx.load_verify_locations(os.path.join(d, "ca.pem"))
    return ctx


async def main():
    async with websockets.serve(handler, "127.0.0.1", 0, ssl=tls_context(), process_request=process_request,
                                max_size=None,
                                max_queue=None, ping_interval=None,
                                select_subprotocol=select_subprotocol, subprotocols=["chat", "superchat"]) as server:
        port = server.sockets[0].getsockname()[1]
        tmp = sys.argv[1] + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(port))
        os.rename(tmp, sys.argv[1])
        await asyncio.Future()


asyncio.run(main())
