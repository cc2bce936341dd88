"""One full-batch gradient iteration of ``manual_gd`` (the fused pass on column-major X, and its
former paths: torch blocks on row-major X, two products),
``autograd`` and ``nn_linear`` at 10⁷ × 10, float32 and float64: effective bandwidth against
STREAM (``throughput.json``)."""

from __future__ import annotations

import math
from argparse import Namespace
from collections.abc import Mapping
from typing import Any

import numpy as np

from descent.fitting import objective
from descent.perf.bandwidth import gradient_iteration, synthetic_regression
from descent.perf.part import Part, Result, log
from descent.perf.sweep import closed_form_errors
from descent.perf.tables import target

ITERATIVE = ("manual_gd", "autograd", "nn_linear")


def run(args: Namespace, results: Mapping[str, Result]) -> Result:
    import torch

    rows, k, threads, repeats = args.rows, args.features, args.threads, args.repeats
    out: dict[str, Any] = {
        "rows": rows,
        "k": k,
        "threads": threads,
        "block_min_rows": objective.BLOCK_MIN_ROWS,
        "block_bytes": objective.BLOCK_BYTES,
        "runs": [],
    }
    for dtype in ("float32", "float64"):
        log(f"throughput {rows}x{k} {dtype}: generating data")
        X, y, w_true, b_true = synthetic_regression(rows, k, dtype, seed=0)
        for method in ITERATIVE:
            log(f"  {method}")
            if method == "manual_gd":  # column-major, as the fit jobs load data this large: the fused pass
                columns = np.asfortranarray(X)
                out["runs"].append(gradient_iteration(method, columns, y, threads, warmup=1, repeats=repeats))
                del columns
                log("  manual_gd, row-major X: torch blocks (before the fused pass)")
                former = gradient_iteration(method, X, y, threads, warmup=1, repeats=repeats)
                former["method"] = "manual_gd_row_major"
                out["runs"].append(former)
                continue
            out["runs"].append(gradient_iteration(method, X, y, threads, warmup=1, repeats=repeats))
        # The path of manual_gd before the blocks (two products, n-sized temporaries), for before/after.
        with objective.gradient_blocking(rows + 1):
            log("  manual_gd, two-product path (before)")
            former = gradient_iteration("manual_gd", X, y, threads, warmup=1, repeats=repeats)
        former["method"] = "manual_gd_two_products"
        out["runs"].append(former)
        # Accuracy of both manual paths against float64 at a point off the optimum.
        Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
        w = torch.tensor(w_true * 0.9, dtype=Xt.dtype)
        b = torch.tensor(b_true - 1.0, dtype=Xt.dtype)
        X64, y64 = torch.from_numpy(X.astype(np.float64)), torch.from_numpy(y.astype(np.float64))
        w64, b64 = w.double(), b.double()
        r = y64 - (X64 @ w64 + b64)
        ref = np.append((-2.0 / rows * (X64.T @ r)).numpy(), float(-2.0 / rows * r.sum()))
        del X64, y64, r
        blocked = objective.blocked_gradients(Xt, yt, w, b, "mean")
        fused = objective.fused_gradients(torch.from_numpy(np.asfortranarray(X)), yt, w, b, "mean")
        r = yt - (Xt @ w + b)
        plain = (None, -2.0 / rows * (Xt.T @ r), -2.0 / rows * r.sum())
        out[f"gradient_error_{dtype}"] = {
            "point": "0.9 x true weights, true bias - 1",
            "fused": closed_form_errors(np.append(fused[1].double().numpy(), float(fused[2])), ref),
            "blocked": closed_form_errors(np.append(blocked[1].double().numpy(), float(blocked[2])), ref),
            "two_products": closed_form_errors(np.append(plain[1].double().numpy(), float(plain[2])), ref),
        }
        del X, y, Xt, yt
    return out


def _stream(results: Mapping[str, Result]) -> float:
    """The STREAM bandwidth measured in this run (NaN when the stream part did not run)."""
    return float(results["stream"]["best_gbps"]) if "stream" in results else math.nan


def rows(result: Result, results: Mapping[str, Result]) -> list[list[Any]]:
    return [
        [
            "throughput",
            f"{run['method']} {run['dtype']}",
            f"{run['timings']['seconds_median'] * 1e3:.1f} ms/iter",
            f"{run['effective_gbps']:.2f} GB/s eff. ({run['effective_gbps'] / _stream(results):.0%} of STREAM; "
            f"fastest call {run['effective_gbps_best'] / _stream(results):.0%}), {run['implementation']}, {run['passes_over_x']} pass(es), {run['bytes_x_min'] / 1e6:.0f} MB of X",
        ]
        for run in result["runs"]
    ]


def targets(result: Result, results: Mapping[str, Result]) -> list[dict[str, Any]]:
    return [
        # Both from their fastest call, as STREAM reports its bandwidth (the median's ratio is in
        # the row above: on a loaded machine it is the lower).
        target(
            f"manual_gd {run['dtype']} effective bandwidth / STREAM (fastest calls)",
            run["effective_gbps_best"] / _stream(results),
            0.8,
            "min",
        )
        for run in result["runs"]
        if run["method"] == "manual_gd"
    ]


PART = Part(name="throughput", position=40, description=__doc__ or "", run=run, rows=rows, targets=targets)
