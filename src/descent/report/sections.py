"""The page as an ordered list of parts and sections, each built from the results that exist.

The page tells the lessons' story in their order, then checks their claims, then goes beyond
them:

1. **The Paris rent lesson** (:data:`descent.report.story_paris.STEPS`), in the lesson's order;
2. **Lesson 0** (:data:`descent.report.story_lesson0.STEPS`), in the lesson's order;
3. **The lessons' claims, checked** (:func:`claims_section`);
4. **Beyond the lessons** (:data:`BEYOND`): the other datasets in config order, the matmul
   benchmark beyond the lesson's loop, and whatever is registered there next;
5. **Provenance** (built by :mod:`descent.report.page`).

A *section builder* is a function ``builder(story) -> Section | list[Section] | None`` that
returns ``None`` (or ``[]``) when the results it shows are not in this run: a section is only on
the page when it has something to show. **Extension point**: to add a section beyond the lessons
(conditioning and time to accuracy, more optimizers, user data, …) write a builder and register
it with :func:`beyond_section` (or append it to :data:`BEYOND`); it appears in the table of
contents with its own anchor, and its tables get CSV links and exact ``data-value`` cells by
using :mod:`descent.report.blocks`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from descent.config.sections import ReportConfig
from descent.report import blocks
from descent.report.checkbase import VERDICTS
from descent.report.words import Words


@dataclass
class Section:
    """One linkable section: ``id`` (the anchor), ``title``, its ``blocks`` and the ids of the
    claims about it (shown as verdict badges linking to the claims table)."""

    id: str
    title: str
    blocks: list[dict[str, Any]]
    claims: list[str] = field(default_factory=list)


@dataclass
class Part:
    """A top-level part of the page (``id``, ``title``, an ``intro`` paragraph) and its sections."""

    id: str
    title: str
    intro: str
    sections: list[Section]


@dataclass
class Story:
    """What builders read: the :class:`descent.report.results.Results`, the evaluated claims (by
    id, from :func:`descent.report.claims.evaluate_claims`), the report's options (the
    ``report`` config section, typed: :class:`descent.config.sections.ReportConfig`) and the
    words of the steps (:class:`descent.report.words.Words`, from ``options.templates``)."""

    results: Any
    claims: dict[str, dict[str, Any]]
    options: ReportConfig
    words: Any = None

    def __post_init__(self) -> None:
        if self.words is None:  # the step templates, a teacher's folder first (descent.report.words)
            self.words = Words(self.options.templates)

    @property
    def dpi(self) -> int:
        return int(self.options.dpi)

    @property
    def interactive(self) -> bool:
        return bool(self.options.interactive)

    def claims_about(self, section_id: str) -> list[str]:
        """Ids of the claims whose ``where`` is ``section_id``, in the claims' order."""
        return [cid for cid, c in self.claims.items() if c["where"] == section_id]


Builder = Callable[[Story], "Section | list[Section] | None"]

#: Builders of the "Beyond the lessons" part, in page order (see the module docstring).
BEYOND: list[Builder] = []


def beyond_section(builder: Builder) -> Builder:
    """Register ``builder`` at the end of :data:`BEYOND` (usable as a decorator)."""
    BEYOND.append(builder)
    return builder


def run_builders(story: Story, builders: Sequence[Builder]) -> list[Section]:
    """The sections the builders return, in order, skipping ``None``/empty ones, with each
    section's claims attached."""
    out: list[Section] = []
    for builder in builders:
        built = builder(story)
        for section in [built] if isinstance(built, Section) else list(built or []):
            if section.blocks:
                section.claims = section.claims or story.claims_about(section.id)
                out.append(section)
    return out


def claims_section(story: Story) -> Section | None:
    """The claims table: statement, what this run measured, the computed verdict; slips with
    what is right instead. Rows link to the section of the lesson step (``where``)."""
    rows = list(story.claims.values())
    if not rows:
        return None
    counts = [{"verdict": v, "n": n} for v in VERDICTS if (n := sum(1 for r in rows if r["verdict"] == v))]
    facts = {"n_claims": len(rows), "counts": counts}
    words, sid = story.words, "claims-table"
    table_rows = [
        {
            "id": r["id"],
            "lesson": r["lesson"],
            "where": r["where"],
            "kind": r["kind"],
            "statement": r["statement"],
            "check": f"{r['check']}({r['expected_text']})",
            "measured": r["measured"],
            "verdict": r["verdict"],
            # A slip's correction always; a claim's only when it does not hold here.
            "correction": r["correction"] if r["kind"] == "slip" or r["verdict"] == "does not hold" else "",
        }
        for r in rows
    ]
    attrs = [
        {
            "claim": r["id"],
            "lesson": r["lesson"],
            "verdict": r["verdict"],
            "class": "verdict-" + r["verdict"].replace(" ", "-"),
        }
        for r in rows
    ]
    return Section(
        sid,
        words.text(sid, "title", facts),
        [
            blocks.paragraph(words.text(sid, "text", facts)),
            {
                **blocks.table(
                    table_rows,
                    ["id", "where", "kind", "statement", "check", "measured", "verdict", "correction"],
                    "claims",
                    {
                        "where": "lesson step",
                        "check": "check function (the lesson says / parameters)",
                        "measured": "this run measured",
                        "correction": "what is right",
                    },
                    row_attrs=attrs,
                ),
                "claims_table": True,
            },
        ],
    )
