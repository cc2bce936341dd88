"""``fit_intercept: false``: every method fits ``y ≈ X·w`` through the origin, bias exactly 0,
against the exact rational least squares through the origin; the uncentred scaling, inference,
theory, config refusals, the summary and a workflow run with such a fit."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from conftest import ROOT, run_snakemake
from descent.config import ConfigError
from descent.config.fits import default_fit_settings, initial_parameters
from descent.datasets.nist import nist_dataset
from descent.fitting import closed_form as cf
from descent.fitting.accuracy import fitted_conditioning
from descent.fitting.common import FitError
from descent.fitting.exact import digits, exact_least_squares
from descent.fitting.inference import inference_from_chunks, inference_from_data
from descent.fitting.iterative import make_engine
from descent.fitting.method import Method
from descent.fitting.methods.lstsq import solve_chunks
from descent.fitting.methods.manual_gd import ManualEngine
from descent.fitting.records import fit, streaming_record
from descent.fitting.refine import to_fitted, to_original
from descent.fitting.registry import use_plugins
from descent.fitting.scaling import scaling_stats, standardization_stats, standardize, to_original_units
from descent.fitting.stream import chunk_statistics, parquet_chunks, write_synthetic_parquet
from descent.fitting.stream_descent import full_batch_descent
from descent.fitting.streamed import fit_streaming
from descent.fitting.summary import parquet_facts, reference, summarize_fits
from descent.fitting.theory import conditioning
from descent.validation import validate_config

CLOSED_FORMS = (
    ("lstsq", "auto"),
    ("lstsq", "normal_equations"),
    ("lstsq", "qr"),
    ("lstsq", "torch"),
    ("lstsq", "torch_lesson"),
    ("sklearn", None),
)
#: Paths that refine their answer against the data as stored (the others are certified as they are).
REFINED = ("auto", "normal_equations", "qr")


def _designs() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Small designs (30 rows): well conditioned; an offset column (60..70) the model must carry
    without an intercept; a degree-4 polynomial on [50, 51] (equilibrated κ ≈ 5·10⁷); the offset
    design stored in float32."""
    rng = np.random.default_rng(7)
    n = 30
    well = rng.normal(size=(n, 3))
    y_well = well @ [1.5, -2.0, 0.25] + 0.1 * rng.normal(size=n)
    x = np.linspace(60, 70, n)
    offset = np.column_stack([x, rng.normal(size=n)])
    y_offset = 2.0 * x + 3.0 * offset[:, 1] + 0.5 * rng.normal(size=n) + 5.0  # an offset no intercept absorbs
    t = np.linspace(50, 51, n)
    ill = np.column_stack([t**p for p in range(1, 5)])
    y_ill = ill @ [1.0, -0.02, 3e-4, -1e-6] + 1e-3 * rng.normal(size=n)
    return {
        "well": (well, y_well),
        "offset": (offset, y_offset),
        "ill": (ill, y_ill),
        "float32": (offset.astype(np.float32), y_offset.astype(np.float32)),
    }


DESIGNS = _designs()


def _settings(method: str, **changes):
    return default_fit_settings(ROOT / "schemas", method, fit_intercept=False, **changes)


def test_the_default_is_an_intercept_and_the_setting_is_recorded():
    assert default_fit_settings(ROOT / "schemas", "lstsq").fit_intercept is True
    assert _settings("lstsq").as_dict()["fit_intercept"] is False


