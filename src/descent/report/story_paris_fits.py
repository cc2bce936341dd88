"""The Paris rent lesson, second half: the hand gradient against autograd, the autograd loop,
``nn.Linear``, predictions, the closed form (the certified float64 solution and the lesson's own
``torch.linalg.lstsq`` call) and every fit compared. The first half is :mod:`.story_paris`,
which lists every step in the lesson's order.
"""

from __future__ import annotations

from descent.report import analysis, blocks, stepfigures
from descent.report.formatting import format_number as fmt
from descent.report.sections import Section, Story
from descent.report.storykit import (
    PARIS,
    figure_block,
    findings_block,
    fits_table,
    gradient_block,
    paris_data,
    predictions_blocks,
    summary_block,
)


def gradient_check_step(story: Story) -> Section | None:
    grad = gradient_block(story, PARIS)
    if not grad:
        return None
    return Section(
        "paris-gradient-check",
        "The hand gradient against autograd",
        [
            blocks.paragraph(
                "The formulas derived by hand, ∂L/∂w = −2/n·Σ(y − ŷ)·x and ∂L/∂b = −2/n·Σ(y − ŷ), against "
                "torch's autograd (loss.backward()), at the raw descent's start point, in float64 and in the "
                "data's float32. They agree to rounding: the difference is a few units of the dtype's "
                "machine epsilon."
            ),
            *grad,
            *figure_block(
                story,
                "gradient_check",
                "gradient check",
                "Relative difference hand vs autograd per dataset and dtype (dotted: machine epsilon).",
            ),
        ],
    )


def _loop_step(story: Story, method: str, section_id: str, title: str, text: str) -> Section | None:
    r = story.results
    fit, ref = r.fit(PARIS, "standardized", method), r.fit(PARIS, "standardized", "manual_gd")
    if fit is None or ref is None:
        return None
    diff = analysis.rel_diff(analysis.theta(fit), analysis.theta(ref))
    histories = {m: h for m in ("manual_gd", method) if (h := r.history(PARIS, "standardized", m)) is not None}
    sentence = (
        f"It ends at w = {fmt(fit['weights'][0])}, b = {fmt(fit['bias'])} ({fit['status_text']}), "
        f"{fmt(diff, 2)} (relative) from the hand-gradient loop and "
        f"{fmt(float(fit['rel_dist_to_lstsq']), 2)} from least squares."
    )
    out = [
        blocks.paragraph(text),
        blocks.paragraph(sentence),
        *fits_table(story, PARIS, [("standardized", "manual_gd"), ("standardized", method)], f"paris_{method}"),
    ]
    if len(histories) == 2:
        out.append(
            blocks.figure(
                stepfigures.loss_compare_figure(histories, f"standardized: manual_gd vs {method}", dpi=story.dpi),
                f"Paris rent: {method} loss",
                "Loss against iteration of both loops (log scale).",
            )
        )
    return Section(section_id, title, out)


def autograd_step(story: Story) -> Section | None:
    return _loop_step(
        story,
        "autograd",
        "paris-autograd",
        "The autograd loop",
        "The same descent with requires_grad tensors: loss.backward() fills w.grad and b.grad, the "
        "update runs under torch.no_grad(), and the gradients are zeroed after each step.",
    )


def nn_linear_step(story: Story) -> Section | None:
    fit = story.results.fit(PARIS, "standardized", "nn_linear")
    if fit is None:
        return None
    settings = fit.get("settings", {})
    n = int(story.results.metas.get(PARIS, {}).get("n", 0)) or 1
    reduction = settings.get("loss_reduction", "mean")
    note = (
        f" With reduction='sum' the gradient is {n} times the mean loss's, so SGD's lr {fmt(fit['lr'])} takes the "
        f"same steps as lr {fmt(float(fit['lr']) * n)} on the mean loss"
        if reduction == "sum"
        else ""
    )
    got = paris_data(story)
    if note and got is not None:
        Xs, ys, _ = analysis.standardize(got[0], got[1])
        h = analysis.hessian_facts(Xs, ys)
        ref = story.results.fit(PARIS, "standardized", "manual_gd")
        note += (
            f", close to the best constant step 1/L = {fmt(1 / h['L'], 3)} of the standardized loss"
            + (
                f" (the hand loop's {fmt(float(ref['lr']))} is {fmt(float(ref['lr']) * h['L'], 2)}/L)"
                if ref is not None and ref.get("lr")
                else ""
            )
            + ": hence far fewer iterations to converge."
        )
    elif note:
        note += "."
    return _loop_step(
        story,
        "nn_linear",
        "paris-nn-linear",
        "A torch.nn.Linear layer",
        f"A one-input linear layer trained with torch.nn.MSELoss(reduction='{reduction}') and "
        f"torch.optim.SGD, starting from the same w = b = 0.5.{note}",
    )


