"""Tests of fit selection and settings resolution."""

from __future__ import annotations

import pytest
import yaml

from conftest import ROOT
from descent.config.fits import FitJob, fit_jobs, fits_problems, resolve_settings
from descent.validation import validate_config


@pytest.fixture
def config(test_config):
    validate_config(test_config, ROOT / "schemas")
    return test_config


def test_every_dataset_scaling_method_is_a_job(config):
    jobs = fit_jobs(config)
    base = [j for j in jobs if j.method in config["fits"]["methods"]]
    assert len(base) == len(config["datasets"]) * 2 * 5
    assert len(set(jobs)) == len(jobs)


def test_settings_resolve_defaults_then_variant_then_overrides(config):
    config["fits"]["variants"] = {"sgd": {"method": "manual_gd", "settings": {"batch_size": 1, "lr": 0.2}}}
    config["fits"]["overrides"] = [
        {"method": "sgd", "set": {"lr": 0.3}},
        {"dataset": "paris_rent", "scaling": "raw", "method": ["sgd"], "set": {"iterations": 7}, "why": "test"},
    ]
    settings = resolve_settings(config, FitJob("paris_rent", "raw", "sgd"))
    assert (settings["method"], settings["batch_size"], settings["lr"], settings["iterations"]) == (
        "manual_gd",
        1,
        0.3,
        7,
    )
    assert settings["applied"] == ["variants.sgd", "overrides[0]", "overrides[1]: test"]
    other = resolve_settings(config, FitJob("lesson_linear", "raw", "sgd"))
    assert other["iterations"] == config["fits"]["settings"]["iterations"]


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda f: f.update(overrides=[{"dataset": "nope", "set": {}}]),
            "fits.overrides[0].dataset: unknown dataset 'nope'",
        ),
        (
            lambda f: f.update(overrides=[{"method": "newton", "set": {}}]),
            "fits.overrides[0].method: unknown method 'newton'",
        ),
        (lambda f: f["settings"].update(batch_size=10**9), "batch_size: 1000000000 is larger than the dataset's n="),
        (
            lambda f: f.update(variants={"lstsq": {"method": "manual_gd"}}),
            "fits.variants.lstsq: a variant cannot reuse",
        ),
        (
            lambda f: f.update(predict={"paris_rent": [[1, 2]]}),
            "fits.predict.paris_rent[0]: 2 value(s) for 1 feature(s)",
        ),
        (
            lambda f: f["settings"].update(init={"kind": "numpy_legacy_after_data"}),
            "needs a numpy_legacy_uniform dataset",
        ),
    ],
)
def test_cross_field_problems_are_named(config, mutate, expected):
    mutate(config["fits"])
    assert any(expected in p for p in fits_problems(config)), fits_problems(config)


def test_the_schema_follows_the_method_registry():
    from descent.config.schema import with_methods
    from descent.fitting.registry import closed_form_methods, iterative_methods, methods

    registry = methods()
    schema = with_methods(yaml.safe_load((ROOT / "schemas" / "fits.schema.yaml").read_text()), registry)
    assert schema["$defs"]["method"]["enum"] == list(registry)
    assert set(iterative_methods()) | set(closed_form_methods()) == set(registry)
    properties = schema["$defs"]["settings_fields"]["properties"]
    for name, method in registry.items():
        assert method.name == name and method.description and method.colour.startswith("#")
        assert (method.engine is not None) == (name in iterative_methods())
        for option_name, option in method.options.items():  # each option is a typed schema entry
            entry = properties[option_name]
            assert option.choices is None or entry["enum"] == list(option.choices)
            assert option.choices is not None or entry["type"] in (option.type, list(option.types))


def test_typed_settings_cover_exactly_the_schema_fields(config):
    from dataclasses import fields

    from descent.config.fits import fit_settings
    from descent.fitting.registry import get_method
    from descent.fitting.settings import FitSettings

    schema = yaml.safe_load((ROOT / "schemas" / "fits.schema.yaml").read_text())
    schema_fields = set(schema["$defs"]["settings_fields"]["properties"])
    bookkeeping = {"method", "options", "applied", "fit", "repetition"}
    assert {f.name for f in fields(FitSettings)} == schema_fields | bookkeeping
    for job in fit_jobs(config):
        settings = fit_settings(config, job)  # every resolved fit types cleanly, defaults from the schema
        method = get_method(settings.method)
        assert set(settings.options) == set(method.options)  # its own options, no other method's
        assert method.settings(settings.as_dict()) == settings
    with pytest.raises(ValueError, match="missing.*tolerance"):
        FitSettings.from_dict({k: v for k, v in settings.as_dict().items() if k != "tolerance"}, frozenset())


def test_random_fits_are_repeated_over_seeds_one_job_each(config):
    from descent.config.fits import configured_fits, job_origin, resolve_settings

    config["fits"]["repetitions"], config["fits"]["timing_repetitions"] = 4, 2
    jobs = fit_jobs(config)
    for fit in configured_fits(config):
        settings = resolve_settings(config, fit)
        runs = [job for job in jobs if job_origin(config, job)[0] == fit]
        assert len(runs) == (4 if settings["batch_size"] is not None else 2)
        seeds = [resolve_settings(config, job)["shuffle_seed"] for job in runs]
        assert seeds == [settings["shuffle_seed"] + r for r in range(len(runs))]
        assert [resolve_settings(config, job)["repetition"] for job in runs] == list(range(len(runs)))
    assert len({(j.dataset, j.scaling, j.method) for j in jobs}) == len(jobs)  # every job its own files


def test_repetition_summary_medians_ranges_and_unstable_timings():
    import pandas as pd

    from descent.fitting.accuracy import repetition_summary

    rows = [
        {
            "dataset": "d",
            "scaling": "raw",
            "fit": "sgd",
            "epsilon": 1e-2,
            "kind": "iterative",
            "reached": True,
            "iterations": it,
            "seconds": sec,
            "relative_gap": gap,
        }
        for it, sec, gap in ((10, 1.0, 1e-3), (12, 1.0, 2e-3), (14, 2.0, 3e-3), (16, 1.0, 4e-3))
    ]
    rows.append({**rows[0], "reached": False, "iterations": None, "seconds": None, "relative_gap": 0.5})
    summary = repetition_summary(pd.DataFrame(rows)).iloc[0]
    assert (summary["runs"], summary["reached_runs"]) == (5, 4)
    assert (summary["iterations_median"], summary["iterations_min"], summary["iterations_max"]) == (13, 10, 16)
    assert summary["seconds_median"] == 1.0 and summary["seconds_iqr"] == 0.25 and summary["unstable"]
    assert summary["relative_gap_max"] == 0.5
