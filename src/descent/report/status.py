"""The status of each fit, as its fitting job recorded it, and the report's words for it.

Every fit JSON and every row of ``results/fits/summary.parquet`` carries ``status``, one of
:data:`STATUSES` (issue #12). The report never re-derives it from ``converged``/``diverged``; it
only groups the statuses into what the page shows:

``failed`` (:data:`FAILED_STATUSES`: ``diverged``, ``inaccurate``)
    red; never shown as a fit: never ★ best, left out of the findings about fits, and its
    predictions are listed with the reason instead of as numbers;
``not converged`` (:data:`UNCONVERGED_STATUSES`: ``stalled``, ``max_iterations``,
    ``false_convergence``)
    amber; a false convergence says how far from the certified least squares its stopping test was
    met, and why (the recorded reason); a stalled fit says at which relative gradient norm it stalled, and whether that is the
    precision of its dtype (:func:`precision_floor`) or a lack of progress (e.g. mini-batch noise);
``diverging`` (derived here, not recorded)
    red like a failed fit: an iterative fit that stopped for another reason (its iteration cap,
    a stall) while its loss grew to :data:`DIVERGING_GROWTH` times its first recorded loss or
    more — diverging, even though it stayed below the fit stage's ``divergence_factor`` (which
    stops a fit and records ``diverged``). The report derives it from the fit's history
    (:func:`loss_path`), since the fit stage records no such status;
``skipped`` (``skipped``)
    grey; a fit that could not run on this machine (a ``device: cuda`` fit without CUDA): no
    numbers, its recorded reason instead, never best, no predictions;
``ok`` (``converged``, ``closed_form``)
    a fit.

A fit whose parameters or MSE are not finite is failed whatever its status says (a safety net:
such numbers are never shown as a fit). A status the report does not know is failed too, and
says so.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from descent.report.words import Words

CONVERGED = "converged"
FALSE_CONVERGENCE = "false_convergence"
STALLED = "stalled"
MAX_ITERATIONS = "max_iterations"
DIVERGED = "diverged"
INACCURATE = "inaccurate"
CLOSED_FORM = "closed_form"
SKIPPED = "skipped"

#: Every status a fit may record.
STATUSES: tuple[str, ...] = (
    CONVERGED,
    FALSE_CONVERGENCE,
    STALLED,
    MAX_ITERATIONS,
    DIVERGED,
    INACCURATE,
    CLOSED_FORM,
    SKIPPED,
)
#: Failed fits: red, never shown as a fit.
FAILED_STATUSES: frozenset[str] = frozenset({DIVERGED, INACCURATE})
#: Iterative fits that did not reach the answer: stopped before meeting their convergence test,
#: or met it off the certified least squares (false convergence): amber.
UNCONVERGED_STATUSES: frozenset[str] = frozenset({STALLED, MAX_ITERATIONS, FALSE_CONVERGENCE})

#: A fit whose loss ends at this many times its first recorded loss or more is diverging (one
#: order of magnitude: descent on a convex loss never raises it that far unless it diverges).
DIVERGING_GROWTH = 10.0

#: What the page groups the statuses into (the row's CSS class is ``failed``/``unconverged``).
CATEGORY_FAILED = "failed"
CATEGORY_UNCONVERGED = "not converged"
CATEGORY_OK = "ok"
#: A fit that could not run on this machine (e.g. a CUDA fit without CUDA): grey, no numbers.
CATEGORY_SKIPPED = "skipped"


def _present(value: Any) -> bool:
    """Not None/NA/NaN."""
    if value is None:
        return False
    try:
        return not (value != value)  # NaN and pd.NA compare unequal / ambiguous
    except (TypeError, ValueError):
        return False


def _true(value: Any) -> bool:
    """Present and true (Python, NumPy or pandas booleans)."""
    return _present(value) and bool(value)


def finite_parameters(row: Mapping[str, Any]) -> bool:
    """Whether ``weights`` (shape ``(k,)``), ``bias`` and ``mse`` of a fit are all finite numbers."""
    weights = row.get("weights")
    values: list[Any] = [row.get("bias"), row.get("mse"), *(list(weights) if weights is not None else [])]
    try:
        return all(v is not None and math.isfinite(float(v)) for v in values)
    except (TypeError, ValueError):
        return False


def loss_path(history: Any) -> tuple[float, float] | None:
    """``(first, last)`` recorded loss of a fit's history (a frame with a ``loss`` column, in
    the space the fit ran in), or ``None`` without one."""
    if history is None or "loss" not in getattr(history, "columns", ()) or len(history) == 0:
        return None
    return float(history["loss"].iloc[0]), float(history["loss"].iloc[-1])


def is_diverging(status: Any, path: tuple[float, float] | None) -> bool:
    """Whether a fit that was not stopped as ``diverged`` nevertheless diverged: its loss ended
    at :data:`DIVERGING_GROWTH` times its first recorded loss or more (``path``: :func:`loss_path`)."""
    if path is None or status in (DIVERGED, SKIPPED, CLOSED_FORM):
        return False
    start, end = path
    return math.isfinite(start) and start > 0 and (not math.isfinite(end) or end >= DIVERGING_GROWTH * start)


def status_category(status: Any, finite: bool = True, diverging: bool = False) -> str:
    """:data:`CATEGORY_FAILED`, :data:`CATEGORY_UNCONVERGED`, :data:`CATEGORY_SKIPPED` or
    :data:`CATEGORY_OK` for a recorded status (a skipped fit has no parameters to be finite); a
    ``diverging`` fit (:func:`is_diverging`) is failed whatever it recorded."""
    if status == SKIPPED:
        return CATEGORY_SKIPPED
    if not finite or diverging or status in FAILED_STATUSES or status not in STATUSES:
        return CATEGORY_FAILED
    if status in UNCONVERGED_STATUSES:
        return CATEGORY_UNCONVERGED
    return CATEGORY_OK


def fit_dtype(record: Mapping[str, Any], data_dtype: str | None = None) -> str | None:
    """The dtype a fit computed in: its record's ``dtype``, else its resolved ``settings.dtype``
    unless that is ``'data'``, else ``data_dtype`` (the dataset's)."""
    if record.get("dtype"):
        return str(record["dtype"])
    setting = (record.get("settings") or {}).get("dtype")
    if setting and setting != "data":
        return str(setting)
    return data_dtype


def precision_floor(dtype: str) -> float:
    """The relative gradient-norm reduction below which a stall is put down to the dtype's
    precision: ``sqrt(eps)`` (float32 ≈ 3.5e-4, float64 ≈ 1.5e-8); 0 for an unknown dtype."""
    eps = {"float16": 2.0**-10, "bfloat16": 2.0**-7, "float32": 2.0**-23, "float64": 2.0**-52}.get(dtype)
    return math.sqrt(eps) if eps else 0.0


def _certificate(row: Mapping[str, Any], record: Mapping[str, Any]) -> dict[str, Any]:
    """The closed-form certificate from the record, else from the summary's columns."""
    certificate = dict(record.get("certificate") or {})
    for key, column in (
        ("normal_residual", "normal_residual"),
        ("condition_number", "condition_number"),
        ("ok", "certificate_ok"),
    ):
        if key not in certificate and _present(row.get(column)):
            certificate[key] = row.get(column)
    return certificate


def _value(value: Any) -> Any:
    """``value``, or ``None`` when absent (None/NA/NaN)."""
    return value if _present(value) else None


def status_facts(
    row: Mapping[str, Any],
    record: Mapping[str, Any] | None = None,
    data_dtype: str | None = None,
    path: tuple[float, float] | None = None,
) -> dict[str, Any]:
    """What ``status.j2`` says of a fit's recorded status: the status, whether its numbers are
    finite, and the fields its reason names (``row``: a summary row; ``record``: the fit's JSON
    with its certificate, settings and rank, optional; ``path``: its first and last recorded
    loss, :func:`loss_path`, for ``diverging``)."""
    record = record or {}
    settings = record.get("settings") or {}
    reached = _value(row.get("precision_reached", record.get("precision_reached")))
    dtype = fit_dtype(record, data_dtype)
    cert = _certificate(row, record)
    at: Any = row.get("diverged_at", record.get("diverged_at"))
    iterations: Any = row.get("iterations")
    rank = record.get("rank", row.get("rank"))
    recorded = row.get("status_reason", record.get("status_reason"))
    return {
        "status": row.get("status"),
        "finite": finite_parameters(row),
        "diverged_at": int(at) if _present(at) else None,
        "certificate": {
            "reason": cert.get("reason") or None,
            "normal_residual": float(cert["normal_residual"]) if _present(cert.get("normal_residual")) else None,
            "tolerance": float(cert["tolerance"]) if _present(cert.get("tolerance")) else None,
            "condition_number": float(cert["condition_number"]) if _present(cert.get("condition_number")) else None,
            "ok": _true(cert.get("ok")),
        },
        "dtype": dtype,
        "reached": float(reached) if reached is not None else None,
        "at_precision": bool(dtype) and reached is not None and float(reached) <= precision_floor(str(dtype)),
        "tolerance": float(settings["tolerance"]) if _present(settings.get("tolerance")) else None,
        "iterations": int(iterations) if _present(iterations) else None,
        "cap": int(settings["iterations"]) if _present(settings.get("iterations")) else None,
        "rank_deficient": _true(record.get("rank_deficient", row.get("rank_deficient"))),
        "rank": int(rank) if _present(rank) else None,
        "recorded": str(recorded).strip() if _present(recorded) else "",
        "diverging": (
            {"start": path[0], "end": path[1], "growth": path[1] / path[0]}
            if path is not None and is_diverging(row.get("status"), path)
            else None
        ),
        "divergence_factor": (
            float(settings["divergence_factor"]) if _present(settings.get("divergence_factor")) else None
        ),
    }


def status_reason(
    row: Mapping[str, Any],
    record: Mapping[str, Any] | None = None,
    data_dtype: str | None = None,
    words: Any = None,
    path: tuple[float, float] | None = None,
) -> str:
    """The recorded status in words, with its reason, e.g. ``'diverged at iteration 2'`` or
    ``'stalled at 3e-6 relative gradient norm (float32 precision; tolerance 1e-8)'``: the
    template ``status.j2`` on :func:`status_facts` (``words``: a
    :class:`descent.report.words.Words`, default the built-in templates). A reason the fit
    recorded itself (``status_reason``) follows the words, unless they already say it.
    """
    if words is None:
        words = Words()
    return str(words.text("status", "reason", status_facts(row, record, data_dtype, path)))


def status_text(
    row: Mapping[str, Any],
    record: Mapping[str, Any] | None = None,
    data_dtype: str | None = None,
    words: Any = None,
    path: tuple[float, float] | None = None,
) -> str:
    """The status cell: category and reason, e.g. ``'failed: diverged at iteration 2'``,
    ``'not converged: stalled at …'``, ``'converged'``, ``'closed form, certified (…)'``,
    ``'failed: diverging — loss grew …'`` (``path``: :func:`loss_path` of its history)."""
    reason = status_reason(row, record, data_dtype, words, path)
    category = status_category(row.get("status"), finite_parameters(row), is_diverging(row.get("status"), path))
    return reason if category in (CATEGORY_OK, CATEGORY_SKIPPED) else f"{category}: {reason}"


def require_status(columns: Sequence[str], what: str = "results/fits/summary.parquet") -> None:
    """Raise ``ValueError`` when a table has no ``status`` column (written before fits recorded it)."""
    if "status" not in columns:
        raise ValueError(
            f"{what} has no 'status' column: it was written before fits recorded their status; "
            "rerun the fits with this version of descent"
        )
