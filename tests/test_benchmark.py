"""The matmul benchmark (descent.matmul): the backend registry against the schema, the timing
harness (descent.timing), correctness check, the naive loops (Lesson 0's own and the list loop,
the dtype each computes in), naive extrapolation and the lesson's n, CUDA skip path, peak estimate
and GPU names, config checks, and a tiny end-to-end run of the rules. No test asserts a speed."""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from snakemake.exceptions import WorkflowError

from conftest import ROOT, run_snakemake
from descent.config import ConfigError
from descent.config.sections import BenchmarkConfig
from descent.matmul import backends, machine, measure, notes, plots, products, table
from descent.matmul import config as mconfig
from descent.matmul.backends.naive import lesson_matmul, naive_matmul
from descent.matmul.backends.torch_matmul import torch_runner
from descent.matmul.job import run_matmul_job
from descent.timing import time_callable
from descent.validation import validate_config


def _section(**overrides) -> BenchmarkConfig:
    """The validated, typed benchmark section: ``overrides`` on the schema's defaults."""
    config = {
        "datasets": {"d": {"kind": "torch_uniform", "n": 2, "seed": 0, "true_weights": [1]}},
        "benchmark": dict(overrides),
    }
    return validate_config(config, ROOT / "schemas").benchmark


TINY = dict(sizes=[8, 16], dtypes=["float32", "float64"], repeats=2, warmup=1, min_sample_s=0.0, lesson_n=12)


# ----------------------------------------------------------------------------------- registry


def _schema_backends() -> dict:
    schema = yaml.safe_load((ROOT / "schemas" / "benchmark.schema.yaml").read_text())
    return schema["properties"]["backends"]


def test_schema_enum_and_default_list_exactly_the_registered_backends():
    """Fails when a backend is registered but not in the schema (or the reverse), or out of order."""
    prop = _schema_backends()
    assert prop["items"]["enum"] == list(backends.BACKENDS)
    assert prop["default"] == list(backends.BACKENDS)
    for name in backends.BACKENDS:
        assert name in prop["description"], f"{name} is not described in the schema"


def test_default_config_runs_registered_backends_and_the_lessons_loop():
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    assert set(config["benchmark"]["backends"]) <= set(backends.BACKENDS)
    assert "naive_numpy_indexing" in config["benchmark"]["backends"]
    assert config["benchmark"]["lesson_n"] == mconfig.LESSON_CLAIM["n"] == 500


def test_registry_entries_are_complete_and_consistent():
    assert backends.CPU_BACKENDS == ("naive_numpy_indexing", "naive_python", "numpy", "torch_cpu")
    assert backends.CUDA_BACKENDS == ("torch_cuda",)
    assert set(backends.CPU_BACKENDS) | set(backends.CUDA_BACKENDS) == set(backends.BACKENDS)
    assert backends.NAIVE_BACKENDS == ("naive_numpy_indexing", "naive_python")
    styles = [(b.color, b.marker) for b in backends.REGISTRY.values()]
    assert len(set(styles)) == len(styles), "every backend needs its own colour and marker"
    assert [b.name for b in backends.REGISTRY.values() if b.lesson] == ["naive_numpy_indexing"]
    for spec in backends.REGISTRY.values():
        assert spec.device in ("cpu", "cuda") and spec.description and callable(spec.factory)
        assert spec.computes_in in (None, *mconfig.DTYPES)
        assert spec.needs_torch == spec.name.startswith("torch")
    assert backends.get("naive_python").compute_dtype("float32") == "float64"
    assert backends.get("naive_numpy_indexing").compute_dtype("float32") == "float32"
    assert backends.baseline_backend({"numpy", "naive_python"}) == "naive_python"
    assert backends.baseline_backend(set(backends.BACKENDS)) == "naive_numpy_indexing"
    assert backends.baseline_backend({"numpy"}) is None


def test_rules_and_bench_read_the_registry():
    rules = (ROOT / "rules" / "benchmark.smk").read_text()
    assert "MATMUL_CPU_BACKENDS" in rules and "MATMUL_CUDA_BACKENDS" in rules
    bench = (ROOT / "src" / "descent" / "perf" / "parts" / "matmul.py").read_text()  # make bench's matmul part
    assert "from descent.matmul import backends" in bench


# ----------------------------------------------------------------------------------- products


def test_naive_matmul_matches_numpy_on_rectangular_operands():
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((5, 3)), rng.standard_normal((3, 4))
    C = np.array(naive_matmul(A.tolist(), B.tolist()))
    assert C.shape == (5, 4)
    np.testing.assert_allclose(C, A @ B, rtol=0, atol=1e-12)


