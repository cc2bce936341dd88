"""The report in a real browser: headless Chromium opens the generated page from a file URL;
every image and figure renders, no console error, no network request; the w/b explorer computes
the MSE; a screenshot of the page, and one of every section (over the DevTools protocol), are
saved under the module's temporary directory, and an empty section fails the test.

One Chromium, driven over the DevTools protocol, loads the page once for the whole module (the
page is large: loading it and drawing its figures is most of the time); the three tests read
what that one visit recorded.

Needs Debian's ``chromium`` (``.ci/install-browser.sh``). Without it the tests are skipped, unless
``DESCENT_REQUIRE_BROWSER=1`` (set by ``.ci/run``), which turns the skip into a failure.
"""

from __future__ import annotations

import base64
import collections
import json
import os
import re
import shutil
import socket
import struct
import subprocess
import threading
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.workflow

BROWSER_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-extensions",
    "--hide-scrollbars",
    "--mute-audio",
]

#: The viewport: the page screenshot's size.
WIDTH, HEIGHT = 1366, 900

#: Injected at the very start of <head> of a copy of the page: records errors (script errors,
#: failed resource loads, console.error; kept in ``window.descentProbeErrors``), then after load,
#: once every Plotly figure is drawn (polled; at most 60 s), checks every image and Plotly figure,
#: drives the explorer to the least-squares point, and writes a JSON verdict into the DOM.
PROBE = r"""<script>
(function () {
  var errors = window.descentProbeErrors = [];
  window.addEventListener('error', function (e) {
    var t = e.target;
    errors.push(t && t !== window && (t.src || t.href) ? 'failed to load ' + String(t.src || t.href).slice(0, 80)
                                                       : String(e.message));
  }, true);
  window.addEventListener('unhandledrejection', function (e) { errors.push('unhandled rejection: ' + e.reason); });
  var origError = console.error;
  console.error = function () { errors.push('console.error: ' + Array.prototype.join.call(arguments, ' ')); origError.apply(console, arguments); };
  window.addEventListener('load', function () {
    var deadline = Date.now() + 60000;
    (function verdictOnceDrawn() {
      var plots = Array.prototype.slice.call(document.querySelectorAll('.js-plotly-plot'));
      var drawn = plots.every(function (p) { return p.querySelector('.main-svg'); });
      if (!drawn && Date.now() < deadline) { setTimeout(verdictOnceDrawn, 50); return; }
      var imgs = Array.prototype.slice.call(document.images);
      var explorers = Array.prototype.slice.call(document.querySelectorAll('.explorer')).map(function (root) {
        var start = Number(root.getAttribute('data-mse'));
        root.querySelector('.explorer-best').click();
        var best = Number(root.getAttribute('data-mse'));
        var w = root.querySelector('.explorer-w'), b = root.querySelector('.explorer-b');
        return {dataset: root.getAttribute('data-dataset'), start_mse: start, best_mse: best,
                w_index: Number(w.value), b_index: Number(b.value),
                w: Number(root.getAttribute('data-w')), b: Number(root.getAttribute('data-b')),
                y_range: document.getElementById('explorer-line-' + root.getAttribute('data-dataset')).layout.yaxis.range,
                line_y: document.getElementById('explorer-line-' + root.getAttribute('data-dataset')).data[1].y};
      });
      var resources = performance.getEntriesByType('resource').map(function (r) { return r.name; })
        .filter(function (n) { return !/^(data:|file:|blob:)/.test(n); });
      var verdict = {
        images: imgs.length,
        broken_images: imgs.filter(function (i) { return !(i.complete && i.naturalWidth > 0); }).map(function (i) { return i.alt; }),
        plots: plots.length,
        unrendered_plots: plots.filter(function (p) { return !p.querySelector('.main-svg'); }).map(function (p) { return p.id; }),
        gl_plots: plots.filter(function (p) { return p.querySelector('canvas'); }).length,
        explorers: explorers, network: resources, errors: errors.slice(),
        webgl_message: document.body.innerText.indexOf('WebGL is not supported') >= 0
      };
      var pre = document.createElement('pre');
      pre.id = 'descent-probe';
      pre.textContent = JSON.stringify(verdict);
      document.body.appendChild(pre);
    })();
  });
})();
</script>"""

