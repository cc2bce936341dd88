"""Which fits run, and with which settings: resolved from the config's ``fits`` section.

Light on purpose (no pandas or torch): the rules call these functions while Snakemake parses
the workflow. A fit is named by ``(dataset, scaling, method)`` where ``method`` is a base
method registered in :mod:`descent.fitting.registry` or a variant name from ``fits.variants``.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, NamedTuple

from descent.config import feature_names
from descent.fitting.registry import CLOSED_FORM_METHODS, ITERATIVE_METHODS, METHODS

#: Re-exported for the rules (rules/common.smk), which read the method kinds from here.
__all__ = ["CLOSED_FORM_METHODS", "ITERATIVE_METHODS"]

BASE_METHODS: tuple[str, ...] = tuple(METHODS)


@dataclass(frozen=True)
class InitSpec:
    """Starting point of an iterative fit: ``kind`` (values, zeros, numpy_legacy_after_data) and,
    for ``values``, ``weights`` (one number for every feature, or one per feature) and ``bias``."""

    kind: str
    weights: float | tuple[float, ...] | None = None
    bias: float | None = None


@dataclass(frozen=True)
class FitSettings:
    """The resolved settings of one fit, typed (see ``schemas/fits.schema.yaml`` for each field's
    meaning and default: defaults come only from the schema, never from here).

    Built once per fit by :func:`fit_settings` (or :meth:`from_dict` from a resolved dict, as a
    rule passes it); ``method`` is the base method, ``applied`` the variant/overrides that set it.
    """

    method: str
    lr: float | str
    iterations: int
    batch_size: int | None
    shuffle_seed: int
    loss_reduction: str
    init: InitSpec
    tolerance: float
    stop_criterion: str
    divergence_factor: float
    stop_early: bool
    dtype: str
    device: str
    lstsq_solver: str
    lstsq_driver: str
    certificate_factor: float
    certificate_max_error: float
    stall_window: int
    stall_tolerance: float | None
    momentum: float
    schedule: str
    schedule_t0: float
    schedule_power: float
    step_every: int
    step_factor: float
    averaging: bool
    lbfgs_history: int
    sgd_learning_rate: str
    sgd_power_t: float
    sgd_average: bool | int
    applied: tuple[str, ...] = ()
    #: The configured fit this run repeats (method or variant name) and which repetition it is
    #: (0: the fit itself; r > 0: shuffle_seed + r, a job of its own; see ``fits.repetitions``).
    fit: str = ""
    repetition: int = 0

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> FitSettings:
        """From a resolved settings dict (every schema field present); names what is missing or unknown."""
        names = {f.name for f in fields(cls)}
        missing = sorted(names - set(values) - {"applied", "fit", "repetition"})
        unknown = sorted(set(values) - names)
        if missing or unknown:
            raise ValueError(f"fit settings: missing {missing or 'nothing'}, unknown {unknown or 'nothing'}")
        data = dict(values)
        init = dict(data["init"])
        if isinstance(init.get("weights"), list):
            init["weights"] = tuple(float(w) for w in init["weights"])
        data["init"] = InitSpec(**init)
        data["applied"] = tuple(data.get("applied", ()))
        return cls(**data)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready dict (the ``settings`` field of a fit JSON): ``init`` without unset fields."""
        data = asdict(self)
        data["init"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in data["init"].items() if v is not None}
        data["applied"] = list(self.applied)
        return data

    @property
    def random(self) -> bool:
        """Whether the run depends on a seed: shuffled mini-batches, or scikit-learn's own shuffle."""
        return self.batch_size is not None or self.method == "sgd_regressor"

    def replace(self, **changes: Any) -> FitSettings:
        """A copy with ``changes`` (dict form, e.g. ``init={"kind": "zeros"}``), re-typed."""
        return FitSettings.from_dict({**self.as_dict(), **changes})


def default_fit_settings(schema_dir: str | Path, method: str, **changes: Any) -> FitSettings:
    """The schema's default settings for ``method`` with ``changes`` (for tests and benchmarks:
    the defaults are read from ``schemas/fits.schema.yaml``, not restated)."""
    from descent.config.schema import fill_defaults

    section: dict[str, Any] = {}
    fill_defaults(section, Path(schema_dir) / "fits.schema.yaml")
    return FitSettings.from_dict({**section["settings"], **changes, "method": method})


class FitJob(NamedTuple):
    """One fit: a Snakemake job writing ``results/fits/{dataset}/{scaling}/{method}.json``."""

    dataset: str
    scaling: str
    method: str