@pytest.mark.parametrize("design", sorted(DESIGNS))
@pytest.mark.parametrize("scaling", ["raw", "standardized"])
def test_every_closed_form_equals_the_exact_least_squares_through_the_origin(design, scaling):
    X, y = DESIGNS[design]
    exact = exact_least_squares(X, y, intercept=False)
    kappa = cf.singular_values(cf.design_gram(X, y, intercept=False))
    kappa = float(kappa[0] / kappa[-1])
    for method, solver in CLOSED_FORMS:
        changes = {"lstsq_solver": solver} if solver else {}
        outcome, w, b = fit(X, y, scaling, _settings(method, **changes))
        assert b == 0.0 and outcome.bias == 0.0 and outcome.extra["rank"] == X.shape[1], (method, solver)
        reached = digits(w, exact)
        certificate = outcome.extra["certificate"]
        assert certificate["certified_digits"] <= reached + 1e-9, (method, solver)  # never claims too much
        if solver in REFINED:
            assert outcome.status == "closed_form" and reached >= 13, (method, solver, reached)
        elif design != "float32":  # torch and scikit-learn are not refined: κ·eps of their dtype
            # (scikit-learn's LinearRegression(fit_intercept=False) cuts the ill design's rank to
            # 2 or 3 of 4: its answer is wrong and flagged so)
            good = reached >= min(13.0, 15.0 - math.log10(kappa))
            assert good or outcome.status == "inaccurate", (method, solver, reached, kappa)


def test_the_gram_and_qr_without_the_ones_column_are_those_of_x_and_y():
    X, y = DESIGNS["offset"]
    B = np.column_stack([X, y])
    np.testing.assert_allclose(cf.design_gram(X, y, intercept=False), B.T @ B, rtol=1e-14)
    R = cf.design_qr(X, y, intercept=False)
    np.testing.assert_allclose(np.abs(R), np.abs(np.linalg.qr(B, mode="r")), rtol=1e-12, atol=1e-12)


def test_the_streamed_closed_form_equals_the_in_memory_one_through_the_origin():
    X, y = DESIGNS["ill"]
    for scaling in ("raw", "standardized"):
        settings = _settings("lstsq")
        stats = scaling_stats(X, y) if scaling == "standardized" else None
        streamed = solve_chunks(lambda: cf.array_chunks(X, y, 7), X.shape[1], X.dtype, settings, stats)
        memory, w, b = fit(X, y, scaling, settings)
        assert streamed.bias == 0.0 and streamed.original is not None and streamed.original[-1] == 0.0
        assert digits(streamed.original[:-1], exact_least_squares(X, y, intercept=False)) >= 13
        np.testing.assert_allclose(streamed.original[:-1], w, rtol=1e-14)


ITERATIVE = {
    # method: (settings, relative error allowed against the exact solution)
    "manual_gd": ({"lr": "optimal"}, 1e-7),
    "momentum_gd": ({"lr": "optimal"}, 1e-7),
    "nesterov_gd": ({"lr": "optimal"}, 1e-7),
    "autograd": ({"lr": "optimal"}, 1e-7),
    "nn_linear": ({"lr": "optimal"}, 1e-7),
    "adam": ({"lr": 0.01, "iterations": 5000}, 1e-6),
    "lbfgs": ({"lr": 1.0}, 1e-7),
    "sgd_regressor": ({"lr": 0.01, "iterations": 1000}, 1e-2),  # stochastic: its noise floor
}


@pytest.mark.parametrize("method", sorted(ITERATIVE))
def test_every_iterative_method_converges_to_the_exact_solution_with_the_bias_at_zero(method):
    X, y = DESIGNS["offset"]
    changes, allowed = ITERATIVE[method]
    settings = _settings(
        method, **{"iterations": 3000, "tolerance": 1e-10, "stop_early": True, "dtype": "float64", **changes}
    )
    outcome, w, b = fit(X, y, "standardized", settings, ([0.0, 0.0], 0.0), accuracy_targets=[1e-4])
    assert b == 0.0 and outcome.bias == 0.0
    assert (outcome.history["b"] == 0.0).all()
    exact = np.array([float(v) for v in exact_least_squares(X, y, intercept=False)])
    d = np.linalg.norm(X, axis=0)
    error = np.linalg.norm(d * (w - exact)) / np.linalg.norm(d * exact)
    assert error <= allowed, (method, error, outcome.status)
    if method != "sgd_regressor":
        assert outcome.status == "converged", outcome.extra.get("status_reason")
        check = outcome.extra["convergence_check"]
        assert check["checked"] and check["relative_error"] <= check["allowed_relative_error"]


