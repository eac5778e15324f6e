"""index.html in a real headless Chromium: no console errors, headers sort, plots load, the
compact view fits a desktop (1400 × 900) and a phone (390 × 844) without sideways scrolling,
column groups toggle, tabs switch, the search box filters; screenshots saved as page.png.

Chromium comes from Debian (`apt-get install -y chromium`, done once per session under a file
lock when it is missing); the page is driven over the DevTools protocol with
`websocket-client`, since playwright cannot download its browsers here.
"""

import base64
import fcntl
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from report_fixtures import make_frames

from regbench.report import build_leaderboard

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def _find_browser():
    return next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)


@pytest.fixture(scope="session")
def chromium_path():
    with open(Path(tempfile.gettempdir()) / "regbench-chromium-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel workers install once
        path = _find_browser()
        if path is None and shutil.which("apt-get"):
            for cmd in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", "chromium"]):
                proc = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=900)
                if proc.returncode:
                    pytest.skip(
                        f"cannot install Debian's chromium ({' '.join(cmd)} failed): {proc.stderr.strip()[-300:]}"
                    )
            path = _find_browser()
    if path is None:
        pytest.skip("no chromium and no apt-get to install it (needs Debian's `chromium` package)")
    return path


class Page:
    """A minimal DevTools-protocol client for one tab."""

    def __init__(self, ws_url):
        import websocket

        self.ws = websocket.create_connection(ws_url, timeout=20, suppress_origin=True)
        self.next_id, self.events = 0, []

    def call(self, method, **params):
        self.next_id += 1
        self.ws.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self.next_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            self.events.append(msg)

    def wait_for(self, method, timeout=20):
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if any(e.get("method") == method for e in self.events):
                return
            self.events.append(json.loads(self.ws.recv()))
        raise TimeoutError(method)

    def js(self, expr):
        res = self.call("Runtime.evaluate", expression=expr, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in res:
            raise RuntimeError(res["exceptionDetails"])
        return res["result"].get("value")

    def click(self, selector):
        """A real mouse click at the element's centre."""
        r = self.js(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView();"
            " const b = e.getBoundingClientRect(); return [b.x + b.width / 2, b.y + b.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=kind, x=r[0], y=r[1], button="left", clickCount=1)


@pytest.fixture(scope="module")
def page(chromium_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("site")
    runs, metrics, rel, suite = make_frames(statuses={("bench00-covariate", "mixup", 0): "failed"})
    build_leaderboard(runs, metrics, rel, suite, out, reps=200)
    profile = tmp_path_factory.mktemp("profile")
    proc = subprocess.Popen(
        [
            chromium_path,
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            "about:blank",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        port_file = profile / "DevToolsActivePort"
        end = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()) and time.monotonic() < end:
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        tabs = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10).read())
        p = Page(next(t["webSocketDebuggerUrl"] for t in tabs if t["type"] == "page"))
        for domain in ("Page", "Runtime", "Log"):
            p.call(f"{domain}.enable")
        p.call("Page.navigate", url=(out / "index.html").as_uri())
        p.wait_for("Page.loadEventFired")
        yield p
        p.ws.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_no_console_errors(page):
    errors = [
        e
        for e in page.events
        if e.get("method") == "Runtime.exceptionThrown"
        or (e.get("method") == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert"))
        or (e.get("method") == "Log.entryAdded" and e["params"]["entry"]["level"] == "error")
    ]
    assert errors == []
    assert page.js("document.title").startswith("regbench leaderboard")


def test_every_plot_image_loads(page):
    sizes = page.js("Array.from(document.images).map(i => i.complete ? i.naturalWidth : 0)")
    assert len(sizes) == 6 and all(w > 0 for w in sizes)


SIZES = {"desktop": (1400, 900, False), "phone": (390, 844, True)}


def _viewport(page, size):
    width, height, mobile = SIZES[size]
    page.call("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)
    page.js("window.scrollTo(0, 0)")


def _scrolls_sideways(page):
    """Page or any visible table box wider than what it shows (1 px rounding allowed)."""
    return page.js(
        "(() => { const d = document.documentElement; if (d.scrollWidth > d.clientWidth + 1) return 'page';"
        " for (const w of document.querySelectorAll('.wrap')) {"
        "   if (w.offsetParent !== null && w.scrollWidth > w.clientWidth + 1) return w.querySelector('table').id; }"
        " return null; })()"
    )


def _visible_headers(page, table="main"):
    return page.js(
        f"Array.from(document.querySelectorAll('#{table} th')).filter(h => h.offsetParent !== null)"
        ".map(h => h.textContent)"
    )


@pytest.mark.parametrize("size", list(SIZES))
def test_compact_view_fits_without_sideways_scroll(page, size, tmp_path_factory):
    _viewport(page, size)
    assert _visible_headers(page) == ["#", "Regularizer", "Tier", "ID acc", "OOD acc", "ECE OOD", "Cost vs erm"]
    assert _scrolls_sideways(page) is None
    shot = page.call("Page.captureScreenshot", format="png")["data"]
    out = tmp_path_factory.getbasetemp() / f"page-{size}.png"
    out.write_bytes(base64.b64decode(shot))
    assert out.stat().st_size > 10_000 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_column_groups_toggle_and_headers_explain_themselves(page):
    _viewport(page, "desktop")
    titles = page.js("Array.from(document.querySelectorAll('#main th')).map(h => h.title)")
    assert all(titles) and any("calibration error" in t for t in titles)
    compact = _visible_headers(page)
    page.click("input.group[value=statistics]")
    shown = _visible_headers(page)
    assert {"Mean rank", "IQM", "P(>erm)", "Seeds", "Failed", "Diverged"} <= set(shown) - set(compact)
    assert "ECE ID" not in shown  # other groups stay hidden
    page.click("input.group[value=calibration]")
    assert "ECE ID" in _visible_headers(page)
    for group in ("statistics", "calibration"):
        page.click(f"input.group[value={group}]")
    assert _visible_headers(page) == compact


def test_benchmark_tabs_and_search(page):
    _viewport(page, "desktop")
    page.click("button.tab[data-tab=bench-1]")
    assert page.js("document.getElementById('panel-main').hidden") is True
    assert page.js("document.getElementById('panel-bench-1').hidden") is False
    assert _visible_headers(page, "bench-1")[:4] == ["#", "Regularizer", "Tier", "ID acc"]
    page.click("button.tab[data-tab=main]")
    assert page.js("document.getElementById('panel-main').hidden") is False
    page.click("#search")
    page.call("Input.insertText", text="mix")
    names = page.js(
        "Array.from(document.querySelectorAll('#main tbody tr')).filter(r => !r.hidden)"
        ".map(r => r.cells[1].textContent)"
    )
    assert names and all("mix" in n for n in names)
    page.js("(() => { const s = document.getElementById('search'); s.value = '';"
            " s.dispatchEvent(new Event('input')); })()")  # fmt: skip
    assert page.js("document.querySelectorAll('#main tbody tr:not([hidden])').length") == 5


def _column(page, index):
    return page.js(f"Array.from(document.querySelectorAll('#main tbody tr')).map(r => r.cells[{index}].textContent)")


def test_clicking_a_header_resorts_rows(page):
    headers = page.js("Array.from(document.querySelectorAll('#main th')).map(h => h.textContent)")
    reg, ood = headers.index("Regularizer"), headers.index("OOD acc")
    before = _column(page, reg)
    page.click(f"#main th:nth-child({reg + 1})")
    names = _column(page, reg)
    assert names == sorted(before) and names != before
    page.click(f"#main th:nth-child({ood + 1})")
    asc = [float(v.split()[0]) for v in _column(page, ood)]
    assert asc == sorted(asc)
    page.click(f"#main th:nth-child({ood + 1})")  # second click: descending, numeric on the mean
    desc = [float(v.split()[0]) for v in _column(page, ood)]
    assert desc == sorted(asc, reverse=True)
    failed = headers.index("Failed")
    page.click("input.group[value=statistics]")  # Failed is in the statistics group
    page.click(f"#main th:nth-child({failed + 1})")
    assert _column(page, failed)[-1] == "1"
    page.click("input.group[value=statistics]")
