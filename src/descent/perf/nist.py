"""NIST StRD digits table: correct significant digits (LRE, NIST's measure) of every closed-form
path of the project and of NumPy, scikit-learn and statsmodels, side by side, on the NIST
linear-regression datasets the project can build (:mod:`descent.datasets.nist`).

Digits are counted against the exact least-squares solution of the float64 data as stored
(:func:`descent.fitting.exact.exact_least_squares`): the most a float64 solver can reach. The
``stored_limit`` column says how far that solution itself is from NIST's certified values (the
decimal data's exact solution): the rounding of the data to float64, which no solver can undo.
``before`` is the project's default solver without the refinement (its float64 Cholesky or QR
solve alone), for comparison.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any

import numpy as np

from descent.datasets.nist import NIST_DATASETS, NistDataset, certified, nist_dataset
from descent.fitting import closed_form as cf
from descent.fitting.exact import digits, exact_least_squares
from descent.fitting.records import fit
from descent.fitting.refine import to_original
from descent.fitting.scaling import standardization_stats
from descent.perf.tables import format_table

#: The project's closed-form paths: (column, method, lstsq_solver).
PROJECT_PATHS: tuple[tuple[str, str, str | None], ...] = (
    ("auto", "lstsq", "auto"),
    ("normal_equations", "lstsq", "normal_equations"),
    ("qr", "lstsq", "qr"),
    ("torch", "lstsq", "torch"),
    ("sklearn method", "sklearn", None),
)
#: Other libraries, fitted on the raw data: (column, solver of X (n, k), y (n,), dataset → θ).
LIBRARIES: tuple[str, ...] = ("numpy.linalg.lstsq", "numpy.polyfit", "scikit-learn", "statsmodels")
SCALINGS: tuple[str, ...] = ("raw", "standardized")


def _numpy_lstsq(data: NistDataset) -> np.ndarray:
    ones = [np.ones(len(data.X))] if data.fit_intercept else []
    theta = np.linalg.lstsq(np.column_stack([data.X, *ones]), data.y, rcond=None)[0]
    return theta if data.fit_intercept else np.append(theta, 0.0)


def _polyfit(data: NistDataset) -> np.ndarray | None:
    if data.x is None or data.degree is None or not data.fit_intercept:  # polyfit always fits c_0
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # polyfit warns "poorly conditioned" on Wampler: that is the point
        coefficients = np.polyfit(data.x, data.y, data.degree)[::-1]  # c_0 .. c_degree
    return np.append(coefficients[1:], coefficients[0])


def _sklearn(data: NistDataset) -> np.ndarray:
    from sklearn.linear_model import LinearRegression

    model = LinearRegression(fit_intercept=data.fit_intercept).fit(data.X, data.y)
    return np.append(model.coef_, model.intercept_)


def _statsmodels(data: NistDataset) -> np.ndarray:
    import statsmodels.api as sm

    if not data.fit_intercept:  # a model without a constant: the design as it is
        return np.append(np.asarray(sm.OLS(data.y, data.X).fit().params), 0.0)
    params = np.asarray(sm.OLS(data.y, sm.add_constant(data.X, has_constant="add")).fit().params)
    return np.append(params[1:], params[0])


LIBRARY_SOLVERS: dict[str, Callable[[NistDataset], np.ndarray | None]] = {
    "numpy.linalg.lstsq": _numpy_lstsq,
    "numpy.polyfit": _polyfit,
    "scikit-learn": _sklearn,
    "statsmodels": _statsmodels,
}


def unrefined_default(data: NistDataset, scaling: str) -> np.ndarray:
    """θ ((k+1,), original units; the bias 0 without an intercept) of the default solver's
    float64 solve without refinement: the equilibrated Cholesky below κ = 1e4, else the chunked
    QR (what ``lstsq auto`` returned before the refinement)."""
    X, y, intercept = data.X, data.y, data.fit_intercept
    stats = standardization_stats(X, y, center=intercept) if scaling == "standardized" else None
    gram = cf.design_gram(X, y, stats, intercept=intercept)
    sigma = cf.singular_values(gram)
    if not cf.gram_resolves(sigma) or sigma[-1] * cf.NORMAL_EQUATIONS_MAX_CONDITION < sigma[0]:
        qr = cf.design_qr(X, y, stats, intercept=intercept)
        theta, _ = cf.solve_qr(qr, gram, cf.rank_tolerance(X.shape[1], X.dtype))
    else:
        theta = cf.solve_normal_equations(gram)
    original = to_original(theta, stats)
    return original if intercept else np.append(original, 0.0)


def digits_row(data: NistDataset, scaling: str, settings: Callable[..., Any]) -> dict[str, Any]:
    """One row of the table (a model through the origin, NoInt1/2, fitted with ``fit_intercept:
    false`` by every column): ``dataset``, ``scaling``, ``n``, ``k``, ``condition_number`` (the
    fitted design's, equilibrated), ``stored_limit`` (LRE of the stored data's exact solution
    against NIST's certified values), ``digits`` {column: LRE}, ``certified_digits`` {column: the
    certificate's}, ``status`` {column}, ``bound_over_error`` {column: the certificate's
    equilibrated error bound over the actual equilibrated error}, ``seconds``.
    ``settings(method, **changes)`` gives a method's workflow settings."""

    start = time.perf_counter()
    intercept = data.fit_intercept
    exact = exact_least_squares(data.X, data.y, intercept=intercept)
    exact = exact if intercept else [*exact, Fraction(0)]  # weights then bias, exactly 0 without an intercept
    limit = digits([float(v) for v in exact], certified(data))
    # Column norms of the design fitted ([X, 1], or X alone: the bias is no component there).
    d = np.append(np.linalg.norm(data.X, axis=0), np.sqrt(len(data.X)) if intercept else 0.0)
    row: dict[str, Any] = {
        "dataset": data.name,
        "scaling": scaling,
        "source": data.source,
        "n": int(data.X.shape[0]),
        "k": int(data.X.shape[1]),
        "fit_intercept": intercept,
        "stored_limit": limit,
        "digits": {"before": digits(unrefined_default(data, scaling), exact)},
        "certified_digits": {},
        "status": {},
        "bound_over_error": {},
    }
    for column, method, solver in PROJECT_PATHS:
        changes: dict[str, Any] = {"lstsq_solver": solver} if solver else {}
        changes["fit_intercept"] = intercept
        outcome, w, b = fit(data.X, data.y, scaling, settings(method, **changes))
        theta = np.append(w, b)
        certificate = outcome.extra["certificate"]
        row["digits"][column] = digits(theta, exact)
        row["certified_digits"][column] = float(certificate["certified_digits"])
        row["status"][column] = outcome.status
        actual = np.array([abs(float(Fraction(float(t)) - c)) for t, c in zip(theta, exact)])
        error = float(np.linalg.norm(d * actual) / np.linalg.norm(d * theta))
        row["bound_over_error"][column] = float(certificate["error_bound"]) / error if error > 0 else None
        if column == "auto":
            row["condition_number"] = float(certificate["condition_number"])
    for column in LIBRARIES:
        theta_lib = LIBRARY_SOLVERS[column](data) if scaling == "raw" else None
        row["digits"][column] = None if theta_lib is None else digits(theta_lib, exact)
    row["seconds"] = time.perf_counter() - start
    return row


