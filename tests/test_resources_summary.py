"""fit_summary's memory: one dataset at a time, and a dataset over the memory budget streamed from
its parquet (the float64 least-squares reference and the conditioning from row chunks) instead of
loaded; for data in memory, the same numbers as before."""

from __future__ import annotations

import runpy
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT
from descent.datasets import write_generated
from descent.fitting.accuracy import fitted_conditioning
from descent.fitting.summary import Reference, parquet_facts, reference, summarize_fits
from descent.io import load_dataset, read_json, write_json, write_parquet
from lesson_specs import LESSON0

MULTI = {
    "kind": "multiscale_gaussian",
    "n": 3001,
    "n_features": 3,
    "seed": 11,
    "target": "y",
    "scale_range": [0.1, 100.0],
    "offset_factor": 3.0,
    "weight_range": [-5.0, 5.0],
    "true_bias": 5.0,
    "noise_std": 1.0,
    "dtype": "float64",
}
SCALINGS = ["raw", "standardized"]


def _write(tmp_path: Path, name: str, spec: dict) -> tuple[Path, Path]:
    parquet, meta = tmp_path / f"{name}.parquet", tmp_path / f"{name}.json"
    write_json(meta, write_generated(spec, parquet, name))
    return parquet, meta


def _record(name: str, features: list[str], theta: np.ndarray) -> dict:
    k = len(features)
    return {
        "dataset": name,
        "scaling": "raw",
        "method": "lstsq",
        "base_method": "lstsq",
        "features": features,
        "weights": (theta[:k] * 1.001).tolist(),
        "bias": float(theta[k]) + 0.01,
        "fitted_space": {"weights": (theta[:k] * 1.001).tolist(), "bias": float(theta[k]) + 0.01},
        "true_weights": [1.0] * k,
        "true_bias": 1.0,
        "mse": 1.0,
        "iterations": 0,
        "converged": True,
        "diverged": False,
        "status": "closed_form",
        "seconds": 0.01,
        "device": "cpu",
        "settings": {"fit": "lstsq", "repetition": 0},
        "predictions": [],
    }


def _run_script(tmp_path: Path, datasets: dict[str, dict], mem_mb: int | None, out: str) -> Path:
    paths = {name: _write(tmp_path, name, spec) for name, spec in datasets.items()}
    fits = []
    for name, (parquet, meta) in paths.items():
        data = load_dataset(parquet, meta)
        path = tmp_path / f"fit-{name}.json"
        write_json(path, _record(name, data.features, reference(data.X, data.y).theta))
        fits.append(str(path))
    outdir = tmp_path / out
    outputs = ("summary", "predictions", "conditioning", "time_to_accuracy", "repetitions")
    snakemake = SimpleNamespace(
        log=[str(outdir / "summary.log")],
        input=SimpleNamespace(
            parquets=[str(p) for p, _ in paths.values()],
            metas=[str(m) for _, m in paths.values()],
            fits=fits,
            histories=[],
        ),
        output=SimpleNamespace(**{o: str(outdir / f"{o}.parquet") for o in outputs}),
        params=SimpleNamespace(
            history_keys=[],
            scalings=SCALINGS,
            accuracy_targets=[1e-3],
            data_files={name: parquet for name, (parquet, _) in paths.items()},
        ),
        resources={} if mem_mb is None else {"mem_mb": mem_mb},
    )
    runpy.run_path(str(ROOT / "scripts/fit_summary.py"), init_globals={"snakemake": snakemake})
    return outdir


