"""Momentum, Nesterov, Adam, L-BFGS, scikit-learn's SGDRegressor, and step-size schedules."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import ROOT
from descent.config.fits import default_fit_settings
from descent.fitting import closed_form as cf
from descent.fitting import theory
from descent.fitting.records import fit
from descent.fitting.registry import typed_settings
from descent.fitting.settings import FitSettings

BASE = default_fit_settings(ROOT / "schemas", "manual_gd", stall_window=0, tolerance=1e-10).as_dict()
W_TRUE, B_TRUE = np.array([1.5, -2.0, 0.5]), 0.75


def S(**changes) -> FitSettings:
    return typed_settings({**BASE, **changes})


@pytest.fixture(scope="module")
def noiseless():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(200, 3))
    return X, X @ W_TRUE + B_TRUE


@pytest.fixture(scope="module")
def ill_conditioned():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 3)) * [1.0, 10.0, 0.1] + [0.0, 1.0, 0.0]
    return X, X @ [1.0, 0.1, -3.0] + 0.5 + rng.normal(scale=0.1, size=500)


@pytest.mark.parametrize(
    ("method", "settings"),
    [
        ("momentum_gd", {"lr": 0.1, "momentum": 0.5, "iterations": 3000}),
        ("nesterov_gd", {"lr": 0.1, "momentum": 0.5, "iterations": 3000}),
        # Adam with a constant step keeps bouncing at ~lr around the optimum; halve it every 500.
        ("adam", {"lr": 0.05, "iterations": 6000, "schedule": "step", "step_every": 500, "step_factor": 0.5}),
        ("lbfgs", {"lr": 1.0, "iterations": 50}),
    ],
)
def test_each_new_method_recovers_a_noiseless_problem(noiseless, method, settings):
    X, y = noiseless
    for scaling in ("raw", "standardized"):
        outcome, w, b = fit(X, y, scaling, S(method=method, **settings), ([0.0] * 3, 0.0))
        np.testing.assert_allclose(np.append(w, b), np.append(W_TRUE, B_TRUE), atol=1e-5)
        assert outcome.status in ("converged", "max_iterations", "stalled") and not outcome.diverged


def test_lbfgs_counts_function_evaluations(noiseless):
    X, y = noiseless
    outcome, _, _ = fit(X, y, "raw", S(method="lbfgs", lr=1.0, iterations=20), ([0.0] * 3, 0.0))
    assert outcome.extra["function_evaluations"] >= outcome.iterations > 0


def test_sgd_regressor_recovers_and_matches_a_direct_scikit_learn_run(noiseless):
    from sklearn.linear_model import SGDRegressor

    X, y = noiseless
    settings = S(method="sgd_regressor", lr=0.05, iterations=300, sgd_learning_rate="invscaling", sgd_power_t=0.1)
    outcome, w, b = fit(X, y, "raw", settings, ([0.0] * 3, 0.0))
    np.testing.assert_allclose(np.append(w, b), np.append(W_TRUE, B_TRUE), atol=1e-3)
    direct = SGDRegressor(
        loss="squared_error",
        penalty=None,
        eta0=0.05,
        learning_rate="invscaling",
        power_t=0.1,
        average=False,
        shuffle=True,
        random_state=0,
        tol=None,
        max_iter=1,
    )
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        direct.fit(X, y, coef_init=np.zeros(3), intercept_init=np.zeros(1))
    for _ in range(299):
        direct.partial_fit(X, y)
    assert np.array_equal(w, direct.coef_) and b == direct.intercept_[0]


@pytest.fixture(scope="module")
def gradient_descent_on_ill_conditioned(ill_conditioned):
    """Plain descent with the optimal constant step on ``ill_conditioned`` (the baseline both
    momentum methods are compared with: run once)."""
    X, y = ill_conditioned
    return fit(X, y, "raw", S(method="manual_gd", lr="optimal", iterations=60000), ([0.0] * 3, 0.0), [1e-8])[0]


@pytest.mark.parametrize("method", ["momentum_gd", "nesterov_gd"])
def test_optimal_momentum_beats_gradient_descent_and_matches_its_predicted_rate(
    ill_conditioned, gradient_descent_on_ill_conditioned, method
):
    X, y = ill_conditioned
    cond = theory.conditioning(cf.design_gram(X, y), len(X))
    assert cond.kappa > 1e3
    gd = gradient_descent_on_ill_conditioned
    fast, _, _ = fit(X, y, "raw", S(method=method, lr="optimal", iterations=6000), ([0.0] * 3, 0.0), [1e-8])
    reach = {
        name: int(np.argmax(o.history["relative_gap"].to_numpy() <= 1e-8)) for name, o in (("gd", gd), ("fast", fast))
    }
    assert 0 < reach["fast"] < reach["gd"] / 5
    predicted = fast.extra["predicted"]
    assert not predicted["reference_only"]
    expected = (np.sqrt(cond.kappa) - 1) / (np.sqrt(cond.kappa) + 1)
    if method == "momentum_gd":
        assert predicted["rate"] == pytest.approx(expected, rel=1e-6)  # the textbook rate, exactly
    assert fast.extra["observed_rate"] == pytest.approx(predicted["rate"], rel=0.1)
    h = fast.history.iloc[:200]
    np.testing.assert_allclose(h["gap"], h["predicted_gap"], rtol=1e-6, atol=1e-12 * h["gap"].iloc[0])


def test_a_decaying_schedule_reaches_what_a_constant_step_cannot():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 2))
    y = X @ [2.0, -1.0] + 0.3 + rng.normal(scale=0.5, size=400)
    common = dict(batch_size=1, lr=0.05, iterations=60, tolerance=1e-2, shuffle_seed=3)
    constant, _, _ = fit(X, y, "raw", S(**common), ([0.0] * 2, 0.0))
    decaying, _, _ = fit(
        X, y, "raw", S(**common, schedule="inverse_scaling", schedule_t0=400, schedule_power=1.0), ([0.0] * 2, 0.0)
    )
    averaged, _, _ = fit(X, y, "raw", S(**common, averaging=True), ([0.0] * 2, 0.0))
    floor = {
        name: float(o.history["relative_gap"].iloc[-1])
        for name, o in (("constant", constant), ("decaying", decaying), ("averaged", averaged))
    }
    assert floor["decaying"] < floor["constant"] / 10 and floor["averaged"] < floor["constant"] / 10, floor
    assert decaying.converged and averaged.converged and not constant.converged


def test_sgd_regressor_runs_on_float32_data(noiseless):
    X, y = noiseless
    outcome, w, b = fit(
        X.astype(np.float32),
        y.astype(np.float32),
        "standardized",
        S(method="sgd_regressor", lr=0.01, iterations=20),
        ([0.0] * 3, 0.0),
    )
    assert outcome.status in ("max_iterations", "converged", "stalled") and np.isfinite(w).all()


def test_a_fit_stopped_where_its_test_was_met_reports_those_parameters_not_a_cap():
    """Adam on the standardized diabetes table meets its gradient test at iteration 2172 and its
    next step leaves the tolerance again: the fit is converged, with the parameters that met it
    (it was recorded as max_iterations after 2173 of its 3000 iterations)."""
    from descent.datasets import diabetes_frame
    from descent.fitting.records import fit

    frame = diabetes_frame()
    y, X = frame["progression"].to_numpy(float), frame.drop(columns=["progression"]).to_numpy(float)
    settings = default_fit_settings(ROOT / "schemas", "adam", lr=0.01, iterations=3000, stop_early=True, tolerance=1e-8)
    outcome, _, _ = fit(X, y, "standardized", settings, ([0.0] * X.shape[1], 0.0))
    last = outcome.history.iloc[-1]
    assert outcome.status == "converged" and outcome.iterations == last["iteration"] == outcome.extra["test_met_at"]
    assert last["grad_norm"] <= 1e-8 * outcome.history["grad_norm"].iloc[0]
    np.testing.assert_array_equal(outcome.weights, last[[f"w{j}" for j in range(X.shape[1])]].to_numpy(float))