def test_random_operands_are_seeded_and_cast_from_the_same_draw():
    A32, B32 = products.random_operands(12, "float32", seed=3)
    A64, B64 = products.random_operands(12, "float64", seed=3)
    assert A32.dtype == np.float32 and A64.dtype == np.float64 and A32.shape == B32.shape == (12, 12)
    np.testing.assert_array_equal(A32, A64.astype(np.float32))
    np.testing.assert_array_equal(products.random_operands(12, "float64", seed=3)[1], B64)
    assert not np.array_equal(products.random_operands(12, "float64", seed=4)[0], A64)
    assert np.abs(A64).max() <= 1.0


def test_tolerance_grows_with_n_and_is_looser_for_float32():
    a32, b32 = products.random_operands(64, "float32", 0)
    a64, b64 = products.random_operands(64, "float64", 0)
    small = products.tolerance(*products.random_operands(16, "float64", 0))
    assert products.tolerance(a32, b32) > 1e6 * products.tolerance(a64, b64)
    assert products.tolerance(a64, b64) > small
    assert products.tolerance(a64, b64, factor=3.0) == pytest.approx(3 * products.tolerance(a64, b64))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_correct_products_pass_the_check_with_a_real_rounding_error(dtype):
    A, B = products.random_operands(128, dtype, seed=0)
    error = products.check_product(A @ B, products.reference_product(A, B), products.tolerance(A, B))
    assert 0 <= error < products.tolerance(A, B)
    if dtype == "float32":
        assert error > 1e-7  # float32 rounding is real, and allowed


@pytest.mark.parametrize(
    "corrupt",
    [
        lambda A, B, C: C + np.eye(len(C)) * 1e-3,  # a small error on the diagonal
        lambda A, B, C: A @ B.T,  # a transposed operand
        lambda A, B, C: C[:, :-1],  # a wrong shape
        lambda A, B, C: np.where(np.eye(len(C), dtype=bool), np.nan, C),  # NaNs
    ],
    ids=["perturbed", "transposed", "shape", "nan"],
)
def test_wrong_products_are_caught(corrupt):
    A, B = products.random_operands(64, "float32", seed=0)
    C = corrupt(A, B, A @ B)
    with pytest.raises(products.MatmulMismatchError, match="exceeds the tolerance"):
        products.check_product(C, products.reference_product(A, B), products.tolerance(A, B), label="bad")


def test_measure_fails_on_a_backend_returning_a_wrong_product():
    def wrong(A, B):
        return backends.Runner(fn=lambda: A @ B + 1e-2, to_numpy=np.asarray)

    with pytest.raises(products.MatmulMismatchError, match="broken float64 n=16"):
        measure.measure(16, "float64", wrong, label="broken")


def _sequential(A: np.ndarray, B: np.ndarray, dtype: type) -> np.ndarray:
    """``A @ B`` summed over k in ascending order, every product and sum rounded to ``dtype``
    (element-wise NumPy arithmetic of that dtype: what a k-ordered scalar loop computes)."""
    A, B = A.astype(dtype), B.astype(dtype)
    D = np.zeros((A.shape[0], B.shape[1]), dtype=dtype)
    for k in range(A.shape[1]):
        D = D + A[:, k : k + 1] * B[k : k + 1, :]
    return D


def test_lessons_loop_matches_numpy_on_rectangular_operands():
    rng = np.random.default_rng(2)
    A, B = rng.standard_normal((4, 3)), rng.standard_normal((3, 5))
    D = lesson_matmul(A, B)
    assert D.shape == (4, 5) and D.dtype == np.float64
    np.testing.assert_allclose(D, A @ B, rtol=0, atol=1e-12)


def test_lessons_loop_computes_in_the_operands_dtype_and_the_list_loop_in_float64():
    """The float32 rows are honest: Lesson 0's loop multiplies NumPy float32 scalars, so it is
    float32 arithmetic bit for bit; the list loop's Python floats are float64 arithmetic."""
    A, B = products.random_operands(24, "float32", seed=5)
    D = lesson_matmul(A, B)
    assert D.dtype == np.float32 and type(A[0, 0] * B[0, 0]) is np.float32
    np.testing.assert_array_equal(D, _sequential(A, B, np.float32))
    assert not np.array_equal(D.astype(np.float64), _sequential(A, B, np.float64))
    C = np.array(naive_matmul(A.tolist(), B.tolist()))
    np.testing.assert_array_equal(C, _sequential(A, B, np.float64))
    # Both pass the float32 tolerance; the list loop is float64-accurate.
    ref, tol = products.reference_product(A, B), products.tolerance(A, B)
    assert products.max_abs_error(C, ref) < 1e-12 < products.max_abs_error(D, ref) <= tol
    for name, dtype in (("naive_numpy_indexing", "float32"), ("naive_python", "float64")):
        runner = backends.get(name).factory(A, B)
        assert runner.to_numpy(runner.fn()).dtype == np.dtype(dtype) and runner.threads == 1


