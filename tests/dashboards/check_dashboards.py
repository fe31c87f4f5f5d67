#!/usr/bin/python3
"""Evaluates every PromQL target of Grafana dashboards against a Prometheus HTTP API.

    check_dashboards.py --prometheus http://127.0.0.1:9090 --testid ID dashboards/*.json

Each dashboard's template variables are substituted as Grafana would (testid-like
variables get --testid, others --var NAME=VALUE or their "All" value, $__rate_interval,
$__interval, $__range ...), then each target is queried over [--start, --end]: range
targets with /api/v1/query_range, instant ones with /api/v1/query at --end. A target
fails when Prometheus answers an error or no data (every value NaN counts as no data).
Exit status: 0 all targets returned data, 1 a target failed, 2 bad usage or a dashboard
that cannot be read. --allow-empty only checks that Prometheus accepts every query.
docs/observability.md#grafana-dashboards.
"""

import argparse
import json
import math
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

DURATION = re.compile(r"^(\d+)(ms|s|m|h|d|w)$")
UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# $name, ${name}, ${name:format}, [[name]] (Grafana's variable syntaxes).
VARIABLE = re.compile(r"\$\{(\w+)(?::[\w]+)?\}|\[\[(\w+)\]\]|\$(\w+)")


class DashboardError(Exception):
    """A dashboard that cannot be checked: what() names the file and the problem."""


def parse_duration(text):
    """'90s', '5m', '1h' -> seconds (float). Raises ValueError naming the text."""
    m = DURATION.match(text)
    if not m:
        raise ValueError(f"{text!r} is not a duration (e.g. 30s, 1m, 1h)")
    return int(m.group(1)) * UNIT_SECONDS[m.group(2)]


def prom_duration(seconds):
    """Seconds -> a PromQL duration ('3600s', '1500ms')."""
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{int(round(seconds * 1000))}ms"


def panels_of(dashboard):
    """Every panel with targets, rows' nested panels included, in order."""
    out = []

    def walk(panels):
        for p in panels or []:
            if p.get("type") == "row":
                walk(p.get("panels"))
            elif p.get("targets"):
                out.append(p)
            if p.get("type") != "row" and p.get("panels"):
                walk(p.get("panels"))

    walk(dashboard.get("panels"))
    return out


def variable_values(dashboard, testid, overrides, window):
    """The value of every variable a query may use: the dashboard's template variables
    and Grafana's built-ins. `window`: dict with step, rate_interval, range (seconds)."""
    values = {
        "__rate_interval": prom_duration(window["rate_interval"]),
        "__interval": prom_duration(window["step"]),
        "__interval_ms": str(int(window["step"] * 1000)),
        "__range": prom_duration(window["range"]),
        "__range_s": str(int(window["range"])),
        "__range_ms": str(int(window["range"] * 1000)),
    }
    for var in (dashboard.get("templating") or {}).get("list") or []:
        name = var.get("name")
        if not name:
            continue
        kind = var.get("type")
        if name in overrides:
            values[name] = overrides[name]
        elif kind == "datasource":
            values[name] = name  # only in datasource fields, never in a query
        elif name == "testid" or name.startswith("testid"):
            if testid is None:
                raise DashboardError(f"variable ${name} needs --testid")
            values[name] = testid
        elif kind in ("constant", "textbox"):
            values[name] = str(var.get("query", ""))
        elif var.get("includeAll"):
            values[name] = var.get("allValue") or ".*"
        else:
            raise DashboardError(f"variable ${name} has no value: give --var {name}=VALUE")
    for name, value in overrides.items():
        values.setdefault(name, value)
    return values


