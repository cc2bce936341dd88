"""Helpers shared by every rules file: package import path, config validation, resources."""

import os
import sys

# The workflow's logic lives in the descent package under src/. Make it importable both here
# (parse time) and in every job's Python (PYTHONPATH is inherited by local and cluster jobs, and
# works inside conda environments created from envs/*.yaml, which do not install the package).
DESCENT_SRC = os.path.join(workflow.basedir, "src")
if DESCENT_SRC not in sys.path:
    sys.path.insert(0, DESCENT_SRC)
os.environ.update(
    PYTHONPATH=os.pathsep.join(p for p in (DESCENT_SRC, os.environ.get("PYTHONPATH", "")) if p)
)

from descent.config import feature_names, spec_shape, validate_config
from descent import resources as descent_resources

# Fails before any job runs, naming every bad field of every section at once (schema defaults
# are filled in here).
validate_config(config, os.path.join(workflow.basedir, "schemas"))

DATASETS = sorted(config["datasets"])

# Every stage appends the files `rule all` should build; the Snakefile's `rule all` takes them.
FINAL_TARGETS = []


wildcard_constraints:
    dataset="|".join(DATASETS) if DATASETS else "(?!)",


def dataset_shape(name):
    """(rows, features, bytes per value) of a configured dataset."""
    return spec_shape(config["datasets"][name])


def dataset_bytes(name):
    """Bytes of one dataset's feature matrix plus target, at its stored dtype."""
    return descent_resources.data_bytes(*dataset_shape(name))


def dataset_mem_mb(wildcards, attempt=1):
    """Memory to request for a job holding one dataset (descent.resources.job_mem_mb: the
    interpreter plus a few copies of the data), doubled on each retry."""
    return descent_resources.job_mem_mb(*dataset_shape(wildcards.dataset), attempt=attempt)


# ---- Fits (rules/fits.smk) -------------------------------------------------------------

from descent.config.fits import (
    CLOSED_FORM_METHODS,
    ITERATIVE_METHODS,
    FitJob,
    fit_jobs,
    initial_parameters,
    resolve_settings,
)

FIT_JOBS = fit_jobs(config)
FIT_VARIANTS = config["fits"].get("variants", {})
ITERATIVE_NAMES = [m for m in ITERATIVE_METHODS if m in config["fits"]["methods"]] + sorted(
    name for name, variant in FIT_VARIANTS.items() if variant["method"] in ITERATIVE_METHODS
)
CLOSED_NAMES = [m for m in CLOSED_FORM_METHODS if m in config["fits"]["methods"]] + sorted(
    name for name, variant in FIT_VARIANTS.items() if variant["method"] in CLOSED_FORM_METHODS
)
SINGLE_FEATURE_DATASETS = [d for d in DATASETS if len(feature_names(config["datasets"][d])) == 1]


def _alternation(names):
    """A wildcard regex matching exactly these names (none: matches nothing)."""
    return "|".join(names) if names else "(?!)"


def fit_settings(wildcards):
    """Resolved settings of one fit (defaults < variant < overrides), recorded in its JSON."""
    return resolve_settings(config, FitJob(wildcards.dataset, wildcards.scaling, wildcards.method))


def fit_init(wildcards):
    """Initial (weights, bias) of an iterative fit, in the fitted space."""
    settings = fit_settings(wildcards)
    return initial_parameters(settings, config["datasets"][wildcards.dataset])


def fit_threads(wildcards):
    """One thread for small data (start-up dominates); all cores for large data."""
    return 1 if dataset_bytes(wildcards.dataset) < 64 * 2**20 else max(1, workflow.cores)


def fit_gpu(wildcards):
    """A GPU for fits configured to run on CUDA (so cluster submission requests one)."""
    return 1 if fit_settings(wildcards).get("device") == "cuda" else 0


def surface_starts(wildcards):
    """Start points of every iterative fit of this dataset and scaling (the grid must show them)."""
    return [
        initial_parameters(resolve_settings(config, job), config["datasets"][job.dataset])
        for job in FIT_JOBS
        if job.dataset == wildcards.dataset
        and job.scaling == wildcards.scaling
        and resolve_settings(config, job)["method"] in ITERATIVE_METHODS
    ]
