"""The Paris rent lesson, step by step in the lesson's order, each step with the numbers this run
computed and a figure: the data; the loss surface; descent on the raw data (and why the intercept
barely moves); standardization; descent on standardized data; the hand gradient against
autograd; the autograd loop; ``nn.Linear``; predictions; the closed form (the certified float64
solution and the lesson's own ``torch.linalg.lstsq`` call); every fit compared.

Each builder returns ``None`` when this run lacks what it shows (e.g. no ``paris_rent`` dataset).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from descent.report import analysis, blocks, stepfigures
from descent.report.findings import iterations_to_tolerance
from descent.report.formatting import format_number as fmt
from descent.report.sections import Section, Story
from descent.report.story_paris_fits import (
    all_fits_step,
    autograd_step,
    closed_form_step,
    gradient_check_step,
    nn_linear_step,
    predictions_step,
)
from descent.report.storykit import (
    PARIS,
    explorer_block,
    figure_block,
    fits_table,
    interactive_surface,
    paris_data,
)
from descent.report.storykit import (
    PARIS_LOOPS as LOOPS,
)


def _labels(meta: dict[str, Any]) -> tuple[str, str]:
    return meta["features"][0], meta["target"]


def data_step(story: Story) -> Section | None:
    got = paris_data(story)
    if got is None:
        return None
    X, y, meta = got
    x = X[:, 0]
    spec = meta.get("spec", {})
    w_star, b_star = analysis.least_squares(X, y)
    feature, target = _labels(meta)
    text = (
        f"{meta['n']} apartments, generated as the lesson does (torch seed {meta['seed']}, {meta.get('dtype')}): "
        f"{feature} uniform in [{fmt(spec.get('low'))}, {fmt(spec.get('high'))}], {target} = "
        f"{fmt(meta['true_weights'][0])}·{feature} + {fmt(meta['true_bias'])} + noise with standard deviation "
        f"{fmt(spec.get('noise_std'))}. The goal: recover the slope and intercept from the points alone."
    )
    return Section(
        "paris-data",
        "The data",
        [
            blocks.paragraph(text),
            blocks.facts(
                [
                    (f"{feature} range", f"{fmt(x.min(), 4)} – {fmt(x.max(), 4)}"),
                    (f"{target} range", f"{fmt(y.min(), 4)} – {fmt(y.max(), 4)}"),
                    (f"mean {feature} / {target}", f"{fmt(x.mean(), 4)} / {fmt(y.mean(), 4)}"),
                    ("true parameters", f"w = {fmt(meta['true_weights'][0])}, b = {fmt(meta['true_bias'])}"),
                    ("best fit of these 50 points (least squares)", f"w = {fmt(w_star)}, b = {fmt(b_star)}"),
                ]
            ),
            blocks.figure(
                stepfigures.data_figure(
                    x, y, (meta["true_weights"][0], meta["true_bias"]), (w_star, b_star), (feature, target), story.dpi
                ),
                "Paris rent: the data",
                "The generated apartments, the true relation and the least-squares line.",
            ),
            *(
                [
                    blocks.paragraph(
                        "Move w and b, as with the lesson's sliders: the line follows over the data, the MSE is "
                        "recomputed, and the point moves on the loss contour."
                    )
                ]
                + ex
                if (ex := explorer_block(story, PARIS))
                else []
            ),
        ],
    )


def surface_step(story: Story) -> Section | None:
    got, surface = paris_data(story), story.results.surfaces.get((PARIS, "raw"))
    if got is None or surface is None:
        return None
    X, y, meta = got
    tw, tb = float(meta["true_weights"][0]), float(meta["true_bias"])
    ws, bs = np.linspace(tw - 10, tw + 10, 50), np.linspace(tb - 100, tb + 100, 50)
    grid = analysis.mse_grid(X[:, 0], y, ws, bs)
    w_star, b_star = analysis.least_squares(X, y)
    start = _start(story)
    points = {"least squares": (w_star, b_star), f"true ({fmt(tw)}, {fmt(tb)})": (tw, tb)}
    facts = [
        (
            "MSE over the lesson's grid (w ± 10, b ± 100 around the truth)",
            f"{fmt(grid.min(), 6)} to {fmt(grid.max(), 6)}",
        ),
        ("MSE at the true parameters", fmt(analysis.mse_at(X, y, [tw], tb), 6)),
        ("lowest MSE (least squares)", fmt(analysis.mse_at(X, y, [w_star], b_star), 6)),
    ]
    if start:
        points[f"start ({fmt(start[0])}, {fmt(start[1])})"] = start
        facts.append(("MSE at the raw descent's start", fmt(analysis.mse_at(X, y, [start[0]], start[1]), 6)))
    return Section(
        "paris-loss-surface",
        "The loss surface",
        [
            blocks.paragraph(
                "The mean squared error as a function of the two parameters: a bowl, long and narrow "
                "on the raw data. The true parameters are not its lowest point; the least-squares line of "
                "these noisy points is."
            ),
            blocks.facts(facts),
            blocks.figure(
                stepfigures.contour_figure(surface, {}, points, "MSE over (w, b), raw data", story.dpi),
                "Paris rent: loss contour",
                "The workflow's loss-surface grid (log-spaced levels).",
            ),
            *interactive_surface(story, PARIS),
        ],
    )


def _start(story: Story) -> tuple[float, float] | None:
    fit = story.results.fit(PARIS, "raw", "manual_gd")
    if fit is None or not fit.get("init"):
        return None
    return float(fit["init"]["weights"][0]), float(fit["init"]["bias"])


def raw_descent_step(story: Story) -> Section | None:
    got, r = paris_data(story), story.results
    fit = r.fit(PARIS, "raw", "manual_gd")
    surface = r.surfaces.get((PARIS, "raw"))
    if got is None or fit is None or surface is None or not fit.get("init"):
        return None
    X, y, meta = got
    w0, b0 = float(fit["init"]["weights"][0]), float(fit["init"]["bias"])
    lr, iters = float(fit["lr"]), int(fit["iterations"])
    g_w, g_b = analysis.gradient(X, y, [w0], b0)
    h = analysis.hessian_facts(X, y)
    d = analysis.descent_by_direction(X, y, [w0], b0, lr, iters)
    w_star, b_star = d["lstsq"]
    (mu, L), vec = d["eigenvalues"], d["eigenvectors"]
    moved = abs(float(fit["bias"]) - b0) / abs(b_star - b0)
    why = (
        f"Why: at the start the gradient is ∂L/∂w = {fmt(g_w[0], 5)} but ∂L/∂b = {fmt(g_b, 5)} — each term of "
        f"∂L/∂w is multiplied by a surface (mean {fmt(X[:, 0].mean(), 3)} m²), so one step size moves w "
        f"{fmt(abs(g_w[0] / g_b), 3)} times faster than b. On this quadratic loss, descent moves independently "
        f"along the two eigen-directions of the Hessian. The steep one (eigenvalue L = {fmt(L, 4)}, direction "
        f"(w, b) ∝ ({fmt(vec[0, 1], 3)}, {fmt(vec[1, 1], 3)}), nearly pure w) loses lr·L = {fmt(100 * lr * L, 3)} % "
        f"of its remaining distance per step: after {iters} steps {fmt(100 * d['covered'][1], 4)} % of the way is "
        f"covered. The flat one (μ = {fmt(mu, 4)}, direction ∝ ({fmt(vec[0, 0], 3)}, {fmt(vec[1, 0], 3)}), "
        f"nearly pure b) loses only lr·μ = {fmt(lr * mu, 3)} per step: 1 − (1 − lr·μ)^{iters} = "
        f"{fmt(100 * d['covered'][0], 3)} % of the way. Together they predict b = {fmt(d['theta'][-1])} after "
        f"{iters} steps (measured {fmt(fit['bias'])}; {fmt(d['b_moves'][1], 3)} of the move from the steep "
        f"direction's small b-component, {fmt(d['b_moves'][0], 3)} from the flat one), {fmt(100 * moved, 3)} % of "
        f"the way to {fmt(b_star, 5)}. A larger step cannot help: beyond 2/L = {fmt(h['max_stable_step'], 3)} the "
        f"steep direction diverges (condition number {fmt(h['condition_number'], 4)})."
    )
    paths = {m: hist for m in LOOPS if (hist := r.history(PARIS, "raw", m)) is not None}
    return Section(
        "paris-raw-descent",
        "Gradient descent on the raw data",
        [
            blocks.paragraph(
                f"The lesson's loop with the gradients derived by hand: step {fmt(lr)}, {iters} iterations "
                f"from w = {fmt(w0)}, b = {fmt(b0)}. It ends at w = {fmt(fit['weights'][0])}, "
                f"b = {fmt(fit['bias'])}: the slope overshoots to near its best value, the intercept has "
                f"hardly moved from {fmt(b0)} (least squares: w = {fmt(w_star)}, b = {fmt(b_star)})."
            ),
            blocks.paragraph(why),
            *fits_table(story, PARIS, [("raw", m) for m in LOOPS], "paris_raw_descent"),
            blocks.figure(
                stepfigures.contour_figure(
                    surface,
                    paths,
                    {"least squares": (w_star, b_star)},
                    "raw descent paths on the MSE contour",
                    story.dpi,
                    traces=True,
                ),
                "Paris rent: raw descent",
                "Left: the paths on the loss contour. Right: how far w (solid) and "
                "b (dashed) have moved towards their least-squares values, iteration by iteration.",
            ),
        ],
    )


def standardization_step(story: Story) -> Section | None:
    got = paris_data(story)
    if got is None:
        return None
    X, y, meta = got
    Xs, ys, stats = analysis.standardize(X, y)
    raw, std = analysis.hessian_facts(X, y), analysis.hessian_facts(Xs, ys)
    slope = analysis.least_squares(Xs, ys)
    feature, target = _labels(meta)
    return Section(
        "paris-standardization",
        "Standardization",
        [
            blocks.paragraph(
                "Both the surfaces and the rents are shifted to mean 0 and divided by their standard "
                "deviation (the sample one, n − 1, as torch.std computes it). The bowl becomes round, "
                "so one step size suits both parameters."
            ),
            blocks.facts(
                [
                    (
                        f"{feature}: mean, standard deviation",
                        f"{fmt(stats['x_mean'][0], 6)}, {fmt(stats['x_std'][0], 6)}",
                    ),
                    (f"{target}: mean, standard deviation", f"{fmt(stats['y_mean'], 6)}, {fmt(stats['y_std'], 6)}"),
                    (
                        "condition number of the loss's Hessian",
                        f"raw {fmt(raw['condition_number'], 4)}, standardized {fmt(std['condition_number'], 4)}",
                    ),
                    (
                        "largest stable step 2/L",
                        f"raw {fmt(raw['max_stable_step'], 3)}, standardized {fmt(std['max_stable_step'], 3)}",
                    ),
                    (
                        "best standardized fit",
                        f"w = {fmt(slope[0], 6)} (the correlation of {feature} and "
                        f"{target}), b = {fmt(slope[1] + 0.0, 3)}",
                    ),
                ]
            ),
            blocks.figure(
                stepfigures.standardization_figure(X[:, 0], y, Xs[:, 0], ys, (feature, target), story.dpi),
                "Paris rent: standardized data",
                "The same points before and after standardizing.",
            ),
        ],
    )


def standardized_descent_step(story: Story) -> Section | None:
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
    init = fit.get("init") or {}
    fitted = fit.get("fitted_space", {})
    text = (
        f"The same loop on the standardized data: step {fmt(fit['lr'])}, {int(fit['iterations'])} iterations from "
        f"w = {fmt(init.get('weights', [None])[0])}, b = {fmt(init.get('bias'))}. It ends at w = "
        f"{fmt(fitted.get('weights', [None])[0])}, b = {fmt(fitted.get('bias'))} in standardized units, which "
        f"map back (w = w_s·σ_y/σ_x, b = b_s·σ_y + μ_y − w·μ_x) to w = {fmt(fit['weights'][0])} €/m², "
        f"b = {fmt(fit['bias'])} €, {fmt(float(fit['rel_dist_to_lstsq']), 2)} (relative) from least squares"
        + (
            f"; it met its tolerance (gradient norm ≤ {fmt(float(settings['tolerance']))} × the initial one) after "
            f"{needed} iterations."
            if needed is not None
            else "."
        )
    )
    return Section(
        "paris-standardized-descent",
        "Gradient descent on standardized data",
        [
            blocks.paragraph(text),
            *fits_table(story, PARIS, [("standardized", m) for m in LOOPS[:1]], "paris_standardized_descent"),
            *figure_block(
                story,
                f"{PARIS}_surface",
                "Paris rent: loss surfaces and descent paths",
                "Raw (left) and standardized (right) loss surfaces with every descent path (● start, ■ end, "
                "★ least squares): round on standardized data, the path runs straight to the minimum.",
            ),
        ],
    )


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
