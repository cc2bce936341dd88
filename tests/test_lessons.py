"""Lesson 0's foundations: binomial guessing, vectors, descent on x², minima and restarts."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT, copy_run, run_snakemake
from descent.config import ConfigError
from descent.config.sections import LessonsConfig, default_section
from descent.lessons import check_lessons_config, lessons_problems
from descent.lessons.binomial import (
    binomial_experiment,
    binomial_fourth_central_moment,
    binomial_pmf,
    false_alarm_probability,
    histogram_moments,
    long_test,
    simulate_histogram,
    simulate_scores,
    simulate_scores_loop,
)
from descent.lessons.descent1d import gradient_descent_1d
from descent.lessons.descent_x2 import descent_x2_experiment, square_gradient
from descent.lessons.minima import CriticalPointPolynomial, minima_experiment
from descent.lessons.vectors import (
    dot_by_hand,
    linear_model_example,
    unit_vector,
    vectors_experiment,
    vectors_table,
)
from descent.validation import validate_config

DEFAULT_CONFIG = yaml.safe_load((ROOT / "config.yaml").read_text())
#: The default ``lessons`` section, typed (descent.config.sections.LessonsConfig).
LESSONS = default_section(ROOT / "schemas", "lessons", **copy.deepcopy(DEFAULT_CONFIG["lessons"]))

# Small but faithful settings for end-to-end runs (seconds, not the lesson's 1,000,000 tests).
SMALL_LESSONS = {
    "binomial": {"n_tests": 20000, "loop_check_tests": 500, "long_test_questions": 2000},
    "minima": {"n_starts": 40},
}


def _validated(config: dict) -> dict:
    config = copy.deepcopy(config)
    validate_config(config, ROOT / "schemas")
    check_lessons_config(config)
    return config


# --- configuration -----------------------------------------------------------------------------


def test_default_config_section_equals_schema_defaults():
    """config.yaml spells out exactly the schema defaults (the lesson's values)."""
    filled = _validated({"datasets": DEFAULT_CONFIG["datasets"], "lessons": {}})
    assert filled["lessons"] == _validated(DEFAULT_CONFIG)["lessons"]
    assert filled["lessons"]["binomial"]["n_tests"] == 1_000_000
    assert filled["lessons"]["descent_x2"]["step_sizes"] == [0.25, 10.0]
    assert filled["lessons"]["descent_x2"]["divergence_bound"] == 1e6


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda s: s["binomial"].update(p=1.5), "1.5"),
        (lambda s: s["binomial"].update(n_tests=0), "0"),
        (lambda s: s["descent_x2"].update(step_sizes=[-0.1]), "-0.1"),
        (lambda s: s["minima"].update(colour="red"), "colour"),
        (lambda s: s["minima"].update(critical_points=[0.0]), "too short"),
    ],
    ids=["p-above-1", "no-tests", "negative-step", "unknown-key", "too-few-critical-points"],
)
def test_schema_rejects_bad_values(mutate, expected):
    config = copy.deepcopy(DEFAULT_CONFIG)
    mutate(config["lessons"])
    with pytest.raises(ConfigError) as info:
        _validated(config)
    assert expected in "\n".join(str(a) for a in info.value.args) + str(info.value)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda s: s["binomial"].update(n_tests=1000, loop_check_tests=2000), "lessons.binomial.loop_check_tests"),
        (
            lambda s: s["binomial"].update(n_questions=100000, loop_check_tests=1000),
            "lessons.binomial.loop_check_tests",
        ),
        (lambda s: s["vectors"].update(unit_examples=[[1, 2], [1, 2, 3]]), "lessons.vectors.unit_examples"),
        (lambda s: s["vectors"].update(unit_examples=[[0, 0, 0]]), "lessons.vectors.unit_examples[0]"),
        (lambda s: s["vectors"].update(dot_example=[[1, 2], [1, 2, 3]]), "lessons.vectors.dot_example"),
        (lambda s: s["descent_x2"].update(x0=5.0, divergence_bound=1.0), "lessons.descent_x2.divergence_bound"),
        (lambda s: s["minima"].update(critical_points=[0.0, -1.0, 2.0]), "lessons.minima.critical_points"),
        (lambda s: s["minima"].update(critical_points=[0.0, 1.0, 2.0, 3.0]), "lessons.minima.critical_points"),
        (lambda s: s["minima"].update(start_range=[3.0, -3.0]), "lessons.minima.start_range"),
        (lambda s: s["minima"].update(divergence_bound=2.0), "lessons.minima.divergence_bound"),
    ],
)
def test_cross_field_problems_name_the_field(mutate, field):
    config = copy.deepcopy(DEFAULT_CONFIG)
    mutate(config["lessons"])
    with pytest.raises(ConfigError, match=field.replace(".", r"\.").replace("[", r"\[")):
        _validated(config)


