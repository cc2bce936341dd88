"""Data larger than memory: streaming fits agree with the in-memory ones and stay bounded."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import ROOT
from descent.config.fits import default_fit_settings
from descent.fitting import stream, stream_descent
from descent.fitting.common import FitError
from descent.fitting.records import fit
from descent.fitting.scaling import standardization_stats
from descent.fitting.streamed import fit_streaming


@pytest.fixture(scope="module")
def on_disk(tmp_path_factory):
    path = tmp_path_factory.mktemp("stream") / "data.parquet"
    meta = stream.write_synthetic_parquet(path, 120_000, 3, seed=5, dtype="float64", rows_per_group=25_000)
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    X = np.column_stack([table[name].to_numpy() for name in meta["features"]])
    return path, meta, X, table["y"].to_numpy()


def _chunks(path, meta):
    return lambda: stream.parquet_chunks(path, meta["features"], meta["target"], rows=30_000)


def test_streaming_statistics_match_the_in_memory_ones(on_disk):
    path, meta, X, y = on_disk
    stats, n = stream.chunk_statistics(_chunks(path, meta)(), meta["features"])
    reference = standardization_stats(X, y)
    assert n == len(X)
    np.testing.assert_allclose(stats.x_mean, reference.x_mean, rtol=1e-13)
    np.testing.assert_allclose(stats.x_std, reference.x_std, rtol=1e-12)
    assert stats.y_std == pytest.approx(reference.y_std, rel=1e-12)


@pytest.mark.parametrize("scaling", ["raw", "standardized"])
@pytest.mark.parametrize("solver", ["auto", "qr"])
def test_streaming_closed_form_matches_the_in_memory_one(on_disk, scaling, solver):
    path, meta, X, y = on_disk
    settings = default_fit_settings(ROOT / "schemas", "lstsq", lstsq_solver=solver)
    memory, w1, b1 = fit(X, y, scaling, settings, features=meta["features"])
    streamed, w2, b2 = fit_streaming(_chunks(path, meta), meta["features"], X.dtype, scaling, settings, None)
    assert streamed.status == memory.status == "closed_form"
    np.testing.assert_allclose(np.append(w2, b2), np.append(w1, b1), rtol=1e-11)


@pytest.mark.parametrize("scaling", ["raw", "standardized"])
def test_streaming_descent_matches_the_in_memory_one(on_disk, scaling):
    path, meta, X, y = on_disk
    lr = 0.1 if scaling == "standardized" else 1e-3
    settings = default_fit_settings(ROOT / "schemas", "manual_gd", lr=lr, iterations=25, stall_window=0)
    memory, w1, b1 = fit(X, y, scaling, settings, ([0.0] * 3, 0.0))
    streamed, w2, b2 = fit_streaming(
        _chunks(path, meta), meta["features"], X.dtype, scaling, settings, ([0.0] * 3, 0.0)
    )
    np.testing.assert_allclose(np.append(w2, b2), np.append(w1, b1), rtol=1e-10)
    np.testing.assert_allclose(streamed.history["loss"], memory.history["loss"], rtol=1e-10)
    assert streamed.iterations == memory.iterations == 25


def test_a_method_that_cannot_stream_is_refused_with_the_way_out(on_disk):
    path, meta, X, _ = on_disk
    settings = default_fit_settings(ROOT / "schemas", "lbfgs")
    with pytest.raises(FitError, match="cannot stream.*memory_budget_mb"):
        fit_streaming(_chunks(path, meta), meta["features"], X.dtype, "raw", settings, ([0.0] * 3, 0.0))


@pytest.mark.workflow
def test_a_fit_over_the_memory_budget_streams_in_the_workflow(tmp_path, test_config, write_config):
    import json

    from conftest import run_snakemake

    test_config["memory_budget_mb"] = 64  # below any dataset's in-memory estimate: every fit streams
    config = write_config(test_config)
    base = "results/fits/lesson_linear/standardized"
    check = "results/fits/gradient_check/lesson_linear.json"
    run_snakemake(
        tmp_path, f"{base}/lstsq.json", f"{base}/manual_gd.json", f"{base}/minibatch_gd.json", check, configfile=config
    )
    import pandas as pd

    history = pd.read_parquet(tmp_path / f"{base}/manual_gd.history.parquet")
    # Streamed descent computes in float64: the exact full-batch prediction holds while the gap is large.
    large = history["gap"] > 1e-8 * history["gap"].iloc[0]
    np.testing.assert_allclose(history["gap"][large], history["predicted_gap"][large], rtol=1e-7)
    minibatch = json.loads((tmp_path / f"{base}/minibatch_gd.json").read_text())
    assert minibatch["streamed"] and minibatch["batches_from"] == "shuffled row groups"
    assert minibatch["status"] in ("converged", "max_iterations") and minibatch["updates"] > 0
    gradients = json.loads((tmp_path / check).read_text())  # read as a (here: whole) sample
    assert gradients["sampled_from"] == gradients["rows"] == test_config["datasets"]["lesson_linear"]["n"]
    assert gradients["float64"]["max_rel_diff"] < 1e-10
    lstsq = json.loads((tmp_path / f"{base}/lstsq.json").read_text())
    descent = json.loads((tmp_path / f"{base}/manual_gd.json").read_text())
    assert lstsq["streamed"] and descent["streamed"] and lstsq["status"] == "closed_form"
    assert lstsq["inference"] is not None  # from the streamed Gram (compared with memory below)
    assert history["relative_gap"].iloc[0] == 1.0 and descent["loss_star"] > 0
    from descent.io import load_dataset

    data = load_dataset(
        tmp_path / "results/datasets/lesson_linear.parquet", tmp_path / "results/datasets/lesson_linear.json"
    )
    settings = default_fit_settings(ROOT / "schemas", "lstsq")
    _, w, b = fit(data.X, data.y, "standardized", settings, features=list(data.meta["features"]))
    np.testing.assert_allclose(np.append(lstsq["weights"], lstsq["bias"]), np.append(w, b), rtol=1e-11)
    from descent.fitting.inference import inference_from_data

    memory = inference_from_data(data.X, data.y, np.asarray(lstsq["weights"]), lstsq["bias"])
    streamed = {k: v for k, v in lstsq["inference"].items() if k != "covers_truth"}
    _same_inference(streamed, {k: v for k, v in memory.as_dict().items() if k != "covers_truth"})
    refused = run_snakemake(tmp_path, f"{base}/nn_linear.json", configfile=config, check=False)
    assert refused.returncode != 0
    assert "cannot stream" in refused.stdout + refused.stderr


def test_prefetching_yields_the_same_items_in_order_and_raises_the_producers_error():
    assert list(stream.prefetched(iter(range(50)), depth=3)) == list(range(50))

    def failing():
        yield 1
        raise ValueError("bad row group in data.parquet")

    items = stream.prefetched(failing())
    assert next(items) == 1
    with pytest.raises(ValueError, match="bad row group in data.parquet"):
        next(items)


def test_a_consumer_that_stops_early_stops_the_reading_thread():
    import threading

    closed = threading.Event()

    def endless():
        try:
            i = 0
            while True:
                yield i
                i += 1
        finally:
            closed.set()

    items = stream.prefetched(endless(), depth=2)
    assert [next(items) for _ in range(5)] == [0, 1, 2, 3, 4]
    items.close()
    assert closed.wait(5), "the producer's generator was not closed"
    assert not any(t.name == "descent-prefetch" for t in threading.enumerate())


def test_streamed_chunks_hold_the_files_values(on_disk):
    path, meta, X, y = on_disk
    chunks = list(_chunks(path, meta)())
    assert all(chunk.flags.f_contiguous for chunk, _ in chunks)
    np.testing.assert_array_equal(np.vstack([c for c, _ in chunks]), X)
    np.testing.assert_array_equal(np.concatenate([t for _, t in chunks]), y)


def test_a_sample_takes_evenly_spaced_rows_across_chunk_boundaries(on_disk):
    path, meta, X, y = on_disk  # 120 000 rows, chunks of 30 000 rows
    Xs, ys = stream.sample_rows(_chunks(path, meta)(), len(X), 7_000)
    step = -(-len(X) // 7_000)
    np.testing.assert_array_equal(Xs, X[::step])
    np.testing.assert_array_equal(ys, y[::step])
    assert len(Xs) <= 7_000
    Xa, _ = stream.sample_rows(_chunks(path, meta)(), len(X), 10**9)  # no more rows than the file
    np.testing.assert_array_equal(Xa, X)


def test_a_sample_loads_as_a_dataset_naming_its_source_rows(on_disk, tmp_path):
    import json

    path, meta, X, y = on_disk
    sidecar = tmp_path / "data.json"
    sidecar.write_text(json.dumps(meta))
    data = stream.load_sample(path, sidecar, 1_000)
    assert data.meta["sampled_from"] == len(X) and len(data.y) <= 1_000
    np.testing.assert_array_equal(data.X, X[:: -(-len(X) // 1_000)])


def test_shuffled_batches_use_every_row_once_in_full_batches():
    rng = np.random.default_rng(3)
    groups = [
        (np.arange(i, i + n, dtype=float).reshape(-1, 1), np.arange(i, i + n, dtype=float))
        for i, n in ((0, 7), (7, 10), (17, 3), (20, 11))
    ]  # uneven groups: leftovers open the next group's batch
    batches = list(stream_descent.shuffled_batches(iter(groups), 4, rng))
    assert [len(y) for _, y in batches] == [4] * 7 + [3]
    seen = np.concatenate([y for _, y in batches])
    assert sorted(seen) == list(range(31)) and not np.array_equal(seen, np.arange(31))
    assert all(np.array_equal(X[:, 0], y) for X, y in batches)  # rows stay whole


# The Polyak-Ruppert mean includes the first, far iterates: after 6 epochs it is further off.
@pytest.mark.parametrize(("averaging", "bound"), [(False, 5e-3), (True, 5e-2)])
def test_streamed_minibatches_from_shuffled_row_groups_reach_least_squares(on_disk, averaging, bound):
    path, meta, X, y = on_disk
    settings = default_fit_settings(
        ROOT / "schemas",
        "manual_gd",
        lr=0.05,
        iterations=6,
        batch_size=500,
        stall_window=0,
        schedule="inverse_scaling",
        averaging=averaging,
    )
    shuffled = stream.shuffled_row_groups(path, meta["features"], meta["target"])
    runs = [
        fit_streaming(
            _chunks(path, meta), meta["features"], X.dtype, "standardized", settings, ([0.0] * 3, 0.0), shuffled
        )
        for _ in range(2)
    ]
    (outcome, w, b), (again, w2, b2) = runs
    np.testing.assert_array_equal(np.append(w, b), np.append(w2, b2))  # seeded: bit for bit
    ls = default_fit_settings(ROOT / "schemas", "lstsq")
    closed, w_star, b_star = fit(X, y, "standardized", ls, features=meta["features"])
    error = np.linalg.norm(np.append(w - w_star, b - b_star)) / np.linalg.norm(np.append(w_star, b_star))
    assert error < bound
    stats = stream.chunk_statistics(_chunks(path, meta)(), meta["features"])[0]
    loss_star = stream.gradient_pass(_chunks(path, meta)(), closed.weights, closed.bias, stats)[0]
    assert loss_star <= outcome.history["loss"].iloc[-1] < (1 + 10 * bound) * loss_star
    assert outcome.extra["updates"] == 6 * len(range(0, len(X), 500))
    assert list(outcome.history["iteration"]) == list(range(7))


@pytest.mark.parametrize("lr", ["lipschitz", "optimal"])
def test_streamed_steps_from_the_gram_equal_the_in_memory_ones(on_disk, lr):
    path, meta, X, y = on_disk
    settings = default_fit_settings(ROOT / "schemas", "manual_gd", lr=lr, iterations=5, stall_window=0)
    memory, w1, b1 = fit(X, y, "standardized", settings, ([0.0] * 3, 0.0))
    streamed, w2, b2 = fit_streaming(
        _chunks(path, meta), meta["features"], X.dtype, "standardized", settings, ([0.0] * 3, 0.0)
    )
    assert streamed.extra["lr"] == pytest.approx(memory.extra["lr"], rel=1e-10)
    np.testing.assert_allclose(np.append(w2, b2), np.append(w1, b1), rtol=1e-9)


@pytest.mark.parametrize("scaling", ["raw", "standardized"])
def test_the_figures_least_squares_floor_read_from_the_fits_equals_a_fresh_solve(on_disk, scaling):
    from descent.fitting.accuracy import minimum_from_histories
    from descent.report.figures import fitted_space_minimum

    path, meta, X, y = on_disk
    settings = default_fit_settings(ROOT / "schemas", "manual_gd", lr=1e-3, iterations=5, stall_window=0)
    outcome, _, _ = fit(X, y, scaling, settings, ([0.0] * 3, 0.0), features=meta["features"])
    recorded = minimum_from_histories({("d", scaling, "manual_gd"): outcome.history})
    assert recorded[scaling] == pytest.approx(fitted_space_minimum(X, y, scaling, meta["features"])[2], rel=1e-9)


def _same_inference(streamed: dict, memory: dict) -> None:
    assert streamed.keys() == memory.keys()
    for key, value in memory.items():
        if isinstance(value, list) and value and isinstance(value[0], float):
            np.testing.assert_allclose(streamed[key], value, rtol=1e-9, err_msg=key)
        elif isinstance(value, float):
            assert streamed[key] == pytest.approx(value, rel=1e-9), key
        else:
            assert streamed[key] == value, key


def test_streamed_inference_equals_the_in_memory_one(on_disk):
    from descent.fitting.inference import inference_from_chunks, inference_from_data

    path, meta, X, y = on_disk
    settings = default_fit_settings(ROOT / "schemas", "lstsq")
    _, w, b = fit(X, y, "raw", settings)
    truth = (meta["true_weights"], meta["true_bias"])
    memory = inference_from_data(X, y, w, b, *truth).as_dict()
    streamed = inference_from_chunks(_chunks(path, meta), X.shape[1], w, b, *truth).as_dict()
    assert memory["standard_errors"][0] is not None
    _same_inference(streamed, memory)
