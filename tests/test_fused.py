"""The fused one-sweep pass (descent.fitting.fused) against the NumPy/torch passes it replaces on
large data (kept as the references here): equal within a rounding bound, over shapes, dtypes, row
offsets, block sizes, thread counts and standardization (hypothesis); independent of the threads
bit for bit; wired into hand_gradients (column-major X), the streamed pass and the fit loop."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from descent.config.fits import default_fit_settings
from descent.fitting import closed_form, fused, objective, stream
from descent.fitting.common import kept_layout
from descent.fitting.iterative import fit_iterative
from descent.fitting.scaling import Standardization

ROOT = Path(__file__).resolve().parents[1]


def _reference_sums(X, y, w, b, stats=None):
    """(Σ x_j·s, Σ s, Σ s²) with s = X·w + b − y, in float64 from float64_block (the former
    streamed pass's own widening and standardization), and the bound's scale Σ|x_j|·A, A ≥ |s|."""
    block = closed_form.float64_block(np.asarray(X), np.asarray(y), stats)
    k = X.shape[1]
    Xs, ys = block[:, :k], block[:, k + 1]
    s = Xs @ np.asarray(w, dtype=np.float64) + b - ys
    bound_terms = np.abs(b) + np.abs(ys) + np.abs(Xs) @ np.abs(np.asarray(w, dtype=np.float64))
    sums = np.concatenate([Xs.T @ s, [s.sum(), s @ s]])
    scale = np.concatenate([np.abs(Xs).T @ bound_terms, [bound_terms.sum(), bound_terms @ bound_terms]])
    return sums, scale


def _check_within_rounding(got, want, scale, eps, k, rows):
    """|got − want| ≤ 2·eps·(k + 2 + rows)·scale: the residual's k + 2 roundings and a block's
    reassociated sum of at most ``rows`` terms in the compute dtype (the block sums are float64)."""
    allowed = 2.0 * eps * (k + 2 + rows) * scale + 1e-300
    assert np.all(np.abs(got - want) <= allowed), (got, want, np.abs(got - want) / allowed)


def _problem(n, k, dtype, seed, offset, spread):
    """Column-major X (n, k) as a row slice starting at ``offset`` of a larger column-major array
    (so its columns are ``n + 2·offset`` apart), y (n,), w (k,), b: scales spread over ``spread``
    decades and a mean offset, as raw data have."""
    rng = np.random.default_rng(seed)
    scales = np.logspace(0, spread, k)
    base = np.asfortranarray((rng.standard_normal((n + 2 * offset, k)) * scales + 3 * scales).astype(dtype))
    X = base[offset : offset + n]
    y = (rng.standard_normal(n) * 5 + 1).astype(dtype)
    w = (rng.standard_normal(k) / scales).astype(dtype)
    return X, y, w, float(rng.uniform(-2, 2))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 700),
    k=st.integers(1, 6),
    dtype=st.sampled_from([np.float32, np.float64]),
    offset=st.integers(0, 5),
    rows=st.sampled_from([64, 128, 1024]),
    workers=st.integers(1, 3),
    spread=st.floats(0, 3),
    seed=st.integers(0, 2**16),
)
def test_raw_pass_equals_the_float64_pass_to_rounding(n, k, dtype, offset, rows, workers, spread, seed):
    X, y, w, b = _problem(n, k, dtype, seed, offset, spread)
    assert fused.is_column_major(X) or k == 1
    got = fused.partial_sums(X, y, w, b, workers=workers, rows=rows)
    want, scale = _reference_sums(X, y, w, np.dtype(dtype).type(b))
    _check_within_rounding(got, want, scale, float(np.finfo(dtype).eps), k, min(rows, n))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(2, 700),
    k=st.integers(1, 5),
    dtype=st.sampled_from([np.float32, np.float64]),
    offset=st.integers(0, 3),
    rows=st.sampled_from([64, 256]),
    standardized=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_streamed_pass_equals_the_former_float64_block_pass(n, k, dtype, offset, rows, standardized, seed):
    """Widened to float64 (and standardized, as float64_block does) in the kernel."""
    X, y, w, b = _problem(n, k, dtype, seed, offset, 2.0)
    stats = None
    if standardized:
        X64 = X.astype(np.float64)
        stats = Standardization(X64.mean(axis=0), X64.std(axis=0) + 0.5, float(y.mean()), float(y.std()) + 0.5)
    w64 = w.astype(np.float64)
    got = fused.partial_sums(X, y, w64, b, stats, workers=2, rows=rows)
    want, scale = _reference_sums(X, y, w64, b, stats)
    _check_within_rounding(got, want, scale, float(np.finfo(np.float64).eps), k, min(rows, n))


def test_the_result_does_not_depend_on_the_threads_and_c_order_is_copied():
    X, y, w, b = _problem(5000, 4, np.float32, 1, 2, 1.0)
    one = fused.partial_sums(X, y, w, b, workers=1, rows=128)
    for workers in (2, 3, 7):
        assert np.array_equal(one, fused.partial_sums(X, y, w, b, workers=workers, rows=128))
    C = np.ascontiguousarray(X)
    assert not fused.is_column_major(C)
    assert np.array_equal(one, fused.partial_sums(C, y, w, b, workers=2, rows=128))


def test_inf_and_nan_propagate_as_a_diverging_fit_needs():
    X, y, w, b = _problem(300, 3, np.float64, 2, 0, 0.0)
    assert not np.isfinite(fused.partial_sums(X, y, w * 1e300, b, rows=64)).all()
    X[17, 1] = np.nan
    assert np.isnan(fused.partial_sums(X, y, w, b, rows=64)).all()


def test_column_view_reads_in_place():
    X = np.asfortranarray(np.arange(40.0).reshape(10, 4))[2:7]
    columns, ld = fused.column_view(X)
    assert ld == 10 and np.shares_memory(columns, X)
    for j in range(4):
        assert np.array_equal(columns[j * ld : j * ld + 5], X[:, j])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_hand_gradients_take_the_fused_pass_for_column_major_x(dtype, reduction):
    """The current two-product path is the reference: equal within the float rounding bound."""
    X, y, w, b = _problem(3001, 5, np.float64 if dtype == torch.float64 else np.float32, 3, 0, 2.0)
    Xt, yt, wt, bt = torch.from_numpy(X), torch.from_numpy(y), torch.from_numpy(w), torch.tensor(b, dtype=dtype)
    assert Xt.T.is_contiguous()
    with objective.gradient_blocking(1000):
        got = objective.hand_gradients(Xt, yt, wt, bt, reduction)
    plain = objective.hand_gradients(Xt, yt, wt, bt, reduction)  # 3001 rows: the two-product path
    assert [t.dtype for t in got] == [dtype] * 3 and got[1].shape == (5,)
    _, scale = _reference_sums(X, y, w, float(bt))
    n_scale = 2.0 / len(X) if reduction == "mean" else 2.0
    eps = float(torch.finfo(dtype).eps)
    # the reference's own rounding is of the same order as the fused pass's: twice the bound
    bound = 4.0 * eps * (5 + 2 + len(X)) * scale * n_scale
    assert np.all(np.abs(got[1].double().numpy() - plain[1].double().numpy()) <= bound[:5])
    assert abs(float(got[2]) - float(plain[2])) <= bound[5]
    assert abs(float(got[0]) - float(plain[0])) <= bound[6] * (1.0 / len(X) if reduction == "mean" else 1.0) / n_scale


def test_the_fit_loop_keeps_a_column_major_x_and_agrees_with_the_plain_fit():
    rng = np.random.default_rng(0)
    X = np.asfortranarray(rng.standard_normal((4000, 3)))
    y = X @ np.array([1.0, -2.0, 0.5]) + 3 + 0.1 * rng.standard_normal(4000)
    assert kept_layout(X, np.dtype("float64")) is X
    assert kept_layout(np.ascontiguousarray(X), np.dtype("float64")).flags.c_contiguous
    settings_ = default_fit_settings(
        ROOT / "schemas",
        "manual_gd",
        lr=0.1,
        iterations=50,
        loss_reduction="mean",
        tolerance=1e-5,
        stop_criterion="grad_norm",
    )
    plain = fit_iterative(np.ascontiguousarray(X), y, "manual_gd", settings_, [0.0] * 3, 0.0)
    with objective.gradient_blocking(1000):
        fast = fit_iterative(X, y, "manual_gd", settings_, [0.0] * 3, 0.0)
    np.testing.assert_allclose(fast.weights, plain.weights, rtol=1e-12)
    np.testing.assert_allclose(fast.history["loss"], plain.history["loss"], rtol=1e-12)
    assert fast.iterations == plain.iterations and fast.status == plain.status


def test_the_mse_of_a_large_column_major_x_is_the_fused_sum_within_rounding():
    X, y, w, b = _problem(3000, 4, np.float32, 5, 0, 2.0)
    chunked = objective.mse(np.ascontiguousarray(X), y, w, b, chunk_rows=700)  # row-major: the chunks
    with objective.gradient_blocking(1000):
        fast = objective.mse(X, y, w, b)
        assert objective.mse(np.ascontiguousarray(X), y, w, b, chunk_rows=700) == chunked
    assert fast == pytest.approx(chunked, rel=1e-12) and fast != objective.mse(X[:2999], y[:2999], w, b)


def test_the_streamed_gradient_pass_matches_the_in_memory_float64_formula():
    X, y, w, b = _problem(5000, 3, np.float32, 4, 0, 1.0)
    chunks = [(X[i : i + 1500], y[i : i + 1500]) for i in range(0, 5000, 1500)]
    loss, gw, gb, n = stream.gradient_pass(chunks, w.astype(np.float64), b, None)
    X64, y64 = X.astype(np.float64), y.astype(np.float64)
    r = y64 - (X64 @ w.astype(np.float64) + b)
    assert n == 5000
    assert loss == pytest.approx(float(r @ r) / n, rel=1e-12)
    np.testing.assert_allclose(gw, -2.0 / n * (X64.T @ r), rtol=1e-10)
    assert gb == pytest.approx(-2.0 / n * r.sum(), rel=1e-10)