def test_default_lessons_have_no_problems():
    assert lessons_problems(_validated(DEFAULT_CONFIG)["lessons"]) == []
    assert lessons_problems(LESSONS) == []


def test_the_experiments_take_the_typed_section_or_its_dict():
    """The rules pass each job its typed section as a dict; the experiments accept both forms."""
    assert isinstance(LESSONS, LessonsConfig)
    as_dict = LESSONS.minima.as_dict()
    assert minima_experiment(replace(LESSONS.minima, n_starts=5)).summary == (
        minima_experiment({**as_dict, "n_starts": 5}).summary
    )
    with pytest.raises(ConfigError, match=r"lessons\.minima\.colour: unknown field"):
        minima_experiment({**as_dict, "colour": "red"})


def test_lessons_package_is_light_at_parse_time():
    """rules/lessons.smk imports descent.lessons while Snakemake parses: nothing heavy."""
    import subprocess
    import sys

    code = "import sys, descent.lessons; print([m for m in ('numpy', 'pandas', 'matplotlib') if m in sys.modules])"
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    )


# --- binomial ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "tests", "questions", "p"), [(0, 300, 10, 0.5), (7, 50, 13, 0.3), (3, 1, 1, 0.5)])
def test_vectorised_simulation_equals_the_per_question_loop(seed, tests, questions, p):
    looped = simulate_scores_loop(seed, tests, questions, p)
    assert np.array_equal(simulate_scores(seed, tests, questions, p), looped)
    expected = np.bincount(looped, minlength=questions + 1)
    assert np.array_equal(simulate_histogram(seed, tests, questions, p), expected)
    # Chunking (here 7 draws per chunk: whole tests only) does not change the stream.
    assert np.array_equal(simulate_histogram(seed, tests, questions, p, chunk_draws=7), expected)


def test_literal_lesson_loop_matches():
    """The reference loop really is the per-question loop with one generator, test by test."""
    rng = np.random.default_rng(11)
    literal = [sum(1 for _ in range(10) if rng.random() < 0.5) for _ in range(100)]
    assert simulate_scores(11, 100, 10, 0.5).tolist() == literal


def test_different_seeds_give_different_histograms():
    assert not np.array_equal(simulate_histogram(0, 2000, 10, 0.5), simulate_histogram(1, 2000, 10, 0.5))


def test_binomial_pmf_is_exact():
    pmf = binomial_pmf(10, 0.5)
    assert pmf.tolist() == [math.comb(10, k) / 1024 for k in range(11)]
    assert math.isclose(binomial_pmf(7, 0.3).sum(), 1.0, rel_tol=1e-15)


def test_fourth_central_moment_matches_the_pmf():
    for n, p in [(10, 0.5), (7, 0.3), (1, 0.9)]:
        k = np.arange(n + 1)
        assert math.isclose(
            binomial_fourth_central_moment(n, p), float(((k - n * p) ** 4 * binomial_pmf(n, p)).sum()), rel_tol=1e-12
        )


def test_histogram_moments_are_exact():
    mean, variance = histogram_moments(np.array([1, 0, 2]))  # scores 0, 2, 2
    assert mean == pytest.approx(4 / 3) and variance == pytest.approx(float(np.var([0, 2, 2], ddof=1)))


def test_false_alarm_probability():
    assert false_alarm_probability(1.959963984540054) == pytest.approx(0.05)
    assert 1e-9 < false_alarm_probability(6) < 3e-9


def test_binomial_mean_and_variance_within_statistical_tolerance():
    n, p, z, tests = 10, 0.5, 6, 200_000
    result = binomial_experiment(simulate_histogram(0, tests, n, p), n, p, z)
    s = result.summary
    assert s["expected_mean_correct"] == 5.0 and s["expected_variance_correct"] == 2.5
    # The tolerance is z standard errors, derived from the binomial model and recorded.
    assert s["tolerance"]["mean_correct"] == pytest.approx(z * math.sqrt(2.5 / tests))
    assert s["tolerance"]["variance_correct"] == pytest.approx(z * math.sqrt((17.5 - 6.25) / tests), rel=1e-4)
    assert abs(s["mean_correct"] - 5.0) <= s["tolerance"]["mean_correct"]
    assert abs(s["variance_correct"] - 2.5) <= s["tolerance"]["variance_correct"]
    assert s["mean_within_tolerance"] and s["variance_within_tolerance"] and s["histogram_within_tolerance"]
    table = result.table
    assert table["observed_count"].sum() == tests
    assert table["exact_probability"].tolist() == binomial_pmf(n, p).tolist()
    assert table["within_tolerance"].all()


