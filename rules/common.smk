"""Shared by every rules file: the package on the import path, the config validated once, the
plan of datasets and fit jobs (descent.plan), the memory a job declares, `get_final_output()`.
"""

import os
import re
import sys

# The workflow's logic lives in the descent package under src/. Make it importable both here
# (parse time) and in every job's Python (PYTHONPATH is inherited by local and cluster jobs, and
# works inside conda environments created from envs/*.yaml, which do not install the package).
DESCENT_SRC = os.path.join(workflow.basedir, "src")
if DESCENT_SRC not in sys.path:
    sys.path.insert(0, DESCENT_SRC)
os.environ.update(
    PYTHONPATH=os.pathsep.join(
        p for p in (DESCENT_SRC, os.environ.get("PYTHONPATH", "")) if p
    )
)

from descent import resources as descent_resources
from descent.config.fits import FitJob
from descent.fitting.registry import PLUGINS_VARIABLE, plugin_files
from descent.plan import ONE_FILE_PARQUET, SHARD_PARQUET, SHARD_PARTIALS, Plan
from descent.validation import validate_config

# Fails before any job runs, naming every bad field of every section at once (schema defaults
# are filled in here, the user's method plugins loaded first). CONFIG is the same configuration
# typed once (descent.config.sections).
CONFIG = validate_config(config, os.path.join(workflow.basedir, "schemas"))
# The user's method files, registered in every job's Python through the environment.
os.environ[PLUGINS_VARIABLE] = os.pathsep.join(
    str(path) for path in plugin_files(CONFIG.fits.plugins)
)
# Every fit job's settings resolved once; a fit streams its data above memory_budget_mb.
PLAN = Plan(
    config,
    config.get("memory_budget_mb") or descent_resources.machine_mem_mb() // 2,
    sidecar=lambda name: expand(rules.dataset.output.meta, dataset=name)[0],
)
DATASETS = PLAN.datasets
SHARDED_DATASETS = [name for name in DATASETS if PLAN.sharded(name)]
ONE_FILE_DATASETS = [name for name in DATASETS if name not in SHARDED_DATASETS]
FIT_JOBS = PLAN.jobs()
ITERATIVE_FIT_JOBS = PLAN.jobs(iterative=True)
SINGLE_FEATURE_DATASETS = PLAN.single_feature


def _alternation(names):
    """A wildcard regex matching exactly these names (none: matches nothing)."""
    return "|".join(re.escape(name) for name in names) if names else "(?!)"


wildcard_constraints:
    dataset=_alternation(DATASETS),


def mem_mb(kind, rule, dataset=None):
    """The mem_mb resource of `rule`, whose jobs are of `kind` (descent.plan.Plan.memory_need):
    the need doubled on each retry up to the machine's limit (Snakemake's mem_mb resource, which
    the local profile sets); a rule needing more is refused before anything runs, named. The
    dataset is the job's wildcard, or `dataset` for a rule of one dataset without wildcards.
    """

    def declared(wildcards, attempt):
        method = getattr(wildcards, "method", None)
        processes = PLAN.processes(wildcards) if kind == "fit" and method else 1
        need, what = PLAN.memory_need(
            kind, getattr(wildcards, "dataset", dataset), processes
        )
        limit = workflow.global_resources.get("mem_mb")
        limit = getattr(limit, "value", limit)
        limit = int(limit) if isinstance(limit, (int, float)) else None
        return descent_resources.declared_mem_mb(need, attempt, limit, rule, what)

    return declared


def fit_paths(pattern, jobs):
    """``pattern`` (a fit rule's output: {dataset}, {scaling}, {method}) filled in for each fit
    job, in the jobs' order (the order of the keys passed beside them as params)."""
    return expand(
        pattern,
        zip,
        dataset=[job.dataset for job in jobs],
        scaling=[job.scaling for job in jobs],
        method=[job.method for job in jobs],
    )


def get_final_output():
    """Every file the default target (the Snakefile's `all`) builds. Datasets, fits, their
    summary, checks and surfaces, the report with its figures; the matmul benchmark's and
    Lesson 0's results only when the report includes them (`report.benchmark`,
    `report.lessons`), so that switched off, those stages do not run at all."""
    scalings = config["fits"]["scalings"]
    targets = [
        *expand(rules.dataset.output.meta, dataset=DATASETS),
        *[path for name in DATASETS for path in PLAN.data_files(name)],
        *fit_paths(rules.fit_closed_form.output.json, FIT_JOBS),
        *fit_paths(rules.fit_iterative.output.history, ITERATIVE_FIT_JOBS),
        *rules.fit_summary.output,
        *expand(rules.gradient_check.output, dataset=DATASETS),
        *expand(
            rules.loss_surface.output, dataset=SINGLE_FEATURE_DATASETS, scaling=scalings
        ),
    ]
    if CONFIG.report.benchmark:
        targets += rules.matmul_benchmark_gather.output
    if CONFIG.report.lessons:
        for lesson in (
            rules.lessons_binomial,
            rules.lessons_vectors,
            rules.lessons_descent_x2,
            rules.lessons_minima,
        ):
            targets += lesson.output
    targets += [
        *rules.report_html.output,
        *expand(rules.report_fit_figures.output, dataset=DATASETS),
        *expand(rules.report_surface_figure.output, dataset=SINGLE_FEATURE_DATASETS),
        *rules.report_check_figures.output,
    ]
    return targets
