"""Unit tests of the benchmark's measurement helpers (descent.perf, timed by descent.timing), of the
blocked gradient path of descent.fitting.objective.hand_gradients and of the closed-form pieces the
benchmark times. Tiny sizes; nothing here asserts a speed."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from descent import perf
from descent.config.fits import default_fit_settings
from descent.fitting import closed_form, objective
from descent.fitting.exact import digits, exact_least_squares
from descent.fitting.iterative import fit_iterative
from descent.fitting.objective import least_squares_reference
from descent.fitting.problems import random_regression
from descent.fitting.records import fit
from descent.perf import driver
from descent.perf.child import CHILDREN, run_child
from descent.perf.parts import discover
from descent.perf.workflow import fit_job_benchmarks
from descent.timing import time_callable

ROOT = Path(__file__).resolve().parents[1]


def _settings(method: str, **changes):
    """The schema's default settings of ``method`` with ``changes``."""
    return default_fit_settings(ROOT / "schemas", method, **changes)


# --------------------------------------------------------------------------------------------
# Blocked gradients (descent.fitting.objective.blocked_gradients, used by hand_gradients for large n)
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
    got = objective.blocked_gradients(X, y, w, b, reduction, block_rows=64, workers=1)
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
    one = objective.blocked_gradients(X, y, w, b, "mean", block_rows=100, workers=1)
    two = objective.blocked_gradients(X, y, w, b, "mean", block_rows=100, workers=2)
    three = objective.blocked_gradients(X, y, w, b, "mean", block_rows=100, workers=3)
    for a, c, d in zip(one, two, three):
        assert torch.equal(a, c) and torch.equal(a, d)
    assert torch.get_num_threads() == threads


def test_hand_gradients_small_inputs_take_the_plain_path_bit_for_bit():
    X, y, w, b = _data(500, 2, torch.float32)
    assert X.shape[0] < objective.BLOCK_MIN_ROWS
    for got, want in zip(objective.hand_gradients(X, y, w, b, "sum"), _plain(X, y, w, b, "sum")):
        assert torch.equal(got, want)


def test_gradient_blocking_switches_hand_gradients_to_blocks_and_restores_the_threshold():
    X, y, w, b = _data(3000, 2, torch.float64)
    default = objective.BLOCK_MIN_ROWS
    plain = objective.hand_gradients(X, y, w, b)
    for got, want in zip(plain, _plain(X, y, w, b, "mean")):
        assert torch.equal(got, want)  # 3000 rows: below the default threshold
    with objective.gradient_blocking(1000):
        assert objective.BLOCK_MIN_ROWS == 1000
        blocked = objective.hand_gradients(X, y, w, b)
        # With autograd in play the plain path runs (the blocked one writes into buffers).
        loss, _, _ = objective.hand_gradients(X, y, w.clone().requires_grad_(True), b)
        assert loss.requires_grad
    assert objective.BLOCK_MIN_ROWS == default
    assert torch.equal(blocked[1], objective.blocked_gradients(X, y, w, b, "mean")[1])
    np.testing.assert_allclose(blocked[1].numpy(), plain[1].numpy(), rtol=1e-12)
    # The threshold is restored even when the block raises.
    with pytest.raises(RuntimeError), objective.gradient_blocking(10):
        raise RuntimeError("inside")
    assert objective.BLOCK_MIN_ROWS == default


