"""Helpers shared by every rules file: package import path, config validation, resources."""

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
from descent.dataspec import feature_names, spec_shape
from descent.fitting.registry import (
    PLUGINS_VARIABLE,
    get_method,
    plugin_files,
    plugin_source,
)
from descent.validation import validate_config

# Fails before any job runs, naming every bad field of every section at once (schema defaults
# are filled in here, the user's method plugins loaded first). CONFIG is the same configuration
# typed once (descent.config.sections).
CONFIG = validate_config(config, os.path.join(workflow.basedir, "schemas"))

# The user's method files, registered in every job's Python through the environment, as
# PYTHONPATH is above; each is an input of its method's fits (fit_plugin).
os.environ[PLUGINS_VARIABLE] = os.pathsep.join(
    str(path) for path in plugin_files(CONFIG.fits.plugins)
)

DATASETS = sorted(config["datasets"])


wildcard_constraints:
    dataset="|".join(DATASETS) if DATASETS else "(?!)",


def dataset_shape(name):
    """(rows, features, bytes per value) of a configured dataset; a `kind: file` dataset's from
    its sidecar once written (exact), else from its file (Snakemake evaluates resources again
    when a job's inputs exist)."""
    spec = config["datasets"][name]
    if spec["kind"] == "file":
        from descent.datafile import known_shape

        return known_shape(
            spec, expand(rules.dataset.output.meta, dataset=name)[0], name
        )
    return spec_shape(spec)


def dataset_bytes(name):
    """Bytes of one dataset's feature matrix plus target, at its stored dtype."""
    return descent_resources.data_bytes(*dataset_shape(name))


def memory_limit_mb():
    """Snakemake's global mem_mb resource (the local profile sets the machine's memory), or None."""
    limit = workflow.global_resources.get("mem_mb")
    limit = getattr(limit, "value", limit)
    return int(limit) if isinstance(limit, (int, float)) else None


def dataset_mem_mb(wildcards, attempt=1, rulename="a job"):
    """Memory to request for a job holding one dataset (descent.resources.job_mem_mb: the
    interpreter plus a few copies of the data), doubled on each retry up to the machine's limit;
    a job needing more than the limit is refused, naming the rule, before anything runs.
    """
    shape = dataset_shape(wildcards.dataset)
    return descent_resources.declared_mem_mb(
        descent_resources.job_mem_mb(*shape),
        attempt,
        memory_limit_mb(),
        rulename,
        f"dataset {wildcards.dataset}: {descent_resources.describe(*shape)}, about "
        f"{descent_resources.DATA_COPIES} copies held",
    )


#: Memory a fit may use to hold its data (config memory_budget_mb; default half the machine's).
MEMORY_BUDGET_MB = (
    config.get("memory_budget_mb") or descent_resources.machine_mem_mb() // 2
)


def fit_streams(wildcards):
    """Whether a fit runs from disk, chunk by chunk: its data in memory would exceed the budget."""
    return (
        descent_resources.job_mem_mb(*dataset_shape(wildcards.dataset))
        > MEMORY_BUDGET_MB
    )


def fit_mem_mb(wildcards, attempt=1):
    """A fit's memory: one chunk's when it streams, else the in-memory estimate (dataset_mem_mb)."""
    if fit_streams(wildcards):
        from descent.fitting.stream import STREAM_ROWS

        n, k, _ = dataset_shape(wildcards.dataset)
        # A chunk in flight and a row group (mini-batches shuffle one at a time).
        return (
            descent_resources.stream_mem_mb(STREAM_ROWS, k, ROW_GROUP_BYTES) * attempt
        )
    return dataset_mem_mb(wildcards, attempt, rulename="fit")


#: Rows read by a job that only checks or draws a dataset over the memory budget (the gradient
#: check, the data figure): an evenly spaced sample (descent.fitting.stream.load_sample).
SAMPLE_ROWS = 1 << 20


def sample_rows(wildcards):
    """None: the job loads the whole dataset; else the rows of the sample it reads instead (the
    data in memory would exceed memory_budget_mb, as for a streaming fit)."""
    return SAMPLE_ROWS if fit_streams(wildcards) else None


def sampled_mem_mb(wildcards, attempt=1, rulename="a job"):
    """Memory of a job reading the whole dataset (dataset_mem_mb) or, over the budget, a sample
    of SAMPLE_ROWS rows streamed chunk by chunk."""
    if not fit_streams(wildcards):
        return dataset_mem_mb(wildcards, attempt, rulename)
    from descent.fitting.stream import STREAM_ROWS

    n, k, itemsize = dataset_shape(wildcards.dataset)
    streaming = descent_resources.stream_mem_mb(STREAM_ROWS, k, 0)
    need = streaming + descent_resources.job_mem_mb(SAMPLE_ROWS, k, itemsize)
    return descent_resources.declared_mem_mb(
        need,
        attempt,
        memory_limit_mb(),
        rulename,
        f"dataset {wildcards.dataset}: a sample of {SAMPLE_ROWS} of its {n} rows",
    )


