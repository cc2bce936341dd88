"""Static figures of the fits for the report (matplotlib, Agg backend; PNG and SVG).

Inputs are the fits' results as read by the rule scripts: ``X`` (n, k) and ``y`` (n,) of a
dataset, fit records (``results/fits/…/{method}.json`` dicts), histories (``iteration``, ``loss``,
``grad_norm``, ``w0..w{k-1}``, ``b``), loss surfaces (``w``, ``b``, ``mse``: a grid_size² grid, w
fastest), gradient checks and the predictions table. Each function returns a Figure; save it
with :func:`descent.plotting.save_figure`. Output is deterministic (no dates in the files, fixed SVG ids).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from descent.fitting import registry
from descent.fitting.objective import least_squares_reference, mse
from descent.fitting.scaling import standardization_stats, standardize
from descent.plotting import pyplot as _pyplot
from descent.report.results import fit_name
from descent.report.status import CATEGORY_FAILED, CATEGORY_SKIPPED, is_diverging, loss_path, status_category

FitKey = tuple[str, str, str]

#: Colours of variants (methods not in the registry), in order: none is a registered method's.
_SPARE = [
    "#d62728",
    "#393b79",
    "#e7ba52",
    "#00a5a5",
    "#7b4173",
    "#637939",
    "#ff1493",
    "#843c39",
    "#6b6ecf",
    "#a0522d",
    "#9acd32",
    "#4b0082",
    "#ff8c69",
    "#2f4f4f",
    "#c71585",
    "#8fbc8f",
]


def method_colour(method: str, methods: Sequence[str]) -> str:
    """A stable hex colour for ``method`` among ``methods``: a registered method's own colour
    (:func:`descent.fitting.registry.methods`); variants (and repetitions, as their fit) take the
    spare colours in sorted order, skipping any registered method's colour, so no two methods on
    a figure share one (hex, so matplotlib and Plotly both accept it)."""

    method = fit_name(method)
    if method in (registered := registry.methods()):
        return registered[method].colour
    taken = {m.colour.lower() for m in registered.values()}
    spare = [c for c in _SPARE if c.lower() not in taken]
    variants = sorted({fit_name(m) for m in methods if fit_name(m) not in registered})
    return spare[variants.index(method) % len(spare)] if method in variants else spare[0]


def subsample_index(n: int, max_points: int) -> np.ndarray:
    """At most ``max_points`` evenly spaced row indices of ``range(n)`` (all when n is small).

    >>> subsample_index(10, 4).tolist()
    [0, 3, 6, 9]
    """
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))


def fit_mark(record: Mapping[str, Any], history: pd.DataFrame | None = None) -> str | None:
    """How a static figure marks a fit, as the page's tables do: ``'failed'`` (its recorded
    ``status`` is a failed one (:mod:`descent.report.status`), it diverged, or its parameters are
    not finite), ``'diverging'`` (its ``history``'s loss grew tenfold though its status does not
    say so: :func:`descent.report.status.is_diverging`), else ``None``. Marked fits are drawn
    dashed, with the mark in their legend entry."""
    if "status" in record and status_category(record["status"]) in (CATEGORY_FAILED, CATEGORY_SKIPPED):
        return "failed"
    if record.get("weights") is None or record.get("bias") is None:
        return "failed"
    if bool(record.get("diverged")) or not np.isfinite(np.append(record["weights"], record["bias"])).all():
        return "failed"
    if is_diverging(record.get("status"), loss_path(history)):
        return "diverging"
    return None


def _label(method: str, mark: str | None) -> str:
    return method + (f" ({mark})" if mark else "")


def data_fit_figure(
    X: np.ndarray,
    y: np.ndarray,
    records: Mapping[FitKey, dict[str, Any]],
    meta: Mapping[str, Any],
    max_points: int = 2000,
    histories: Mapping[FitKey, pd.DataFrame] | None = None,
) -> Any:
    """The data with every fit, one panel per scaling (parameters in original units).

    One feature: the points and each fit's line ``y = w·x + b``. Several features: predicted
    against observed target (the fitted "line" is the diagonal). Failed and diverging fits
    (:func:`fit_mark`; ``histories``: the iterative fits' loss histories) are dashed (crosses) and
    named so; the true relation is a dotted black line.
    """
    histories = histories or {}
    plt = _pyplot()
    scalings = sorted({k[1] for k in records}, key=lambda s: (s != "raw", s))
    methods = sorted({k[2] for k in records})
    fig, axes = plt.subplots(1, len(scalings), figsize=(6.2 * len(scalings), 4.6), squeeze=False)
    idx = subsample_index(len(y), max_points)
    Xs, ys = np.asarray(X, dtype=np.float64)[idx], np.asarray(y, dtype=np.float64)[idx]
    single = Xs.shape[1] == 1
    features, target = list(meta["features"]), str(meta["target"])
    for ax, scaling in zip(axes[0], scalings):
        if single:
            ax.scatter(Xs[:, 0], ys, s=10, color="0.6", alpha=0.7, label=f"data ({len(y)} rows)", zorder=1)
            grid = np.linspace(Xs[:, 0].min(), Xs[:, 0].max(), 2)
            if meta.get("true_weights") is not None and meta.get("true_bias") is not None:
                ax.plot(
                    grid,
                    grid * float(meta["true_weights"][0]) + float(meta["true_bias"]),
                    ":",
                    color="black",
                    label="true relation",
                )
            ylim = (ys.min() - 0.15 * np.ptp(ys), ys.max() + 0.15 * np.ptp(ys))
        else:
            lo, hi = ys.min(), ys.max()
            ax.plot([lo, hi], [lo, hi], ":", color="black", label="prediction = observed")
            ylim = (lo - 0.15 * (hi - lo), hi + 0.15 * (hi - lo))
        for method in methods:
            record = records.get((meta["dataset"], scaling, method))
            if record is None or record.get("bias") is None or record.get("weights") is None:
                continue  # not run, or skipped (no parameters)
            w, b = np.asarray(record["weights"], dtype=np.float64), float(record["bias"])
            mark = fit_mark(record, histories.get((meta["dataset"], scaling, method)))
            failed = mark is not None
            style = dict(
                color=method_colour(method, methods),
                linestyle="--" if failed else "-",
                linewidth=1.4,
                label=_label(method, mark),
                alpha=0.9,
            )
            if single:
                ax.plot(grid, grid * w[0] + b, **style)
            else:
                pred = Xs @ w + b
                ax.scatter(
                    ys, pred, s=4, color=style["color"], alpha=0.35, label=style["label"], marker="x" if failed else "o"
                )
        ax.set_ylim(*ylim)
        ax.set_title(f"{meta['dataset']}: {scaling} fits (original units)")
        ax.set_xlabel(features[0] if single else f"observed {target}")
        ax.set_ylabel(target if single else f"predicted {target}")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def loss_curves_figure(
    histories: Mapping[FitKey, pd.DataFrame],
    minimum_loss: Mapping[str, float],
    dataset: str,
    records: Mapping[FitKey, dict[str, Any]] | None = None,
) -> Any:
    """Loss against iteration (log scale) for every iterative fit: one row per scaling, the loss
    on the left and the excess over the least-squares minimum of that space on the right.

    ``minimum_loss`` maps scaling to the least-squares MSE in that scaling's fitted space.
    """
    plt = _pyplot()
    scalings = sorted({k[1] for k in histories} | set(minimum_loss), key=lambda s: (s != "raw", s))
    methods = sorted({k[2] for k in histories})
    fig, axes = plt.subplots(max(1, len(scalings)), 2, figsize=(12, 3.9 * max(1, len(scalings))), squeeze=False)
    for row, scaling in enumerate(scalings):
        ax, ax_excess = axes[row]
        floor = minimum_loss.get(scaling)
        drawn = False
        for method in methods:
            history = histories.get((dataset, scaling, method))
            if history is None or history.empty:
                continue
            drawn = True
            colour = method_colour(method, methods)
            mark = (
                fit_mark(records.get((dataset, scaling, method), {"weights": [], "bias": 0.0}), history)
                if records is not None
                else None
            )
            failed = mark is not None
            label = _label(method, mark)
            loss = history["loss"].to_numpy(dtype=np.float64)
            ax.plot(
                history["iteration"],
                np.where(loss > 0, loss, np.nan),
                color=colour,
                label=label,
                linestyle="--" if failed else "-",
            )
            if floor is not None:
                excess = loss - floor
                ax_excess.plot(
                    history["iteration"],
                    np.where(excess > 0, excess, np.nan),
                    color=colour,
                    label=label,
                    linestyle="--" if failed else "-",
                )
        if floor is not None and floor > 0:
            ax.axhline(floor, color="black", linestyle=":", linewidth=1, label="least-squares minimum")
        for a, what in ((ax, "MSE"), (ax_excess, "MSE − least-squares MSE")):
            a.set_yscale("log")
            a.set_xlabel("iteration")
            a.set_ylabel(f"{what} ({scaling} space)")
            a.grid(True, which="both", alpha=0.3)
            if drawn:
                a.legend(fontsize=7)
            else:
                a.text(0.5, 0.5, "no iterative fits", transform=a.transAxes, ha="center")
        ax.set_title(f"{dataset}, {scaling}: loss")
        ax_excess.set_title(f"{dataset}, {scaling}: distance to the minimum")
    fig.tight_layout()
    return fig


def surface_grid(surface: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(W, B, MSE)`` as 2-D arrays (b along rows, w along columns) from a surface frame."""
    ws = np.unique(surface["w"].to_numpy())
    bs = np.unique(surface["b"].to_numpy())
    frame = surface.sort_values(["b", "w"])
    Z = frame["mse"].to_numpy(dtype=np.float64).reshape(len(bs), len(ws))
    W, B = np.meshgrid(ws, bs)
    return W, B, Z


def surface_figure(
    surfaces: Mapping[str, pd.DataFrame],
    histories: Mapping[FitKey, pd.DataFrame],
    minima: Mapping[str, tuple[float, float]],
    dataset: str,
) -> Any:
    """The loss surface over (w, b) with every iterative fit's descent path, one column per
    scaling (raw and standardized side by side): contour (log-spaced levels) on top, 3D below.

    ``minima`` maps scaling to the least-squares ``(w, b)`` in that fitted space. Paths are the
    histories' ``(w0, b)``; parts leaving the grid are clipped.
    """
    plt = _pyplot()
    from matplotlib.colors import LogNorm

    scalings = sorted(surfaces, key=lambda s: (s != "raw", s))
    methods = sorted({k[2] for k in histories})
    fig = plt.figure(figsize=(6.2 * len(scalings), 10.5))
    for col, scaling in enumerate(scalings):
        W, B, Z = surface_grid(surfaces[scaling])
        ax = fig.add_subplot(2, len(scalings), col + 1)
        positive = Z[Z > 0]
        levels = np.geomspace(positive.min(), positive.max(), 25) if positive.size else 20
        contour = ax.contourf(
            W,
            B,
            np.maximum(Z, positive.min() if positive.size else 1e-300),
            levels=levels,
            norm=LogNorm(),
            cmap="viridis",
            alpha=0.85,
        )
        fig.colorbar(contour, ax=ax, label="MSE (log scale)", format="%.3g")
        ax3 = fig.add_subplot(2, len(scalings), len(scalings) + col + 1, projection="3d")
        ax3.plot_surface(
            W, B, np.log10(np.maximum(Z, 1e-300)), cmap="viridis", alpha=0.6, linewidth=0, antialiased=False
        )
        for method in methods:
            history = histories.get((dataset, scaling, method))
            if history is None or history.empty:
                continue
            colour = method_colour(method, methods)
            w, b, loss = history["w0"].to_numpy(), history["b"].to_numpy(), history["loss"].to_numpy(dtype=np.float64)
            inside = (w >= W.min()) & (w <= W.max()) & (b >= B.min()) & (b <= B.max())
            ax.plot(
                np.where(inside, w, np.nan), np.where(inside, b, np.nan), "-", color=colour, linewidth=1.5, label=method
            )
            ax.plot(w[:1], b[:1], "o", color=colour, markersize=5)
            if inside[-1]:
                ax.plot(w[-1:], b[-1:], "s", color=colour, markersize=5)
            keep = inside & (loss > 0)
            ax3.plot(w[keep], b[keep], np.log10(loss[keep]), color=colour, linewidth=1.5)
        if scaling in minima:
            ax.plot(*minima[scaling], "*", color="white", markeredgecolor="black", markersize=13, label="least squares")
        ax.set_xlim(W.min(), W.max())
        ax.set_ylim(B.min(), B.max())
        if scaling == "standardized":
            ax.set_aspect("equal")  # the bowl's shape is the point: one unit of w as long as one of b
        ax.set_xlabel("w")
        ax.set_ylabel("b")
        ax.set_title(f"{dataset}, {scaling}: MSE over (w, b), paths from ● to ■")
        # Below the axes, never over the paths, the least-squares star or the minimum.
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False)
        ax3.set_xlabel("w")
        ax3.set_ylabel("b")
        ax3.set_zlabel("log10 MSE")
        ax3.set_title(f"{dataset}, {scaling}: surface and paths")
    fig.tight_layout()
    return fig


