#!/usr/bin/python3
"""Tests of check_dashboards.py: parsing and substitution (pure), the shipped dashboards'
aggregation rules, and the checker against a real Prometheus (Debian's prometheus and
promtool, started here on a loopback port with a temporary data folder; missing: the
Prometheus tests skip, or fail when CI=true)."""

import contextlib
import glob
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import check_dashboards as cd  # noqa: E402
import remote_write as rw  # noqa: E402

REPO = os.path.dirname(os.path.dirname(HERE))
SHIPPED = sorted(glob.glob(os.path.join(REPO, "dashboards", "*.json")))
WINDOW = {"start": 1000.0, "end": 4600.0, "range": 3600, "step": 5, "rate_interval": 60}


def board(panels, variables=()):
    return {"panels": panels, "templating": {"list": list(variables)}}


def panel(title, *exprs, **extra):
    p = {"type": "timeseries", "title": title,
         "targets": [{"refId": chr(65 + i), "expr": e} for i, e in enumerate(exprs)]}
    p.update(extra)
    return p


class Substitution(unittest.TestCase):
    def test_every_syntax_and_builtin(self):
        d = board([], [{"name": "datasource", "type": "datasource"},
                       {"name": "testid", "type": "query"},
                       {"name": "scenario", "type": "query", "includeAll": True, "allValue": ".*"},
                       {"name": "group", "type": "query", "includeAll": True},
                       {"name": "env", "type": "constant", "query": "prod"}])
        v = cd.variable_values(d, "run-7", {}, WINDOW)
        got = cd.substitute('rate(x{testid="$testid",a="${testid}",b="[[testid]]",c=~"${scenario:regex}",'
                            'g=~"$group",e="$env"}[$__rate_interval]) + increase(y[$__range]) + z[$__interval]', v)
        self.assertEqual(got, 'rate(x{testid="run-7",a="run-7",b="run-7",c=~".*",g=~".*",e="prod"}[60s])'
                              ' + increase(y[3600s]) + z[5s]')

    def test_testid_like_variables_and_overrides(self):
        d = board([], [{"name": "testid_a", "type": "query"}, {"name": "testid_b", "type": "query"},
                       {"name": "name", "type": "query", "includeAll": True}])
        v = cd.variable_values(d, "t1", {"testid_b": "t2", "name": "/login"}, WINDOW)
        self.assertEqual(cd.substitute("$testid_a $testid_b $name", v), "t1 t2 /login")

    def test_longer_name_is_not_cut_at_a_shorter_one(self):
        v = {"testid": "A", "testid_b": "B"}
        self.assertEqual(cd.substitute("$testid_b/$testid", v), "B/A")

    def test_unknown_and_unset_variables_are_named(self):
        with self.assertRaisesRegex(cd.DashboardError, r"unknown variable \$nope"):
            cd.substitute("sum(x{a=\"$nope\"})", {"testid": "t"})
        d = board([], [{"name": "region", "type": "query"}])
        with self.assertRaisesRegex(cd.DashboardError, r"--var region=VALUE"):
            cd.variable_values(d, "t", {}, WINDOW)
        with self.assertRaisesRegex(cd.DashboardError, r"needs --testid"):
            cd.variable_values(board([], [{"name": "testid", "type": "query"}]), None, {}, WINDOW)

    def test_durations(self):
        self.assertEqual(cd.parse_duration("90s"), 90)
        self.assertEqual(cd.parse_duration("2m"), 120)
        self.assertEqual(cd.prom_duration(0.5), "500ms")
        with self.assertRaises(ValueError):
            cd.parse_duration("1 minute")


class Panels(unittest.TestCase):
    def test_rows_nested_and_hidden_targets(self):
        d = board([
            {"type": "row", "title": "open"},
            panel("a", "up"),
            {"type": "row", "title": "collapsed", "collapsed": True, "panels": [panel("b", "x", "y")]},
            panel("text only", targets=[]),
            {"type": "timeseries", "title": "c", "targets": [{"refId": "A", "expr": "z", "hide": True},
                                                            {"refId": "B", "expr": "w", "instant": True}]},
        ])
        self.assertEqual(cd.queries_of(d, {}), [("a", "A", "up", False), ("b", "A", "x", False),
                                                ("b", "B", "y", False), ("c", "B", "w", True)])

    def test_has_data(self):
        self.assertFalse(cd.has_data([]))
        self.assertFalse(cd.has_data([{"metric": {}, "values": [[1, "NaN"], [2, "NaN"]]}]))
        self.assertTrue(cd.has_data([{"metric": {}, "values": [[1, "NaN"], [2, "0"]]}]))
        self.assertTrue(cd.has_data([{"metric": {}, "value": [1, "3"]}]))
        self.assertTrue(cd.has_data([{"metric": {}, "histograms": [[1, {"count": "2"}]]}]))

    def test_bad_files_are_usage_errors(self):
        with tempfile.TemporaryDirectory() as tmp:
            bad = os.path.join(tmp, "bad.json")
            with open(bad, "w") as f:
                f.write("{not json")
            with contextlib.redirect_stderr(io.StringIO()) as err:
                self.assertEqual(cd.main(["--prometheus", "http://127.0.0.1:1", "--testid", "t", bad]), 2)
            self.assertIn("bad.json", err.getvalue())