def test_raw_descent_on_the_offset_design_follows_the_hessian_without_the_bias():
    # Raw, the offset design through the origin is well conditioned (κ(H) is that of XᵀX alone);
    # gradient descent's history follows the exact prediction of that Hessian.
    X, y = DESIGNS["offset"]
    settings = _settings("manual_gd", lr="optimal", iterations=60, dtype="float64")
    outcome, w, b = fit(X, y, "raw", settings, ([0.0, 0.0], 0.0), accuracy_targets=[1e-4])
    history = outcome.history
    large = history["gap"] > 1e-8 * history["gap"].iloc[0]
    np.testing.assert_allclose(history["gap"][large], history["predicted_gap"][large], rtol=1e-6)
    cond = conditioning(cf.design_gram(X, y, intercept=False), len(X))
    eigenvalues = np.linalg.eigvalsh(2.0 / len(X) * X.T @ X)
    np.testing.assert_allclose(cond.eigenvalues, eigenvalues, rtol=1e-12)
    assert len(cond.theta_star) == 2 and outcome.extra["lr"] == pytest.approx(2.0 / eigenvalues.sum(), rel=1e-12)


def test_lbfgs_reaches_the_ill_conditioned_design_raw():
    X, y = DESIGNS["offset"]
    settings = _settings("lbfgs", lr=1.0, iterations=200, tolerance=1e-12, stop_early=True, dtype="float64")
    outcome, w, b = fit(X, y, "raw", settings, ([0.0, 0.0], 0.0))
    assert b == 0.0 and digits(w, exact_least_squares(X, y, intercept=False)) >= 9


def test_data_parallel_descent_through_the_origin_follows_the_one_process_trajectory():
    X, y = DESIGNS["well"]
    base = _settings("momentum_gd", lr="optimal", iterations=30, dtype="float64")
    one, w1, b1 = fit(X, y, "standardized", base, ([0.0] * 3, 0.0))
    two, w2, b2 = fit(X, y, "standardized", base.replace(processes=2), ([0.0] * 3, 0.0))
    assert b1 == b2 == 0.0
    np.testing.assert_allclose(two.history["loss"], one.history["loss"], rtol=1e-12)
    np.testing.assert_allclose(w2, w1, rtol=1e-12)


def test_streamed_descent_through_the_origin_keeps_the_bias_at_zero():
    X, y = DESIGNS["offset"]
    stats, _ = chunk_statistics(cf.array_chunks(X, y, 8), ["a", "b"], center=False)
    assert not stats.centered and (stats.x_mean == 0).all() and stats.y_mean == 0
    settings = _settings("manual_gd", lr=0.4, iterations=400, tolerance=1e-9, stop_early=True)
    outcome = full_batch_descent(lambda: cf.array_chunks(X, y, 8), np.zeros(2), 0.0, 0.4, settings, stats)
    assert outcome.status == "converged" and outcome.bias == 0.0
    w = to_original_units(outcome.weights, outcome.bias, stats)[0]
    exact = np.array([float(v) for v in exact_least_squares(X, y, intercept=False)])
    np.testing.assert_allclose(w, exact, rtol=1e-6)


def test_an_engine_that_cannot_drop_the_bias_is_refused_by_name():
    class SixArguments(ManualEngine):
        def __init__(self, w0, b0, lr, reduction, options, seed=0):
            super().__init__(w0, b0, lr, reduction, options, seed)

    import torch  # only here: the other tests need no torch tensors of their own

    method = Method(name="six", kind="iterative", description="x", colour="#000000", engine=SixArguments)
    with pytest.raises(FitError, match="six's engine does not take fit_intercept"):
        make_engine(method, torch.zeros(2), torch.zeros(()), 0.1, "mean", {}, 0, intercept=False)
    assert make_engine(method, torch.zeros(2), torch.zeros(()), 0.1, "mean", {}, 0, intercept=True) is not None


