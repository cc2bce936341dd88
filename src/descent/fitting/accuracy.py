"""Cost to accuracy across fits: the conditioning of every dataset × scaling
(``results/fits/conditioning.parquet``) and when each fit first reached each relative gap
(``results/fits/time_to_accuracy.parquet``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from descent.fitting.closed_form import design_gram, design_theta
from descent.fitting.scaling import standardization_stats
from descent.fitting.summary import fits_intercept
from descent.fitting.theory import Conditioning, conditioning

#: Columns of ``time_to_accuracy.parquet``, in order.
TIME_TO_ACCURACY_COLUMNS = [
    "dataset",
    "scaling",
    "method",
    "fit",
    "repetition",
    "base_method",
    "kind",
    "device",
    "status",
    "epsilon",
    "reached",
    "iterations",
    "seconds",
    "relative_gap",
    "predicted_iterations",
]
#: A timing whose interquartile range exceeds this fraction of its median is flagged unstable.
UNSTABLE_IQR = 0.1


def fitted_conditioning(
    X: np.ndarray, y: np.ndarray, scaling: str, features: list[str] | None = None, intercept: bool = True
) -> Conditioning:
    """The mean-loss Hessian of ``X`` (n, k), ``y`` (n,) in ``scaling``'s fitted space (the
    standardized data built chunk by chunk in float64, as the closed forms see it); without an
    ``intercept``, of the model through the origin (no bias row or column; scaled, not centred)."""
    stats = standardization_stats(X, y, features, intercept) if scaling == "standardized" else None
    return conditioning(design_gram(X, y, stats, intercept=intercept), len(X))


def conditioning_frame(entries: Iterable[tuple[str, str, Conditioning]]) -> pd.DataFrame:
    """One row per ``(dataset, scaling, conditioning)``: ``dataset``, ``scaling``, then
    :meth:`Conditioning.row` (``eigenvalues``, ``lambda_max``, ``lambda_min``, ``kappa``,
    ``max_stable_lr``, ``loss_star``, ``n``) for the mean loss."""
    return pd.DataFrame([{"dataset": d, "scaling": s, **c.row()} for d, s, c in entries])


def closed_form_relative_gap(record: dict[str, Any], cond: Conditioning) -> float:
    """``(θ − θ*)ᵀH(θ − θ*) / θ*ᵀHθ*`` in the fitted space: the closed form's gap relative to the
    gap of the zero model (a closed form has no start point), exact for a quadratic. ``cond`` is
    the model's own: without an intercept θ is the weights alone."""
    fitted = record["fitted_space"]
    theta = design_theta(fitted["weights"], fitted["bias"], len(cond.theta_star) > len(fitted["weights"]))
    theta = theta - cond.theta_star
    hessian = cond.eigenvectors @ np.diag(cond.eigenvalues) @ cond.eigenvectors.T
    zero = float(cond.theta_star @ hessian @ cond.theta_star)
    return float(theta @ hessian @ theta) / zero if zero > 0 else 0.0