def gradient_check_figure(rows: Sequence[Mapping[str, Any]]) -> Any:
    """Relative difference between hand-derived and autograd gradients per dataset and dtype,
    against the dtype's machine epsilon (log scale); rows from
    :func:`descent.report.tables.gradient_check_rows`."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.5, 3.6))
    labels = [f"{r['dataset']}\n{r['dtype']}" for r in rows]
    values = [max(float(r["max_rel_diff"]), 1e-300) for r in rows]
    colours = ["tab:blue" if r["dtype"] == "float64" else "tab:orange" for r in rows]
    x = np.arange(len(rows))
    ax.bar(x, values, color=colours)
    for i, r in enumerate(rows):
        ax.hlines(float(r["eps"]), i - 0.4, i + 0.4, color="black", linestyle=":", linewidth=1.2)
        if float(r["max_rel_diff"]) == 0:
            ax.text(i, 1e-17, "exactly 0", ha="center", fontsize=7)
    ax.set_xticks(x, labels, fontsize=8)
    ax.set_yscale("log")
    ax.set_ylabel("max relative difference\nhand vs autograd")
    ax.set_title("Gradient check (dotted: machine epsilon of the dtype)")
    ax.grid(True, axis="y", which="both", alpha=0.3)
    fig.tight_layout()
    return fig


def predictions_figure(predictions: pd.DataFrame, features: Mapping[str, Sequence[str]] | None = None) -> Any:
    """Predictions for the configured new inputs: per dataset, each fit's prediction minus the
    true value, by input; a panel per dataset with predictions.

    ``predictions`` is ``results/fits/predictions.parquet`` (``dataset``, ``scaling``, ``method``,
    ``inputs`` (k,), ``prediction``, ``true_value``, ``status``). Failed fits (a failed ``status``
    or a non-finite prediction) are not drawn; each panel names them below its axis.
    ``features`` maps a dataset to its feature names, the x-axis label (else "new input").
    """
    plt = _pyplot()
    predictions = predictions.copy()
    statuses = predictions["status"] if "status" in predictions else pd.Series([None] * len(predictions))
    failed = np.array(
        [status is not None and status_category(status) in (CATEGORY_FAILED, CATEGORY_SKIPPED) for status in statuses],
        dtype=bool,
    ) | ~np.isfinite(pd.to_numeric(predictions["prediction"], errors="coerce").to_numpy(dtype=np.float64))
    withheld = predictions[failed]
    predictions = predictions[~failed]
    datasets = sorted(set(predictions["dataset"]) | set(withheld["dataset"]))
    fig, axes = plt.subplots(1, max(1, len(datasets)), figsize=(6.2 * max(1, len(datasets)), 4.2), squeeze=False)
    if not datasets:
        axes[0][0].text(
            0.5, 0.5, "no predictions configured (fits.predict)", ha="center", transform=axes[0][0].transAxes
        )
        axes[0][0].set_axis_off()
    for ax, dataset in zip(axes[0], datasets):
        sub = predictions[predictions["dataset"] == dataset]
        inputs = sorted({tuple(v) for v in sub["inputs"]})
        labels = [", ".join(f"{v:g}" for v in t) for t in inputs]
        fits = sorted({(s, m) for s, m in zip(sub["scaling"], sub["method"])})
        methods = sorted({m for _, m in fits})
        # Fits whose errors agree to 3 significant digits draw one bar (one legend entry naming
        # them), so a group holds a bar per distinct answer, not one per fit.
        groups: dict[tuple[str, ...], list[tuple[str, str]]] = {}
        for scaling, method in fits:
            part = sub[(sub["scaling"] == scaling) & (sub["method"] == method)]
            by_input = {tuple(i): p - t for i, p, t in zip(part["inputs"], part["prediction"], part["true_value"])}
            key = tuple(f"{by_input.get(t, np.nan):.3g}" for t in inputs)
            groups.setdefault(key, []).append((scaling, method))
        width = 0.8 / max(1, len(groups))
        for j, (key, members) in enumerate(groups.items()):
            scaling, method = members[0]
            label = f"{method} ({scaling})" + (f" + {len(members) - 1} more agreeing" if len(members) > 1 else "")
            ax.bar(
                np.arange(len(inputs)) - 0.4 + (j + 0.5) * width,
                [float(v) for v in key],
                width,
                color=method_colour(method, methods),
                hatch="//" if scaling == "standardized" else None,
                edgecolor="white",
                label=label,
            )
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_xticks(np.arange(len(inputs)), labels)
        names_of = (features or {}).get(dataset)
        ax.set_xlabel(", ".join(str(f) for f in names_of) if names_of else "new input")
        ax.set_ylabel("prediction − true value")
        ax.set_title(f"{dataset}: predictions for new inputs")
        ax.grid(True, axis="y", alpha=0.3)
        if fits:
            ax.legend(fontsize=6, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.18), frameon=False)
        gone = withheld[withheld["dataset"] == dataset]
        if not gone.empty:
            names = sorted({f"{m} ({s})" for s, m in zip(gone["scaling"], gone["method"])})
            ax.text(
                0.0,
                -0.55,
                "not shown (failed fits): " + ", ".join(names),
                transform=ax.transAxes,
                fontsize=7,
                color="#b3261e",
                va="top",
                wrap=True,
            )
    fig.tight_layout()
    return fig


def fitted_space_minimum(
    X: np.ndarray, y: np.ndarray, scaling: str, features: list[str] | None = None
) -> tuple[np.ndarray, float, float]:
    """Least-squares ``(w, b, mse)`` in the fitted space of ``scaling`` (float64), for the
    reference lines and points of the figures."""

    if scaling == "standardized":
        X, y = standardize(X, y, standardization_stats(X, y, features))
    w, b, _ = least_squares_reference(X, y)
    return w, float(b), mse(X, y, w, b)


def iterative(records: Mapping[FitKey, dict[str, Any]]) -> list[FitKey]:
    """Keys of the iterative fits among ``records``."""
    return [k for k, r in records.items() if r.get("base_method") in registry.iterative_methods()]