# ----------------------------------------------------------------------------------- timing


def test_a_deliberately_slow_function_times_slower():
    fast = time_callable(lambda: None, warmup=1, repeats=3)
    slow = time_callable(lambda: time.sleep(0.02), warmup=1, repeats=3)
    assert slow.min >= 0.02
    assert slow.median > fast.median
    assert slow.min <= slow.median <= slow.max
    assert len(slow.samples) == 3 and slow.loops == 1 and slow.warmup == 1


class FakeClock:
    """A clock that only advances when the timed function 'works'."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_tiny_calls_are_timed_in_loops_and_divided_back():
    clock = FakeClock()

    def work():
        clock.now += 0.001
        return "value"

    timing = time_callable(work, warmup=1, repeats=4, min_sample_s=0.05, clock=clock)
    assert timing.loops >= 50
    assert timing.samples == pytest.approx((0.001,) * 4)
    assert timing.value == "value"


def test_sync_brackets_every_timed_region():
    events: list[str] = []
    timing = time_callable(lambda: events.append("call"), warmup=2, repeats=3, sync=lambda: events.append("sync"))
    assert timing.loops == 1
    # warm-ups then samples: each call is preceded and followed by a sync.
    assert events == ["sync", "call", "sync"] * 5


def test_repeats_must_be_positive():
    with pytest.raises(ValueError, match="repeats=0"):
        time_callable(lambda: None, repeats=0)


# ----------------------------------------------------------------------------------- backends


def test_naive_loop_is_measured_up_to_naive_max_n_then_extrapolated_as_n_cubed():
    section = _section(**{**TINY, "sizes": [8, 16, 32, 64], "naive_max_n": 16, "dtypes": ["float64"]})
    rows = measure.benchmark_backend("naive_python", section, threads=2, peak_gflops={"float64": 100.0})
    assert [r["n"] for r in rows] == [8, 16, 32, 64]
    measured, extrapolated = rows[:2], rows[2:]
    assert all(r["status"] == "ok" and not r["extrapolated"] and r["repeats"] == 2 for r in measured)
    assert all(math.isfinite(r["max_abs_error"]) and r["threads"] == 1 for r in measured)
    for row in extrapolated:
        assert row["extrapolated"] and row["status"] == "extrapolated: O(n^3) from n=16"
        assert row["repeats"] == 0 and math.isnan(row["max_abs_error"]) and "wall_seconds" not in row
        assert row["seconds_median"] == pytest.approx(measured[1]["seconds_median"] * (row["n"] / 16) ** 3)
        assert row["gflops"] == pytest.approx(measured[1]["gflops"])  # O(n^3) keeps the rate
        assert row["fraction_of_peak"] == pytest.approx(row["gflops"] / 100.0)


def test_naive_time_budget_stops_measuring_early():
    section = _section(
        **{**TINY, "sizes": [8, 16, 32], "naive_max_n": 4096, "naive_time_budget_s": 1e-9, "dtypes": ["float32"]}
    )
    rows = measure.benchmark_backend("naive_python", section, threads=1, peak_gflops={"float32": None})
    assert [r["extrapolated"] for r in rows] == [False, True, True]
    assert all(math.isnan(r["fraction_of_peak"]) for r in rows)


def test_lessons_loop_is_timed_once_at_lesson_n_in_float64_and_extrapolated_otherwise():
    section = _section(**{**TINY, "sizes": [8, 16, 32], "naive_max_n": 16, "lesson_n": 20})
    rows = measure.benchmark_backend(
        "naive_numpy_indexing", section, threads=2, peak_gflops={"float32": None, "float64": None}
    )
    frame = table.rows_frame(rows)
    assert list(frame["n"]) == [8, 16, 20, 32] * 2 and list(frame["dtype"]) == ["float32"] * 4 + ["float64"] * 4
    assert list(frame["compute_dtype"]) == list(frame["dtype"])
    at = frame.set_index(["dtype", "n"])
    once = at.loc[("float64", 20)]
    assert once["status"] == "ok" and once["repeats"] == 1 and once["warmup"] == 0 and once["loops_per_repeat"] == 1
    assert once["max_abs_error"] <= once["tolerance"]
    # 32 > naive_max_n: extrapolated from the largest measured size, n=20 in float64 ...
    assert at.loc[("float64", 32), "status"] == "extrapolated: O(n^3) from n=20"
    # ... and in float32, where the lesson's n is not measured, from n=16.
    assert at.loc[("float32", 20), "status"] == "extrapolated: O(n^3) from n=16"
    assert at.loc[("float32", 20), "seconds_median"] == pytest.approx(
        at.loc[("float32", 16), "seconds_median"] * (20 / 16) ** 3
    )
    # No budget: extrapolated too; lesson_n null or among the sizes: no extra row; other loops: none.
    none = measure.benchmark_backend(
        "naive_numpy_indexing",
        replace(section, lesson_time_budget_s=0.0),
        threads=1,
        peak_gflops={"float32": None, "float64": None},
    )
    assert [r["status"] for r in none if r["n"] == 20] == ["extrapolated: O(n^3) from n=16"] * 2
    for changed in ({"lesson_n": None}, {"lesson_n": 16}):
        rows = measure.benchmark_backend(
            "naive_numpy_indexing",
            replace(section, **changed, dtypes=("float64",)),
            threads=1,
            peak_gflops={"float64": None},
        )
        assert [r["n"] for r in rows] == [8, 16, 32]
    listed = measure.benchmark_backend(
        "naive_python", section, threads=1, peak_gflops={"float32": None, "float64": None}
    )
    assert 20 not in {r["n"] for r in listed} and {r["compute_dtype"] for r in listed} == {"float64"}


def test_lesson_n_uses_the_first_dtype_without_float64():
    section = _section(**{**TINY, "dtypes": ["float32"], "lesson_n": 20})
    rows = measure.benchmark_backend("naive_numpy_indexing", section, threads=1, peak_gflops={"float32": None})
    assert [(r["n"], r["status"], r["repeats"]) for r in rows][-1] == (20, "ok", 1)
    assert mconfig.lesson_dtype(["float32", "float64"]) == "float64" and mconfig.lesson_dtype(["float32"]) == "float32"


@pytest.mark.parametrize("backend", ["numpy", "torch_cpu"])
def test_blas_backends_check_every_product_and_reproduce_their_non_timing_columns(backend):
    section = _section(**TINY)
    peaks = {"float32": 200.0, "float64": 100.0}
    first = table.rows_frame(measure.benchmark_backend(backend, section, threads=1, peak_gflops=peaks))
    again = table.rows_frame(measure.benchmark_backend(backend, section, threads=1, peak_gflops=peaks))
    assert list(first.columns) == list(table.COLUMNS)
    assert len(first) == 4 and (first["status"] == "ok").all() and (first["device"] == "cpu").all()
    assert (first["max_abs_error"] <= first["tolerance"]).all()
    assert (first["threads"] == 1).all() and (first["compute_dtype"] == first["dtype"]).all()
    stable = [c for c in table.COLUMNS if c not in table.TIMING_COLUMNS]
    pd.testing.assert_frame_equal(first[stable], again[stable])


def test_the_cuda_code_path_runs_on_the_cpu_through_the_device_agnostic_runner():
    """torch_cuda's measuring path, with the device swapped for the CPU (no GPU in CI)."""
    section = _section(**{**TINY, "dtypes": ["float32"]})
    factory = lambda A, B: torch_runner(A, B, device="cpu")  # noqa: E731
    rows = measure.benchmark_backend("torch_cuda", section, threads=1, peak_gflops={"float32": 1000.0}, factory=factory)
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert all(r["backend"] == "torch_cuda" and r["device"] == "cpu" for r in rows)
    assert torch_runner(*products.random_operands(4, "float32", 0), device="cpu").sync is None


