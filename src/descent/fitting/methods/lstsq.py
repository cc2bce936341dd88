"""``lstsq``: the certified closed form on ``[X, 1]`` (on ``X`` alone with ``fit_intercept: false``:
the Gram and the QR factor without the ones column, the bias exactly 0).

Solvers (setting ``lstsq_solver``):

* ``auto`` (default) — float64 throughout: the Gram of ``[X, 1, y]`` in one chunked pass; the
  equilibrated normal equations (Cholesky) when the equilibrated condition number is at most
  1e4, else a chunked float64 Householder QR (TSQR) solved by SVD with the data's own rank
  tolerance;
* ``normal_equations`` / ``qr`` — one of the two above, always;
* ``torch`` — ``torch.linalg.lstsq`` in the compute dtype on the configured device, columns
  equilibrated first, ``rcond`` from the data's precision (CUDA supports only the ``gels`` driver);
* ``torch_lesson`` — the Paris lesson's three lines verbatim: ``torch.linalg.lstsq`` on
  ``[x, 1]`` in the data's dtype (float32 for the lesson) with the default driver and
  ``rcond``, on the CPU, without equilibration — under ``torch.use_deterministic_algorithms``
  (the default driver is not bit-reproducible from run to run otherwise).

The float64 solvers (``auto``, ``normal_equations``, ``qr``) are then refined against the data as
stored, residuals accumulated in double-double, one pass a step, to the limit of float64
(:func:`descent.fitting.refine.refine`; the factor they already have is the preconditioner).
Every solution is certified by an extended-precision residual pass
(:func:`descent.fitting.refine.certified_solution`: error bound, certified digits); one that
fails is recorded with ``status: inaccurate`` and the reason, never as a fit.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from descent.fitting import closed_form as cf
from descent.fitting import refine
from descent.fitting.common import FitError, FitOutcome, resolve_device, resolve_dtype
from descent.fitting.method import Method, Option
from descent.fitting.partials import Partials
from descent.fitting.scaling import Standardization, standardize
from descent.fitting.settings import FitSettings

#: The solvers that run torch.linalg.lstsq (the data in memory, torch imported).
TORCH_SOLVERS = ("torch", "torch_lesson")


def _torch_solve(
    X: np.ndarray, y: np.ndarray, settings: FitSettings, stats: Standardization | None, verbatim: bool
) -> tuple[np.ndarray, dict[str, Any]]:
    """θ ((k+1,); the weights alone (k,) without an intercept) from ``torch.linalg.lstsq`` and
    what it reported (driver, its own rank)."""
    import torch

    device = "cpu" if verbatim else resolve_device(settings.device)
    dtype = resolve_dtype(settings.dtype, X.dtype)
    Xf, yf = standardize(X, y, stats) if stats is not None else (X, y)
    n, k = X.shape
    ones = [np.ones(n, dtype=dtype)] if settings.fit_intercept else []  # no column of ones without an intercept
    A = np.column_stack([np.asarray(Xf, dtype=dtype), *ones])
    norms = np.ones(A.shape[1]) if verbatim else np.linalg.norm(A.astype(np.float64), axis=0)
    norms[norms == 0] = 1.0
    if not verbatim:
        A /= norms.astype(dtype)
    # Copies into torch's own (64-byte aligned) memory: MKL's LAPACK picks its code path by the
    # buffers' alignment, so NumPy-owned memory can change the last bits from run to run.
    At = torch.tensor(A, device=device)
    yt = torch.tensor(np.asarray(yf, dtype=dtype), device=device).reshape(-1, 1)
    if verbatim:
        # The lesson's call, under torch's deterministic mode: the default CPU driver (gelsy) of
        # this MKL build gives different last bits from run to run, so the same config would
        # not give the same numbers; in deterministic mode torch takes a reproducible path.
        previous = torch.are_deterministic_algorithms_enabled()
        torch.use_deterministic_algorithms(True)
        try:
            solution = torch.linalg.lstsq(At, yt)
        finally:
            torch.use_deterministic_algorithms(previous)
        driver = "default (torch deterministic mode)"
    else:
        driver = settings.options["lstsq_driver"] if device == "cpu" else "gels"
        rcond = cf.rank_tolerance(k, X.dtype)
        solution = torch.linalg.lstsq(At, yt, driver=driver, rcond=None if driver == "gels" else rcond)
    if device == "cuda":
        torch.cuda.synchronize()
    theta = solution.solution.reshape(-1).double().cpu().numpy() / norms
    driver_rank = int(solution.rank) if solution.rank is not None and solution.rank.numel() else None
    return theta, {"driver": driver, "driver_rank": driver_rank, "dtype": str(dtype), "device": device}


def warm_up_torch_lstsq() -> None:
    """One-time set-up outside the timed region: the first switch into torch's deterministic
    mode costs about a second here, and LAPACK's first call some milliseconds; neither is the
    solve's cost."""
    import torch

    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    torch.use_deterministic_algorithms(previous)
    torch.linalg.lstsq(torch.eye(2), torch.ones(2, 1))


