"""The report in a real browser: headless Chromium opens the generated page from a file URL;
every image and figure renders, no console error, no network request; the w/b explorer computes
the MSE; a screenshot of the page, and one of every section (over the DevTools protocol), are
saved under the test's temporary directory, and an empty section fails the test.

Needs Debian's ``chromium`` (``.ci/install-browser.sh``). Without it the tests are skipped, unless
``DESCENT_REQUIRE_BROWSER=1`` (set by ``.ci/run``), which turns the skip into a failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import struct
import subprocess
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

#: Injected at the very start of <head> of a copy of the page: records errors (script errors,
#: failed resource loads, console.error), then after load checks every image and Plotly figure,
#: drives the explorer to the least-squares point, and writes a JSON verdict into the DOM.
PROBE = r"""<script>
(function () {
  var errors = [];
  window.addEventListener('error', function (e) {
    var t = e.target;
    errors.push(t && t !== window && (t.src || t.href) ? 'failed to load ' + String(t.src || t.href).slice(0, 80)
                                                       : String(e.message));
  }, true);
  window.addEventListener('unhandledrejection', function (e) { errors.push('unhandled rejection: ' + e.reason); });
  var origError = console.error;
  console.error = function () { errors.push('console.error: ' + Array.prototype.join.call(arguments, ' ')); origError.apply(console, arguments); };
  window.addEventListener('load', function () {
    setTimeout(function () {
      var imgs = Array.prototype.slice.call(document.images);
      var plots = Array.prototype.slice.call(document.querySelectorAll('.js-plotly-plot'));
      var explorers = Array.prototype.slice.call(document.querySelectorAll('.explorer')).map(function (root) {
        var start = Number(root.getAttribute('data-mse'));
        root.querySelector('.explorer-best').click();
        var best = Number(root.getAttribute('data-mse'));
        var w = root.querySelector('.explorer-w'), b = root.querySelector('.explorer-b');
        return {dataset: root.getAttribute('data-dataset'), start_mse: start, best_mse: best,
                w_index: Number(w.value), b_index: Number(b.value),
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
        explorers: explorers, network: resources, errors: errors,
        webgl_message: document.body.innerText.indexOf('WebGL is not supported') >= 0
      };
      var pre = document.createElement('pre');
      pre.id = 'descent-probe';
      pre.textContent = JSON.stringify(verdict);
      document.body.appendChild(pre);
    }, 1500);
  });
})();
</script>"""


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    message = "headless Chromium not installed (run .ci/install-browser.sh)"
    if os.environ.get("DESCENT_REQUIRE_BROWSER") == "1":
        pytest.fail(message + " but DESCENT_REQUIRE_BROWSER=1")
    pytest.skip(message)


def run_browser(args: list[str], profile: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    cmd = [chromium(), *BROWSER_FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", header[16:24])


def test_page_renders_in_headless_chromium(built_report, tmp_path):
    browser = chromium()
    page = built_report / "results/report/index.html"
    text = page.read_text(encoding="utf-8")
    probed = tmp_path / "probed.html"
    probed.write_text(text.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    proc = run_browser(
        ["--enable-logging=stderr", "--v=0", "--virtual-time-budget=20000", "--dump-dom", probed.as_uri()],
        tmp_path / "profile",
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    match = re.search(r'<pre id="descent-probe">(.*?)</pre>', proc.stdout, re.S)
    assert match, f"the probe did not report ({browser}):\n{proc.stderr[-3000:]}"
    verdict = json.loads(
        match.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    )
    uncaught = [line for line in proc.stderr.splitlines() if "CONSOLE" in line and "Uncaught" in line]
    assert verdict["errors"] == [] and uncaught == [], (verdict["errors"], uncaught)
    assert verdict["images"] >= 8 and verdict["broken_images"] == [], verdict
    # Every Plotly figure rendered: the 3D surface and the explorer's two plots per single-feature
    # dataset (paris_rent and lesson_linear in the .test config).
    assert verdict["plots"] == 3 * 2 and verdict["unrendered_plots"] == [], verdict
    assert verdict["gl_plots"] >= 1 and not verdict["webgl_message"], verdict
    assert verdict["network"] == [], verdict["network"]

    # The explorer's MSE at the least-squares point equals the MSE computed here from the data.
    (explorer,) = [e for e in verdict["explorers"] if e["dataset"] == "paris_rent"]
    data = pd.read_parquet(built_report / "results/datasets/paris_rent.parquet")
    x, y = data["surface"].to_numpy(np.float64), data["rent"].to_numpy(np.float64)
    surface = pd.read_parquet(built_report / "results/fits/paris_rent/raw/loss_surface.parquet")
    steps = 51
    w_grid = np.linspace(surface["w"].min(), surface["w"].max(), steps)
    b_grid = np.linspace(surface["b"].min(), surface["b"].max(), steps)
    w, b = w_grid[explorer["w_index"]], b_grid[explorer["b_index"]]
    assert explorer["best_mse"] == pytest.approx(np.mean((y - (w * x + b)) ** 2), rel=1e-9)
    assert explorer["line_y"] == pytest.approx([w * x.min() + b, w * x.max() + b], rel=1e-9)
    lstsq_w, lstsq_b = np.polyfit(x, y, 1)
    assert abs(w - lstsq_w) <= (w_grid[1] - w_grid[0]) / 2 + 1e-9
    assert abs(b - lstsq_b) <= (b_grid[1] - b_grid[0]) / 2 + 1e-9
    assert explorer["best_mse"] < explorer["start_mse"]  # from the lesson's start (25, 100) to the minimum


def test_screenshot_of_the_page(built_report, tmp_path):
    chromium()
    page = built_report / "results/report/index.html"
    shot = tmp_path / "report.png"
    proc = run_browser(
        ["--window-size=1366,900", "--virtual-time-budget=10000", f"--screenshot={shot}", page.as_uri()],
        tmp_path / "profile",
    )
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-3000:]
    assert png_size(shot) == (1366, 900)
    # Not a blank page: the rendered header and table give many distinct colours.
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 20


# ------------------------------------------------------------------------------ one screenshot per section


class DevTools:
    """A minimal Chrome DevTools Protocol client over a WebSocket (standard library only): starts
    headless Chromium with ``--remote-debugging-port=0``, opens one page, sends commands and
    collects events (console errors, exceptions, failed loads)."""

    def __init__(self, profile: Path, width: int = 1366, height: int = 900):
        import base64
        import socket
        import urllib.parse

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
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def _recv_exact(self, n: int) -> bytes:
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            assert chunk, "DevTools connection closed"
            data += chunk
        return data

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


def test_every_section_renders_and_is_screenshotted(built_report, tmp_path):
    import base64
    import time

    import matplotlib.image

    chromium()
    page = built_report / "results/report/index.html"
    shots = tmp_path / "sections"
    shots.mkdir()
    tools = DevTools(tmp_path / "profile")
    try:
        tools.call("Page.navigate", {"url": page.as_uri()})
        deadline = time.time() + 120
        while time.time() < deadline:  # loaded, and every Plotly figure drawn
            if tools.evaluate(
                "document.readyState === 'complete' && Array.from(document.querySelectorAll("
                "'.js-plotly-plot')).every(p => p.querySelector('.main-svg'))"
            ):
                break
            time.sleep(0.5)
        time.sleep(1.0)
        sections = tools.evaluate(SECTIONS_JS)
        network = tools.evaluate(
            "performance.getEntriesByType('resource').map(r => r.name).filter(n => !/^(data:|file:|blob:)/.test(n))"
        )
        for s in sections:
            clip = {"x": s["x"], "y": s["y"], "width": s["width"], "height": max(1.0, s["height"]), "scale": 1}
            shot = tools.call("Page.captureScreenshot", {"format": "png", "clip": clip, "captureBeyondViewport": True})
            (shots / f"{s['id']}.png").write_bytes(base64.b64decode(shot["data"]))
        errors = tools.errors()
    finally:
        tools.close()
    ids = [s["id"] for s in sections]
    assert len(ids) >= 20 and len(ids) == len(set(ids)), ids
    assert errors == [], errors
    assert network == [], network
    for s in sections:
        # Not empty: some text beyond the heading, or a figure, table or plot; every figure drawn.
        assert s["height"] > 40 and (s["text"] >= 40 or s["figures"] or s["tables"] or s["plots"]), s
        assert s["broken"] == [] and s["unrendered"] == [], s
        pixels = matplotlib.image.imread(shots / f"{s['id']}.png")
        assert pixels.shape[1] == round(s["width"]) and pixels.shape[0] >= 40, (s["id"], pixels.shape)
        assert len(np.unique(pixels.reshape(-1, pixels.shape[-1])[:: max(1, pixels.size // 2_000_000)], axis=0)) > 5, s[
            "id"
        ]
    figures = sum(s["figures"] for s in sections)
    assert figures >= 20, figures
