#!/usr/bin/python3
"""The live web dashboard (issue #15) in a real headless Chromium.

`herd run` (and `herd run --parallelism 3`) of a ~10 s script against `herd target`, with
K6_WEB_DASHBOARD=true on a free loopback port and a 1 s period. Chromium (Debian's
`chromium`, driven over the DevTools protocol: cdp.py) keeps the page open and reads its
DOM twice: the values change between the reads, the thresholds show the right verdicts,
nothing is logged as an error, and every request goes to the dashboard itself (every
host but 127.0.0.1 resolves to nothing, and the page's own files name no other host).
Needs HERD_BIN (set by CTest); without chromium the test skips, or fails when CI=true.
HERD_DASHBOARD_SCREENSHOTS=dir also saves a screenshot of the dashboard there."""

import html
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp import Chromium  # noqa: E402

SCRIPT = r"""
import http from 'k6/http';
import { check, group, sleep } from 'k6';
export const options = {
  thresholds: {
    http_req_duration: ['p(95)<5000'],
    http_req_failed: ['rate<0.01'],
  },
  scenarios: {
    browse: { executor: 'constant-vus', vus: 3, duration: '10s' },
  },
};
export default function () {
  group('home', () => {
    const r = http.get(`${__ENV.BASE_URL}/`, { tags: { name: 'home' } });
    check(r, { 'status is 200': (x) => x.status === 200 });
  });
  http.get(`${__ENV.BASE_URL}/status/500`, { tags: { name: 'fails' } });
  sleep(0.05);
}
"""

CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync",
    "--disable-extensions", "--disable-default-apps", "--disable-background-networking",
    "--disable-component-update", "--disable-domain-reliability", "--metrics-recording-only",
    # Loopback only: any other host name resolves to nothing.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def need(path_or_name, what):
    found = shutil.which(path_or_name) if not os.path.isabs(path_or_name) else (
        path_or_name if os.access(path_or_name, os.X_OK) else None)
    if found:
        return found
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"{what} is missing ({path_or_name}); under CI=true this test must run")
    raise unittest.SkipTest(f"{what} is missing")


def wait_http(url, seconds=20):
    deadline = time.time() + seconds
    while True:
        try:
            return urllib.request.urlopen(url, timeout=1).read()
        except OSError:
            if time.time() > deadline:
                raise RuntimeError(f"{url} did not answer within {seconds} s")
            time.sleep(0.1)


class Dom:
    """What one --dump-dom read of the page shows."""

    def __init__(self, text):
        self.text = text

    def stat(self, name):
        m = re.search(r'id="stat-' + name + r'">([^<]*)<', self.text)
        return html.unescape(m.group(1)) if m else None

    def thresholds(self):
        """{(metric, threshold): verdict} from the thresholds table."""
        body = re.search(r'id="table-thresholds".*?<tbody>(.*?)</tbody>', self.text, re.S).group(1)
        out = {}
        for row in re.finditer(r'<tr data-verdict="(\w+)">(.*?)</tr>', body, re.S):
            cells = [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row.group(2), re.S)]
            out[(cells[0], cells[1])] = row.group(1)
        return out

    def meta(self, name):
        m = re.search(r'id="meta-' + name + r'"[^>]*>([^<]*)<', self.text)
        return html.unescape(m.group(1)) if m else None

    def table_cells(self, table):
        body = re.search(r'id="table-' + table + r'".*?<tbody>(.*?)</tbody>', self.text, re.S).group(1)
        return [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)]


