"""Unit tests of the benchmark's measurement helpers (descent.perf) and of the blocked gradient
path of descent.fitting.hand_gradients. Tiny sizes; nothing here asserts a speed."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from descent import fitting, perf


# --------------------------------------------------------------------------------------------
# Blocked gradients (descent.fitting._blocked_gradients, used by hand_gradients for large n)
# --------------------------------------------------------------------------------------------


def _data(n: int, k: int, dtype: torch.dtype, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(n, k, generator=g, dtype=dtype) * torch.logspace(-1, 2, k, dtype=dtype)
    y = torch.randn(n, generator=g, dtype=dtype) + 3
    w = torch.randn(k, generator=g, dtype=dtype)
    b = torch.tensor(0.7, dtype=dtype)
    return X, y, w, b


def _plain(X, y, w, b, reduction):
    r = y - (X @ w + b)
    scale = 2.0 / X.shape[0] if reduction == "mean" else 2.0
    loss = (r * r).mean() if reduction == "mean" else (r * r).sum()
    return loss, -scale * (X.T @ r), -scale * r.sum()


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_blocked_gradients_match_the_two_product_formula(reduction, dtype):
    X, y, w, b = _data(1003, 4, dtype)  # 1003 rows: the last block is partial
    expected = _plain(X.double(), y.double(), w.double(), b.double(), reduction)
    got = fitting._blocked_gradients(X, y, w, b, reduction, block_rows=64, workers=1)
    assert [t.dtype for t in got] == [dtype] * 3
    assert got[1].shape == (4,) and got[0].shape == () and got[2].shape == ()
    rtol = 1e-12 if dtype == torch.float64 else 2e-5
    scale = float(expected[1].abs().max())
    assert float(got[0]) == pytest.approx(float(expected[0]), rel=rtol)
    np.testing.assert_allclose(got[1].double().numpy(), expected[1].numpy(), rtol=0, atol=rtol * scale)
    assert float(got[2]) == pytest.approx(float(expected[2]), rel=rtol, abs=rtol * scale)


def test_blocked_gradients_do_not_depend_on_workers_and_restore_threads():
    X, y, w, b = _data(2000, 3, torch.float64)
    threads = torch.get_num_threads()
    one = fitting._blocked_gradients(X, y, w, b, "mean", block_rows=100, workers=1)
    two = fitting._blocked_gradients(X, y, w, b, "mean", block_rows=100, workers=2)
    three = fitting._blocked_gradients(X, y, w, b, "mean", block_rows=100, workers=3)
    for a, c, d in zip(one, two, three):
        assert torch.equal(a, c) and torch.equal(a, d)
    assert torch.get_num_threads() == threads


def test_hand_gradients_small_inputs_take_the_plain_path_bit_for_bit():
    X, y, w, b = _data(500, 2, torch.float32)
    assert X.shape[0] < fitting._BLOCK_MIN_ROWS
    for got, want in zip(fitting.hand_gradients(X, y, w, b, "sum"), _plain(X, y, w, b, "sum")):
        assert torch.equal(got, want)


def test_hand_gradients_switches_to_blocks_above_the_threshold(monkeypatch):
    X, y, w, b = _data(3000, 2, torch.float64)
    monkeypatch.setattr(fitting, "_BLOCK_MIN_ROWS", 1000)
    blocked = fitting.hand_gradients(X, y, w, b)
    assert torch.equal(blocked[1], fitting._blocked_gradients(X, y, w, b, "mean")[1])
    np.testing.assert_allclose(blocked[1].numpy(), _plain(X, y, w, b, "mean")[1].numpy(), rtol=1e-12)
    # With autograd in play the plain path runs (the blocked one writes into buffers).
    wg = w.clone().requires_grad_(True)
    loss, _, _ = fitting.hand_gradients(X, y, wg, b)
    assert loss.requires_grad


def test_manual_fit_above_threshold_agrees_with_the_plain_fit(monkeypatch):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4000, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 3 + 0.1 * rng.standard_normal(4000)
    settings = dict(lr=0.1, iterations=50, loss_reduction="mean", tolerance=1e-5, stop_criterion="grad_norm")
    plain = fitting.fit_iterative(X, y, "manual_gd", settings, [0.0] * 3, 0.0)
    monkeypatch.setattr(fitting, "_BLOCK_MIN_ROWS", 1000)
    blocked = fitting.fit_iterative(X, y, "manual_gd", settings, [0.0] * 3, 0.0)
    np.testing.assert_allclose(blocked.weights, plain.weights, rtol=1e-12)
    assert blocked.bias == pytest.approx(plain.bias, rel=1e-12)
    np.testing.assert_allclose(blocked.history["loss"], plain.history["loss"], rtol=1e-12)


# --------------------------------------------------------------------------------------------
# Measurement helpers
# --------------------------------------------------------------------------------------------


def test_time_repeats_counts_calls_and_uses_the_clock():
    calls = []
    ticks = iter([0.0, 1.0, 10.0, 13.0, 20.0, 22.0])
    result = perf.time_repeats(lambda: calls.append(1), warmup=2, repeats=3, clock=lambda: next(ticks))
    assert len(calls) == 5
    assert result["seconds"] == [1.0, 3.0, 2.0]
    assert result["seconds_min"] == 1.0 and result["seconds_median"] == 2.0
    with pytest.raises(ValueError):
        perf.time_repeats(lambda: None, repeats=0)


def test_stream_bandwidth_counts_stream_bytes_and_restores_threads():
    threads = torch.get_num_threads()
    result = perf.stream_bandwidth(1000, 1, "float64", warmup=0, repeats=2)
    assert result["copy"]["bytes"] == 2 * 1000 * 8
    assert result["triad"]["bytes"] == 3 * 1000 * 8
    assert result["copy"]["gbps"] == pytest.approx(16000 / result["copy"]["seconds_min"] / 1e9)
    assert result["best_gbps"] == max(result["copy"]["gbps"], result["triad"]["gbps"])
    assert torch.get_num_threads() == threads


def test_iteration_passes_and_bandwidth():
    assert perf.iteration_passes("manual_gd", 10, True) == ("blocked", 1)
    assert perf.iteration_passes("manual_gd", 10, False) == ("two_products", 2)
    assert perf.iteration_passes("nn_linear", 10, False) == ("autograd", 2)
    with pytest.raises(ValueError):
        perf.iteration_passes("lstsq", 10, False)
    bw = perf.iteration_bandwidth(1000, 10, 4, 0.5, 2)
    assert bw["bytes_x_min"] == 40000 and bw["bytes_x_read"] == 80000
    assert bw["effective_gbps"] == pytest.approx(40000 / 0.5 / 1e9)
    assert bw["read_gbps"] == pytest.approx(2 * bw["effective_gbps"])


def test_synthetic_regression_is_seeded_and_typed():
    X, y, w, b = perf.synthetic_regression(1000, 3, "float32", seed=4, scale_range=(0.1, 10.0), chunk_rows=128)
    X2, y2, w2, _ = perf.synthetic_regression(1000, 3, "float32", seed=4, scale_range=(0.1, 10.0), chunk_rows=128)
    assert X.shape == (1000, 3) and y.shape == (1000,) and X.dtype == np.float32 and y.dtype == np.float32
    assert np.array_equal(X, X2) and np.array_equal(y, y2) and np.array_equal(w, w2)
    assert np.std(X[:, 2]) > 20 * np.std(X[:, 0])
    theta = np.linalg.lstsq(np.column_stack([X, np.ones(1000)]).astype(np.float64), y.astype(np.float64), rcond=None)[0]
    np.testing.assert_allclose(theta[:3] * np.array([0.1, 1, 10]), w * np.array([0.1, 1, 10]), atol=0.05)
    assert theta[3] == pytest.approx(b, abs=0.2)


def test_gradient_iteration_reports_the_implementation():
    X, y, _, _ = perf.synthetic_regression(2000, 2, "float64", seed=0)
    result = perf.gradient_iteration("manual_gd", X, y, threads=1, warmup=0, repeats=2)
    assert result["implementation"] == "two_products" and result["passes_over_x"] == 2
    assert result["bytes_x_min"] == 2000 * 2 * 8 and len(result["timings"]["seconds"]) == 2
    assert perf.gradient_iteration("autograd", X, y, threads=1, warmup=0, repeats=1)["passes_over_x"] == 2


def test_closed_form_errors():
    errors = perf.closed_form_errors([1.0, 2.0, 0.001], [1.0, 2.5, 0.002])
    assert errors["max_abs_error"] == pytest.approx(0.5)
    assert errors["max_rel_error"] == pytest.approx(0.5)  # 0.001 off a 0.002 weight
    assert errors["norm_rel_error"] == pytest.approx(math.hypot(0.5, 0.001) / math.hypot(1, 2.5, 0.002))
    with pytest.raises(ValueError):
        perf.closed_form_errors([1.0], [1.0, 2.0])


def test_equilibrated_normal_equations_match_lstsq_and_flag_ill_conditioning():
    X, y, _, _ = perf.synthetic_regression(5000, 4, "float64", seed=3, scale_range=(1e-2, 1e3), offset_factor=1.0)
    ref = np.linalg.lstsq(np.column_stack([X, np.ones(len(X))]), y, rcond=None)[0]
    result = perf.equilibrated_normal_equations(X, y)
    assert result["well_conditioned"]
    assert perf.closed_form_errors(result["theta"], ref)["max_rel_error"] < 1e-9
    # float32 data are accumulated in float64 too.
    r32 = perf.equilibrated_normal_equations(X.astype(np.float32), y.astype(np.float32))
    assert r32["theta"].dtype == np.float64
    nearly = np.column_stack([X[:, 0], X[:, 0] * (1 + 1e-9 * np.arange(len(X)) / len(X))])
    assert not perf.equilibrated_normal_equations(nearly, y)["well_conditioned"]


def test_import_seconds_and_failures():
    result = perf.import_seconds("pass", repeats=2)
    assert len(result["seconds"]) == 2 and result["seconds_min"] > 0
    with pytest.raises(RuntimeError, match="nonexistent_module_xyz"):
        perf.import_seconds("import nonexistent_module_xyz", repeats=1)


def test_benchmark_tsv_parsing(tmp_path):
    header = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
    (tmp_path / "fits" / "a").mkdir(parents=True)
    (tmp_path / "fits" / "a" / "x.tsv").write_text(header + "1.5\t0:00:01\t100.2\t1\t1\t1\t0\t0\t50.0\t1.2\n")
    (tmp_path / "datasets").mkdir()
    (tmp_path / "datasets" / "d.tsv").write_text(header + "2.25\t0:00:02\tNA\t1\t1\t1\t0\t0\t0\t2\n")
    rows = perf.read_benchmark_tsv(tmp_path / "datasets" / "d.tsv")
    assert rows[0]["s"] == 2.25 and math.isnan(rows[0]["max_rss"]) and "h:m:s" not in rows[0]
    result = perf.benchmark_seconds(tmp_path)
    assert result["jobs"] == 2 and result["seconds"] == pytest.approx(3.75)
    assert result["by_stage"] == {"datasets": 2.25, "fits": 1.5}


def test_fit_seconds_sums_fit_records_only(tmp_path):
    (tmp_path / "d" / "raw").mkdir(parents=True)
    (tmp_path / "d" / "raw" / "lstsq.json").write_text(json.dumps({"method": "lstsq", "seconds": 0.25}))
    (tmp_path / "d" / "raw" / "manual_gd.json").write_text(json.dumps({"method": "manual_gd", "seconds": 1.0}))
    (tmp_path / "check.json").write_text(json.dumps({"point": {}, "seconds": 9.0}))  # no method: not a fit
    (tmp_path / "broken.json").write_text("{")
    assert perf.fit_seconds(tmp_path) == {"fits": 2, "seconds": 1.25}


def test_workflow_overhead_ratios():
    result = perf.workflow_overhead(wall_seconds=100.0, cores=2, jobs=40, job_seconds=150.0, startup_seconds=2.5)
    assert result["compute_ratio"] == pytest.approx(0.75)
    assert result["startup_share"] == pytest.approx(0.5)
    assert result["startup_seconds_total"] == 100.0


def test_target_met_and_missed():
    met = perf.target("t", 0.6, 0.5, "min")
    assert met["met"] and met["missed_by"] == 0 and met["ratio"] == pytest.approx(1.2)
    missed = perf.target("t", 0.2, 0.5, "min")
    assert not missed["met"] and missed["missed_by"] == pytest.approx(0.6)
    over = perf.target("t", 3.0, 2.0, "max")
    assert not over["met"] and over["missed_by"] == pytest.approx(0.5)
    assert perf.target("t", 1.0, 2.0, "max")["met"]
    nan = perf.target("t", math.nan, 2.0, "max")
    assert not nan["met"] and math.isnan(nan["missed_by"])
    with pytest.raises(ValueError):
        perf.target("t", 1.0, 1.0, "exact")


def test_peak_rss_child_sees_its_own_allocation():
    small = perf.peak_rss_child("RESULT = {'ok': 1}")
    big = perf.peak_rss_child("import numpy as np\na = np.ones(50_000_000)\nRESULT = {'n': a.size}")
    assert small["ok"] == 1 and big["n"] == 50_000_000
    assert big["peak_rss_bytes"] - small["peak_rss_bytes"] > 0.9 * 400e6
    assert perf.vm_hwm_bytes("Name: x\nVmHWM:\t  2048 kB\n") == 2048 * 1024
    with pytest.raises(ValueError):
        perf.vm_hwm_bytes("Name: x\n")


def test_format_table():
    text = perf.format_table([["a", 1.23456], ["bbb", math.nan]], ["name", "value"])
    lines = text.splitlines()
    assert lines[0].startswith("name") and "1.235" in lines[2] and "nan" in lines[3]
