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
from descent.report.convergence import fastest_facts, fastest_table, inference_rows, rate_rows, why_facts
from descent.report.sections import Section, Story, beyond_section
from descent.report.status import CATEGORY_FAILED, CATEGORY_SKIPPED, CATEGORY_UNCONVERGED, status_category
from descent.report.storykit import figure_block


def _targets(story: Story, dataset: str) -> list[float]:
    accuracy = story.results.accuracy
    return sorted({float(e) for e in accuracy.loc[accuracy["dataset"] == dataset, "epsilon"]}, reverse=True)


def cost_blocks(story: Story, dataset: str) -> list[dict[str, Any]]:
    r = story.results
    if r.accuracy is None or not (r.accuracy["dataset"] == dataset).any():
        return []
    targets = _targets(story, dataset)
    words, step = story.words, "beyond-cost"
    facts: dict[str, Any] = {
        "dataset": dataset,
        "targets": fastest_facts(r.accuracy, dataset),
        "why": (
            why_facts(dataset, r.conditioning, r.records, min(targets), r.histories)
            if r.conditioning is not None and targets
            else None
        ),
    }
    out = [blocks.paragraph(words.text(step, "text", facts))]
    out.append(blocks.bullets(words.items(step, "fastest", facts)))
    out += figure_block(
        story,
        f"{dataset}_convergence",
        words.text(step, "figure_alt", facts),
        words.text(step, "figure_caption", facts),
    )
    rows = fastest_table(r.accuracy, dataset, r.repetitions)
    eps_columns = [f"ε = {e:g}" for e in sorted(targets, reverse=True)]
    columns = ["scaling", "method", "kind", "device", *eps_columns, "status"]
    if any("runs" in row for row in rows):
        columns.insert(4, "runs")
    for row in rows:  # a fit the report found diverging (its loss grew tenfold) says so, in red
        fit = r.fit(dataset, row["scaling"], row["method"])
        if fit is not None and bool(fit.get("diverging")):
            row["status"] = f"diverging (recorded {row['status']})"
    attrs = [
        {
            "dataset": dataset,
            "fit": f"{row['scaling']}/{row['method']}",
            "class": "failed" if str(row["status"]).startswith("diverging") else _status_class(row["status"]),
        }
        for row in rows
    ]
    out.append(
        blocks.table(
            rows,
            columns,
            f"time_to_accuracy_{dataset}",
            caption=words.text(step, "table_caption", facts),
            row_attrs=attrs,
            table_class="time-to-accuracy",
        )
    )
    why = words.items(step, "why", facts) if facts["why"] is not None else []
    if why:
        out += [blocks.paragraph(words.text(step, "why_lead", facts)), blocks.bullets(why)]
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
                caption=words.text(step, "rates_caption", facts),
                table_class="rates",
            )
        )
    return out


def _status_class(status: str) -> str:
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
        Section(
            f"beyond-cost-{name}",
            story.words.text("beyond-cost", "title", {"dataset": name}),
            cost_blocks(story, name),
        )
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
    facts = {
        "dataset": dataset,
        "fits": [{"method": m, "scaling": s, "r2": row["r2"], "adj_r2": row["adj_r2"]} for (s, m), row in fits.items()],
        "level": _level(story, dataset),
        **coverage_facts(rows),
    }
    text = story.words.text("beyond-inference", "dataset", facts)
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


#: Two fits' intervals of a parameter are the same interval when their ends differ by at most
#: this fraction of the interval's width (the closed forms agree far closer than that).
SAME_INTERVAL_RTOL = 1e-3


def coverage_facts(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Whether the intervals cover the truth, each distinct interval counted once: fits that
    agree (the closed forms on both scalings, in original units) give the same interval of a
    parameter, which must not count as several checks. ``rows``: :func:`inference_rows`.
    Returns ``intervals`` (distinct (parameter, interval) pairs with a known truth),
    ``covered`` (of those), ``rows_checked`` (table rows with a known truth) and ``parameters``."""
    checked = [row for row in rows if row.get("covers_truth") is not None]
    distinct: list[tuple[str, float, float, bool]] = []
    for row in checked:
        name, low, high = str(row["parameter"]), float(row["ci_low"]), float(row["ci_high"])
        tol = SAME_INTERVAL_RTOL * abs(high - low)
        if not any(n == name and abs(lo - low) <= tol and abs(hi - high) <= tol for n, lo, hi, _ in distinct):
            distinct.append((name, low, high, bool(row["covers_truth"])))
    return {
        "intervals": len(distinct),
        "covered": sum(d[3] for d in distinct),
        "rows_checked": len(checked),
        "parameters": len({d[0] for d in distinct}),
    }


@beyond_section
def inference(story: Story) -> Section | None:
    """The certified closed forms' classical OLS inference (original units), per dataset."""
    r = story.results
    out: list[dict[str, Any]] = []
    for name in r.dataset_order:
        out += inference_blocks(story, name)
    if not out:
        return None
    words, sid = story.words, "beyond-inference"
    levels = sorted({lv for name in r.dataset_order if (lv := _level(story, name)) is not None})
    facts = {"levels": levels}
    return Section(sid, words.text(sid, "title", facts), [blocks.paragraph(words.text(sid, "text", facts)), *out])


def _level(story: Story, dataset: str) -> float | None:
    """The confidence level of the intervals of ``dataset``'s closed forms, as the fit stage
    recorded it (``inference.level``)."""
    levels = [
        rec["inference"]["level"]
        for key, rec in story.results.records.items()
        if key[0] == dataset and (rec.get("inference") or {}).get("level") is not None
    ]
    return float(levels[0]) if levels else None