def test_manual_fit_above_threshold_agrees_with_the_plain_fit():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((4000, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 3 + 0.1 * rng.standard_normal(4000)
    settings = _settings(
        "manual_gd", lr=0.1, iterations=50, loss_reduction="mean", tolerance=1e-5, stop_criterion="grad_norm"
    )
    plain = fit_iterative(X, y, "manual_gd", settings, [0.0] * 3, 0.0)
    with objective.gradient_blocking(1000):
        blocked = fit_iterative(X, y, "manual_gd", settings, [0.0] * 3, 0.0)
    np.testing.assert_allclose(blocked.weights, plain.weights, rtol=1e-12)
    assert blocked.bias == pytest.approx(plain.bias, rel=1e-12)
    np.testing.assert_allclose(blocked.history["loss"], plain.history["loss"], rtol=1e-12)
    assert blocked.iterations == plain.iterations and blocked.status == plain.status


def test_gradient_iteration_reports_the_blocked_path_above_the_threshold():
    X, y, _, _ = perf.synthetic_regression(2000, 2, "float64", seed=0)
    with objective.gradient_blocking(1000):
        result = perf.gradient_iteration("manual_gd", X, y, threads=1, warmup=0, repeats=1)
    assert result["implementation"] == "blocked" and result["passes_over_x"] == 1


# --------------------------------------------------------------------------------------------
# Measurement helpers
# --------------------------------------------------------------------------------------------


def test_the_one_timing_harness_counts_calls_and_uses_the_clock():
    """descent.timing.time_callable is the only harness: perf, bench/run.py and the matmul benchmark use it."""
    calls = []
    # Each warm-up call and each timed sample reads the clock before and after.
    ticks = iter([0.0, 0.5, 1.0, 1.5, 10.0, 11.0, 20.0, 23.0, 30.0, 32.0])
    timing = time_callable(lambda: calls.append(1), warmup=2, repeats=3, clock=lambda: next(ticks))
    assert len(calls) == 5
    summary = timing.summary()
    assert summary["seconds"] == [1.0, 3.0, 2.0] and summary["repeats"] == 3 and summary["warmup"] == 2
    assert summary["seconds_min"] == 1.0 and summary["seconds_median"] == 2.0 and summary["seconds_max"] == 3.0
    assert summary["loops"] == 1
    with pytest.raises(ValueError):
        time_callable(lambda: None, repeats=0)
    assert not hasattr(perf, "time_repeats")
    assert "time_repeats" not in (ROOT / "bench" / "run.py").read_text()


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


def test_normal_equations_match_lstsq_and_ill_conditioning_switches_auto_to_qr():
    X, y, _, _ = perf.synthetic_regression(5000, 4, "float64", seed=3, scale_range=(1e-2, 1e3), offset_factor=1.0)
    ref = np.linalg.lstsq(np.column_stack([X, np.ones(len(X))]), y, rcond=None)[0]
    gram = closed_form.design_gram(X, y)
    sigma = closed_form.singular_values(gram)
    assert sigma[0] / sigma[-1] < closed_form.NORMAL_EQUATIONS_MAX_CONDITION
    theta = closed_form.solve_normal_equations(gram)
    assert perf.closed_form_errors(theta, ref)["max_rel_error"] < 1e-9
    # float32 data are accumulated in float64 too.
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    gram32 = closed_form.design_gram(X32, y32)
    theta32 = closed_form.solve_normal_equations(gram32)
    assert gram32.dtype == np.float64 and theta32.dtype == np.float64
    w32, b32, _ = least_squares_reference(X32, y32)
    assert perf.closed_form_errors(theta32, np.append(w32, b32))["max_rel_error"] < 1e-9
    # The default solver takes the normal equations here, and certifies them.
    outcome, w, b = fit(X, y, "raw", _settings("lstsq", lstsq_solver="auto"))
    assert outcome.extra["solver"] == "normal_equations" and outcome.status == "closed_form"
    assert outcome.extra["certificate"]["ok"] and outcome.extra["certificate"]["condition_number"] < 1e4
    assert perf.closed_form_errors(np.append(w, b), ref)["max_rel_error"] < 1e-9
    # Nearly collinear columns (equilibrated κ ≈ 8e4): auto switches to the chunked QR, refined to
    # the last digits and certified; so it is at κ ≈ 8e9 (flagged before the refinement, though
    # right to ~7 digits); at κ ≈ 8e14 the refinement cannot contract: flagged, with the reason.
    for eps, certified in ((1e-4, True), (1e-9, True), (1e-14, False)):
        nearly = np.column_stack([X[:, 0], X[:, 0] * (1 + eps * np.arange(len(X)) / len(X))])
        sigma = closed_form.singular_values(closed_form.design_gram(nearly, y))
        assert sigma[0] / sigma[-1] > closed_form.NORMAL_EQUATIONS_MAX_CONDITION
        auto, w, b = fit(nearly, y, "raw", _settings("lstsq", lstsq_solver="auto"))
        certificate = auto.extra["certificate"]
        assert auto.extra["solver"] == "qr" and certificate["condition_number"] > 1e4
        assert auto.status == ("closed_form" if certified else "inaccurate") and certificate["ok"] == certified
        if certified:
            exact = exact_least_squares(nearly, y)
            assert digits(np.append(w, b), exact) >= 15 and certificate["certified_digits"] >= 14
        else:
            assert "condition number" in auto.extra["status_reason"] and not certificate["error_bound"] <= 1e-4
            forced, _, _ = fit(nearly, y, "raw", _settings("lstsq", lstsq_solver="normal_equations"))
            assert forced.extra["solver"] == "normal_equations" and forced.status == "inaccurate"


def test_sweep_problems_are_seeded_and_within_their_ranges():
    problems = perf.sweep_problems(
        7, 40, 2, max_n=5000, large_n=(20_000, 50_000), max_k=20, large_max_k=3, max_elements=20_000
    )
    assert problems == perf.sweep_problems(
        7, 40, 2, max_n=5000, large_n=(20_000, 50_000), max_k=20, large_max_k=3, max_elements=20_000
    )
    assert problems != perf.sweep_problems(
        8, 40, 2, max_n=5000, large_n=(20_000, 50_000), max_k=20, large_max_k=3, max_elements=20_000
    )
    small, large = problems[:40], problems[40:]
    assert not any(p["large"] for p in small) and all(p["large"] for p in large)
    assert all(2 <= p["n"] <= 5000 and 1 <= p["k"] <= 20 and p["n"] * p["k"] <= 20_000 for p in small)
    assert large[0]["n"] == 50_000 and all(20_000 <= p["n"] <= 50_000 and 1 <= p["k"] <= 3 for p in large)
    for p in problems:
        lo, hi = p["log_scales"]
        assert -3 <= lo <= hi <= 4 + 1e-12 and hi - lo <= 7
        assert p["offset"] in perf.SWEEP_OFFSETS and p["noise"] in (0.0, 1e-3, 1.0)
        assert p["dtype"] in ("float32", "float64")
    assert {p["dtype"] for p in problems} == {"float32", "float64"}
    X, y = random_regression(
        problems[0]["seed"],
        problems[0]["n"],
        problems[0]["k"],
        tuple(problems[0]["log_scales"]),
        problems[0]["offset"],
        problems[0]["noise"],
        problems[0]["dtype"],
    )
    assert X.shape == (problems[0]["n"], problems[0]["k"]) and X.dtype == np.dtype(problems[0]["dtype"])
    assert set(perf.CLOSED_FORM_PATHS) == {
        "lstsq auto",
        "lstsq normal_equations",
        "lstsq qr",
        "lstsq torch",
        "lstsq torch_lesson",
        "sklearn",
    }


def test_sweep_summary_worst_errors_per_path_and_dtype():
    def row(problem, path, dtype, status, error=0.0, bound=0.0, kappa=1.0, rank_deficient=False):
        return {
            "problem": problem,
            "path": path,
            "dtype": dtype,
            "status": status,
            "error": error,
            "error_bound": bound,
            "max_error": 1e-4,
            "condition_number": kappa,
            "k": 1,
            "rank_deficient": rank_deficient,
        }

    results = [
        row(0, "qr", "float64", "closed_form", 1e-12, 1e-11),
        row(1, "qr", "float64", "closed_form", 3e-10, 1e-10, 1e3),  # 3x its bound, within the rounding allowance
        row(2, "qr", "float64", "inaccurate", 0.5, 1.0),
        row(3, "qr", "float64", "inaccurate", 1e-9, math.inf, math.inf, rank_deficient=True),
        row(4, "qr", "float64", "closed_form", 2e-4, 1e-6, 1e3),  # a missed failure, beyond its bound
        row(0, "qr", "float32", "closed_form", 0.0, 0.0),
        {"problem": 1, "path": "qr", "dtype": "float32", "status": "error", "reason": "boom"},
    ]
    summary = perf.sweep_summary(results)
    assert [(s["path"], s["dtype"]) for s in summary] == [("qr", "float64"), ("qr", "float32")]
    f64, f32 = summary
    assert (f64["count"], f64["certified"], f64["flagged"], f64["errors"]) == (5, 3, 2, 0)
    assert f64["worst_certified_error"] == 2e-4 and f64["worst_certified_problem"] == 4
    assert f64["worst_error_to_bound"] == pytest.approx(200.0)
    assert f64["beyond_bound"] == 1 and f64["certified_above_max_error"] == 1
    assert f64["worst_flagged_error"] == 0.5 and f64["flagged_above_max_error"] == 1
    assert f64["flagged_rank_deficient"] == 1
    assert (f32["count"], f32["certified"], f32["flagged"], f32["errors"]) == (2, 1, 0, 1)
    assert math.isnan(f32["worst_error_to_bound"]) and f32["zero_bound"] == 1 and f64["zero_bound"] == 0
    assert math.isnan(f32["worst_flagged_error"])
    assert perf.error_to_bound(1e-16, 0.0) == math.inf and perf.error_to_bound(2.0, 4.0) == 0.5
    assert perf.rounding_allowance(1, 1e4) == pytest.approx(20 * 1e8 * np.finfo(np.float64).eps)


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


def test_fit_job_benchmarks_count_fit_jobs_only():
    """A job of several fits (fits/{dataset}/{scaling}.tsv) or of one (fits/{dataset}/{scaling}/{fit}.tsv);
    not the summary, the gradient checks or the loss surfaces, which are under fits/ too."""
    by_file = {
        "fits/paris_rent/raw.tsv": 4.0,
        "fits/multifeature/standardized/manual_gd_cuda.tsv": 1.5,
        "fits/paris_rent/raw/loss_surface.tsv": 2.0,
        "fits/gradient_check/paris_rent.tsv": 3.0,
        "fits/summary.tsv": 5.0,
        "datasets/paris_rent.tsv": 1.0,
    }
    assert fit_job_benchmarks(by_file) == (2, 5.5)


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


# --------------------------------------------------------------------------------------------
# The benchmark's driver and its parts (make bench)
# --------------------------------------------------------------------------------------------

PART_NAMES = [
    "startup",
    "workflow",
    "stream",
    "throughput",
    "closed_form",
    "closed_form_sweep",
    "memory",
    "matmul",
    "out_of_core",
    "scaling",
    "nist",
]


def test_the_driver_finds_every_part_in_its_package():
    parts = discover()
    assert [part.name for part in parts] == PART_NAMES
    assert all(part.description.strip() and callable(part.run) for part in parts)


def test_only_runs_the_parts_named_and_those_they_need():
    parts = discover()
    assert [p.name for p in driver.selected(parts, ["workflow"], quick=False)] == ["startup", "workflow"]
    assert [p.name for p in driver.selected(parts, None, quick=True)] == [n for n in PART_NAMES if n != "workflow"]
    assert [p.name for p in driver.selected(parts, ["nist", "stream"], quick=False)] == ["stream", "nist"]


def test_every_option_of_the_benchmark_is_on_its_command_line():
    args = driver.parser(discover()).parse_args(
        "--quick --only closed_form_sweep nist --out o --rows 10 --features 2 --threads 1 --repeats 1 "
        "--matmul-n 8 --matmul-backend numpy --stream-elements 100 --sweep-problems 1 --sweep-large 0 "
        "--sweep-seed 3 --sweep-threads 1 --ooc-rows 10 --ooc-iterations 1 --ooc-dir d --keep-workdir "
        "--no-job-memory".split()
    )
    assert args.only == ["closed_form_sweep", "nist"] and args.sweep_seed == 3 and args.ooc_dir == "d"
    with pytest.raises(SystemExit):
        driver.parser(discover()).parse_args(["--only", "nonexistent_part"])


def test_a_part_run_through_the_driver_writes_its_file_and_prints_its_rows(tmp_path, capsys):
    assert driver.main(["--only", "stream", "--stream-elements", "1000", "--threads", "1", "--out", str(tmp_path)]) == 0
    written = sorted(path.name for path in tmp_path.iterdir())
    assert written == ["stream.json"]  # --only: no summary.json, no machine.json
    stream = json.loads((tmp_path / "stream.json").read_text())
    out = capsys.readouterr().out
    assert "copy / triad GB/s (float64)" in out and f"{stream['copy']['gbps']:.1f}" in out


def test_a_child_measurement_runs_a_function_in_a_fresh_interpreter(tmp_path):
    import pandas as pd

    pd.DataFrame({"x0": np.arange(1000.0), "y": np.ones(1000)}).to_parquet(tmp_path / "t.parquet")
    result = run_child("read_parquet", {"path": str(tmp_path / "t.parquet")})
    assert result["rows"] == 1000 and result["seconds"] >= 0 and result["peak_rss_bytes"] > 10 * 2**20
    assert set(CHILDREN) == {"baseline_imports", "fit_arrays", "fit_job", "read_parquet", "fit_streamed"}
    with pytest.raises(ValueError, match="unknown child measurement 'nope'"):
        run_child("nope")


def test_the_benchmark_holds_no_code_in_strings():
    """Child processes run real functions (python -m descent.perf.child), not code in strings."""
    for path in [ROOT / "bench" / "run.py", *(ROOT / "src" / "descent" / "perf").rglob("*.py")]:
        text = path.read_text()
        assert "peak_rss_child(" not in text or path.name == "tables.py", path
        assert '"-c"' not in text or path.name in ("tables.py", "workflow.py"), path
    assert len((ROOT / "bench" / "run.py").read_text().splitlines()) < 30
