"""The page's outline: its parts in order, each with the sections built from this run's results.

:func:`build_parts` runs the section builders of :mod:`descent.report.story_paris`,
:mod:`descent.report.story_lesson0`, the claims table and the builders registered beyond the
lessons (:data:`descent.report.sections.BEYOND`); parts without any section are left out.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from descent.config.sections import ReportConfig
from descent.report import story_beyond, story_cost, story_lesson0, story_paris, story_scale  # noqa: F401  (registers BEYOND)
from descent.report.sections import BEYOND, Builder, Part, Story, claims_section, run_builders
from descent.report.storykit import PARIS

#: The parts' ids, in page order (their titles and intros: ``templates/steps/part-{id}.j2``); the
#: provenance part is added by the page.
PARTS: tuple[str, ...] = ("paris", "lesson0", "claims", "beyond")


def part_facts(results: Any, part_id: str) -> dict[str, Any]:
    """The facts a part's intro names: for the Paris lesson, the size of its data and whether
    they were generated (with a known truth)."""
    if part_id != "paris":
        return {}

    meta = results.metas.get(PARIS, {})
    return {"n": meta.get("n"), "synthetic": meta.get("true_weights") is not None}


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
    for part_id in PARTS:
        sections = run_builders(story, builders[part_id])
        if sections:
            step, facts = f"part-{part_id}", part_facts(results, part_id)
            words = story.words
            parts.append(Part(part_id, words.text(step, "title", facts), words.text(step, "intro", facts), sections))
    return parts


def section_ids(parts: Sequence[Part]) -> list[str]:
    """Every section id of the page, in order (parts' ids not included)."""
    return [s.id for p in parts for s in p.sections]