#: True once the page has loaded, every Plotly figure is drawn and the probe has written its verdict.
READY_JS = (
    "document.readyState === 'complete' && document.getElementById('descent-probe') !== null"
    " && Array.from(document.querySelectorAll('.js-plotly-plot')).every(p => p.querySelector('.main-svg'))"
)

#: Requests for anything but the page itself (data:, file: and blob: URLs).
NETWORK_JS = "performance.getEntriesByType('resource').map(r => r.name).filter(n => !/^(data:|file:|blob:)/.test(n))"

#: What the page reports about each section (section.step): its box in the document, how much it
#: shows, and its broken images and unrendered Plotly figures.
SECTIONS_JS = r"""(() => Array.from(document.querySelectorAll('section.step')).map(s => {
  const box = s.getBoundingClientRect();
  const body = Array.from(s.children).filter(c => c.tagName !== 'H3');
  return {id: s.id, x: box.left + window.scrollX, y: box.top + window.scrollY, width: box.width, height: box.height,
          text: body.map(c => c.innerText || '').join(' ').trim().length,
          figures: s.querySelectorAll('img').length, tables: s.querySelectorAll('table').length,
          plots: s.querySelectorAll('.js-plotly-plot').length,
          broken: Array.from(s.querySelectorAll('img')).filter(i => !(i.complete && i.naturalWidth > 0)).map(i => i.alt),
          unrendered: Array.from(s.querySelectorAll('.js-plotly-plot')).filter(p => !p.querySelector('.main-svg')).map(p => p.id)};
}))()"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    message = "headless Chromium not installed (run .ci/install-browser.sh)"
    if os.environ.get("DESCENT_REQUIRE_BROWSER") == "1":
        pytest.fail(message + " but DESCENT_REQUIRE_BROWSER=1")
    pytest.skip(message)


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", header[16:24])


def distinct_colours(rows: np.ndarray) -> int:
    """``len(np.unique(rows, axis=0))`` for an (n, channels) array of pixels, without that row
    sort's cost (seconds per screenshot): each channel's values are ranked, and a row's ranks
    combined into one integer (mixed radix, exact while the radices' product fits 64 bits)."""
    key = np.zeros(len(rows), dtype=np.uint64)
    radix = 1
    for column in rows.T:
        values, ranks = np.unique(column, return_inverse=True)
        radix *= len(values)
        assert radix < 1 << 64, "too many distinct channel values to combine"
        key = key * np.uint64(len(values)) + ranks.reshape(-1).astype(np.uint64)
    return len(np.unique(key))


def test_distinct_colours_counts_distinct_rows():
    rng = np.random.default_rng(0)
    for channels in (3, 4):
        rows = rng.integers(0, 4, size=(5000, channels)).astype(np.float32) / 255
        assert distinct_colours(rows) == len(np.unique(rows, axis=0))
        rows = rng.integers(0, 256, size=(20000, channels)).astype(np.float32) / 255
        assert distinct_colours(rows) == len(np.unique(rows, axis=0))
    assert distinct_colours(np.zeros((10, 4), np.float32)) == 1


class DevTools:
    """A minimal Chrome DevTools Protocol client over a WebSocket (standard library only): starts
    headless Chromium with ``--remote-debugging-port=0``, opens one page, sends commands and
    collects events (console errors, exceptions, failed loads)."""

    def __init__(self, profile: Path, width: int = WIDTH, height: int = HEIGHT):
        self.proc = subprocess.Popen(
            [chromium(), *BROWSER_FLAGS, f"--user-data-dir={profile}", "--remote-debugging-port=0", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        url = None
        for _ in range(200):
            line = self.proc.stderr.readline()
            match = re.search(r"DevTools listening on (ws://\S+)", line)
            if match:
                url = match.group(1)
                break
        assert url, "Chromium did not report its DevTools endpoint"
        # Keep reading Chromium's stderr (its last lines, for failure messages), so that a chatty
        # browser never blocks on a full pipe.
        self.stderr: collections.deque[str] = collections.deque(maxlen=200)
        threading.Thread(target=self.stderr.extend, args=(self.proc.stderr,), daemon=True).start()
        parsed = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((parsed.hostname, parsed.port), timeout=120)
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            (
                f"GET {parsed.path} HTTP/1.1\r\nHost: {parsed.netloc}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode()
        )
        response = b""
        while b"\r\n\r\n" not in response:
            response += self.sock.recv(1)
        assert b" 101 " in response.split(b"\r\n", 1)[0], response
        self.next_id, self.events, self.session = 0, [], None
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        self.resize(width, height)

    def resize(self, width: int, height: int) -> None:
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def _recv_exact(self, n: int) -> bytes:
        data = bytearray()
        while len(data) < n:
            chunk = self.sock.recv(min(n - len(data), 1 << 20))
            assert chunk, "DevTools connection closed"
            data += chunk
        return bytes(data)

    def _send(self, message: dict) -> None:
        payload = json.dumps(message).encode()
        header = bytearray([0x81])
        if len(payload) < 126:
            header.append(0x80 | len(payload))
        elif len(payload) < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", len(payload))
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", len(payload))
        mask = os.urandom(4)
        self.sock.sendall(bytes(header) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _receive(self) -> dict:
        message = b""
        while True:
            first, second = self._recv_exact(2)
            length = second & 0x7F
            if length == 126:
                length = struct.unpack(">H", self._recv_exact(2))[0]
            elif length == 127:
                length = struct.unpack(">Q", self._recv_exact(8))[0]
            message += self._recv_exact(length)
            if first & 0x80:
                return json.loads(message)

    def call(self, method: str, params: dict | None = None) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if self.session:
            message["sessionId"] = self.session
        self._send(message)
        while True:
            reply = self._receive()
            if reply.get("id") == self.next_id:
                assert "error" not in reply, (method, reply["error"])
                return reply.get("result", {})
            self.events.append(reply)

    def evaluate(self, expression: str):
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True, "awaitPromise": True})
        assert "exceptionDetails" not in result, result
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 120, interval: float = 0.1) -> bool:
        """Poll ``expression`` until it is true (True) or ``timeout`` seconds pass (False)."""
        deadline = time.monotonic() + timeout
        while not self.evaluate(expression):
            if time.monotonic() > deadline:
                return False
            time.sleep(interval)
        return True

    def screenshot(self, clip: dict | None = None) -> bytes:
        """A PNG of the viewport, or of ``clip`` (a box in the document, inside the viewport)."""
        params: dict = {"format": "png"}
        if clip is not None:
            params["clip"] = clip
        return base64.b64decode(self.call("Page.captureScreenshot", params)["data"])

    def errors(self) -> list[str]:
        out = []
        for event in self.events:
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.exceptionThrown":
                out.append("exception: " + json.dumps(params.get("exceptionDetails", {}))[:300])
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                out.append("console.error: " + json.dumps(params.get("args", []))[:300])
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                out.append("log: " + params["entry"].get("text", "")[:300])
        return out

    def close(self) -> None:
        try:
            self.sock.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()


@dataclass
class Visit:
    """What one visit of the (probed) page recorded."""

    ready: bool  # loaded, every Plotly figure drawn, the probe's verdict written (before the time-out)
    crashed: bool  # Chromium had exited before it was closed
    verdict: dict | None  # the probe's verdict (None: it did not report)
    screenshot: Path  # the viewport (WIDTH x HEIGHT) at the top of the page
    sections: list[dict]  # SECTIONS_JS
    shots: Path  # one screenshot per section: <id>.png
    network: list[str]  # NETWORK_JS
    probe_errors: list[str] | None  # everything the probe recorded, after the screenshots
    errors: list[str]  # DevTools' errors (exceptions, console errors, error log entries), at the end
    stderr: str  # Chromium's last lines on stderr
    narrow: dict | None = None  # LAYOUT_JS at a phone's width (NARROW px)
    printed: dict | None = None  # LAYOUT_JS in print media at a printed page's width (PRINT_WIDTH px)
    pdf: Path | None = None  # the page printed to PDF (A4)
    questions: dict | None = None  # QUESTION_JS


#: A phone's viewport width, and an A4 page's printable width (210 mm less 2 × 12 mm margins) in
#: CSS pixels (96 per inch).
NARROW, PRINT_WIDTH = 390, 703

#: What must fit the width: the page's own scrolling width, each element's right edge against the
#: viewport's — every element but the tables' (whose wrapper scrolls on screen), the wrappers
#: themselves and how many scroll (wider tables than the screen) and can, then the facts lists'
#: values, the explorers, every table (in print nothing scrolls) and every figure; and whether the
#: colours that carry meaning print.
LAYOUT_JS = r"""(function () {
  var width = document.documentElement.clientWidth;
  function over(selector) {
    return Array.prototype.slice.call(document.querySelectorAll(selector)).filter(function (e) {
      var r = e.getBoundingClientRect(); return r.width > 0 && r.right > width + 1;
    }).length;
  }
  var values = Array.prototype.slice.call(document.querySelectorAll('dl.facts dd'));
  var swatch = document.querySelector('.legend .sw') || document.querySelector('ul.claim-badges li');
  var outside = Array.prototype.slice.call(document.querySelectorAll('body *')).filter(function (e) {
    var r = e.getBoundingClientRect(); return r.width > 0 && r.right > width + 1 && !e.closest('.table-wrap');
  }).length;
  var wraps = Array.prototype.slice.call(document.querySelectorAll('.table-wrap'));
  var scrolling = wraps.filter(function (w) { return w.scrollWidth > w.clientWidth + 1; });
  return {width: width, scroll_width: document.documentElement.scrollWidth, outside: outside,
          wraps_outside: wraps.filter(function (w) { var r = w.getBoundingClientRect(); return r.right > width + 1; }).length,
          scrolling_tables: scrolling.length,
          unscrollable_tables: scrolling.filter(function (w) { return ['auto', 'scroll'].indexOf(getComputedStyle(w).overflowX) < 0; }).length,
          facts: values.length,
          hidden_values: values.filter(function (d) { var r = d.getBoundingClientRect(); return r.width < 1 || r.right > width + 1; }).length,
          explorers: over('.explorer'), tables: over('table'), figures: over('figure img'),
          colours_print: swatch ? getComputedStyle(swatch).printColorAdjust || getComputedStyle(swatch).webkitPrintColorAdjust : null};
})()"""


#: On the class page, before the screenshots: whether the first question's answer is shown (laid
#: out and visible) before a click on its summary, after it (and its height), and after a second
#: click; and how many questions there are.
QUESTION_JS = r"""(function () {
  var details = document.querySelector('details.question');
  if (!details) { return {questions: 0}; }
  var answer = details.querySelector('p.answer');
  var shown = function () { return answer.checkVisibility() && answer.getBoundingClientRect().height > 0; };
  var closed = shown();
  details.querySelector('summary').click();
  var opened = shown(), height = answer.getBoundingClientRect().height;
  details.querySelector('summary').click();
  return {questions: document.querySelectorAll('details.question').length, closed: closed, opened: opened,
          height: height, closed_again: shown()};
})()"""


def visit_page(built_report: Path, out: Path, name: str) -> Visit:
    """Chromium opens a copy of ``results/report/{name}`` with :data:`PROBE` injected, and when it
    is loaded, drawn and probed, takes the viewport's screenshot, then one of every section, lays
    it out at a phone's width and in print, prints it to PDF, and collects the errors DevTools saw
    along the way."""
    chromium()
    text = (built_report / "results/report" / name).read_text(encoding="utf-8")
    probed = out / "probed.html"
    probed.write_text(text.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    shots = out / "sections"
    shots.mkdir()
    tools = DevTools(out / "profile")
    try:
        tools.call("Page.navigate", {"url": probed.as_uri()})
        ready = tools.wait_for(READY_JS)
        verdict = tools.evaluate("(document.getElementById('descent-probe') || {}).textContent || null")
        questions = tools.evaluate(QUESTION_JS)
        tools.evaluate("window.scrollTo(0, 0)")
        screenshot = out / "report.png"
        screenshot.write_bytes(tools.screenshot())
        # Sections are taller than the viewport: make it as tall as the page once (one re-layout),
        # rather than per screenshot (captureBeyondViewport), and let two frames pass.
        tools.resize(WIDTH, tools.evaluate("Math.ceil(document.documentElement.scrollHeight)"))
        tools.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        sections = tools.evaluate(SECTIONS_JS)
        network = tools.evaluate(NETWORK_JS)
        for s in sections:
            clip = {"x": s["x"], "y": s["y"], "width": s["width"], "height": max(1.0, s["height"]), "scale": 1}
            (shots / f"{s['id']}.png").write_bytes(tools.screenshot(clip))
        probe_errors = tools.evaluate("window.descentProbeErrors || null")
        errors = tools.errors()
        # A phone's width, then print media at a printed page's width; then the PDF itself.
        settle = "new Promise(r => setTimeout(r, 1000))"  # Plotly redraws its responsive figures
        tools.resize(NARROW, HEIGHT)
        tools.evaluate(settle)
        narrow = tools.evaluate(LAYOUT_JS)
        tools.call("Emulation.setEmulatedMedia", {"media": "print"})
        tools.resize(PRINT_WIDTH, HEIGHT)
        tools.evaluate(settle)
        printed = tools.evaluate(LAYOUT_JS)
        tools.call("Emulation.setEmulatedMedia", {"media": ""})
        pdf = out / "report.pdf"
        pdf.write_bytes(
            base64.b64decode(tools.call("Page.printToPDF", {"paperWidth": 8.27, "paperHeight": 11.69})["data"])
        )
        crashed = tools.proc.poll() is not None
    finally:
        tools.close()
    return Visit(
        ready=ready,
        crashed=crashed,
        verdict=json.loads(verdict) if verdict else None,
        screenshot=screenshot,
        sections=sections,
        shots=shots,
        network=network,
        probe_errors=probe_errors,
        errors=errors,
        stderr="".join(tools.stderr)[-3000:],
        narrow=narrow,
        printed=printed,
        pdf=pdf,
        questions=questions,
    )


@pytest.fixture(scope="module")
def visit(built_report, tmp_path_factory) -> Visit:
    """The full page (index.html), visited once for the module."""
    return visit_page(built_report, tmp_path_factory.mktemp("report-browser"), "index.html")


@pytest.fixture(scope="module")
def class_visit(built_report, tmp_path_factory) -> Visit:
    """The class page (lessons.html), visited once for the module."""
    return visit_page(built_report, tmp_path_factory.mktemp("class-browser"), "lessons.html")


def test_page_renders_in_headless_chromium(built_report, visit):
    assert not visit.crashed, visit.stderr
    verdict = visit.verdict
    assert verdict is not None, f"the probe did not report ({chromium()}, ready: {visit.ready}):\n{visit.stderr}"
    uncaught = [error for error in visit.errors if error.startswith("exception:")]
    assert verdict["errors"] == [] and visit.probe_errors == [] and uncaught == [], (
        verdict["errors"],
        visit.probe_errors,
        uncaught,
    )
    assert verdict["images"] >= 8 and verdict["broken_images"] == [], verdict
    # Every Plotly figure rendered: the 3D surface and the explorer's two plots per single-feature
    # dataset (paris_rent and lesson_linear in the .test config).
    assert verdict["plots"] == 3 * 2 and verdict["unrendered_plots"] == [], verdict
    assert verdict["gl_plots"] >= 1 and not verdict["webgl_message"], verdict
    assert verdict["network"] == [], verdict["network"]

    # The explorer's "least squares" sets the least-squares point exactly (not the nearest slider
    # position), and its MSE equals the MSE computed here from the data; the line is on the plot.
    (explorer,) = [e for e in verdict["explorers"] if e["dataset"] == "paris_rent"]
    data = pd.read_parquet(built_report / "results/datasets/paris_rent.parquet")
    x, y = data["surface"].to_numpy(np.float64), data["rent"].to_numpy(np.float64)
    lstsq_w, lstsq_b = np.polyfit(x, y, 1)
    w, b = explorer["w"], explorer["b"]
    assert (w, b) == (pytest.approx(lstsq_w, rel=1e-9), pytest.approx(lstsq_b, rel=1e-9))
    assert explorer["best_mse"] == pytest.approx(np.mean((y - (w * x + b)) ** 2), rel=1e-9)
    assert explorer["line_y"] == pytest.approx([w * x.min() + b, w * x.max() + b], rel=1e-9)
    low, high = explorer["y_range"]
    assert low <= min(explorer["line_y"]) and max(explorer["line_y"]) <= high
    # The sliders are the lesson's (w from -50 to 50, b from 0 to 500), at the nearest position.
    steps = 51
    w_grid, b_grid = np.linspace(-50, 50, steps), np.linspace(0, 500, steps)
    assert abs(w_grid[explorer["w_index"]] - lstsq_w) <= (w_grid[1] - w_grid[0]) / 2 + 1e-9
    assert abs(b_grid[explorer["b_index"]] - lstsq_b) <= (b_grid[1] - b_grid[0]) / 2 + 1e-9
    assert explorer["best_mse"] < explorer["start_mse"]  # from the lesson's start (25, 100) to the minimum


def test_screenshot_of_the_page(visit):
    shot = visit.screenshot
    assert not visit.crashed and shot.exists(), visit.stderr
    assert png_size(shot) == (WIDTH, HEIGHT)
    # Not a blank page: the rendered header and table give many distinct colours.
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    colours = distinct_colours(pixels.reshape(-1, pixels.shape[-1]))
    assert colours > 20, colours


# ------------------------------------------------------------------------------ one screenshot per section


def test_every_section_renders_and_is_screenshotted(visit):
    assert_sections_render(visit, min_sections=20, min_figures=20)


def assert_sections_render(visit: Visit, min_sections: int, min_figures: int) -> None:
    """Every section of the visited page shows something, its figures drawn, its screenshot not
    blank; no errors, no network."""
    import matplotlib.image

    sections, shots = visit.sections, visit.shots
    ids = [s["id"] for s in sections]
    assert len(ids) >= min_sections and len(ids) == len(set(ids)), ids
    assert visit.errors == [], visit.errors
    assert visit.network == [], visit.network
    for s in sections:
        # Not empty: some text beyond the heading, or a figure, table or plot; every figure drawn.
        assert s["height"] > 40 and (s["text"] >= 40 or s["figures"] or s["tables"] or s["plots"]), s
        assert s["broken"] == [] and s["unrendered"] == [], s
        pixels = matplotlib.image.imread(shots / f"{s['id']}.png")
        assert pixels.shape[1] == round(s["width"]) and pixels.shape[0] >= 40, (s["id"], pixels.shape)
        rows = pixels.reshape(-1, pixels.shape[-1])[:: max(1, pixels.size // 2_000_000)]
        colours = distinct_colours(rows)
        assert colours > 5, (s["id"], colours)
    figures = sum(s["figures"] for s in sections)
    assert figures >= min_figures, figures


# ------------------------------------------------------------------------------ print and small screens


def test_the_page_fits_a_phone_and_prints(visit):
    """At 390 px the page is 390 px wide, every fact shows its value and no explorer, figure or
    page overflows (wide tables scroll inside their wrapper); printed, no table or figure passes
    the page's right margin and the colours that carry meaning print; the PDF has pages."""
    assert_fits_a_phone_and_prints(visit, min_pages=10)


def assert_fits_a_phone_and_prints(visit: Visit, min_pages: int) -> None:
    narrow, printed = visit.narrow, visit.printed
    assert narrow is not None and printed is not None, visit.stderr
    assert narrow["width"] <= NARROW and narrow["scroll_width"] <= NARROW and narrow["outside"] == 0, narrow
    # Wide tables scroll inside their own box, which stays within the screen.
    assert narrow["wraps_outside"] == 0 and narrow["unscrollable_tables"] == 0, narrow
    assert narrow["scrolling_tables"] > 0, narrow  # at 390 px some table is wider: the case is exercised
    assert narrow["facts"] > 0 and narrow["hidden_values"] == 0, narrow
    assert narrow["explorers"] == 0 and narrow["figures"] == 0, narrow
    assert printed["outside"] == 0 and printed["tables"] == 0 and printed["figures"] == 0, printed
    assert printed["colours_print"] == "exact", printed
    data = visit.pdf.read_bytes() if visit.pdf is not None else b""
    assert data.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page[^s]", data)) > min_pages


# ------------------------------------------------------------------------------ the class page


def test_the_class_page_renders_fits_a_phone_and_prints(class_visit):
    """lessons.html in Chromium as the full page: drawn without error or network, every section
    showing something, 390 px wide on a phone with wide tables scrolling in their box, printed
    within the margins in colour; its questions' answers hidden until clicked."""
    visit = class_visit
    assert not visit.crashed and visit.verdict is not None, visit.stderr
    verdict = visit.verdict
    assert verdict["errors"] == [] and visit.probe_errors == [], (verdict["errors"], visit.probe_errors)
    assert verdict["images"] >= 8 and verdict["broken_images"] == [], verdict
    assert verdict["plots"] >= 2 and verdict["unrendered_plots"] == [] and verdict["network"] == [], verdict
    assert_sections_render(visit, min_sections=14, min_figures=10)
    assert_fits_a_phone_and_prints(visit, min_pages=5)
    questions = visit.questions
    assert questions["questions"] >= 8, questions
    assert not questions["closed"] and questions["opened"] and questions["height"] > 10, questions
    assert not questions["closed_again"], questions
