"""NIST StRD linear-regression datasets that can be built exactly or read from a pinned package,
never downloaded: the field's yardstick for least squares.

* ``longley`` — 16 × 6, collinear macro-economic table (statsmodels' copy,
  ``statsmodels.datasets.longley``);
* ``norris`` — 36 × 1, a calibration line (SciPy ships NIST's own file:
  ``scipy/stats/tests/data/nist_linregress/Norris.dat``, with its certified values);
* ``wampler1`` / ``wampler2`` — 21 × 5, ``y = Σ_p c_p·x^p`` for ``x = 0..20``, ``c = 1`` and
  ``c = 10^-p`` (exact formulas; Wampler 1's solution is all ones);
* ``noint1`` / ``noint2`` — regression through the origin (``fit_intercept`` False: ``y ≈ B1·x``,
  no intercept), NIST's tables being short enough to write out: NoInt1 ``x = 60..70``,
  ``y = 130..140`` (11 rows), NoInt2 ``x = 4, 5, 6``, ``y = 3, 4, 4``; their certified B1 and
  residual standard deviation (``published``, ``residual_sd``) are checked against exact
  arithmetic by the tests.

Pontius, Filip and Wampler 3–5 are not in any pinned package and are not shipped.

:func:`certified` gives the exact least-squares solution of the data *as NIST publishes them*
(decimal values: each float64 read back through its shortest repr, which is the decimal literal
for data of at most 15 significant digits) in Fractions — the certified values to every digit;
:func:`descent.fitting.exact.exact_least_squares` of the float64 arrays gives the yardstick of
what a float64 solver can reach on the stored data.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from descent.fitting.exact import solve_exact

#: The datasets this module can build, in the order of the digits table.
NIST_DATASETS: tuple[str, ...] = ("norris", "noint1", "noint2", "longley", "wampler1", "wampler2")


@dataclass(frozen=True)
class NistDataset:
    """``X`` (n, k) and ``y`` (n,) in float64; ``x`` (n,) the single variable of a polynomial
    design (``degree``) or None; ``source`` in words; ``published`` NIST's certified values (weights
    then intercept, 0 for a model without one; None when not shipped with the data) and
    ``residual_sd`` its certified residual standard deviation (None when not shipped);
    ``fit_intercept`` False for NIST's models through the origin (NoInt1/2)."""

    name: str
    X: np.ndarray
    y: np.ndarray
    source: str
    x: np.ndarray | None = None
    degree: int | None = None
    published: tuple[float, ...] | None = None
    fit_intercept: bool = True
    residual_sd: float | None = None


def _wampler(which: int) -> NistDataset:
    x = np.arange(21.0)
    coefficients = [1.0] * 6 if which == 1 else [10.0**-p for p in range(6)]
    # Exact in float64 for Wampler 1 (integers below 2^53); Wampler 2's y is the correctly
    # rounded value of the decimal sum only up to float64 rounding, as any reader of NIST's file has.
    y = np.array([float(sum(Fraction(str(c)) * int(v) ** p for p, c in enumerate(coefficients))) for v in x])
    X = np.column_stack([x**p for p in range(1, 6)])
    return NistDataset(f"wampler{which}", X, y, "exact formula (NIST StRD Wampler)", x, 5)


def _longley() -> NistDataset:
    from statsmodels.datasets import longley

    frame = longley.load_pandas()
    return NistDataset("longley", frame.exog.to_numpy(np.float64), frame.endog.to_numpy(np.float64), "statsmodels")


def norris_path() -> Path:
    """Where SciPy keeps NIST's Norris.dat (a pinned dependency)."""
    import scipy

    return Path(scipy.__file__).parent / "stats" / "tests" / "data" / "nist_linregress" / "Norris.dat"


def _norris() -> NistDataset:
    path = norris_path()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: NIST's Norris.dat is not in this SciPy installation")
    lines = path.read_text().splitlines()
    # The table follows the last "Data:" line (the first one is in the file's description).
    start = max(i for i, line in enumerate(lines) if line.strip().startswith("Data:")) + 1
    rows = [[float(v) for v in line.split()] for line in lines[start:] if line.strip()]
    data = np.array(rows)
    published: dict[str, float] = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 3 and parts[0] in ("B0", "B1"):
            published[parts[0]] = float(parts[1])
    y, x = data[:, 0], data[:, 1]
    values = (published["B1"], published["B0"]) if len(published) == 2 else None
    return NistDataset("norris", x[:, None], y, f"SciPy ({path.name})", x, 1, values)


def _noint(which: int) -> NistDataset:
    """NIST's NoInt1 / NoInt2 (certified values as NIST publishes them, 15 digits)."""
    if which == 1:
        x, y = np.arange(60.0, 71.0), np.arange(130.0, 141.0)
        published, sd = 2.07438016528926, 3.56753034006338
    else:
        x, y = np.array([4.0, 5.0, 6.0]), np.array([3.0, 4.0, 4.0])
        published, sd = 0.727272727272727, 0.369274472937998
    return NistDataset(
        f"noint{which}",
        x[:, None],
        y,
        f"NIST StRD NoInt{which} (the table written out)",
        published=(published, 0.0),
        fit_intercept=False,
        residual_sd=sd,
    )


def nist_dataset(name: str) -> NistDataset:
    """The dataset ``name`` (one of :data:`NIST_DATASETS`)."""
    builders = {
        "norris": _norris,
        "noint1": lambda: _noint(1),
        "noint2": lambda: _noint(2),
        "longley": _longley,
        "wampler1": lambda: _wampler(1),
        "wampler2": lambda: _wampler(2),
    }
    if name not in builders:
        raise ValueError(f"unknown NIST dataset {name!r}; known: {', '.join(NIST_DATASETS)}")
    return builders[name]()


def certified(dataset: NistDataset) -> list[Fraction]:
    """The exact least-squares solution (weights then intercept, exactly 0 for a model without
    one) of ``dataset`` as NIST publishes it: every value read as its decimal literal (shortest
    repr) — NIST's certified values, to every digit."""
    ones = [Fraction(1)] if dataset.fit_intercept else []
    rows = [[Fraction(repr(float(v))) for v in row] + ones for row in dataset.X]
    target = [Fraction(repr(float(v))) for v in dataset.y]
    p = len(rows[0])
    gram = [[sum((r[i] * r[j] for r in rows), Fraction(0)) for j in range(p)] for i in range(p)]
    rhs = [sum((r[i] * t for r, t in zip(rows, target)), Fraction(0)) for i in range(p)]
    solution = solve_exact(gram, rhs)
    return solution if dataset.fit_intercept else [*solution, Fraction(0)]


def certified_residual_sd(dataset: NistDataset) -> float:
    """The residual standard deviation ``√(RSS/(n − p))`` of :func:`certified` (``p`` the
    parameters fitted: k, plus 1 with an intercept), RSS exact, one rounding at the end."""
    theta = certified(dataset)
    k = dataset.X.shape[1]
    rss = Fraction(0)
    for row, target in zip(dataset.X, dataset.y):
        fitted = sum((Fraction(repr(float(v))) * t for v, t in zip(row, theta[:k])), theta[k])
        rss += (Fraction(repr(float(target))) - fitted) ** 2
    dof = len(dataset.y) - k - int(dataset.fit_intercept)
    return math.sqrt(rss / dof)