class ShippedDashboards(unittest.TestCase):
    """The issue's rules on every query of every shipped dashboard."""

    def queries(self):
        self.assertEqual(len(SHIPPED), 3, SHIPPED)
        for path in SHIPPED:
            d = cd.load(path)
            for title, ref, q, _ in cd.queries_of(d, cd.variable_values(d, "T", {}, WINDOW)):
                yield path, title, ref, q

    def test_every_query_substitutes_fully_and_selects_a_testid(self):
        n = 0
        for path, title, ref, q in self.queries():
            n += 1
            self.assertNotIn("$", q, (path, title))
            self.assertRegex(q, r'testid(=|=~)"', (path, title))
        self.assertGreater(n, 30)

    def test_aggregation_is_correct(self):
        for path, title, ref, q in self.queries():
            where = f"{os.path.basename(path)} / {title} / {ref}: {q}"
            self.assertNotRegex(q, r"\bavg(_over_time)?\b", where)  # never an average of anything
            # Counters only through rate()/increase() or, for whole-run figures, their last
            # cumulative value (last_over_time: exact, where increase() extrapolates); summed.
            for m in re.finditer(r"(\w+_total)\{", q):
                before = q[:m.start()]
                self.assertRegex(before, r"(rate|increase|last_over_time)\($", where)
            # Percentiles: histogram_quantile over a sum of rate/increase of a native histogram.
            for m in re.finditer(r"histogram_quantile\(([0-9.]+), (.*)", q):
                self.assertRegex(m.group(2), r"^sum( by \([\w, ]+\))? \((rate|increase)\(k6_\w+_seconds\{", where)
            # Rates (ratios) are never summed on their own: weighted by requests, or shown per series.
            if "_rate{" in q and "k6_http_req_failed_rate" in q:
                self.assertRegex(q, r"(rate|last_over_time)\(k6_http_reqs_total", where)

    def test_overview_has_the_issues_panels(self):
        d = cd.load(os.path.join(REPO, "dashboards", "herd-test-overview.json"))
        text = json.dumps([p["targets"] for p in cd.panels_of(d)])
        for needle in ["k6_http_reqs_total", "k6_vus", "k6_http_req_failed_rate", "k6_checks_rate",
                       "histogram_quantile(0.5,", "histogram_quantile(0.9,", "histogram_quantile(0.95,",
                       "histogram_quantile(0.99,", "k6_data_sent_total", "k6_data_received_total",
                       "herd_threshold_passed"]:
            self.assertIn(needle, text)
        names = [v["name"] for v in d["templating"]["list"]]
        self.assertEqual(names, ["datasource", "testid"])
        cmp = cd.load(os.path.join(REPO, "dashboards", "herd-run-comparison.json"))
        self.assertEqual([v["name"] for v in cmp["templating"]["list"]], ["datasource", "testid_a", "testid_b"])
        for v in cmp["templating"]["list"][1:]:
            self.assertEqual(v["definition"], "label_values(k6_http_reqs_total, testid)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prometheus_binaries():
    prom, promtool = shutil.which("prometheus"), shutil.which("promtool")
    if not prom or not promtool:
        if os.environ.get("CI") == "true":
            raise RuntimeError("prometheus/promtool missing (Debian package prometheus)")
        raise unittest.SkipTest("prometheus/promtool missing")
    return prom, promtool


def start_prometheus(prom, tmp, data):
    """Debian's prometheus on a free loopback port, remote-write receiver and native
    histograms on, ready (bounded by 30 s): (process, base URL, log file)."""
    with open(os.path.join(tmp, "p.yml"), "w") as f:
        f.write("global: {scrape_interval: 1h}\n")
    url = f"http://127.0.0.1:{free_port()}"
    log = open(os.path.join(tmp, "log"), "w")
    proc = subprocess.Popen(
        [prom, f"--config.file={tmp}/p.yml", f"--storage.tsdb.path={data}", f"--web.listen-address={url[7:]}",
         "--enable-feature=native-histograms", "--web.enable-remote-write-receiver"],
        stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/-/ready", timeout=1).read()
            return proc, url, log
        except OSError:
            if time.time() > deadline or proc.poll() is not None:
                proc.kill()
                proc.wait(timeout=10)
                log.close()
                raise RuntimeError(f"prometheus did not become ready (log: {tmp}/log)")
            time.sleep(0.2)


class RealPrometheus(unittest.TestCase):
    """The checker against Debian's prometheus: counters backfilled with promtool."""

    @classmethod
    def setUpClass(cls):
        cls.prom, cls.promtool = prometheus_binaries()
        cls.tmp = tempfile.mkdtemp()
        cls.end = int(time.time()) - 60
        lines = ["# TYPE k6_http_reqs counter"]
        for i in range(121):  # 10 minutes, 5 s apart, 10 requests a second
            ts = cls.end - 600 + 5 * i
            lines.append(f'k6_http_reqs_total{{testid="t1",name="/a",status="200"}} {50 * i} {ts}')
        lines.append("# EOF")
        om = os.path.join(cls.tmp, "data.om")
        with open(om, "w") as f:
            f.write("\n".join(lines) + "\n")
        data = os.path.join(cls.tmp, "data")
        subprocess.run([cls.promtool, "tsdb", "create-blocks-from", "openmetrics", om, data],
                       check=True, capture_output=True, timeout=60)
        cls.proc, cls.url, cls.log = start_prometheus(cls.prom, cls.tmp, data)

    @classmethod
    def tearDownClass(cls):
        cls.proc.kill()
        cls.proc.wait(timeout=10)
        cls.log.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_checker(self, *args):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            rc = cd.main(["--prometheus", self.url, "--start", str(self.end - 600), "--end", str(self.end),
                          "--step", "15s"] + list(args))
        return rc, out.getvalue()

    def test_data_ok_and_empty_or_bad_queries_fail(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "d.json")
            with open(path, "w") as f:
                json.dump(board([panel("rate", 'sum(rate(k6_http_reqs_total{testid="$testid"}[$__rate_interval]))'),
                                 {"type": "bargauge", "title": "total", "targets": [
                                     {"refId": "A", "instant": True,
                                      "expr": 'sum(increase(k6_http_reqs_total{testid="$testid"}[$__range]))'}]}],
                                [{"name": "testid", "type": "query"}]), f)
            rc, out = self.run_checker("--testid", "t1", path)
            self.assertEqual(rc, 0, out)
            self.assertIn("2 of 2 targets returned data", out)
            rc, out = self.run_checker("--testid", "other-run", path)
            self.assertEqual(rc, 1, out)
            self.assertIn("no data", out)
            with open(path, "w") as f:
                json.dump(board([panel("broken", 'sum(rate(k6_http_reqs_total{testid="$testid"}[$__rate_interval])')],
                                [{"name": "testid", "type": "query"}]), f)
            rc, out = self.run_checker("--testid", "t1", path)
            self.assertEqual(rc, 1, out)
            self.assertIn("error: bad_data", out)

    def test_prometheus_accepts_every_shipped_query(self):
        rc, out = self.run_checker("--testid", "t1", "--allow-empty", *SHIPPED)
        self.assertEqual(rc, 0, out)
        self.assertNotIn("FAIL", out)

    def test_refused_connection_fails(self):
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            rc = cd.main(["--prometheus", f"http://127.0.0.1:{free_port()}", "--testid", "t", SHIPPED[0]])
        self.assertEqual(rc, 1)
        self.assertIn("no answer", out.getvalue())


def herd_like_series(testid, end_ms, points=60, step_ms=5000):
    """Series named and labelled as herd's experimental-prometheus-rw output with native
    histograms writes them (docs/observability.md): two request names (one failing),
    one check, VU gauges, counters and trend histograms, `points` samples `step_ms` apart."""
    times = [end_ms - (points - 1 - i) * step_ms for i in range(points)]
    out = []
    reqs = [({"scenario": "default", "name": "http://127.0.0.1/a", "method": "GET", "status": "200",
              "expected_response": "true"}, 8, 0.0),
            ({"scenario": "default", "name": "http://127.0.0.1/b", "method": "POST", "status": "500",
              "expected_response": "false", "group": "::checkout"}, 2, 1.0)]
    for tags, per_step, failed in reqs:
        labels = dict(tags, testid=testid)
        out.append(rw.timeseries(dict(labels, __name__="k6_http_reqs_total"),
                                 [(per_step * (i + 1), t) for i, t in enumerate(times)]))
        out.append(rw.timeseries(dict(labels, __name__="k6_http_req_failed_rate"), [(failed, t) for t in times]))
        for counter, size in [("data_sent", 120), ("data_received", 900)]:
            out.append(rw.timeseries(dict(labels, __name__=f"k6_{counter}_total"),
                                     [(size * per_step * (i + 1), t) for i, t in enumerate(times)]))
        for trend in ["duration", "blocked", "connecting", "tls_handshaking", "sending", "waiting", "receiving"]:
            hist = [(6 * per_step * (i + 1), 0.6 * per_step * (i + 1), 3, -30,
                     [per_step * (i + 1), 2 * per_step * (i + 1), 3 * per_step * (i + 1)], t)
                    for i, t in enumerate(times)]
            out.append(rw.timeseries(dict(labels, __name__=f"k6_http_req_{trend}_seconds"), histograms=hist))
    base = {"testid": testid, "scenario": "default"}
    out.append(rw.timeseries(dict(base, __name__="k6_iterations_total"), [(5 * (i + 1), t) for i, t in enumerate(times)]))
    out.append(rw.timeseries(dict(base, __name__="k6_iteration_duration_seconds"),
                             histograms=[(5 * (i + 1), 1.0 * (i + 1), 3, -10, [5 * (i + 1)], t)
                                         for i, t in enumerate(times)]))
    out.append(rw.timeseries(dict(base, __name__="k6_checks_rate", check="status is 200"), [(0.8, t) for t in times]))
    out.append(rw.timeseries({"__name__": "k6_vus", "testid": testid}, [(10, t) for t in times]))
    out.append(rw.timeseries({"__name__": "k6_vus_max", "testid": testid}, [(10, t) for t in times]))
    out.append(rw.timeseries({"__name__": "herd_threshold_passed", "testid": testid, "metric": "http_req_duration",
                              "threshold": "p(95)<500"}, [(1, t) for t in times]))
    return out


class FilledPrometheus(unittest.TestCase):
    """Every panel of every shipped dashboard returns data from a real Prometheus that
    received herd-shaped series by remote write (two runs, for the comparison)."""

    @classmethod
    def setUpClass(cls):
        prom, _ = prometheus_binaries()
        cls.tmp = tempfile.mkdtemp()
        cls.proc, cls.url, cls.log = start_prometheus(prom, cls.tmp, os.path.join(cls.tmp, "data"))
        cls.end = int(time.time())
        for testid in ["run-1", "run-2"]:
            rw.push(cls.url, herd_like_series(testid, cls.end * 1000))

    @classmethod
    def tearDownClass(cls):
        cls.proc.kill()
        cls.proc.wait(timeout=10)
        cls.log.close()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def run_checker(self, *args):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            rc = cd.main(["--prometheus", self.url, "--start", str(self.end - 300), "--end", str(self.end),
                          "--step", "5s", "--rate-interval", "30s"] + list(args))
        return rc, out.getvalue()

    def test_every_shipped_panel_returns_data(self):
        rc, out = self.run_checker("--testid", "run-1", "--var", "testid_b=run-2", *SHIPPED)
        self.assertEqual(rc, 0, out)
        self.assertNotIn("FAIL", out)

    def test_a_run_without_data_fails(self):
        rc, out = self.run_checker("--testid", "run-9", os.path.join(REPO, "dashboards", "herd-test-overview.json"))
        self.assertEqual(rc, 1, out)
        self.assertIn("no data", out)

    def test_failed_share_is_weighted_by_requests(self):
        # 2 of every 10 requests fail: 20 %, where an average of the two series' rates says 50 %.
        d = cd.load(os.path.join(REPO, "dashboards", "herd-test-overview.json"))
        window = {"start": self.end - 300, "end": self.end, "range": 300, "step": 5, "rate_interval": 30}
        values = cd.variable_values(d, "run-1", {}, window)
        (q,) = [q for title, ref, q, _ in cd.queries_of(d, values) if title == "Failed requests" and ref == "A"][:1]
        url = self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": q, "time": self.end})
        body = json.load(urllib.request.urlopen(url, timeout=10))
        self.assertAlmostEqual(float(body["data"]["result"][0]["value"][1]), 0.2, places=6)


if __name__ == "__main__":
    unittest.main()
