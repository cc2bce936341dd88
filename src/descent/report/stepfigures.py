"""Small figures of single lesson steps, drawn by the page job itself (matplotlib, Agg) and
inlined as PNG bytes: the data with the true and least-squares lines, a loss contour with descent
paths, w and b against iteration, the data before and after standardizing, and loss curves of a
few fits side by side. They read the same results as everything else (data, loss surfaces,
histories); the workflow's own figure jobs draw the per-dataset figures.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from descent.plotting import pyplot as _pyplot
from descent.report.figures import method_colour, surface_grid


def to_png(fig: object, dpi: int = 110) -> bytes:
    """The figure as PNG bytes (no timestamp), closed afterwards."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, metadata={"Software": None})  # type: ignore[attr-defined]
    _pyplot().close(fig)
    return buffer.getvalue()


def outside_legend(ax: object, fontsize: int = 7, ncol: int = 3) -> None:
    """The axes' legend below them, outside the data, so it never covers what it names."""
    ax.legend(  # type: ignore[attr-defined]
        fontsize=fontsize, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=ncol, frameon=False
    )


def data_figure(
    x: np.ndarray,
    y: np.ndarray,
    truth: tuple[float, float],
    lstsq: tuple[float, float],
    labels: Sequence[str],
    dpi: int = 110,
) -> bytes:
    """The data (one feature) with the true relation and the least-squares line."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    ax.scatter(x, y, s=16, color="#1f77b4", alpha=0.7, label=f"{len(y)} points")
    grid = np.linspace(float(np.min(x)), float(np.max(x)), 2)
    ax.plot(grid, truth[0] * grid + truth[1], ":", color="black", label=f"true: {truth[0]:g}·x + {truth[1]:g}")
    ax.plot(
        grid,
        lstsq[0] * grid + lstsq[1],
        "-",
        color="#d62728",
        label=f"least squares: {lstsq[0]:.4g}·x + {lstsq[1]:.4g}",
    )
    ax.set_xlabel(labels[0])
    ax.set_ylabel(labels[1])
    ax.grid(True, alpha=0.3)
    outside_legend(ax, 8)
    fig.tight_layout()
    return to_png(fig, dpi)


def contour_figure(
    surface: pd.DataFrame,
    paths: Mapping[str, pd.DataFrame],
    points: Mapping[str, tuple[float, float]],
    title: str,
    dpi: int = 110,
    traces: bool = False,
    equal: bool = False,
) -> bytes:
    """MSE contour (log levels) over one loss surface grid, descent paths ``(w0, b)`` from their
    histories (clipped to the grid), marked points. With ``traces``, a second panel shows w and b
    against iteration for each path, each relative to its start and to its least-squares value
    (``points['least squares']``): the fraction of the way covered. ``equal``: one unit of w as
    long as one of b, where the contour's shape is the point."""
    plt = _pyplot()
    from matplotlib.colors import LogNorm

    W, B, Z = surface_grid(surface)
    fig, axes = plt.subplots(1, 2 if traces else 1, figsize=(12.4 if traces else 6.4, 4.3), squeeze=False)
    ax = axes[0][0]
    positive = Z[Z > 0]
    levels = np.geomspace(positive.min(), positive.max(), 25)
    contour = ax.contourf(
        W, B, np.maximum(Z, positive.min()), levels=levels, norm=LogNorm(), cmap="viridis", alpha=0.85
    )
    fig.colorbar(contour, ax=ax, label="MSE (log scale)", format="%.3g")
    names = sorted(paths)
    for name in names:
        h = paths[name]
        w, b = h["w0"].to_numpy(), h["b"].to_numpy()
        inside = (w >= W.min()) & (w <= W.max()) & (b >= B.min()) & (b <= B.max())
        ax.plot(
            np.where(inside, w, np.nan),
            np.where(inside, b, np.nan),
            "-",
            color=method_colour(name, names),
            linewidth=1.6,
            label=name,
        )
        ax.plot(w[:1], b[:1], "o", color=method_colour(name, names), markersize=5)
    for label, (pw, pb) in points.items():
        ax.plot(
            pw, pb, "*" if "least" in label else "X", color="white", markeredgecolor="black", markersize=12, label=label
        )
    ax.set_xlim(W.min(), W.max())
    ax.set_ylim(B.min(), B.max())
    ax.set_xlabel("w")
    ax.set_ylabel("b")
    if equal:
        ax.set_aspect("equal")
    ax.set_title(title, fontsize=10)
    outside_legend(ax)
    if traces:
        ax2 = axes[0][1]
        target = points.get("least squares")
        assert target is not None  # the least-squares point is always drawn
        for name in names:
            h = paths[name]
            for column, style in (("w0", "-"), ("b", "--")):
                values = h[column].to_numpy(dtype=np.float64)
                goal = target[0] if column == "w0" else target[1]
                span = goal - values[0]
                ax2.plot(
                    h["iteration"],
                    (values - values[0]) / span if span else values * 0,
                    style,
                    color=method_colour(name, names),
                    label=f"{name}: {'w' if column == 'w0' else 'b'}",
                )
        ax2.axhline(1.0, color="black", linewidth=0.8, linestyle=":")
        ax2.set_xlabel("iteration")
        ax2.set_ylabel("fraction of the way to least squares")
        ax2.set_title("w (solid) and b (dashed): how far each has moved", fontsize=10)
        ax2.grid(True, alpha=0.3)
        outside_legend(ax2)
    fig.tight_layout()
    return to_png(fig, dpi)


