"""Which fits run, and with which settings: resolved from the config's ``fits`` section.

Light on purpose (no pandas or torch): the rules call these functions while Snakemake parses
the workflow. A fit is named by ``(dataset, scaling, method)`` where ``method`` is a base
method registered in :mod:`descent.fitting.registry` or a variant name from ``fits.variants``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

from descent.config.schema import fill_defaults
from descent.dataspec import feature_names
from descent.fitting.method import Method
from descent.fitting.registry import get_method, methods, typed_settings
from descent.fitting.settings import FitSettings, shared_setting_names


def default_fit_settings(schema_dir: str | Path, method: str, **changes: Any) -> FitSettings:
    """The schema's default settings for ``method`` with ``changes`` (shared settings or the
    method's options; for tests and benchmarks: the defaults are read from
    ``schemas/fits.schema.yaml`` and the method's declaration, not restated)."""
    section: dict[str, Any] = {}
    fill_defaults(section, Path(schema_dir) / "fits.schema.yaml")
    return get_method(method).settings({**section["settings"], **changes, "method": method})


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
    if method in methods():
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
    random = depends_on_seed(typed_settings(_resolve(config, job)))
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


def resolve_any(config: dict[str, Any], job: FitJob) -> dict[str, Any]:
    """:func:`resolve_settings`, also for a fit of a built-in method the config does not run (the
    gradient check's raw ``manual_gd`` when only the standardized scaling is fitted, or no
    ``manual_gd``): its defaults and the overrides that match it."""
    try:
        return resolve_settings(config, job)
    except ValueError:
        if job.method not in methods():
            raise
    settings = _resolve(config, job)
    settings["fit"], settings["repetition"] = job.method, 0
    return settings


def depends_on_seed(settings: FitSettings) -> bool:
    """Whether a fit's result depends on a seed: shuffled mini-batches, or a method that shuffles
    on its own (``Method.random``)."""
    return settings.batch_size is not None or get_method(settings.method).random


def own_settings(values: Mapping[str, Any], method: Method) -> dict[str, Any]:
    """``values`` restricted to the settings every method shares and ``method``'s own options,
    its options' declared defaults filled in: options of other methods, set for every method by
    ``fits.settings`` or an override, do not apply to it."""
    keep = shared_setting_names() | {"method", "applied", "fit", "repetition"} | set(method.options)
    own = {name: option.default for name, option in method.options.items()}
    own.update({name: value for name, value in values.items() if name in keep})
    return own


def _resolve(config: dict[str, Any], job: FitJob) -> dict[str, Any]:
    """:func:`resolve_settings` of a configured fit (no repetition)."""
    fits = config["fits"]
    settings = copy.deepcopy(fits["settings"])
    applied: list[str] = []
    if job.method not in methods():
        settings.update(copy.deepcopy(fits["variants"][job.method].get("settings", {})))
        applied.append(f"variants.{job.method}")
    for index, entry in enumerate(fits.get("overrides", [])):
        if _matches(entry, job):
            settings.update(copy.deepcopy(entry["set"]))
            applied.append(f"overrides[{index}]" + (f": {entry['why']}" if entry.get("why") else ""))
    settings["method"] = base_method(fits, job.method)
    settings["applied"] = applied
    return own_settings(settings, get_method(settings["method"]))


def fit_settings(config: dict[str, Any], job: FitJob) -> FitSettings:
    """The typed settings of one fit (:func:`resolve_settings`, then :class:`FitSettings`)."""
    return typed_settings(resolve_settings(config, job))


def _options_listing(names: list[str]) -> str:
    listed = [f"{name}: {', '.join(get_method(name).options) or 'none'}" for name in names]
    return "; ".join(listed)


def setting_name_problems(fits: Mapping[str, Any]) -> list[str]:
    """Unknown setting names in ``fits.settings``, each variant's ``settings`` and each override's
    ``set``: a name must be a setting every method shares or an option of a method the entry can
    apply to (a variant's method; an override's methods, or any); each problem names the
    field, the method(s) and the allowed options."""
    if not isinstance(fits, Mapping):
        return []
    shared = shared_setting_names()
    known = methods()
    found_variants = fits.get("variants")
    variants: Mapping[str, Any] = found_variants if isinstance(found_variants, Mapping) else {}

    def base_of(name: str) -> str | None:
        if name in known:
            return name
        variant = variants.get(name)
        method = variant.get("method") if isinstance(variant, Mapping) else None
        return method if isinstance(method, str) and method in known else None

    def check(values: Any, where: str, candidates: list[str]) -> list[str]:
        if not isinstance(values, Mapping):
            return []
        found = []
        for key in values:
            if key in shared or any(key in known[m].options for m in candidates):
                continue
            owners = [m for m in known if key in known[m].options]
            whose = f"it is an option of {', '.join(owners)}; " if owners else ""
            found.append(
                f"{where}.{key}: unknown setting for method(s) {', '.join(candidates)} ({whose}their options: "
                f"{_options_listing(candidates)}; settings every method has: {', '.join(sorted(shared))})"
            )
        return found

    problems = check(fits.get("settings"), "fits.settings", list(known))
    for name, variant in variants.items():
        if isinstance(variant, Mapping) and isinstance(variant.get("method"), str) and variant["method"] in known:
            problems += check(variant.get("settings"), f"fits.variants.{name}.settings", [str(variant["method"])])
    overrides = fits.get("overrides")
    for index, entry in enumerate(overrides if isinstance(overrides, list) else []):
        if not isinstance(entry, Mapping):
            continue
        listed = _as_list(entry.get("method"))
        bases = (
            [b for b in (base_of(m) for m in listed or [] if isinstance(m, str)) if b is not None]
            if listed
            else list(known)
        )
        if listed and not bases:
            continue  # unknown method names are reported by fits_problems
        problems += check(entry.get("set"), f"fits.overrides[{index}].set", sorted(set(bases), key=list(known).index))
    return problems


