"""Figures of Lesson 0's experiments (matplotlib, Agg backend), saved as PNG and SVG atomically.

Matplotlib is imported inside the functions so that importing this module is cheap. Files are
byte-reproducible: PNG without a timestamp, SVG with a fixed ``svg.hashsalt`` and no date.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from descent.lessons.minima import CriticalPointPolynomial
from descent.plotting import pyplot as _pyplot

Figure = Any  # matplotlib.figure.Figure, imported lazily


def binomial_figure(
    table: pd.DataFrame, summary: dict[str, Any], long_table: pd.DataFrame, long_summary: dict[str, Any]
) -> Figure:
    """Left: simulated frequency of each fraction correct vs exact Binomial(n, p) probabilities.
    Right: running fraction correct over the long test, with its ±z·SE band around p."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    n, p, tests = summary["n_questions"], summary["p"], summary["n_tests"]
    width = 0.8 / n
    ax1.bar(
        table["fraction_correct"],
        table["observed_frequency"],
        width=width,
        color="#9ecae1",
        edgecolor="#3182bd",
        label=f"simulated ({tests:,} tests)",
    )
    ax1.errorbar(
        table["fraction_correct"],
        table["exact_probability"],
        yerr=table["frequency_tolerance"],
        fmt="o",
        color="#d62728",
        ms=4,
        capsize=3,
        label=f"Binomial({n}, {p:g}) ± {summary['tolerance']['z']:g} SE",
    )
    ax1.set_xlabel("fraction of questions right")
    ax1.set_ylabel("fraction of tests")
    ax1.set_title(
        f"mean {summary['mean_correct']:.4f} (n·p = {summary['expected_mean_correct']:g}), "
        f"var {summary['variance_correct']:.4f} (n·p·(1−p) = {summary['expected_variance_correct']:g})",
        fontsize=9,
    )
    ax1.legend(fontsize=8)

    m = long_summary["n_questions"]
    # Log-spaced questions (at most ~2000 points) keep the SVG small on the log axis.
    shown = np.unique(np.geomspace(1, m, min(m, 2000)).round().astype(np.int64)) - 1
    q = long_table["question"].to_numpy()[shown]
    running = long_table["running_fraction_correct"].to_numpy()[shown]
    band = long_summary["tolerance"] / long_summary["se_fraction_correct"] * np.sqrt(p * (1 - p) / q)
    ax2.fill_between(q, p - band, p + band, color="#dddddd", label=f"p ± {summary['tolerance']['z']:g}·sqrt(p(1−p)/i)")
    ax2.plot(q, running, color="#3182bd", lw=1, label="running fraction right")
    ax2.axhline(p, color="#d62728", lw=1, ls="--")
    ax2.set_xscale("log")
    ax2.set_ylim(0, 1)
    ax2.set_xlabel("question i")
    ax2.set_ylabel("fraction right among the first i")
    ax2.set_title(
        f"one long test: {long_summary['n_correct']:,} / {m:,} right (z = {long_summary['z_score']:+.2f})", fontsize=9
    )
    ax2.legend(fontsize=8, loc="lower right")
    return fig


