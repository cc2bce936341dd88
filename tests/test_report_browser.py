"""The report in a real browser: headless Chromium opens the generated page from a file URL;
every image and figure renders, no console error, no network request; the w/b explorer computes
the MSE; a screenshot is saved under the test's temporary directory.

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

from test_report import built_report  # noqa: F401  (session fixture shared with test_report.py)

pytestmark = pytest.mark.workflow

BROWSER_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
                 "--hide-scrollbars", "--mute-audio"]

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


def test_page_renders_in_headless_chromium(built_report, tmp_path):  # noqa: F811
    browser = chromium()
    page = built_report / "results/report/index.html"
    text = page.read_text(encoding="utf-8")
    probed = tmp_path / "probed.html"
    probed.write_text(text.replace("<head>", "<head>" + PROBE, 1), encoding="utf-8")
    proc = run_browser(["--enable-logging=stderr", "--v=0", "--virtual-time-budget=20000", "--dump-dom",
                        probed.as_uri()], tmp_path / "profile")
    assert proc.returncode == 0, proc.stderr[-3000:]
    match = re.search(r'<pre id="descent-probe">(.*?)</pre>', proc.stdout, re.S)
    assert match, f"the probe did not report ({browser}):\n{proc.stderr[-3000:]}"
    verdict = json.loads(match.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">")
                         .replace("&amp;", "&"))
    uncaught = [line for line in proc.stderr.splitlines() if "CONSOLE" in line and "Uncaught" in line]
    assert verdict["errors"] == [] and uncaught == [], (verdict["errors"], uncaught)
    assert verdict["images"] >= 8 and verdict["broken_images"] == [], verdict
    # Every Plotly figure rendered: the 3D surface and the explorer's two plots per single-feature dataset.
    assert verdict["plots"] == 3 and verdict["unrendered_plots"] == [], verdict
    assert verdict["gl_plots"] >= 1 and not verdict["webgl_message"], verdict
    assert verdict["network"] == [], verdict["network"]

    # The explorer's MSE at the least-squares point equals the MSE computed here from the data.
    (explorer,) = verdict["explorers"]
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


def test_screenshot_of_the_page(built_report, tmp_path):  # noqa: F811
    chromium()
    page = built_report / "results/report/index.html"
    shot = tmp_path / "report.png"
    proc = run_browser(["--window-size=1366,900", "--virtual-time-budget=10000", f"--screenshot={shot}",
                        page.as_uri()], tmp_path / "profile")
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-3000:]
    assert png_size(shot) == (1366, 900)
    # Not a blank page: the rendered header and table give many distinct colours.
    import matplotlib.image

    pixels = matplotlib.image.imread(shot)
    assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 20
