"""Interactive figures for the report page (Plotly, embedded offline; plotly.js inlined once by
:mod:`descent.report_html`).

* :func:`surface_3d_html` — the loss surface over (w, b) of each scaling as a rotatable 3D
  surface with every iterative fit's descent path (``div`` + script, no plotly.js);
* :func:`explorer_payload` / :func:`explorer_html` — the Paris lesson's sliders: move w and b and
  see the line over the data and the MSE change, with the point on the loss contour. The data
  and grid are embedded as JSON; the page's script :data:`EXPLORER_JS` recomputes the MSE.

Inputs: ``surfaces`` maps scaling to a loss-surface frame (``w``, ``b``, ``mse``), ``histories``
maps ``(dataset, scaling, method)`` to a history frame, ``x`` (n,) and ``y`` (n,) the raw data.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from descent.report_figures import method_colour, subsample_index, surface_grid

FitKey = tuple[str, str, str]
PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}


def path_points(history: pd.DataFrame, max_points: int) -> pd.DataFrame:
    """At most ``max_points`` rows of a history, evenly spaced, first and last kept."""
    return history.iloc[subsample_index(len(history), max_points)]


def surface_3d_figure(
    surfaces: Mapping[str, pd.DataFrame],
    histories: Mapping[FitKey, pd.DataFrame],
    dataset: str,
    max_path_points: int = 400,
) -> Any:
    """A Plotly figure: one rotatable 3D surface of log10 MSE per scaling (side by side) with the
    descent paths on it (points outside the grid dropped)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    scalings = sorted(surfaces, key=lambda s: (s != "raw", s))
    methods = sorted({k[2] for k in histories})
    fig = make_subplots(rows=1, cols=len(scalings), specs=[[{"type": "surface"}] * len(scalings)],
                        subplot_titles=[f"{scaling}" for scaling in scalings], horizontal_spacing=0.02)
    for col, scaling in enumerate(scalings, start=1):
        W, B, Z = surface_grid(surfaces[scaling])
        fig.add_trace(go.Surface(x=W[0], y=B[:, 0], z=np.log10(np.maximum(Z, 1e-300)), colorscale="Viridis",
                                 opacity=0.85, showscale=False, name=f"log10 MSE ({scaling})",
                                 hovertemplate="w=%{x:.4g}<br>b=%{y:.4g}<br>log10 MSE=%{z:.4g}<extra></extra>"),
                      row=1, col=col)
        for method in methods:
            history = histories.get((dataset, scaling, method))
            if history is None or history.empty:
                continue
            h = path_points(history, max_path_points)
            w, b, loss = h["w0"].to_numpy(), h["b"].to_numpy(), h["loss"].to_numpy(dtype=np.float64)
            keep = (w >= W.min()) & (w <= W.max()) & (b >= B.min()) & (b <= B.max()) & (loss > 0)
            fig.add_trace(go.Scatter3d(x=w[keep], y=b[keep], z=np.log10(loss[keep]), mode="lines+markers",
                                       marker={"size": 2}, line={"width": 5, "color": method_colour(method, methods)},
                                       name=f"{method} ({scaling})", legendgroup=method),
                          row=1, col=col)
    for col in range(1, len(scalings) + 1):
        scene = "scene" if col == 1 else f"scene{col}"
        fig.layout[scene].update(xaxis_title="w", yaxis_title="b", zaxis_title="log10 MSE")
    fig.update_layout(height=520, margin={"l": 0, "r": 0, "t": 40, "b": 0}, legend={"font": {"size": 10}},
                      title={"text": f"{dataset}: loss surface (drag to rotate)", "font": {"size": 14}})
    return fig


def figure_html(fig: Any, div_id: str) -> str:
    """A Plotly figure as a ``div`` + script, without plotly.js (the page inlines it once)."""
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=PLOTLY_CONFIG)


def surface_3d_html(
    surfaces: Mapping[str, pd.DataFrame], histories: Mapping[FitKey, pd.DataFrame], dataset: str,
    max_path_points: int = 400,
) -> str:
    """:func:`surface_3d_figure` as an embeddable fragment with a stable id."""
    return figure_html(surface_3d_figure(surfaces, histories, dataset, max_path_points), f"surface3d-{dataset}")


def explorer_payload(
    x: np.ndarray,
    y: np.ndarray,
    surface: pd.DataFrame,
    start: tuple[float, float],
    lstsq: tuple[float, float],
    labels: Sequence[str],
    steps: int = 201,
    max_points: int = 2000,
) -> dict[str, Any]:
    """What the slider explorer needs, as JSON-able data (raw units).

    ``x``/``y`` (n,) are subsampled to ``max_points`` for drawing; the MSE shown is computed by the
    page over the same points (all of them when n ≤ ``max_points``, as for the lessons' data).
    Slider ranges are the loss surface grid's; ``start`` is where the sliders begin and
    ``lstsq`` the least-squares point, marked on the contour. ``labels`` = (feature, target).
    """
    idx = subsample_index(len(y), max_points)
    W, B, Z = surface_grid(surface)
    return {
        "x": [float(v) for v in np.asarray(x, dtype=np.float64)[idx]],
        "y": [float(v) for v in np.asarray(y, dtype=np.float64)[idx]],
        "w_range": [float(W.min()), float(W.max())],
        "b_range": [float(B.min()), float(B.max())],
        "steps": int(steps),
        "start": [float(start[0]), float(start[1])],
        "lstsq": [float(lstsq[0]), float(lstsq[1])],
        "grid": {"w": [float(v) for v in W[0]], "b": [float(v) for v in B[:, 0]],
                 "log10_mse": np.round(np.log10(np.maximum(Z, 1e-300)), 6).tolist()},
        "labels": list(labels),
        "n_total": int(len(y)),
    }


