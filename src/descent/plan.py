"""What the workflow runs, worked out once at parse time from the validated config.

``rules/common.smk`` builds one :class:`Plan`: the datasets, every fit job with its settings
resolved once (``descent.config.fits.resolve_settings``, then looked up by the rules' params,
resources and inputs, which Snakemake evaluates several times per job), and what each kind of
job needs in memory (:meth:`Plan.memory_need`), which the rules declare through one function.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from descent import resources
from descent.config.fits import FitJob, fit_jobs, initial_parameters, resolve_any, resolve_settings
from descent.datafile import ROW_GROUP_BYTES, known_shape, largest_chunk_rows
from descent.dataspec import feature_names, spec_shape
from descent.fitting.registry import get_method, plugin_source

#: Rows read by a job that only checks or draws a dataset over the memory budget (the gradient
#: check, the data figure): an evenly spaced sample (descent.fitting.stream.load_sample).
SAMPLE_ROWS = 1 << 20

#: Where a dataset's rows are written: one file, or one file per shard (rules/datasets.smk).
ONE_FILE_PARQUET = "results/datasets/{dataset}.parquet"
SHARD_PARQUET = "results/datasets/{dataset}/shard-{shard}.parquet"
#: One shard's partial statistics in one scaling (rules/fits.smk, rule shard_partials).
SHARD_PARTIALS = "results/partials/{dataset}/{scaling}/shard-{shard}.json"

#: Data at most this size is fitted on one thread (start-up dominates); larger, on every core.
ONE_THREAD_BYTES = 64 * 2**20


def _stream_rows() -> int:
    # numpy and the parquet reader: imported only when a dataset streams, not at parse time
    from descent.fitting.stream import STREAM_ROWS

    return STREAM_ROWS


@dataclass(frozen=True)
class Fit:
    """One fit job as the rules see it: its resolved settings (recorded in its JSON), whether its
    base method is iterative (it then writes a history), and its user's plugin file, if any."""

    job: FitJob
    settings: dict[str, Any]
    iterative: bool
    plugin: list[str]


