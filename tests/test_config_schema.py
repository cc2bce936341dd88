"""The config schema and cross-field checks reject bad configs, naming the field."""

from __future__ import annotations

import copy

import pytest
import yaml

from conftest import ROOT, TEST_CONFIG
from descent.config import ConfigError
from descent.validation import check_config, validate_config

SCHEMAS = ROOT / "schemas"


def _validated(config: dict) -> dict:
    config = copy.deepcopy(config)
    validate_config(config, SCHEMAS)
    check_config(config)
    return config


@pytest.mark.parametrize("path", [ROOT / "config.yaml", TEST_CONFIG], ids=["default", "test"])
def test_shipped_configs_are_valid(path):
    _validated(yaml.safe_load(path.read_text()))


def test_defaults_are_filled_in(test_config):
    config = _validated(test_config)
    assert config["datasets"]["multifeature"]["dtype"] == "float64"
    assert config["datasets"]["multifeature"]["offset_factor"] == 3.0


def _minimal() -> dict:
    """A config of one dataset (the .test config's ``paris_rent``) and no other section."""
    return {"datasets": {"paris_rent": yaml.safe_load(TEST_CONFIG.read_text())["datasets"]["paris_rent"]}}


@pytest.mark.parametrize("path", [ROOT / "config.yaml", TEST_CONFIG, None], ids=["default", "test", "minimal"])
def test_defaults_are_those_snakemake_validate_fills_in(path):
    # descent.config.schema fills defaults with its own cached validators; snakemake.utils.validate
    # (the reference) must fill in exactly the same values, section by section.
    from snakemake.utils import validate

    from descent.validation import SECTIONS

    config = yaml.safe_load(path.read_text()) if path else _minimal()
    ours, reference = copy.deepcopy(config), copy.deepcopy(config)
    validate_config(ours, SCHEMAS)
    validate(reference, str(SCHEMAS / "config.schema.yaml"))
    for section in SECTIONS:
        validate(reference.setdefault(section, {}), str(SCHEMAS / f"{section}.schema.yaml"))
    assert ours == reference


def test_filled_in_defaults_are_copies_of_the_schemas():
    # The parsed schemas live for the whole process: changing one filled-in config must not
    # change the defaults that the next config gets.
    first = validate_config(_minimal(), SCHEMAS)
    config = _minimal()
    validate_config(config, SCHEMAS)
    config["fits"]["methods"].clear()
    config["fits"]["settings"]["init"]["kind"] = "changed"
    assert validate_config(_minimal(), SCHEMAS) == first


def _error_text(exc: BaseException) -> str:
    parts = [str(exc)]
    parts += [str(a) for a in getattr(exc, "args", ())]
    if exc.__cause__ is not None:
        parts.append(str(exc.__cause__))
    return "\n".join(parts)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda c: c["datasets"]["paris_rent"].update(kind="wavelet"), "wavelet"),
        (lambda c: c["datasets"]["paris_rent"].update(n=-5), "-5"),
        (lambda c: c["datasets"]["paris_rent"].pop("seed"), "'seed' is a required property"),
        (lambda c: c["datasets"]["paris_rent"].update(n="fifty"), "'fifty' is not of type 'integer'"),
        (lambda c: c["datasets"]["lesson_linear"].update(noise_std=-1), "-1"),
        (lambda c: c["datasets"]["lesson_linear"].update(colour="red"), "colour"),
        (lambda c: c.update(datasets={}), "should be non-empty"),
        (lambda c: c.update(unknown_section={}), "unknown_section"),
    ],
    ids=[
        "unknown-kind",
        "negative-n",
        "missing-seed",
        "wrong-type",
        "negative-noise",
        "unknown-key",
        "no-datasets",
        "unknown-section",
    ],
)
def test_schema_rejects_bad_values_naming_the_field(test_config, mutate, expected):
    mutate(test_config)
    with pytest.raises(ConfigError) as info:
        _validated(test_config)
    assert expected in _error_text(info.value)


def test_every_section_is_reported_at_once(test_config):
    # A dataset error must not hide a fits, lessons, benchmark or report error (nor the reverse).
    test_config["datasets"]["paris_rent"]["n"] = "fifty"
    test_config["fits"]["settings"] = {"lr": -1}
    test_config["lessons"]["binomial"]["p"] = 3
    test_config["benchmark"]["repeats"] = 0
    test_config["report"] = {"dpi": "high"}
    with pytest.raises(ConfigError) as info:
        _validated(test_config)
    message = str(info.value)
    for field in ("datasets.paris_rent.n", "fits.settings.lr", "lessons.binomial.p", "benchmark.repeats", "report.dpi"):
        assert field in message, message


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda c: c["datasets"]["paris_rent"].update(true_weights=[1, 2]), "datasets.paris_rent.true_weights"),
        (lambda c: c["datasets"]["paris_rent"].update(low=100, high=20), "datasets.paris_rent.high"),
        (lambda c: c["datasets"]["lesson_linear"].update(target="x"), "datasets.lesson_linear.target"),
        (lambda c: c["datasets"]["multifeature"].update(scale_range=[10.0, 1.0]), "datasets.multifeature.scale_range"),
    ],
)
def test_cross_field_problems_name_the_field(test_config, mutate, field):
    mutate(test_config)
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        _validated(test_config)