def test_cuda_job_is_skipped_not_failed_without_cuda():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the skip path is for machines without it")
    section = _section(**TINY)
    rows, facts = run_matmul_job("torch_cuda", section, threads=1)
    frame = table.rows_frame(rows)
    assert len(frame) == 4 and (frame["status"] == measure.SKIPPED_NO_CUDA).all()
    assert frame[["seconds_median", "gflops", "max_abs_error"]].isna().all().all()
    assert not frame["extrapolated"].any() and (frame["repeats"] == 0).all()
    assert facts["cuda"]["cuda_available"] is False and facts["cuda"]["reason"]
    assert any("skipped: CUDA not available" in note for note in facts["notes"])


def test_cuda_job_with_cuda_uses_the_datasheet_peak(monkeypatch):
    """The CUDA-available branch of the job, with the GPU faked and torch on the CPU doing the work."""
    pytest.importorskip("torch")
    monkeypatch.setattr(
        machine,
        "cuda_facts",
        lambda: {"cuda_available": True, "gpu_name": "NVIDIA H100 80GB HBM3", "torch_cuda_version": "12.x"},
    )
    on_cpu = lambda A, B: torch_runner(A, B, "cpu")  # noqa: E731
    rows, facts = run_matmul_job("torch_cuda", _section(**TINY), threads=1, factory=on_cpu)
    assert all(r["status"] == "ok" and r["backend"] == "torch_cuda" for r in rows)
    assert facts["peak"]["float32"]["gflops"] == 67000.0 and "datasheet" in facts["peak"]["float64"]["source"]
    assert all(r["peak_gflops"] == 67000.0 and r["fraction_of_peak"] > 0 for r in rows)
    assert "cpu_utilisation" not in facts  # a GPU job's CPU use says nothing about contention
    monkeypatch.setattr(machine, "cuda_facts", lambda: {"cuda_available": True, "gpu_name": "Mystery GPU"})
    rows, facts = run_matmul_job("torch_cuda", _section(**{**TINY, "dtypes": ["float64"]}), threads=1, factory=on_cpu)
    assert all(math.isnan(r["fraction_of_peak"]) for r in rows)
    assert any("no datasheet peak for 'Mystery GPU'" in note for note in facts["notes"])


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="unknown backend 'fortran'"):
        backends.runner_factory("fortran")
    with pytest.raises(ValueError, match="unknown backend 'fortran'"):
        run_matmul_job("fortran", _section(**TINY), threads=1)