def time_to_accuracy(
    records: Sequence[dict[str, Any]],
    histories: dict[tuple[str, str, str], pd.DataFrame],
    conditionings: dict[tuple[str, str], Conditioning],
    targets: Sequence[float],
    origin_conditionings: Mapping[tuple[str, str], Conditioning] | None = None,
) -> pd.DataFrame:
    """One row per fit × target ε: whether and when (``iterations``, ``seconds``: cumulative fit
    time) the fit's ``relative_gap`` first fell to ε, and the iterations predicted for it
    (gradient-descent methods). A closed form is one point: its time and its gap relative to the
    zero model's (``origin_conditionings``, by dataset and scaling, for the closed forms with
    ``fit_intercept: false``). Failed fits (diverged, inaccurate) never reach anything."""
    rows = []
    for record in sorted(records, key=lambda r: (r["dataset"], r["scaling"], r["method"])):
        key = (record["dataset"], record["scaling"], record["method"])
        history = histories.get(key)
        failed = record["status"] in ("diverged", "inaccurate", "skipped")
        if record["status"] == "skipped":
            history = pd.DataFrame({"iteration": [], "seconds": [], "relative_gap": []})
        predicted = (record.get("predicted") or {}).get("iterations_to", {})
        if history is None:
            # A closed form through the origin against the conditioning of its own model.
            own = conditionings if fits_intercept(record) else (origin_conditionings or {})
            gap = closed_form_relative_gap(record, own[key[:2]])
        for epsilon in targets:
            base = {
                "dataset": key[0],
                "scaling": key[1],
                "method": key[2],
                "fit": record["settings"].get("fit") or key[2],
                "repetition": int(record["settings"].get("repetition", 0)),
                "base_method": record["base_method"],
                "device": record["device"],
                "status": record["status"],
                "epsilon": float(epsilon),
                "predicted_iterations": predicted.get(f"{epsilon:g}"),
            }
            if history is None:
                reached = not failed and gap <= epsilon
                rows.append(
                    {
                        **base,
                        "kind": "closed_form",
                        "reached": reached,
                        "iterations": 0 if reached else None,
                        "seconds": float(record["seconds"]) if reached else None,
                        "relative_gap": gap,
                    }
                )
                continue
            hit = history.index[history["relative_gap"] <= epsilon] if not failed else []
            first = history.loc[hit[0]] if len(hit) else None
            rows.append(
                {
                    **base,
                    "kind": "iterative",
                    "reached": first is not None,
                    "iterations": int(first["iteration"]) if first is not None else None,
                    "seconds": float(first["seconds"]) if first is not None else None,
                    "relative_gap": float(history["relative_gap"].iloc[-1]) if len(history) else None,
                }
            )
    frame = pd.DataFrame(rows, columns=TIME_TO_ACCURACY_COLUMNS)
    for column in ("iterations", "predicted_iterations"):
        frame[column] = frame[column].astype("Int64")
    frame["seconds"] = frame["seconds"].astype("float64")
    return frame


def repetition_summary(accuracy: pd.DataFrame) -> pd.DataFrame:
    """Across the repetitions of every fit (``results/fits/repetitions.parquet``), per dataset ×
    scaling × fit × ε: ``runs``, ``reached_runs``, median/min/max ``iterations`` and ``seconds``
    over the runs that reached ε, the seconds' interquartile range ``seconds_iqr`` and
    ``unstable`` (IQR/median > 0.1, with at least 3 timings), and the median/min/max final
    ``relative_gap``."""
    rows = []
    for (dataset, scaling, fit, epsilon), group in accuracy.groupby(
        ["dataset", "scaling", "fit", "epsilon"], sort=True
    ):
        hit = group[group["reached"]]
        seconds = hit["seconds"].to_numpy(dtype=np.float64)
        iterations = hit["iterations"].to_numpy(dtype=np.float64)
        gaps = group["relative_gap"].to_numpy(dtype=np.float64)
        iqr = float(np.subtract(*np.percentile(seconds, [75, 25]))) if len(seconds) else np.nan
        median = float(np.median(seconds)) if len(seconds) else np.nan
        rows.append(
            {
                "dataset": dataset,
                "scaling": scaling,
                "fit": fit,
                "epsilon": float(epsilon),
                "kind": group["kind"].iloc[0],
                "runs": len(group),
                "reached_runs": len(hit),
                "iterations_median": float(np.median(iterations)) if len(hit) else np.nan,
                "iterations_min": float(iterations.min()) if len(hit) else np.nan,
                "iterations_max": float(iterations.max()) if len(hit) else np.nan,
                "seconds_median": median,
                "seconds_min": float(seconds.min()) if len(hit) else np.nan,
                "seconds_max": float(seconds.max()) if len(hit) else np.nan,
                "seconds_iqr": iqr,
                "unstable": bool(len(seconds) >= 3 and median > 0 and iqr / median > UNSTABLE_IQR),
                "relative_gap_median": float(np.nanmedian(gaps)) if np.isfinite(gaps).any() else np.nan,
                "relative_gap_min": float(np.nanmin(gaps)) if np.isfinite(gaps).any() else np.nan,
                "relative_gap_max": float(np.nanmax(gaps)) if np.isfinite(gaps).any() else np.nan,
            }
        )
    return pd.DataFrame(rows)


def minimum_from_histories(histories: Mapping[tuple[str, str, str], pd.DataFrame]) -> dict[str, float]:
    """The least-squares MSE per scaling as the fits recorded it (``loss − gap`` of a history's
    first row: L* of the very data fitted, float64), for data too large to solve again here."""
    minimum: dict[str, float] = {}
    for (_, scaling, _), history in histories.items():
        if scaling not in minimum and not history.empty and "gap" in history:
            minimum[scaling] = float(history["loss"].iloc[0] - history["gap"].iloc[0])
    return minimum