def solve(X: np.ndarray, y: np.ndarray, settings: FitSettings, stats: Standardization | None) -> FitOutcome:
    """Fit ``[X, 1]`` (n, k+1) — ``X`` alone with ``fit_intercept: false`` — to ``y`` (n,) in the
    fitted space (standardized by ``stats`` when given) with ``settings.lstsq_solver`` and certify
    the result."""
    solver = settings.options["lstsq_solver"]
    if solver in TORCH_SOLVERS:
        warm_up_torch_lstsq()
    return solve_chunks(lambda: cf.array_chunks(X, y), X.shape[1], X.dtype, settings, stats, arrays=(X, y))


def solve_chunks(
    chunks: Callable[[], cf.Chunks],
    k: int,
    data_dtype: np.dtype,
    settings: FitSettings,
    stats: Standardization | None,
    arrays: tuple[np.ndarray, np.ndarray] | None = None,
    partials: Partials | None = None,
) -> FitOutcome:
    """The certified closed form from row chunks of ``k`` features (``chunks()`` starts a fresh
    pass: one for the Gram, one more for the QR factor when needed), so data on disk is solved
    in bounded memory; the torch solvers need the data in memory (``arrays``: X (n, k), y (n,)).
    With ``partials`` (a sharded dataset's, reduced from one job per shard, standardized by
    ``stats``), their Gram and R factor replace those two passes; refinement and certificate
    still read the data."""
    solver = settings.options["lstsq_solver"]
    if solver in TORCH_SOLVERS and arrays is None:
        raise FitError(f"lstsq_solver {solver!r} needs the data in memory; use auto, qr or normal_equations")
    if partials is not None and solver in TORCH_SOLVERS:
        raise FitError(f"lstsq_solver {solver!r} solves the data itself: it takes no partial statistics")
    intercept = settings.fit_intercept
    if partials is not None and not intercept:
        raise FitError(
            "partial statistics are of the design with an intercept; fit_intercept: false solves from the data"
        )
    start = time.perf_counter()
    gram = partials.gram if partials is not None else cf.gram_of_chunks(chunks(), k, stats, intercept)
    sigma = cf.singular_values(gram)
    info: dict[str, Any] = {"dtype": "float64", "device": "cpu"}
    rcond = cf.rank_tolerance(k, data_dtype)
    qr = None
    if (
        not cf.gram_resolves(sigma)
        or solver == "qr"
        or (solver == "auto" and sigma[-1] * cf.NORMAL_EQUATIONS_MAX_CONDITION < sigma[0])
    ):
        qr = partials.r if partials is not None else cf.qr_of_chunks(chunks(), k, stats, intercept)
        sigma = cf.singular_values(gram, qr)
    rank = int((sigma > rcond * sigma[0]).sum()) if sigma[0] > 0 else 0
    torch_solver = solver in TORCH_SOLVERS
    if torch_solver and arrays is not None:
        theta, info = _torch_solve(*arrays, settings, stats, verbatim=solver == "torch_lesson")
        used = f"torch.linalg.lstsq{' (the lesson, verbatim)' if solver == 'torch_lesson' else ''}"
    elif qr is not None and solver != "normal_equations":
        theta, rank = cf.solve_qr(qr, gram, rcond)
        used = "qr"
    else:
        theta = cf.solve_normal_equations(gram)
        used = "normal_equations"
    tolerance = cf.certificate_tolerance(k, np.dtype(info["dtype"]), settings.certificate_factor)
    if torch_solver:  # torch's answer as it is, certified; the certificate is not the solve's time
        seconds = time.perf_counter() - start
    # Our own solvers are refined against the data as stored (residuals in double-double,
    # one pass a step) and certified by the last pass; see descent.fitting.refine.
    theta, original, certificate = refine.certified_solution(
        chunks, theta, gram, qr, sigma, rank, stats, tolerance, settings.certificate_max_error, improve=not torch_solver
    )
    if not torch_solver:
        seconds = time.perf_counter() - start
    extra = {"solver": used, "rank_rcond": rcond, **info}
    return cf.closed_form_outcome(theta, certificate, rank, seconds, extra, original=original, intercept=intercept)


def uses_torch(options: Mapping[str, Any]) -> bool:
    """Only the torch solvers import torch."""
    return options["lstsq_solver"] in TORCH_SOLVERS


METHOD = Method(
    name="lstsq",
    kind="closed_form",
    description=(
        "certified closed form in float64 (normal equations when well conditioned, else chunked QR); "
        "torch.linalg.lstsq and the lesson's verbatim call as solvers"
    ),
    colour="#000000",
    options={
        "lstsq_solver": Option(
            "string",
            "auto",
            "how lstsq solves: auto (float64 Gram, then equilibrated normal equations when the equilibrated "
            "condition number is at most 1e4, else chunked QR), normal_equations, qr, torch "
            "(torch.linalg.lstsq in the compute dtype on the configured device), torch_lesson (the Paris "
            "lesson's call verbatim); every result is certified",
            choices=("auto", "normal_equations", "qr", "torch", "torch_lesson"),
        ),
        "lstsq_driver": Option(
            "string",
            "gelsd",
            "LAPACK driver of torch.linalg.lstsq on CPU (gelsd, SVD, by default: the rank-revealing gelsy "
            "can misjudge the rank of tall, badly scaled float32 problems)",
            choices=("gelsd", "gelsy", "gelss", "gels"),
        ),
    },
    needs_torch=uses_torch,
    devices=("cpu", "cuda"),
    solve=solve,
    solve_chunks=solve_chunks,
    inference=True,
    reduces_partials=lambda options: options["lstsq_solver"] not in TORCH_SOLVERS,
)
