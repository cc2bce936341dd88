"""descent.plan: each fit job's settings resolved once, the rules' lookups, and one memory
estimate for every kind of job (the numbers of descent.resources, the message naming the data)."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import pytest

from conftest import ROOT
from descent import plan as plan_module
from descent import resources
from descent.config.fits import FitJob, fit_jobs, initial_parameters, resolve_settings
from descent.plan import SAMPLE_ROWS, Plan
from descent.validation import validate_config


@pytest.fixture
def config(test_config) -> dict:
    config = copy.deepcopy(test_config)
    validate_config(config, ROOT / "schemas")
    return config


def _plan(config: dict, budget_mb: int = 10**6, sidecar=lambda name: f"/nonexistent/{name}.json") -> Plan:
    return Plan(config, budget_mb, sidecar)


def test_each_jobs_settings_are_resolved_once(config, monkeypatch):
    calls = []

    def counting(config, job):
        calls.append(job)
        return resolve_settings(config, job)

    monkeypatch.setattr(plan_module, "resolve_settings", counting)
    plan = _plan(config)
    jobs = fit_jobs(config)
    assert calls == jobs  # once each, while the plan is built
    for job in jobs:  # Snakemake asks for params, resources and inputs several times per job
        for _ in range(3):
            fit = plan.fit(SimpleNamespace(**job._asdict()))
            plan.init(job)
        assert fit.settings == resolve_settings(config, job)
    assert calls == jobs


def test_jobs_split_by_their_base_methods_kind(config):
    plan = _plan(config)
    iterative, closed = plan.jobs(iterative=True), plan.jobs(iterative=False)
    assert sorted(iterative + closed) == sorted(plan.jobs()) and not set(iterative) & set(closed)
    assert "lstsq" in plan.names(iterative=False) and "manual_gd" in plan.names(iterative=True)
    assert FitJob("paris_rent", "raw", "manual_gd") in iterative
    assert plan.single_feature == ["lesson_linear", "paris_rent"]


def test_initial_parameters_and_surface_starts(config):
    plan = _plan(config)
    job = FitJob("paris_rent", "raw", "manual_gd")
    assert (
        plan.init(job)
        == ([25.0], 100.0)
        == initial_parameters(resolve_settings(config, job), config["datasets"]["paris_rent"])
    )
    starts = plan.surface_starts("paris_rent", "raw")
    assert ([25.0], 100.0) in starts and len(starts) == len(
        [j for j in plan.jobs(iterative=True) if (j.dataset, j.scaling) == ("paris_rent", "raw")]
    )


def test_memory_of_every_kind_of_job(config):
    plan = _plan(config)
    n, k, itemsize = 2000, 3, 8
    assert plan.shape("multifeature") == (n, k, itemsize)
    held = resources.job_mem_mb(n, k, itemsize)
    for kind in ("data", "fit", "sampled"):
        need, what = plan.memory_need(kind, "multifeature")
        assert need == held and what.startswith("dataset multifeature: 2000 rows x 4 columns")
    need, what = plan.memory_need("dataset", "multifeature")
    assert need == resources.generate_mem_mb(n, k, itemsize, plan_module.ROW_GROUP_BYTES) and "generates" in what
    need, what = plan.memory_need("summary")
    assert need >= resources.BASE_MB and all(name in what for name in plan.datasets)
    with pytest.raises(ValueError, match="unknown kind of job 'fitt'"):
        plan.memory_need("fitt", "multifeature")


def test_over_the_budget_a_fit_streams_and_a_check_reads_a_sample(config):
    plan = _plan(config, budget_mb=1)
    assert plan.streams("multifeature") and plan.sample_rows("multifeature") == SAMPLE_ROWS
    fit_need, fit_what = plan.memory_need("fit", "multifeature")
    sample_need, sample_what = plan.memory_need("sampled", "multifeature")
    assert "streamed" in fit_what and f"a sample of {SAMPLE_ROWS}" in sample_what
    assert fit_need < sample_need
    assert _plan(config).sample_rows("multifeature") is None


def test_a_file_dataset_is_an_input_of_its_job(config):
    plan = _plan(config)
    assert plan.source("diabetes") == ["results/external/diabetes.csv"] and plan.source("paris_rent") == []


def test_a_data_parallel_fit_reserves_a_thread_per_process(test_config):
    config = copy.deepcopy(test_config)
    config["fits"]["overrides"].append({"dataset": "lesson_linear", "method": "manual_gd", "set": {"processes": 3}})
    validate_config(config, ROOT / "schemas")
    plan = _plan(config)
    parallel = SimpleNamespace(dataset="lesson_linear", scaling="raw", method="manual_gd")
    single = SimpleNamespace(dataset="lesson_linear", scaling="raw", method="autograd")
    assert plan.job_threads(parallel, cores=2) == 3 and plan.job_threads(single, cores=2) == 1


def test_fits_of_a_dataset_and_scaling_share_a_job_but_parallel_and_cuda_fits_do_not(test_config):
    config = copy.deepcopy(test_config)
    config["fits"]["overrides"].append({"dataset": "lesson_linear", "method": "manual_gd", "set": {"processes": 2}})
    config["fits"]["variants"]["on_gpu"] = {
        "method": "manual_gd",
        "datasets": ["multifeature"],
        "settings": {"device": "cuda"},
    }
    validate_config(config, ROOT / "schemas")
    assert config["fits"]["jobs"] == "per_dataset_scaling"  # the default
    plan = _plan(config)
    groups = plan.groups()
    grouped = [job for jobs in groups.values() for job in jobs]
    alone = [job for job in plan.jobs() if job not in grouped]
    assert sorted(alone) == sorted(
        [FitJob("lesson_linear", s, "manual_gd") for s in ("raw", "standardized")]
        + [FitJob("multifeature", s, "on_gpu") for s in ("raw", "standardized")]
    )
    assert len(grouped) + len(alone) == len(plan.jobs()) and len(set(grouped)) == len(grouped)
    for (dataset, scaling), jobs in groups.items():
        assert all((job.dataset, job.scaling) == (dataset, scaling) for job in jobs)
        assert jobs == [job for job in plan.jobs() if job in jobs]  # the plan's order
        for fit, job in zip(plan.group_params(jobs), jobs):
            assert fit["job"] == job._asdict() and fit["settings"] == plan.fits[job].settings
            assert fit["iterative"] == plan.fits[job].iterative
            assert fit["init"] == (plan.init(job) if fit["iterative"] else None)
    config["fits"]["jobs"] = "per_fit"
    assert _plan(config).groups() == {}


def test_fits_of_large_or_streamed_data_are_jobs_of_their_own(test_config):
    config = copy.deepcopy(test_config)
    validate_config(config, ROOT / "schemas")
    assert {d for d, _ in _plan(config).groups()} == set(config["datasets"])  # .test's data are all small
    streamed = _plan(config, budget_mb=1)  # every dataset over the memory budget: streamed from disk
    assert streamed.groups() == {} and all(streamed.alone(job) for job in streamed.jobs())
    config["datasets"]["multifeature"]["n"] = 5_000_000  # 5e6 x 4 float64 values: fitted on every core
    plan = _plan(config)
    assert plan.fit_threads("multifeature", 2) == 2 and ("multifeature", "raw") not in plan.groups()
    assert ("paris_rent", "raw") in plan.groups()