def test_binomial_tolerance_catches_a_wrong_model():
    """Answers right 55% of the time are flagged when compared with p = 0.5."""
    histogram = simulate_histogram(0, 100_000, 10, 0.55)
    s = binomial_experiment(histogram, 10, 0.5, 6).summary
    assert not s["mean_within_tolerance"] and not s["histogram_within_tolerance"]


def test_long_test():
    result = long_test(1, 10_000, 0.5, 6)
    s = result.summary
    rng = np.random.default_rng(1)
    assert s["n_correct"] == int((rng.random(10_000) < 0.5).sum())
    assert s["se_fraction_correct"] == pytest.approx(0.005)
    assert abs(s["fraction_correct"] - 0.5) <= s["tolerance"] == pytest.approx(0.03)
    assert s["within_tolerance"]
    assert len(result.table) == 10_000
    assert result.table["running_fraction_correct"].iloc[-1] == s["fraction_correct"]


# --- vectors -----------------------------------------------------------------------------------


def test_lesson_vector_examples():
    result = vectors_experiment(LESSONS.vectors)
    assert result["dot_product"]["dot_by_hand"] == 32.0 == result["dot_product"]["dot_numpy"]
    unit = result["unit_vectors"]
    assert unit["coincide"]
    expected = np.array([1, 2, 3]) / math.sqrt(14)
    for u in unit["unit_vectors"]:
        assert np.allclose(u, expected, rtol=0, atol=1e-15)
    assert unit["norms"] == pytest.approx([math.sqrt(56), math.sqrt(126)])
    model = result["linear_model"]
    assert model["weights_with_bias"][-1] == model["bias"] and model["inputs_with_one"][-1] == 1.0
    assert model["output"] == pytest.approx(model["output_folded"], abs=1e-12)
    assert model["output"] == pytest.approx(float(np.dot(model["weights"], model["inputs"]) + model["bias"]))


def test_non_parallel_vectors_do_not_coincide():
    assert not vectors_experiment(replace(LESSONS.vectors, unit_examples=((1, 0), (0, 1))))["unit_vectors"]["coincide"]


def test_vector_helpers():
    assert np.linalg.norm(unit_vector(np.array([3.0, 4.0]))) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        unit_vector(np.zeros(3))
    with pytest.raises(ValueError):
        dot_by_hand([1, 2], [1])
    a, b = linear_model_example(0, 4), linear_model_example(0, 4)
    assert a == b and len(a["weights_with_bias"]) == 5
    assert linear_model_example(1, 4)["weights"] != a["weights"]


def test_vectors_table():
    table = vectors_table(vectors_experiment(LESSONS.vectors))
    assert list(table.columns) == ["example", "quantity", "index", "value"]
    dot = table[(table["example"] == "dot_product") & (table["quantity"] == "dot_numpy")]
    assert dot["value"].tolist() == [32.0] and dot["index"].tolist() == [-1]
    assert len(table[table["quantity"] == "weights_with_bias"]) == LESSONS.vectors.n_inputs + 1


# --- descent on x² -----------------------------------------------------------------------------


def test_descent_x2_lesson_numbers():
    result = descent_x2_experiment(LESSONS.descent_x2)
    small, large = result.summary["runs"]
    assert small["step_size"] == 0.25 and small["first_iterates"][:4] == [-1.0, -0.5, -0.25, -0.125]
    assert small["status"] == "converged" and small["iterations"] == 20 and small["x_final"] == -(2.0**-20)
    assert large["step_size"] == 10.0 and large["first_iterates"][:2] == [-1.0, 19.0]
    assert large["first_iterates"] == [-1.0, 19.0, -361.0, 6859.0, -130321.0]
    assert large["status"] == "diverged" and "divergence bound" in large["reason"]
    assert large["x_final"] == 19.0**5 and abs(large["x_final"]) > 1e6
    paths = result.paths
    assert np.isfinite(paths[["x", "y", "gradient"]].to_numpy()).all()
    assert (paths["y"] == paths["x"] ** 2).all()
    assert paths.groupby("step_size").size().to_dict() == {0.25: 21, 10.0: 6}
    x = paths[paths["step_size"] == 0.25]["x"].to_numpy()
    assert (np.abs(np.diff(x))[:-1] >= 1e-6).all() and abs(x[-1] - x[-2]) < 1e-6  # stopped at the first small step