def base_method(fits: dict[str, Any], method: str) -> str:
    """The base method of a method or variant name.

    >>> base_method({"variants": {"sgd": {"method": "manual_gd"}}}, "sgd")
    'manual_gd'
    """
    if method in BASE_METHODS:
        return method
    return str(fits["variants"][method]["method"])


def _as_list(value: Any) -> list[Any] | None:
    if value is None:
        return None
    return list(value) if isinstance(value, (list, tuple)) else [value]


def configured_fits(config: dict[str, Any]) -> list[FitJob]:
    """Every fit the config names (methods and variants per dataset × scaling), in a stable
    order (datasets sorted), before repetitions."""
    fits = config["fits"]
    jobs: list[FitJob] = []
    for dataset in sorted(config["datasets"]):
        for scaling in fits["scalings"]:
            for method in fits["methods"]:
                jobs.append(FitJob(dataset, scaling, method))
            for name, variant in fits.get("variants", {}).items():
                if dataset in (variant.get("datasets") or [dataset]) and scaling in (
                    variant.get("scalings") or fits["scalings"]
                ):
                    jobs.append(FitJob(dataset, scaling, name))
    return jobs


#: What joins a fit's name and a repetition number in the repetition's job name.
REPETITION_MARK = ".rep"


def repetition_name(fit: str, repetition: int) -> str:
    """The job name of repetition ``repetition`` (> 0) of ``fit``, e.g. ``minibatch_gd.rep2``."""
    return f"{fit}{REPETITION_MARK}{repetition}"


def repetitions(config: dict[str, Any], job: FitJob) -> int:
    """How many runs ``job`` gets: ``fits.repetitions`` when it depends on a seed (shuffled
    batches, scikit-learn's shuffle), else ``fits.timing_repetitions`` (to measure its time)."""
    random = FitSettings.from_dict(_resolve(config, job)).random
    return int(config["fits"]["repetitions"] if random else config["fits"]["timing_repetitions"])


def fit_jobs(config: dict[str, Any]) -> list[FitJob]:
    """Every fit job: each configured fit, then its repetitions (``{fit}.rep{r}``, one job each,
    so they run in parallel), in a stable order."""
    jobs: list[FitJob] = []
    for job in configured_fits(config):
        jobs.append(job)
        for r in range(1, repetitions(config, job)):
            jobs.append(job._replace(method=repetition_name(job.method, r)))
    return jobs


def job_origin(config: dict[str, Any], job: FitJob) -> tuple[FitJob, int]:
    """The configured fit a job runs and which repetition it is (0 for the fit itself), looked up
    among the jobs the config generates (names are never parsed)."""
    for fit in configured_fits(config):
        if (fit.dataset, fit.scaling) != (job.dataset, job.scaling):
            continue
        if fit.method == job.method:
            return fit, 0
        if not job.method.startswith(fit.method + REPETITION_MARK):
            continue  # not one of its repetitions: spares resolving its settings (once per job)
        for r in range(1, repetitions(config, fit)):
            if repetition_name(fit.method, r) == job.method:
                return fit, r
    raise ValueError(f"no configured fit runs as {job}")


def _matches(entry: dict[str, Any], job: FitJob) -> bool:
    for key, value in (("dataset", job.dataset), ("scaling", job.scaling), ("method", job.method)):
        allowed = _as_list(entry.get(key))
        if allowed is not None and value not in allowed:
            return False
    return True


def resolve_settings(config: dict[str, Any], job: FitJob) -> dict[str, Any]:
    """The settings of one fit job: defaults, then the variant's settings, then matching
    overrides; a repetition r > 0 of a fit adds r to its ``shuffle_seed``.

    The result also names the base method, the configured ``fit`` and ``repetition``, and lists
    which overrides applied (``applied``), so the fit's JSON records exactly how it was configured.
    """
    fit, repetition = job_origin(config, job)
    settings = _resolve(config, fit)
    settings["fit"], settings["repetition"] = fit.method, repetition
    if repetition:
        settings["shuffle_seed"] = int(settings["shuffle_seed"]) + repetition
        settings["applied"].append(f"repetition {repetition}: shuffle_seed + {repetition}")
    return settings


def _resolve(config: dict[str, Any], job: FitJob) -> dict[str, Any]:
    """:func:`resolve_settings` of a configured fit (no repetition)."""
    fits = config["fits"]
    settings = copy.deepcopy(fits["settings"])
    applied: list[str] = []
    if job.method not in BASE_METHODS:
        settings.update(copy.deepcopy(fits["variants"][job.method].get("settings", {})))
        applied.append(f"variants.{job.method}")
    for index, entry in enumerate(fits.get("overrides", [])):
        if _matches(entry, job):
            settings.update(copy.deepcopy(entry["set"]))
            applied.append(f"overrides[{index}]" + (f": {entry['why']}" if entry.get("why") else ""))
    settings["method"] = base_method(fits, job.method)
    settings["applied"] = applied
    return settings


