"""Generated sentences: what the fits, the matmul benchmark and Lesson 0 found, every number
computed from the results (``marked`` is :func:`descent.report.tables.mark_fits`'s frame; a
``history`` is a ``results/fits/…/{method}.history.parquet`` frame: ``iteration``, ``loss``,
``grad_norm``, ``w0..w{k-1}``, ``b``; ``records`` maps ``(dataset, scaling, method)`` to a fit's JSON).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from descent.fitting.registry import iterative_methods
from descent.report.formatting import format_number, format_vector

FitKey = tuple[str, str, str]


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


def _pct(x: float) -> str:
    return f"{100 * x:.3g} %"


def dataset_findings(
    marked: pd.DataFrame,
    dataset: str,
    records: Mapping[FitKey, dict[str, Any]],
    histories: Mapping[FitKey, pd.DataFrame],
) -> list[str]:
    """A few sentences stating what the fits of ``dataset`` found, every number computed.

    Covers: which fits reached the least-squares minimum (best), the failed and the unconverged
    ones with their recorded reasons, how far raw
    full-batch descent ended from the least-squares intercept and slope, how many iterations
    each standardized descent needed to meet its tolerance, and the fastest fit.
    """
    rows = marked[marked["dataset"] == dataset]
    sentences: list[str] = []
    best = rows[rows["best"]]
    sentences.append(
        f"{len(best)} of {len(rows)} fits reach the lowest MSE ({format_number(float(best['mse'].min()))}, "
        f"least squares: {format_number(float(rows['lstsq_mse'].iloc[0]))}): "
        + ", ".join(f"{m} ({s})" for m, s in zip(best["method"], best["scaling"]))
        + "."
        if not best.empty
        else f"None of the {len(rows)} fits of {dataset} succeeded."
    )
    failed = rows[rows["failed"]]
    if not failed.empty:
        sentences.append(
            "Failed, not shown as fits: "
            + "; ".join(
                f"{r['method']} ({r['scaling']}) {r['status_text'].removeprefix('failed: ')}"
                for r in failed.to_dict("records")
            )
            + "."
        )
    skipped = rows[rows["skipped"]] if "skipped" in rows else rows.iloc[:0]
    if not skipped.empty:
        sentences.append(
            "Skipped, could not run here: "
            + "; ".join(
                f"{r['method']} ({r['scaling']}) {r['status_text'].removeprefix('skipped: ')}"
                for r in skipped.to_dict("records")
            )
            + "."
        )
    unconverged = rows[rows["unconverged"]]
    if not unconverged.empty:
        sentences.append(
            "Not converged: "
            + "; ".join(
                f"{r['method']} ({r['scaling']}) {r['status_text'].removeprefix('not converged: ')}"
                for r in unconverged.to_dict("records")
            )
            + "."
        )
    lstsq_b = float(rows["lstsq_bias"].iloc[0])
    lstsq_w = [float(v) for v in rows["lstsq_weights"].iloc[0]]
    per_method: list[tuple[str, str]] = []  # (method, sentence with "{who}" for the method(s))
    for record in rows[
        (rows["scaling"] == "raw")
        & rows["base_method"].isin(iterative_methods())
        & (rows["method"] == rows["base_method"])
    ].to_dict("records"):
        if record["failed"] or record.get("skipped"):
            continue
        gap = float(record["bias"]) - lstsq_b
        text = (
            f"Raw {{who}} ended after {int(record['iterations'])} iterations at b = "
            f"{format_number(float(record['bias']))}, {format_number(abs(gap))} "
            f"{'below' if gap < 0 else 'above'} the least-squares intercept {format_number(lstsq_b)}"
            + (f" ({_pct(abs(gap) / abs(lstsq_b))} of it)" if lstsq_b != 0 else "")
        )
        if len(lstsq_w) == 1:
            text += f", with w = {format_number(float(record['weights'][0]))} against {format_number(lstsq_w[0])}"
        text += f" ({record['category'] if record['unconverged'] else record['status']})."
        per_method.append((record["method"], text))
    for record in rows[(rows["scaling"] == "standardized") & rows["base_method"].isin(iterative_methods())].to_dict(
        "records"
    ):
        key = (dataset, "standardized", record["method"])
        settings = records.get(key, {}).get("settings", {})
        history = histories.get(key)
        if history is None or record["failed"] or record.get("skipped") or "tolerance" not in settings:
            continue
        criterion = settings.get("stop_criterion", "grad_norm")
        needed = iterations_to_tolerance(history, float(settings["tolerance"]), criterion)
        test = (
            ("gradient norm ≤ " if criterion == "grad_norm" else "relative loss change ≤ ")
            + format_number(float(settings["tolerance"]))
            + (" × its initial value" if criterion == "grad_norm" else "")
        )
        if needed is None:
            per_method.append(
                (
                    record["method"],
                    f"Standardized {{who}} did not get within tolerance ({test}) in "
                    f"{int(record['iterations'])} iterations.",
                )
            )
        else:
            per_method.append(
                (
                    record["method"],
                    f"Standardized {{who}} needed {needed} iterations to get within "
                    f"tolerance ({test}); ended {format_number(float(record['rel_dist_to_lstsq']), 2)} "
                    "(relative) from the least-squares solution.",
                )
            )
    sentences.extend(group_by_method(per_method))
    ok = rows[~rows["failed"] & ~rows.get("skipped", rows["failed"] & False) & rows["seconds"].notna()]
    if not ok.empty:
        fastest = ok.loc[ok["seconds"].idxmin()]
        sentences.append(
            f"Fastest successful fit: {fastest['method']} ({fastest['scaling']}) in "
            f"{format_number(float(fastest['seconds']), 3)} s (timings vary from run to run)."
        )
    return sentences


def group_by_method(items: list[tuple[str, str]]) -> list[str]:
    """Sentences ``(method, template)`` whose templates read the same (every number at display
    precision) merged into one, naming every method: ``"Raw {who} ended …"`` for manual_gd and
    autograd becomes ``"Raw manual_gd and autograd ended …"``; order of first appearance.

    >>> group_by_method([("a", "{who} ends at 1."), ("b", "{who} ends at 1."), ("c", "{who} ends at 2.")])
    ['a and b end at 1.', 'c ends at 2.']
    """
    groups: dict[str, list[str]] = {}
    for method, template in items:
        groups.setdefault(template, []).append(method)
    out = []
    for template, methods in groups.items():
        who = methods[0] if len(methods) == 1 else ", ".join(methods[:-1]) + " and " + methods[-1]
        text = template.replace("{who}", who)
        if len(methods) > 1:
            text = (
                text.replace(" ends ", " end ")
                .replace(" needed ", " each needed ")
                .replace(" ended after ", " all ended after " if len(methods) > 2 else " both ended after ")
            )
        out.append(text)
    return out


def benchmark_findings(table: pd.DataFrame, sidecar: dict[str, Any]) -> list[str]:
    """Sentences on the matmul benchmark: the fastest measured backend per dtype at the largest
    size, its fraction of the peak, the CUDA status, then the benchmark's own notes."""
    sentences: list[str] = []
    measured = table[table["status"] == "ok"]
    for dtype in sorted(measured["dtype"].unique()):
        sub = measured[measured["dtype"] == dtype]
        n = int(sub["n"].max())
        at_n = sub[sub["n"] == n]
        top = at_n.loc[at_n["gflops"].idxmax()]
        frac = top["fraction_of_peak"]
        sentences.append(
            f"{dtype}, n = {n}: fastest is {top['backend']} ({top['device']}) at {format_number(float(top['gflops']), 4)} "
            f"GFLOP/s" + (f", {_pct(float(frac))} of the estimated peak" if pd.notna(frac) else "") + "."
        )
    cuda = table[table["backend"] == "torch_cuda"]
    if not cuda.empty:
        statuses = sorted(set(cuda["status"]))
        sentences.append(
            "CUDA (torch_cuda): "
            + ", ".join(statuses)
            + (f" — {sidecar['machine']['gpu_name']}" if sidecar.get("machine", {}).get("gpu_name") else "")
            + "."
        )
    sentences.extend(str(note) for note in sidecar.get("notes", []))
    return sentences


