"""The matmul benchmark: timing harness, correctness check, naive extrapolation, CUDA skip path,
peak estimate, config checks, and a tiny end-to-end run of the rules. No test asserts a speed."""

from __future__ import annotations

import copy
import json
import math
import time

import numpy as np
import pandas as pd
import pytest
from snakemake.exceptions import WorkflowError

from conftest import ROOT, run_snakemake
from descent import benchmark as bm
from descent import machine
from descent.config import ConfigError, validate_config


def _section(**overrides) -> dict:
    """A validated benchmark section with schema defaults, then ``overrides``."""
    config = {"datasets": {"d": {"kind": "torch_uniform", "n": 2, "seed": 0, "true_weights": [1]}},
              "benchmark": dict(overrides)}
    validate_config(config, ROOT / "schemas")
    return config["benchmark"]


TINY = dict(sizes=[8, 16], dtypes=["float32", "float64"], repeats=2, warmup=1, min_sample_s=0.0)


# ----------------------------------------------------------------------------------- products


def test_naive_matmul_matches_numpy_on_rectangular_operands():
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((5, 3)), rng.standard_normal((3, 4))
    C = np.array(bm.naive_matmul(A.tolist(), B.tolist()))
    assert C.shape == (5, 4)
    np.testing.assert_allclose(C, A @ B, rtol=0, atol=1e-12)


def test_random_operands_are_seeded_and_cast_from_the_same_draw():
    A32, B32 = bm.random_operands(12, "float32", seed=3)
    A64, B64 = bm.random_operands(12, "float64", seed=3)
    assert A32.dtype == np.float32 and A64.dtype == np.float64 and A32.shape == B32.shape == (12, 12)
    np.testing.assert_array_equal(A32, A64.astype(np.float32))
    np.testing.assert_array_equal(bm.random_operands(12, "float64", seed=3)[1], B64)
    assert not np.array_equal(bm.random_operands(12, "float64", seed=4)[0], A64)
    assert np.abs(A64).max() <= 1.0


def test_tolerance_grows_with_n_and_is_looser_for_float32():
    a32, b32 = bm.random_operands(64, "float32", 0)
    a64, b64 = bm.random_operands(64, "float64", 0)
    small = bm.tolerance(*bm.random_operands(16, "float64", 0))
    assert bm.tolerance(a32, b32) > 1e6 * bm.tolerance(a64, b64)
    assert bm.tolerance(a64, b64) > small
    assert bm.tolerance(a64, b64, factor=3.0) == pytest.approx(3 * bm.tolerance(a64, b64))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_correct_products_pass_the_check_with_a_real_rounding_error(dtype):
    A, B = bm.random_operands(128, dtype, seed=0)
    error = bm.check_product(A @ B, bm.reference_product(A, B), bm.tolerance(A, B))
    assert 0 <= error < bm.tolerance(A, B)
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
    A, B = bm.random_operands(64, "float32", seed=0)
    C = corrupt(A, B, A @ B)
    with pytest.raises(bm.MatmulMismatchError, match="exceeds the tolerance"):
        bm.check_product(C, bm.reference_product(A, B), bm.tolerance(A, B), label="bad")


def test_measure_fails_on_a_backend_returning_a_wrong_product():
    def wrong(A, B):
        return bm.Runner(fn=lambda: A @ B + 1e-2, to_numpy=np.asarray)

    with pytest.raises(bm.MatmulMismatchError, match="broken float64 n=16"):
        bm.measure(16, "float64", wrong, label="broken")


# ----------------------------------------------------------------------------------- timing


def test_a_deliberately_slow_function_times_slower():
    fast = bm.time_callable(lambda: None, warmup=1, repeats=3)
    slow = bm.time_callable(lambda: time.sleep(0.02), warmup=1, repeats=3)
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

    timing = bm.time_callable(work, warmup=1, repeats=4, min_sample_s=0.05, clock=clock)
    assert timing.loops >= 50
    assert timing.samples == pytest.approx((0.001,) * 4)
    assert timing.value == "value"


def test_sync_brackets_every_timed_region():
    events: list[str] = []
    timing = bm.time_callable(lambda: events.append("call"), warmup=2, repeats=3,
                              sync=lambda: events.append("sync"))
    assert timing.loops == 1
    # warm-ups then samples: each call is preceded and followed by a sync.
    assert events == ["sync", "call", "sync"] * 5


def test_repeats_must_be_positive():
    with pytest.raises(ValueError, match="repeats=0"):
        bm.time_callable(lambda: None, repeats=0)


