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
