"""Snakemake-level tests: the DAG, bad configs stopping before any job, an end-to-end run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, run_snakemake

pytestmark = pytest.mark.workflow


def test_default_config_dry_run_builds_the_dag(tmp_path):
    proc = run_snakemake(tmp_path, "-n", "--quiet", "rules", configfile=ROOT / "config.yaml")
    assert "dataset" in proc.stdout + proc.stderr


def test_lint_is_clean(tmp_path):
    proc = run_snakemake(tmp_path, "--lint", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Congratulations, your workflow is in a good condition!" in out, out


def test_bad_config_fails_before_any_job_naming_the_field(tmp_path, test_config, write_config):
    test_config["datasets"]["paris_rent"]["n"] = -3
    proc = run_snakemake(tmp_path, configfile=write_config(test_config), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "'n'" in out and "-3" in out, out
    assert not (tmp_path / "results").exists()


def test_cross_field_error_fails_before_any_job(tmp_path, test_config, write_config):
    test_config["datasets"]["paris_rent"]["true_weights"] = [1, 2, 3]
    proc = run_snakemake(tmp_path, configfile=write_config(test_config), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "datasets.paris_rent.true_weights" in out, out
    assert not (tmp_path / "results").exists()


def test_dataset_rules_end_to_end(tmp_path, test_config):
    targets = [f"results/datasets/{name}.{ext}" for name in test_config["datasets"] for ext in ("parquet", "json")]
    run_snakemake(tmp_path, *targets)
    for name, spec in test_config["datasets"].items():
        frame = pd.read_parquet(tmp_path / f"results/datasets/{name}.parquet")
        meta = json.loads((tmp_path / f"results/datasets/{name}.json").read_text())
        assert len(frame) == spec["n"] == meta["n"]
        assert list(frame.columns) == [*meta["features"], meta["target"]]
        assert np.isfinite(frame.to_numpy()).all()
        assert (tmp_path / f"results/logs/datasets/{name}.log").exists()
        assert (tmp_path / f"results/benchmarks/datasets/{name}.tsv").exists()
    # Reproducible: a forced rerun rewrites byte-identical files.
    before = {p: p.read_bytes() for p in (tmp_path / "results/datasets").iterdir()}
    run_snakemake(tmp_path, "--forceall", *targets)
    assert {p: p.read_bytes() for p in (tmp_path / "results/datasets").iterdir()} == before


def test_fits_end_to_end_match_an_independent_computation(tmp_path, test_config):
    run_snakemake(tmp_path, "results/fits/summary.parquet", "results/fits/gradient_check/paris_rent.json",
                  "results/fits/paris_rent/raw/loss_surface.parquet",
                  "results/fits/paris_rent/standardized/loss_surface.parquet")
    summary = pd.read_parquet(tmp_path / "results/fits/summary.parquet")
    n_jobs = len(test_config["datasets"]) * 2 * 5 + 2  # + the lesson_linear minibatch variant, 2 scalings
    assert len(summary) == n_jobs
    for _, row in summary.iterrows():
        record = json.loads((tmp_path / f"results/fits/{row.dataset}/{row.scaling}/{row.method}.json").read_text())
        frame = pd.read_parquet(tmp_path / f"results/datasets/{row.dataset}.parquet")
        meta = json.loads((tmp_path / f"results/datasets/{row.dataset}.json").read_text())
        X = frame[meta["features"]].to_numpy(dtype=np.float64)
        y = frame[meta["target"]].to_numpy(dtype=np.float64)
        A = np.column_stack([X, np.ones(len(X))])
        theta_ref = np.linalg.lstsq(A, y, rcond=None)[0]
        theta = np.append(record["weights"], record["bias"])
        assert record["mse"] == pytest.approx(np.mean((y - A @ theta) ** 2), rel=1e-9)
        assert row.dist_to_lstsq == pytest.approx(np.linalg.norm(theta - theta_ref), rel=1e-6, abs=1e-9)
        if row.base_method in ("lstsq", "sklearn"):
            assert row.rel_dist_to_lstsq < 1e-4
        if record["base_method"] in ("manual_gd", "autograd", "nn_linear"):
            history = pd.read_parquet(tmp_path / f"results/fits/{row.dataset}/{row.scaling}/{row.method}.history.parquet")
            assert history["iteration"].iloc[-1] == record["iterations"]
            assert np.isfinite(record["weights"]).all()
    paris = summary.set_index(["dataset", "scaling", "method"]).loc["paris_rent"]
    assert abs(paris.loc[("raw", "manual_gd"), "bias"] - 100) < 1  # the lesson's stuck intercept
    assert paris.loc[("standardized", "manual_gd"), "rel_dist_to_lstsq"] < 1e-5
    predictions = pd.read_parquet(tmp_path / "results/fits/predictions.parquet")
    assert sorted(predictions.query("method == 'lstsq' and scaling == 'raw'")["inputs"].map(tuple)) == [
        (30.0,), (50.0,), (70.0,), (90.0,)]
    check = json.loads((tmp_path / "results/fits/gradient_check/paris_rent.json").read_text())
    assert check["float64"]["max_rel_diff"] < 1e-12
    surface = pd.read_parquet(tmp_path / "results/fits/paris_rent/raw/loss_surface.parquet")
    assert len(surface) == 50 * 50
    assert surface.w.min() <= 25 <= surface.w.max() and surface.b.min() <= 100 <= surface.b.max()