# ----------------------------------------------------------------------------------- backends


def test_naive_loop_is_measured_up_to_naive_max_n_then_extrapolated_as_n_cubed():
    section = _section(**{**TINY, "sizes": [8, 16, 32, 64], "naive_max_n": 16, "dtypes": ["float64"]})
    rows = bm.benchmark_backend("naive_python", section, threads=2, peak_gflops={"float64": 100.0})
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
    section = _section(**{**TINY, "sizes": [8, 16, 32], "naive_max_n": 4096, "naive_time_budget_s": 1e-9,
                          "dtypes": ["float32"]})
    rows = bm.benchmark_backend("naive_python", section, threads=1, peak_gflops={"float32": None})
    assert [r["extrapolated"] for r in rows] == [False, True, True]
    assert all(math.isnan(r["fraction_of_peak"]) for r in rows)


@pytest.mark.parametrize("backend", ["numpy", "torch_cpu"])
def test_blas_backends_check_every_product_and_reproduce_their_non_timing_columns(backend):
    section = _section(**TINY)
    peaks = {"float32": 200.0, "float64": 100.0}
    first = bm.rows_frame(bm.benchmark_backend(backend, section, threads=1, peak_gflops=peaks))
    again = bm.rows_frame(bm.benchmark_backend(backend, section, threads=1, peak_gflops=peaks))
    assert list(first.columns) == list(bm.COLUMNS)
    assert len(first) == 4 and (first["status"] == "ok").all() and (first["device"] == "cpu").all()
    assert (first["max_abs_error"] <= first["tolerance"]).all()
    assert (first["threads"] == 1).all()
    stable = [c for c in bm.COLUMNS if c not in bm.TIMING_COLUMNS]
    pd.testing.assert_frame_equal(first[stable], again[stable])


def test_the_cuda_code_path_runs_on_the_cpu_through_the_device_agnostic_runner():
    """torch_cuda's measuring path, with the device swapped for the CPU (no GPU in CI)."""
    section = _section(**{**TINY, "dtypes": ["float32"]})
    factory = lambda A, B: bm.torch_runner(A, B, device="cpu")  # noqa: E731
    rows = bm.benchmark_backend("torch_cuda", section, threads=1, peak_gflops={"float32": 1000.0}, factory=factory)
    assert [r["status"] for r in rows] == ["ok", "ok"]
    assert all(r["backend"] == "torch_cuda" and r["device"] == "cpu" for r in rows)
    assert bm.torch_runner(*bm.random_operands(4, "float32", 0), device="cpu").sync is None


def test_cuda_job_is_skipped_not_failed_without_cuda():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA; the skip path is for machines without it")
    section = _section(**TINY)
    rows, facts = bm.run_matmul_job("torch_cuda", section, threads=1)
    frame = bm.rows_frame(rows)
    assert len(frame) == 4 and (frame["status"] == bm.SKIPPED_NO_CUDA).all()
    assert frame[["seconds_median", "gflops", "max_abs_error"]].isna().all().all()
    assert not frame["extrapolated"].any() and (frame["repeats"] == 0).all()
    assert facts["cuda"]["cuda_available"] is False and facts["cuda"]["reason"]
    assert any("skipped: CUDA not available" in note for note in facts["notes"])


def test_cuda_job_with_cuda_uses_the_datasheet_peak(monkeypatch):
    """The CUDA-available branch of the job, with the GPU faked and torch on the CPU doing the work."""
    pytest.importorskip("torch")
    monkeypatch.setattr(machine, "cuda_facts", lambda: {"cuda_available": True, "gpu_name": "NVIDIA H100 80GB HBM3",
                                                        "torch_cuda_version": "12.x"})
    monkeypatch.setattr(bm, "runner_factory", lambda backend: (lambda A, B: bm.torch_runner(A, B, "cpu")))
    rows, facts = bm.run_matmul_job("torch_cuda", _section(**TINY), threads=1)
    assert all(r["status"] == "ok" and r["backend"] == "torch_cuda" for r in rows)
    assert facts["peak"]["float32"]["gflops"] == 67000.0 and "datasheet" in facts["peak"]["float64"]["source"]
    assert all(r["peak_gflops"] == 67000.0 and r["fraction_of_peak"] > 0 for r in rows)
    assert "cpu_utilisation" not in facts  # a GPU job's CPU use says nothing about contention
    monkeypatch.setattr(machine, "cuda_facts", lambda: {"cuda_available": True, "gpu_name": "Mystery GPU"})
    rows, facts = bm.run_matmul_job("torch_cuda", _section(**{**TINY, "dtypes": ["float64"]}), threads=1)
    assert all(math.isnan(r["fraction_of_peak"]) for r in rows)
    assert any("no datasheet peak for 'Mystery GPU'" in note for note in facts["notes"])


