"""Tests of the fitting methods, scalings, gradients, loss surface and summary."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest
import torch
import yaml

from conftest import ROOT
from descent.config.fits import FitJob, default_fit_settings, initial_parameters, resolve_settings
from descent.datasets import generate
from descent.fitting.common import FitError
from descent.fitting.exact import digits, exact_least_squares
from descent.fitting.gradient_check import gradient_check
from descent.fitting.iterative import fit_iterative
from descent.fitting.objective import least_squares_reference, lipschitz_step
from descent.fitting.records import fit
from descent.fitting.registry import typed_settings
from descent.fitting.scaling import standardization_stats, standardize, to_original_units
from descent.fitting.settings import FitSettings
from descent.fitting.summary import summarize_fits
from descent.fitting.surface import loss_surface
from descent.validation import validate_config

BASE = default_fit_settings(
    ROOT / "schemas", "manual_gd", lr=0.1, iterations=3000, tolerance=1e-6, stop_early=False
).as_dict()


def S(**changes) -> FitSettings:
    """Test settings: the schema's defaults with this module's BASE and ``changes``."""
    return typed_settings({**BASE, **changes})


W_TRUE, B_TRUE = np.array([1.5, -2.0, 0.5]), 0.75


@pytest.fixture(scope="module")
def noiseless():
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, size=(200, 3))
    return X, X @ W_TRUE + B_TRUE


@pytest.fixture(scope="module")
def default_config():
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    validate_config(config, ROOT / "schemas")
    return config


@pytest.mark.parametrize("scaling", ["raw", "standardized"])
@pytest.mark.parametrize("method", ["manual_gd", "autograd", "nn_linear", "lstsq", "sklearn"])
def test_every_method_recovers_noiseless_parameters(noiseless, method, scaling):
    X, y = noiseless
    outcome, w, b = fit(X, y, scaling, S(method=method), init=([0.0] * 3, 0.0))
    np.testing.assert_allclose(w, W_TRUE, atol=1e-6)
    assert b == pytest.approx(B_TRUE, abs=1e-6)
    assert outcome.converged and not outcome.diverged


def test_hand_gradients_agree_with_autograd():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(50, 4)) * [1, 10, 100, 0.1], rng.normal(size=50)
    for reduction in ("mean", "sum"):
        check = gradient_check(X, y, [0.3, -0.2, 0.1, 2.0], -1.0, reduction)
        assert check["float64"]["max_rel_diff"] < 1e-12
    check32 = gradient_check(X.astype(np.float32), y.astype(np.float32), [0.3, -0.2, 0.1, 2.0], -1.0)
    assert check32["float32"]["max_rel_diff"] < 1e-4  # float32 rounding, not a formula error


def test_raw_and_standardized_agree_in_original_units():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(500, 2)) * [2.0, 0.5] + [1.0, -3.0]
    y = X @ [0.7, 1.9] + 3.0 + rng.normal(scale=0.1, size=500)
    for method in ("manual_gd", "lstsq"):
        _, w_raw, b_raw = fit(X, y, "raw", S(method=method, lr=0.05, iterations=20000), ([0, 0], 0))
        _, w_std, b_std = fit(X, y, "standardized", S(method=method), ([0, 0], 0))
        np.testing.assert_allclose(w_raw, w_std, rtol=1e-6)
        assert b_raw == pytest.approx(b_std, rel=1e-6)


def test_standardization_round_trip_and_constant_feature():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(30, 2)) * 5 + 2, rng.normal(size=30) * 3 + 1
    stats = standardization_stats(X, y)
    Xs, ys = standardize(X, y, stats)
    np.testing.assert_allclose(Xs.std(axis=0, ddof=1), 1.0)  # sample std, as torch.std
    w_s, b_s, _ = least_squares_reference(Xs, ys)
    w, b = to_original_units(w_s, b_s, stats)
    w_ref, b_ref, _ = least_squares_reference(X, y)
    np.testing.assert_allclose(w, w_ref, rtol=1e-10)
    assert b == pytest.approx(b_ref, rel=1e-10)
    X[:, 1] = 4.0
    with pytest.raises(FitError, match="constant feature\\(s\\) area"):
        standardization_stats(X, y, ["surface", "area"])


def test_paris_lesson_defaults_reproduce_the_lesson(default_config):
    data = generate(default_config["datasets"]["paris_rent"])
    X, y = data.frame[["surface"]].to_numpy(), data.frame["rent"].to_numpy()
    w_ls, b_ls, _ = least_squares_reference(X, y)
    raw = resolve_settings(default_config, FitJob("paris_rent", "raw", "manual_gd"))
    assert (raw["lr"], raw["iterations"], raw["init"]["weights"], raw["init"]["bias"]) == (1e-5, 200, [25], 100)
    outcome, w, b = fit(X, y, "raw", raw, initial_parameters(raw, default_config["datasets"]["paris_rent"]))
    assert abs(b - 100) < 1.0  # the intercept barely moves from its start ...
    assert abs(b - b_ls) > 50  # ... and ends far from least squares
    assert not outcome.converged and not outcome.diverged
    std = resolve_settings(default_config, FitJob("paris_rent", "standardized", "manual_gd"))
    outcome, w, b = fit(X, y, "standardized", std, initial_parameters(std, default_config["datasets"]["paris_rent"]))
    assert outcome.converged
    np.testing.assert_allclose(np.append(w, b), np.append(w_ls, b_ls), rtol=1e-5)
    nn = resolve_settings(default_config, FitJob("paris_rent", "standardized", "nn_linear"))
    assert (nn["loss_reduction"], nn["lr"]) == ("sum", 0.01)
    outcome, w, b = fit(X, y, "standardized", nn, initial_parameters(nn, default_config["datasets"]["paris_rent"]))
    np.testing.assert_allclose(np.append(w, b), np.append(w_ls, b_ls), rtol=1e-5)


def test_lesson0_defaults_start_from_the_lessons_draws_and_converge(default_config):
    spec = default_config["datasets"]["lesson_linear"]
    settings = resolve_settings(default_config, FitJob("lesson_linear", "raw", "manual_gd"))
    assert (settings["lr"], settings["iterations"]) == (0.05, 1000)
    np.random.seed(0)
    np.random.rand(100, 1)
    np.random.randn(100, 1)
    W, b0 = np.random.randn(1, 1), np.random.randn(1)
    w_init, b_init = initial_parameters(settings, spec)
    assert (w_init, b_init) == ([W[0, 0]], b0[0])
    data = generate(spec)
    X, y = data.frame[["x"]].to_numpy(), data.frame["y"].to_numpy()
    outcome, w, b = fit(X, y, "raw", settings, (w_init, b_init))
    w_ls, b_ls, _ = least_squares_reference(X, y)
    assert outcome.converged
    assert w[0] == pytest.approx(w_ls[0], rel=1e-6) and b == pytest.approx(b_ls, rel=1e-6)


@pytest.mark.parametrize("method", ["manual_gd", "autograd", "nn_linear"])
def test_divergence_is_detected_and_never_returns_nan(noiseless, method):
    X, y = noiseless
    outcome = fit_iterative(X * 100, y, method, S(lr=10.0, iterations=500), [0.0] * 3, 0.0)
    assert outcome.diverged and not outcome.converged
    assert outcome.diverged_at is not None and outcome.diverged_at < 500
    assert np.isfinite(outcome.weights).all() and np.isfinite(outcome.bias)
    assert outcome.history["iteration"].max() <= outcome.diverged_at


def test_divergence_at_first_non_finite_loss():
    X = np.array([[1e30], [2e30]], dtype=np.float32)
    y = np.array([1.0, 2.0], dtype=np.float32)
    outcome = fit_iterative(X, y, "manual_gd", S(divergence_factor=1e300), [1.0], 0.0)
    assert outcome.diverged and outcome.diverged_at == 0  # (1e30)² overflows float32 at once


def test_lipschitz_step_is_one_over_the_hessians_largest_eigenvalue(noiseless):
    X, y = noiseless
    Xt, yt = torch.as_tensor(X), torch.as_tensor(y)

    def loss(theta):
        return ((yt - (Xt @ theta[:-1] + theta[-1])) ** 2).mean()

    hessian = torch.autograd.functional.hessian(loss, torch.zeros(4, dtype=torch.float64))
    assert lipschitz_step(X) == pytest.approx(1 / torch.linalg.eigvalsh(hessian)[-1].item(), rel=1e-10)
    assert lipschitz_step(X, "sum") == pytest.approx(lipschitz_step(X) / len(X), rel=1e-12)


def test_summed_loss_with_small_step_equals_mean_loss_with_n_times_the_step(noiseless):
    X, y = noiseless
    a = fit_iterative(X, y, "nn_linear", S(loss_reduction="sum", lr=0.1 / len(X), iterations=50), [0.0] * 3, 0.0)
    b = fit_iterative(X, y, "manual_gd", S(lr=0.1, iterations=50), [0.0] * 3, 0.0)
    np.testing.assert_allclose(a.weights, b.weights, rtol=1e-10)


def test_minibatch_and_stochastic_are_seeded_and_reproducible(noiseless):
    X, y = noiseless
    settings = S(batch_size=16, iterations=30, lr=0.05)
    first = fit_iterative(X, y, "manual_gd", settings, [0.0] * 3, 0.0)
    again = fit_iterative(X, y, "manual_gd", settings, [0.0] * 3, 0.0)
    other = fit_iterative(X, y, "manual_gd", settings.replace(shuffle_seed=1), [0.0] * 3, 0.0)
    # Everything but the timing column is reproducible.
    pd.testing.assert_frame_equal(first.history.drop(columns="seconds"), again.history.drop(columns="seconds"))
    assert not np.array_equal(first.weights, other.weights)
    np.testing.assert_allclose(first.weights, W_TRUE, atol=1e-3)  # noiseless: SGD still gets there


def test_stop_early_stops_on_convergence(noiseless):
    X, y = noiseless
    outcome = fit_iterative(X, y, "manual_gd", S(lr="lipschitz", stop_early=True, iterations=100000), [0.0] * 3, 0.0)
    assert outcome.converged and outcome.iterations < 100000
    g = outcome.history["grad_norm"].to_numpy()
    # It stops at the first iteration whose gradient met the tolerance, after that update.
    assert g[-1] <= g[-2] <= 1e-6 * g[0] < g[-3]


def test_history_rows_pair_each_loss_with_its_parameters(noiseless):
    X, y = noiseless
    outcome = fit_iterative(X, y, "autograd", S(iterations=5), [0.1, 0.2, 0.3], 0.4)
    h = outcome.history
    assert list(h.columns) == ["iteration", "seconds", "loss", "grad_norm", "w0", "w1", "w2", "b"]
    assert list(h["iteration"]) == [0, 1, 2, 3, 4, 5]
    for _, row in h.iterrows():
        r = y - (X @ row[["w0", "w1", "w2"]].to_numpy(dtype=float) + row["b"])
        assert row["loss"] == pytest.approx(np.mean(r**2), rel=1e-12)


def test_loss_surface_matches_a_direct_computation():
    rng = np.random.default_rng(4)
    x = rng.uniform(20, 100, size=(50, 1))
    y = 32 * x[:, 0] + 200 + rng.normal(scale=100, size=50)
    grid = loss_surface(x, y, (20, 40), (0, 400), 7)
    assert len(grid) == 49
    for _, row in grid.sample(10, random_state=0).iterrows():
        assert row["mse"] == pytest.approx(np.mean((y - row["w"] * x[:, 0] - row["b"]) ** 2), rel=1e-10)


def test_lstsq_float32_tall_badly_scaled_problem_is_right():
    # torch.linalg.lstsq's default driver and rcond misjudge the rank of tall, badly scaled float32
    # problems; the certified float64 closed form must not.
    data = generate(
        {
            "kind": "multiscale_gaussian",
            "n": 200000,
            "n_features": 4,
            "seed": 0,
            "target": "y",
            "scale_range": [0.01, 1000.0],
            "offset_factor": 3.0,
            "weight_range": [-5.0, 5.0],
            "true_bias": 5.0,
            "noise_std": 0.0,
            "dtype": "float32",
        }
    )
    X, y = data.frame[["x0", "x1", "x2", "x3"]].to_numpy(), data.frame["y"].to_numpy()
    # The failure is real at this size: plain torch.linalg.lstsq finds rank 1 and a wrong answer.
    A = torch.as_tensor(np.column_stack([X, np.ones(len(X), dtype=np.float32)]))
    plain = torch.linalg.lstsq(A, torch.as_tensor(y.copy()).reshape(-1, 1))
    assert int(plain.rank) < 5
    outcome, w, b = fit(X, y, "raw", S(method="lstsq"))
    assert outcome.extra["rank"] == 5 and not outcome.extra["rank_deficient"]
    assert outcome.status == "closed_form" and outcome.extra["certificate"]["ok"]
    w_ref, b_ref, _ = least_squares_reference(X, y)
    np.testing.assert_allclose(np.append(w, b), np.append(w_ref, b_ref), rtol=1e-9)
    # The same call as the lesson's, as a solver, is recorded as failed with the reason.
    lesson, _, _ = fit(X, y, "raw", S(method="lstsq", lstsq_solver="torch_lesson"))
    assert lesson.status == "inaccurate" and not lesson.extra["certificate"]["ok"]
    assert "residual" in lesson.extra["status_reason"] and lesson.extra["driver_rank"] < 5


def test_rank_deficient_data_is_reported_by_lstsq():
    X = np.column_stack([np.arange(10.0), 2 * np.arange(10.0)])
    outcome, _, _ = fit(X, np.arange(10.0), "raw", S(method="lstsq"))
    assert outcome.extra["rank_deficient"] and not outcome.converged
    assert outcome.status == "inaccurate" and "rank-deficient" in outcome.extra["status_reason"]


def test_summary_distances_against_an_independent_reference(noiseless):
    X, y = noiseless

    class Loaded:
        pass

    data = Loaded()
    data.X, data.y = X, y
    record = {
        "dataset": "d",
        "scaling": "raw",
        "method": "manual_gd",
        "base_method": "manual_gd",
        "features": ["a", "b", "c"],
        "weights": [1.5, -2.0, 0.5],
        "bias": 1.75,
        "true_weights": W_TRUE.tolist(),
        "true_bias": B_TRUE,
        "mse": 1.0,
        "iterations": 3,
        "converged": False,
        "diverged": False,
        "status": "max_iterations",
        "seconds": 0.1,
        "device": "cpu",
        "settings": {"fit": "manual_gd", "repetition": 0},
        "predictions": [{"inputs": [1, 1, 1], "prediction": 1.75}],
    }
    summary, predictions = summarize_fits([copy.deepcopy(record)], {"d": data})
    row = summary.iloc[0]
    assert row["dist_to_lstsq"] == pytest.approx(1.0, rel=1e-9)  # only the bias is off, by 1
    assert row["dist_to_true"] == pytest.approx(1.0, rel=1e-9)
    assert predictions.iloc[0]["true_value"] == pytest.approx(W_TRUE.sum() + B_TRUE)


def test_auto_solver_takes_normal_equations_when_well_conditioned_and_qr_otherwise(noiseless):
    X, y = noiseless
    fast, w, b = fit(X, y, "raw", S(method="lstsq"))
    assert fast.extra["solver"] == "normal_equations" and fast.extra["certificate"]["condition_number"] < 10
    np.testing.assert_allclose(np.append(w, b), np.append(W_TRUE, B_TRUE), rtol=1e-12)
    rng = np.random.default_rng(5)
    x = rng.normal(size=300)
    nearly_collinear = np.column_stack([x, x + 1e-6 * rng.normal(size=300)])
    target = nearly_collinear @ [1.0, 2.0] + 1.0
    slow, w, b = fit(nearly_collinear, target, "raw", S(method="lstsq"))
    assert slow.extra["solver"] == "qr" and slow.extra["certificate"]["condition_number"] > 1e5
    # κ ≈ 1e6: refined with double-double residuals to the last digits and certified as such
    # (a float64 residual could not certify even 1e-4 here: this used to be flagged inaccurate).
    assert slow.status == "closed_form" and slow.extra["certificate"]["certified_digits"] >= 13
    exact = exact_least_squares(nearly_collinear, target)
    assert digits(np.append(w, b), exact) >= 15


def test_stop_early_history_ends_at_the_returned_parameters(noiseless):
    X, y = noiseless
    outcome = fit_iterative(X, y, "manual_gd", S(lr="lipschitz", stop_early=True, iterations=100000), [0.0] * 3, 0.0)
    last = outcome.history.iloc[-1]
    assert last["iteration"] == outcome.iterations and outcome.history["iteration"].is_unique
    np.testing.assert_array_equal(last[["w0", "w1", "w2"]].to_numpy(dtype=float), outcome.weights)
    assert last["b"] == outcome.bias and outcome.status == "converged"


def test_an_unreachable_float32_tolerance_stalls_instead_of_running_to_the_cap():
    rng = np.random.default_rng(6)
    X = (rng.normal(size=(20000, 3)) * [0.5, 5.0, 50.0] + [1.5, 15.0, 150.0]).astype(np.float32)
    y = X @ np.array([0.1, 0.3, -0.03], dtype=np.float32) - 3 + rng.normal(size=20000).astype(np.float32)
    settings = S(lr="lipschitz", stop_early=True, tolerance=1e-8, iterations=20000, stall_window=100)
    outcome, _, _ = fit(X, y, "standardized", settings.replace(method="manual_gd"), ([0.0] * 3, 0.0))
    assert outcome.status == "stalled" and outcome.extra["stalled"] and outcome.iterations < 2000
    assert 1e-8 < outcome.extra["precision_reached"] < 1e-3  # float32's floor, far above 1e-8
    # float64 reaches the same tolerance: no stall.
    outcome64, _, _ = fit(
        X.astype(np.float64),
        y.astype(np.float64),
        "standardized",
        settings.replace(method="manual_gd"),
        ([0.0] * 3, 0.0),
    )
    assert outcome64.status == "converged" and not outcome64.extra["stalled"]


def test_every_fit_has_exactly_one_known_status(noiseless):
    X, y = noiseless
    statuses = {
        fit(X, y, "raw", S(method=m, iterations=3), ([0.0] * 3, 0.0))[0].status
        for m in ("manual_gd", "lstsq", "sklearn")
    }
    statuses.add(fit(X, y, "raw", S(method="manual_gd", lr=50.0), ([0.0] * 3, 0.0))[0].status)
    assert statuses == {"max_iterations", "closed_form", "diverged"}