def lessons_findings(summaries: Mapping[str, dict[str, Any]]) -> dict[str, list[str]]:
    """Sentences per lesson experiment from its JSON summary (keys ``binomial``, ``descent_x2``,
    ``minima``, ``vectors``); fields that are absent are skipped."""
    out: dict[str, list[str]] = {}
    b = summaries.get("binomial")
    if b:
        lines = []
        if "mean_correct" in b and "expected_mean_correct" in b:
            lines.append(
                f"{b.get('n_tests')} random tests of {b.get('n_questions')} questions: mean score "
                f"{format_number(b['mean_correct'])} (expected {format_number(b['expected_mean_correct'])}), "
                f"variance {format_number(b.get('variance_correct'))} (expected "
                f"{format_number(b.get('expected_variance_correct'))}); within tolerance: "
                f"{format_number(bool(b.get('mean_within_tolerance')))}."
            )
        lt = b.get("long_test")
        if lt:
            lines.append(
                f"One long test of {lt.get('n_questions')} questions: {format_number(lt.get('fraction_correct'))} "
                f"right (z = {format_number(lt.get('z_score'), 3)})."
            )
        out["binomial"] = lines
    d = summaries.get("descent_x2")
    if d:
        out["descent_x2"] = [
            f"Step {format_number(r.get('step_size'))}: {r.get('status')} after {r.get('iterations')} iterations "
            f"(x multiplied by {format_number(r.get('factor_per_step'))} per step; {r.get('reason')})."
            for r in d.get("runs", [])
        ]
    m = summaries.get("minima")
    if m:
        lines = []
        if "fraction_global" in m:
            lines.append(
                f"{_pct(float(m['fraction_global']))} of {m.get('config', {}).get('n_starts', '?')} random starts "
                f"reached the global minimum"
                + (f" at x = {format_vector(m['global_minimum']['x'])}" if m.get("global_minimum") else "")
                + "; the rest stopped in a local minimum."
            )
        if "best_is_global" in m:
            lines.append(
                f"Keeping the best of all restarts finds the global minimum: {format_number(bool(m['best_is_global']))}."
            )
        out["minima"] = lines
    v = summaries.get("vectors")
    if v:
        lines = []
        if "dot_product" in v:
            lines.append(
                f"Dot product by hand {format_number(v['dot_product'].get('dot_by_hand'))} = NumPy "
                f"{format_number(v['dot_product'].get('dot_numpy'))}."
            )
        if "linear_model" in v:
            lines.append(
                f"Linear model output {format_number(v['linear_model'].get('output'))}, with the bias folded "
                f"into the weights: {format_number(v['linear_model'].get('output_folded'))}."
            )
        out["vectors"] = lines
    return out