def substitute(expr, values):
    """expr with every variable replaced. Raises DashboardError naming an unknown one."""

    def one(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name not in values:
            raise DashboardError(f"unknown variable ${name} in: {expr}")
        return values[name]

    return VARIABLE.sub(one, expr)


def queries_of(dashboard, values):
    """[(panel title, refId, PromQL, instant)] of every visible target with an expr."""
    out = []
    for panel in panels_of(dashboard):
        for t in panel["targets"]:
            if t.get("hide") or not t.get("expr"):
                continue
            instant = bool(t.get("instant")) and not t.get("range")
            out.append((panel.get("title", "?"), t.get("refId", "?"), substitute(t["expr"], values), instant))
    return out


def has_data(result):
    """True when a Prometheus result (vector or matrix) holds a non-NaN value."""
    for series in result:
        points = series.get("values") or ([series["value"]] if "value" in series else [])
        points += [h for h in series.get("histograms") or []]
        if "histogram" in series:
            points.append(series["histogram"])
        for p in points:
            v = p[1]
            if isinstance(v, dict):  # a native histogram
                return True
            try:
                if not math.isnan(float(v)):
                    return True
            except (TypeError, ValueError):
                return True
    return False


def evaluate(base_url, query, instant, window, timeout):
    """(ok, message): the query's outcome against the Prometheus HTTP API."""
    if instant:
        params = {"query": query, "time": f"{window['end']:.3f}"}
        path = "/api/v1/query"
    else:
        params = {"query": query, "start": f"{window['start']:.3f}", "end": f"{window['end']:.3f}",
                  "step": prom_duration(window["step"])}
        path = "/api/v1/query_range"
    url = base_url.rstrip("/") + path + "?" + urllib.parse.urlencode(params)
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            body = json.load(r)
    except urllib.error.HTTPError as e:
        try:
            body = json.load(e)
        except ValueError:
            return False, f"HTTP {e.code}"
    except (urllib.error.URLError, OSError, ValueError) as e:
        return False, f"no answer from {base_url}: {e}"
    if body.get("status") != "success":
        return False, f"error: {body.get('errorType', '?')}: {body.get('error', '?')}"
    result = body.get("data", {}).get("result", [])
    if not has_data(result):
        return False, "no data"
    return True, f"{len(result)} series"


def load(path):
    try:
        with open(path) as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        raise DashboardError(f"{path}: {e}") from e
    if not isinstance(d, dict) or not isinstance(d.get("panels"), list):
        raise DashboardError(f"{path}: not a Grafana dashboard (no panels list)")
    return d


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prometheus", required=True, help="base URL, e.g. http://127.0.0.1:9090")
    ap.add_argument("--testid", help="value of the testid variables ($testid, $testid_a, ...)")
    ap.add_argument("--var", action="append", default=[], metavar="NAME=VALUE", help="another variable's value")
    ap.add_argument("--start", type=float, help="unix seconds (default: --end minus --lookback)")
    ap.add_argument("--end", type=float, help="unix seconds (default: now)")
    ap.add_argument("--lookback", default="1h", help="window when --start is not given (default 1h)")
    ap.add_argument("--step", default="5s", help="query step and $__interval (default 5s)")
    ap.add_argument("--rate-interval", default="1m", help="$__rate_interval (default 1m)")
    ap.add_argument("--timeout", type=float, default=10, help="seconds per query (default 10)")
    ap.add_argument("--allow-empty", action="store_true", help="only check that every query is accepted")
    ap.add_argument("dashboards", nargs="+")
    a = ap.parse_args(argv)
    try:
        overrides = {}
        for v in a.var:
            if "=" not in v:
                raise DashboardError(f"--var {v}: want NAME=VALUE")
            k, val = v.split("=", 1)
            overrides[k] = val
        end = a.end if a.end is not None else time.time()
        start = a.start if a.start is not None else end - parse_duration(a.lookback)
        if start >= end:
            raise DashboardError("--start must be before --end")
        window = {"start": start, "end": end, "range": max(1.0, round(end - start)),
                  "step": parse_duration(a.step), "rate_interval": parse_duration(a.rate_interval)}
        work = []
        for path in a.dashboards:
            d = load(path)
            try:
                work.append((path, queries_of(d, variable_values(d, a.testid, overrides, window))))
            except DashboardError as e:
                raise DashboardError(f"{path}: {e}") from e
    except (DashboardError, ValueError) as e:
        print(f"check_dashboards: {e}", file=sys.stderr)
        return 2
    failed = total = 0
    for path, queries in work:
        if not queries:
            print(f"FAIL {path}: no PromQL targets")
            failed += 1
        for title, ref, query, instant in queries:
            total += 1
            ok, msg = evaluate(a.prometheus, query, instant, window, a.timeout)
            if not ok and a.allow_empty and msg == "no data":
                ok = True
            failed += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {path} / {title} / {ref}: {msg}" + ("" if ok else f"\n     {query}"))
    print(f"{total - failed} of {total} targets returned data" if not a.allow_empty
          else f"{total - failed} of {total} targets accepted")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
