"""The summary of every fit (``results/fits/summary.parquet``) and of their predictions, and the
facts of each dataset it needs (the float64 least-squares reference and the conditioning of every
scaling), from a dataset in memory or streamed from its parquet chunk by chunk."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from descent.fitting.closed_form import (
    EPS64,
    Chunks,
    gram_of_chunks,
    qr_of_chunks,
    qr_without_intercept,
    solve_qr,
    without_intercept,
)
from descent.fitting.objective import least_squares_reference, mse
from descent.fitting.stream import chunk_statistics, parquet_chunks
from descent.fitting.theory import Conditioning, conditioning
from descent.io import DataFiles


@dataclass(frozen=True)
class Reference:
    """The float64 least-squares reference of one dataset: ``theta`` ((k+1,), weights then bias),
    its mean squared error and the design's numerical rank; ``origin`` the least squares through
    the origin (bias 0), the reference of the fits with ``fit_intercept: false`` (None when no
    fit of the dataset has one)."""

    theta: np.ndarray
    mse: float
    rank: int
    origin: Reference | None = None


def reference(X: np.ndarray, y: np.ndarray, origin: bool = False) -> Reference:
    """:class:`Reference` of data in memory (:func:`least_squares_reference`, NumPy's SVD solver),
    with the reference through the origin when ``origin``."""
    w_ref, b_ref, rank = least_squares_reference(X, y)
    through_origin = None
    if origin:
        w_0, _, rank_0 = least_squares_reference(X, y, intercept=False)
        through_origin = Reference(np.append(w_0, 0.0), mse(X, y, w_0, 0.0), rank_0)
    return Reference(np.append(w_ref, b_ref), mse(X, y, w_ref, b_ref), rank, through_origin)


def streamed_facts(
    chunks: Callable[[], Chunks], features: list[str], scalings: Iterable[str], origin: bool = False
) -> tuple[Reference, dict[str, Conditioning]]:
    """:class:`Reference` and the conditioning of each of ``scalings`` of a dataset too large to
    load, from row chunks (``chunks()`` starts a fresh pass; memory: one chunk): one pass for the
    float64 Gram of ``[X, 1, y]`` (the raw conditioning and the column norms), one for its
    Householder QR factor, one for the reference's squared residuals and, for ``standardized``,
    one for the statistics and one for the standardized Gram. The reference is the
    column-equilibrated minimum-norm least-squares solution, as :func:`least_squares_reference`'s,
    from an SVD of the equilibrated ``R`` with NumPy's cutoff ``eps·max(n, k+1)``; it agrees with
    the in-memory one to rounding. With ``origin``, also the reference through the origin
    (from the same ``R``, :func:`~descent.fitting.closed_form.qr_without_intercept`, one more pass
    for its residuals) and the conditioning of each scaling without the intercept (keys
    ``"{scaling} origin"``: the Gram without the ones column; standardized without centring)."""

    k = len(features)
    gram = gram_of_chunks(chunks(), k)
    n = int(round(gram[k, k]))  # the intercept column's sum of squares: the number of rows
    qr = qr_of_chunks(chunks(), k)
    theta, rank = solve_qr(qr, gram, EPS64 * max(n, k + 1))
    squares = sum(mse(X, y, theta[:-1], float(theta[-1])) * len(X) for X, y in chunks())
    through_origin = None
    conditionings: dict[str, Conditioning] = {}
    if origin:
        w_0, rank_0 = solve_qr(qr_without_intercept(qr), without_intercept(gram), EPS64 * max(n, k))
        squares_0 = sum(mse(X, y, w_0, 0.0) * len(X) for X, y in chunks())
        through_origin = Reference(np.append(w_0, 0.0), float(squares_0) / n, rank_0)
    for scaling in scalings:
        if scaling == "standardized":
            stats, _ = chunk_statistics(chunks(), features)
            conditionings[scaling] = conditioning(gram_of_chunks(chunks(), k, stats), n)
            if origin:
                scales, _ = chunk_statistics(chunks(), features, center=False)
                conditionings[f"{scaling} origin"] = conditioning(gram_of_chunks(chunks(), k, scales, False), n)
        else:
            conditionings[scaling] = conditioning(gram, n)
            if origin:
                conditionings[f"{scaling} origin"] = conditioning(without_intercept(gram), n)
    return Reference(theta, float(squares) / n, rank, through_origin), conditionings


def parquet_facts(
    path: DataFiles, features: list[str], target: str, scalings: Iterable[str], origin: bool = False
) -> tuple[Reference, dict[str, Conditioning]]:
    """:func:`streamed_facts` of a dataset's parquet (``descent.fitting.stream.parquet_chunks``)."""

    return streamed_facts(lambda: parquet_chunks(path, features, target), features, scalings, origin)


def fits_intercept(record: Mapping[str, Any]) -> bool:
    """Whether a fit record's model has an intercept (``settings.fit_intercept``; records written
    before the setting existed had one)."""
    return bool((record.get("settings") or {}).get("fit_intercept", True))


def true_theta(record: dict[str, Any]) -> np.ndarray:
    """``(w, b)`` true parameters of a fit's dataset ((k+1,)); all NaN when unknown (null in the
    record: a ``kind: file`` dataset), so distances and errors against them are NaN."""
    if record.get("true_weights") is None or record.get("true_bias") is None:
        return np.full(len(record["features"]) + 1, np.nan)
    return np.append(np.asarray(record["true_weights"], dtype=np.float64), float(record["true_bias"]))


def summarize_fits(
    records: list[dict[str, Any]], datasets: Mapping[str, Reference | Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row per fit (``results/fits/summary.parquet``) and one per prediction.

    Each fit is compared in original units, as the vector ``θ = (w, b)``, with an independent
    float64 NumPy least-squares solution of its dataset (``dist_to_lstsq``, relative
    ``rel_dist_to_lstsq = ‖θ − θ*‖/‖θ*‖``, ``mse_excess`` over the least-squares MSE) and with the
    true parameters (``dist_to_true``); ``status`` (and its reason), the stall and the
    closed-form certificate are carried over (``certificate_ok`` is null for iterative fits).
    ``datasets`` maps names to each dataset's :class:`Reference` (computed beforehand, one
    dataset at a time) or to a loaded dataset (``.X``, ``.y``), whose reference is computed here.
    A fit with ``fit_intercept: false`` (column ``fit_intercept``) is compared with the least
    squares through the origin (:attr:`Reference.origin`), its bias 0.
    """
    origin_needed = {record["dataset"] for record in records if not fits_intercept(record)}
    references: dict[tuple[str, bool], tuple[np.ndarray, float, int]] = {}
    for name, data in datasets.items():
        ref = data if isinstance(data, Reference) else reference(data.X, data.y, origin=name in origin_needed)
        references[name, True] = (ref.theta, ref.mse, ref.rank)
        if ref.origin is not None:
            references[name, False] = (ref.origin.theta, ref.origin.mse, ref.origin.rank)
        elif name in origin_needed:
            raise ValueError(f"dataset {name}: a fit without an intercept needs the reference through the origin")
    rows, prediction_rows = [], []
    for record in sorted(records, key=lambda r: (r["dataset"], r["scaling"], r["method"])):
        if record["status"] == "skipped":  # no parameters: every distance is NaN
            k = len(record["features"])
            record = {**record, "weights": [np.nan] * k, "bias": np.nan, "mse": np.nan}
        theta = np.append(np.asarray(record["weights"], dtype=np.float64), record["bias"])
        theta_true = true_theta(record)  # NaN when unknown (a kind: file dataset)
        # A fit through the origin is compared with the least squares through the origin.
        theta_ref, mse_ref, rank = references[record["dataset"], fits_intercept(record)]
        certificate = record.get("certificate") or {}
        rows.append(
            {
                "dataset": record["dataset"],
                "scaling": record["scaling"],
                "method": record["method"],
                "fit": record["settings"].get("fit") or record["method"],
                "repetition": int(record["settings"].get("repetition", 0)),
                "base_method": record["base_method"],
                "features": record["features"],
                "weights": record["weights"],
                "bias": record["bias"],
                "fit_intercept": fits_intercept(record),
                "true_weights": record["true_weights"],
                "true_bias": record["true_bias"],
                "lstsq_weights": theta_ref[:-1].tolist(),
                "lstsq_bias": float(theta_ref[-1]),
                "mse": record["mse"],
                "lstsq_mse": mse_ref,
                "mse_excess": record["mse"] - mse_ref,
                "dist_to_lstsq": float(np.linalg.norm(theta - theta_ref)),
                "rel_dist_to_lstsq": float(np.linalg.norm(theta - theta_ref) / np.linalg.norm(theta_ref)),
                "dist_to_true": float(np.linalg.norm(theta - theta_true)),
                "status": record["status"],
                "status_reason": record.get("status_reason", ""),
                "iterations": int(record["iterations"]),
                "converged": bool(record["converged"]),
                "diverged": bool(record["diverged"]),
                "diverged_at": record.get("diverged_at"),
                "lr": record.get("lr"),
                "final_grad_norm": record.get("final_grad_norm"),
                "seconds": float(record["seconds"]),
                "device": record["device"],
                "rank": record.get("rank", rank),
                "rank_deficient": bool(record.get("rank_deficient", False)),
                "stalled": bool(record.get("stalled", False)),
                "precision_reached": record.get("precision_reached"),
                "certificate_ok": certificate.get("ok"),
                "condition_number": certificate.get("condition_number"),
                "normal_residual": certificate.get("normal_residual"),
                "error_bound": certificate.get("error_bound"),
                "certified_digits": certificate.get("certified_digits"),
            }
        )
        for prediction in record.get("predictions", []):
            prediction_rows.append(
                {
                    "dataset": record["dataset"],
                    "scaling": record["scaling"],
                    "method": record["method"],
                    "status": record["status"],
                    "inputs": prediction["inputs"],
                    "prediction": prediction["prediction"],
                    "true_value": float(np.asarray(prediction["inputs"]) @ theta_true[:-1] + theta_true[-1]),
                }
            )
    summary = pd.DataFrame(rows)
    summary["diverged_at"] = summary["diverged_at"].astype("Int64")
    summary["certificate_ok"] = summary["certificate_ok"].astype("boolean")
    for column in (
        "condition_number",
        "normal_residual",
        "error_bound",
        "certified_digits",
        "precision_reached",
        "true_bias",
    ):
        summary[column] = summary[column].astype("float64")
    predictions = pd.DataFrame(
        prediction_rows, columns=["dataset", "scaling", "method", "status", "inputs", "prediction", "true_value"]
    )
    return summary, predictions
