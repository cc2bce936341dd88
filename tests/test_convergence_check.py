"""No "converged" far from the answer: a converged iterative fit is held against the certified
least squares of the data it fitted (descent.fitting.convergence.check_convergence)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from descent.config.fits import default_fit_settings
from descent.datasets.nist import nist_dataset
from descent.fitting import convergence
from descent.fitting.convergence import OFF_FACTOR, allowed_error
from descent.fitting.records import fit

ROOT = Path(__file__).resolve().parents[1]


def S(method, **changes):
    return default_fit_settings(ROOT / "schemas", method, **changes)


LBFGS = {"lr": 1.0, "iterations": 200, "stop_early": True, "tolerance": 1e-10}


@pytest.mark.parametrize("name", ["longley", "wampler1"])
def test_lbfgs_on_raw_nist_designs_is_a_false_convergence_with_its_digits_and_why(name):
    data = nist_dataset(name)
    k = data.X.shape[1]
    outcome, _, _ = fit(data.X, data.y, "raw", S("lbfgs", **LBFGS), ([0.0] * k, 0.0))
    check = outcome.extra["convergence_check"]
    assert outcome.status == "false_convergence" and not outcome.converged
    assert check["relative_error"] > check["allowed_relative_error"] and check["correct_digits"] < 4
    reason = outcome.extra["status_reason"]
    assert "correct digits" in reason and "condition number" in reason and "tolerance 1e-10" in reason


def test_a_well_conditioned_converged_fit_stays_converged_with_its_digits():
    data = nist_dataset("norris")
    outcome, _, _ = fit(data.X, data.y, "standardized", S("lbfgs", **LBFGS), ([0.0], 0.0))
    assert outcome.status == "converged"
    assert outcome.extra["convergence_check"]["correct_digits"] > 14


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    k=st.integers(1, 4),
    method=st.sampled_from(["manual_gd", "nesterov_gd", "lbfgs"]),
    dtype=st.sampled_from(["float32", "float64"]),
)
def test_standardized_fits_that_converge_are_never_flagged(seed, k, method, dtype):
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(300, k)) * rng.uniform(0.5, 2.0, size=k)).astype(dtype)
    y = (X @ rng.uniform(-2, 2, size=k) + 1.0 + 0.1 * rng.normal(size=300)).astype(dtype)
    lr = {"lbfgs": 1.0, "manual_gd": "lipschitz", "nesterov_gd": "optimal"}[method]
    tolerance = 1e-5 if dtype == "float32" else 1e-8
    settings_ = S(method, lr=lr, iterations=3000, stop_early=True, tolerance=tolerance)
    outcome, _, _ = fit(X, y, "standardized", settings_, ([0.0] * k, 0.0))
    assert outcome.status in ("converged", "stalled", "max_iterations"), outcome.extra.get("status_reason")


def test_the_allowance_is_what_the_stopping_test_proves_up_to_half_the_digits():
    grad = S("manual_gd", tolerance=1e-8)
    assert allowed_error(grad, 10.0, 1.0, 1e-16) == pytest.approx(OFF_FACTOR * 1e-7)  # κ·τ
    assert allowed_error(grad, 1e12, 1.0, 1e-16) == pytest.approx(OFF_FACTOR * 1e-4)  # capped at √τ
    change = S("manual_gd", tolerance=1e-8, stop_criterion="loss_change")
    assert allowed_error(change, 10.0, 1.0, 1e-16) == pytest.approx(OFF_FACTOR * 1e-4)  # proves nothing: √τ
    assert allowed_error(grad, 10.0, 1e6, 1e-7) == pytest.approx(OFF_FACTOR * 0.1)  # the dtype's resolution


def test_a_large_x_is_checked_chunk_by_chunk_as_it_is_whole(monkeypatch):
    """Over GAP_ROWS rows the check widens X to float64 a chunk at a time (no float64 copy of a
    large float32 X): the same digits and gaps within rounding as the check of the whole."""
    data = nist_dataset("norris")
    whole, _, _ = fit(data.X, data.y, "standardized", S("lbfgs", **LBFGS), ([0.0], 0.0))
    monkeypatch.setattr(convergence, "GAP_ROWS", 7)
    chunked, _, _ = fit(data.X, data.y, "standardized", S("lbfgs", **LBFGS), ([0.0], 0.0))
    a, b = whole.extra["convergence_check"], chunked.extra["convergence_check"]
    assert chunked.status == whole.status == "converged" and len(data.X) > 7
    for key in ("relative_error", "relative_gap", "hessian_condition"):
        assert b[key] == pytest.approx(a[key], rel=1e-9, abs=1e-300), key
