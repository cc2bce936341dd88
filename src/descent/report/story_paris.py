"""The Paris rent lesson, step by step in the lesson's order: the data; the loss surface; descent
on the raw data (and why the intercept barely moves); standardization; descent on standardized
data; the hand gradient against autograd; the autograd loop; ``nn.Linear``; predictions; the
closed form (the certified float64 solution and the lesson's own ``torch.linalg.lstsq`` call);
every fit compared.

Each step is two functions: ``*_facts(story)`` returns the facts the step shows (a plain dict of
numbers and names, read from what the fits recorded; ``None`` when this run lacks them, e.g. no
``paris_rent`` dataset), and ``*_step(story)`` lays out the section: its words come from the
template ``templates/steps/{section id}.j2`` (:mod:`descent.report.words`), its tables and
figures from the results.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descent.report import analysis, blocks, stepfigures
from descent.report.figures import predictions_figure
from descent.report.findings import iterations_to_tolerance
from descent.report.sections import Section, Story
from descent.report.storykit import (
    PARIS,
    explorer_block,
    figure_block,
    findings_block,
    fits_table,
    gradient_block,
    interactive_surface,
    paris_data,
    predictions_blocks,
    summary_block,
)
from descent.report.storykit import (
    PARIS_LOOPS as LOOPS,
)

Facts = dict[str, Any]

#: Half-widths of the lesson's (w, b) grid around the true parameters, and its points per axis.
LESSON_GRID: tuple[float, float, int] = (10.0, 100.0, 50)


def _labels(meta: dict[str, Any]) -> tuple[str, str]:
    return meta["features"][0], meta["target"]


def _lstsq(story: Story) -> tuple[float, float]:
    """The certified least-squares ``(w, b)`` of the Paris data, as the fit stage recorded it;
    before any fit is shown (the class page's first steps: :mod:`descent.report.classpage`), the
    float64 least squares of the data."""
    fits, got = story.results.fits_of(PARIS), paris_data(story)
    if fits.empty and got is not None:
        w, b = analysis.least_squares(got[0], got[1])
        return float(w), float(b)
    row = fits.iloc[0]
    return float(row["lstsq_weights"][0]), float(row["lstsq_bias"])


def _conditioning(story: Story, scaling: str) -> dict[str, Any] | None:
    """The fit stage's conditioning of the Paris loss (``results/fits/conditioning.parquet``)."""
    table = story.results.conditioning
    if table is None:
        return None
    rows = table[(table["dataset"] == PARIS) & (table["scaling"] == scaling)]
    return rows.iloc[0].to_dict() if not rows.empty else None


def _start(story: Story) -> tuple[float, float] | None:
    """Where the lesson's raw descent starts (its ``init``), also before the descent is shown."""
    fit = story.results.unrestricted.fit(PARIS, "raw", "manual_gd")
    if fit is None or not fit.get("init"):
        return None
    return float(fit["init"]["weights"][0]), float(fit["init"]["bias"])


# ----------------------------------------------------------------------------- the data


def data_facts(story: Story) -> Facts | None:
    got = paris_data(story)
    if got is None:
        return None
    X, y, meta = got
    x, spec = X[:, 0], meta.get("spec", {})
    feature, target = _labels(meta)
    lstsq_w, lstsq_b = _lstsq(story)
    return {
        "n": meta["n"],
        "seed": meta["seed"],
        "dtype": meta.get("dtype"),
        "feature": feature,
        "target": target,
        "low": spec.get("low"),
        "high": spec.get("high"),
        "noise_std": spec.get("noise_std"),
        "true_w": meta["true_weights"][0],
        "true_b": meta["true_bias"],
        "x_min": float(x.min()),
        "x_max": float(x.max()),
        "x_mean": float(x.mean()),
        "y_min": float(y.min()),
        "y_max": float(y.max()),
        "y_mean": float(y.mean()),
        "lstsq_w": lstsq_w,
        "lstsq_b": lstsq_b,
    }


def data_step(story: Story) -> Section | None:
    facts, got = data_facts(story), paris_data(story)
    if facts is None or got is None:
        return None
    X, y, _ = got
    words, sid = story.words, "paris-data"
    explorer = explorer_block(story, PARIS)
    return Section(
        sid,
        words.text(sid, "title", facts),
        [
            blocks.paragraph(words.text(sid, "text", facts)),
            blocks.facts(words.facts(sid, "facts", facts)),
            blocks.figure(
                stepfigures.data_figure(
                    X[:, 0],
                    y,
                    (facts["true_w"], facts["true_b"]),
                    (facts["lstsq_w"], facts["lstsq_b"]),
                    (facts["feature"], facts["target"]),
                    story.dpi,
                ),
                words.text(sid, "figure_alt", facts),
                words.text(sid, "figure_caption", facts),
            ),
            *(
                [blocks.paragraph(words.text(sid, "explorer", {**facts, "explorer": explorer[0]["data"]})), *explorer]
                if explorer
                else []
            ),
        ],
    )


# ----------------------------------------------------------------------------- the loss surface


def surface_grid(surface: Any) -> Facts:
    """The extent of the workflow's loss-surface grid (``results/fits/{dataset}/{scaling}/
    loss_surface.parquet``: columns ``w``, ``b``, ``mse``), which the contour figures draw:
    ``w_low``, ``w_high``, ``b_low``, ``b_high``, points per axis ``n_w``, ``n_b``, and the MSE
    range ``mse_low``, ``mse_high`` on it."""
    return {
        "w_low": float(surface["w"].min()),
        "w_high": float(surface["w"].max()),
        "b_low": float(surface["b"].min()),
        "b_high": float(surface["b"].max()),
        "n_w": int(surface["w"].nunique()),
        "n_b": int(surface["b"].nunique()),
        "mse_low": float(surface["mse"].min()),
        "mse_high": float(surface["mse"].max()),
    }


def surface_facts(story: Story) -> Facts | None:
    got, surface = paris_data(story), story.results.surfaces.get((PARIS, "raw"))
    if got is None or surface is None:
        return None
    X, y, meta = got
    tw, tb = float(meta["true_weights"][0]), float(meta["true_bias"])
    half_w, half_b, points = LESSON_GRID
    grid = analysis.mse_grid(
        X[:, 0], y, np.linspace(tw - half_w, tw + half_w, points), np.linspace(tb - half_b, tb + half_b, points)
    )
    w_star, b_star = _lstsq(story)
    start = _start(story)
    return {
        "true_w": tw,
        "true_b": tb,
        "grid_w": half_w,
        "grid_b": half_b,
        "grid_min": float(grid.min()),
        "grid_max": float(grid.max()),
        "figure_grid": surface_grid(surface),
        "mse_true": analysis.mse_at(X, y, [tw], tb),
        "mse_lstsq": analysis.mse_at(X, y, [w_star], b_star),
        "lstsq_w": w_star,
        "lstsq_b": b_star,
        "start": (
            {"w": start[0], "b": start[1], "mse": analysis.mse_at(X, y, [start[0]], start[1])} if start else None
        ),
    }


def surface_step(story: Story) -> Section | None:
    facts = surface_facts(story)
    if facts is None:
        return None
    words, sid = story.words, "paris-loss-surface"
    points = {
        "least squares": (facts["lstsq_w"], facts["lstsq_b"]),
        words.text(sid, "label_true", facts): (facts["true_w"], facts["true_b"]),
    }
    if facts["start"]:
        points[words.text(sid, "label_start", facts)] = (facts["start"]["w"], facts["start"]["b"])
    surface = story.results.surfaces[(PARIS, "raw")]
    return Section(
        sid,
        words.text(sid, "title", facts),
        [
            blocks.paragraph(words.text(sid, "text", facts)),
            blocks.facts(words.facts(sid, "facts", facts)),
            blocks.figure(
                stepfigures.contour_figure(surface, {}, points, words.text(sid, "figure_title", facts), story.dpi),
                words.text(sid, "figure_alt", facts),
                words.text(sid, "figure_caption", facts),
            ),
            *interactive_surface(story, PARIS),
        ],
    )


# ----------------------------------------------------------------------------- raw descent


def raw_descent_facts(story: Story) -> Facts | None:
    """The raw descent's end, and why the intercept barely moves: the start's gradient and the
    exact descent along the Hessian's eigen-directions (computed here: the fit stage records the
    conditioning, not the path per direction)."""
    got, r = paris_data(story), story.results
    fit = r.fit(PARIS, "raw", "manual_gd")
    cond = _conditioning(story, "raw")
    if got is None or fit is None or (PARIS, "raw") not in r.surfaces or not fit.get("init") or cond is None:
        return None
    X, y, _ = got
    w0, b0 = float(fit["init"]["weights"][0]), float(fit["init"]["bias"])
    lr, iters = float(fit["lr"]), int(fit["iterations"])
    g_w, g_b = analysis.gradient(X, y, [w0], b0)
    d = analysis.descent_by_direction(X, y, [w0], b0, lr, iters)
    (mu, L), vec = d["eigenvalues"], d["eigenvectors"]
    w_star, b_star = _lstsq(story)
    x = X[:, 0]
    b_end = float(fit["bias"])
    return {
        "lr": lr,
        "iterations": iters,
        "w0": w0,
        "b0": b0,
        "w_end": float(fit["weights"][0]),
        "b_end": b_end,
        # The slope that minimises the loss with the intercept held at b_end: Σx(y − b)/Σx².
        "w_given_b": float(x @ (y - b_end) / (x @ x)),
        "lstsq_w": w_star,
        "lstsq_b": b_star,
        "grad_w": float(g_w[0]),
        "grad_b": float(g_b),
        "x_mean": float(X[:, 0].mean()),
        "speed_ratio": abs(float(g_w[0]) / g_b),
        "L": float(L),
        "mu": float(mu),
        "steep": [float(vec[0, 1]), float(vec[1, 1])],
        "flat": [float(vec[0, 0]), float(vec[1, 0])],
        "covered_steep": float(d["covered"][1]),
        "covered_flat": float(d["covered"][0]),
        "b_predicted": float(d["theta"][-1]),
        "b_move_steep": float(d["b_moves"][1]),
        "b_move_flat": float(d["b_moves"][0]),
        "moved": abs(float(fit["bias"]) - b0) / abs(b_star - b0),
        "max_stable_step": float(cond["max_stable_lr"]),
        "condition_number": float(cond["kappa"]),
    }


def raw_descent_step(story: Story) -> Section | None:
    facts = raw_descent_facts(story)
    if facts is None:
        return None
    r, words, sid = story.results, story.words, "paris-raw-descent"
    # The lesson's loop only: the other loops' paths coincide with it (the table shows them).
    paths = {m: hist for m in LOOPS[:1] if (hist := r.history(PARIS, "raw", m)) is not None}
    return Section(
        sid,
        words.text(sid, "title", facts),
        [
            blocks.paragraph(words.text(sid, "text", facts)),
            blocks.paragraph(words.text(sid, "why", facts)),
            *fits_table(story, PARIS, [("raw", m) for m in LOOPS], "paris_raw_descent"),
            blocks.figure(
                stepfigures.contour_figure(
                    r.surfaces[(PARIS, "raw")],
                    paths,
                    {"least squares": (facts["lstsq_w"], facts["lstsq_b"])},
                    words.text(sid, "figure_title", facts),
                    story.dpi,
                    traces=True,
                ),
                words.text(sid, "figure_alt", facts),
                words.text(sid, "figure_caption", facts),
            ),
        ],
    )


# ----------------------------------------------------------------------------- standardization


def standardization_facts(story: Story) -> Facts | None:
    got = paris_data(story)
    raw, std = _conditioning(story, "raw"), _conditioning(story, "standardized")
    if got is None or raw is None or std is None:
        return None
    X, y, meta = got
    Xs, ys, stats = analysis.standardize(X, y)
    slope = analysis.least_squares(Xs, ys)
    feature, target = _labels(meta)
    return {
        "feature": feature,
        "target": target,
        "x_mean": float(stats["x_mean"][0]),
        "x_std": float(stats["x_std"][0]),
        "y_mean": float(stats["y_mean"]),
        "y_std": float(stats["y_std"]),
        "condition_raw": float(raw["kappa"]),
        "condition_standardized": float(std["kappa"]),
        "max_step_raw": float(raw["max_stable_lr"]),
        "max_step_standardized": float(std["max_stable_lr"]),
        "slope": float(slope[0]),
        "intercept": float(slope[1]) + 0.0,
    }


def standardization_step(story: Story) -> Section | None:
    facts, got = standardization_facts(story), paris_data(story)
    if facts is None or got is None:
        return None
    X, y, _ = got
    Xs, ys, _ = analysis.standardize(X, y)
    words, sid = story.words, "paris-standardization"
    return Section(
        sid,
        words.text(sid, "title", facts),
        [
            blocks.paragraph(words.text(sid, "text", facts)),
            blocks.facts(words.facts(sid, "facts", facts)),
            blocks.figure(
                stepfigures.standardization_figure(
                    X[:, 0], y, Xs[:, 0], ys, (facts["feature"], facts["target"]), story.dpi
                ),
                words.text(sid, "figure_alt", facts),
                words.text(sid, "figure_caption", facts),
            ),
        ],
    )


# ----------------------------------------------------------------------------- standardized descent


def standardized_descent_facts(story: Story) -> Facts | None:
    r = story.results
    fit = r.fit(PARIS, "standardized", "manual_gd")
    if fit is None:
        return None
    settings = fit.get("settings", {})
    history = r.history(PARIS, "standardized", "manual_gd")
    needed = (
        iterations_to_tolerance(history, float(settings["tolerance"]), settings.get("stop_criterion", "grad_norm"))
        if history is not None and "tolerance" in settings
        else None
    )
    init, fitted = fit.get("init") or {}, fit.get("fitted_space", {})
    return {
        "lr": fit["lr"],
        "iterations": int(fit["iterations"]),
        "w0": init.get("weights", [None])[0],
        "b0": init.get("bias"),
        "ws": fitted.get("weights", [None])[0],
        "bs": fitted.get("bias"),
        "w": fit["weights"][0],
        "b": fit["bias"],
        "rel_dist": float(fit["rel_dist_to_lstsq"]),
        "tolerance": float(settings["tolerance"]) if "tolerance" in settings else None,
        "needed": needed,
    }


def standardized_descent_step(story: Story) -> Section | None:
    facts = standardized_descent_facts(story)
    if facts is None:
        return None
    words, sid = story.words, "paris-standardized-descent"
    return Section(
        sid,
        words.text(sid, "title", facts),
        [
            blocks.paragraph(words.text(sid, "text", facts)),
            *fits_table(story, PARIS, [("standardized", m) for m in LOOPS[:1]], "paris_standardized_descent"),
            *figure_block(
                story,
                f"{PARIS}_surface",
                words.text(sid, "figure_alt", facts),
                words.text(sid, "figure_caption", facts),
            ),
        ],
    )


# ----------------------------------------------------------------------------- the gradient check


def gradient_check_step(story: Story) -> Section | None:
    grad = gradient_block(story, PARIS)
    if not grad:
        return None
    words, sid = story.words, "paris-gradient-check"
    facts: Facts = {}
    return Section(
        sid,
        words.text(sid, "title", facts),
        [
            blocks.paragraph(words.text(sid, "text", facts)),
            *grad,
            # Every dataset's check, beyond the lessons' two: the full page's.
            *blocks.for_engineers(
                figure_block(
                    story,
                    "gradient_check",
                    words.text(sid, "figure_alt", facts),
                    words.text(sid, "figure_caption", facts),
                )
            ),
        ],
    )


# ----------------------------------------------------------------------------- autograd and nn.Linear


def loop_facts(story: Story, method: str) -> Facts | None:
    """A standardized training loop's end against the hand-gradient loop's (``manual_gd``)."""
    r = story.results
    fit, ref = r.fit(PARIS, "standardized", method), r.fit(PARIS, "standardized", "manual_gd")
    if fit is None or ref is None:
        return None
    init = fit.get("init") or {}
    return {
        "method": method,
        "w": fit["weights"][0],
        "b": fit["bias"],
        "w0": (init.get("weights") or [None])[0],
        "b0": init.get("bias"),
        "lr": float(fit["lr"]),
        "status": fit["status_text"],
        "diff": analysis.rel_diff(analysis.theta(fit), analysis.theta(ref)),
        "rel_dist": float(fit["rel_dist_to_lstsq"]),
    }


def _loop_step(story: Story, facts: Facts | None, section_id: str) -> Section | None:
    if facts is None:
        return None
    r, words, method = story.results, story.words, facts["method"]
    histories = {m: h for m in ("manual_gd", method) if (h := r.history(PARIS, "standardized", m)) is not None}
    out = [
        blocks.paragraph(words.text(section_id, "text", facts)),
        blocks.paragraph(words.text(section_id, "result", facts)),
        *fits_table(story, PARIS, [("standardized", "manual_gd"), ("standardized", method)], f"paris_{method}"),
    ]
    if len(histories) == 2:
        out.append(
            blocks.figure(
                stepfigures.loss_compare_figure(
                    histories, words.text(section_id, "figure_title", facts), dpi=story.dpi
                ),
                words.text(section_id, "figure_alt", facts),
                words.text(section_id, "figure_caption", facts),
            )
        )
    return Section(section_id, words.text(section_id, "title", facts), out)


def autograd_step(story: Story) -> Section | None:
    return _loop_step(story, loop_facts(story, "autograd"), "paris-autograd")


def nn_linear_facts(story: Story) -> Facts | None:
    """:func:`loop_facts` of ``nn_linear``, with its loss reduction; for ``sum``, the data's size
    and the standardized loss's best constant step 1/L (the fit stage's conditioning)."""
    facts = loop_facts(story, "nn_linear")
    if facts is None:
        return None
    fit = story.results.fit(PARIS, "standardized", "nn_linear") or {}
    ref = story.results.fit(PARIS, "standardized", "manual_gd") or {}
    cond = _conditioning(story, "standardized") if paris_data(story) is not None else None
    L = float(cond["lambda_max"]) if cond is not None else None
    return {
        **facts,
        "reduction": fit.get("settings", {}).get("loss_reduction", "mean"),
        "n": int(story.results.metas.get(PARIS, {}).get("n", 0)) or 1,
        "L": L,
        "best_step": 1 / L if L else None,
        "ref_lr": float(ref["lr"]) if ref.get("lr") else None,
    }


def nn_linear_step(story: Story) -> Section | None:
    return _loop_step(story, nn_linear_facts(story), "paris-nn-linear")


# ----------------------------------------------------------------------------- predictions


def predictions_facts(story: Story) -> Facts:
    fit = story.results.fit(PARIS, "standardized", "manual_gd")
    return {"model": {"w": fit["weights"][0], "b": fit["bias"]} if fit is not None else None}


def predictions_step(story: Story) -> Section | None:
    words, sid = story.words, "paris-predictions"
    facts = predictions_facts(story)
    preds = predictions_blocks(story, PARIS, words.text(sid, "table_caption", facts))
    if not preds:
        return None
    predictions = story.results.predictions
    sub = predictions[predictions["dataset"] == PARIS]
    figure = []
    if not sub.empty:
        figure = [
            blocks.figure(
                stepfigures.to_png(
                    predictions_figure(sub, {PARIS: story.results.metas.get(PARIS, {}).get("features", [])}),
                    story.dpi,
                ),
                words.text(sid, "figure_alt", facts),
                words.text(sid, "figure_caption", facts),
            )
        ]
    return Section(
        sid, words.text(sid, "title", facts), [blocks.paragraph(words.text(sid, "text", facts)), *preds, *figure]
    )


# ----------------------------------------------------------------------------- the closed form


def closed_form_facts(story: Story) -> Facts | None:
    r = story.results
    ref = r.fit(PARIS, "raw", "lstsq")
    if ref is None:
        return None
    cert = ref.get("certificate") or {}
    facts: Facts = {
        "w": ref["weights"][0],
        "b": ref["bias"],
        "condition_number": cert.get("condition_number"),
        "normal_residual": cert.get("normal_residual"),
        "error_bound": cert.get("error_bound"),
        "lesson": None,
    }
    lesson = r.fit(PARIS, "raw", "lstsq_lesson")
    if lesson is not None:
        facts["lesson"] = {
            "dtype": lesson.get("dtype", "float32"),
            "driver": lesson.get("driver", "?"),
            "w": lesson["weights"][0],
            "b": lesson["bias"],
            "diff": analysis.rel_diff(analysis.theta(lesson), analysis.theta(ref)),
            "dw": abs(float(lesson["weights"][0]) - float(ref["weights"][0])),
            "db": abs(float(lesson["bias"]) - float(ref["bias"])),
            "error_bound": (lesson.get("certificate") or {}).get("error_bound"),
            "status": lesson["status_text"],
        }
    return facts


def closed_form_step(story: Story) -> Section | None:
    facts = closed_form_facts(story)
    if facts is None:
        return None
    r, words, sid = story.results, story.words, "paris-closed-form"
    out = [blocks.paragraph(words.text(sid, "text", facts))]
    if facts["lesson"] is not None:
        out.append(blocks.paragraph(words.text(sid, "lesson", facts)))
    fits = r.fits_of(PARIS)
    closed = [
        (s, m)
        for s, m, base in zip(fits["scaling"], fits["method"], fits["base_method"])
        if base in ("lstsq", "sklearn")
    ]
    out += fits_table(story, PARIS, closed, "paris_closed_forms", extra=["condition_number", "error_bound"])
    out += figure_block(
        story, f"{PARIS}_fits", words.text(sid, "figure_alt", facts), words.text(sid, "figure_caption", facts)
    )
    return Section(sid, words.text(sid, "title", facts), out)


# ----------------------------------------------------------------------------- every fit


def all_fits_step(story: Story) -> Section | None:
    table = summary_block(story, PARIS)
    if not table:
        return None
    words, sid = story.words, "paris-all-fits"
    facts = all_fits_facts(story.results.fits_of(PARIS))
    return Section(
        sid,
        words.text(sid, "title", facts),
        [
            blocks.paragraph(words.text(sid, "text", facts)),
            *findings_block(story, PARIS),
            *table,
            *figure_block(
                story, f"{PARIS}_loss", words.text(sid, "figure_alt", facts), words.text(sid, "figure_caption", facts)
            ),
        ],
    )


#: The methods the Paris lesson itself runs (its three loops and ``torch.linalg.lstsq``).
PARIS_LESSON_METHODS: tuple[str, ...] = (*LOOPS, "lstsq_lesson")


def all_fits_facts(fits: Any) -> Facts:
    """Which fits of the Paris data this run has (``fits``: its marked summary rows): ``n_fits``,
    ``scalings``, the lesson's own methods present (``lesson``) and the others (``beyond``), each
    in the summary's order."""
    methods = list(dict.fromkeys(str(m) for m in fits["method"]))
    return {
        "n_fits": int(len(fits)),
        "scalings": list(dict.fromkeys(str(s) for s in fits["scaling"])),
        "lesson": [m for m in methods if m in PARIS_LESSON_METHODS],
        "beyond": [m for m in methods if m not in PARIS_LESSON_METHODS],
    }


#: The Paris lesson's steps, in the lesson's order.
STEPS = [
    data_step,
    surface_step,
    raw_descent_step,
    standardization_step,
    standardized_descent_step,
    gradient_check_step,
    autograd_step,
    nn_linear_step,
    predictions_step,
    closed_form_step,
    all_fits_step,
]