class WebDashboard(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        herd = os.environ.get("HERD_BIN", "")
        cls.herd = need(herd or "herd-not-set", "HERD_BIN (the herd binary)")
        cls.chromium = need("/usr/bin/chromium", "Debian's chromium")
        cls.tmp = tempfile.mkdtemp()
        port = free_port()
        cls.target = subprocess.Popen([cls.herd, "target", "--listen", f"127.0.0.1:{port}"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        cls.base = f"http://127.0.0.1:{port}"
        wait_http(cls.base + "/")
        cls.script = os.path.join(cls.tmp, "script.js")
        with open(cls.script, "w") as f:
            f.write(SCRIPT)

    @classmethod
    def tearDownClass(cls):
        cls.target.kill()
        cls.target.wait(timeout=10)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def start_run(self, *extra):
        port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith("K6_")}
        env.update({"BASE_URL": self.base, "K6_WEB_DASHBOARD": "true", "K6_WEB_DASHBOARD_PORT": str(port),
                    "K6_WEB_DASHBOARD_PERIOD": "1s"})
        err = open(os.path.join(self.tmp, f"herd-{port}.err"), "w+")
        proc = subprocess.Popen([self.herd, "run", "--no-summary", *extra, self.script], env=env,
                                stdout=subprocess.DEVNULL, stderr=err)
        self.addCleanup(lambda: (proc.kill(), proc.wait(timeout=10), err.close()))
        url = f"http://127.0.0.1:{port}/"
        wait_http(url)
        return proc, url, err

    def browse(self, url):
        """Chromium with `url` open; returns (browser, session)."""
        browser = Chromium(self.chromium, CHROMIUM_FLAGS, tempfile.mkdtemp(dir=self.tmp))
        self.addCleanup(browser.close)
        return browser, browser.open(url)

    def read_dom(self, browser, session):
        return Dom(browser.evaluate(session, "document.documentElement ? document.documentElement.outerHTML : ''"))

    def wait_for(self, browser, session, pred, seconds=20):
        deadline = time.time() + seconds
        while True:
            dom = self.read_dom(browser, session)
            if pred(dom):
                return dom
            if time.time() > deadline:
                self.fail(f"the page never showed what was expected:\n{dom.text[:3000]}")
            browser.pump(0.3)

    def screenshot(self, browser, session, name, height=1900):
        out = os.environ.get("HERD_DASHBOARD_SCREENSHOTS")
        if out:
            os.makedirs(out, exist_ok=True)
            browser.call("Emulation.setDeviceMetricsOverride",
                         {"width": 1400, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=session)
            browser.pump(1.0)
            browser.screenshot(session, os.path.join(out, name))

    def test_single_run_live_values_and_verdicts(self):
        proc, url, err = self.start_run()
        browser, session = self.browse(url)
        first = self.wait_for(browser, session, lambda d: d.stat("requests") not in (None, "–"))
        browser.pump(2.5)
        second = self.read_dom(browser, session)
        self.assertGreater(float(second.stat("requests")), float(first.stat("requests")))
        self.assertNotEqual(second.stat("t"), first.stat("t"))
        self.assertEqual(second.stat("vus"), "3")
        self.assertEqual(second.thresholds(), {("http_req_duration", "p(95)<5000"): "pass",
                                               ("http_req_failed", "rate<0.01"): "fail"})
        checks = second.table_cells("checks")
        self.assertEqual(checks[:2], ["::home", "status is 200"])
        self.assertGreater(int(checks[2]), 0)
        names = second.table_cells("name")
        self.assertIn("home", names)
        self.assertIn("fails", names)
        self.assertIn('class="dygraph', second.text, "dygraphs drew no chart")
        self.assertEqual(browser.errors(), [])
        base = url.rstrip("/")
        self.assertEqual(sorted({u for u in browser.requested_urls() if not u.startswith(base + "/")}), [])
        self.assertIn(base + "/events", browser.requested_urls())
        self.screenshot(browser, session, "dashboard.png")
        self.assertEqual(proc.wait(timeout=60), 99)
        final = self.wait_for(browser, session, lambda d: 'data-state="ended"' in d.text)
        self.assertGreaterEqual(float(final.stat("requests")), float(second.stat("requests")))  # http_req_failed's threshold fails
        err.seek(0)
        self.assertIn(f"web dashboard: {url.rstrip('/')}", err.read())

    def runner_rates(self, dom):
        """{runner: req/s} from the Runners view (None where it shows no number)."""
        cells = dom.table_cells("runners")
        out = {}
        for i in range(0, len(cells), 4):
            try:
                out[cells[i]] = float(cells[i + 1])
            except ValueError:
                out[cells[i]] = None
        return out

    def test_parallelism_serves_one_dashboard_of_the_merged_data(self):
        report = os.path.join(self.tmp, "report-p3.html")
        proc, url, err = self.start_run("--parallelism", "3", "--report", report)
        browser, session = self.browse(url)
        dom = self.wait_for(browser, session, lambda d: d.stat("vus") == "3")  # one VU per runner, summed
        self.assertEqual(dom.thresholds()[("http_req_failed", "rate<0.01")], "fail")
        # The Runners view: every runner with its own request rate, a number.
        dom = self.wait_for(browser, session, lambda d: len(self.runner_rates(d)) == 3 and all(
            r is not None and r > 0 for r in self.runner_rates(d).values()))
        rates = self.runner_rates(dom)
        self.assertEqual(sorted(rates), ["runner 1 (segment 0:1/3)", "runner 2 (segment 1/3:2/3)",
                                         "runner 3 (segment 2/3:1)"])
        total = float(dom.stat("rate"))
        self.assertLess(abs(sum(rates.values()) - total), 0.5 * total + 5, (rates, total))
        self.screenshot(browser, session, "runners.png")
        self.assertEqual(proc.wait(timeout=90), 99)
        err.seek(0)
        self.assertEqual(err.read().count("web dashboard: "), 1)
        # --report under the coordinator: written with the exit code herd ended with.
        browser, session = self.browse("file://" + report)
        dom = self.wait_for(browser, session, lambda d: 'data-state="report"' in d.text)
        self.assertEqual(dom.meta("parallelism"), "3")
        self.assertEqual(dom.meta("exit-code"), "99")
        self.assertEqual(browser.errors(), [])

    def test_report_flag_single_run_has_summary_thresholds_checks_and_metadata(self):
        report = os.path.join(self.tmp, "report-single.html")
        env = {k: v for k, v in os.environ.items() if not k.startswith("K6_")}
        env["BASE_URL"] = self.base
        # --report alone: no K6_WEB_DASHBOARD, so no server; the text summary is on stdout.
        r = subprocess.run([self.herd, "run", "-q", "--report", report, self.script], env=env,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 99, r.stderr[-2000:])
        self.assertNotIn("web dashboard: http", r.stderr)
        browser, session = self.browse("file://" + report)
        dom = self.wait_for(browser, session, lambda d: 'data-state="report"' in d.text)
        browser.pump(0.5)
        self.assertEqual(dom.meta("script"), self.script)
        self.assertEqual(dom.meta("parallelism"), "1")
        self.assertEqual(dom.meta("exit-code"), "99")
        self.assertRegex(dom.meta("start"), r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertGreater(dom.meta("end"), dom.meta("start"))
        self.assertIn('"scenarios"', dom.text)  # the options
        self.assertEqual(dom.thresholds(), {("http_req_duration", "p(95)<5000"): "pass",
                                            ("http_req_failed", "rate<0.01"): "fail"})
        checks = dom.table_cells("checks")
        self.assertEqual(checks[:2], ["::home", "status is 200"])
        self.assertGreater(int(checks[2]), 0)
        self.assertEqual(checks[3], "0")
        # The summary table: every metric, with the text summary's own figures.
        rows = dom.table_cells("summary")
        table = {rows[i + 1]: rows[i + 3] for i in range(0, len(rows), 4)}
        for metric in ("http_reqs", "http_req_duration", "http_req_failed", "http_req_waiting", "iterations",
                       "vus", "data_received", "checks"):
            self.assertIn(metric, table)
        text = {}
        for line in r.stdout.splitlines():
            m = re.match(r"\s+(\w+)\.*:\s+(.*)$", line)
            if m:
                text[m.group(1)] = m.group(2).split()
        for metric in ("http_reqs", "http_req_duration", "iterations", "http_req_failed"):
            self.assertEqual(table[metric].split(), text[metric], metric)
        self.assertIn("avg=", table["http_req_duration"])
        # Generator health: this process, with its verdict; a saturated one is named in a warning
        # (a loaded machine can make the run's own event loop late: it is measured, not assumed).
        health = dom.table_cells("health")
        self.assertEqual(health[0], "this process")
        warnings = re.findall(r'<li>([^<]*)</li>', re.search(r'id="health-warnings">(.*?)</ul>', dom.text, re.S).group(1))
        if health[-1] == "saturated":
            self.assertEqual(len(warnings), 1)
            self.assertTrue(html.unescape(warnings[0]).startswith("this process: saturated for"), warnings)
        else:
            self.assertEqual(health[-1], "healthy")
            self.assertEqual(warnings, [])
            self.assertIn('id="health-ok">', dom.text)  # shown: no warning
        self.assertEqual(browser.errors(), [])

    def test_the_report_opens_offline_with_every_chart(self):
        report = os.path.join(self.tmp, "report.html")
        env = {k: v for k, v in os.environ.items() if not k.startswith("K6_")}
        env.update({"BASE_URL": self.base, "K6_WEB_DASHBOARD": "true", "K6_WEB_DASHBOARD_PORT": "-1",
                    "K6_WEB_DASHBOARD_PERIOD": "1s", "K6_WEB_DASHBOARD_EXPORT": report})
        # The coordinator writes it (--parallelism 2); no server runs (port -1).
        r = subprocess.run([self.herd, "run", "-q", "--no-summary", "--parallelism", "2", self.script], env=env,
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(r.returncode, 99, r.stderr[-2000:])
        self.assertNotIn("web dashboard: http", r.stderr)
        browser, session = self.browse("file://" + report)
        dom = self.wait_for(browser, session, lambda d: 'data-state="report"' in d.text)
        browser.pump(0.5)
        drawn = browser.evaluate(session, "Array.from(document.querySelectorAll('.chart'))"
                                          ".map((c) => c.querySelectorAll('canvas').length > 0)")
        self.assertEqual(drawn, [True] * 5)
        self.assertGreaterEqual(float(dom.stat("t").split()[0]), 8)  # the whole run
        self.assertEqual(dom.thresholds()[("http_req_failed", "rate<0.01")], "fail")
        self.assertEqual(dom.meta("parallelism"), "2")  # the env var's report has the run's data too
        self.assertEqual(dom.meta("exit-code"), "99")
        self.assertEqual(len(dom.table_cells("health")), 2 * 11)  # one row per runner
        self.assertIn("http_reqs", dom.table_cells("summary"))
        self.assertEqual(browser.errors(), [])
        self.assertEqual([u for u in browser.requested_urls() if not u.startswith(("file://", "data:"))], [])
        self.screenshot(browser, session, "report.png", height=3400)

    def test_what_herd_cannot_honour_is_refused(self):
        env = {k: v for k, v in os.environ.items() if not k.startswith("K6_")}
        for extra in ([], ["--parallelism", "2"]):
            for var, value in (("K6_WEB_DASHBOARD_OPEN", "true"), ("K6_WEB_DASHBOARD_EXPORT", "/nonexistent-dir/report.html"),
                               ("K6_WEB_DASHBOARD_PERIOD", "often")):
                r = subprocess.run([self.herd, "run", "-q", *extra, self.script],
                                   env={**env, "K6_WEB_DASHBOARD": "true", var: value, "BASE_URL": self.base},
                                   capture_output=True, text=True, timeout=60)
                self.assertEqual(r.returncode, 104, (extra, var, r.stderr[-1000:]))
                self.assertIn(f"error: {var}", r.stderr, (extra, var))

    def test_the_page_names_no_other_host(self):
        proc, url, _ = self.start_run()
        page = urllib.request.urlopen(url, timeout=5).read().decode()
        refs = [r for r in re.findall(r'(?:src|href)="([^"]+)"', page) if r != "data:,"]  # the empty favicon
        self.assertEqual(sorted(refs), ["dashboard.css", "dashboard.js", "dygraph.css", "dygraph.min.js"])
        for ref in refs:
            body = urllib.request.urlopen(url + ref, timeout=5).read().decode()
            self.assertNotIn("sourceMappingURL", body, ref)
            if not ref.startswith("dygraph"):
                self.assertIsNone(re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", body), ref)
        proc.kill()


if __name__ == "__main__":
    unittest.main(verbosity=2)
