"""Lesson 0, step by step in the lesson's order: random guessing (binomial); vectors, the dot
product and the bias folded in (the worked examples); descent on x²; minima and restarts; the
matrix form trained on the lesson's dataset; batch, mini-batch and stochastic descent; the naive
triple loop against NumPy's matrix product. Each builder returns ``None`` when this run lacks its
results (lessons or benchmark switched off, the dataset not configured).

As in :mod:`descent.report.story_paris`, a step's facts are a plain dict (``*_facts``) and its
words the template ``templates/steps/{section id}.j2`` (:mod:`descent.report.words`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from descent.report import analysis, blocks, stepfigures
from descent.report.formatting import format_number, format_vector
from descent.report.results import fit_name
from descent.report.sections import Section, Story
from descent.report.storykit import (
    LESSON0,
    explorer_block,
    figure_block,
    findings_block,
    gradient_block,
    interactive_surface,
    summary_block,
)

BATCH_METHODS: tuple[str, ...] = ("manual_gd", "minibatch_gd", "stochastic_gd")

Facts = dict[str, Any]


def guessing_facts(b: dict[str, Any], table: Any) -> Facts:
    """The binomial experiment's summary (``results/lessons/binomial.json``) and, from its
    histogram table, the most common score."""
    facts: Facts = {
        "n_tests": b["n_tests"],
        "n_questions": b["n_questions"],
        "p": b["p"],
        "mean": b["mean_correct"],
        "expected_mean": b["expected_mean_correct"],
        "variance": b["variance_correct"],
        "expected_variance": b["expected_variance_correct"],
        "mode": None,
        "long_test": None,
    }
    if table is not None:
        top = table.loc[table["observed_count"].idxmax()]
        facts["mode"] = {
            "n_correct": int(top["n_correct"]),
            "fraction": float(top["fraction_correct"]),
            "frequency": float(top["observed_frequency"]),
            "probability": float(top["exact_probability"]),
        }
    long_test = b.get("long_test")
    if long_test:
        facts["long_test"] = {
            "n_questions": long_test["n_questions"],
            "n_correct": long_test["n_correct"],
            "fraction": long_test["fraction_correct"],
            "z": long_test["z_score"],
        }
    return facts


def guessing_step(story: Story) -> Section | None:
    b = story.results.lessons.get("binomial")
    table = story.results.lesson_tables.get("binomial")
    if not b:
        return None
    words, sid = story.words, "lesson0-guessing"
    facts = guessing_facts(b, table)
    out = [blocks.paragraph(words.text(sid, "text", facts))]
    if table is not None:
        out.append(blocks.paragraph(words.text(sid, "mode", facts)))
        out.append(
            blocks.table(
                table.to_dict("records"),
                [
                    "n_correct",
                    "fraction_correct",
                    "observed_count",
                    "observed_frequency",
                    "exact_probability",
                    "frequency_tolerance",
                    "within_tolerance",
                ],
                "binomial_histogram",
                {
                    "n_correct": "right",
                    "fraction_correct": "fraction right",
                    "observed_count": "tests",
                    "observed_frequency": "frequency",
                    "exact_probability": "binomial probability",
                    "frequency_tolerance": "tolerance",
                    "within_tolerance": "within",
                },
            )
        )
    if facts["long_test"]:
        out.append(blocks.paragraph(words.text(sid, "long_test", facts)))
    out += figure_block(
        story, "lessons_binomial", words.text(sid, "figure_alt", facts), words.text(sid, "figure_caption", facts)
    )
    return Section(sid, words.text(sid, "title", facts), out)


def vectors_step(story: Story) -> Section | None:
    v = story.results.lessons.get("vectors")
    if not v:
        return None
    unit, dot, model = v["unit_vectors"], v["dot_product"], v["linear_model"]
    unit_rows = [
        {"vector": format_vector(vec, 6), "norm": norm, "norm_squared": float(np.dot(vec, vec)), "unit_vector": u}
        for vec, norm, u in zip(unit["vectors"], unit["norms"], unit["unit_vectors"])
    ]
    term_rows = [
        {"term": f"u{i + 1}·v{i + 1}", "u": a, "v": b, "product": a * b}
        for i, (a, b) in enumerate(zip(dot["u"], dot["v"]))
    ]
    words, sid = story.words, "lesson0-vectors"
    facts: Facts = {
        "max_difference": unit["max_abs_difference"],
        "coincide": bool(unit["coincide"]),
        "dot_numpy": dot["dot_numpy"],
        "seed": model["seed"],
        "n_inputs": model["n_inputs"],
        "weights": model["weights"],
        "inputs": model["inputs"],
        "bias": model["bias"],
        "output": model["output"],
        "output_folded": model["output_folded"],
        "abs_difference": model["abs_difference"],
    }
    term_rows.append({"term": words.text(sid, "dot_sum", facts), "product": float(np.dot(dot["u"], dot["v"]))})
    return Section(
        sid,
        words.text(sid, "title", facts),
        [
            blocks.paragraph(words.text(sid, "unit", facts)),
            blocks.table(
                unit_rows,
                ["vector", "norm_squared", "norm", "unit_vector"],
                "vectors_unit",
                {"norm_squared": "squared length", "norm": "length", "unit_vector": "unit vector"},
            ),
            blocks.paragraph(words.text(sid, "unit_result", facts)),
            *(
                [
                    blocks.figure(
                        stepfigures.vectors_figure(unit["vectors"], unit["unit_vectors"][0], story.dpi),
                        words.text(sid, "figure_alt", facts),
                        words.text(sid, "figure_caption", facts),
                    )
                ]
                if all(len(v) == 3 for v in unit["vectors"])
                else []
            ),
            blocks.paragraph(words.text(sid, "dot", facts)),
            blocks.table(term_rows, ["term", "u", "v", "product"], "vectors_dot"),
            blocks.paragraph(words.text(sid, "model", facts)),
            blocks.facts(words.facts(sid, "model_facts", facts)),
        ],
    )


def x2_step(story: Story) -> Section | None:
    d = story.results.lessons.get("descent_x2")
    if not d:
        return None
    rows = [
        {
            "step_size": r["step_size"],
            "iterates": format_vector(r["first_iterates"], 6),
            "status": r["status"],
            "iterations": r["iterations"],
            "x_final": r["x_final"],
            "factor_per_step": r["factor_per_step"],
            "reason": r["reason"],
        }
        for r in d["runs"]
    ]
    words, sid = story.words, "lesson0-x2-descent"
    facts: Facts = {"x0": d["x0"], "tolerance": d["tolerance"], "divergence_bound": d["divergence_bound"]}
    return Section(
        sid,
        words.text(sid, "title", facts),
        [
            blocks.paragraph(words.text(sid, "text", facts)),
            blocks.table(
                rows,
                ["step_size", "iterates", "status", "iterations", "x_final", "factor_per_step", "reason"],
                "descent_x2",
                {
                    "step_size": "step",
                    "iterates": "first iterates",
                    "x_final": "final x",
                    "factor_per_step": "x multiplied by, per step",
                },
            ),
            *figure_block(
                story,
                "lessons_descent_x2",
                words.text(sid, "figure_alt", facts),
                words.text(sid, "figure_caption", facts),
            ),
        ],
    )


def minima_unmatched(table: Any) -> list[dict[str, Any]]:
    """The starts that ended at no minimum (``table``: ``results/lessons/minima.parquet``, one
    row per start): where each began and stopped, the critical point it stopped next to and its
    kind, its status and iterations. Empty without the table."""
    if table is None or "minimum" not in table:
        return []
    return [
        {
            "start": int(row["start"]),
            "x_start": float(row["x_start"]),
            "x_end": float(row["x_end"]),
            "nearest": float(row["nearest_critical_point"]),
            "kind": str(row["nearest_kind"]),
            "status": str(row["status"]),
            "iterations": int(row["iterations"]),
        }
        for row in table[table["minimum"].isna()].to_dict("records")
    ]


def minima_facts(m: dict[str, Any], table: Any) -> Facts:
    """The restarts experiment (``results/lessons/minima.json``) and the starts of its table that
    reached no minimum (:func:`minima_unmatched`): ``counts`` of each minimum found plus those,
    adding up to ``n_starts``."""
    found = list(m.get("minima_found", []))
    unmatched = minima_unmatched(table)
    n_unmatched = len(unmatched) if table is not None else int(m.get("unmatched_starts", 0))
    return {
        "function": m["function"],
        "derivative": m["derivative"],
        "minima": [x["x"] for x in m.get("local_minima", [])],
        "maxima": [x["x"] for x in m.get("local_maxima", [])],
        "global_x": list(m["global_minimum"]["x"]),
        "global_f": m["global_minimum"]["f_exact"],
        "n_starts": m["n_starts"],
        "start_low": m["start_range"][0],
        "start_high": m["start_range"][1],
        "step": m["step_size"],
        "tolerance": m.get("tolerance"),
        "fraction_global": float(m["fraction_global"]),
        "best_is_global": bool(m["best_is_global"]),
        "stationary": list(m.get("stationary_starts", [])),
        "counts": [int(f["starts"]) for f in found],
        "n_unmatched": n_unmatched,
        "unmatched": unmatched,
    }


def minima_step(story: Story) -> Section | None:
    m = story.results.lessons.get("minima")
    if not m:
        return None
    words, sid = story.words, "lesson0-minima"
    facts = minima_facts(m, story.results.lesson_tables.get("minima"))
    rows: list[dict[str, Any]] = [
        {
            "x": f["x"],
            "f": f["f"],
            "minimum": "global" if f["is_global"] else "local",
            "starts": f["starts"],
            "fraction": f["fraction"],
        }
        for f in m.get("minima_found", [])
    ]
    if facts["n_unmatched"]:
        rows.append(
            {
                "x": None,
                "f": None,
                "minimum": words.text(sid, "unmatched_row", facts),
                "starts": facts["n_unmatched"],
                "fraction": facts["n_unmatched"] / facts["n_starts"],
            }
        )
    return Section(
        sid,
        words.text(sid, "title", facts),
        [
            blocks.paragraph(words.text(sid, "text", facts)),
            blocks.table(
                rows,
                ["x", "f", "minimum", "starts", "fraction"],
                "minima_found",
                {"x": "minimum at x", "f": "f(x)", "starts": "starts ending there", "fraction": "fraction"},
            ),
            blocks.paragraph(words.text(sid, "result", facts)),
            *figure_block(
                story, "lessons_minima", words.text(sid, "figure_alt", facts), words.text(sid, "figure_caption", facts)
            ),
        ],
    )


def matrix_form_step(story: Story) -> Section | None:
    r = story.results
    fit = r.fit(LESSON0, "raw", "manual_gd")
    if fit is None:
        return None
    words, sid = story.words, "lesson0-matrix-form"
    facts = matrix_form_facts(story, fit)
    out = [blocks.paragraph(words.text(sid, "text", facts))]
    if facts["shapes"] is not None:
        out.append(blocks.paragraph(words.text(sid, "shapes", facts)))
    # The hand gradient against autograd, and every fit compared: the Paris lesson's matters.
    out += blocks.for_engineers(
        gradient_block(story, LESSON0) + findings_block(story, LESSON0) + summary_block(story, LESSON0)
    )
    out += figure_block(
        story, f"{LESSON0}_fits", words.text(sid, "fits_alt", facts), words.text(sid, "fits_caption", facts)
    )
    out += figure_block(
        story, f"{LESSON0}_surface", words.text(sid, "surface_alt", facts), words.text(sid, "surface_caption", facts)
    )
    out += interactive_surface(story, LESSON0) + explorer_block(story, LESSON0)
    return Section(sid, words.text(sid, "title", facts), out)


def matrix_form_facts(story: Story, fit: dict[str, Any]) -> Facts:
    """The lesson's data and its NumPy loop (``fit``: the raw ``manual_gd`` fit), and the
    gradient at the loop's start (computed here from the data: the fit records its end)."""
    meta = story.results.metas.get(LESSON0, {})
    init = fit.get("init") or {}
    facts: Facts = {
        "dataset": LESSON0,
        "n": meta.get("n"),
        "true_b": meta.get("true_bias"),
        "true_w": (meta.get("true_weights") or [None])[0],
        "seed": meta.get("seed"),
        "w0": list(init.get("weights", [])),
        "b0": init.get("bias"),
        "lr": fit["lr"],
        "iterations": int(fit["iterations"]),
        "w": list(fit["weights"]),
        "b": fit["bias"],
        "rel_dist": float(fit["rel_dist_to_lstsq"]),
        "status": fit["status_text"],
        "shapes": None,
    }
    data = story.results.data(LESSON0)
    if data is not None:
        X, y = data
        g_w, g_b = analysis.gradient(X, y, init.get("weights", [0.0]), float(init.get("bias", 0.0)))
        facts.update(shapes={"n_rows": X.shape[0], "n_features": X.shape[1]}, grad_w=g_w.tolist(), grad_b=float(g_b))
    return facts


