"""What the fits and the matmul benchmark found: facts computed from the results, and their
sentences from the templates ``findings.j2`` and ``beyond-matmul.j2`` (``marked`` is :func:`descent.report.tables.mark_fits`'s frame; a
``history`` is a ``results/fits/…/{method}.history.parquet`` frame: ``iteration``, ``loss``,
``grad_norm``, ``w0..w{k-1}``, ``b``; ``records`` maps ``(dataset, scaling, method)`` to a fit's JSON).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from descent.fitting.registry import iterative_methods
from descent.report.words import Words

FitKey = tuple[str, str, str]

#: The template of the findings on a dataset's fits (``templates/steps/findings.j2``).
FINDINGS = "findings"


def iterations_to_tolerance(history: pd.DataFrame, tolerance: float, criterion: str = "grad_norm") -> int | None:
    """The first iteration at which a fit met its convergence test, from its history.

    ``grad_norm``: ``grad_norm[i] <= tolerance * grad_norm[0]``; ``loss_change``:
    ``|loss[i] - loss[i-1]| <= tolerance * loss[i-1]``. ``None`` when never met.

    >>> h = pd.DataFrame({"iteration": [0, 1, 2, 3], "loss": [4.0, 1.0, 0.5, 0.4], "grad_norm": [10.0, 3.0, 0.5, 0.01]})
    >>> iterations_to_tolerance(h, 0.1)
    2
    """
    if history.empty:
        return None
    if criterion == "grad_norm":
        grad = history["grad_norm"].to_numpy(dtype=np.float64)
        hits = np.flatnonzero(grad <= tolerance * grad[0])
    else:
        loss = history["loss"].to_numpy(dtype=np.float64)
        hits = np.flatnonzero(np.abs(np.diff(loss)) <= tolerance * loss[:-1]) + 1
    return int(history["iteration"].iloc[int(hits[0])]) if hits.size else None


def _listed(rows: pd.DataFrame, prefix: str) -> list[dict[str, str]]:
    """``method``, ``scaling`` and the recorded reason (``status_text`` less ``prefix``) of each row."""
    return [
        {"method": r["method"], "scaling": r["scaling"], "reason": r["status_text"].removeprefix(prefix)}
        for r in rows.to_dict("records")
    ]


def dataset_facts(
    marked: pd.DataFrame,
    dataset: str,
    records: Mapping[FitKey, dict[str, Any]],
    histories: Mapping[FitKey, pd.DataFrame],
) -> dict[str, Any]:
    """What the fits of ``dataset`` found, as facts for the ``findings.j2`` template: the fits
    that reached the least-squares minimum (best), the failed, skipped and unconverged ones with
    their recorded reasons, where each raw full-batch descent ended against the least-squares
    intercept and slope (``raw``: one entry per method), how many iterations each standardized
    descent needed to meet its tolerance (``standardized``), and the fastest fit."""
    rows = marked[marked["dataset"] == dataset]
    best = rows[rows["best"]]
    skipped = rows[rows["skipped"]] if "skipped" in rows else rows.iloc[:0]
    # The least squares with an intercept (a fit through the origin has its own, bias 0).
    with_intercept = rows[rows["fit_intercept"].astype(bool)] if "fit_intercept" in rows else rows
    reference = with_intercept if not with_intercept.empty else rows
    lstsq_b = float(reference["lstsq_bias"].iloc[0])
    lstsq_w = [float(v) for v in reference["lstsq_weights"].iloc[0]]
    facts: dict[str, Any] = {
        "dataset": dataset,
        "total": len(rows),
        "best": [f"{m} ({s})" for m, s in zip(best["method"], best["scaling"])],
        "best_mse": float(best["mse"].min()) if not best.empty else None,
        "lstsq_mse": float(reference["lstsq_mse"].iloc[0]),
        "failed": _listed(rows[rows["failed"]], "failed: "),
        "skipped": _listed(skipped, "skipped: "),
        "unconverged": _listed(rows[rows["unconverged"]], "not converged: "),
        "raw": [],
        "standardized": [],
        "fastest": None,
    }
    for record in rows[
        (rows["scaling"] == "raw")
        & rows["base_method"].isin(iterative_methods())
        & (rows["method"] == rows["base_method"])
    ].to_dict("records"):
        if record["failed"] or record.get("skipped") or not record.get("fit_intercept", True):
            continue  # (through the origin the bias is fixed: no intercept to compare)
        facts["raw"].append(
            {
                "method": record["method"],
                "iterations": int(record["iterations"]),
                "b": float(record["bias"]),
                "gap": float(record["bias"]) - lstsq_b,
                "lstsq_b": lstsq_b,
                "w": float(record["weights"][0]) if len(lstsq_w) == 1 else None,
                "lstsq_w": lstsq_w[0] if len(lstsq_w) == 1 else None,
                "status": record["category"] if record["unconverged"] else record["status"],
            }
        )
    for record in rows[(rows["scaling"] == "standardized") & rows["base_method"].isin(iterative_methods())].to_dict(
        "records"
    ):
        key = (dataset, "standardized", record["method"])
        settings = records.get(key, {}).get("settings", {})
        history = histories.get(key)
        if history is None or record["failed"] or record.get("skipped") or "tolerance" not in settings:
            continue
        criterion = settings.get("stop_criterion", "grad_norm")
        facts["standardized"].append(
            {
                "method": record["method"],
                "criterion": criterion,
                "tolerance": float(settings["tolerance"]),
                "iterations": int(record["iterations"]),
                "needed": iterations_to_tolerance(history, float(settings["tolerance"]), criterion),
                "rel_dist": float(record["rel_dist_to_lstsq"]),
                # its own stopping test met (status converged): else "needed" is only a first touch
                "stopped": bool(record["status"] == "converged"),
            }
        )
    ok = rows[~rows["failed"] & ~rows.get("skipped", rows["failed"] & False) & rows["seconds"].notna()]
    if not ok.empty:
        fastest = ok.loc[ok["seconds"].idxmin()]
        facts["fastest"] = {
            "method": fastest["method"],
            "scaling": fastest["scaling"],
            "seconds": float(fastest["seconds"]),
        }
    return facts


def grouped(words: Words, step: str, block: str, items: Sequence[Mapping[str, Any]]) -> list[str]:
    """One sentence per group of ``items`` (each with its ``method``) whose sentences read the
    same: each item is rendered alone (``methods`` a placeholder), items that render alike are
    merged, and each group is rendered once with ``methods`` naming all of them (the template
    chooses the grammar by their number); order of first appearance."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    for item in items:
        alone = words.text(step, block, {**item, "methods": ["\x00"]})
        groups.setdefault(alone, []).append(item)
    return [
        words.text(step, block, {**members[0], "methods": [m["method"] for m in members]})
        for members in groups.values()
    ]


