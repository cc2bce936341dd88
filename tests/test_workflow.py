"""Snakemake-level tests: the DAG and its default target, bad configs stopping before any job,
and the datasets and fits of the session's workflow run against an independent computation."""

from __future__ import annotations

import copy
import json

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, run_snakemake
from descent.config import ConfigError
from descent.config.fits import fit_jobs
from descent.validation import validate_config

pytestmark = pytest.mark.workflow


def job_counts(dry_run_output: str) -> dict[str, int]:
    """Rule -> number of jobs, from the job stats table of a dry run (empty: nothing to do)."""
    lines = dry_run_output.splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Job stats")), None)
    counts: dict[str, int] = {}
    if start is None:
        return counts
    for line in lines[start + 3 :]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        counts[parts[0]] = int(parts[1])
    return counts


def test_default_config_dry_run_builds_the_dag(tmp_path):
    proc = run_snakemake(tmp_path, "-n", configfile=ROOT / "config.yaml")
    jobs = job_counts(proc.stdout)
    assert jobs["dataset"] == 4 and jobs["export_diabetes"] == 1, jobs  # diabetes: a kind: file dataset
    assert jobs["report_html"] == 1 and jobs["matmul_benchmark_gather"] == 1, jobs


def test_lint_is_clean(tmp_path):
    proc = run_snakemake(tmp_path, "--lint", check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "Congratulations, your workflow is in a good condition!" in out, out


STAGE_RULES = {"benchmark": "matmul_benchmark", "lessons": "lessons_"}


@pytest.mark.parametrize("section", sorted(STAGE_RULES))
def test_a_report_section_switched_off_leaves_its_stage_out(tmp_path, test_config, write_config, section):
    # report.benchmark / report.lessons false: the default target neither runs that stage nor needs it.
    test_config["report"] = {section: False}
    jobs = job_counts(run_snakemake(tmp_path, "-n", configfile=write_config(test_config)).stdout)
    assert not [rule for rule in jobs if rule.startswith(STAGE_RULES[section])], jobs
    (other,) = set(STAGE_RULES) - {section}
    assert [rule for rule in jobs if rule.startswith(STAGE_RULES[other])], jobs  # the other stage still runs
    assert jobs["report_html"] == 1 and jobs["fit_summary"] == 1, jobs


# A bad value in each section, and the field the refusal must name. The Snakefile validates the
# config at parse time with descent.config.validate_config (every problem of every section at
# once); these cases check it directly, and the end-to-end test below that Snakemake refuses a
# config holding them before any job runs.
BAD_CONFIGS = {
    "dataset-schema": (lambda c: c["datasets"]["paris_rent"].update(n=-3), "datasets.paris_rent.n: -3"),
    "dataset-cross-field": (
        lambda c: c["datasets"]["paris_rent"].update(true_weights=[1, 2, 3]),
        "datasets.paris_rent.true_weights",
    ),
    "fits": (lambda c: c["fits"].update(settings={"lr": 0}), "fits.settings.lr"),
    "benchmark": (lambda c: c.update(benchmark={"sizes": [64, 128], "naive_max_n": 32}), "benchmark.naive_max_n"),
    "lessons": (
        lambda c: c["lessons"].update(minima={"critical_points": [0.0, -1.0, 2.0]}),
        "lessons.minima.critical_points",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config_is_refused_naming_the_field(test_config, case):
    mutate, field = BAD_CONFIGS[case]
    mutate(test_config)
    with pytest.raises(ConfigError) as info:
        validate_config(test_config, ROOT / "schemas")
    assert field in str(info.value)


def test_snakemake_refuses_a_bad_config_before_any_job(tmp_path, test_config, write_config):
    # All but the dataset cross-field case (a schema error in a dataset skips the datasets'
    # cross-field checks): one run names every bad field of every section.
    cases = [case for case in BAD_CONFIGS if case != "dataset-cross-field"]
    for case in cases:
        BAD_CONFIGS[case][0](test_config)
    proc = run_snakemake(tmp_path, configfile=write_config(test_config), check=False)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    for case in cases:
        assert BAD_CONFIGS[case][1] in out, (case, out)
    assert not (tmp_path / "results").exists()


def test_datasets_of_the_run(workflow_run, test_config):
    # Their reproducibility (a second run writes identical files) is in test_reliability.py.
    for name, spec in test_config["datasets"].items():
        frame = pd.read_parquet(workflow_run / f"results/datasets/{name}.parquet")
        meta = json.loads((workflow_run / f"results/datasets/{name}.json").read_text())
        assert len(frame) == spec.get("n", 442) == meta["n"]  # diabetes (kind: file) has 442 rows
        assert list(frame.columns) == [*meta["features"], meta["target"]]
        assert np.isfinite(frame.to_numpy()).all()
        assert (workflow_run / f"results/logs/datasets/{name}.log").exists()
        assert (workflow_run / f"results/benchmarks/datasets/{name}.tsv").exists()


def test_fits_of_the_run_match_an_independent_computation(workflow_run, test_config):
    summary = pd.read_parquet(workflow_run / "results/fits/summary.parquet")
    config = copy.deepcopy(test_config)
    validate_config(config, ROOT / "schemas")
    assert sorted(zip(summary["dataset"], summary["scaling"], summary["method"])) == sorted(fit_jobs(config))
    for _, row in summary.iterrows():
        record = json.loads((workflow_run / f"results/fits/{row.dataset}/{row.scaling}/{row.method}.json").read_text())
        frame = pd.read_parquet(workflow_run / f"results/datasets/{row.dataset}.parquet")
        meta = json.loads((workflow_run / f"results/datasets/{row.dataset}.json").read_text())
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
            history = pd.read_parquet(
                workflow_run / f"results/fits/{row.dataset}/{row.scaling}/{row.method}.history.parquet"
            )
            assert history["iteration"].iloc[-1] == record["iterations"]
            assert np.isfinite(record["weights"]).all()
    paris = summary.set_index(["dataset", "scaling", "method"]).loc["paris_rent"]
    assert abs(paris.loc[("raw", "manual_gd"), "bias"] - 100) < 1  # the lesson's stuck intercept
    assert paris.loc[("standardized", "manual_gd"), "rel_dist_to_lstsq"] < 1e-5
    predictions = pd.read_parquet(workflow_run / "results/fits/predictions.parquet")
    assert sorted(predictions.query("method == 'lstsq' and scaling == 'raw'")["inputs"].map(tuple)) == [
        (30.0,),
        (50.0,),
        (70.0,),
        (90.0,),
    ]
    check = json.loads((workflow_run / "results/fits/gradient_check/paris_rent.json").read_text())
    assert check["float64"]["max_rel_diff"] < 1e-12
    surface = pd.read_parquet(workflow_run / "results/fits/paris_rent/raw/loss_surface.parquet")
    assert len(surface) == 50 * 50
    assert surface.w.min() <= 25 <= surface.w.max() and surface.b.min() <= 100 <= surface.b.max()
    assert (workflow_run / "results/fits/paris_rent/standardized/loss_surface.parquet").exists()