def with_fit_context(fits: Any, problems: list[str]) -> list[str]:
    """``problems`` of the ``fits`` section with, after each about an override's or a variant's
    settings, the fits it sets in words (``fits.overrides[0].set.fit_intercept: … (the override of
    dataset noint, method lstsq)``), so a wrong value names the dataset and method, not only an index."""
    if not isinstance(fits, dict):
        return problems
    described = []
    for problem in problems:
        context = ""
        match = re.match(r"fits\.overrides(?:\.(\d+)\b|\[(\d+)\])", problem)  # schema: .4, cross-field: [4]
        overrides = fits.get("overrides")
        index = int(match.group(1) or match.group(2)) if match else -1
        if match and isinstance(overrides, list) and index < len(overrides):
            entry = overrides[index]
            if isinstance(entry, dict):
                parts = [f"{key} {entry[key]}" for key in ("dataset", "scaling", "method") if key in entry]
                context = f" (the override of {', '.join(parts) or 'every fit'})"
        match = re.match(r"fits\.variants\.([A-Za-z_][A-Za-z0-9_]*)\.", problem)
        variants = fits.get("variants")
        if match and isinstance(variants, dict) and isinstance(variants.get(match.group(1)), dict):
            variant = variants[match.group(1)]
            context = f" (variant {match.group(1)} of method {variant.get('method')}, datasets {variant.get('datasets', 'all')})"
        described.append(problem + context)
    return described


def fits_problems(config: dict[str, Any]) -> list[str]:
    """Cross-field problems of the ``fits`` section, each naming the field by its dotted path."""
    fits = config["fits"]
    datasets = config["datasets"]
    problems: list[str] = []
    for name, variant in fits.get("variants", {}).items():
        if name in methods():
            problems.append(f"fits.variants.{name}: a variant cannot reuse a base method's name")
        for dataset in variant.get("datasets") or []:
            if dataset not in datasets:
                problems.append(
                    f"fits.variants.{name}.datasets: unknown dataset {dataset!r}; known: {', '.join(sorted(datasets))}"
                )
    known_methods = set(methods()) | set(fits.get("variants", {}))
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
        method = get_method(settings["method"])
        problems.extend(method.option_problems({k: settings[k] for k in method.options}, where))
        if settings["lr"] == "optimal" and method.kind == "iterative" and method.optimal_step is None:
            problems.append(f"{where}.lr: 'optimal', but method {method.name} has no theory-optimal step")
        if method.kind == "iterative":
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
                elif settings.get("fit_intercept") is False and init["bias"] != 0:
                    problems.append(
                        f"{where}.init.bias: {init['bias']} with fit_intercept: false (the bias is fixed at 0; "
                        "set init.bias to 0 or fit_intercept to true)"
                    )
    return problems


def initial_parameters(settings: dict[str, Any], dataset_spec: dict[str, Any]) -> tuple[list[float], float]:
    """Initial ``(weights, bias)`` of an iterative fit, in the space being optimised; the bias is
    0 with ``fit_intercept: false`` (it is fixed there; the weights are drawn as with one)."""
    init = settings["init"]
    k = len(feature_names(dataset_spec))
    intercept = bool(settings.get("fit_intercept", True))
    if init["kind"] == "zeros":
        return [0.0] * k, 0.0
    if init["kind"] == "values":
        weights = init["weights"]
        weights = [float(w) for w in weights] if isinstance(weights, list) else [float(weights)] * k
        return weights, float(init["bias"]) if intercept else 0.0
    # Lesson 0 draws W then b with np.random.randn right after its data.
    from descent.datasets import legacy_numpy_state_after_data  # imports pandas: only for this kind, not at parse time

    rng = legacy_numpy_state_after_data(dataset_spec)
    weights_draw = rng.randn(k, 1)
    bias_draw = rng.randn(1)
    return [float(w) for w in weights_draw[:, 0]], float(bias_draw[0]) if intercept else 0.0