# ----------------------------------------------------------------------------------- machine / peak

ZEN5 = {
    "vendor": "AuthenticAMD",
    "family": 0x1A,
    "model_number": 2,
    "machine": "x86_64",
    "simd_flags": ["avx", "avx2", "avx512f", "fma", "sse2"],
    "cpuinfo_mhz": 2500.0,
    "max_freq_mhz": None,
    "physical_cores_usable": 2,
}
HASWELL = {
    "vendor": "GenuineIntel",
    "family": 6,
    "model_number": 0x3F,
    "machine": "x86_64",
    "simd_flags": ["avx", "avx2", "fma", "sse2"],
    "cpuinfo_mhz": 2000.0,
    "max_freq_mhz": 3000.0,
    "physical_cores_usable": 8,
}


def test_parse_cpuinfo_reads_the_first_processor_block():
    text = "processor\t: 0\nvendor_id\t: AuthenticAMD\ncpu family\t: 26\nflags\t\t: fma avx2\n\nprocessor\t: 1\n"
    facts = machine.parse_cpuinfo(text)
    assert facts["vendor_id"] == "AuthenticAMD" and facts["cpu family"] == "26" and facts["processor"] == "0"


def test_cpu_peak_is_cores_x_fma_x_lanes_x_2_x_clock_with_sources():
    p32 = machine.cpu_peak(ZEN5, 2, "float32")
    p64 = machine.cpu_peak(ZEN5, 2, "float64")
    assert p32["gflops"] == pytest.approx(2 * 2 * 16 * 2 * 2.5)
    assert p64["gflops"] == pytest.approx(p32["gflops"] / 2)
    assert "avx512f" in p32["vector_bits_source"] and "Zen 5" in p32["fma_units_source"]
    assert "cpu MHz" in p32["clock_source"]
    # Haswell: 256-bit, boost clock from cpufreq, or the configured clock.
    assert machine.cpu_peak(HASWELL, 8, "float64")["gflops"] == pytest.approx(8 * 2 * 4 * 2 * 3.0)
    assert machine.cpu_peak(HASWELL, 1, "float64", clock_override=4.0)["clock_source"].startswith("configuration")
    unknown = machine.cpu_peak({"vendor": "Mystery", "simd_flags": []}, 4, "float32")
    assert unknown["gflops"] is None and "unknown CPU" in unknown["fma_units_source"]


def test_gpu_datasheet_peaks_by_name():
    assert machine.gpu_peak("NVIDIA H100 PCIe", "float32")[0] == 51000.0
    assert machine.gpu_peak("NVIDIA H200", "float64")[0] == 67000.0
    assert machine.gpu_peak("NVIDIA A100-SXM4-80GB", "float32")[0] == 19500.0
    assert machine.gpu_peak(None, "float32")[0] is None


