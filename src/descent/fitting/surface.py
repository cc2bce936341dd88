"""The loss surface over (w, b) of a single-feature dataset, in the fitted space, vectorised."""

from __future__ import annotations

import numpy as np
import pandas as pd

from descent.fitting.common import FitError
from descent.fitting.objective import least_squares_reference
from descent.fitting.scaling import standardization_stats, standardize


def loss_surface(
    X: np.ndarray,
    y: np.ndarray,
    w_range: tuple[float, float],
    b_range: tuple[float, float],
    grid_size: int,
) -> pd.DataFrame:
    """The MSE on a ``grid_size``² grid over (w, b) for a single feature ``X`` (n, 1), vectorised.

    Uses the exact expansion around the least-squares point ``(w*, b*)`` with residuals ``r*``:
    ``MSE(w, b) = MSE* + dw²·mean(x²) + db² + 2·dw·db·mean(x) − 2·dw·mean(r*x) − 2·db·mean(r*)``,
    which costs O(n + grid) instead of a Python double loop over n-length residuals.
    Returns columns ``w``, ``b``, ``mse`` (one row per grid point, w varying fastest).
    """
    x = np.asarray(X, dtype=np.float64).reshape(-1)
    y64 = np.asarray(y, dtype=np.float64)
    w_star, b_star, _ = least_squares_reference(x.reshape(-1, 1), y64)
    r = y64 - (x * w_star[0] + b_star)
    mse_star = float(r @ r / len(r))
    mx, mxx, mrx, mr = x.mean(), (x * x).mean(), (r * x).mean(), r.mean()
    ws = np.linspace(w_range[0], w_range[1], grid_size)
    bs = np.linspace(b_range[0], b_range[1], grid_size)
    W, B = np.meshgrid(ws, bs)
    dw, db = W - w_star[0], B - b_star
    surface = mse_star + dw * dw * mxx + db * db + 2 * dw * db * mx - 2 * dw * mrx - 2 * db * mr
    return pd.DataFrame({"w": W.reshape(-1), "b": B.reshape(-1), "mse": surface.reshape(-1)})


def loss_surface_around(
    X: np.ndarray,
    y: np.ndarray,
    scaling: str,
    starts: list[tuple[list[float], float]],
    grid_size: int,
    margin: float,
    features: list[str] | None = None,
) -> pd.DataFrame:
    """The loss surface in the fitted space of ``scaling`` for a single-feature ``X`` (n, 1).

    The grid spans the least-squares point and every start in ``starts`` (so descent paths
    from the history files lie on it), widened by ``margin`` of the span on each side.
    Columns ``w``, ``b``, ``mse`` (in the fitted space's units) and ``scaling``.
    """
    if X.shape[1] != 1:
        raise FitError(f"a loss surface over (w, b) needs exactly one feature, got {X.shape[1]}")
    if scaling == "standardized":
        X, y = standardize(X, y, standardization_stats(X, y, features))
    w_star, b_star, _ = least_squares_reference(X, y)
    ws = [float(w_star[0])] + [float(s[0][0]) for s in starts]
    bs = [b_star] + [float(s[1]) for s in starts]

    def widen(values: list[float]) -> tuple[float, float]:
        lo, hi = min(values), max(values)
        span = hi - lo if hi > lo else max(abs(hi), 1.0)
        return lo - margin * span, hi + margin * span

    frame = loss_surface(X, y, widen(ws), widen(bs), grid_size)
    frame["scaling"] = scaling
    return frame
