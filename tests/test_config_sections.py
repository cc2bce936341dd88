"""The typed configuration (descent.config.sections): the dataclasses mirror the schemas field for
field (recursively), hold no default of their own, are built once from the schema-filled config
(validate_config returns them) and give the validated dict back."""

from __future__ import annotations

import copy
import dataclasses
import typing
from typing import Any

import pytest
import yaml

from conftest import ROOT, TEST_CONFIG
from descent.config import ConfigError
from descent.config.sections import (
    SECTION_TYPES,
    BenchmarkConfig,
    Config,
    LessonsConfig,
    ReportConfig,
    SectionBase,
    default_section,
)
from descent.validation import validate_config

SCHEMAS = ROOT / "schemas"
CONFIGS = {"default": ROOT / "config.yaml", "test": TEST_CONFIG}


def _schema(name: str) -> dict[str, Any]:
    return yaml.safe_load((SCHEMAS / f"{name}.schema.yaml").read_text())


def _section_type(tp: Any) -> type[SectionBase] | None:
    """The section class a field holds (``X`` or ``X | None``), else None."""
    for candidate in (tp, *typing.get_args(tp)):
        if isinstance(candidate, type) and issubclass(candidate, SectionBase):
            return candidate
    return None


def _field_mismatches(cls: type[SectionBase], schema: dict[str, Any], where: str) -> list[str]:
    """Where the dataclass ``cls`` and the schema object ``schema`` disagree, recursively: the same
    property names in the same order, a nested dataclass exactly where the schema nests an object
    with properties of its own."""
    fields = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    properties = list(schema.get("properties", {}))
    if fields != properties:
        return [f"{where or 'config'}: fields {fields} != schema properties {properties}"]
    hints = typing.get_type_hints(cls)
    problems = []
    for name in fields:
        nested, prop = _section_type(hints[name]), schema["properties"][name]
        if nested is not None:
            problems += _field_mismatches(nested, prop, f"{where}.{name}".lstrip("."))
        elif prop.get("type") == "object" and "properties" in prop:
            problems.append(f"{where}.{name}: the schema nests an object, the dataclass does not")
    return problems


@pytest.mark.parametrize("section", ["lessons", "benchmark", "report", "fits"])
def test_section_fields_equal_the_schema_properties_recursively(section):
    assert _field_mismatches(SECTION_TYPES[section], _schema(section), section) == []


def test_config_fields_equal_the_top_level_schema_properties():
    """The top level (each section has its own schema file, checked above)."""
    assert [f.name for f in dataclasses.fields(Config)] == list(_schema("config")["properties"])
    hints = typing.get_type_hints(Config)
    assert {name: hints[name] for name in SECTION_TYPES} == SECTION_TYPES


def _all_section_types(cls: type[SectionBase] = Config) -> list[type[SectionBase]]:
    found = [cls]
    for tp in typing.get_type_hints(cls).values():
        nested = _section_type(tp)
        if nested is not None:
            found += _all_section_types(nested)
    return found


def test_no_default_is_restated_and_every_section_is_frozen():
    """Defaults live in the schemas only (validate_config fills them in): no field has one here."""
    classes = _all_section_types()
    assert {c.__name__ for c in classes} >= {"BinomialConfig", "MinimaConfig", "LossSurfaceConfig"}
    for cls in classes:
        params = cls.__dataclass_params__  # type: ignore[attr-defined]
        assert params.frozen, cls
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            assert f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING, (cls, f.name)


@pytest.mark.parametrize("name", list(CONFIGS))
def test_built_once_from_the_validated_config_and_round_trips(name):
    raw = yaml.safe_load(CONFIGS[name].read_text())
    config = copy.deepcopy(raw)
    typed = validate_config(config, SCHEMAS)
    assert isinstance(typed, Config)
    assert typed.as_dict() == config  # exactly the validated (schema-filled) dict
    assert Config.from_dict(config) == typed
    for section, cls in SECTION_TYPES.items():
        part = getattr(typed, section)
        assert isinstance(part, cls) and cls.from_dict(config[section]) == part
        assert part.as_dict() == config[section]
    assert typed.datasets == config["datasets"]  # dataset specs stay mappings (kinds differ)
    with pytest.raises(dataclasses.FrozenInstanceError):
        typed.report.dpi = 1  # type: ignore[misc]


def test_typed_values_are_the_validated_ones():
    typed = validate_config(yaml.safe_load(TEST_CONFIG.read_text()), SCHEMAS)
    assert typed.lessons.binomial.n_tests == 20000 and typed.lessons.binomial.n_questions == 10
    assert typed.lessons.minima.n_starts == 40 and typed.lessons.minima.critical_points == (-2.0, -1.0, 0.0, 1.0, 2.5)
    assert typed.lessons.vectors.unit_examples == ((2, 4, 6), (3, 6, 9))
    assert typed.benchmark.sizes == (16, 32) and typed.benchmark.lesson_n == 24
    assert typed.benchmark.cpu_clock_ghz is None
    assert typed.report.benchmark is True and typed.report.dpi == 110
    assert typed.fits.scalings == ("raw", "standardized") and typed.fits.loss_surface.grid_size == 50
    assert typed.memory_budget_mb is None
    # Nothing is converted but lists (to tuples): an integer stays an integer, as in the JSON outputs.
    assert type(typed.lessons.binomial.z) is int and typed.lessons.binomial.z == 6


def test_unknown_and_missing_fields_are_refused_all_at_once():
    config = yaml.safe_load(TEST_CONFIG.read_text())
    validate_config(config, SCHEMAS)
    config["lessons"]["binomial"]["colour"] = "red"
    del config["lessons"]["minima"]["seed"]
    config["report"]["size"] = 3
    del config["benchmark"]["sizes"]
    with pytest.raises(ConfigError) as info:
        Config.from_dict(config)
    message = str(info.value)
    for field in (
        "lessons.binomial.colour: unknown field",
        "lessons.minima.seed: missing",
        "report.size: unknown field",
        "benchmark.sizes: missing",
    ):
        assert field in message, message
    with pytest.raises(ConfigError, match=r"report\.dpi: missing"):
        ReportConfig.from_dict({k: v for k, v in config["report"].items() if k not in ("dpi", "size")})


def test_coerce_takes_the_typed_section_or_its_dict():
    section = default_section(SCHEMAS, "benchmark")
    assert BenchmarkConfig.coerce(section) is section
    assert BenchmarkConfig.coerce(section.as_dict()) == section
    with pytest.raises(ConfigError, match="expected a mapping"):
        BenchmarkConfig.from_dict([1, 2])  # type: ignore[arg-type]


def test_default_section_reads_the_schema_defaults():
    lessons = default_section(SCHEMAS, "lessons", binomial={"n_tests": 100})
    assert isinstance(lessons, LessonsConfig)
    assert lessons.binomial.n_tests == 100 and lessons.binomial.n_questions == 10  # the lesson's 10, from the schema
    assert lessons.descent_x2.step_sizes == (0.25, 10.0)
    report = default_section(SCHEMAS, "report", dpi=50)
    assert report.dpi == 50 and report.best_rtol == _schema("report")["properties"]["best_rtol"]["default"]