@pytest.mark.parametrize(
    ("name", "key", "float32_gflops"),
    [
        ("NVIDIA GH200 480GB", "GH200", 67000.0),  # contains "H200" as a substring, but is not an H200
        ("NVIDIA H200", "H200", 67000.0),
        ("NVIDIA H200 NVL", "H200 NVL", 60000.0),
        ("NVIDIA H100 PCIe", "H100 PCIe", 51000.0),
        ("NVIDIA H100 NVL", "H100 NVL", 60000.0),
        ("NVIDIA H100 80GB HBM3", "H100", 67000.0),  # the SXM part's name
        ("NVIDIA H100 SXM5 80GB", "H100", 67000.0),
        ("Tesla V100-PCIE-16GB", "V100-PCIE", 14000.0),
        ("Tesla V100-SXM2-32GB", "V100", 15700.0),
        ("Tesla T4", "T4", 8100.0),
    ],
)
def test_gpu_names_match_the_most_specific_entry(name, key, float32_gflops):
    entry = machine.gpu_entry(name)
    assert entry is not None and entry[0] == key
    gflops, source = machine.gpu_peak(name, "float32")
    assert gflops == float32_gflops and source == entry[2]
    # The table's order does not matter: the most specific key wins either way.
    reordered = tuple(reversed(machine.GPU_PEAK_TFLOPS))
    original = machine.GPU_PEAK_TFLOPS
    try:
        machine.GPU_PEAK_TFLOPS = reordered
        assert machine.gpu_entry(name)[0] == key
    finally:
        machine.GPU_PEAK_TFLOPS = original


def test_unknown_gpu_names_match_nothing():
    assert machine.gpu_entry("NVIDIA RTX A6000") is None  # no whole-word "T4" or "A100" in it
    assert machine.gpu_entry("NVIDIA H1000") is None and machine.gpu_entry("") is None


def test_library_versions_name_the_torch_that_imports():
    import numpy
    import torch

    assert machine.library_versions()["torch"] == torch.__version__
    assert machine.library_versions()["numpy"] == numpy.__version__


def test_blas_kernel_width_from_threadpoolctl():
    pools = [{"user_api": "openmp"}, {"user_api": "blas", "internal_api": "openblas", "architecture": "Haswell"}]
    assert machine.blas_kernel_bits(pools) == (256, "Haswell")
    assert machine.blas_kernel_bits([]) == (None, None)


def test_notes_explain_a_narrow_blas_kernel_and_an_underestimated_clock():
    row = {
        "backend": "numpy",
        "dtype": "float64",
        "n": 1024,
        "status": "ok",
        "gflops": 150.0,
        "peak_gflops": 100.0,
        "fraction_of_peak": 1.5,
        "threads": 2,
        "seconds_median": 0.01,
    }
    facts = {
        "backend": "numpy",
        "blas_env": {"OPENBLAS_CORETYPE": "Haswell"},
        "blas_kernel": {"name": "Haswell", "bits": 256, "hardware_bits": 512, "ceiling_fraction": 0.5},
        "peak": {"float64": machine.cpu_peak(ZEN5, 2, "float64")},
        "cpu": {"physical_cores_usable": 2},
    }
    text = "\n".join(notes.performance_notes([row], facts))
    assert "OPENBLAS_CORETYPE=Haswell" in text and "capped at 50%" in text
    # 150 GFLOP/s through a kernel using half of 2 cores x 32 flops/cycle: the clock is at least 150 / 32 GHz.
    assert "faster than its estimated ceiling" in text and "benchmark.cpu_clock_ghz" in text
    assert f"at least {150 / 32:.2f} GHz" in text
    assert "competed" not in text
    busy = notes.performance_notes([row], {**facts, "cpu_utilisation": 0.4, "load_average_before": [3.0, 2.0, 1.0]})
    assert any("got 40% of the CPU time" in note for note in busy)
    assert any("load average was 3.00" in note for note in busy)


def test_speedups_divide_the_naive_time():
    frame = pd.DataFrame(
        {
            "backend": ["naive_python", "numpy"],
            "dtype": ["float64"] * 2,
            "n": [8, 8],
            "seconds_median": [1.0, 0.01],
            "extrapolated": [False, False],
            "status": ["ok", "ok"],
        }
    )
    result = plots.speedups(frame).set_index("backend")
    assert result.loc["numpy", "speedup"] == pytest.approx(100.0) and (result["baseline"] == "naive_python").all()


def test_speedups_are_over_the_lessons_loop_when_it_ran():
    frame = pd.DataFrame(
        {
            "backend": ["naive_numpy_indexing", "naive_python", "numpy", "naive_numpy_indexing"],
            "dtype": ["float64"] * 4,
            "n": [8, 8, 8, 500],
            "seconds_median": [6.0, 1.0, 0.01, 30.0],
            "extrapolated": [False] * 4,
            "status": ["ok"] * 4,
        }
    )
    result = plots.speedups(frame)
    by = result[result["n"] == 8].set_index("backend")["speedup"]
    assert by["naive_python"] == pytest.approx(6.0) and by["numpy"] == pytest.approx(600.0)
    assert (result["baseline"] == "naive_numpy_indexing").all()


