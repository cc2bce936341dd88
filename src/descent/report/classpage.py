"""The class page, ``results/report/lessons.html``: the two lessons as a teacher shows them.

Lesson 0, then the Paris lesson (the lessons' own order: Lesson 0 explains gradient descent, the
Paris lesson applies it), each step built by the same builders as the full page
(:mod:`descent.report.story_lesson0`, :mod:`descent.report.story_paris`) with the same words and
claims, from the results restricted (:meth:`descent.report.results.Results.restricted`) to the
lessons' own fits *introduced so far*: a step sees only the fits of its own and earlier steps
(:data:`LESSONS`, ``introduces``), so no method appears before the step that explains it and
none the lessons do not teach appears at all. After each lesson, its takeaways (3–5 points) and
its questions (``<details>``, the answer hidden until clicked; every number of an answer is a
:class:`Source`: the result file and field it was read from, shown under the answer and checked
against the file by the tests); a glossary last. The words are the templates ``class-*.j2``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from descent.config.sections import ReportConfig
from descent.report import blocks, story_lesson0, story_paris
from descent.report.sections import Builder, Part, Section, Story, run_builders
from descent.report.storykit import LESSON0, PARIS
from descent.report.words import Words

Facts = dict[str, Any]
FitKey = tuple[str, str, str]


@dataclass(frozen=True)
class ClassStep:
    """One step of a lesson on the class page: the ``section`` id its ``builder`` returns, and
    the fits it ``introduces`` (``(dataset, scaling, fit)``), visible from this step on."""

    section: str
    builder: Builder
    introduces: tuple[FitKey, ...] = ()


#: The lessons in their order, each step with the fits it introduces. Left out of the class page:
#: ``paris-all-fits`` (every method of the workflow) and every fit the lessons do not teach.
LESSONS: tuple[tuple[str, tuple[ClassStep, ...]], ...] = (
    (
        "lesson0",
        (
            ClassStep("lesson0-guessing", story_lesson0.guessing_step),
            ClassStep("lesson0-vectors", story_lesson0.vectors_step),
            ClassStep("lesson0-x2-descent", story_lesson0.x2_step),
            ClassStep("lesson0-minima", story_lesson0.minima_step),
            ClassStep("lesson0-matrix-form", story_lesson0.matrix_form_step, ((LESSON0, "raw", "manual_gd"),)),
            ClassStep(
                "lesson0-batches",
                story_lesson0.batches_step,
                ((LESSON0, "raw", "minibatch_gd"), (LESSON0, "raw", "stochastic_gd")),
            ),
            ClassStep("lesson0-matmul", story_lesson0.matmul_step),
        ),
    ),
    (
        "paris",
        (
            ClassStep("paris-data", story_paris.data_step),
            ClassStep("paris-loss-surface", story_paris.surface_step),
            ClassStep("paris-raw-descent", story_paris.raw_descent_step, ((PARIS, "raw", "manual_gd"),)),
            ClassStep("paris-standardization", story_paris.standardization_step),
            ClassStep(
                "paris-standardized-descent",
                story_paris.standardized_descent_step,
                ((PARIS, "standardized", "manual_gd"),),
            ),
            # The lesson introduces autograd by checking its gradient against the hand one.
            ClassStep("paris-gradient-check", story_paris.gradient_check_step, ((PARIS, "standardized", "autograd"),)),
            ClassStep("paris-autograd", story_paris.autograd_step),
            ClassStep("paris-nn-linear", story_paris.nn_linear_step, ((PARIS, "standardized", "nn_linear"),)),
            ClassStep("paris-predictions", story_paris.predictions_step),
            ClassStep(
                "paris-closed-form",
                story_paris.closed_form_step,
                ((PARIS, "raw", "lstsq"), (PARIS, "standardized", "lstsq"), (PARIS, "raw", "lstsq_lesson")),
            ),
        ),
    ),
)


def lesson_fits() -> tuple[FitKey, ...]:
    """Every fit the class page shows (the steps' ``introduces``, in order)."""
    return tuple(key for _, steps in LESSONS for step in steps for key in step.introduces)


# ----------------------------------------------------------------------------- sources of answers


@dataclass(frozen=True)
class Source:
    """A number an answer quotes and where it was read: ``file`` (relative to ``results/``),
    ``pointer`` (a JSON Pointer, RFC 6901, into a JSON file; for a parquet file the column, with
    ``where`` selecting its one row) and the ``value`` found there."""

    file: str
    pointer: str
    value: Any
    where: Mapping[str, Any] = field(default_factory=dict)

    @property
    def exact(self) -> str:
        """The value for machines (``data-value``): ``repr`` of a float, JSON otherwise."""
        return repr(float(self.value)) if isinstance(self.value, float) else json.dumps(self.value)

    @property
    def where_json(self) -> str:
        return json.dumps(dict(self.where), sort_keys=True) if self.where else ""


def resolve(data: Any, pointer: str) -> Any:
    """The value at a JSON Pointer (RFC 6901: ``/a/0/b``, ``~1`` for ``/``, ``~0`` for ``~``).

    >>> resolve({"runs": [{"iterations": 20}], "a/b": 1}, "/runs/0/iterations"), resolve({"a/b": 1}, "/a~1b")
    (20, 1)
    """
    for token in pointer.split("/")[1:]:
        key = token.replace("~1", "/").replace("~0", "~")
        data = data[int(key)] if isinstance(data, list) else data[key]
    return data


def json_source(file: str, data: Any, pointer: str) -> Source:
    """The value at ``pointer`` of ``data`` (the parsed JSON of ``file``) with where it was read."""
    value = resolve(data, pointer)
    return Source(file, pointer, float(value) if isinstance(value, (float, np.floating)) else value)


def row_source(file: str, frame: pd.DataFrame, column: str, where: Mapping[str, Any]) -> Source:
    """The value of ``column`` in the one row of ``frame`` (the parquet ``file``) matching ``where``."""
    rows = frame
    for key, value in where.items():
        rows = rows[rows[key] == value]
    if len(rows) != 1:
        raise ValueError(f"{file}: {len(rows)} rows match {dict(where)}, expected one")
    value = rows.iloc[0][column]
    return Source(file, column, float(value) if isinstance(value, (float, np.floating)) else value, dict(where))


def fit_file(dataset: str, scaling: str, fit: str) -> str:
    """A fit's JSON under ``results/`` (docs/results.md)."""
    return f"fits/{dataset}/{scaling}/{fit}.json"


# ----------------------------------------------------------------------------- questions


@dataclass
class Question:
    """A click-to-reveal question: its ``id``, the words' ``facts`` (numbers as read) and the
    ``sources`` of the numbers its answer quotes."""

    id: str
    facts: Facts
    sources: list[Source]


def _lesson(results: Any, key: str) -> dict[str, Any] | None:
    return results.lessons.get(key) or None


def _record(results: Any, dataset: str, scaling: str, fit: str) -> dict[str, Any] | None:
    return results.records.get((dataset, scaling, fit))


def lesson0_questions(results: Any) -> list[Question]:
    """Lesson 0's questions (guessing, vectors, x² descent, minima, the matrix form's shapes),
    each present when its results are."""
    out: list[Question] = []
    binomial = _lesson(results, "binomial")
    if binomial:
        f = "lessons/binomial.json"
        mean, var = (json_source(f, binomial, p) for p in ("/mean_fraction_correct", "/variance_fraction_correct"))
        n, p = int(binomial["n_questions"]), float(binomial["p"])
        facts = {
            "n_questions": n,
            "n_tests": int(binomial["n_tests"]),
            "p": p,
            "mean": mean.value,
            "variance": var.value,
        }
        out.append(Question("guessing", {**facts, "expected_variance": p * (1 - p) / n}, [mean, var]))
    vectors = _lesson(results, "vectors")
    if vectors and len(vectors["unit_vectors"]["vectors"]) == 2:
        f, unit = "lessons/vectors.json", vectors["unit_vectors"]
        norms = [json_source(f, vectors, f"/unit_vectors/norms/{i}") for i in (0, 1)]
        difference = json_source(f, vectors, "/unit_vectors/max_abs_difference")
        facts = {
            "vectors": unit["vectors"],
            "squares": [float(np.dot(v, v)) for v in unit["vectors"]],
            "norms": [s.value for s in norms],
            "unit": unit["unit_vectors"][0],
            "difference": difference.value,
        }
        out.append(Question("vectors", facts, [*norms, difference]))
    x2 = _lesson(results, "descent_x2")
    if x2 and len(x2["runs"]) >= 2:
        f = "lessons/descent_x2.json"
        runs = x2["runs"][:2]
        iterations = [json_source(f, x2, f"/runs/{i}/iterations") for i in (0, 1)]
        finals = [json_source(f, x2, f"/runs/{i}/x_final") for i in (0, 1)]
        facts = {
            "x0": x2["x0"],
            "tolerance": x2["tolerance"],
            "bound": x2["divergence_bound"],
            "runs": [
                {**run, "iterations": it.value, "x_final": fin.value, "factor": 1 - 2 * run["step_size"]}
                for run, it, fin in zip(runs, iterations, finals)
            ],
        }
        out.append(Question("x2", facts, [*iterations, *finals]))
    minima = _lesson(results, "minima")
    if minima:
        f = "lessons/minima.json"
        found = [i for i, m in enumerate(minima["minima_found"]) if m.get("is_global")]
        if found:
            starts = json_source(f, minima, f"/minima_found/{found[0]}/starts")
            facts = {
                "n_starts": int(minima["n_starts"]),
                "low": minima["start_range"][0],
                "high": minima["start_range"][1],
                "step": minima["step_size"],
                "x_global": minima["global_minimum"]["x"][0],
                "starts": starts.value,
                "fraction": float(minima["fraction_global"]),
                "function": minima["function"],
            }
            out.append(Question("minima", facts, [starts]))
    meta, fit = results.metas.get(LESSON0), _record(results, LESSON0, "raw", "manual_gd")
    if meta and fit:
        f = fit_file(LESSON0, "raw", "manual_gd")
        rows = json_source(f"datasets/{LESSON0}.json", meta, "/n")
        w, b = json_source(f, fit, "/weights/0"), json_source(f, fit, "/bias")
        k = len(meta["features"])
        facts = {"n": rows.value, "k": k, "w": w.value, "b": b.value, "iterations": fit["iterations"], "lr": fit["lr"]}
        out.append(Question("matrix", facts, [rows, w, b]))
    return out


def paris_questions(results: Any) -> list[Question]:
    """The Paris lesson's questions (the raw descent, standardizing, the gradient check,
    ``nn.Linear``'s summed loss, a prediction, the lesson's ``lstsq``), each present when its
    results are."""
    out: list[Question] = []
    raw, lstsq = _record(results, PARIS, "raw", "manual_gd"), _record(results, PARIS, "raw", "lstsq")
    if raw and lstsq and raw.get("init"):
        f, g = fit_file(PARIS, "raw", "manual_gd"), fit_file(PARIS, "raw", "lstsq")
        got = [json_source(f, raw, "/weights/0"), json_source(f, raw, "/bias")]
        best = [json_source(g, lstsq, "/weights/0"), json_source(g, lstsq, "/bias")]
        facts = {
            "w0": raw["init"]["weights"][0],
            "b0": raw["init"]["bias"],
            "iterations": raw["iterations"],
            "lr": raw["lr"],
            "w": got[0].value,
            "b": got[1].value,
            "lstsq_w": best[0].value,
            "lstsq_b": best[1].value,
        }
        sources = [*got, *best]
        to = (raw.get("predicted") or {}).get("iterations_to") or {}
        target = "1e-06" if "1e-06" in to else None
        if target is not None and not (raw.get("predicted") or {}).get("diverges"):
            steps = json_source(f, raw, f"/predicted/iterations_to/{target}")
            facts |= {"gap": float(target), "steps_to": steps.value}
            sources.append(steps)
        else:
            facts |= {"gap": None, "steps_to": None}
        out.append(Question("raw", facts, sources))
    table = results.conditioning
    std = _record(results, PARIS, "standardized", "manual_gd")
    if table is not None and std and lstsq:
        f = "fits/conditioning.parquet"
        try:
            kappas = [row_source(f, table, "kappa", {"dataset": PARIS, "scaling": s}) for s in ("raw", "standardized")]
        except ValueError:
            kappas = []
        if kappas:
            g = fit_file(PARIS, "standardized", "manual_gd")
            got = [json_source(g, std, "/weights/0"), json_source(g, std, "/bias")]
            facts = {
                "kappa_raw": kappas[0].value,
                "kappa_std": kappas[1].value,
                "iterations": std["iterations"],
                "w": got[0].value,
                "b": got[1].value,
                "lstsq_w": float(lstsq["weights"][0]),
                "lstsq_b": float(lstsq["bias"]),
            }
            out.append(Question("standardized", facts, [*kappas, *got]))
    check = results.checks.get(PARIS)
    if check and "float64" in check:
        f = f"fits/gradient_check/{PARIS}.json"
        sources = [json_source(f, check, "/float64/max_rel_diff"), json_source(f, check, "/float64/eps")]
        n_params = len(check["point"]["weights"]) + 1
        facts = {
            "rel": sources[0].value,
            "eps": sources[1].value,
            "w": check["point"]["weights"][0],
            "b": check["point"]["bias"],
            "agree": sources[0].value <= 100 * n_params * sources[1].value,  # the full page's test
        }
        out.append(Question("gradient", facts, sources))
    nn, meta = _record(results, PARIS, "standardized", "nn_linear"), results.metas.get(PARIS)
    if nn and meta and nn.get("settings", {}).get("loss_reduction") == "sum":
        f = fit_file(PARIS, "standardized", "nn_linear")
        lr, n = json_source(f, nn, "/lr"), json_source(f"datasets/{PARIS}.json", meta, "/n")
        facts = {"lr": lr.value, "n": n.value, "mean_step": lr.value * n.value}
        out.append(Question("nn", facts, [lr, n]))
    if nn and nn.get("predictions") and meta and meta.get("true_weights") is not None:
        f = fit_file(PARIS, "standardized", "nn_linear")
        at = len(nn["predictions"]) // 2  # a middle apartment of the lesson's four
        inputs = nn["predictions"][at]["inputs"]
        predicted = json_source(f, nn, f"/predictions/{at}/prediction")
        truth = float(np.dot(meta["true_weights"], inputs) + meta["true_bias"])
        facts = {
            "x": inputs[0],
            "feature": meta["features"][0],
            "predicted": predicted.value,
            "truth": truth,
            "true_w": meta["true_weights"][0],
            "true_b": meta["true_bias"],
            "lstsq_predicted": None,
        }
        sources = [predicted]
        same = (lstsq or {}).get("predictions") or []
        if at < len(same) and same[at]["inputs"] == inputs:
            sources.append(json_source(fit_file(PARIS, "raw", "lstsq"), lstsq, f"/predictions/{at}/prediction"))
            facts["lstsq_predicted"] = sources[-1].value
        out.append(Question("prediction", facts, sources))
    lesson = _record(results, PARIS, "raw", "lstsq_lesson")
    if lesson and lstsq:
        f, g = fit_file(PARIS, "raw", "lstsq_lesson"), fit_file(PARIS, "raw", "lstsq")
        sources = [json_source(f, lesson, "/bias"), json_source(g, lstsq, "/bias")]
        digits = _agreeing_digits(sources[0].value, sources[1].value)
        facts = {"lesson_b": sources[0].value, "b": sources[1].value, "digits": digits, "dtype": lesson.get("dtype")}
        out.append(Question("lstsq", facts, sources))
    return out


def _agreeing_digits(a: float, b: float) -> int:
    """Significant digits ``a`` and ``b`` share (−log10 of their relative difference, floored;
    17 when equal)."""
    if a == b:
        return 17
    return max(0, math.floor(-math.log10(abs(a - b) / max(abs(a), abs(b)))))


def questions_block(words: Any, step: str, questions: Sequence[Question]) -> dict[str, Any]:
    """The ``questions`` block: each question's words (blocks ``{id}_question`` and
    ``{id}_answer`` of ``{step}.j2``), the sources of its answer and their files (the page names
    the files; each source is a ``span.source`` with its file, pointer and exact value)."""
    return {
        "kind": "questions",
        "items": [
            {
                "id": q.id,
                "question": words.text(step, f"{q.id}_question", q.facts),
                "answer": words.text(step, f"{q.id}_answer", q.facts),
                "sources": q.sources,
                "files": list(dict.fromkeys(s.file for s in q.sources)),
            }
            for q in questions
        ],
    }


# ----------------------------------------------------------------------------- takeaways, glossary


#: Each lesson's question ids, in order (the takeaways name each, ``None`` when absent).
QUESTION_IDS: dict[str, tuple[str, ...]] = {
    "lesson0": ("guessing", "vectors", "x2", "minima", "matrix"),
    "paris": ("raw", "standardized", "gradient", "nn", "prediction", "lstsq"),
}


def takeaway_facts(part_id: str, questions: Sequence[Question]) -> Facts:
    """What a lesson's takeaways quote: each question's facts by its id (``None`` when absent)."""
    by_id = {q.id: q.facts for q in questions}
    return {qid: by_id.get(qid) for qid in QUESTION_IDS[part_id]}


def glossary_facts(results: Any) -> Facts:
    """What the glossary quotes: the Paris loss's Hessian (eigenvalues, condition number, raw and
    standardized), the raw loop's final gradient norm and relative gap; ``None`` when absent."""
    facts: Facts = {"kappa_raw": None, "kappa_std": None, "lambda_max": None, "lambda_min": None, "grad_norm": None}
    table = results.conditioning
    if table is not None:
        for scaling, key in (("raw", "kappa_raw"), ("standardized", "kappa_std")):
            rows = table[(table["dataset"] == PARIS) & (table["scaling"] == scaling)]
            if not rows.empty:
                facts[key] = float(rows.iloc[0]["kappa"])
                if scaling == "raw":
                    facts["lambda_max"] = float(rows.iloc[0]["lambda_max"])
                    facts["lambda_min"] = float(rows.iloc[0]["lambda_min"])
    raw = _record(results, PARIS, "raw", "manual_gd")
    if raw and raw.get("final_grad_norm") is not None:
        facts["grad_norm"] = float(raw["final_grad_norm"])
        loss, star = float(raw["mse"]), raw.get("loss_star")
        facts["gap"] = (loss - float(star)) / float(star) if star else None
    else:
        facts["gap"] = None
    return facts


# ----------------------------------------------------------------------------- the page's parts


def lesson_sections(story: Story, steps: Sequence[ClassStep], shown: list[FitKey]) -> list[Section]:
    """A lesson's sections, each built from the results restricted to the fits introduced by it
    and the steps before it (``shown``, extended in place)."""
    out = []
    for step in steps:
        shown.extend(step.introduces)
        restricted = Story(story.results.restricted(shown), story.claims, story.options, story.words)
        for section in run_builders(restricted, [step.builder]):
            if section.id != step.section:
                raise ValueError(f"class page: step {step.section!r} built section {section.id!r}")
            section.blocks = [b for b in section.blocks if not b.get("engineers")]  # blocks.for_engineers
            out.append(section)
    return out


def build_class_parts(
    results: Any,
    claims: Sequence[Mapping[str, Any]],
    options: ReportConfig | Mapping[str, Any],
    words: Any = None,
) -> list[Part]:
    """The class page's parts: each lesson (its steps, then its takeaways and questions), then
    the glossary. ``claims`` are the evaluated claims (the full page's, so both pages give the
    same verdicts); only the lessons' steps show them."""
    options = ReportConfig.coerce(options)
    words = words if words is not None else Words(options.templates, page="class")
    story = Story(results, {c["id"]: dict(c) for c in claims}, options, words)
    shown: list[FitKey] = []
    parts = []
    for part_id, steps in LESSONS:
        sections = lesson_sections(story, steps, shown)
        if not sections:
            continue
        step = f"class-{part_id}"
        questions = (lesson0_questions if part_id == "lesson0" else paris_questions)(results)
        facts = {
            **takeaway_facts(part_id, questions),
            "claims": [c for c in story.claims.values() if c["lesson"] == part_id],
        }
        takeaways = words.items(step, "takeaways", facts)
        if takeaways:
            sections.append(
                Section(f"{part_id}-takeaways", words.text(step, "takeaways_title", facts), [blocks.bullets(takeaways)])
            )
        if questions:
            sections.append(
                Section(
                    f"{part_id}-questions",
                    words.text(step, "questions_title", facts),
                    [
                        blocks.paragraph(words.text(step, "questions_intro", facts)),
                        questions_block(words, step, questions),
                    ],
                )
            )
        parts.append(Part(part_id, words.text(step, "title", facts), words.text(step, "intro", facts), sections))
    facts = glossary_facts(results)
    parts.append(
        Part(
            "glossary",
            words.text("class-glossary", "title", facts),
            words.text("class-glossary", "intro", facts),
            [
                Section(
                    "glossary-terms",
                    words.text("class-glossary", "section_title", facts),
                    [blocks.facts(words.facts("class-glossary", "terms", facts))],
                )
            ],
        )
    )
    return parts