def test_a_closed_form_plugin_that_ignores_the_setting_is_refused_by_name(tmp_path):
    # A solver that does not read settings.fit_intercept (as the README's ridge) returns a bias:
    # the fit is refused rather than recorded as a model through the origin.
    (tmp_path / "ignoring.py").write_text(
        "from descent.fitting.method import Method\n"
        "from descent.fitting.methods import lstsq\n"
        "_solve = lstsq.solve\n"
        "METHOD = Method(name='ignoring', kind='closed_form', description='x', colour='#000000',\n"
        "    solve=lambda X, y, s, stats: _solve(X, y, s.replace(fit_intercept=True), stats), options=lstsq.METHOD.options)\n"
    )
    X, y = DESIGNS["well"]
    use_plugins(["ignoring.py"], tmp_path)
    try:
        with pytest.raises(FitError, match="method ignoring returned bias"):
            fit(X, y + 5.0, "raw", _settings("ignoring"))
    finally:
        use_plugins([])


def test_a_start_with_a_bias_is_refused():
    X, y = DESIGNS["well"]
    with pytest.raises(FitError, match="fixes the bias at 0"):
        fit(X, y, "raw", _settings("manual_gd", iterations=2), ([0.0] * 3, 1.0))


@pytest.fixture(scope="module")
def on_disk(tmp_path_factory):
    path = tmp_path_factory.mktemp("origin") / "data.parquet"
    meta = write_synthetic_parquet(path, 6_000, 3, seed=11, dtype="float64", rows_per_group=1_500)
    table = pq.read_table(path)
    X = np.column_stack([table[name].to_numpy() for name in meta["features"]])
    return path, meta, X, table["y"].to_numpy()


@pytest.mark.parametrize("scaling", ["raw", "standardized"])
def test_a_fit_streamed_from_disk_through_the_origin_equals_the_in_memory_one(on_disk, scaling):
    path, meta, X, y = on_disk

    def chunks():
        return parquet_chunks(path, meta["features"], meta["target"], rows=1_000)

    exact = np.array([float(v) for v in exact_least_squares(X, y, intercept=False)])
    for method, changes in (("lstsq", {}), ("manual_gd", {"lr": "optimal", "iterations": 400, "tolerance": 1e-10})):
        settings = _settings(method, stop_early=True, **changes)
        streamed, w_s, b_s = fit_streaming(chunks, meta["features"], X.dtype, scaling, settings, ([0.0] * 3, 0.0))
        memory, w_m, b_m = fit(X, y, scaling, settings, ([0.0] * 3, 0.0))
        assert b_s == b_m == 0.0 and streamed.bias == 0.0, method
        if method == "lstsq":
            np.testing.assert_allclose(w_s, exact, rtol=1e-13)
            np.testing.assert_allclose(w_m, exact, rtol=1e-13)
        else:  # the same float64 descent from disk and in memory (not converged raw: the same path)
            steps = min(len(streamed.history), len(memory.history)) - 1  # (the in-memory one adds a final row)
            np.testing.assert_allclose(streamed.history["loss"][:steps], memory.history["loss"][:steps], rtol=1e-9)
            np.testing.assert_allclose(w_s, w_m, rtol=1e-6)
            assert (streamed.history["b"] == 0.0).all()
    record, _ = streaming_record(
        str(path),
        {**meta, "dtype": "float64"},
        {"dataset": "d", "scaling": scaling, "method": "lstsq"},
        _settings("lstsq"),
        None,
        [[1.0, 2.0, 3.0]],
    )
    assert record["bias"] == 0.0 and record["inference"]["dof"] == len(X) - 3
    memory = inference_from_data(X, y, np.asarray(record["weights"]), 0.0, intercept=False)
    np.testing.assert_allclose(record["inference"]["standard_errors"][:-1], memory.standard_errors[:-1], rtol=1e-10)
    assert record["predictions"][0]["prediction"] == pytest.approx(float(np.dot([1.0, 2.0, 3.0], record["weights"])))


