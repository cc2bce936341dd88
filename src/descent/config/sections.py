"""The schema-filled configuration as frozen dataclasses: one :class:`Config` built once.

:func:`descent.config.validate_config` validates ``config.yaml`` against the schemas, which fill
in every default, checks the relations between fields, then returns :class:`Config` (built by
:meth:`Config.from_dict`). The dataclasses nest where the schemas nest: ``lessons`` →
:class:`LessonsConfig` (``binomial``, ``vectors``, ``descent_x2``, ``minima``), ``benchmark`` →
:class:`BenchmarkConfig`, ``report`` → :class:`ReportConfig`, ``fits`` → :class:`FitsConfig`.

No default lives here: every field is required, and the values are exactly the validated ones
(YAML lists become tuples, nothing else is converted: ``as_dict`` gives the validated dict back).
Building from a dict refuses unknown keys and missing ones, and names every such field by its
dotted path in one :class:`~descent.config.ConfigError`. A test checks that the fields equal the
schemas' properties, recursively. :func:`default_section` builds a section from the schema's
defaults (tests, scripts).

Left as mappings on purpose: ``datasets`` (each kind has its own fields: a spec is read by its
generator, :mod:`descent.datasets`), and in ``fits`` the ``settings``, ``variants``,
``overrides`` and ``predict`` that :mod:`descent.config.fits` resolves into one typed
:class:`~descent.config.fits.FitSettings` per fit.

Light on purpose (no pandas, no torch): the rules import it while Snakemake parses.
"""

from __future__ import annotations

import copy
import dataclasses
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Self, Union

from descent.config import ConfigError
from descent.config.schema import fill_defaults

__all__ = [
    "BenchmarkConfig",
    "BinomialConfig",
    "Config",
    "DescentX2Config",
    "FitsConfig",
    "LessonsConfig",
    "LossSurfaceConfig",
    "MinimaConfig",
    "ReportConfig",
    "SectionBase",
    "VectorsConfig",
    "default_section",
]


def _is_dataclass_type(tp: Any) -> bool:
    return isinstance(tp, type) and dataclasses.is_dataclass(tp)


def _convert(tp: Any, value: Any, where: str, problems: list[str]) -> Any:
    """``value`` as type ``tp`` wants it: a nested section from its dict, a tuple from a list, a
    copy of a mapping; anything else unchanged (the schema has checked the types)."""
    origin = typing.get_origin(tp)
    if _is_dataclass_type(tp):
        if isinstance(value, Mapping):
            return tp._build(value, where, problems)
        problems.append(f"{where}: expected a mapping, got {value!r}")
        return value
    if origin is Mapping:  # kept as given, copied so that the frozen config shares nothing mutable
        return copy.deepcopy(dict(value)) if isinstance(value, Mapping) else value
    if origin in (Union, types.UnionType):
        for arg in typing.get_args(tp):
            if arg is not type(None) and (_is_dataclass_type(arg) or typing.get_origin(arg) is tuple):
                if value is not None:
                    return _convert(arg, value, where, problems)
        return value
    if origin is tuple and isinstance(value, (list, tuple)):
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{where}[{i}]", problems) for i, v in enumerate(value))
        return tuple(_convert(a, v, f"{where}[{i}]", problems) for i, (a, v) in enumerate(zip(args, value)))
    return value


def _plain(value: Any) -> Any:
    """The validated (JSON-like) form of a field value: sections to dicts, tuples to lists."""
    if isinstance(value, SectionBase):
        return value.as_dict()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


class SectionBase:
    """What every config dataclass shares: :meth:`from_dict`, :meth:`as_dict`, :meth:`coerce`.

    ``where`` is the dotted path of the section in the config (for messages).
    """

    where: ClassVar[str] = ""

    @classmethod
    def _build(cls, values: Mapping[str, Any], where: str, problems: list[str]) -> Self:
        hints = typing.get_type_hints(cls)
        names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        prefix = f"{where}." if where else ""
        for key in sorted(set(values) - set(names), key=str):
            problems.append(f"{prefix}{key}: unknown field (known: {', '.join(names)})")
        missing = [name for name in names if name not in values]
        for name in missing:
            problems.append(f"{prefix}{name}: missing (the schema's default is filled in by validate_config)")
        if missing:
            return None  # type: ignore[return-value]
        data = {name: _convert(hints[name], values[name], f"{prefix}{name}", problems) for name in names}
        return cls(**data)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> Self:
        """From a schema-filled dict (every field present, no other key); raises
        :class:`~descent.config.ConfigError` naming every unknown or missing field at once."""
        if not isinstance(values, Mapping):
            raise ConfigError(f"invalid configuration:\n  {cls.where or 'config'}: expected a mapping, got {values!r}")
        problems: list[str] = []
        built = cls._build(values, cls.where, problems)
        if problems:
            raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
        return built

    @classmethod
    def coerce(cls, value: Self | Mapping[str, Any]) -> Self:
        """``value`` itself when already typed, else :meth:`from_dict` of it."""
        return value if isinstance(value, cls) else cls.from_dict(value)  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, Any]:
        """The validated dict this was built from (lists, nested dicts), JSON-ready."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- lessons


@dataclasses.dataclass(frozen=True)
class BinomialConfig(SectionBase):
    """``lessons.binomial``: random guessing on true/false tests (schemas/lessons.schema.yaml)."""

    where: ClassVar[str] = "lessons.binomial"
    n_questions: int
    n_tests: int
    p: float
    seed: int
    z: float
    loop_check_tests: int
    long_test_questions: int
    long_test_seed: int


@dataclasses.dataclass(frozen=True)
class VectorsConfig(SectionBase):
    """``lessons.vectors``: the worked vector examples."""

    where: ClassVar[str] = "lessons.vectors"
    unit_examples: tuple[tuple[float, ...], ...]
    dot_example: tuple[tuple[float, ...], ...]
    n_inputs: int
    seed: int


@dataclasses.dataclass(frozen=True)
class DescentX2Config(SectionBase):
    """``lessons.descent_x2``: gradient descent on ``y = x²``."""

    where: ClassVar[str] = "lessons.descent_x2"
    x0: float
    step_sizes: tuple[float, ...]
    tolerance: float
    max_iterations: int
    divergence_bound: float


@dataclasses.dataclass(frozen=True)
class MinimaConfig(SectionBase):
    """``lessons.minima``: local against global minima, from random starts."""

    where: ClassVar[str] = "lessons.minima"
    critical_points: tuple[float, ...]
    start_range: tuple[float, ...]
    n_starts: int
    seed: int
    step_size: float
    tolerance: float
    max_iterations: int
    divergence_bound: float
    match_tolerance: float


@dataclasses.dataclass(frozen=True)
class LessonsConfig(SectionBase):
    """``lessons``: Lesson 0's foundation experiments (schemas/lessons.schema.yaml)."""

    where: ClassVar[str] = "lessons"
    binomial: BinomialConfig
    vectors: VectorsConfig
    descent_x2: DescentX2Config
    minima: MinimaConfig