def run_records(results: Any, dataset: str, scaling: str, method: str) -> list[dict[str, Any]]:
    """The record of every run of one fit (repetition 0 and each ``{method}.rep{r}``)."""
    records = results.all_records or results.records
    return [rec for key, rec in sorted(records.items()) if key[:2] == (dataset, scaling) and fit_name(key[2]) == method]


def run_distances(results: Any, dataset: str, scaling: str, method: str, lstsq: np.ndarray) -> list[float]:
    """Each run's relative distance ‖θ − θ_lstsq‖/‖θ_lstsq‖ (``lstsq``: weights then bias) to
    least squares, from its record."""
    return [
        analysis.rel_diff(np.append(np.asarray(rec["weights"], dtype=np.float64), float(rec["bias"])), lstsq)
        for rec in run_records(results, dataset, scaling, method)
        if rec.get("weights") is not None and rec.get("bias") is not None
    ]


def batches_facts(rows: list[dict[str, Any]]) -> Facts:
    """What the batches step says of its table's ``rows`` (one per method, full batch first):
    ``fits`` (method, epochs, runs, median, low, high relative distance to least squares,
    seconds median, seconds_per_epoch), the method closest to least squares by median
    (``closest``) and the cheapest per epoch (``cheapest``, ``None`` without timings)."""
    fits = [
        {
            "method": row["method"],
            "epochs": row["epochs"],
            "runs": row["runs"],
            "median": row["rel_dist_median"],
            "low": row["low"],
            "high": row["high"],
            "seconds": row["seconds_median"],
            "seconds_per_epoch": row["seconds_median"] / row["epochs"]
            if row["seconds_median"] and row["epochs"]
            else None,
        }
        for row in rows
    ]
    timed = [f for f in fits if f["seconds_per_epoch"] is not None]
    return {
        "fits": fits,
        "closest": min(fits, key=lambda f: f["median"])["method"],
        "cheapest": min(timed, key=lambda f: f["seconds_per_epoch"])["method"] if len(timed) == len(fits) else None,
        "same_epochs": len({f["epochs"] for f in fits}) == 1,
    }