def fit_settings(config: dict[str, Any], job: FitJob) -> FitSettings:
    """The typed settings of one fit (:func:`resolve_settings`, then :class:`FitSettings`)."""
    return FitSettings.from_dict(resolve_settings(config, job))


def fits_problems(config: dict[str, Any]) -> list[str]:
    """Cross-field problems of the ``fits`` section, each naming the field by its dotted path."""
    fits = config["fits"]
    datasets = config["datasets"]
    problems: list[str] = []
    for name, variant in fits.get("variants", {}).items():
        if name in BASE_METHODS:
            problems.append(f"fits.variants.{name}: a variant cannot reuse a base method's name")
        for dataset in variant.get("datasets") or []:
            if dataset not in datasets:
                problems.append(
                    f"fits.variants.{name}.datasets: unknown dataset {dataset!r}; known: {', '.join(sorted(datasets))}"
                )
    known_methods = set(BASE_METHODS) | set(fits.get("variants", {}))
    for index, entry in enumerate(fits.get("overrides", [])):
        for dataset in _as_list(entry.get("dataset")) or []:
            if dataset not in datasets:
                problems.append(
                    f"fits.overrides[{index}].dataset: unknown dataset {dataset!r}; known: {', '.join(sorted(datasets))}"
                )
        for method in _as_list(entry.get("method")) or []:
            if method not in known_methods:
                problems.append(
                    f"fits.overrides[{index}].method: unknown method {method!r}; "
                    f"allowed: {', '.join(sorted(known_methods))}"
                )
    for dataset, inputs in fits.get("predict", {}).items():
        if dataset not in datasets:
            problems.append(f"fits.predict.{dataset}: unknown dataset; known: {', '.join(sorted(datasets))}")
            continue
        k = len(feature_names(datasets[dataset]))
        for index, row in enumerate(inputs):
            if len(row) != k:
                problems.append(f"fits.predict.{dataset}[{index}]: {len(row)} value(s) for {k} feature(s)")
    for job in fit_jobs(config):
        if job.dataset not in datasets:
            continue
        settings = resolve_settings(config, job)
        where = f"fits (dataset {job.dataset}, scaling {job.scaling}, method {job.method})"
        spec = datasets[job.dataset]
        n = int(spec["n"]) if "n" in spec else None  # a kind: file dataset's rows are known only once read
        k = len(feature_names(spec))
        if settings["method"] in ITERATIVE_METHODS:
            if settings.get("batch_size") is not None and n is not None and settings["batch_size"] > n:
                problems.append(f"{where}.batch_size: {settings['batch_size']} is larger than the dataset's n={n}")
            init = settings["init"]
            if init["kind"] == "numpy_legacy_after_data" and spec["kind"] != "numpy_legacy_uniform":
                problems.append(
                    f"{where}.init.kind: numpy_legacy_after_data needs a numpy_legacy_uniform dataset, "
                    f"not {spec['kind']}"
                )
            if init["kind"] == "values":
                if "weights" not in init or "bias" not in init:
                    problems.append(f"{where}.init: kind 'values' needs both 'weights' and 'bias'")
                elif isinstance(init["weights"], list) and len(init["weights"]) != k:
                    problems.append(f"{where}.init.weights: {len(init['weights'])} value(s) for {k} feature(s)")
    return problems


def initial_parameters(settings: dict[str, Any], dataset_spec: dict[str, Any]) -> tuple[list[float], float]:
    """Initial ``(weights, bias)`` of an iterative fit, in the space being optimised."""
    init = settings["init"]
    k = len(feature_names(dataset_spec))
    if init["kind"] == "zeros":
        return [0.0] * k, 0.0
    if init["kind"] == "values":
        weights = init["weights"]
        weights = [float(w) for w in weights] if isinstance(weights, list) else [float(weights)] * k
        return weights, float(init["bias"])
    # Lesson 0 draws W then b with np.random.randn right after its data.
    from descent.datasets import legacy_numpy_state_after_data

    rng = legacy_numpy_state_after_data(dataset_spec)
    weights_draw = rng.randn(k, 1)
    bias_draw = rng.randn(1)
    return [float(w) for w in weights_draw[:, 0]], float(bias_draw[0])
