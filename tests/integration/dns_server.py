#!/usr/bin/python3
"""A small DNS server on 127.0.0.1 (UDP) for herd's WebSocket name-resolution tests.

Standard library only. Writes its port to the file named by argv[1] once it
listens; logs every query ("query NAME TYPE") and every release to stdout.
Names (case-insensitive):
  echo.herd.test      A 127.0.0.1 (no AAAA)
  other.herd.test     A 127.0.0.2 (no AAAA)
  v6.herd.test        AAAA ::1 (no A)
  dual.herd.test      A 127.0.0.1 and AAAA ::1
  slow.herd.test      A 127.0.0.1, held until RELEASE_AFTER (argv[2], default 10) queries for
                      echo.herd.test arrived after it; SERVFAIL after 20 s without them
  released.herd.test  A 127.0.0.1 once slow.herd.test was answered; NXDOMAIN before
  silent.herd.test    never answered
  anything else       NXDOMAIN
"""
import os
import socket
import struct
import sys
import threading

A, AAAA = 1, 28
RECORDS = {
    "echo.herd.test": {A: ["127.0.0.1"]},
    "other.herd.test": {A: ["127.0.0.2"]},
    "v6.herd.test": {AAAA: ["::1"]},
    "dual.herd.test": {A: ["127.0.0.1"], AAAA: ["::1"]},
    "slow.herd.test": {A: ["127.0.0.1"]},
}
RELEASE_AFTER = int(sys.argv[2]) if len(sys.argv) > 2 else 10
CAP_SECONDS = 20

lock = threading.Condition()
state = {"echo_since_slow": None, "released": False}


def log(msg):
    print(msg, flush=True)


def parse_question(data):
    pos, labels = 12, []
    while True:
        n = data[pos]
        pos += 1
        if n == 0:
            break
        labels.append(data[pos:pos + n].decode("ascii", "replace"))
        pos += n
    qtype, _ = struct.unpack("!HH", data[pos:pos + 4])
    return ".".join(labels).lower(), qtype, data[12:pos + 4]


def answer(data, rcode, qtype, question, addrs):
    qid, flags = struct.unpack("!HH", data[:4])
    out_flags = 0x8000 | 0x0400 | (flags & 0x0100) | 0x0080 | rcode
    msg = struct.pack("!HHHHHH", qid, out_flags, 1, len(addrs), 0, 0) + question
    for a in addrs:
        rdata = socket.inet_pton(socket.AF_INET if qtype == A else socket.AF_INET6, a)
        msg += struct.pack("!HHHIH", 0xC00C, qtype, 1, 60, len(rdata)) + rdata
    return msg


def hold_slow(sock, peer, data, qtype, question):
    with lock:
        state["echo_since_slow"] = 0
        ok = lock.wait_for(lambda: state["echo_since_slow"] >= RELEASE_AFTER, timeout=CAP_SECONDS)
        n = state["echo_since_slow"]
        state["released"] = ok
    if ok:
        log("released slow.herd.test after %d echo.herd.test queries" % n)
        sock.sendto(answer(data, 0, qtype, question, RECORDS["slow.herd.test"][A]), peer)
    else:
        log("cap: slow.herd.test not released (%d echo.herd.test queries in %d s)" % (n, CAP_SECONDS))
        sock.sendto(answer(data, 2, qtype, question, []), peer)


def main():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    tmp = sys.argv[1] + ".tmp"
    with open(tmp, "w") as f:
        f.write(str(sock.getsockname()[1]))
    os.rename(tmp, sys.argv[1])
    while True:
        data, peer = sock.recvfrom(4096)
        try:
            name, qtype, question = parse_question(data)
        except (IndexError, struct.error):
            continue
        log("query %s %d" % (name, qtype))
        if name == "silent.herd.test":
            continue
        if name == "echo.herd.test" and qtype == A:
            with lock:
                if state["echo_since_slow"] is not None:
                    state["echo_since_slow"] += 1
                    lock.notify_all()
        if name == "slow.herd.test" and qtype == A:
            threading.Thread(target=hold_slow, args=(sock, peer, data, qtype, question), daemon=True).start()
            continue
        if name == "released.herd.test":
            with lock:
                released = state["released"]
            if released:
                addrs = ["127.0.0.1"] if qtype == A else []
                sock.sendto(answer(data, 0, qtype, question, addrs), peer)
            else:
                sock.sendto(answer(data, 3, qtype, question, []), peer)
            continue
        rec = RECORDS.get(name)
        if rec is None:
            sock.sendto(answer(data, 3, qtype, question, []), peer)
        else:
            sock.sendto(answer(data, 0, qtype, question, rec.get(qtype, [])), peer)


main()
