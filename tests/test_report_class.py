"""The class page, results/report/lessons.html (descent.report.classpage): the two lessons only,
in their order, each method first shown where a lesson introduces it, within the word budget,
takeaways, a glossary, and questions whose every quoted number equals the result file it names;
the two pages link to each other. Unit tests of its parts first, then the page of the session run
(its look in Chromium is tested in tests/test_report_browser.py)."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from descent.report import story_lesson0, story_paris
from descent.report.classpage import LESSONS, QUESTION_IDS, Source, lesson_fits, resolve, row_source
from descent.report.formatting import format_number
from descent.report.results import Results

#: The most words the class page may have (issue 26: readable within the hour).
WORD_BUDGET = 6000

# ------------------------------------------------------------------------------ unit tests


def test_the_class_steps_are_the_lessons_steps_in_order():
    """Every step of both lessons but the all-fits comparison, in the story's own order."""
    lesson0 = [step.builder for step in dict(LESSONS)["lesson0"]]
    paris = [step.builder for step in dict(LESSONS)["paris"]]
    assert lesson0 == story_lesson0.STEPS
    assert paris == [b for b in story_paris.STEPS if b is not story_paris.all_fits_step]
    assert [part for part, _ in LESSONS] == ["lesson0", "paris"]  # Lesson 0 explains descent first
    assert {(d, f) for d, _, f in lesson_fits()} == {
        *(("lesson_linear", f) for f in ("manual_gd", "minibatch_gd", "stochastic_gd")),
        *(("paris_rent", f) for f in ("manual_gd", "autograd", "nn_linear", "lstsq", "lstsq_lesson")),
    }
    assert {s for d, s, _ in lesson_fits() if d == "lesson_linear"} == {"raw"}  # Lesson 0 never standardizes


def test_json_pointers_and_row_sources():
    data = {"runs": [{"iterations": 20}], "iterations_to": {"1e-06": 7}, "a/b": {"~c": 1}}
    assert resolve(data, "/runs/0/iterations") == 20
    assert resolve(data, "/iterations_to/1e-06") == 7  # a key with a dot and a dash
    assert resolve(data, "/a~1b/~0c") == 1
    with pytest.raises(KeyError):
        resolve(data, "/runs/0/nope")
    frame = pd.DataFrame({"dataset": ["a", "a"], "scaling": ["raw", "standardized"], "kappa": [3.5, 1.0]})
    source = row_source("fits/conditioning.parquet", frame, "kappa", {"dataset": "a", "scaling": "raw"})
    assert source.value == 3.5 and source.exact == "3.5" and json.loads(source.where_json)["scaling"] == "raw"
    with pytest.raises(ValueError, match="2 rows match"):
        row_source("fits/conditioning.parquet", frame, "kappa", {"dataset": "a"})
    assert Source("f.json", "/n", 100).exact == "100"


def test_restricted_results_keep_only_the_named_fits():
    keys = [("d", "raw", "gd"), ("d", "raw", "adam"), ("d", "raw", "gd.rep1"), ("e", "raw", "gd")]
    summary = pd.DataFrame({"dataset": [k[0] for k in keys], "scaling": "raw", "method": [k[2] for k in keys]})
    results = Results(
        config={},
        summary=summary,
        records={k: {"m": k[2]} for k in keys},
        histories={k: pd.DataFrame({"loss": [1.0]}) for k in keys},
        predictions=summary.copy(),
        all_records={k: {} for k in keys},
        metas={"d": {}, "e": {}},
        figures={
            "d_fits": Path("x.png"),
            "d_loss": Path("x.png"),
            "gradient_check": Path("g.png"),
            "predictions": Path("p.png"),
        },
    )
    kept = results.restricted([("d", "raw", "gd")])
    assert set(kept.records) == {("d", "raw", "gd"), ("d", "raw", "gd.rep1")}
    assert set(kept.summary["method"]) == {"gd", "gd.rep1"} and set(kept.predictions["dataset"]) == {"d"}
    assert set(kept.all_records) == set(kept.records) == set(kept.histories)
    assert set(kept.figures) == {"gradient_check"}  # the figures drawing every fit are left out
    assert len(results.summary) == 4 and len(results.records) == 4  # the original is untouched


