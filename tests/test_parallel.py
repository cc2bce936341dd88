"""Data-parallel descent (torch.distributed, gloo, local processes): summing the shards' gradients
and dividing by the whole n is full-batch descent, so the trajectory is the single-process one to
rounding; a failing rank is named."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from descent.config.fits import default_fit_settings
from descent.fitting.common import FitError
from descent.fitting.iterative import fit_iterative
from descent.fitting.parallel import fit_data_parallel
from descent.fitting.registry import use_plugins
from descent.moments import contiguous_part

ROOT = Path(__file__).resolve().parents[1]
COLUMNS = ["loss", "grad_norm", "w0", "w1", "w2", "b"]


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1001, 3)) * [1.0, 5.0, 0.2] + [1.0, -2.0, 3.0]  # 1001 rows: uneven shards
    return X, X @ [1.0, 2.0, 3.0] + 4.0 + rng.normal(size=1001)


def _columnwise(a, b):
    return max(np.linalg.norm(a[:, i] - b[:, i]) / np.linalg.norm(a[:, i]) for i in range(a.shape[1]))


@pytest.mark.parametrize(
    ("method", "processes", "changes", "rtol"),
    [
        ("manual_gd", 2, {"lr": 0.01, "iterations": 150}, 1e-12),
        ("momentum_gd", 3, {"lr": 0.005, "momentum": 0.8, "iterations": 150}, 1e-12),
        ("nn_linear", 3, {"lr": 1e-5, "iterations": 100, "loss_reduction": "sum"}, 1e-12),
        ("nesterov_gd", 2, {"lr": "optimal", "iterations": 150}, 1e-10),  # β, α from the summed Gram
        ("lbfgs", 2, {"lr": 1.0, "iterations": 15}, 1e-10),  # a closure: the line search all-reduces too
    ],
)
def test_the_trajectory_is_the_single_process_one(data, method, processes, changes, rtol):
    X, y = data
    settings = default_fit_settings(ROOT / "schemas", method, stall_window=0, **changes)
    one = fit_iterative(X, y, method, settings, [0.0] * 3, 0.0)
    many = fit_data_parallel(X, y, settings, ([0.0] * 3, 0.0), processes)
    assert many.status == one.status and many.iterations == one.iterations
    assert _columnwise(one.history[COLUMNS].to_numpy(), many.history[COLUMNS].to_numpy()) < rtol
    assert many.extra["processes"] == processes and sum(many.extra["rows_per_process"]) == len(X)


def test_shards_cover_the_rows_once_and_differ_by_at_most_one():
    for n, size in [(10, 3), (1001, 2), (7, 7), (5, 1)]:
        bounds = [contiguous_part(n, size, r) for r in range(size)]
        assert bounds[0][0] == 0 and bounds[-1][1] == n
        assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
        assert max(b - a for a, b in bounds) - min(b - a for a, b in bounds) <= 1


def test_a_method_with_its_own_pass_is_refused(data):
    X, y = data
    with pytest.raises(FitError, match="method sgd_regressor runs its own pass over the rows"):
        fit_data_parallel(
            X, y, default_fit_settings(ROOT / "schemas", "sgd_regressor", iterations=2), ([0.0] * 3, 0.0), 2
        )


@pytest.mark.parametrize(
    ("method", "processes", "changes"),
    [
        ("manual_gd", 3, {"lr": 0.01, "batch_size": 64, "iterations": 8}),  # 1001 rows: a last batch of 41
        ("adam", 2, {"lr": 0.01, "batch_size": 100, "iterations": 5, "loss_reduction": "sum"}),
    ],
)
def test_mini_batches_draw_the_same_rows_as_one_process(data, method, processes, changes):
    """A seeded, epoch-wise permutation of the whole fit's rows, the same in every process: each
    sums over the batch rows it holds, the all-reduce gives the one-process batch's gradient."""
    X, y = data
    settings = default_fit_settings(ROOT / "schemas", method, stall_window=0, **changes)
    one = fit_iterative(X, y, method, settings, [0.0] * 3, 0.0)
    many = fit_data_parallel(X, y, settings, ([0.0] * 3, 0.0), processes)
    assert many.iterations == one.iterations
    assert _columnwise(one.history[COLUMNS].to_numpy(), many.history[COLUMNS].to_numpy()) < 1e-12


def test_a_failing_rank_is_named_with_its_reason(data, tmp_path):
    plugin = tmp_path / "fragile.py"
    plugin.write_text(
        "import torch.distributed as dist\n"
        "from descent.fitting.method import Method\n"
        "from descent.fitting.methods.manual_gd import ManualEngine\n"
        "class Fragile(ManualEngine):\n"
        "    def gradient(self, X, y):\n"
        "        if dist.get_rank() == 1:\n"
        "            raise RuntimeError('rank one lost its disk')\n"
        "        return super().gradient(X, y)\n"
        "METHOD = Method(name='fragile', kind='iterative', description='d', colour='#123456', engine=Fragile)\n"
    )
    use_plugins([plugin])
    try:
        X, y = data
        settings = default_fit_settings(ROOT / "schemas", "fragile", iterations=5)
        with pytest.raises(FitError, match="rank 1 failed: RuntimeError: rank one lost its disk"):
            fit_data_parallel(X, y, settings, ([0.0] * 3, 0.0), 2, timeout_s=60)
    finally:
        use_plugins([])