def test_in_memory_summary_keeps_its_values_and_a_large_dataset_streams(tmp_path):
    datasets = {"multi": MULTI, "lesson": LESSON0, "multi32": {**MULTI, "seed": 12, "dtype": "float32"}}
    loaded_dir = _run_script(tmp_path, datasets, 10**6, "loaded")
    assert "streamed" not in (loaded_dir / "summary.log").read_text()
    # The values of holding every dataset at once (the job before), exactly.
    loaded = {n: load_dataset(tmp_path / f"{n}.parquet", tmp_path / f"{n}.json") for n in datasets}
    records = [read_json(tmp_path / f"fit-{n}.json") for n in datasets]
    summary, _ = summarize_fits(records, loaded)
    pd.testing.assert_frame_equal(pd.read_parquet(loaded_dir / "summary.parquet"), summary.reset_index(drop=True))
    conditioning = pd.read_parquet(loaded_dir / "conditioning.parquet")
    for row in conditioning.itertuples():
        data = loaded[row.dataset]
        expected = fitted_conditioning(data.X, data.y, row.scaling, data.features)
        assert row.lambda_max == expected.lambda_max and row.loss_star == expected.loss_star
    # Every in-memory need is above 600 MB (the base): every dataset streams, the same numbers to rounding.
    streamed_dir = _run_script(tmp_path, datasets, 600, "streamed")
    assert (streamed_dir / "summary.log").read_text().count("is streamed from") == 3
    streamed = pd.read_parquet(streamed_dir / "summary.parquet")
    memory = pd.read_parquet(loaded_dir / "summary.parquet")
    assert list(streamed.columns) == list(memory.columns)
    for column in ("lstsq_bias", "lstsq_mse", "mse_excess", "dist_to_lstsq", "rel_dist_to_lstsq", "dist_to_true"):
        np.testing.assert_allclose(streamed[column], memory[column], rtol=1e-8, err_msg=column)
    for got, want in zip(streamed["lstsq_weights"], memory["lstsq_weights"]):
        np.testing.assert_allclose(got, want, rtol=1e-9)
    assert (streamed["rank"] == memory["rank"]).all()
    a, b = pd.read_parquet(streamed_dir / "conditioning.parquet"), conditioning
    assert list(a.columns) == list(b.columns) and (a[["dataset", "scaling"]] == b[["dataset", "scaling"]]).all().all()
    for column in ("lambda_max", "lambda_min", "kappa", "loss_star"):
        np.testing.assert_allclose(a[column], b[column], rtol=1e-7, err_msg=column)
    assert (a["n"] == b["n"]).all()


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_streamed_facts_agree_with_the_in_memory_reference(tmp_path, dtype):
    parquet, meta = _write(tmp_path, "d", {**MULTI, "n": 300_007, "dtype": dtype})
    data = load_dataset(parquet, meta)
    ref, conds = parquet_facts(parquet, data.features, data.target, SCALINGS)
    expected = reference(data.X, data.y)
    assert ref.rank == expected.rank == 4
    np.testing.assert_allclose(ref.theta, expected.theta, rtol=1e-9)
    assert ref.mse == pytest.approx(expected.mse, rel=1e-10)
    for scaling in SCALINGS:
        memory = fitted_conditioning(data.X, data.y, scaling, data.features)
        np.testing.assert_allclose(conds[scaling].eigenvalues, memory.eigenvalues, rtol=1e-9)
        np.testing.assert_allclose(conds[scaling].theta_star, memory.theta_star, rtol=1e-8, atol=1e-12)
        assert conds[scaling].n == memory.n == len(data.y)


def test_a_collinear_streamed_dataset_gets_the_minimum_norm_reference(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.standard_normal(5000)
    frame = pd.DataFrame({"a": x, "b": 2 * x, "c": rng.standard_normal(5000)})
    frame["y"] = 1.5 * frame["a"] - frame["c"] + 0.5 + 0.01 * rng.standard_normal(5000)
    write_parquet(tmp_path / "c.parquet", frame)
    ref, _ = parquet_facts(tmp_path / "c.parquet", ["a", "b", "c"], "y", ["raw"])
    expected = reference(frame[["a", "b", "c"]].to_numpy(), frame["y"].to_numpy())
    assert ref.rank == expected.rank == 3
    np.testing.assert_allclose(ref.theta, expected.theta, rtol=1e-8)
    assert isinstance(ref, Reference) and ref.mse == pytest.approx(expected.mse, rel=1e-9)