def test_descent_stops_on_non_finite_without_recording_it():
    run = gradient_descent_1d(square_gradient, -1.0, 10.0, 1e-6, 10_000, math.inf)
    assert run.status == "diverged" and "not finite" in run.reason
    assert all(math.isfinite(x) for x in run.path)
    assert run.iterations == len(run.path)  # the non-finite update was counted, not recorded


def test_descent_max_iterations():
    run = gradient_descent_1d(square_gradient, -1.0, 0.25, 1e-6, 5, 1e6)
    assert run.status == "max_iterations" and run.path == [-1.0, -0.5, -0.25, -0.125, -0.0625, -0.03125]


def test_step_size_one_oscillates_until_the_cap():
    """Step 0.5 jumps straight to 0; step 1 flips sign forever (|1 − 2·1| = 1)."""
    assert gradient_descent_1d(square_gradient, -1.0, 0.5, 1e-6, 100, 1e6).path == [-1.0, 0.0, 0.0]
    run = gradient_descent_1d(square_gradient, -1.0, 1.0, 1e-6, 100, 1e6)
    assert run.status == "max_iterations" and run.path[:3] == [-1.0, 1.0, -1.0]


# --- minima ------------------------------------------------------------------------------------


def test_critical_point_polynomial_is_exact():
    poly = CriticalPointPolynomial.from_critical_points([-2, -1, 0, 1, 2.5])
    assert poly.coefficients == (
        0,
        0,
        Fraction(5, 2),
        Fraction(1, 6),
        Fraction(-3, 2),
        Fraction(-1, 10),
        Fraction(1, 6),
    )
    assert poly.formula() == "x^6/6 - x^5/10 - 3x^4/2 + x^3/6 + 5x^2/2"
    assert poly.minima == (-2.0, 0.0, 2.5) and poly.maxima == (-1.0, 1.0)
    assert [poly.exact_value(c) for c in poly.minima] == [Fraction(-22, 15), 0, Fraction(-3625, 384)]
    assert poly.global_minima == (2.5,)
    for c in poly.critical_points:
        assert poly.gradient(c) == 0.0
    # The float gradient is the derivative of the float value (central difference).
    for x in (-2.7, -0.4, 1.3, 3.1):
        h = 1e-6
        assert poly.gradient(x) == pytest.approx((poly.value(x + h) - poly.value(x - h)) / (2 * h), rel=1e-6)
    # A dense grid finds no value below the exact global minimum.
    grid = np.linspace(-3, 3.5, 20001)
    assert min(poly.value(float(x)) for x in grid) >= float(poly.exact_value(2.5)) - 1e-12


def test_symmetric_polynomial_has_two_global_minima():
    poly = CriticalPointPolynomial.from_critical_points([-2, -1, 0, 1, 2])
    assert poly.global_minima == (-2.0, 2.0)


def test_restarts_find_the_known_global_minimum():
    result = minima_experiment(LESSONS.minima)
    s, starts = result.summary, result.starts
    assert s["global_minimum"]["x"] == [2.5] and s["global_minimum"]["f_exact"] == "-3625/384"
    assert s["best_is_global"] and s["best"]["distance_to_global"] < LESSONS.minima.match_tolerance
    assert s["best"]["f_end"] == pytest.approx(-3625 / 384, abs=1e-9)
    assert {m["x"] for m in s["minima_found"]} == {-2.0, 0.0, 2.5}
    assert 0 < s["fraction_global"] < 1
    assert s["fraction_global"] == pytest.approx(starts["is_global"].mean())
    assert sum(m["starts"] for m in s["minima_found"]) + s["unmatched_starts"] == len(starts) == 200
    # Every start that began between the last maximum and the end of the range, well inside the
    # global minimum's basin, reached it.
    inside = starts[(starts["x_start"] > 1.1) & (starts["x_start"] < 3.0)]
    assert len(inside) > 0 and inside["is_global"].all()
    # Every start below the first maximum went to the leftmost minimum.
    assert (starts[starts["x_start"] < -1.1]["minimum"] == -2.0).all()
    assert np.isfinite(starts[["x_start", "f_start", "x_end", "f_end"]].to_numpy()).all()


def test_stationary_start_at_a_maximum_stops_at_once():
    s = minima_experiment(replace(LESSONS.minima, n_starts=3)).summary
    assert [st["x0"] for st in s["stationary_starts"]] == [-1.0, 1.0]
    for st in s["stationary_starts"]:
        assert st["iterations"] == 1 and st["distance_moved"] == 0.0 and st["x_end"] == st["x0"]
        assert st["status"] == "converged" and st["abs_gradient_at_start"] == 0.0


