"""The page's outline: its parts in order, each with the sections built from this run's results.

:func:`build_parts` runs the section builders of :mod:`descent.report.story_paris`,
:mod:`descent.report.story_lesson0`, the claims table and the builders registered beyond the
lessons (:data:`descent.report.sections.BEYOND`); parts without any section are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from descent.config.sections import ReportConfig
from descent.report import story_beyond, story_cost, story_lesson0, story_paris  # noqa: F401  (registers BEYOND)
from descent.report.sections import BEYOND, Builder, Part, Story, claims_section, run_builders

#: (id, title, intro) of the parts, in page order; the provenance part is added by the page.
PARTS: tuple[tuple[str, str, str], ...] = (
    (
        "paris",
        "The Paris rent lesson",
        "Linear regression by gradient descent on 50 synthetic Paris apartments, in the lesson's order: each step "
        "with the numbers and figures this run computed.",
    ),
    (
        "lesson0",
        "Lesson 0: the foundations",
        "Random guessing, vectors, gradient descent, minima, the matrix form, batch variants and the cost of a naive "
        "matrix product, in the lesson's order.",
    ),
    (
        "claims",
        "The lessons' claims, checked",
        "What the two lessons assert, and the slips a learner would trip over, beside what this run measured and a "
        "verdict computed from the results files.",
    ),
    (
        "beyond",
        "Beyond the lessons",
        "The datasets the lessons do not use, in the order the configuration lists them, and the matrix product "
        "beyond the lesson's loop.",
    ),
)


def build_parts(
    results: Any,
    claims: Sequence[Mapping[str, Any]],
    options: ReportConfig | Mapping[str, Any],
    words: Any = None,
) -> list[Part]:
    """The page's parts from :class:`descent.report.results.Results`, the evaluated claims
    (:func:`descent.report.claims.evaluate_claims`) and the report options (the typed ``report``
    section, or its schema-filled dict); ``words``: a :class:`descent.report.words.Words` (default:
    one for ``options.templates``)."""
    story = Story(results, {c["id"]: dict(c) for c in claims}, ReportConfig.coerce(options), words)
    builders: dict[str, Sequence[Builder]] = {
        "paris": story_paris.STEPS,
        "lesson0": story_lesson0.STEPS,
        "claims": [claims_section],
        "beyond": BEYOND,
    }
    parts = []
    for part_id, title, intro in PARTS:
        sections = run_builders(story, builders[part_id])
        if sections:
            parts.append(Part(part_id, title, intro, sections))
    return parts


def section_ids(parts: Sequence[Part]) -> list[str]:
    """Every section id of the page, in order (parts' ids not included)."""
    return [s.id for p in parts for s in p.sections]