def test_unknown_backend_is_rejected():
    with pytest.raises(ValueError, match="unknown backend 'fortran'"):
        bm.runner_factory("fortran")


# ----------------------------------------------------------------------------------- machine / peak

ZEN5 = {"vendor": "AuthenticAMD", "family": 0x1A, "model_number": 2, "machine": "x86_64",
        "simd_flags": ["avx", "avx2", "avx512f", "fma", "sse2"], "cpuinfo_mhz": 2500.0, "max_freq_mhz": None,
        "physical_cores_usable": 2}
HASWELL = {"vendor": "GenuineIntel", "family": 6, "model_number": 0x3F, "machine": "x86_64",
           "simd_flags": ["avx", "avx2", "fma", "sse2"], "cpuinfo_mhz": 2000.0, "max_freq_mhz": 3000.0,
           "physical_cores_usable": 8}


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


def test_blas_kernel_width_from_threadpoolctl():
    pools = [{"user_api": "openmp"}, {"user_api": "blas", "internal_api": "openblas", "architecture": "Haswell"}]
    assert machine.blas_kernel_bits(pools) == (256, "Haswell")
    assert machine.blas_kernel_bits([]) == (None, None)


def test_notes_explain_a_narrow_blas_kernel_and_an_underestimated_clock():
    row = {"backend": "numpy", "dtype": "float64", "n": 1024, "status": "ok", "gflops": 150.0, "peak_gflops": 100.0,
           "fraction_of_peak": 1.5, "threads": 2, "seconds_median": 0.01}
    facts = {"backend": "numpy", "blas_env": {"OPENBLAS_CORETYPE": "Haswell"},
             "blas_kernel": {"name": "Haswell", "bits": 256, "hardware_bits": 512, "ceiling_fraction": 0.5},
             "peak": {"float64": machine.cpu_peak(ZEN5, 2, "float64")}, "cpu": {"physical_cores_usable": 2}}
    text = "\n".join(bm.performance_notes([row], facts))
    assert "OPENBLAS_CORETYPE=Haswell" in text and "capped at 50%" in text
    # 150 GFLOP/s through a kernel using half of 2 cores x 32 flops/cycle: the clock is at least 150 / 32 GHz.
    assert "faster than its estimated ceiling" in text and "benchmark.cpu_clock_ghz" in text
    assert f"at least {150 / 32:.2f} GHz" in text
    assert "competed" not in text
    busy = bm.performance_notes([row], {**facts, "cpu_utilisation": 0.4, "load_average_before": [3.0, 2.0, 1.0]})
    assert any("got 40% of the CPU time" in note for note in busy)
    assert any("load average was 3.00" in note for note in busy)


def test_speedups_divide_the_naive_time():
    table = pd.DataFrame({"backend": ["naive_python", "numpy"], "dtype": ["float64"] * 2, "n": [8, 8],
                          "seconds_median": [1.0, 0.01], "extrapolated": [False, False], "status": ["ok", "ok"]})
    result = bm.speedups(table).set_index("backend")
    assert result.loc["numpy", "speedup"] == pytest.approx(100.0)


# ----------------------------------------------------------------------------------- config


def test_schema_fills_the_documented_defaults():
    section = _section()
    assert section["sizes"] == [64, 128, 256, 512, 1024, 2048, 4096]
    assert section["dtypes"] == ["float32", "float64"] and section["backends"] == list(bm.BACKENDS)
    assert section["naive_max_n"] >= 128 and section["repeats"] >= 3 and section["cpu_clock_ghz"] is None


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [({"sizes": [0]}, "0"), ({"dtypes": ["float16"]}, "float16"), ({"backends": ["fortran"]}, "fortran"),
     ({"repeats": 0}, "repeats"), ({"colour": 1}, "colour")],
    ids=["size", "dtype", "backend", "repeats", "unknown-key"],
)
def test_schema_rejects_bad_values(overrides, expected):
    with pytest.raises(WorkflowError, match=expected):
        _section(**overrides)


