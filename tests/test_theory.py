"""Theory beside practice: the Hessian, and the exact prediction of full-batch descent."""

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
from lesson_specs import LESSON0

BASE = default_fit_settings(ROOT / "schemas", "manual_gd", stall_window=0).as_dict()


def S(**changes) -> FitSettings:
    return typed_settings({**BASE, **changes})


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(400, 3)) * [1.0, 4.0, 0.3] + [2.0, -1.0, 0.5]
    y = X @ [1.0, -0.5, 2.0] + 0.7 + rng.normal(scale=0.5, size=400)
    return X, y


def test_conditioning_matches_an_independent_eigendecomposition(problem):
    X, y = problem
    cond = theory.conditioning(cf.design_gram(X, y), len(X))
    A = np.column_stack([X, np.ones(len(X))])
    np.testing.assert_allclose(cond.eigenvalues, np.linalg.eigvalsh(2 / len(X) * A.T @ A), rtol=1e-12)
    assert cond.kappa == pytest.approx(cond.lambda_max / cond.lambda_min)
    assert cond.row()["max_stable_lr"] == pytest.approx(2 / cond.lambda_max)
    theta, *_ = np.linalg.lstsq(A, y, rcond=None)
    assert cond.loss_star == pytest.approx(np.mean((y - A @ theta) ** 2), rel=1e-10)


@pytest.mark.parametrize("method", ["manual_gd", "autograd", "nn_linear"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_observed_gap_equals_the_prediction(problem, method, reduction):
    X, y = problem
    lr = 0.02 if reduction == "mean" else 0.02 / len(X)
    outcome, _, _ = fit(
        X,
        y,
        "raw",
        S(method=method, lr=lr, iterations=60, loss_reduction=reduction),
        ([0.0] * 3, 0.0),
        accuracy_targets=[1e-2, 1e-4],
    )
    h = outcome.history.iloc[:50]
    np.testing.assert_allclose(h["gap"], h["predicted_gap"], rtol=1e-9)
    predicted = outcome.extra["predicted"]
    assert not predicted["diverges"] and not predicted["reference_only"] and 0 < predicted["rate"] < 1
    assert predicted["alpha_mean_loss"] == pytest.approx(0.02)
    assert (h["relative_gap"].iloc[0], np.diff(h["seconds"]).min() >= 0) == (1.0, True)


def test_iterations_to_a_target_match_the_observed_run(problem):
    X, y = problem
    outcome, _, _ = fit(X, y, "raw", S(lr=0.05, iterations=3000), ([0.0] * 3, 0.0), accuracy_targets=[1e-3])
    predicted_t = outcome.extra["predicted"]["iterations_to"]["0.001"]
    observed = outcome.history["relative_gap"].to_numpy()
    observed_t = int(np.argmax(observed <= 1e-3))
    assert observed[observed_t] <= 1e-3 and abs(observed_t - predicted_t) <= 1
    assert outcome.extra["observed_rate"] == pytest.approx(outcome.extra["predicted"]["rate"], rel=1e-3)


def test_divergence_is_predicted_exactly_on_both_sides_of_two_over_lambda_max(problem):
    X, y = problem
    cond = theory.conditioning(cf.design_gram(X, y), len(X))
    edge = 2.0 / cond.lambda_max
    for factor, diverges in ((0.999, False), (1.001, True)):
        outcome, _, _ = fit(X, y, "raw", S(lr=edge * factor, iterations=4000), ([0.0] * 3, 0.0))
        assert outcome.extra["predicted"]["diverges"] is diverges
        gap = outcome.history["gap"].to_numpy()
        assert bool(gap[-1] > gap[0]) is diverges  # and the run does what was predicted


def test_a_component_absent_from_the_start_error_cannot_make_it_diverge():
    # Start exactly on the minimizer's line along all but one eigenvector: only that one counts.
    cond = theory.Conditioning(np.array([1.0, 100.0]), np.eye(2), np.zeros(2), 0.0, 10)
    along_small = theory.predict(cond, np.array([1.0, 0.0]), alpha=0.05)  # 0.05 > 2/100
    assert not along_small.diverges and along_small.rate == pytest.approx(0.95)
    assert theory.predict(cond, np.array([1.0, 1e-3]), alpha=0.05).diverges


def test_minibatch_runs_get_the_full_batch_prediction_as_a_reference(problem):
    X, y = problem
    outcome, _, _ = fit(X, y, "raw", S(lr=0.01, iterations=5, batch_size=40), ([0.0] * 3, 0.0))
    assert outcome.extra["predicted"]["reference_only"] is True


def test_lesson0_parabola_rate_is_predicted():
    from descent.lessons.descent_x2 import descent_x2_experiment

    result = descent_x2_experiment(
        {"x0": -1.0, "step_sizes": [0.25, 10.0], "tolerance": 1e-6, "max_iterations": 10000, "divergence_bound": 1e6}
    )
    rates = {run["step_size"]: (run["predicted_rate"], run["observed_rate"]) for run in result.summary["runs"]}
    assert rates == {0.25: (0.5, 0.5), 10.0: (19.0, 19.0)}


def test_a_cuda_fit_without_cuda_is_skipped_with_the_reason(tmp_path, monkeypatch):
    import torch

    from descent.datasets import generate
    from descent.fitting.accuracy import time_to_accuracy
    from descent.fitting.records import fit_files
    from descent.io import write_json, write_parquet

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the fit would run")
    data = generate({**LESSON0, "n": 20})
    write_parquet(tmp_path / "d.parquet", data.frame)
    write_json(
        tmp_path / "d.json",
        {"dataset": "d", "features": ["x"], "target": "y", "true_weights": [3], "true_bias": 4, "n": 20},
    )
    settings = S(device="cuda").as_dict()
    record, history = fit_files(
        str(tmp_path / "d.parquet"),
        str(tmp_path / "d.json"),
        {"dataset": "d", "scaling": "raw", "method": "manual_gd"},
        settings,
        ([0.0], 0.0),
        [],
    )
    assert history is None and record["status"] == "skipped" and "CUDA" in record["status_reason"]
    rows = time_to_accuracy([record], {}, {}, [1e-2])
    assert not rows["reached"].any() and rows["status"].tolist() == ["skipped"]
