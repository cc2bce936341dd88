"""Blocks several sections share: a dataset's fits (findings, summary table, figures), its
gradient check, its pivoted predictions, its interactive figures, and small fit tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from descent.report import analysis, blocks
from descent.report.findings import dataset_findings
from descent.report.interactive import explorer_payload, surface_3d_html
from descent.report.pivot import DISPLAY_DIGITS, prediction_pivot
from descent.report.sections import Story
from descent.report.tables import dataset_table, gradient_check_rows

#: The datasets the two lessons use (config names); every other dataset goes beyond the lessons.
PARIS = "paris_rent"
LESSON0 = "lesson_linear"
LESSON_DATASETS: tuple[str, ...] = (PARIS, LESSON0)


def figure_block(story: Story, name: str, alt: str, caption: str = "") -> list[dict[str, Any]]:
    """A workflow figure (``results/report/figures/{name}.png`` or a stage's own) as a block, or
    nothing when this run has no such figure."""
    path = story.results.figure(name)
    return [blocks.figure(path, alt, caption)] if path is not None else []


def findings_block(story: Story, dataset: str) -> list[dict[str, Any]]:
    r = story.results
    return [blocks.bullets(dataset_findings(r.summary, dataset, r.records, r.histories, story.words))]


def summary_block(story: Story, dataset: str) -> list[dict[str, Any]]:
    if not story.results.has_fits(dataset):
        return []
    return [blocks.summary(dataset_table(story.results.summary, dataset), f"fits_{dataset}")]


def gradient_block(story: Story, dataset: str) -> list[dict[str, Any]]:
    """The hand-vs-autograd gradient check of one dataset as a table (one row per dtype)."""
    check = story.results.checks.get(dataset)
    if not check:
        return []
    rows = []
    for row in gradient_check_rows({dataset: check}):
        part = check[row["dtype"]]
        rows.append(
            {
                **row,
                "hand_w": part["hand"]["weights"],
                "autograd_w": part["autograd"]["weights"],
                "hand_b": part["hand"]["bias"],
                "autograd_b": part["autograd"]["bias"],
            }
        )
    return [
        blocks.table(
            rows,
            [
                "dtype",
                "loss",
                "hand_w",
                "autograd_w",
                "hand_b",
                "autograd_b",
                "max_abs_diff",
                "max_rel_diff",
                "eps",
                "agree",
            ],
            f"gradient_check_{dataset}",
            {
                "hand_w": "∂L/∂w by hand",
                "autograd_w": "∂L/∂w autograd",
                "hand_b": "∂L/∂b by hand",
                "autograd_b": "∂L/∂b autograd",
                "max_rel_diff": "max relative difference",
                "max_abs_diff": "max |difference|",
                "agree": "agree (≤ 100·(k+1)·eps)",
            },
            table_class="gradient-check",
        )
    ]


def predictions_blocks(story: Story, dataset: str, caption: str = "") -> list[dict[str, Any]]:
    """The pivoted predictions of one dataset (rows: fits; columns: inputs; the truth first),
    the fits that agree to display precision in one sentence each, and the withheld ones with
    their reason."""
    r = story.results
    if r.predictions is None or "dataset" not in r.predictions or not (r.predictions["dataset"] == dataset).any():
        return []
    features = r.metas.get(dataset, {}).get("features")
    pivot = prediction_pivot(r.predictions, r.summary, dataset, features)
    out = [
        blocks.table(
            pivot["rows"],
            pivot["columns"],
            f"predictions_{dataset}",
            pivot["headers"],
            caption,
            row_attrs=pivot["row_attrs"],
            table_class="predictions",
        )
    ]
    if pivot["groups"]:
        facts = {"groups": pivot["groups"], "fields": pivot["fields"], "digits": DISPLAY_DIGITS}
        out.append(blocks.bullets(story.words.items("predictions", "agreement", facts)))
    if pivot["withheld"]:
        out.append(
            {"kind": "withheld", "items": pivot["withheld"], "text": story.words.text("predictions", "withheld", {})}
        )
    return out


def interactive_surface(story: Story, dataset: str) -> list[dict[str, Any]]:
    """The rotatable 3D loss surfaces (raw and standardized) with the descent paths."""
    r = story.results
    surfaces = {s: f for (d, s), f in r.surfaces.items() if d == dataset}
    if not story.interactive or not surfaces:
        return []

    return [blocks.html(surface_3d_html(surfaces, r.histories, dataset, int(story.options.max_path_points)))]


def explorer_block(story: Story, dataset: str) -> list[dict[str, Any]]:
    """The w/b sliders over the raw data and loss contour (starting where the first raw iterative
    fit started, else at least squares)."""
    r = story.results
    data, surface = r.data(dataset), r.surfaces.get((dataset, "raw"))
    if not story.interactive or data is None or surface is None:
        return []

    X, y = data
    w_star, b_star = (float(v) for v in analysis.least_squares(X, y))
    # The descent's start: the lesson's loop (manual_gd) first, then the others in name order (read
    # from every fit, also where a page shows none yet: the class page's first steps).
    starts = [
        rec["init"]
        for key, rec in sorted(r.unrestricted.records.items(), key=lambda item: (item[0][2] != "manual_gd", item[0]))
        if key[0] == dataset and key[1] == "raw" and rec.get("init")
    ]
    start = (starts[0]["weights"][0], starts[0]["bias"]) if starts else (w_star, b_star)
    meta = r.metas.get(dataset, {})
    labels = (meta.get("features", ["x"])[0], meta.get("target", "y"))
    payload = explorer_payload(
        X[:, 0],
        y,
        surface,
        start,
        (w_star, b_star),
        labels,
        int(story.options.slider_steps),
        int(story.options.max_points),
        LESSON_SLIDERS.get(dataset),
    )
    return [blocks.explorer(dataset, payload)]


def fits_table(
    story: Story, dataset: str, keys: Sequence[tuple[str, str]], name: str, extra: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """A small table of some fits of a dataset (``keys``: ``(scaling, method)``): weights, bias,
    relative distance to least squares, MSE, iterations, step, status."""
    rows = []
    for scaling, method in keys:
        fit = story.results.fit(dataset, scaling, method)
        if fit is None:
            continue
        rows.append({**fit, "status": fit["status_text"]})
    if not rows:
        return []
    columns = ["method", "scaling", "weights", "bias", "rel_dist_to_lstsq", "mse", "iterations", "lr", *extra, "status"]
    return [
        blocks.table(
            rows,
            columns,
            name,
            {
                "rel_dist_to_lstsq": "relative distance to least squares",
                "mse": "final MSE",
                "lr": "step",
                "weights": "weights w",
                "bias": "bias b",
            },
        )
    ]


def dataset_facts(dataset: str, meta: dict[str, Any]) -> dict[str, Any]:
    """How a dataset was generated, from its sidecar (``results/datasets/{dataset}.json``)."""
    spec, source = meta.get("spec", {}), meta.get("source") or {}
    known = meta.get("true_weights") is not None
    return {
        "dataset": dataset,
        "n": meta.get("n"),
        "features": list(meta.get("features", [])),
        "target": meta.get("target"),
        "generator": meta.get("generator") or spec.get("kind"),
        "path": source.get("path"),
        "seed": meta.get("seed"),
        "dtype": meta.get("dtype"),
        "true_weights": [float(w) for w in meta["true_weights"]] if known else None,
        "true_bias": float(meta.get("true_bias", 0.0)) if known else None,
    }


def dataset_sections_blocks(story: Story, dataset: str) -> list[dict[str, Any]]:
    """Everything about one dataset's fits: how it was made, the findings, the summary table,
    the figures, the interactive surface, the gradient check and the predictions; words from
    ``beyond-dataset.j2``."""
    meta = story.results.metas.get(dataset, {})
    words, step = story.words, "beyond-dataset"
    facts = dataset_facts(dataset, meta)
    out = [blocks.paragraph(words.text(step, "text", facts))] if meta else []
    out += findings_block(story, dataset) + summary_block(story, dataset)
    for figure in ("fits", "loss", "surface"):
        out += figure_block(
            story,
            f"{dataset}_{figure}",
            words.text(step, f"{figure}_alt", facts),
            words.text(step, f"{figure}_caption", facts),
        )
    out += interactive_surface(story, dataset) + explorer_block(story, dataset)
    grad = gradient_block(story, dataset)
    if grad:
        out += [blocks.paragraph(words.text(step, "gradient", facts))] + grad
    out += predictions_blocks(story, dataset)
    return out


#: The lesson's own slider ranges ((w_low, w_high), (b_low, b_high)) of a dataset that has them:
#: the Paris lesson's ``FloatSlider``s, w from −50 to 50 and b from 0 to 500.
LESSON_SLIDERS: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {
    PARIS: ((-50.0, 50.0), (0.0, 500.0)),
}

#: The Paris lesson's three training loops, in its order.
PARIS_LOOPS: tuple[str, ...] = ("manual_gd", "autograd", "nn_linear")


def paris_data(story: Story) -> tuple[np.ndarray, np.ndarray, dict[str, Any]] | None:
    """The Paris dataset's ``X`` (n, 1), ``y`` (n,) and sidecar, when this run has it with its truth."""
    data, meta = story.results.data(PARIS), story.results.metas.get(PARIS)
    known = bool(meta) and meta.get("true_weights") is not None and meta.get("true_bias") is not None
    return (data[0], data[1], meta) if data is not None and known else None