def nist_table(settings: Callable[..., Any], names: Sequence[str] = NIST_DATASETS) -> dict[str, Any]:
    """The digits table of ``names`` × :data:`SCALINGS` (see :func:`digits_row`), with the
    datasets that could not be built and why."""
    rows: list[dict[str, Any]] = []
    missing: dict[str, str] = {}
    for name in names:
        try:
            data = nist_dataset(name)
        except (FileNotFoundError, ImportError) as error:
            missing[name] = str(error)
            continue
        rows.extend(digits_row(data, scaling, settings) for scaling in SCALINGS)
    return {
        "reference": "exact least squares of the float64 data (fractions)",
        "columns": ["before", *[c for c, _, _ in PROJECT_PATHS], *LIBRARIES],
        "rows": rows,
        "missing": missing,
        "not_shipped": ["pontius", "filip", "wampler3", "wampler4", "wampler5"],
    }


def format_digits(table: dict[str, Any]) -> str:
    """The table as text: one line per dataset × scaling, LRE per column (``-``: not applicable),
    ``*`` after a value whose fit was flagged ``inaccurate``, then the certified digits and the
    bound/error ratio of ``auto``."""

    columns = table["columns"]
    lines = []
    for row in table["rows"]:
        cells = [row["dataset"], row["scaling"], f"{row['condition_number']:.1e}", f"{row['stored_limit']:.1f}"]
        for column in columns:
            value = row["digits"].get(column)
            flagged = row["status"].get(column) == "inaccurate"
            cells.append("-" if value is None else f"{value:.1f}{'*' if flagged else ''}")
        ratio = row["bound_over_error"].get("auto")
        cells.append(f"{row['certified_digits']['auto']:.1f}")
        cells.append("-" if ratio is None else f"{ratio:.2g}")
        lines.append(cells)
    header = ["dataset", "scaling", "κ", "stored", *columns, "auto certified", "bound/error"]
    return format_table(lines, header)