def batches_step(story: Story) -> Section | None:
    r = story.results
    present = [m for m in BATCH_METHODS if r.fit(LESSON0, "raw", m) is not None]
    if len(present) < 2:
        return None
    n = int(r.metas.get(LESSON0, {}).get("n", 0))
    rows = []
    for m in present:
        fit = r.fit(LESSON0, "raw", m)
        batch = (fit.get("settings") or {}).get("batch_size") or n
        epochs = int(fit["iterations"])
        lstsq = np.append(np.asarray(list(fit["lstsq_weights"]), dtype=np.float64), float(fit["lstsq_bias"]))
        runs = run_distances(r, LESSON0, "raw", m, lstsq) or [float(fit["rel_dist_to_lstsq"])]
        seconds = [float(rec["seconds"]) for rec in run_records(r, LESSON0, "raw", m) if rec.get("seconds") is not None]
        rows.append(
            {
                "method": m,
                "batch_size": batch,
                "epochs": epochs,
                "updates": epochs * -(-n // int(batch)),
                "runs": len(runs),
                "rel_dist_median": float(np.median(runs)),
                "rel_dist_range": f"{format_number(min(runs), 2)} – {format_number(max(runs), 2)}"
                if len(runs) > 1
                else "–",
                "low": min(runs),
                "high": max(runs),
                "seconds_median": float(np.median(seconds)) if seconds else None,
                "status": fit["status_text"] + (f" (run 0 of {len(runs)})" if len(runs) > 1 else ""),
            }
        )
    histories = {m: h for m in present if (h := r.history(LESSON0, "raw", m)) is not None}
    words, sid = story.words, "lesson0-batches"
    facts: Facts = {"dataset": LESSON0, **batches_facts(rows)}
    out = [
        blocks.paragraph(words.text(sid, "text", facts)),
        blocks.paragraph(words.text(sid, "result", facts)),
        blocks.table(
            rows,
            [
                "method",
                "batch_size",
                "epochs",
                "updates",
                "runs",
                "rel_dist_median",
                "rel_dist_range",
                "seconds_median",
                "status",
            ],
            "batches",
            {
                "batch_size": "batch size",
                "rel_dist_median": "relative distance to least squares (median over runs)",
                "rel_dist_range": "min – max over runs",
                "seconds_median": "fit time (s, median)",
            },
        ),
    ]
    if histories:
        out.append(
            blocks.figure(
                stepfigures.loss_compare_figure(
                    histories,
                    words.text(sid, "figure_title", facts),
                    "epoch",
                    float(r.fit(LESSON0, "raw", present[0])["lstsq_mse"]),
                    story.dpi,
                    # the epochs the stochastic variants ran, not the full-batch loop's longer run
                    xmax=max(row["epochs"] for row in rows[1:]) if len(rows) > 1 else None,
                ),
                words.text(sid, "figure_alt", facts),
                words.text(sid, "figure_caption", facts),
            )
        )
    return Section(sid, words.text(sid, "title", facts), out)


def matmul_step(story: Story) -> Section | None:
    r = story.results
    table, sidecar = r.benchmark, r.benchmark_sidecar or {}
    if table is None:
        return None
    lesson = table[table["backend"].isin(["naive_numpy_indexing", "naive_python", "numpy"])]
    if lesson.empty:
        return None
    claim = sidecar.get("lesson_claim", {})
    dtype = "float64" if (lesson["dtype"] == "float64").any() else str(lesson["dtype"].iloc[0])
    sub = lesson[lesson["dtype"] == dtype]
    backends = [b for b in ("naive_numpy_indexing", "naive_python", "numpy") if (sub["backend"] == b).any()]
    rows = []
    for n in sorted(set(sub["n"])):
        at = {r["backend"]: r for r in sub[sub["n"] == n].to_dict("records")}
        row: dict[str, object] = {"n": int(n)}
        for b in backends:
            row[b] = at[b]["seconds_median"] if b in at else None
        row["estimated"] = ", ".join(b for b in backends if b in at and bool(at[b]["extrapolated"])) or "–"
        if "numpy" in at and "naive_numpy_indexing" in at:
            row["speedup"] = float(at["naive_numpy_indexing"]["seconds_median"]) / float(at["numpy"]["seconds_median"])
        rows.append(row)
    words, sid = story.words, "lesson0-matmul"
    facts: Facts = {"limit_seconds": claim.get("seconds"), "limit_n": claim.get("n"), "dtype": dtype}
    out = [blocks.paragraph(words.text(sid, "text", facts))]
    out.append(
        blocks.table(
            rows,
            ["n", *backends, "estimated", "speedup"],
            "matmul_lesson",
            {
                "naive_numpy_indexing": "lesson's loop (s)",
                "naive_python": "list loop (s)",
                "numpy": "np.matmul (s)",
                "estimated": "extrapolated",
                "speedup": "np.matmul speed-up over the lesson's loop",
            },
        )
    )
    # Every backend's speed-up (torch, CUDA): beyond the lesson's loop against NumPy.
    out += blocks.for_engineers(
        figure_block(
            story, "matmul_speedup", words.text(sid, "speedup_alt", facts), words.text(sid, "speedup_caption", facts)
        )
    )
    # GFLOP/s against n is under Beyond the lessons (beyond-matmul): drawn once on the page.
    return Section(sid, words.text(sid, "title", facts), out)


#: Lesson 0's steps, in the lesson's order.
STEPS = [guessing_step, vectors_step, x2_step, minima_step, matrix_form_step, batches_step, matmul_step]
