"""Lesson 0, step by step in the lesson's order: random guessing (binomial); vectors, the dot
product and the bias folded in (the worked examples); descent on x²; minima and restarts; the
matrix form trained on the lesson's dataset; batch, mini-batch and stochastic descent; the naive
triple loop against NumPy's matrix product. Each builder returns ``None`` when this run lacks its
results (lessons or benchmark switched off, the dataset not configured)."""

from __future__ import annotations

import numpy as np

from descent.report import analysis, blocks, stepfigures
from descent.report.formatting import format_number as fmt
from descent.report.formatting import format_vector
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


def guessing_step(story: Story) -> Section | None:
    b = story.results.lessons.get("binomial")
    table = story.results.lesson_tables.get("binomial")
    if not b:
        return None
    out = [
        blocks.paragraph(
            f"{b['n_tests']:,} tests of {b['n_questions']} true/false questions, each answered at random (p = {fmt(b['p'])}). "
            f"The number right is binomial: mean {fmt(b['mean_correct'], 6)} against n·p = {fmt(b['expected_mean_correct'])}, "
            f"variance {fmt(b['variance_correct'], 6)} against n·p·(1 − p) = {fmt(b['expected_variance_correct'])}."
        )
    ]
    if table is not None:
        top = table.loc[table["observed_count"].idxmax()]
        out.append(
            blocks.paragraph(
                f"The most common score is {int(top['n_correct'])} right ({fmt(100 * float(top['fraction_correct']), 3)} %), "
                f"in {fmt(100 * float(top['observed_frequency']), 4)} % of the tests; the exact probability is "
                f"{fmt(100 * float(top['exact_probability']), 4)} %."
            )
        )
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
    long_test = b.get("long_test")
    if long_test:
        out.append(
            blocks.paragraph(
                f"One long test of {long_test['n_questions']:,} questions: {long_test['n_correct']:,} right, "
                f"{fmt(long_test['fraction_correct'], 4)} (z = {fmt(long_test['z_score'], 3)}) — one draw, not a distribution."
            )
        )
    out += figure_block(
        story,
        "lessons_binomial",
        "Random guessing: histogram against the binomial",
        "Fraction right over all tests against the exact binomial probabilities.",
    )
    return Section("lesson0-guessing", "Guessing at random: the binomial distribution", out)


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
    term_rows.append({"term": "sum (the dot product)", "product": float(np.dot(dot["u"], dot["v"]))})
    return Section(
        "lesson0-vectors",
        "Vectors, the dot product and the linear model",
        [
            blocks.paragraph(
                "Worked example 1 — same direction: divide each vector by its length; equal unit vectors "
                "mean the vectors point the same way."
            ),
            blocks.table(
                unit_rows,
                ["vector", "norm_squared", "norm", "unit_vector"],
                "vectors_unit",
                {"norm_squared": "squared length", "norm": "length", "unit_vector": "unit vector"},
            ),
            blocks.paragraph(
                f"Largest difference between the unit vectors: {fmt(unit['max_abs_difference'], 2)} "
                f"({'they coincide' if unit['coincide'] else 'they differ'})."
            ),
            *(
                [
                    blocks.figure(
                        stepfigures.vectors_figure(unit["vectors"], unit["unit_vectors"][0], story.dpi),
                        "The example vectors and their unit vector",
                        "Both vectors lie on one line through the "
                        "origin; dividing by the length gives the same unit vector.",
                    )
                ]
                if all(len(v) == 3 for v in unit["vectors"])
                else []
            ),
            blocks.paragraph(
                f"Worked example 2 — the dot product, term by term (by hand, then NumPy: {fmt(dot['dot_numpy'])})."
            ),
            blocks.table(term_rows, ["term", "u", "v", "product"], "vectors_dot"),
            blocks.paragraph(
                "Worked example 3 — a linear model's output, with the bias folded into the dot product "
                f"(seed {model['seed']}, {model['n_inputs']} inputs):"
            ),
            blocks.facts(
                [
                    ("weights w", format_vector(model["weights"], 6)),
                    ("inputs x", format_vector(model["inputs"], 6)),
                    ("bias b", fmt(model["bias"], 6)),
                    ("w·x + b", fmt(model["output"], 10)),
                    ("(w, b)·(x, 1)", fmt(model["output_folded"], 10)),
                    ("difference", fmt(model["abs_difference"], 2)),
                ]
            ),
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
    return Section(
        "lesson0-x2-descent",
        "Gradient descent on y = x²",
        [
            blocks.paragraph(
                f"From x = {fmt(d['x0'])} the update is x ← x − step·2x = (1 − 2·step)·x: a step below 1 "
                f"shrinks x towards the minimum at 0, a step above 1 flips its sign and grows it. Stop: "
                f"|x_new − x_old| < {fmt(d['tolerance'])}, or diverged beyond {fmt(d['divergence_bound'])}."
            ),
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
            *figure_block(story, "lessons_descent_x2", "Descent on x²", "Iterates of both step sizes on y = x²."),
        ],
    )


def minima_step(story: Story) -> Section | None:
    m = story.results.lessons.get("minima")
    if not m:
        return None
    rows = [
        {
            "x": f["x"],
            "f": f["f"],
            "minimum": "global" if f["is_global"] else "local",
            "starts": f["starts"],
            "fraction": f["fraction"],
        }
        for f in m.get("minima_found", [])
    ]
    stationary = "; ".join(
        f"x = {fmt(s['x0'])} ({s['kind']}): moved {fmt(s['distance_moved'])}, {s['status']} after "
        f"{s['iterations']} iteration(s)"
        for s in m.get("stationary_starts", [])
    )
    return Section(
        "lesson0-minima",
        "Local and global minima, and restarts",
        [
            blocks.paragraph(
                f"{m['function']}, i.e. {m['derivative']}: minima at "
                + ", ".join(fmt(x["x"]) for x in m.get("local_minima", []))
                + f", the global one f({format_vector(m['global_minimum']['x'])[1:-1]}) = "
                f"{m['global_minimum']['f_exact']}; maxima at "
                + ", ".join(fmt(x["x"]) for x in m.get("local_maxima", []))
                + f". {m['n_starts']} random starts in [{fmt(m['start_range'][0])}, {fmt(m['start_range'][1])}], "
                f"step {fmt(m['step_size'])}."
            ),
            blocks.table(
                rows,
                ["x", "f", "minimum", "starts", "fraction"],
                "minima_found",
                {"x": "minimum at x", "f": "f(x)", "starts": "starts ending there", "fraction": "fraction"},
            ),
            blocks.paragraph(
                f"{fmt(100 * float(m['fraction_global']), 3)} % of the starts reach the global minimum; the "
                f"best of all restarts {'is' if m['best_is_global'] else 'is not'} the global minimum. Started "
                f"exactly on a maximum: {stationary or 'none'}."
            ),
            *figure_block(story, "lessons_minima", "Minima and restarts", "Where each random start ended."),
        ],
    )


def matrix_form_step(story: Story) -> Section | None:
    r = story.results
    fit = r.fit(LESSON0, "raw", "manual_gd")
    if fit is None:
        return None
    meta = r.metas.get(LESSON0, {})
    init = fit.get("init") or {}
    out = [
        blocks.paragraph(
            f"The matrix form on the lesson's data ({meta.get('n')} points, y = {fmt(meta.get('true_bias'))} + "
            f"{fmt((meta.get('true_weights') or [None])[0])}x + noise, NumPy seed {meta.get('seed')}): predictions "
            f"P = X·W + b, residuals R = Y − P, gradients −2/n·Xᵀ·R and −2/n·ΣR. The lesson's loop starts from W = "
            f"{format_vector(init.get('weights', []), 6)}, b = {fmt(init.get('bias'), 6)} (drawn with np.random.randn right "
            f"after the data), step {fmt(fit['lr'])}, {int(fit['iterations'])} iterations, and ends at W = "
            f"{format_vector(fit['weights'], 6)}, b = {fmt(fit['bias'], 6)} — {fmt(float(fit['rel_dist_to_lstsq']), 2)} "
            f"(relative) from least squares ({fit['status_text']})."
        )
    ]
    data = r.data(LESSON0)
    if data is not None:
        X, y = data
        g_w, g_b = analysis.gradient(X, y, init.get("weights", [0.0]), float(init.get("bias", 0.0)))
        out.append(
            blocks.paragraph(
                f"Shapes: X {X.shape}, W ({X.shape[1]}, 1), R ({len(y)}, 1); Xᵀ·R is ({X.shape[1]}, 1), one entry per "
                f"weight. At the start the gradient is ∂W = {format_vector(g_w.tolist(), 6)}, ∂b = {fmt(g_b, 6)}."
            )
        )
    out += gradient_block(story, LESSON0) + findings_block(story, LESSON0) + summary_block(story, LESSON0)
    out += figure_block(
        story, f"{LESSON0}_fits", f"{LESSON0}: data and fitted lines", "The data with every fit; dotted: y = 4 + 3x."
    )
    out += figure_block(
        story,
        f"{LESSON0}_surface",
        f"{LESSON0}: loss surface and paths",
        "MSE over (W, b), raw and standardized, with the descent paths.",
    )
    out += interactive_surface(story, LESSON0) + explorer_block(story, LESSON0)
    return Section("lesson0-matrix-form", "The matrix form, trained on the lesson's data", out)


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
        rows.append(
            {
                "method": m,
                "batch_size": batch,
                "epochs": epochs,
                "updates": epochs * -(-n // int(batch)),
                "weights": fit["weights"],
                "bias": fit["bias"],
                "rel_dist_to_lstsq": fit["rel_dist_to_lstsq"],
                "status": fit["status_text"],
            }
        )
    histories = {m: h for m in present if (h := r.history(LESSON0, "raw", m)) is not None}
    out = [
        blocks.paragraph(
            "Full-batch descent uses every row for each update; mini-batch descent a shuffled batch of "
            "rows; stochastic descent one row at a time — more, noisier updates per pass over the data "
            "(an epoch)."
        ),
        blocks.table(
            rows,
            ["method", "batch_size", "epochs", "updates", "weights", "bias", "rel_dist_to_lstsq", "status"],
            "batches",
            {"batch_size": "batch size", "rel_dist_to_lstsq": "relative distance to least squares"},
        ),
    ]
    if histories:
        out.append(
            blocks.figure(
                stepfigures.loss_compare_figure(
                    histories,
                    f"{LESSON0}, raw: loss after each epoch",
                    "epoch",
                    float(r.fit(LESSON0, "raw", present[0])["lstsq_mse"]),
                    story.dpi,
                ),
                "Batch, mini-batch and stochastic descent",
                "MSE at the end of each epoch (log scale); dotted: the least-squares minimum.",
            )
        )
    return Section("lesson0-batches", "Batch, mini-batch and stochastic descent", out)


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
    out = [
        blocks.paragraph(
            f"The lesson times its triple loop, D[i, j] += A[i, k]·B[k, j] over NumPy arrays, against np.matmul, and "
            f"promises no more than {fmt(claim.get('seconds'))} s at n = {claim.get('n')}. Median seconds per product "
            f"({dtype}, the lesson's dtype); sizes beyond those measured are extrapolated as O(n³) and listed as "
            f"estimated. naive_python is the same loop over Python lists; every backend and dtype is under Beyond the "
            f"lessons."
        )
    ]
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
    out += figure_block(
        story,
        "matmul_speedup",
        "matmul speed-up over the lesson's loop",
        "Speed-up of every backend over the lesson's loop (extrapolated points hollow).",
    )
    out += figure_block(story, "matmul_gflops", "matmul GFLOP/s", "GFLOP/s against n, log-log.")
    return Section("lesson0-matmul", "The naive triple loop against NumPy", out)


#: Lesson 0's steps, in the lesson's order.
STEPS = [guessing_step, vectors_step, x2_step, minima_step, matrix_form_step, batches_step, matmul_step]
