"""Cross-field checks of the ``lessons:`` config section, run at workflow parse time.

This module imports nothing heavy (the schema has already filled in the defaults; the section
arrives typed, :class:`descent.config.sections.LessonsConfig`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from descent.config import ConfigError
from descent.config.sections import LessonsConfig

#: Most uniform draws the slow per-question reference loop of the binomial check may make.
LOOP_CHECK_MAX_DRAWS: int = 20_000_000


def _increasing(values: list[float]) -> bool:
    return all(a < b for a, b in zip(values, values[1:]))


def lessons_problems(lessons: LessonsConfig | Mapping[str, Any]) -> list[str]:
    """Cross-field problems in a schema-valid ``lessons`` section (typed, or its schema-filled
    dict), as ``'lessons.<path>: …'`` strings.

    Checked: the binomial loop check does not exceed the number of tests nor
    :data:`LOOP_CHECK_MAX_DRAWS` draws; the unit-vector and
    dot-product examples have vectors of equal length (and non-zero ones for unit vectors);
    ``|x0|`` of the x² descent is below its divergence bound; the minima function's critical
    points are strictly increasing and odd in number (so the polynomial has minima at both
    ends), the start range is increasing and every start lies below the divergence bound.
    """
    lessons = LessonsConfig.coerce(lessons)
    problems: list[str] = []
    binomial = lessons.binomial
    if binomial.loop_check_tests > binomial.n_tests:
        problems.append(
            f"lessons.binomial.loop_check_tests: {binomial.loop_check_tests} exceeds "
            f"lessons.binomial.n_tests ({binomial.n_tests})"
        )

    if binomial.loop_check_tests * binomial.n_questions > LOOP_CHECK_MAX_DRAWS:
        problems.append(
            f"lessons.binomial.loop_check_tests: {binomial.loop_check_tests} tests x "
            f"{binomial.n_questions} questions is over {LOOP_CHECK_MAX_DRAWS:,} draws for the slow "
            "per-question loop (about a second per million)"
        )

    vectors = lessons.vectors
    unit = vectors.unit_examples
    if len({len(v) for v in unit}) > 1:
        problems.append(f"lessons.vectors.unit_examples: vectors of different lengths {[len(v) for v in unit]}")
    for i, vector in enumerate(unit):
        if not any(float(c) != 0.0 for c in vector):
            problems.append(f"lessons.vectors.unit_examples[{i}]: the zero vector has no unit vector")
    dot = vectors.dot_example
    if len(dot[0]) != len(dot[1]):
        problems.append(f"lessons.vectors.dot_example: vectors of lengths {len(dot[0])} and {len(dot[1])}")

    x2 = lessons.descent_x2
    if not abs(float(x2.x0)) < float(x2.divergence_bound):
        problems.append(
            f"lessons.descent_x2.divergence_bound: {x2.divergence_bound} must exceed |x0| = {abs(float(x2.x0))}"
        )

    minima = lessons.minima
    points = list(minima.critical_points)
    if not _increasing([float(p) for p in points]):
        problems.append(f"lessons.minima.critical_points: {points} is not strictly increasing")
    if len(points) % 2 == 0:
        problems.append(
            f"lessons.minima.critical_points: {len(points)} point(s); an odd number is needed so that "
            "f' = prod(x - c_i) has odd degree and f has minima at both ends"
        )
    low, high = (float(v) for v in minima.start_range)
    if not low < high:
        problems.append(f"lessons.minima.start_range: [{low}, {high}] is not increasing")
    bound = float(minima.divergence_bound)
    if max(abs(low), abs(high)) >= bound:
        problems.append(
            f"lessons.minima.divergence_bound: {bound} must exceed every start in "
            f"lessons.minima.start_range {[low, high]}"
        )
    return problems


def check_lessons_config(config: Mapping[str, Any]) -> None:
    """Raise :class:`~descent.config.ConfigError` listing every cross-field problem of
    ``config['lessons']`` (schema-filled)."""
    problems = lessons_problems(config["lessons"])
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))