def summary_mem_mb(wildcards, attempt=1, rulename="fit_summary"):
    """Memory of fit_summary, which holds one dataset at a time: the largest it loads (those
    whose in-memory need is within memory_budget_mb), or a chunk's for one it streams.
    """
    from descent.fitting.stream import STREAM_ROWS

    shapes = [dataset_shape(name) for name in DATASETS]
    held = [
        (
            *shape,
            descent_resources.BASE_MB + descent_resources.summary_dataset_mb(*shape)
            > MEMORY_BUDGET_MB,
        )
        for shape in shapes
    ]
    return descent_resources.declared_mem_mb(
        descent_resources.summary_mem_mb(held, STREAM_ROWS),
        attempt,
        memory_limit_mb(),
        rulename,
        "one dataset at a time, the largest of: "
        + "; ".join(
            f"{d} {descent_resources.describe(*s[:3])}{' (streamed)' if s[3] else ''}"
            for d, s in zip(DATASETS, held)
        ),
    )


# ---- Datasets (rules/datasets.smk) ------------------------------------------------------

from descent.datafile import ROW_GROUP_BYTES, largest_chunk_rows


def dataset_source(wildcards):
    """The table of a `kind: file` dataset (an input, so editing it reruns everything that
    depends on it; a rule that writes it, like export_diabetes, runs first); nothing otherwise.
    """
    spec = config["datasets"][wildcards.dataset]
    return [spec["path"]] if spec["kind"] == "file" else []


def dataset_job_mem_mb(wildcards, attempt=1, rulename="dataset"):
    """Both kinds stream: a generated dataset is drawn chunk by chunk into row groups
    (descent.resources.generate_mem_mb), a `kind: file` one is read chunk by chunk, so the job
    holds a chunk and a row group of the output, whatever the rows.
    """
    spec = config["datasets"][wildcards.dataset]
    n, k, itemsize = dataset_shape(wildcards.dataset)
    if spec["kind"] != "file":
        return descent_resources.declared_mem_mb(
            descent_resources.generate_mem_mb(n, k, itemsize, ROW_GROUP_BYTES),
            attempt,
            memory_limit_mb(),
            rulename,
            f"dataset {wildcards.dataset}: generates {descent_resources.describe(n, k, itemsize)} "
            "in row groups",
        )
    chunk = largest_chunk_rows(spec)
    return descent_resources.declared_mem_mb(
        descent_resources.stream_mem_mb(chunk, k, ROW_GROUP_BYTES),
        attempt,
        memory_limit_mb(),
        rulename,
        f"dataset {wildcards.dataset}: streams {spec['path']} in chunks of {chunk} rows x {k + 1} columns",
    )


# ---- Fits (rules/fits.smk) -------------------------------------------------------------

from descent.config.fits import (
    FitJob,
    fit_jobs,
    initial_parameters,
    resolve_settings,
)


def is_iterative(job):
    """Whether a fit job's base method is iterative (it also writes a history)."""
    return get_method(resolve_settings(config, job)["method"]).kind == "iterative"


FIT_JOBS = fit_jobs(config)
# Job names (methods, variants and their repetitions) by the kind of their base method.
_FIT_KINDS = {job.method: is_iterative(job) for job in FIT_JOBS}
ITERATIVE_NAMES = sorted(name for name, iterative in _FIT_KINDS.items() if iterative)
CLOSED_NAMES = sorted(name for name, iterative in _FIT_KINDS.items() if not iterative)
SINGLE_FEATURE_DATASETS = [
    d for d in DATASETS if len(feature_names(config["datasets"][d])) == 1
]


def _alternation(names):
    """A wildcard regex matching exactly these names (none: matches nothing)."""
    return "|".join(re.escape(name) for name in names) if names else "(?!)"


def fit_settings(wildcards):
    """Resolved settings of one fit (defaults < variant < overrides), recorded in its JSON."""
    return resolve_settings(
        config, FitJob(wildcards.dataset, wildcards.scaling, wildcards.method)
    )


def fit_plugin(wildcards):
    """The plugin file of a fit's method, when it is a user's (an input: editing it reruns the fit)."""
    source = plugin_source(fit_settings(wildcards)["method"])
    return [str(source)] if source is not None else []


def fit_init(wildcards):
    """Initial (weights, bias) of an iterative fit, in the fitted space."""
    settings = fit_settings(wildcards)
    return initial_parameters(settings, config["datasets"][wildcards.dataset])


def fit_threads(wildcards):
    """One thread for small data (start-up dominates); all cores for large data."""
    return (
        1 if dataset_bytes(wildcards.dataset) < 64 * 2**20 else max(1, workflow.cores)
    )


def fit_gpu(wildcards):
    """A GPU for fits configured to run on CUDA (so cluster submission requests one)."""
    return 1 if fit_settings(wildcards).get("device") == "cuda" else 0


def surface_starts(wildcards):
    """Start points of every iterative fit of this dataset and scaling (the grid must show them)."""
    return [
        initial_parameters(
            resolve_settings(config, job), config["datasets"][job.dataset]
        )
        for job in FIT_JOBS
        if job.dataset == wildcards.dataset
        and job.scaling == wildcards.scaling
        and is_iterative(job)
    ]


# Fits whose resolved method is iterative (they also write a history).
ITERATIVE_FIT_JOBS = [job for job in FIT_JOBS if is_iterative(job)]


# ---- Paths and targets -------------------------------------------------------------------
# A path is typed once, as the output of the rule writing it; every other place refers to it as
# `rules.<name>.output.<key>` (rules files are included in stage order, so a rule is defined
# before any later stage refers to it).


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
        *expand(rules.dataset.output, dataset=DATASETS),
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