def test_the_summarys_streamed_facts_through_the_origin_equal_the_in_memory_ones(on_disk):
    path, meta, X, y = on_disk
    streamed, facts = parquet_facts(path, meta["features"], meta["target"], ["raw", "standardized"], origin=True)
    memory = reference(X, y, origin=True)
    assert streamed.origin is not None and memory.origin is not None
    np.testing.assert_allclose(streamed.origin.theta, memory.origin.theta, rtol=1e-10)
    assert streamed.origin.mse == pytest.approx(memory.origin.mse, rel=1e-12)
    np.testing.assert_allclose(streamed.theta, memory.theta, rtol=1e-10)  # the intercept's, as before
    for scaling in ("raw", "standardized"):
        own = fitted_conditioning(X, y, scaling, meta["features"], intercept=False)
        assert len(facts[f"{scaling} origin"].eigenvalues) == 3
        np.testing.assert_allclose(facts[f"{scaling} origin"].eigenvalues, own.eigenvalues, rtol=1e-10)
    assert "raw origin" not in parquet_facts(path, meta["features"], meta["target"], ["raw"])[1]


# --- the scaling without centring -----------------------------------------------------------------


def test_scaling_without_an_intercept_divides_by_the_root_mean_square_and_never_centres():
    X, y = DESIGNS["offset"]
    stats = standardization_stats(X, y, center=False)
    assert not stats.centered and (stats.x_mean == 0).all() and stats.y_mean == 0.0
    np.testing.assert_allclose(stats.x_std, np.sqrt((X**2).mean(axis=0)), rtol=1e-15)
    Xs, ys = standardize(X, y, stats)
    np.testing.assert_allclose((Xs**2).mean(axis=0), 1.0, rtol=1e-14)  # XᵀX/n has a unit diagonal
    streamed, n = chunk_statistics(cf.array_chunks(X, y, 7), ["a", "b"], center=False)
    assert n == len(X)
    np.testing.assert_allclose(streamed.x_std, stats.x_std, rtol=1e-14)
    with pytest.raises(FitError, match="x1 all zero"):
        scaling_stats(np.column_stack([X[:, 0], np.zeros(len(X))]), y)
    with pytest.raises(FitError, match="b"):
        chunk_statistics(cf.array_chunks(np.column_stack([X[:, 0], np.zeros(len(X))]), y), ["a", "b"], center=False)


finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@settings(max_examples=60, deadline=None)
@given(
    X=arrays(np.float64, (12, 3), elements=finite),
    y=arrays(np.float64, (12,), elements=finite),
    w=arrays(np.float64, (3,), elements=st.floats(min_value=-1e3, max_value=1e3)),
)
def test_the_uncentred_scaling_round_trip_is_exact_to_rounding(X, y, w):
    # Any nonzero columns: the scaled fit's weights map back to the same weights and the same
    # predictions (no centring: the bias stays exactly 0 both ways).
    if not (np.abs(X).max(axis=0) > 1e-3).all() or not np.abs(y).max() > 1e-3:
        return
    stats = scaling_stats(X, y)
    fitted = to_fitted(w, stats)
    assert len(fitted) == 3
    back = to_original(fitted, stats)
    np.testing.assert_allclose(back, w, rtol=4e-16 * 8, atol=0)
    w_back, b_back = to_original_units(fitted, 0.0, stats)
    assert b_back == 0.0
    np.testing.assert_allclose(w_back, w, rtol=4e-16 * 8, atol=0)
    Xs, _ = standardize(X, y, stats)
    scale = np.abs(X) @ np.abs(w) + 1e-300
    np.testing.assert_allclose((Xs @ fitted) * stats.y_std / scale, (X @ w) / scale, rtol=0, atol=1e-14)


# --- inference against statsmodels without a constant ---------------------------------------------