def descent_x2_figure(paths: pd.DataFrame, summary: dict[str, Any]) -> Figure:
    """One panel per step size: the parabola ``y = x²`` over the path's range and the iterates on it
    (symmetric-log axes when the path spans many orders of magnitude)."""
    plt = _pyplot()
    runs = summary["runs"]
    fig, axes = plt.subplots(1, len(runs), figsize=(5.2 * len(runs), 4.2), layout="constrained", squeeze=False)
    for ax, run in zip(axes[0], runs):
        path = paths[paths["step_size"] == run["step_size"]]
        x = path["x"].to_numpy()
        span = max(float(np.max(np.abs(x))), 1e-12) * 1.15
        wide = span > 100
        if wide:  # log-spaced on both sides of 0 so the parabola is smooth on symlog axes
            half = np.geomspace(1e-3, span, 400)
            grid = np.concatenate([-half[::-1], [0.0], half])
        else:
            grid = np.linspace(-span, span, 801)
        ax.plot(grid, grid**2, color="#999999", lw=1, label="y = x²")
        ax.plot(
            x,
            path["y"],
            "-o",
            color="#d62728" if run["status"] != "converged" else "#3182bd",
            ms=4,
            lw=1,
            label=f"{run['status']} after {run['iterations']} update(s)",
        )
        for xi, yi in zip(x[:4], path["y"].to_numpy()[:4]):
            ax.annotate(f"{xi:g}", (xi, yi), textcoords="offset points", xytext=(4, 6), fontsize=7)
        if wide:
            ax.set_xscale("symlog", linthresh=1.0)
            ax.set_yscale("symlog", linthresh=1.0)
            decades = int(np.ceil(np.log10(span)))
            every = max(1, decades // 3)
            powers = [10.0**k for k in range(0, decades + 1, every)]
            ax.set_xticks([-v for v in powers[::-1]] + [0.0] + powers)
            ax.set_yticks([0.0] + [10.0**k for k in range(0, 2 * decades + 1, 2 * every)])
        ax.set_xlabel("x")
        ax.set_ylabel("y")
        ax.set_title(
            f"step size {run['step_size']:g} from x = {run['x0']:g} (x ← {run['factor_per_step']:g}·x)", fontsize=9
        )
        ax.legend(fontsize=8)
    return fig


def minima_figure(starts: pd.DataFrame, summary: dict[str, Any]) -> Figure:
    """Top: the function, its minima (global one starred) and maxima, and each start coloured by
    the minimum it reached. Bottom: how many starts reached each minimum."""
    plt = _pyplot()

    poly = CriticalPointPolynomial.from_critical_points(summary["critical_points"])
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(8, 7), layout="constrained", height_ratios=[3, 1.3])
    low, high = summary["start_range"]
    grid = np.linspace(low, high, 1001)
    ax1.plot(grid, [poly.value(float(g)) for g in grid], color="#444444", lw=1.2, label=summary["function"])
    colours = plt.get_cmap("tab10")
    minima = [m["x"] for m in summary["local_minima"]]
    for i, c in enumerate(minima):
        hit = starts["minimum"] == c
        hit = hit.fillna(False).to_numpy(dtype=bool)
        ax1.scatter(
            starts["x_start"][hit],
            starts["f_start"][hit],
            s=10,
            color=colours(i),
            alpha=0.7,
            label=f"starts → x = {c:g}",
        )
    missed = starts["minimum"].isna().to_numpy()
    if missed.any():
        ax1.scatter(
            starts["x_start"][missed],
            starts["f_start"][missed],
            s=40,
            marker="x",
            color="black",
            zorder=5,
            label="starts matched to no minimum",
        )
    local = [m for m in summary["local_minima"] if not m["is_global"]]
    best = [m for m in summary["local_minima"] if m["is_global"]]
    ax1.plot(
        [m["x"] for m in local],
        [m["f"] for m in local],
        marker="v",
        ms=9,
        color="white",
        mec="black",
        ls="none",
        label="local minimum",
    )
    ax1.plot(
        [m["x"] for m in best],
        [m["f"] for m in best],
        marker="*",
        ms=15,
        color="gold",
        mec="black",
        ls="none",
        label="global minimum",
    )
    ax1.plot(
        [m["x"] for m in summary["local_maxima"]],
        [m["f"] for m in summary["local_maxima"]],
        marker="^",
        ms=9,
        color="#d62728",
        mec="black",
        ls="none",
        label="local maximum (a start there stops at once)",
    )
    ax1.set_xlabel("x")
    ax1.set_ylabel("f(x)")
    ax1.set_title(
        f"{summary['n_starts']} random starts, step {summary['step_size']:g}: "
        f"{summary['fraction_global']:.1%} reach the global minimum "
        f"x = {', '.join(f'{x:g}' for x in summary['global_minimum']['x'])}",
        fontsize=9,
    )
    ax1.legend(fontsize=7, loc="upper center")
    labels = [f"x = {c:g}" for c in minima] + ["none"]
    counts = [next((f["starts"] for f in summary["minima_found"] if f["x"] == c), 0) for c in minima]
    counts.append(summary["unmatched_starts"])
    bar_colours = [colours(i) for i in range(len(minima))] + ["black"]
    ax2.bar(labels, counts, color=bar_colours)
    for i, n in enumerate(counts):
        ax2.annotate(str(n), (i, n), ha="center", va="bottom", fontsize=8)
    ax2.set_ylabel("starts")
    ax2.set_xlabel("minimum reached")
    return fig