def test_minima_experiment_is_reproducible_and_seeded():
    a = minima_experiment(replace(LESSONS.minima, n_starts=30))
    b = minima_experiment(replace(LESSONS.minima, n_starts=30))
    c = minima_experiment(replace(LESSONS.minima, n_starts=30, seed=1))
    pd.testing.assert_frame_equal(a.starts, b.starts)
    assert a.summary == b.summary
    assert not np.array_equal(a.starts["x_start"], c.starts["x_start"])


def test_large_step_diverges_and_is_reported():
    s = minima_experiment(replace(LESSONS.minima, n_starts=20, step_size=1.0)).summary
    assert s["status_counts"].get("diverged", 0) > 0
    assert s["unmatched_starts"] >= s["status_counts"]["diverged"]


# --- end to end --------------------------------------------------------------------------------

LESSON_TARGETS = [
    f"results/lessons/{name}"
    for name in (
        "binomial.parquet",
        "binomial.json",
        "binomial_long_test.parquet",
        "binomial_timing.json",
        "binomial.png",
        "binomial.svg",
        "vectors.parquet",
        "vectors.json",
        "descent_x2.parquet",
        "descent_x2.json",
        "descent_x2.png",
        "descent_x2.svg",
        "minima.parquet",
        "minima.json",
        "minima.png",
        "minima.svg",
    )
]


@pytest.mark.workflow
def test_lessons_end_to_end(workflow_run, tmp_path):
    # The lessons stage of the session run (the .test config's lessons section: SMALL_LESSONS).
    config = yaml.safe_load(Path((workflow_run / "config-path").read_text()).read_text())
    assert {section: config["lessons"][section] for section in SMALL_LESSONS} == SMALL_LESSONS
    out = workflow_run / "results/lessons"
    for target in LESSON_TARGETS:
        assert (workflow_run / target).stat().st_size > 0, target
    for name in ("binomial", "vectors", "descent_x2", "minima"):
        assert (workflow_run / f"results/logs/lessons/{name}.log").exists()
        assert (workflow_run / f"results/benchmarks/lessons/{name}.tsv").exists()

    binomial = json.loads((out / "binomial.json").read_text())
    assert binomial["n_tests"] == 20000 and binomial["loop_check"] == {"identical": True, "n_tests": 500}
    assert binomial["mean_within_tolerance"] and binomial["variance_within_tolerance"]
    table = pd.read_parquet(out / "binomial.parquet")
    assert table["observed_count"].sum() == 20000
    assert np.array_equal(table["observed_count"], simulate_histogram(binomial["seed"], 20000, 10, 0.5))
    assert len(pd.read_parquet(out / "binomial_long_test.parquet")) == 2000

    vectors = json.loads((out / "vectors.json").read_text())
    assert vectors["dot_product"]["dot_numpy"] == 32.0 and vectors["unit_vectors"]["coincide"]

    x2 = json.loads((out / "descent_x2.json").read_text())
    assert [r["status"] for r in x2["runs"]] == ["converged", "diverged"]
    paths = pd.read_parquet(out / "descent_x2.parquet")
    assert paths[paths["step_size"] == 10.0]["x"].tolist()[:2] == [-1.0, 19.0]

    minima = json.loads((out / "minima.json").read_text())
    assert minima["best_is_global"] and minima["global_minimum"]["x"] == [2.5]
    starts = pd.read_parquet(out / "minima.parquet")
    assert len(starts) == 40 and starts["minimum"].dtype == "Float64"

    assert (out / "binomial.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "minima.svg").read_text().lstrip().startswith("<?xml")

    # Reproducible: a forced rerun (in a copy) rewrites byte-identical files (timings live in their own file).
    work = copy_run(workflow_run, tmp_path / "w")
    before = {p.name: p.read_bytes() for p in out.iterdir() if p.name != "binomial_timing.json"}
    run_snakemake(work, "--forceall", *LESSON_TARGETS, configfile=Path((workflow_run / "config-path").read_text()))
    after = {p.name: p.read_bytes() for p in (work / "results/lessons").iterdir() if p.name != "binomial_timing.json"}
    assert after == before
    assert (work / "results/lessons/binomial_timing.json").stat().st_mtime > (
        out / "binomial_timing.json"
    ).stat().st_mtime


# A bad lessons config refused before any job: tests/test_workflow.py (BAD_CONFIGS).