def test_notes_give_the_lesson_claim_and_the_dtype_computed_in():
    rows = [
        {
            "backend": "naive_python",
            "dtype": "float32",
            "n": 250,
            "status": "ok",
            "seconds_median": 1.0,
            "gflops": 0.03,
            "fraction_of_peak": math.nan,
            "threads": 1,
        }
    ]
    text = notes.performance_notes(rows, {"backend": "naive_python"})
    assert text == [
        "naive_python float32 (computed in float64): n=500 takes 8.0 s (extrapolated as O(n^3) from "
        "n=250); Lesson 0 claims no more than 120 s"
    ]
    rows = [{**rows[0], "backend": "naive_numpy_indexing", "dtype": "float64", "n": 500, "seconds_median": 33.0}]
    assert notes.performance_notes(rows, {}) == [
        "naive_numpy_indexing float64: n=500 takes 33.0 s (measured); Lesson 0 claims no more than 120 s"
    ]


# ----------------------------------------------------------------------------------- config


def test_schema_fills_the_documented_defaults():
    section = _section()
    assert section.sizes == (64, 128, 256, 512, 1024, 2048, 4096)
    assert section.dtypes == ("float32", "float64") and section.backends == tuple(backends.BACKENDS)
    assert section.naive_max_n >= 128 and section.repeats >= 3 and section.cpu_clock_ghz is None
    assert section.lesson_n == 500 and section.lesson_time_budget_s == 120
    # The sidecar's ``benchmark`` is the validated dict; the functions also take that dict.
    assert BenchmarkConfig.from_dict(section.as_dict()) == section
    assert mconfig.job_mem_mb(section.as_dict()) == mconfig.job_mem_mb(section)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"sizes": [0]}, "0"),
        ({"dtypes": ["float16"]}, "float16"),
        ({"backends": ["fortran"]}, "fortran"),
        ({"repeats": 0}, "repeats"),
        ({"colour": 1}, "colour"),
        ({"lesson_n": 0}, "lesson_n"),
        ({"lesson_time_budget_s": -1}, "lesson_time_budget_s"),
    ],
    ids=["size", "dtype", "backend", "repeats", "unknown-key", "lesson-n", "lesson-budget"],
)
def test_schema_rejects_bad_values(overrides, expected):
    with pytest.raises((WorkflowError, ConfigError), match=expected):
        _section(**overrides)


def test_cross_field_check_names_the_field():
    with pytest.raises(ConfigError, match=r"benchmark\.naive_max_n"):
        _section(sizes=[64, 128], naive_max_n=32)  # validation runs the cross-field checks too
    section = replace(_section(), sizes=(64, 128), naive_max_n=32)
    with pytest.raises(ConfigError, match=r"benchmark\.naive_max_n"):
        mconfig.check_benchmark_config({"benchmark": section})
    with pytest.raises(ConfigError, match=r"benchmark\.naive_max_n"):
        mconfig.check_benchmark_config({"benchmark": section.as_dict()})
    mconfig.check_benchmark_config({"benchmark": replace(section, backends=("numpy",))})
    with pytest.raises(ConfigError, match="naive_numpy_indexing"):
        mconfig.check_benchmark_config({"benchmark": replace(section, backends=("naive_numpy_indexing",))})


def test_resource_estimates_are_positive_and_grow_with_size():
    small, large = _section(sizes=[64]), _section()
    assert 0 < mconfig.job_mem_mb(small) < mconfig.job_mem_mb(large) < mconfig.job_mem_mb(large, attempt=2)
    assert 10 <= mconfig.job_runtime_min(small, "numpy") <= mconfig.job_runtime_min(large, "numpy")
    assert mconfig.job_runtime_min(large, "naive_python") >= 10
    # The lesson's loop may also spend lesson_time_budget_s (default 120 s) once.
    assert mconfig.job_runtime_min(large, "naive_numpy_indexing") > mconfig.job_runtime_min(large, "naive_python")
    assert mconfig.job_runtime_min(_section(lesson_n=None), "naive_numpy_indexing") == mconfig.job_runtime_min(
        _section(), "naive_python"
    )


# ----------------------------------------------------------------------------------- workflow

# torch_cpu runs the same script as numpy and is covered by the unit tests; leaving it out keeps this fast.
TINY_WORKFLOW = {
    "sizes": [16, 32],
    "naive_max_n": 16,
    "repeats": 2,
    "min_sample_s": 0.001,
    "lesson_n": 24,
    "backends": ["naive_numpy_indexing", "naive_python", "numpy", "torch_cuda"],
}
OUTPUTS = [
    "matmul.parquet",
    "matmul.json",
    "matmul_gflops.png",
    "matmul_gflops.svg",
    "matmul_speedup.png",
    "matmul_speedup.svg",
]


