"""Interactive figures for the report page (Plotly, embedded offline; plotly.js inlined once by
the page template, :mod:`descent.report.page`).

* :func:`surface_3d_html` — the loss surface over (w, b) of each scaling as a rotatable 3D
  surface with every iterative fit's descent path (``div`` + script, no plotly.js);
* :func:`explorer_payload` — the Paris lesson's sliders: move w and b and see the line over the
  data and the MSE change, with the point on the loss contour. The payload is embedded as JSON
  by the template's ``explorer`` macro; ``templates/explorer.js`` (inlined once) recomputes the MSE.

Inputs: ``surfaces`` maps scaling to a loss-surface frame (``w``, ``b``, ``mse``), ``histories``
maps ``(dataset, scaling, method)`` to a history frame, ``x`` (n,) and ``y`` (n,) the raw data.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from descent.report import analysis
from descent.report.figures import method_colour, subsample_index, surface_grid
from descent.report.status import is_diverging, loss_path

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
    descent paths on it (points outside the grid dropped); the path of a fit whose loss grew
    tenfold (:func:`descent.report.status.is_diverging`) is dashed, as in the static figures."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    scalings = sorted(surfaces, key=lambda s: (s != "raw", s))
    methods = sorted({k[2] for k in histories})
    fig = make_subplots(
        rows=1,
        cols=len(scalings),
        specs=[[{"type": "surface"}] * len(scalings)],
        subplot_titles=[f"{scaling}" for scaling in scalings],
        horizontal_spacing=0.02,
    )
    shown: set[str] = set()
    for col, scaling in enumerate(scalings, start=1):
        W, B, Z = surface_grid(surfaces[scaling])
        fig.add_trace(
            go.Surface(
                x=W[0],
                y=B[:, 0],
                z=np.log10(np.maximum(Z, 1e-300)),
                colorscale="Viridis",
                opacity=0.85,
                showscale=False,
                name=f"log10 MSE ({scaling})",
                hovertemplate="w=%{x:.4g}<br>b=%{y:.4g}<br>log10 MSE=%{z:.4g}<extra></extra>",
            ),
            row=1,
            col=col,
        )
        for method in methods:
            history = histories.get((dataset, scaling, method))
            if history is None or history.empty:
                continue
            h = path_points(history, max_path_points)
            w, b, loss = h["w0"].to_numpy(), h["b"].to_numpy(), h["loss"].to_numpy(dtype=np.float64)
            keep = (w >= W.min()) & (w <= W.max()) & (b >= B.min()) & (b <= B.max()) & (loss > 0)
            fig.add_trace(
                go.Scatter3d(
                    x=w[keep],
                    y=b[keep],
                    z=np.log10(loss[keep]),
                    mode="lines+markers",
                    marker={"size": 2},
                    line={
                        "width": 5,
                        "color": method_colour(method, methods),
                        "dash": "dash" if is_diverging(None, loss_path(history)) else "solid",
                    },
                    name=method,
                    legendgroup=method,
                    showlegend=method not in shown,  # one legend entry per method, both panels
                ),
                row=1,
                col=col,
            )
            shown.add(method)
    for col in range(1, len(scalings) + 1):
        scene = "scene" if col == 1 else f"scene{col}"
        fig.layout[scene].update(xaxis_title="w", yaxis_title="b", zaxis_title="log10 MSE")
    fig.update_layout(
        height=520,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"font": {"size": 10}, "orientation": "h", "y": -0.02},
        title={"text": f"{dataset}: loss surface (drag to rotate)", "font": {"size": 14}},
    )
    return fig


def figure_html(fig: Any, div_id: str) -> str:
    """A Plotly figure as a ``div`` + script, without plotly.js (the page inlines it once)."""
    return str(fig.to_html(full_html=False, include_plotlyjs=False, div_id=div_id, config=PLOTLY_CONFIG))


def surface_3d_html(
    surfaces: Mapping[str, pd.DataFrame],
    histories: Mapping[FitKey, pd.DataFrame],
    dataset: str,
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
    ranges: tuple[Sequence[float], Sequence[float]] | None = None,
    grid_points: int = 61,
) -> dict[str, Any]:
    """What the slider explorer needs, as JSON-able data (raw units).

    ``x``/``y`` (n,) are subsampled to ``max_points`` for drawing; the MSE shown is computed by the
    page over the same points (all of them when n ≤ ``max_points``, as for the lessons' data).
    Slider ranges are ``ranges`` (``(w_low, w_high), (b_low, b_high)``: the lesson's own sliders
    where it has them), else the loss surface grid's widened to hold ``start`` and ``lstsq``;
    ``steps`` slider positions each. ``start`` is where the explorer opens and where its "start"
    button returns (the descent's start), ``lstsq`` the least-squares point, which its button sets
    exactly (not the nearest slider position) and the contour marks. The contour's MSE is
    computed here over the slider ranges (``grid_points`` per axis), so the (w, b) point never
    leaves it. ``labels`` = (feature, target).
    """
    idx = subsample_index(len(y), max_points)
    xs, ys = np.asarray(x, dtype=np.float64)[idx], np.asarray(y, dtype=np.float64)[idx]
    if ranges is None:
        W, B, _ = surface_grid(surface)
        w_range = [min(float(W.min()), start[0], lstsq[0]), max(float(W.max()), start[0], lstsq[0])]
        b_range = [min(float(B.min()), start[1], lstsq[1]), max(float(B.max()), start[1], lstsq[1])]
    else:
        w_range, b_range = [float(v) for v in ranges[0]], [float(v) for v in ranges[1]]
    ws, bs = np.linspace(w_range[0], w_range[1], grid_points), np.linspace(b_range[0], b_range[1], grid_points)
    Z = analysis.mse_grid(xs, ys, ws, bs)
    return {
        "x": [float(v) for v in xs],
        "y": [float(v) for v in ys],
        "w_range": [float(v) for v in w_range],
        "b_range": [float(v) for v in b_range],
        "steps": int(steps),
        "start": [float(start[0]), float(start[1])],
        "lstsq": [float(lstsq[0]), float(lstsq[1])],
        "grid": {
            "w": [float(v) for v in ws],
            "b": [float(v) for v in bs],
            "log10_mse": np.round(np.log10(np.maximum(Z, 1e-300)), 6).tolist(),
        },
        "labels": list(labels),
        "n_total": int(len(y)),
    }