def test_cross_field_check_names_the_field():
    config = {"benchmark": _section(sizes=[64, 128], naive_max_n=32)}
    with pytest.raises(ConfigError, match=r"benchmark\.naive_max_n"):
        bm.check_benchmark_config(config)
    bm.check_benchmark_config({"benchmark": _section(sizes=[64, 128], naive_max_n=32, backends=["numpy"])})


def test_resource_estimates_are_positive_and_grow_with_size():
    small, large = _section(sizes=[64]), _section()
    assert 0 < bm.job_mem_mb(small) < bm.job_mem_mb(large) < bm.job_mem_mb(large, attempt=2)
    assert 10 <= bm.job_runtime_min(small, "numpy") <= bm.job_runtime_min(large, "numpy")
    assert bm.job_runtime_min(large, "naive_python") >= 10


# ----------------------------------------------------------------------------------- workflow

# torch_cpu runs the same script as numpy and is covered by the unit tests; leaving it out keeps this fast.
TINY_WORKFLOW = {"sizes": [16, 32], "naive_max_n": 16, "repeats": 2, "min_sample_s": 0.001,
                 "backends": ["naive_python", "numpy", "torch_cuda"]}
OUTPUTS = ["matmul.parquet", "matmul.json", "matmul_gflops.png", "matmul_gflops.svg",
           "matmul_speedup.png", "matmul_speedup.svg"]


@pytest.mark.workflow
def test_benchmark_rules_end_to_end(tmp_path, test_config, write_config):
    test_config["benchmark"] = dict(TINY_WORKFLOW)
    run_snakemake(tmp_path, *(f"results/benchmark/{name}" for name in OUTPUTS), configfile=write_config(test_config))
    table = pd.read_parquet(tmp_path / "results/benchmark/matmul.parquet")
    assert list(table.columns) == list(bm.COLUMNS)
    assert len(table) == 3 * 2 * 2  # backends x dtypes x sizes
    measured = table[table["status"] == "ok"]
    assert {"naive_python", "numpy"} <= set(measured["backend"])
    assert (measured["max_abs_error"] <= measured["tolerance"]).all() and (measured["gflops"] > 0).all()
    naive32 = table[(table["backend"] == "naive_python") & (table["n"] == 32)]
    assert naive32["extrapolated"].all() and naive32["status"].str.startswith("extrapolated").all()
    cuda = table[table["backend"] == "torch_cuda"]
    assert len(cuda) == 4
    if (cuda["status"] != "ok").any():
        assert (cuda["status"] == bm.SKIPPED_NO_CUDA).all() and cuda["seconds_median"].isna().all()
    sidecar = json.loads((tmp_path / "results/benchmark/matmul.json").read_text())
    for key in ("cpu_model", "physical_cores_usable", "blas", "blas_kernel", "gpu_name", "numpy_version",
                "torch_version", "blas_env"):
        assert key in sidecar["machine"], key
    assert sidecar["peak"]["cpu"]["float64"]["formula"].startswith("cores x fma_units")
    assert set(sidecar["jobs"]) == set(TINY_WORKFLOW["backends"]) and sidecar["timing_columns"] == list(bm.TIMING_COLUMNS)
    assert sidecar["benchmark"]["sizes"] == [16, 32]
    for name in OUTPUTS[2:]:
        assert (tmp_path / "results/benchmark" / name).stat().st_size > 1000
    assert (tmp_path / "results/benchmark/matmul_gflops.png").read_bytes()[:4] == b"\x89PNG"
    for job in (*TINY_WORKFLOW["backends"], "gather"):
        assert (tmp_path / f"results/logs/benchmark/{job}.log").exists()
        assert (tmp_path / f"results/benchmarks/benchmark/{job}.tsv").exists()


@pytest.mark.workflow
def test_cuda_rule_requests_a_gpu(tmp_path, test_config, write_config):
    test_config["benchmark"] = dict(TINY_WORKFLOW)
    proc = run_snakemake(tmp_path, "-n", "results/benchmark/raw/torch_cuda.parquet",
                         configfile=write_config(test_config))
    out = proc.stdout + proc.stderr
    assert "rule matmul_benchmark_cuda" in out and "gpu=1" in out, out


@pytest.mark.workflow
def test_bad_benchmark_config_fails_before_any_job(tmp_path, test_config, write_config):
    bad = copy.deepcopy(test_config)
    bad["benchmark"] = {"sizes": [64, 128], "naive_max_n": 32}
    proc = run_snakemake(tmp_path, configfile=write_config(bad), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "benchmark.naive_max_n" in out, out
    assert not (tmp_path / "results").exists()