def test_the_processes_setting_runs_a_fit_data_parallel_with_the_same_record(data):
    from descent.fitting.records import fit

    X, y = data
    base = default_fit_settings(ROOT / "schemas", "manual_gd", lr="lipschitz", iterations=200, stall_window=0)
    assert base.processes == 1  # the schema's default
    one, w1, b1 = fit(X, y, "standardized", base, ([0.0] * 3, 0.0), accuracy_targets=[1e-4])
    two, w2, b2 = fit(X, y, "standardized", base.replace(processes=2), ([0.0] * 3, 0.0), accuracy_targets=[1e-4])
    np.testing.assert_allclose(np.append(w2, b2), np.append(w1, b1), rtol=1e-12)
    assert two.extra["processes"] == 2 and two.status == one.status
    # the exact prediction applies unchanged: the same predicted gap curve beside the observed one
    np.testing.assert_allclose(two.history["predicted_gap"], one.history["predicted_gap"], rtol=1e-9)
    assert two.extra["predicted"]["iterations_to"] == one.extra["predicted"]["iterations_to"]


def test_a_streamed_fit_runs_data_parallel_from_the_files_with_the_same_trajectory(data, tmp_path):
    """Data over the memory budget: each rank reads and holds only its rows of the parquet file;
    the history (annotated from the Gram the ranks sum) is the in-memory one to rounding."""
    import pandas as pd

    from descent.fitting.closed_form import array_chunks
    from descent.fitting.parallel import RankLaunch
    from descent.fitting.records import fit
    from descent.fitting.stream import parquet_chunks
    from descent.fitting.streamed import fit_streaming

    X, y = data
    path = tmp_path / "d.parquet"
    pd.DataFrame({"a": X[:, 0], "b": X[:, 1], "c": X[:, 2], "y": y}).to_parquet(path, row_group_size=300)
    features = ["a", "b", "c"]
    settings = default_fit_settings(ROOT / "schemas", "nesterov_gd", lr="optimal", iterations=150, stall_window=0)
    one, w1, b1 = fit(X, y, "standardized", settings, ([0.0] * 3, 0.0), features, accuracy_targets=[1e-4])
    ranks = RankLaunch([str(path)], "y")
    two, w2, b2 = fit_streaming(
        lambda: parquet_chunks(path, features, "y"),
        features,
        X.dtype,
        "standardized",
        settings.replace(processes=3),
        ([0.0] * 3, 0.0),
        accuracy_targets=[1e-4],
        ranks=ranks,
    )
    np.testing.assert_allclose(np.append(w2, b2), np.append(w1, b1), rtol=1e-12)
    # (the standardized bias and the final gradient norm are rounding noise, ~1e-16: compared absolutely)
    signal = ["loss", "w0", "w1", "w2"]
    assert _columnwise(one.history[signal].to_numpy(), two.history[signal].to_numpy()) < 1e-10
    np.testing.assert_allclose(two.history[["b", "grad_norm"]], one.history[["b", "grad_norm"]], atol=1e-12)
    np.testing.assert_allclose(two.history["predicted_gap"], one.history["predicted_gap"], rtol=1e-8)
    assert two.extra["rows_per_process"] == [334, 334, 333]
    with pytest.raises(FitError, match="needs its files"):  # arrays alone cannot be handed to ranks elsewhere
        fit_streaming(
            lambda: array_chunks(X, y), features, X.dtype, "raw", settings.replace(processes=2), ([0.0] * 3, 0.0)
        )


def test_a_rank_that_cannot_read_its_rows_is_named(data, tmp_path):
    from descent.fitting.parallel import RankSource, fit_data_parallel_files

    X, y = data
    missing = RankSource([str(tmp_path / "gone.parquet")], ["a", "b", "c"], "y", len(y), None)
    settings = default_fit_settings(ROOT / "schemas", "manual_gd", iterations=3)
    with pytest.raises(FitError, match=r"rank \d failed: DataError: .*gone.parquet: no such file"):
        fit_data_parallel_files(missing, settings, ([0.0] * 3, 0.0), 2, timeout_s=60)


def test_srun_starts_the_ranks_only_inside_a_slurm_allocation(monkeypatch):
    from descent.fitting.parallel import launcher_command

    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    assert launcher_command("srun") is None  # a local run: local processes
    monkeypatch.setenv("SLURM_JOB_ID", "42")
    assert launcher_command("srun --mpi=none") == ["srun", "--mpi=none"]
    assert launcher_command("srun", 4) == ["srun", "--cpus-per-task=4"]
    assert launcher_command(None) is None
