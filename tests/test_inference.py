"""Classical OLS inference of closed-form fits (descent.fitting.inference) against statsmodels:
standard errors, t values, 95 % intervals, R², adjusted R², in original units whatever the
fitted scaling, for float64 and float32 data; the n = k + 1 edge; the fit JSON's field."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml

from conftest import ROOT, TEST_CONFIG
from descent.config.fits import FitJob, resolve_settings
from descent.datasets import diabetes_frame, generate
from descent.fitting.inference import inference_from_data, ols_inference
from descent.fitting.records import fit_record
from descent.fitting.registry import typed_settings
from descent.io import to_jsonable
from descent.validation import validate_config
from lesson_specs import LESSON0

#: Largest relative differences against statsmodels accepted (float64 throughout on both sides;
#: observed about 1e-12 on these problems).
RTOL = 1e-9


def _statsmodels(X: np.ndarray, y: np.ndarray):
    """statsmodels OLS on float64 data with the intercept last (weights first, bias last, as descent)."""
    import statsmodels.api as sm  # here, not at the top: it costs every xdist worker 1.5 s to collect

    return sm.OLS(
        np.asarray(y, dtype=np.float64), sm.add_constant(np.asarray(X, dtype=np.float64), prepend=False)
    ).fit()


def _rel(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.abs(b)))


def _problem(dtype=np.float64, n=200, seed=0):
    """Features on scales 1e-2 … 1e3 with offsets (an ill-scaled raw design), noisy target."""
    rng = np.random.default_rng(seed)
    scales = np.array([1e-2, 1.0, 1e3])
    X = 3 * scales + scales * rng.standard_normal((n, 3))
    w, b = np.array([50.0, -2.0, 0.003]), 7.0
    y = X @ w + b + rng.standard_normal(n)
    return X.astype(dtype), y.astype(dtype), w, b


def _fit(X, y, scaling, method="lstsq", meta=None):
    k = X.shape[1]
    meta = meta or {"features": [f"x{j}" for j in range(k)], "target": "y", "true_weights": None, "true_bias": None}
    settings = typed_settings(_settings(method))
    init = None if method in ("lstsq", "sklearn") else ([0.0] * k, 0.0)
    record, _ = fit_record(X, y, meta, {"dataset": "d", "scaling": scaling, "method": method}, settings, init, [])
    return record


def _settings(method):
    """The fits schema's defaults for ``method`` (as the workflow resolves them)."""
    config = yaml.safe_load(TEST_CONFIG.read_text())
    validate_config(config, ROOT / "schemas")
    return resolve_settings(config, FitJob("multifeature", "raw", method))


def _check_against_statsmodels(inference: dict, X, y):
    res = _statsmodels(X, y)
    ci = res.conf_int(0.05)
    diffs = {
        "standard_errors": _rel(inference["standard_errors"], res.bse),
        "t_values": _rel(inference["t_values"], res.tvalues),
        "ci_low": _rel(inference["ci_low"], ci[:, 0]),
        "ci_high": _rel(inference["ci_high"], ci[:, 1]),
        "r2": abs(inference["r2"] - res.rsquared),
        "adj_r2": abs(inference["adj_r2"] - res.rsquared_adj),
    }
    assert inference["dof"] == int(res.df_resid)
    assert max(diffs.values()) < RTOL, diffs
    return diffs


def test_diabetes_matches_statsmodels():
    frame = diabetes_frame()
    X, y = frame.drop(columns="progression").to_numpy(), frame["progression"].to_numpy()
    res = _statsmodels(X, y)
    inference = inference_from_data(X, y, res.params[:-1], res.params[-1]).as_dict()
    _check_against_statsmodels(inference, X, y)
    assert inference["covers_truth"] is None  # no truth known
    assert inference["dof"] == 442 - 11 and inference["r2"] == pytest.approx(0.5177, abs=1e-4)


