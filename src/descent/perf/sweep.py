"""The closed-form accuracy sweep: seeded random problems, each closed-form path's parameter errors
against the float64 reference, and the worst error per path and dtype against its certificate."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt


def closed_form_errors(theta: npt.ArrayLike, reference: npt.ArrayLike) -> dict[str, float]:
    """Errors of parameters ``θ = (w, b)`` (k+1,) against a reference of the same shape.

    ``max_abs_error = max|θ − θ*|``; ``max_rel_error = max_j |θ_j − θ*_j| / |θ*_j|`` (per
    parameter, so a small weight is held to its own scale); ``norm_rel_error = ‖θ − θ*‖/‖θ*‖``.
    """
    t, r = np.asarray(theta, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    if t.shape != r.shape:
        raise ValueError(f"shapes differ: {t.shape} vs {r.shape}")
    diff = np.abs(t - r)
    tiny = np.finfo(np.float64).tiny
    return {
        "max_abs_error": float(diff.max()),
        "max_rel_error": float((diff / np.maximum(np.abs(r), tiny)).max()),
        "norm_rel_error": float(np.linalg.norm(t - r) / max(float(np.linalg.norm(r)), tiny)),
    }


#: Every closed-form path of the accuracy sweep: its name and the settings of its raw fit
#: (merged over the workflow's defaults by the benchmark).
CLOSED_FORM_PATHS: dict[str, dict[str, str]] = {
    "lstsq auto": {"method": "lstsq", "lstsq_solver": "auto"},
    "lstsq normal_equations": {"method": "lstsq", "lstsq_solver": "normal_equations"},
    "lstsq qr": {"method": "lstsq", "lstsq_solver": "qr"},
    "lstsq torch": {"method": "lstsq", "lstsq_solver": "torch"},
    "lstsq torch_lesson": {"method": "lstsq", "lstsq_solver": "torch_lesson"},
    "sklearn": {"method": "sklearn"},
}


#: Column offsets of the sweep's problems, in multiples of the column's scale: up to 100 the
#: equilibrated condition number stays below ~10⁴ (the auto solver's normal equations); 10³ and 10⁴
#: push it past that, onto the QR branch and to where a float64 certificate can no longer hold.
SWEEP_OFFSETS: tuple[float, ...] = (0.0, 1.0, 10.0, 100.0, 1e3, 1e4)


def sweep_problems(
    seed: int,
    count: int,
    large: int,
    offsets: Sequence[float] = SWEEP_OFFSETS,
    max_n: int = 200_000,
    large_n: tuple[int, int] = (500_000, 2_000_000),
    max_k: int = 50,
    large_max_k: int = 10,
    max_elements: int = 4_000_000,
) -> list[dict[str, Any]]:
    """Parameters of ``count + large`` random least-squares problems, the same for the same
    arguments (one ``numpy.random.default_rng(seed)`` draws them all, in order).

    Each is a dict of :func:`descent.fitting.problems.random_regression`'s arguments: ``seed``,
    ``n``, ``k``, ``log_scales`` ``[lo, lo + span]`` (span uniform in 0..7 decades within
    10⁻³..10⁴), ``offset`` (one of ``offsets``, × the scale), ``noise`` (0, 1e-3 or 1) and ``dtype``
    (float32 or float64), plus ``large``. The first ``count`` have ``n`` log-uniform in
    ``2..max_n`` and ``k`` uniform in ``1..max_k``, with ``n·k ≤ max_elements``; the ``large``
    ones have ``n`` log-uniform in ``large_n`` (the first exactly ``large_n[1]``) and ``k`` in
    ``1..large_max_k``.
    """
    rng = np.random.default_rng(int(seed))
    problems = []
    for i in range(int(count) + int(large)):
        is_large = i >= count
        if is_large:
            lo_n, hi_n = large_n
            k = int(rng.integers(1, large_max_k + 1))
            n = int(round(10 ** rng.uniform(math.log10(lo_n), math.log10(hi_n))))
            if i == count:
                n = int(hi_n)
        else:
            k = int(rng.integers(1, max_k + 1))
            n = int(round(10 ** rng.uniform(math.log10(2), math.log10(max_n))))
            n = max(2, min(n, max_elements // k))
        span = float(rng.uniform(0.0, 7.0))
        lo = float(rng.uniform(-3.0, 4.0 - span))
        problems.append(
            {
                "seed": int(rng.integers(0, 2**31)),
                "n": n,
                "k": k,
                "log_scales": [lo, lo + span],
                "offset": float(rng.choice(list(offsets))),
                "noise": float(rng.choice([0.0, 1e-3, 1.0])),
                "dtype": str(rng.choice(["float32", "float64"])),
                "large": is_large,
            }
        )
    return problems


def rounding_allowance(k: int, condition_number: float) -> float:
    """``10·(k+1)·κ²·eps64``: what a certified result may be off beyond twice its bound, the
    float64 rounding of the Gram the certificate is computed from and of the reference (the
    allowance ``tests/test_closed_form.py`` grants)."""
    return 10.0 * (k + 1) * condition_number**2 * float(np.finfo(np.float64).eps)


def error_to_bound(error: float, bound: float) -> float:
    """``error / bound`` (how much of its certificate's forward-error bound a result used; above 1
    the bound did not hold); 0 when both are 0, inf when only the bound is."""
    if bound > 0:
        return error / bound
    return 0.0 if error == 0 else math.inf


def sweep_summary(results: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per ``path`` and ``dtype`` (in first-seen order) of the sweep's ``results`` (one dict per
    fit: ``problem``, ``path``, ``dtype``, ``status``, and unless the status is ``error``,
    ``error`` (equilibrated, against the float64 reference), ``error_bound``, ``max_error``,
    ``condition_number`` and ``k``):

    ``count``; ``certified`` (status ``closed_form``), ``flagged`` (``inaccurate``) and
    ``errors`` (the fit raised); among certified results the worst ``error`` (``worst_certified_error``
    and its ``worst_certified_problem``), the worst ``error / error_bound``
    (``worst_error_to_bound``, :func:`error_to_bound`, over the results with a positive bound;
    errors at rounding level make it exceed 1), ``zero_bound`` (certified with a bound of exactly 0:
    a normal-equation residual that rounded to zero),
    ``beyond_bound`` (results off by more than twice their bound plus :func:`rounding_allowance`:
    the bound did not hold) and ``certified_above_max_error`` (results certified but off by more
    than their ``max_error``: missed failures); among flagged ones the
    worst error (``worst_flagged_error``), ``flagged_above_max_error`` (real failures caught;
    the rest were flagged because the certificate could not prove them, not because they were
    wrong) and ``flagged_rank_deficient`` (rows with a true ``rank_deficient``). Worst values are
    NaN when there is no such result.
    """
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for row in results:
        groups.setdefault((row["path"], row["dtype"]), []).append(row)
    summary = []
    for (path, dtype), rows in groups.items():
        certified = [r for r in rows if r["status"] == "closed_form"]
        flagged = [r for r in rows if r["status"] == "inaccurate"]
        worst = max(certified, key=lambda r: r["error"], default=None)
        summary.append(
            {
                "path": path,
                "dtype": dtype,
                "count": len(rows),
                "certified": len(certified),
                "flagged": len(flagged),
                "errors": sum(r["status"] == "error" for r in rows),
                "worst_certified_error": worst["error"] if worst else math.nan,
                "worst_certified_problem": worst["problem"] if worst else None,
                "worst_error_to_bound": max(
                    (error_to_bound(r["error"], r["error_bound"]) for r in certified if r["error_bound"] > 0),
                    default=math.nan,
                ),
                "zero_bound": sum(r["error_bound"] == 0 for r in certified),
                "beyond_bound": sum(
                    r["error"] > 2 * r["error_bound"] + rounding_allowance(r["k"], r["condition_number"])
                    for r in certified
                ),
                "certified_above_max_error": sum(r["error"] > r["max_error"] for r in certified),
                "worst_flagged_error": max((r["error"] for r in flagged), default=math.nan),
                "flagged_above_max_error": sum(r["error"] > r["max_error"] for r in flagged),
                "flagged_rank_deficient": sum(bool(r.get("rank_deficient")) for r in flagged),
            }
        )
    return summary


# --------------------------------------------------------------------------------------------
# Start-up and workflow overhead
# --------------------------------------------------------------------------------------------
