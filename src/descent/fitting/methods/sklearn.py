"""``sklearn``: scikit-learn's ``LinearRegression``, an independent reference, certified like every closed form."""

from __future__ import annotations

import time

import numpy as np

from descent.fitting import closed_form as cf
from descent.fitting import refine
from descent.fitting.common import FitOutcome, resolve_dtype
from descent.fitting.method import Method
from descent.fitting.scaling import Standardization, standardize
from descent.fitting.settings import FitSettings


def solve(X: np.ndarray, y: np.ndarray, settings: FitSettings, stats: Standardization | None) -> FitOutcome:
    """``LinearRegression(fit_intercept=…).fit`` on ``X`` (n, k), ``y`` (n,) in the compute dtype (standardized
    by ``stats`` when given), certified against the data as stored (:func:`descent.fitting.refine.certified_solution`)."""
    from sklearn.linear_model import LinearRegression

    dtype = resolve_dtype(settings.dtype, X.dtype)
    Xf, yf = standardize(X, y, stats) if stats is not None else (X, y)
    k = X.shape[1]
    intercept = settings.fit_intercept
    start = time.perf_counter()
    model = LinearRegression(fit_intercept=intercept).fit(np.asarray(Xf, dtype=dtype), np.asarray(yf, dtype=dtype))
    seconds = time.perf_counter() - start
    theta = cf.design_theta(np.asarray(model.coef_, dtype=np.float64), float(model.intercept_), intercept)
    gram = cf.design_gram(X, y, stats, intercept=intercept)
    sigma = cf.singular_values(gram)
    qr = None
    if not cf.gram_resolves(sigma) or sigma[-1] * cf.NORMAL_EQUATIONS_MAX_CONDITION < sigma[0]:
        qr = cf.design_qr(X, y, stats, intercept=intercept)
        sigma = cf.singular_values(gram, qr)
    rcond = cf.rank_tolerance(k, X.dtype)
    rank = int((sigma > rcond * sigma[0]).sum()) if sigma[0] > 0 else 0
    tolerance = cf.certificate_tolerance(k, dtype, settings.certificate_factor)
    # scikit-learn's answer as it is (never refined), certified by an extended-precision pass.
    theta, original, certificate = refine.certified_solution(
        lambda: cf.array_chunks(X, y),
        theta,
        gram,
        qr,
        sigma,
        rank,
        stats,
        tolerance,
        settings.certificate_max_error,
        improve=False,
    )
    extra = {
        "dtype": str(dtype),
        "device": "cpu",
        "solver": "sklearn.linear_model.LinearRegression",
        "sklearn_rank": int(model.rank_),
        "rank_rcond": rcond,
    }
    return cf.closed_form_outcome(theta, certificate, rank, seconds, extra, original=original, intercept=intercept)


METHOD = Method(
    name="sklearn",
    kind="closed_form",
    description="sklearn.linear_model.LinearRegression, an independent reference",
    colour="#7f7f7f",
    solve=solve,
    inference=True,
)