@pytest.mark.parametrize("method", ["lstsq", "sklearn"])
@pytest.mark.parametrize("scaling", ["raw", "standardized"])
def test_closed_form_fits_carry_inference_in_original_units(method, scaling):
    X, y, _, _ = _problem()
    record = _fit(X, y, scaling, method)
    assert record["status"] == "closed_form"
    _check_against_statsmodels(record["inference"], X, y)


def test_raw_and_standardized_inference_agree():
    X, y, _, _ = _problem(seed=3)
    raw, std = (_fit(X, y, s)["inference"] for s in ("raw", "standardized"))
    for field in ("standard_errors", "t_values", "ci_low", "ci_high"):
        assert _rel(std[field], raw[field]) < 1e-9, field
    assert std["r2"] == pytest.approx(raw["r2"], rel=1e-12)
    assert std["adj_r2"] == pytest.approx(raw["adj_r2"], rel=1e-12)


def test_float32_data_inference_is_float64_of_the_stored_values():
    X, y, _, _ = _problem(np.float32, seed=5)
    record = _fit(X, y, "raw")
    assert record["status"] == "closed_form"
    # statsmodels on the very float32 values, widened: the same numbers to float64 rounding.
    _check_against_statsmodels(record["inference"], X.astype(np.float64), y.astype(np.float64))


def test_covers_truth_for_synthetic_data():
    X, y, w, b = _problem(seed=1)
    meta = {"features": ["a", "b", "c"], "target": "y", "true_weights": w.tolist(), "true_bias": b}
    inference = _fit(X, y, "raw", meta=meta)["inference"]
    low, high = np.array(inference["ci_low"]), np.array(inference["ci_high"])
    truth = np.append(w, b)
    assert inference["covers_truth"] == [bool(lo <= t <= hi) for lo, t, hi in zip(low, truth, high)]
    # Seeded data: every 95 % interval happens to cover its true value here.
    assert all(inference["covers_truth"])


def test_generated_lesson_dataset_coverage_is_recorded():
    data = generate(LESSON0)
    X, y = data.frame[["x"]].to_numpy(), data.frame["y"].to_numpy()
    meta = data.metadata("lesson_linear")
    inference = _fit(X, y, "standardized", meta=meta)["inference"]
    assert inference["covers_truth"] is not None and len(inference["covers_truth"]) == 2


def test_n_equals_k_plus_one_has_no_standard_errors():
    # Three rows, two features: the fit interpolates, dof = 0, standard errors are undefined.
    X = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 3.0]])
    y = np.array([1.0, 2.0, 4.0])
    record = _fit(X, y, "raw")
    inference = record["inference"]
    assert inference["dof"] == 0
    for field in ("standard_errors", "t_values", "ci_low", "ci_high"):
        assert inference[field] == [None, None, None]
    assert inference["adj_r2"] is None and inference["sigma"] is None
    # Strict JSON: no NaN or inf anywhere.
    text = json.dumps(to_jsonable(record), allow_nan=False)
    assert '"standard_errors": [null, null, null]' in text


def test_constant_target_has_no_r2():
    X = np.array([[1.0], [2.0], [3.0], [4.0]])
    gram = np.array([[30.0, 10.0, 50.0], [10.0, 4.0, 20.0], [50.0, 20.0, 100.0]])  # [X, 1, y] with y = 5
    inference = ols_inference(gram, np.array([0.0, 5.0]), rss=0.0, tss=0.0)
    assert inference.r2 is None and inference.adj_r2 is None
    assert inference.standard_errors == [0.0, 0.0]
    assert X.shape[0] == inference.n


def test_iterative_fits_have_no_inference_and_failed_closed_forms_null():
    X, y, _, _ = _problem(seed=2)
    assert "inference" not in _fit(X, y, "standardized", "manual_gd")
    # A rank-deficient design (a duplicated column) is not a certified fit: inference is null.
    X2 = np.column_stack([X[:, :2], X[:, 1]])
    record = _fit(X2, y, "raw")
    assert record["status"] == "inaccurate" and record["inference"] is None
