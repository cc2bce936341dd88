"""Beyond the lessons, from issues #14, #15 and #17: for every dataset (the lessons' included),
the cost to accuracy — which fit reached each relative gap first, the convergence figure, the
time-to-accuracy table, the "why" sentences from the conditioning and the predicted against
observed rates — and the closed forms' statistical inference.

Built from ``results/fits/time_to_accuracy.parquet``, ``conditioning.parquet``,
``repetitions.parquet``, the fit JSONs and the ``{dataset}_convergence`` figure; a section is on
the page only when those results exist.
"""

from __future__ import annotations

from typing import Any

from descent.report import blocks
from descent.report.convergence import fastest_sentences, fastest_table, inference_rows, rate_rows, why_sentences
from descent.report.formatting import format_number as fmt
from descent.report.sections import Section, Story, beyond_section
from descent.report.storykit import figure_block


def _targets(story: Story, dataset: str) -> list[float]:
    accuracy = story.results.accuracy
    return sorted({float(e) for e in accuracy.loc[accuracy["dataset"] == dataset, "epsilon"]}, reverse=True)


def cost_blocks(story: Story, dataset: str) -> list[dict[str, Any]]:
    r = story.results
    if r.accuracy is None or not (r.accuracy["dataset"] == dataset).any():
        return []
    targets = _targets(story, dataset)
    out = [
        blocks.paragraph(
            "How much each fit paid to reach a relative gap (loss − L*)/(initial loss − L*) in the space it was "
            "fitted in, in iterations and in seconds of fit time (closed forms: one point, their time and their gap). "
            "Fits run several times (random seeds) show median [min, max] over their runs."
        )
    ]
    out.append(blocks.bullets(fastest_sentences(r.accuracy, dataset)))
    out += figure_block(
        story,
        f"{dataset}_convergence",
        f"{dataset}: relative gap against iterations and seconds",
        "Best relative gap so far (log) against iteration and against seconds, raw and standardized: "
        "observed solid, predicted from the Hessian dashed (faint: full-batch reference for "
        "mini-batch fits), closed forms ◆, repeated fits as their median with a min–max band.",
    )
    rows = fastest_table(r.accuracy, dataset, r.repetitions)
    eps_columns = [f"ε = {e:g}" for e in sorted(targets, reverse=True)]
    columns = ["scaling", "method", "kind", "device", *eps_columns, "status"]
    if any("runs" in row for row in rows):
        columns.insert(4, "runs")
    attrs = [
        {"dataset": dataset, "fit": f"{row['scaling']}/{row['method']}", "class": _status_class(row["status"])}
        for row in rows
    ]
    out.append(
        blocks.table(
            rows,
            columns,
            f"time_to_accuracy_{dataset}",
            caption="★ the fit that reached the target first; ☆ the first iterative fit when a closed "
            "form was first; (predicted …): the iterations the Hessian predicts for "
            "gradient descent with this step.",
            row_attrs=attrs,
            table_class="time-to-accuracy",
        )
    )
    if r.conditioning is not None and targets:
        why = why_sentences(dataset, r.conditioning, r.records, min(targets))
        if why:
            out += [blocks.paragraph("Why, from the conditioning of the fitted objective:"), blocks.bullets(why)]
    rates = rate_rows(r.records, dataset)
    if rates:
        out.append(
            blocks.table(
                rates,
                [
                    "scaling",
                    "method",
                    "lr",
                    "momentum",
                    "predicted_rate",
                    "observed_rate",
                    "relative_difference",
                    "reference_only",
                    "status",
                ],
                f"rates_{dataset}",
                {
                    "lr": "step α (mean loss)",
                    "momentum": "β",
                    "predicted_rate": "predicted rate",
                    "observed_rate": "observed rate",
                    "relative_difference": "|observed − predicted|/predicted",
                    "reference_only": "full-batch reference only",
                },
                caption="Error contraction per iteration: predicted from the Hessian (GD: max|1 − αλᵢ|; "
                "momentum and Nesterov with the optimal α, β: (√κ−1)/(√κ+1)) against observed.",
                table_class="rates",
            )
        )
    return out


def _status_class(status: str) -> str:
    from descent.report.status import CATEGORY_FAILED, CATEGORY_SKIPPED, CATEGORY_UNCONVERGED, status_category

    category = status_category(status)
    return {CATEGORY_FAILED: "failed", CATEGORY_UNCONVERGED: "unconverged", CATEGORY_SKIPPED: "skipped"}.get(
        category, ""
    )


@beyond_section
def cost_to_accuracy(story: Story) -> list[Section]:
    """One "Cost to accuracy" section per dataset, in config order (the lessons' datasets included)."""
    r = story.results
    if r.accuracy is None:
        return []
    return [
        Section(f"beyond-cost-{name}", f"Cost to accuracy: {name}", cost_blocks(story, name))
        for name in r.dataset_order
    ]


def inference_blocks(story: Story, dataset: str) -> list[dict[str, Any]]:
    rows = inference_rows(story.results.records, dataset)
    if not rows:
        return []
    truth = any("true_value" in row for row in rows)
    columns = ["scaling", "method", "parameter", "estimate", "standard_errors", "t_values", "ci_low", "ci_high"]
    if truth:
        columns += ["true_value", "covers_truth"]
    columns += ["r2", "adj_r2"]
    fits = {(row["scaling"], row["method"]): row for row in rows}
    r2 = "; ".join(
        f"{m} ({s}): R² {fmt(row['r2'], 6)}, adjusted R² {fmt(row['adj_r2'], 6)}" for (s, m), row in fits.items()
    )
    covered = [row for row in rows if row.get("covers_truth") is not None]
    text = (
        f"{dataset}: "
        + r2
        + "."
        + (
            f" {sum(bool(row['covers_truth']) for row in covered)} of {len(covered)} 95 % intervals cover the true "
            "value."
            if covered
            else " The true parameters are unknown: no coverage to check."
        )
    )
    attrs = [
        {
            "dataset": dataset,
            "fit": f"{row['scaling']}/{row['method']}",
            "parameter": row["parameter"],
            "class": "" if row.get("covers_truth") in (None, True) else "failed",
        }
        for row in rows
    ]
    return [
        blocks.paragraph(text),
        blocks.table(
            rows,
            columns,
            f"inference_{dataset}",
            {
                "standard_errors": "standard error",
                "t_values": "t",
                "ci_low": "95 % CI low",
                "ci_high": "95 % CI high",
                "true_value": "true value",
                "covers_truth": "CI covers truth",
                "r2": "R²",
                "adj_r2": "adjusted R²",
            },
            row_attrs=attrs,
            table_class="inference",
        ),
    ]


@beyond_section
def inference(story: Story) -> Section | None:
    """The certified closed forms' classical OLS inference (original units), per dataset."""
    r = story.results
    out: list[dict[str, Any]] = []
    for name in r.dataset_order:
        out += inference_blocks(story, name)
    if not out:
        return None
    return Section(
        "beyond-inference",
        "Inference for the closed forms",
        [
            blocks.paragraph(
                "Standard errors, t statistics and 95 % confidence intervals of every certified closed-form "
                "fit (classical OLS formulas in float64, original units, weights first and bias last), with "
                "R² and adjusted R²; for synthetic data, whether each interval covers the true value."
            ),
            *out,
        ],
    )