def standardization_figure(
    x: np.ndarray, y: np.ndarray, xs: np.ndarray, ys: np.ndarray, labels: Sequence[str], dpi: int = 110
) -> bytes:
    """The data before and after standardizing, side by side."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    axes[0].scatter(x, y, s=14, color="#1f77b4", alpha=0.7)
    axes[0].set_xlabel(labels[0])
    axes[0].set_ylabel(labels[1])
    axes[0].set_title("raw", fontsize=10)
    axes[1].scatter(xs, ys, s=14, color="#ff7f0e", alpha=0.7)
    axes[1].axhline(0, color="black", linewidth=0.6)
    axes[1].axvline(0, color="black", linewidth=0.6)
    axes[1].set_aspect("equal", adjustable="datalim")
    axes[1].set_xlabel(f"standardized {labels[0]}")
    axes[1].set_ylabel(f"standardized {labels[1]}")
    axes[1].set_title("standardized: mean 0, standard deviation 1", fontsize=10)
    for ax in axes:
        ax.grid(True, alpha=0.3)
    fig.tight_layout()
    return to_png(fig, dpi)


def loss_compare_figure(
    histories: Mapping[str, pd.DataFrame],
    title: str,
    xlabel: str = "iteration",
    floor: float | None = None,
    dpi: int = 110,
    xmax: float | None = None,
) -> bytes:
    """Loss against iteration (log scale) of a few fits; identical curves stay visible (the later
    ones dashed over the first). ``floor``: the least-squares loss, drawn dotted; ``xmax``: the
    last iteration shown (the runs compared, not a longer reference run)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6.8, 3.9))
    names = list(histories)
    for i, name in enumerate(names):
        h = histories[name]
        loss = h["loss"].to_numpy(dtype=np.float64)
        ax.plot(
            h["iteration"],
            np.where(loss > 0, loss, np.nan),
            color=method_colour(name, names),
            linestyle="-" if i == 0 else (0, (4, 3 + i)),
            linewidth=2.4 if i == 0 else 1.4,
            label=name,
        )
    if floor is not None and floor > 0:
        ax.axhline(floor, color="black", linestyle=":", linewidth=1, label="least-squares minimum")
    ax.set_yscale("log")
    if xmax is not None:
        ax.set_xlim(0, xmax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("MSE (fitted space)")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    outside_legend(ax, 8)
    fig.tight_layout()
    return to_png(fig, dpi)


#: The unit vector's colour in :func:`vectors_figure` (no example vector uses it).
UNIT_COLOUR = "#d62728"


def vectors_figure(vectors: Sequence[Sequence[float]], unit: Sequence[float], dpi: int = 110) -> bytes:
    """The example vectors as arrows from the origin (3-D, left), and beside them the same
    directions at length 1 (right, axes from 0 to 1): the common unit vector, drawn in
    :data:`UNIT_COLOUR` over each vector's own direction, so it is seen rather than hidden at the
    arrows' foot (at the vectors' scale it is a tenth of their length)."""
    plt = _pyplot()
    fig = plt.figure(figsize=(7.6, 4.0))
    whole, zoom = fig.add_subplot(1, 2, 1, projection="3d"), fig.add_subplot(1, 2, 2, projection="3d")
    colours = ["#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd"]
    arrays = [np.asarray(given, dtype=np.float64)[:3] for given in vectors]
    for i, v in enumerate(arrays):
        colour, label = colours[i % len(colours)], f"({', '.join(f'{c:g}' for c in v)})"
        whole.quiver(0, 0, 0, *v, color=colour, linewidth=2 + (len(arrays) - i), arrow_length_ratio=0.08, label=label)
        direction = v / np.linalg.norm(v)
        zoom.plot(*([0.0, c] for c in direction), color=colour, linewidth=6 + 3 * (len(arrays) - i), alpha=0.35)
    u = np.asarray(unit, dtype=np.float64)[:3]
    zoom.quiver(0, 0, 0, *u, color=UNIT_COLOUR, linewidth=2.5, arrow_length_ratio=0.15)
    zoom.text(*(1.05 * u), f"({', '.join(f'{c:.3f}' for c in u)})", color=UNIT_COLOUR, fontsize=7)
    # The unit sphere's octant, faintly: every point on it is at length 1.
    theta, phi = np.meshgrid(np.linspace(0, np.pi / 2, 13), np.linspace(0, np.pi / 2, 13))
    zoom.plot_wireframe(
        np.sin(theta) * np.cos(phi), np.sin(theta) * np.sin(phi), np.cos(theta), color="0.8", linewidth=0.4
    )
    top = float(max(np.max(np.abs(v)) for v in arrays))
    for ax, limit, title in (
        (whole, top, "same direction, different lengths"),
        (zoom, 1.0, "at length 1: one unit vector"),
    ):
        ax.set_xlim(0, limit)
        ax.set_ylim(0, limit)
        ax.set_zlim(0, limit)
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_zlabel("z")
        ax.set_title(title, fontsize=9)
    handles, labels = whole.get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=len(labels), frameon=False)
    fig.tight_layout(rect=(0, 0.06, 1, 1))
    return to_png(fig, dpi)
