"""What every fitting module shares: the error type, the outcome record, devices and dtypes."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pandas is heavy: the rules import this module while Snakemake parses
    import pandas as pd


class FitError(ValueError):
    """The data cannot be fitted as asked (e.g. a constant feature under standardization)."""


#: Every fit ends in exactly one of these (the ``status`` field of fit JSONs and the summary).
STATUSES: tuple[str, ...] = (
    "converged",
    "false_convergence",
    "stalled",
    "max_iterations",
    "diverged",
    "inaccurate",
    "closed_form",
    "skipped",
)
#: ``skipped``: a fit that could not run on this machine (a CUDA fit without CUDA), with the reason.
#: ``false_convergence``: an iterative fit whose stopping test was met while its loss gap to the
#: certified least squares is far above its tolerance (:func:`descent.fitting.convergence.check_convergence`).
#: Statuses of results that are not fits at all (shown red, never used as a fit).
FAILED_STATUSES: tuple[str, ...] = ("diverged", "inaccurate")


@dataclass
class FitOutcome:
    """What a fit found, in the space it was fitted in (``weights`` (k,), ``bias``), before mapping back.

    ``history`` has one row per iteration (loss and parameters *before* that iteration's update,
    and ``grad_norm`` of the mean loss) plus a final row with the parameters returned, whose
    ``iteration`` equals ``iterations`` (the number of updates applied).
    """

    weights: np.ndarray
    bias: float
    iterations: int
    converged: bool
    diverged: bool
    status: str
    diverged_at: int | None = None
    seconds: float = 0.0
    device: str = "cpu"
    history: pd.DataFrame | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    #: Weights then bias ((k+1,)) in original units when the fit computed them there at full
    #: precision (the refined closed forms); mapping ``weights``/``bias`` back would cancel
    #: digits of the bias on offset data.
    original: np.ndarray | None = None


def require_no_bias(outcome: FitOutcome, intercept: bool, method: str) -> None:
    """Raise :class:`FitError` when a fit with ``fit_intercept: false`` (``intercept`` False)
    came back with a bias other than 0: its method ignored the setting (a plugin's solver that
    does not read ``settings.fit_intercept``), so its answer is not the model asked for."""
    if not intercept and (outcome.bias != 0.0 or (outcome.original is not None and outcome.original[-1] != 0.0)):
        raise FitError(
            f"fit_intercept: false, but method {method} returned bias {outcome.bias!r}: its solver ignores "
            "settings.fit_intercept (solve on X alone and return bias 0)"
        )


def kept_layout(X: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``X`` (n, k) in ``dtype``, row-major unless it is column-major already (then kept so:
    large data are loaded column-major for the fused gradient pass); copied only when needed."""
    if X.ndim == 2 and X.shape[1] > 1 and X.flags.f_contiguous and not X.flags.c_contiguous:
        return np.asfortranarray(X, dtype=dtype)
    return np.ascontiguousarray(X, dtype=dtype)


def writable(array: np.ndarray) -> np.ndarray:
    """``array``, copied only when read-only (torch warns on sharing read-only memory)."""
    return array if array.flags.writeable else array.copy()


def resolve_device(requested: str) -> str:
    """``'cpu'``, or ``'cuda'`` when requested/available; ``'cuda'`` without CUDA raises FitError."""
    import torch

    if requested == "cpu":
        return "cpu"
    if torch.cuda.is_available():
        return "cuda"
    if requested == "cuda":
        raise FitError("device 'cuda' requested but CUDA is not available (set fits.settings.device to cpu or auto)")
    return "cpu"


def resolve_dtype(requested: str, data_dtype: np.dtype) -> np.dtype:
    """The compute dtype: the data's own for ``'data'``, else the one named."""
    return np.dtype(data_dtype) if requested == "data" else np.dtype(requested)


#: Threads this process computes with (:func:`set_threads`); None: every usable CPU.
_THREADS: int | None = None


def compute_threads() -> int:
    """The threads a fit computes with: as set by :func:`set_threads`, else every usable CPU
    (the fused passes of :mod:`descent.fitting.fused` share their blocks among them)."""
    return _THREADS if _THREADS is not None else max(1, len(os.sched_getaffinity(0)))


def set_threads(threads: int, uses_torch: bool = True) -> None:
    """Limit torch (imported only when the method uses it: it costs seconds per job), the
    BLAS libraries and the fused passes (:func:`compute_threads`) to ``threads`` threads."""
    from threadpoolctl import threadpool_limits

    global _THREADS
    _THREADS = max(1, int(threads))
    threadpool_limits(threads)
    if uses_torch:
        import torch

        torch.set_num_threads(threads)