@pytest.mark.parametrize("design", ["well", "offset"])  # statsmodels' pinv cuts the ill design's rank
def test_inference_through_the_origin_equals_statsmodels_without_a_constant(design):
    X, y = DESIGNS[design]
    outcome, w, b = fit(X, y, "raw", _settings("lstsq"))
    found = inference_from_data(X, y, w, b, intercept=False)
    model = sm.OLS(y, X).fit()  # no add_constant: a model without a constant
    assert found.dof == int(model.df_resid) == len(X) - X.shape[1]
    np.testing.assert_allclose(w, model.params, rtol=1e-9)
    np.testing.assert_allclose(found.standard_errors[:-1], model.bse, rtol=1e-8)
    np.testing.assert_allclose(found.t_values[:-1], model.tvalues, rtol=1e-8)
    np.testing.assert_allclose(np.column_stack([found.ci_low[:-1], found.ci_high[:-1]]), model.conf_int(), rtol=1e-8)
    assert found.r2 == pytest.approx(model.rsquared, rel=1e-12)  # uncentred, as statsmodels reports it
    assert found.adj_r2 == pytest.approx(model.rsquared_adj, rel=1e-12)
    assert found.sigma == pytest.approx(math.sqrt(model.scale), rel=1e-12)
    # No bias row: the bias entry is undefined, not a number.
    assert found.standard_errors[-1] is None and found.ci_low[-1] is None and found.t_values[-1] is None
    streamed = inference_from_chunks(lambda: cf.array_chunks(X, y, 7), X.shape[1], w, b, intercept=False)
    np.testing.assert_allclose(streamed.standard_errors[:-1], found.standard_errors[:-1], rtol=1e-12)
    with pytest.raises(ValueError, match="bias 0"):
        inference_from_data(X, y, w, 1.0, intercept=False)


def test_noint1_inference_gives_nists_residual_standard_deviation():
    data = nist_dataset("noint1")
    outcome, w, b = fit(data.X, data.y, "raw", _settings("lstsq"))
    found = inference_from_data(data.X, data.y, w, b, intercept=False)
    assert w[0] == pytest.approx(data.published[0], rel=1e-14) and b == 0.0
    assert found.sigma == pytest.approx(data.residual_sd, rel=1e-13) and found.dof == 10


# --- config, summary ------------------------------------------------------------------------------


def test_a_non_boolean_fit_intercept_is_refused_naming_the_dataset_method_and_field(test_config):
    test_config["fits"]["overrides"].append(
        {"dataset": "multifeature", "method": "lstsq", "set": {"fit_intercept": "no"}}
    )
    with pytest.raises(ConfigError) as info:
        validate_config(test_config, ROOT / "schemas")
    message = str(info.value)
    line = next(line for line in message.splitlines() if "fit_intercept" in line)
    assert "set.fit_intercept" in line and "'no' is not of type 'boolean'" in line, message
    assert "dataset multifeature" in line and "method lstsq" in line, message


def test_a_variants_non_boolean_fit_intercept_names_the_variant_and_its_method(test_config):
    test_config["fits"]["variants"]["origin"] = {"method": "lstsq", "settings": {"fit_intercept": 0}}
    with pytest.raises(ConfigError) as info:
        validate_config(test_config, ROOT / "schemas")
    line = next(line for line in str(info.value).splitlines() if "fit_intercept" in line)
    assert "fits.variants.origin.settings.fit_intercept" in line and "method lstsq" in line, line


def test_a_start_bias_with_fit_intercept_false_is_refused_and_the_default_start_has_none(test_config):
    test_config["fits"]["overrides"].append(
        {"dataset": "paris_rent", "method": "manual_gd", "set": {"fit_intercept": False}}
    )
    with pytest.raises(ConfigError, match=r"method manual_gd\)\.init\.bias: 100 with fit_intercept: false"):
        validate_config(test_config, ROOT / "schemas")
    spec = {"kind": "multiscale_gaussian", "n_features": 2}
    settings = {"init": {"kind": "values", "weights": 1.0, "bias": 3.0}, "fit_intercept": False}
    assert initial_parameters(settings, spec) == ([1.0, 1.0], 0.0)


