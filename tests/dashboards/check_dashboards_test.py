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
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import check_dashboards as cd  # noqa: E402

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
            # Counters only through rate()/increase(); summed.
            for m in re.finditer(r"(\w+_total)\{", q):
                before = q[:m.start()]
                self.assertRegex(before, r"(rate|increase)\($", where)
            # Percentiles: histogram_quantile over a sum of rate/increase of a native histogram.
            for m in re.finditer(r"histogram_quantile\(([0-9.]+), (.*)", q):
                self.assertRegex(m.group(2), r"^sum( by \([\w, ]+\))? \((rate|increase)\(k6_\w+_seconds\{", where)
            # Rates (ratios) are never summed on their own: weighted by requests, or shown per series.
            if "_rate{" in q and "k6_http_req_failed_rate" in q:
                self.assertIn("rate(k6_http_reqs_total", q, where)

    def test_overview_has_the_issues_panels(self):
        d = cd.load(os.path.join(REPO, "dashboards", "herd-test-overview.json"))
        text = json.dumps([p["targets"] for p in cd.panels_of(d)])
        for needle in ["k6_http_reqs_total", "k6_vus", "k6_http_req_failed_rate", "k6_checks_rate",
                       "histogram_quantile(0.5,", "histogram_quantile(0.9,", "histogram_quantile(0.95,",
                       "histogram_quantile(0.99,", "k6_data_sent_total", "k6_data_received_total"]:
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


class RealPrometheus(unittest.TestCase):
    """The checker against Debian's prometheus: counters backfilled with promtool."""

    @classmethod
    def setUpClass(cls):
        cls.prom, cls.promtool = shutil.which("prometheus"), shutil.which("promtool")
        if not cls.prom or not cls.promtool:
            if os.environ.get("CI") == "true":
                raise RuntimeError("prometheus/promtool missing (Debian package prometheus)")
            raise unittest.SkipTest("prometheus/promtool missing")
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
        with open(os.path.join(cls.tmp, "p.yml"), "w") as f:
            f.write("global: {scrape_interval: 1h}\n")
        cls.url = f"http://127.0.0.1:{free_port()}"
        cls.log = open(os.path.join(cls.tmp, "log"), "w")
        cls.proc = subprocess.Popen(
            [cls.prom, f"--config.file={cls.tmp}/p.yml", f"--storage.tsdb.path={data}",
             f"--web.listen-address={cls.url[7:]}", "--enable-feature=native-histograms",
             "--web.enable-remote-write-receiver"], stdout=cls.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while True:
            try:
                urllib.request.urlopen(cls.url + "/-/ready", timeout=1).read()
                break
            except OSError:
                if time.time() > deadline or cls.proc.poll() is not None:
                    cls.tearDownClass()
                    raise RuntimeError("prometheus did not become ready")
                time.sleep(0.2)

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


if __name__ == "__main__":
    unittest.main()