def predictions_step(story: Story) -> Section | None:
    preds = predictions_blocks(
        story,
        PARIS,
        "Rows: each fit (method and scaling); columns: the new surfaces; the first row is the true relation.",
    )
    if not preds:
        return None
    fit = story.results.fit(PARIS, "standardized", "manual_gd")
    lead = "Rents predicted for new apartments by every fit, in euros per month" + (
        f"; the lesson's model (standardized descent) is rent = {fmt(fit['weights'][0], 3)} × surface + "
        f"{fmt(fit['bias'], 3)}."
        if fit is not None
        else "."
    )
    predictions = story.results.predictions
    sub = predictions[predictions["dataset"] == PARIS]
    figure = []
    if not sub.empty:
        from descent.report.figures import predictions_figure

        figure = [
            blocks.figure(
                stepfigures.to_png(predictions_figure(sub), story.dpi),
                "Paris rent: predictions",
                "Each fit's prediction minus the true value, by input; failed fits are not drawn.",
            )
        ]
    return Section("paris-predictions", "Predictions", [blocks.paragraph(lead), *preds, *figure])


def closed_form_step(story: Story) -> Section | None:
    r = story.results
    ref = r.fit(PARIS, "raw", "lstsq")
    if ref is None:
        return None
    cert = ref.get("certificate") or {}
    out = [
        blocks.paragraph(
            f"No iterations at all: the least-squares solution solves the normal equations. descent's lstsq computes it "
            f"in float64 and certifies it: w = {fmt(ref['weights'][0], 9)}, b = {fmt(ref['bias'], 9)} "
            f"(condition number {fmt(cert.get('condition_number'), 3)}, normal-equations residual "
            f"{fmt(cert.get('normal_residual'), 2)}, error bound {fmt(cert.get('error_bound'), 2)})."
        )
    ]
    lesson = r.fit(PARIS, "raw", "lstsq_lesson")
    if lesson is not None:
        diff = analysis.rel_diff(analysis.theta(lesson), analysis.theta(ref))
        out.append(
            blocks.paragraph(
                f"The lesson's three lines (torch.linalg.lstsq on the {lesson.get('dtype', 'float32')} [surface, 1] matrix, "
                f"driver {lesson.get('driver', '?')}) give w = {fmt(lesson['weights'][0], 9)}, b = {fmt(lesson['bias'], 9)}: "
                f"{fmt(diff, 2)} (relative) from the certified float64 solution, |Δw| = "
                f"{fmt(abs(float(lesson['weights'][0]) - float(ref['weights'][0])), 2)}, |Δb| = "
                f"{fmt(abs(float(lesson['bias']) - float(ref['bias'])), 2)} — float32's precision; its own certificate "
                f"bounds the error by {fmt((lesson.get('certificate') or {}).get('error_bound'), 2)} ({lesson['status_text']})."
            )
        )
    closed = [
        (s, m)
        for s, m, base in zip(r.fits_of(PARIS)["scaling"], r.fits_of(PARIS)["method"], r.fits_of(PARIS)["base_method"])
        if base in ("lstsq", "sklearn")
    ]
    out += fits_table(story, PARIS, closed, "paris_closed_forms", extra=["condition_number", "error_bound"])
    out += figure_block(
        story,
        f"{PARIS}_fits",
        "Paris rent: data and every fitted line",
        "Every fit over the data (original units); dashed: failed fits; dotted: the true relation.",
    )
    return Section("paris-closed-form", "The closed form", out)


def all_fits_step(story: Story) -> Section | None:
    table = summary_block(story, PARIS)
    if not table:
        return None
    return Section(
        "paris-all-fits",
        "Every fit of the Paris data compared",
        [
            blocks.paragraph(
                "The lesson's fits and those beyond it (automatic step size, mini-batch and stochastic "
                "descent, every method on both scalings), in original units."
            ),
            *findings_block(story, PARIS),
            *table,
            *figure_block(
                story,
                f"{PARIS}_loss",
                "Paris rent: loss against iteration",
                "Loss of every iterative fit (log scale); right: excess over the least-squares minimum.",
            ),
        ],
    )


#: The Paris lesson's steps, in the lesson's order.