def dataset_findings(
    marked: pd.DataFrame,
    dataset: str,
    records: Mapping[FitKey, dict[str, Any]],
    histories: Mapping[FitKey, pd.DataFrame],
    words: Words | None = None,
) -> list[str]:
    """The sentences of ``findings.j2`` on :func:`dataset_facts`, every number computed; fits whose
    sentences read the same share one (:func:`grouped`)."""
    words = words or Words()
    facts = dataset_facts(marked, dataset, records, histories)
    sentences = [words.text(FINDINGS, "best", facts)]
    for kind in ("failed", "skipped", "unconverged"):
        if facts[kind]:
            sentences.append(words.text(FINDINGS, kind, facts))
    sentences += grouped(words, FINDINGS, "raw", facts["raw"])
    sentences += grouped(words, FINDINGS, "standardized", facts["standardized"])
    if facts["fastest"]:
        sentences.append(words.text(FINDINGS, "fastest", facts))
    return sentences


def benchmark_facts(table: pd.DataFrame, sidecar: Mapping[str, Any]) -> dict[str, Any]:
    """The matmul benchmark's findings: the fastest measured backend per dtype at the largest
    size with its fraction of the peak (``fastest``), the CUDA backend's statuses and GPU
    (``cuda``, ``None`` without that backend), and the benchmark's own notes (``notes``)."""
    measured = table[table["status"] == "ok"]
    fastest = []
    for dtype in sorted(measured["dtype"].unique()):
        sub = measured[measured["dtype"] == dtype]
        n = int(sub["n"].max())
        at_n = sub[sub["n"] == n]
        top = at_n.loc[at_n["gflops"].idxmax()]
        frac = top["fraction_of_peak"]
        fastest.append(
            {
                "dtype": dtype,
                "n": n,
                "backend": top["backend"],
                "device": top["device"],
                "gflops": float(top["gflops"]),
                "fraction_of_peak": float(frac) if pd.notna(frac) else None,
            }
        )
    cuda = table[table["backend"] == "torch_cuda"]
    return {
        "fastest": fastest,
        "cuda": (
            {"statuses": sorted(set(cuda["status"])), "gpu": sidecar.get("machine", {}).get("gpu_name")}
            if not cuda.empty
            else None
        ),
        "notes": [str(note) for note in sidecar.get("notes", [])],
    }
