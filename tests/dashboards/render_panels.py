#!/usr/bin/python3
"""Renders what each panel of a Grafana dashboard shows, from a Prometheus HTTP API, as
one SVG per dashboard (no Grafana needed): time series as lines, instant targets as
numbers. The images in docs/images/dashboards come from a real herd run:

    HERD_DASHBOARD_RENDER=docs/images/dashboards HERD_BIN=build/dev/bin/herd \
        /usr/bin/python3 tests/dashboards/herd_run_test.py
"""

import html
import json
import math
import os
import urllib.parse
import urllib.request

import check_dashboards as cd

W, H, COLS, PAD = 460, 230, 2, 14
COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def fetch(base_url, query, instant, window):
    if instant:
        params = {"query": query, "time": f"{window['end']:.3f}"}
        path = "/api/v1/query"
    else:
        params = {"query": query, "start": f"{window['start']:.3f}", "end": f"{window['end']:.3f}",
                  "step": cd.prom_duration(window["step"])}
        path = "/api/v1/query_range"
    with urllib.request.urlopen(base_url.rstrip("/") + path + "?" + urllib.parse.urlencode(params), timeout=10) as r:
        return json.load(r)["data"]["result"]


def label_of(metric):
    rest = {k: v for k, v in metric.items() if k != "__name__"}
    return ",".join(f"{k}={v}" for k, v in sorted(rest.items())) or metric.get("__name__", "value")


def _legend(legend, metric):
    out, i = "", 0
    while i < len(legend):
        j = legend.find("{{", i)
        if j < 0:
            return out + legend[i:]
        k = legend.find("}}", j)
        out += legend[i:j] + metric.get(legend[j + 2:k].strip(), "")
        i = k + 2
    return out


def fmt(v):
    if v == 0 or math.isnan(v):
        return "0" if v == 0 else "NaN"
    a = abs(v)
    if a >= 1000:
        return f"{v:,.0f}"
    if a >= 1:
        return f"{v:.2f}"
    return f"{v:.4g}"


def panel_svg(x0, y0, title, lines, numbers, window):
    out = [f'<rect x="{x0}" y="{y0}" width="{W}" height="{H}" fill="#fff" stroke="#ccc"/>',
           f'<text x="{x0 + PAD}" y="{y0 + 20}" font-size="13" font-weight="bold">{html.escape(title)}</text>']
    if numbers:
        for n, (label, v) in enumerate(numbers[:6]):
            out.append(f'<text x="{x0 + PAD}" y="{y0 + 60 + 26 * n}" font-size="15">'
                       f'{html.escape(label)}: <tspan font-weight="bold">{fmt(v)}</tspan></text>')
        return out
    pts = [p for _, s in lines for p in s if not math.isnan(p[1])]
    if not pts:
        out.append(f'<text x="{x0 + PAD}" y="{y0 + 60}" font-size="13" fill="#d62728">no data</text>')
        return out
    lo, hi = min(p[1] for p in pts), max(p[1] for p in pts)
    if hi == lo:
        lo, hi = lo - 1, hi + 1
    t0, t1 = window["start"], window["end"]
    gx, gy, gw, gh = x0 + 70, y0 + 32, W - 90, H - 90
    out.append(f'<rect x="{gx}" y="{gy}" width="{gw}" height="{gh}" fill="none" stroke="#eee"/>')
    out.append(f'<text x="{gx - 6}" y="{gy + 10}" font-size="10" text-anchor="end">{fmt(hi)}</text>')
    out.append(f'<text x="{gx - 6}" y="{gy + gh}" font-size="10" text-anchor="end">{fmt(lo)}</text>')
    out.append(f'<text x="{gx + gw}" y="{gy + gh + 14}" font-size="10" text-anchor="end">'
               f'{int(t1 - t0)} s window</text>')
    for n, (label, s) in enumerate(lines[:8]):
        c = COLOURS[n % len(COLOURS)]
        xy = [f"{gx + gw * (t - t0) / (t1 - t0):.1f},{gy + gh - gh * (v - lo) / (hi - lo):.1f}"
              for t, v in s if not math.isnan(v)]
        if xy:
            out.append(f'<polyline fill="none" stroke="{c}" stroke-width="1.5" points="{" ".join(xy)}"/>')
        lx, ly = x0 + PAD + (n % 2) * 220, y0 + H - 34 + (n // 2) * 12
        if n < 4:
            out.append(f'<rect x="{lx}" y="{ly - 8}" width="8" height="8" fill="{c}"/>'
                       f'<text x="{lx + 12}" y="{ly}" font-size="10">{html.escape(label[:34])}</text>')
    return out


def render(base_url, path, testid, overrides, window, out_dir):
    """Writes out_dir/<dashboard file name>.svg; returns its path."""
    d = cd.load(path)
    values = cd.variable_values(d, testid, overrides, window)
    panels = cd.panels_of(d)
    rows = (len(panels) + COLS - 1) // COLS
    body = []
    for i, panel in enumerate(panels):
        x0, y0 = PAD + (i % COLS) * (W + PAD), 40 + (i // COLS) * (H + PAD)
        lines, numbers = [], []
        for t in panel["targets"]:
            if t.get("hide") or not t.get("expr"):
                continue
            instant = bool(t.get("instant")) and not t.get("range")
            for s in fetch(base_url, cd.substitute(t["expr"], values), instant, window):
                label = _legend(t["legendFormat"], s["metric"]) if t.get("legendFormat") else label_of(s["metric"])
                if instant or panel.get("type") in ("stat", "gauge", "bargauge", "table"):
                    v = s.get("value") or (s.get("values") or [[0, "nan"]])[-1]
                    numbers.append((label, float(v[1])))
                else:
                    lines.append((label, [(float(t_), float(v)) for t_, v in s.get("values", [])]))
        body += panel_svg(x0, y0, panel.get("title", "?"), lines, numbers, window)
    width, height = PAD + COLS * (W + PAD), 40 + rows * (H + PAD)
    title = html.escape(f"{d.get('title', os.path.basename(path))} (testid {testid})")
    svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif">',
           f'<rect width="{width}" height="{height}" fill="#f4f5f5"/>',
           f'<text x="{PAD}" y="26" font-size="16" font-weight="bold">{title}</text>'] + body + ["</svg>"]
    os.makedirs(out_dir, exist_ok=True)
    out = os.path.join(out_dir, os.path.splitext(os.path.basename(path))[0] + ".svg")
    with open(out, "w") as f:
        f.write("\n".join(svg) + "\n")
    return out