@pytest.mark.workflow
def test_benchmark_rules_end_to_end(workflow_run):
    # The benchmark stage of the session run: the .test config's benchmark section (TINY_WORKFLOW's
    # sizes and repeats) with the schema's default backends, all of them.
    config = yaml.safe_load(Path((workflow_run / "config-path").read_text()).read_text())
    validate_config(config, ROOT / "schemas")
    backends = config["benchmark"]["backends"]
    assert {k: config["benchmark"][k] for k in TINY_WORKFLOW if k != "backends"} == {
        k: v for k, v in TINY_WORKFLOW.items() if k != "backends"
    }
    frame = pd.read_parquet(workflow_run / "results/benchmark/matmul.parquet")
    assert list(frame.columns) == list(table.COLUMNS)
    assert len(frame) == len(backends) * 2 * 2 + 2  # backends x dtypes x sizes, plus the lesson's loop per dtype
    assert list(frame["backend"].drop_duplicates()) == backends  # registry order
    measured = frame[frame["status"] == "ok"]
    assert {"naive_numpy_indexing", "naive_python", "numpy", "torch_cpu"} <= set(measured["backend"])
    assert (measured["max_abs_error"] <= measured["tolerance"]).all() and (measured["gflops"] > 0).all()
    for backend in ("naive_numpy_indexing", "naive_python"):
        naive32 = frame[(frame["backend"] == backend) & (frame["n"] == 32)]
        assert naive32["extrapolated"].all() and naive32["status"].str.startswith("extrapolated").all()
    lesson = frame[(frame["backend"] == "naive_numpy_indexing") & (frame["n"] == 24)].set_index("dtype")
    assert lesson.loc["float64", "status"] == "ok" and lesson.loc["float64", "repeats"] == 1
    assert lesson.loc["float32", "status"] == "extrapolated: O(n^3) from n=16"
    expected_compute = np.where(frame["backend"] == "naive_python", "float64", frame["dtype"])
    assert list(frame["compute_dtype"]) == list(expected_compute)
    cuda = frame[frame["backend"] == "torch_cuda"]
    assert len(cuda) == 4
    if (cuda["status"] != "ok").any():
        assert (cuda["status"] == measure.SKIPPED_NO_CUDA).all() and cuda["seconds_median"].isna().all()
    sidecar = json.loads((workflow_run / "results/benchmark/matmul.json").read_text())
    for key in (
        "cpu_model",
        "physical_cores_usable",
        "blas",
        "blas_kernel",
        "gpu_name",
        "numpy_version",
        "torch_version",
        "blas_env",
    ):
        assert key in sidecar["machine"], key
    assert sidecar["peak"]["cpu"]["float64"]["formula"].startswith("cores x fma_units")
    # A torch job's facts list torch's OpenMP pool at the job's threads (torch is imported, and its
    # threads set, before they are gathered).
    torch_job = sidecar["jobs"]["torch_cpu"]
    assert any(p["user_api"] == "openmp" and p["num_threads"] == torch_job["threads"] for p in torch_job["threadpools"])
    assert set(sidecar["jobs"]) == set(backends)
    assert sidecar["timing_columns"] == list(table.TIMING_COLUMNS) and sidecar["columns"] == table.COLUMNS
    assert sidecar["benchmark"]["sizes"] == [16, 32] and sidecar["lesson_claim"] == {"n": 500, "seconds": 120.0}
    assert any(note.startswith("naive_numpy_indexing float64: n=500 takes") for note in sidecar["notes"])
    for name in OUTPUTS[2:]:
        assert (workflow_run / "results/benchmark" / name).stat().st_size > 1000
    assert (workflow_run / "results/benchmark/matmul_gflops.png").read_bytes()[:4] == b"\x89PNG"
    for job in (*backends, "gather"):
        assert (workflow_run / f"results/logs/benchmark/{job}.log").exists()
        assert (workflow_run / f"results/benchmarks/benchmark/{job}.tsv").exists()


@pytest.mark.workflow
def test_cuda_rule_requests_a_gpu(tmp_path, test_config, write_config):
    test_config["benchmark"] = dict(TINY_WORKFLOW)
    proc = run_snakemake(
        tmp_path, "-n", "results/benchmark/raw/torch_cuda.parquet", configfile=write_config(test_config)
    )
    out = proc.stdout + proc.stderr
    assert "rule matmul_benchmark_cuda" in out and "gpu=1" in out, out


# A bad benchmark config refused before any job: tests/test_workflow.py (BAD_CONFIGS).