class Plan:
    """The datasets and fit jobs of one validated ``config`` (a dict, defaults filled in).

    ``memory_budget_mb``: above it, a fit streams its data from disk (config
    ``memory_budget_mb``, default half the machine's memory); ``sidecar(name)``: the path of a
    dataset's JSON sidecar (the dataset rule's output), from which a ``kind: file`` dataset's
    exact shape is read once it exists.
    """

    def __init__(self, config: dict[str, Any], memory_budget_mb: int, sidecar: Callable[[str], str]):
        self.config = config
        self.memory_budget_mb = memory_budget_mb
        self.sidecar = sidecar
        self.datasets: list[str] = sorted(config["datasets"])
        self.fits: dict[FitJob, Fit] = {}
        for job in fit_jobs(config):
            settings = resolve_settings(config, job)
            source = plugin_source(settings["method"])
            self.fits[job] = Fit(
                job,
                settings,
                get_method(settings["method"]).kind == "iterative",
                [str(source)] if source is not None else [],
            )
        self.single_feature: list[str] = [d for d in self.datasets if len(feature_names(self.spec(d))) == 1]

    # ---- datasets ------------------------------------------------------------------------

    def spec(self, dataset: str) -> dict[str, Any]:
        """The dataset's config entry."""
        spec: dict[str, Any] = self.config["datasets"][dataset]
        return spec

    def source(self, dataset: str) -> list[str]:
        """The table of a ``kind: file`` dataset (an input of its job, so editing it reruns
        everything that depends on it; a rule that writes it runs first); nothing otherwise."""
        spec = self.spec(dataset)
        return [spec["path"]] if spec["kind"] == "file" and not self.sharded(dataset) else []

    @functools.cache  # noqa: B019 (one plan per Snakemake process; input functions ask per job)
    def sharded(self, dataset: str) -> bool:
        """Whether ``dataset`` is stored as shards (:mod:`descent.datasets.shards`)."""
        from descent.datasets.shards import is_sharded  # lists a kind: file folder; numpy only for generated kinds

        return is_sharded(self.spec(dataset))

    @functools.cache  # noqa: B019 (as sharded(): a kind: file folder is listed once)
    def shards(self, dataset: str) -> list[str]:
        """The ``{shard}`` labels of a sharded dataset, in order (none for a one-file dataset)."""
        from descent.datasets.shards import shard_count, shard_label  # as in sharded()

        return [shard_label(i) for i in range(shard_count(self.spec(dataset)))] if self.sharded(dataset) else []

    def data_files(self, dataset: str) -> list[str]:
        """The parquet file(s) holding ``dataset``'s rows, in order: its shards, or its one file."""
        if self.sharded(dataset):
            return [SHARD_PARQUET.format(dataset=dataset, shard=shard) for shard in self.shards(dataset)]
        return [ONE_FILE_PARQUET.format(dataset=dataset)]

    def shard_source(self, dataset: str, shard: str) -> list[str]:
        """The user's file a shard of a ``kind: file`` folder is made from (an input of its job)."""
        spec = self.spec(dataset)
        if spec["kind"] != "file":
            return []
        from descent.datafile import folder_tables  # lists the folder

        return [str(folder_tables(spec, dataset)[int(shard)])]

    def partial_files(self, wildcards: Any) -> list[str]:
        """The per-shard statistics a closed-form fit of a sharded dataset reduces (map-reduce,
        :mod:`descent.fitting.partials`), one per shard in order; none for a one-file dataset or
        a method (or solver) that does not reduce them."""
        fit = self.fit(wildcards)
        if fit.iterative or not self.sharded(wildcards.dataset):
            return []
        method = get_method(fit.settings["method"])
        # The partial statistics are of the design with an intercept (a fit through the origin
        # solves from the data: its scaling does not centre).
        if not method.uses_partials(fit.settings) or not fit.settings.get("fit_intercept", True):
            return []
        return [
            SHARD_PARTIALS.format(dataset=wildcards.dataset, scaling=wildcards.scaling, shard=shard)
            for shard in self.shards(wildcards.dataset)
        ]

    def shape(self, dataset: str) -> tuple[int, int, int]:
        """(rows, features, bytes per value); a ``kind: file`` dataset's from its sidecar once
        written (exact), else from its file (Snakemake evaluates resources again once a job's
        inputs exist, so this is not cached for them)."""
        spec = self.spec(dataset)
        if spec["kind"] == "file":
            return known_shape(spec, self.sidecar(dataset), dataset)
        return spec_shape(spec)

    def streams(self, dataset: str) -> bool:
        """Whether a fit of ``dataset`` runs from disk, chunk by chunk: in memory, it would exceed
        the budget."""
        return resources.job_mem_mb(*self.shape(dataset)) > self.memory_budget_mb

    def sample_rows(self, dataset: str) -> int | None:
        """None: a job loads the whole dataset; else the rows of the sample it reads instead."""
        return SAMPLE_ROWS if self.streams(dataset) else None

    def fit_threads(self, dataset: str, cores: int) -> int:
        """One thread for small data (start-up dominates); all ``cores`` for large data."""
        return 1 if resources.data_bytes(*self.shape(dataset)) < ONE_THREAD_BYTES else max(1, cores)

    def processes(self, wildcards: Any) -> int:
        """The processes of a fit (``processes``: > 1 for a data-parallel fit)."""
        return int(self.fit(wildcards).settings.get("processes", 1))

    def data_parallel(self, wildcards: Any, value: Any) -> Any:
        """``value`` for a data-parallel fit, None (a resource left unset) for any other."""
        return value if self.processes(wildcards) > 1 else None

    def job_threads(self, wildcards: Any, cores: int) -> int:
        """A fit job's threads: :meth:`fit_threads` of its data, and one at least per process of a
        data-parallel fit (``processes``), so the scheduler does not run other jobs on its cores."""
        processes = int(self.fit(wildcards).settings.get("processes", 1))
        return max(self.fit_threads(wildcards.dataset, cores), processes)

    # ---- fits ----------------------------------------------------------------------------

    def fit(self, wildcards: Any) -> Fit:
        """The fit job of these wildcards (``dataset``, ``scaling``, ``method``)."""
        return self.fits[FitJob(wildcards.dataset, wildcards.scaling, wildcards.method)]

    def jobs(self, iterative: bool | None = None) -> list[FitJob]:
        """Every fit job in a stable order (only the iterative, or closed-form, ones when asked)."""
        return [job for job, fit in self.fits.items() if iterative is None or fit.iterative == iterative]

    def names(self, iterative: bool) -> list[str]:
        """The job names (methods, variants, repetitions) whose base method is (not) iterative."""
        return sorted({job.method for job in self.jobs(iterative)})

    def init(self, wildcards: Any) -> tuple[list[float], float]:
        """Initial (weights, bias) of a fit (``dataset``, ``scaling``, ``method``), in the fitted
        space; also of a fit the config does not run, such as the gradient check's raw manual_gd."""
        return self._init(FitJob(wildcards.dataset, wildcards.scaling, wildcards.method))

    @functools.cache  # noqa: B019 (one plan per Snakemake process, alive as long as it)
    def _init(self, job: FitJob) -> tuple[list[float], float]:
        fit = self.fits.get(job)
        settings = fit.settings if fit is not None else resolve_any(self.config, job)
        return initial_parameters(settings, self.spec(job.dataset))

    def surface_starts(self, dataset: str, scaling: str) -> list[tuple[list[float], float]]:
        """Start points of every iterative fit of this dataset and scaling (the grid must show them)."""
        return [
            self._init(job) for job in self.jobs(iterative=True) if (job.dataset, job.scaling) == (dataset, scaling)
        ]

    # ---- jobs of several fits (fits.jobs) -------------------------------------------------

    def alone(self, job: FitJob) -> bool:
        """Whether this fit is always a job of its own: a data-parallel fit (``processes > 1``, its
        own processes and cores), a CUDA fit (``gpu=1``: a cluster places it on a GPU node), a
        fit of a user's plugin method (editing the plugin reruns its fits, and only them), or a fit
        of data large enough to be fitted on every core or streamed from disk (start-up is then a
        small part of its job: :meth:`fit_threads`, :meth:`streams`)."""
        settings, fit = self.fits[job].settings, self.fits[job]
        return (
            int(settings.get("processes", 1)) > 1
            or settings.get("device") == "cuda"
            or bool(fit.plugin)
            or resources.data_bytes(*self.shape(job.dataset)) >= ONE_THREAD_BYTES
            or self.streams(job.dataset)
            or self.sharded(job.dataset)
        )

    def groups(self) -> dict[tuple[str, str], list[FitJob]]:
        """With ``fits.jobs: per_dataset_scaling`` (the default), the fits each job of several fits
        runs, by (dataset, scaling), in the jobs' order: every fit of that dataset and scaling
        that is not :meth:`alone`. Empty with ``per_fit``: one job per fit. Decided when the
        workflow is parsed (a ``kind: file`` dataset's shape is then estimated from its file, or
        taken as small when a rule writes it later)."""
        if self.config["fits"]["jobs"] != "per_dataset_scaling":
            return {}
        found: dict[tuple[str, str], list[FitJob]] = {}
        for job in self.fits:
            if not self.alone(job):
                found.setdefault((job.dataset, job.scaling), []).append(job)
        return found

    def group_params(self, jobs: list[FitJob]) -> list[dict[str, Any]]:
        """What a job of several fits needs to run each (the per-fit rules' params, one dict per
        fit, in order): ``job`` (dataset, scaling, method), ``settings``, ``init`` (None for a closed
        form), ``iterative`` (it then writes a history)."""
        return [
            {
                "job": job._asdict(),
                "settings": self.fits[job].settings,
                "init": self._init(job) if self.fits[job].iterative else None,
                "iterative": self.fits[job].iterative,
            }
            for job in jobs
        ]

    # ---- memory --------------------------------------------------------------------------

    def memory_need(self, kind: str, dataset: str | None = None, processes: int = 1) -> tuple[int, str]:
        """What one job of ``kind`` needs in memory on its first attempt (MB) and what it holds
        (for the message refusing it): ``"dataset"`` (drawing or reading a dataset into row
        groups), ``"data"`` (a job holding one dataset), ``"fit"`` (of ``processes`` processes),
        ``"sampled"`` (a job reading
        the dataset, or over the budget a sample of it) or ``"summary"`` (one dataset at a time)."""
        if kind == "summary":
            return self._summary_need()
        assert dataset is not None, f"a {kind} job's memory depends on its dataset"
        n, k, itemsize = self.shape(dataset)
        if kind == "dataset":
            spec = self.spec(dataset)
            if spec["kind"] != "file":
                need = resources.generate_mem_mb(n, k, itemsize, ROW_GROUP_BYTES)
                return need, f"dataset {dataset}: generates {resources.describe(n, k, itemsize)} in row groups"
            chunk = largest_chunk_rows(spec)
            return (
                resources.stream_mem_mb(chunk, k, ROW_GROUP_BYTES),
                f"dataset {dataset}: streams {spec['path']} in chunks of {chunk} rows x {k + 1} columns",
            )
        held = f"dataset {dataset}: {resources.describe(n, k, itemsize)}, about {resources.DATA_COPIES} copies held"
        if kind == "fit" and self.streams(dataset) and processes > 1:
            # A data-parallel fit of data over the budget: each process holds its share of the rows.
            share = -(-n // processes)
            return (
                processes * resources.job_mem_mb(share, k, itemsize),
                f"dataset {dataset}: {processes} processes, each holding {resources.describe(share, k, itemsize)}",
            )
        if kind == "fit" and self.streams(dataset):
            # A chunk in flight and a row group (mini-batches shuffle one at a time).
            return (
                resources.stream_mem_mb(_stream_rows(), k, ROW_GROUP_BYTES),
                f"dataset {dataset}: streamed, a chunk and a row group at a time",
            )
        if kind == "sampled" and self.streams(dataset):
            need = resources.stream_mem_mb(_stream_rows(), k, 0) + resources.job_mem_mb(SAMPLE_ROWS, k, itemsize)
            return need, f"dataset {dataset}: a sample of {SAMPLE_ROWS} of its {n} rows"
        if kind in ("data", "fit", "sampled"):
            return resources.job_mem_mb(n, k, itemsize), held
        raise ValueError(f"unknown kind of job {kind!r}")

    def _summary_need(self) -> tuple[int, str]:
        """fit_summary holds one dataset at a time: the largest it loads (those whose in-memory
        need is within the budget), or a chunk's for one it streams."""
        held = []
        for name in self.datasets:
            shape = self.shape(name)
            streamed = resources.BASE_MB + resources.summary_dataset_mb(*shape) > self.memory_budget_mb
            held.append((*shape, streamed))
        # STREAM_ROWS only matters for a streamed dataset: no import otherwise.
        rows = _stream_rows() if any(s[3] for s in held) else 0
        what = "one dataset at a time, the largest of: " + "; ".join(
            f"{d} {resources.describe(*s[:3])}{' (streamed)' if s[3] else ''}" for d, s in zip(self.datasets, held)
        )
        return resources.summary_mem_mb(held, rows), what