def test_the_summary_compares_a_fit_through_the_origin_with_the_least_squares_through_the_origin():
    X, y = DESIGNS["offset"]
    records = []
    for intercept in (True, False):
        settings = default_fit_settings(ROOT / "schemas", "lstsq", fit_intercept=intercept)
        _, w, b = fit(X, y, "raw", settings)
        records.append(
            {
                "dataset": "d",
                "scaling": "raw",
                "method": f"lstsq_{intercept}",
                "base_method": "lstsq",
                "features": ["a", "b"],
                "weights": list(w),
                "bias": b,
                "true_weights": None,
                "true_bias": None,
                "mse": float(np.mean((y - X @ w - b) ** 2)),
                "status": "closed_form",
                "iterations": 0,
                "converged": True,
                "diverged": False,
                "seconds": 0.0,
                "device": "cpu",
                "settings": settings.as_dict(),
            }
        )
    ref = reference(X, y, origin=True)
    assert ref.origin is not None and ref.origin.theta[-1] == 0.0
    summary, _ = summarize_fits(records, {"d": ref})
    assert list(summary["fit_intercept"]) == [False, True]
    assert (summary["rel_dist_to_lstsq"] < 1e-12).all() and (summary["mse_excess"].abs() < 1e-9).all()
    origin_row = summary[~summary["fit_intercept"]].iloc[0]
    assert origin_row["lstsq_bias"] == 0.0 and origin_row["mse"] > summary["lstsq_mse"].min()
    with pytest.raises(ValueError, match="through the origin"):
        summarize_fits(records, {"d": reference(X, y)})


def test_the_exact_reference_through_the_origin_is_the_rational_normal_equations():
    X = np.array([[1.0], [2.0], [3.0]])
    y = np.array([1.0, 2.0, 2.0])
    assert exact_least_squares(X, y, intercept=False) == [Fraction(11, 14)]


# --- the workflow ---------------------------------------------------------------------------------


@pytest.mark.workflow
def test_a_dataset_fitted_through_the_origin_in_the_workflow_records_bias_zero_and_builds_the_report(
    tmp_path, test_config, write_config
):
    config = test_config
    config["datasets"] = {"multifeature": {**config["datasets"]["multifeature"], "n": 300}}
    config["fits"] = {
        "methods": ["manual_gd", "lstsq", "sklearn"],
        "settings": {"iterations": 300, "lr": "optimal", "tolerance": 1.0e-8, "stop_early": True},
        "overrides": [{"dataset": "multifeature", "why": "through the origin", "set": {"fit_intercept": False}}],
    }
    config["report"] = {"benchmark": False, "lessons": False, "interactive": False}
    run_snakemake(tmp_path, configfile=write_config(config))
    fits = tmp_path / "results/fits/multifeature"
    X = None
    for scaling in ("raw", "standardized"):
        for method in ("manual_gd", "lstsq", "sklearn"):
            record = json.loads((fits / scaling / f"{method}.json").read_text())
            assert record["settings"]["fit_intercept"] is False
            assert record["bias"] == 0.0 and record["fitted_space"]["bias"] == 0.0, (scaling, method)
            if method == "lstsq":
                if X is None:
                    frame = pd.read_parquet(tmp_path / "results/datasets/multifeature.parquet")
                    X, y = frame.iloc[:, :-1].to_numpy(), frame.iloc[:, -1].to_numpy()
                np.testing.assert_allclose(record["weights"], np.linalg.lstsq(X, y, rcond=None)[0], rtol=1e-10)
                assert record["inference"]["dof"] == len(X) - X.shape[1]
                assert record["inference"]["standard_errors"][-1] is None
    summary = pd.read_parquet(tmp_path / "results/fits/summary.parquet")
    assert not summary["fit_intercept"].any() and (summary["bias"] == 0.0).all()
    closed = summary[summary["base_method"] != "manual_gd"]
    assert (closed["rel_dist_to_lstsq"] < 1e-9).all()  # against the least squares through the origin
    # Every closed form reaches every accuracy target against its own model's Hessian.
    accuracy = pd.read_parquet(tmp_path / "results/fits/time_to_accuracy.parquet")
    assert accuracy[accuracy["kind"] == "closed_form"]["reached"].all()
    page = (tmp_path / "results/report/index.html").read_text()
    assert "0 (no intercept)" in page and "least squares through the origin" in page