# ------------------------------------------------------------------------------ the page of the session run


class ClassPage(HTMLParser):
    """What the tests read of a page: sections in order (id, part), each section's visible text and
    ``data-method`` values, the questions (answer text and sources), claim badges, links, and
    every visible word."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sections: list[str] = []
        self.parts: list[str] = []
        self.text: dict[str, list[str]] = {}
        self.methods: dict[str, set[str]] = {}
        self.questions: list[dict] = []
        self.badges: dict[str, str] = {}
        self.links: list[str] = []
        self.anchors: set[str] = set()
        self.words = 0
        self.header: list[str] = []
        self._hidden = 0
        self._section: str | None = None
        self._answer = False
        self._badge: str | None = None
        self._in_header = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get("id"):
            self.anchors.add(a["id"])
        if tag in ("script", "style"):
            self._hidden += 1
        elif tag == "header":
            self._in_header = True
        elif tag == "section" and "part" in (a.get("class") or ""):
            self.parts.append(a["id"])
        elif tag == "section" and "step" in (a.get("class") or ""):
            self._section = a["id"]
            self.sections.append(a["id"])
            self.text[a["id"]], self.methods[a["id"]] = [], set()
        elif tag == "details" and "question" in (a.get("class") or ""):
            self.questions.append({"id": a["id"], "answer": "", "sources": [], "section": self._section})
        elif tag == "p" and a.get("class") == "answer":
            self._answer = True
        elif tag == "span" and a.get("class") == "source":
            self.questions[-1]["sources"].append(a)
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])
            if "#claim-" in a["href"]:
                self._badge = a["href"]
        elif tag == "span" and a.get("class") == "verdict" and self._badge:
            self.badges.setdefault(self._badge, "")
        if self._section and a.get("data-method"):
            self.methods[self._section].add(a["data-method"])

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self._hidden -= 1
        elif tag == "section":  # a step's end (steps do not nest); a part's intro is no step's text
            self._section = None
        elif tag == "header":
            self._in_header = False
        elif tag == "p":
            self._answer = False
        elif tag == "a":
            self._badge = None

    def handle_data(self, data):
        if self._hidden:
            return
        self.words += len(data.split())
        if self._in_header:
            self.header.append(data)
        if self._section:
            self.text[self._section].append(data)
        if self._answer:
            self.questions[-1]["answer"] += data
        if self._badge and self._badge in self.badges:
            self.badges[self._badge] += data


def read_page(path: Path) -> ClassPage:
    page = ClassPage()
    page.feed(path.read_text(encoding="utf-8"))
    page.text = {sid: " ".join(" ".join(parts).split()) for sid, parts in page.text.items()}
    return page


@pytest.fixture(scope="module")
def class_page(built_report) -> ClassPage:
    return read_page(built_report / "results/report/lessons.html")


@pytest.mark.workflow
def test_the_class_page_holds_the_two_lessons_only_in_their_order(built_report, class_page):
    steps = [step.section for _, lesson in LESSONS for step in lesson]
    shown = [s for s in class_page.sections if s in steps]
    assert shown == [s for s in steps if s in class_page.sections]  # the lessons' order
    assert len(shown) >= 14, shown
    assert class_page.parts == ["lesson0", "paris", "glossary"]
    expected = [*shown[:7], "lesson0-takeaways", "lesson0-questions"]
    assert class_page.sections[:9] == expected, class_page.sections
    assert class_page.sections[-3:] == ["paris-takeaways", "paris-questions", "glossary-terms"]
    full = read_page(built_report / "results/report/index.html")
    assert not {s for s in class_page.sections if s.startswith(("beyond-", "claims-", "provenance"))}
    assert "paris-all-fits" in full.sections and "paris-all-fits" not in class_page.sections


@pytest.mark.workflow
def test_each_method_appears_only_from_the_step_that_introduces_it(built_report, class_page):
    """No fit the lessons do not teach is named anywhere on the page (as a table row or in the
    words); each one they teach first appears at the step that introduces it or later."""
    summary = pd.read_parquet(built_report / "results/fits/summary.parquet")
    every = set(summary["method"])
    introduced_at: dict[str, int] = {}
    order = class_page.sections
    for _, lesson in LESSONS:
        for step in lesson:
            for _, _, fit in step.introduces:
                if step.section in order:
                    introduced_at.setdefault(fit, order.index(step.section))
    taught = set(introduced_at)
    for i, sid in enumerate(order):
        words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", class_page.text[sid]))
        named = (words | class_page.methods[sid]) & every
        assert not named - taught, (sid, named - taught)
        early = {m for m in named if introduced_at[m] > i}
        assert not early, (sid, early)
    assert {"manual_gd", "autograd", "nn_linear", "lstsq_lesson"} <= taught


@pytest.mark.workflow
def test_the_class_page_is_within_the_word_budget_and_says_so(class_page):
    assert 1500 < class_page.words <= WORD_BUDGET, class_page.words
    header = " ".join(" ".join(class_page.header).split())
    stated = int(re.search(r"\(([\d,]+) words\)", header).group(1).replace(",", ""))
    assert abs(stated - class_page.words) <= 5, (stated, class_page.words)  # only its own digits differ


@pytest.mark.workflow
def test_every_answer_quotes_the_file_it_names(built_report, class_page):
    """Each number an answer quotes is read from the result file and field it names (the
    file's value equals the page's ``data-value`` exactly) and shows in the answer's words."""
    results = built_report / "results"
    ids = {q["id"] for q in class_page.questions}
    assert {f"question-{q}" for q in QUESTION_IDS["lesson0"]} <= ids  # every question of the .test run
    assert {f"question-{q}" for q in QUESTION_IDS["paris"]} - {"question-lstsq"} <= ids  # .test: no lstsq_lesson
    checked = 0
    for q in class_page.questions:
        assert q["sources"], q["id"]
        for s in q["sources"]:
            path = results / s["data-file"]
            if path.suffix == ".parquet":
                frame = pd.read_parquet(path)
                for key, value in json.loads(s["data-where"]).items():
                    frame = frame[frame[key] == value]
                assert len(frame) == 1, s
                value = frame.iloc[0][s["data-pointer"]]
            else:
                value = resolve(json.loads(path.read_text()), s["data-pointer"])
            if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
                assert s["data-value"] == str(int(value)), s
                shown = {str(int(value)), f"{int(value):,}"}
            else:
                assert float(s["data-value"]) == float(value), s  # exact: repr round-trips
                shown = {format_number(float(value), digits) for digits in range(2, 10)}
            assert any(text in q["answer"] for text in shown), (q["id"], s, shown, q["answer"])
            checked += 1
    assert checked >= 20, checked