# ----------------------------------------------------------------------------- benchmark, report


@dataclasses.dataclass(frozen=True)
class BenchmarkConfig(SectionBase):
    """``benchmark``: the matmul benchmark (schemas/benchmark.schema.yaml)."""

    where: ClassVar[str] = "benchmark"
    sizes: tuple[int, ...]
    dtypes: tuple[str, ...]
    backends: tuple[str, ...]
    naive_max_n: int
    naive_time_budget_s: float
    lesson_n: int | None
    lesson_time_budget_s: float
    warmup: int
    repeats: int
    min_sample_s: float
    seed: int
    tolerance_factor: float
    cpu_clock_ghz: float | None


@dataclasses.dataclass(frozen=True)
class ReportConfig(SectionBase):
    """``report``: what the comparison page shows and how its figures are drawn
    (schemas/report.schema.yaml)."""

    where: ClassVar[str] = "report"
    title: str
    benchmark: bool
    lessons: bool
    interactive: bool
    dpi: int
    max_points: int
    max_path_points: int
    slider_steps: int
    best_rtol: float
    templates: str | None


# ----------------------------------------------------------------------------- fits, the whole config


@dataclasses.dataclass(frozen=True)
class LossSurfaceConfig(SectionBase):
    """``fits.loss_surface``: the MSE grid of single-feature datasets."""

    where: ClassVar[str] = "fits.loss_surface"
    grid_size: int
    margin: float


@dataclasses.dataclass(frozen=True)
class FitsConfig(SectionBase):
    """``fits`` (schemas/fits.schema.yaml). ``settings``, ``variants``, ``overrides`` and
    ``predict`` stay mappings: :mod:`descent.config.fits` resolves them into one typed
    :class:`~descent.config.fits.FitSettings` per fit."""

    where: ClassVar[str] = "fits"
    plugins: tuple[str, ...]
    methods: tuple[str, ...]
    scalings: tuple[str, ...]
    settings: Mapping[str, Any]
    jobs: str
    repetitions: int
    timing_repetitions: int
    accuracy_targets: tuple[float, ...]
    variants: Mapping[str, Mapping[str, Any]]
    overrides: tuple[Mapping[str, Any], ...]
    predict: Mapping[str, Any]
    loss_surface: LossSurfaceConfig


@dataclasses.dataclass(frozen=True)
class Config(SectionBase):
    """The whole validated configuration (schemas/config.schema.yaml).

    ``datasets`` stays a mapping of name to spec: each generator kind has its own fields (see
    :mod:`descent.datasets`, :func:`descent.config.feature_names`).
    """

    where: ClassVar[str] = ""
    memory_budget_mb: int | None
    datasets: Mapping[str, Mapping[str, Any]]
    fits: FitsConfig
    benchmark: BenchmarkConfig
    lessons: LessonsConfig
    report: ReportConfig


#: The section classes by their top-level name (the schema file of each: ``schemas/<name>.schema.yaml``).
SECTION_TYPES: dict[str, type[SectionBase]] = {
    "fits": FitsConfig,
    "benchmark": BenchmarkConfig,
    "lessons": LessonsConfig,
    "report": ReportConfig,
}


def default_section(schema_dir: str | Path, section: str, **changes: Any) -> Any:
    """Section ``section`` (``lessons``, ``benchmark``, ``report``, ``fits``) with the defaults of
    ``schemas/<section>.schema.yaml`` (filled in by validation, never restated) and ``changes``
    applied before validation (nested sections as dicts, e.g. ``binomial={"n_tests": 100}``)."""
    values: dict[str, Any] = dict(changes)
    fill_defaults(values, Path(schema_dir) / f"{section}.schema.yaml")
    return SECTION_TYPES[section].from_dict(values)