def explorer_html(dataset: str, payload: dict[str, Any]) -> str:
    """The explorer's markup: two sliders, a read-out, two plot divs, and its data as JSON."""
    d = html.escape(dataset)
    data = json.dumps(payload, allow_nan=False, separators=(",", ":")).replace("</", "<\\/")
    return f"""<div class="explorer" data-dataset="{d}">
<div class="explorer-controls">
<label>w <input type="range" class="explorer-w" min="0" max="{payload['steps'] - 1}" step="1" aria-label="w"></label>
<label>b <input type="range" class="explorer-b" min="0" max="{payload['steps'] - 1}" step="1" aria-label="b"></label>
<button type="button" class="explorer-reset">start</button>
<button type="button" class="explorer-best">least squares</button>
<output class="explorer-readout"></output>
</div>
<div class="explorer-plots"><div class="explorer-line" id="explorer-line-{d}"></div>
<div class="explorer-contour" id="explorer-contour-{d}"></div></div>
<script type="application/json" class="explorer-data">{data}</script>
</div>"""


#: The explorer's script (inlined once): wires every ``.explorer`` on the page.
EXPLORER_JS = r"""
(function () {
  function mse(x, y, w, b) {
    var s = 0;
    for (var i = 0; i < x.length; i++) { var r = y[i] - (w * x[i] + b); s += r * r; }
    return s / x.length;
  }
  function fmt(v) { return Math.abs(v) >= 1e5 || (v !== 0 && Math.abs(v) < 1e-3) ? v.toExponential(3) : v.toPrecision(5); }
  function setup(root) {
    var d = JSON.parse(root.querySelector('.explorer-data').textContent);
    var ws = root.querySelector('.explorer-w'), bs = root.querySelector('.explorer-b');
    var out = root.querySelector('.explorer-readout');
    var lineDiv = root.querySelector('.explorer-line'), contourDiv = root.querySelector('.explorer-contour');
    var n = d.steps - 1;
    function val(r, i) { return r[0] + (r[1] - r[0]) * i / n; }
    function idx(r, v) { return Math.max(0, Math.min(n, Math.round((v - r[0]) / (r[1] - r[0]) * n))); }
    var xmin = Math.min.apply(null, d.x), xmax = Math.max.apply(null, d.x);
    var ymin = Math.min.apply(null, d.y), ymax = Math.max.apply(null, d.y), pad = 0.15 * (ymax - ymin);
    Plotly.newPlot(lineDiv, [
      {x: d.x, y: d.y, mode: 'markers', type: 'scatter', name: 'data', marker: {color: '#999', size: 5}},
      {x: [xmin, xmax], y: [0, 0], mode: 'lines', type: 'scatter', name: 'w·x + b', line: {color: '#d62728', width: 3}}
    ], {title: {text: 'line over the data (raw units)', font: {size: 13}}, height: 360,
        margin: {l: 55, r: 10, t: 40, b: 45}, xaxis: {title: {text: d.labels[0]}},
        yaxis: {title: {text: d.labels[1]}, range: [ymin - pad, ymax + pad]}, showlegend: false},
      {displaylogo: false, responsive: true});
    Plotly.newPlot(contourDiv, [
      {x: d.grid.w, y: d.grid.b, z: d.grid.log10_mse, type: 'contour', colorscale: 'Viridis', ncontours: 25,
       colorbar: {title: {text: 'log10 MSE'}}, hovertemplate: 'w=%{x:.4g}<br>b=%{y:.4g}<br>log10 MSE=%{z:.4g}<extra></extra>'},
      {x: [d.lstsq[0]], y: [d.lstsq[1]], mode: 'markers', type: 'scatter', name: 'least squares',
       marker: {symbol: 'star', size: 14, color: 'white', line: {color: 'black', width: 1}}},
      {x: [0], y: [0], mode: 'markers', type: 'scatter', name: '(w, b)', marker: {size: 11, color: '#d62728'}}
    ], {title: {text: 'MSE over (w, b)', font: {size: 13}}, height: 360, margin: {l: 55, r: 10, t: 40, b: 45},
        xaxis: {title: {text: 'w'}}, yaxis: {title: {text: 'b'}}, showlegend: false},
      {displaylogo: false, responsive: true});
    function update() {
      var w = val(d.w_range, +ws.value), b = val(d.b_range, +bs.value);
      Plotly.restyle(lineDiv, {y: [[w * xmin + b, w * xmax + b]]}, [1]);
      Plotly.restyle(contourDiv, {x: [[w]], y: [[b]]}, [2]);
      var m = mse(d.x, d.y, w, b);
      out.textContent = 'w = ' + fmt(w) + ', b = ' + fmt(b) + ', MSE = ' + fmt(m) +
        (d.x.length < d.n_total ? ' (over ' + d.x.length + ' of ' + d.n_total + ' points)' : '');
      root.setAttribute('data-mse', String(m));
    }
    function go(p) { ws.value = idx(d.w_range, p[0]); bs.value = idx(d.b_range, p[1]); update(); }
    ws.addEventListener('input', update); bs.addEventListener('input', update);
    root.querySelector('.explorer-reset').addEventListener('click', function () { go(d.start); });
    root.querySelector('.explorer-best').addEventListener('click', function () { go(d.lstsq); });
    go(d.start);
  }
  document.querySelectorAll('.explorer').forEach(setup);
})();
"""