@pytest.mark.workflow
def test_takeaways_glossary_and_claims(built_report, class_page):
    for part in ("lesson0", "paris"):
        items = class_page.text[f"{part}-takeaways"]
        assert items, part
    html = (built_report / "results/report/lessons.html").read_text(encoding="utf-8")
    for part in ("lesson0", "paris"):
        block = html.split(f'id="{part}-takeaways"', 1)[1].split("</section>", 1)[0]
        assert 3 <= block.count("<li>") <= 5, (part, block.count("<li>"))
    glossary = class_page.text["glossary-terms"]
    for term in ("Hessian", "condition number", "gradient norm", "relative gap", "certificate"):
        assert term in glossary, term
    # Every claim of the lessons is on the class page, with the verdict of the full page's table,
    # linking to that table; the pages link to each other.
    full = (built_report / "results/report/index.html").read_text(encoding="utf-8")
    table = dict(re.findall(r'<tr id="claim-([^"]+)"[^>]*data-verdict="([^"]+)"', full))
    assert table, "no claims table on the full page"
    badges = {href.split("#claim-", 1)[1]: text for href, text in class_page.badges.items()}
    assert all(href.startswith("index.html#claim-") for href in class_page.badges)
    assert set(badges) == set(table), set(table) ^ set(badges)
    for claim, verdict in table.items():
        assert badges[claim].strip() == verdict, (claim, badges[claim], verdict)
    assert "index.html" in class_page.links
    assert 'class="other-page" href="lessons.html"' in full
