"""The benchmark's figures: GFLOP/s against n, and the speed-up over the naive loop.

Colours and markers come from the backend registry (:mod:`descent.matmul.backends`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from descent.matmul import backends
from descent.plotting import pyplot, save_figure


def _axes(dtypes: Sequence[str]) -> tuple[Any, Any, Any]:
    plt = pyplot()
    fig, axes = plt.subplots(1, len(dtypes), figsize=(5.5 * len(dtypes), 4.3), squeeze=False, sharey=True)
    return plt, fig, axes[0]


def _label(backend: str, dtype: str) -> str:
    """Legend label: the name, and the dtype the backend computed in when it is not ``dtype``."""
    computes = backends.get(backend).compute_dtype(dtype)
    return backend if computes == dtype else f"{backend} (computes in {computes})"


def plot_gflops(table: Any, png: str, svg: str) -> None:
    """GFLOP/s against n (log-log), one panel per dtype, one line per backend; extrapolated
    points hollow and dashed, the estimated CPU peak as a dotted line; skipped backends named."""
    dtypes = sorted(table["dtype"].unique())
    plt, fig, axes = _axes(dtypes)
    for ax, dtype in zip(axes, dtypes):
        sub = table[table["dtype"] == dtype]
        for backend in [b for b in backends.BACKENDS if b in set(sub["backend"])]:
            rows = sub[sub["backend"] == backend].sort_values("n")
            spec = backends.get(backend)
            color, marker = spec.color, spec.marker
            ok = rows[~rows["extrapolated"] & rows["gflops"].notna()]
            ext = rows[rows["extrapolated"]]
            if ok.empty and ext.empty:
                ax.plot(
                    [], [], color=color, marker=marker, linestyle="none", label=f"{backend} ({rows['status'].iloc[0]})"
                )
                continue
            ax.plot(ok["n"], ok["gflops"], color=color, marker=marker, label=_label(backend, dtype))
            if not ext.empty:
                # The dashed line starts at the measured size the first extrapolation comes from.
                before = ok[ok["n"] < ext["n"].min()]
                start = before["n"].max() if not before.empty else ext["n"].min()
                joined = rows[rows["n"] >= start]
                ax.plot(joined["n"], joined["gflops"], color=color, linestyle="--")
                ax.plot(
                    ext["n"],
                    ext["gflops"],
                    color=color,
                    marker=marker,
                    linestyle="none",
                    markerfacecolor="none",
                    label=f"{backend} (extrapolated O(n³))",
                )
        cpu_peak = sub[sub["backend"].isin(backends.CPU_BACKENDS)]["peak_gflops"].dropna()
        if not cpu_peak.empty:
            ax.axhline(
                cpu_peak.max(),
                color="black",
                linestyle=":",
                linewidth=1,
                label=f"CPU peak estimate {cpu_peak.max():.0f}",
            )
        gpu_peak = sub[sub["backend"].isin(backends.CUDA_BACKENDS)]["peak_gflops"].dropna()
        if not gpu_peak.empty:
            ax.axhline(
                gpu_peak.max(),
                color="tab:green",
                linestyle=":",
                linewidth=1,
                label=f"GPU datasheet peak {gpu_peak.max():.0f}",
            )
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("n (n x n @ n x n)")
        ax.set_title(dtype)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("GFLOP/s (2n³ / median time)")
    fig.suptitle("Matrix product throughput")
    fig.tight_layout()

    save_figure(fig, png, svg)


def speedups(table: Any, baseline: str | None = None) -> Any:
    """Speed-up of every backend over a naive loop: ``baseline seconds_median / seconds_median``
    per (dtype, n) where both have a row, with ``naive_extrapolated`` telling whether the
    baseline's time was extrapolated and ``baseline`` naming it. ``baseline`` defaults to
    :func:`~descent.matmul.backends.baseline_backend` of the table's backends (Lesson 0's loop)."""
    baseline = baseline or backends.baseline_backend(set(table["backend"]))
    naive = table[table["backend"] == baseline][["dtype", "n", "seconds_median", "extrapolated"]]
    naive = naive.rename(columns={"seconds_median": "naive_seconds", "extrapolated": "naive_extrapolated"})
    merged = table.merge(naive, on=["dtype", "n"], how="inner")
    merged["speedup"] = merged["naive_seconds"] / merged["seconds_median"]
    merged["baseline"] = baseline
    return merged[["backend", "dtype", "n", "speedup", "naive_extrapolated", "extrapolated", "status", "baseline"]]


def plot_speedup(table: Any, png: str, svg: str) -> None:
    """Speed-up over the naive baseline (Lesson 0's loop when it ran) against n (log-log), one
    panel per dtype; points where the baseline's time is extrapolated are hollow."""
    baseline = backends.baseline_backend(set(table["backend"]))
    data = speedups(table, baseline)
    base = baseline or "the naive loop (not run)"
    dtypes = sorted(table["dtype"].unique())
    plt, fig, axes = _axes(dtypes)
    for ax, dtype in zip(axes, dtypes):
        sub = data[(data["dtype"] == dtype) & (data["backend"] != baseline)]
        for backend in [b for b in backends.BACKENDS if b in set(sub["backend"])]:
            rows = sub[sub["backend"] == backend].sort_values("n")
            spec = backends.get(backend)
            color, marker = spec.color, spec.marker
            valid = rows[rows["speedup"].notna()]
            if valid.empty:
                ax.plot(
                    [], [], color=color, marker=marker, linestyle="none", label=f"{backend} ({rows['status'].iloc[0]})"
                )
                continue
            ax.plot(valid["n"], valid["speedup"], color=color, linestyle="-", label=_label(backend, dtype))
            meas = valid[~valid["naive_extrapolated"]]
            ext = valid[valid["naive_extrapolated"]]
            ax.plot(meas["n"], meas["speedup"], color=color, marker=marker, linestyle="none")
            ax.plot(ext["n"], ext["speedup"], color=color, marker=marker, linestyle="none", markerfacecolor="none")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("n")
        ax.set_title(f"{dtype} (hollow: {base} time extrapolated)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel(f"speed-up over {base} (x)")
    lesson = baseline is not None and backends.get(baseline).lesson
    fig.suptitle("Speed-up over Lesson 0's own loop" if lesson else f"Speed-up over {base}")
    fig.tight_layout()

    save_figure(fig, png, svg)
