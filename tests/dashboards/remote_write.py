"""A minimal Prometheus remote-write client for tests: the WriteRequest protobuf
(labels, float samples, integer native histograms) encoded by hand, in snappy's block
format with literal chunks only (valid snappy, no compression). No third-party modules.
Used by check_dashboards_test.py to fill a real Prometheus with series named as herd's
experimental-prometheus-rw output names them."""

import struct
import urllib.request


def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _zigzag(n):
    return (n << 1) ^ (n >> 63)


def _field(num, wire, payload):
    key = _varint((num << 3) | wire)
    if wire == 2:
        return key + _varint(len(payload)) + payload
    return key + payload


def _label(name, value):
    return _field(1, 2, name.encode()) + _field(2, 2, value.encode())


def _sample(value, ts_ms):
    return _field(1, 1, struct.pack("<d", value)) + _field(2, 0, _varint(ts_ms))


def _histogram(count, total, schema, offset, buckets, ts_ms):
    """An integer native histogram: one positive span starting at bucket `offset`."""
    h = _field(1, 0, _varint(count)) + _field(3, 1, struct.pack("<d", total))
    h += _field(4, 0, _varint(_zigzag(schema) & 0xFFFFFFFF)) + _field(5, 1, struct.pack("<d", 1e-128))
    h += _field(6, 0, _varint(0))
    span = _field(1, 0, _varint(_zigzag(offset) & 0xFFFFFFFF)) + _field(2, 0, _varint(len(buckets)))
    h += _field(11, 2, span)
    prev, deltas = 0, b""
    for c in buckets:
        deltas += _varint(_zigzag(c - prev) & 0xFFFFFFFFFFFFFFFF)
        prev = c
    h += _field(12, 2, deltas)
    return h + _field(15, 0, _varint(ts_ms))


def timeseries(labels, samples=(), histograms=()):
    """labels: dict (with __name__); samples: [(value, ts_ms)];
    histograms: [(count, sum, schema, offset, [bucket counts], ts_ms)]."""
    ts = b"".join(_field(1, 2, _label(k, v)) for k, v in sorted(labels.items()))
    ts += b"".join(_field(2, 2, _sample(v, t)) for v, t in samples)
    ts += b"".join(_field(4, 2, _histogram(*h)) for h in histograms)
    return ts


def snappy_literal(data):
    """data in snappy's block format, as literal chunks of at most 65536 bytes."""
    out = bytearray(_varint(len(data)))
    for i in range(0, len(data), 65536):
        chunk = data[i:i + 65536]
        n = len(chunk) - 1
        if n < 60:
            out.append(n << 2)
        elif n < 256:
            out += bytes([60 << 2, n])
        else:
            out += bytes([61 << 2]) + struct.pack("<H", n)
        out += chunk
    return bytes(out)


def push(url, series, timeout=10):
    """POSTs one WriteRequest holding `series` (encoded timeseries) to url/api/v1/write."""
    body = snappy_literal(b"".join(_field(1, 2, s) for s in series))
    req = urllib.request.Request(url.rstrip("/") + "/api/v1/write", data=body, method="POST", headers={
        "Content-Type": "application/x-protobuf", "Content-Encoding": "snappy",
        "X-Prometheus-Remote-Write-Version": "0.1.0"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status
