"""Cost to accuracy in the report: the convergence figure (relative gap against iterations and
seconds, observed solid, predicted dashed, closed forms as markers), the time-to-accuracy table
with the fastest fit per target, and the "why" sentences generated from the conditioning.

Inputs are results files as read by the rule scripts: fit records (``results/fits/…json``),
annotated histories (``iteration``, ``seconds``, ``relative_gap``, ``predicted_gap``, ``gap``),
``results/fits/conditioning.parquet`` and ``results/fits/time_to_accuracy.parquet`` rows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from descent.plotting import pyplot
from descent.report.figures import method_colour

FitKey = tuple[str, str, str]
#: Relative gaps below this are drawn at it (float64 rounding; a log axis cannot show 0).
FLOOR = 1e-17


def convergence_figure(
    dataset: str,
    records: Mapping[FitKey, Mapping[str, Any]],
    histories: Mapping[FitKey, pd.DataFrame],
    accuracy: pd.DataFrame,
    scalings: Sequence[str],
) -> Any:
    """One row of two panels per scaling: relative gap (log) against iterations and against
    seconds. Observed curves solid, the exact prediction dashed in the same colour, closed forms
    as one marker each (their time, their gap relative to the zero model's)."""
    plt = pyplot()
    fig, axes = plt.subplots(len(scalings), 2, figsize=(11, 3.6 * len(scalings)), squeeze=False)
    methods = sorted({k[2] for k in records if k[0] == dataset})
    for row, scaling in enumerate(scalings):
        ax_it, ax_s = axes[row]
        for key in sorted(k for k in records if k[0] == dataset and k[1] == scaling):
            record, colour = records[key], method_colour(key[2], methods)
            history = histories.get(key)
            if record.get("status") == "skipped":
                continue
            if history is None or history.empty:
                point = accuracy[(accuracy["dataset"] == key[0]) & (accuracy["scaling"] == key[1])
                                 & (accuracy["method"] == key[2])]
                if point.empty or record.get("status") in ("inaccurate",):
                    continue
                gap = max(float(point["relative_gap"].iloc[0]), FLOOR)
                ax_it.plot([1], [gap], marker="D", color=colour, linestyle="none", label=f"{key[2]} (closed form)")
                ax_s.plot([max(float(record["seconds"]), 1e-6)], [gap], marker="D", color=colour, linestyle="none")
                continue
            rel = history["relative_gap"].to_numpy(dtype=np.float64)
            if record.get("status") != "diverged":
                # The best gap so far (as optimizer benchmarks plot suboptimality): at a float32
                # fit's floor the observed loss jitters by rounding, below and above L*.
                rel = np.fmin.accumulate(np.where(np.isfinite(rel), rel, np.inf))
            rel = np.where(np.isfinite(rel), np.clip(rel, FLOOR, None), np.nan)
            x_it = history["iteration"].to_numpy() + 1
            x_s = np.clip(history["seconds"].to_numpy(dtype=np.float64), 1e-6, None)
            failed = record.get("status") in ("diverged",)
            style = dict(color=colour, linewidth=1.3, linestyle=":" if failed else "-")
            label = key[2] + (" (diverged)" if failed else "")
            ax_it.plot(x_it, rel, label=label, **style)
            ax_s.plot(x_s, rel, **style)
            if "predicted_gap" in history and history["gap"].iloc[0] > 0:
                predicted = np.clip(history["predicted_gap"].to_numpy(dtype=np.float64) / history["gap"].iloc[0], FLOOR, None)
                reference = bool((record.get("predicted") or {}).get("reference_only"))
                ax_it.plot(x_it, predicted, color=colour, linewidth=1.0, linestyle="--", alpha=0.45 if reference else 0.9)
        for ax, xlabel in ((ax_it, "iteration + 1"), (ax_s, "seconds (cumulative fit time)")):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_ylim(bottom=FLOOR / 3, top=10.0)
            ax.set_xlabel(xlabel)
            ax.grid(True, which="major", alpha=0.3)
        ax_it.set_ylabel(f"{scaling}: relative gap")
        ax_it.legend(fontsize=7, ncol=2, loc="lower left")
    fig.suptitle(f"{dataset}: best relative gap so far, (loss − L*)/(initial − L*); dashed: predicted by the Hessian; "
                 "◆ closed forms")
    fig.tight_layout()
    return fig


def fastest_table(accuracy: pd.DataFrame, dataset: str) -> list[dict[str, Any]]:
    """Rows of the time-to-accuracy table of ``dataset``: one per fit, a column per target
    (``iterations`` / ``seconds`` or "not reached"), the fastest fit per target marked."""
    frame = accuracy[(accuracy["dataset"] == dataset) & (accuracy["status"] != "skipped")]
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    fastest = {}
    for epsilon, group in frame.groupby("epsilon"):
        hit = group[group["reached"]]
        if not hit.empty:
            best = hit.loc[hit["seconds"].idxmin()]
            fastest[epsilon] = (best["scaling"], best["method"])
    for _, r in frame.iterrows():
        row = rows.setdefault((r["scaling"], r["method"]), {"scaling": r["scaling"], "method": r["method"],
                                                             "kind": r["kind"], "status": r["status"]})
        if r["reached"]:
            cell = f"{int(r['iterations'])} it, {r['seconds']:.3g} s"
        else:
            cell = "not reached"
        if isinstance(r["predicted_iterations"], (int, np.integer)) and not pd.isna(r["predicted_iterations"]):
            cell += f" (predicted {int(r['predicted_iterations'])} it)"
        if fastest.get(r["epsilon"]) == (r["scaling"], r["method"]):
            cell += " ★ fastest"
        row[f"ε = {r['epsilon']:g}"] = cell
    return list(rows.values())


def _fmt(value: float) -> str:
    if value is None or not math.isfinite(value):
        return "∞"
    return f"{value:.3g}"


def why_sentences(
    dataset: str,
    conditioning: pd.DataFrame,
    records: Mapping[FitKey, Mapping[str, Any]],
    target: float,
) -> list[str]:
    """Sentences explaining, from the numbers, why the fits of ``dataset`` behaved as they did:
    κ raw against standardized, the largest stable step against the one each gradient-descent
    fit used, and the iterations predicted to reach ``target`` against those run."""
    sentences = []
    cond = {r["scaling"]: r for _, r in conditioning[conditioning["dataset"] == dataset].iterrows()}
    if "raw" in cond and "standardized" in cond:
        raw, std = cond["raw"], cond["standardized"]
        sentences.append(
            f"The Hessian's condition number κ is {_fmt(raw['kappa'])} on the raw data and "
            f"{_fmt(std['kappa'])} standardized: plain gradient descent's error shrinks at best by "
            f"(κ−1)/(κ+1) per step, {_fmt((raw['kappa'] - 1) / (raw['kappa'] + 1))} raw against "
            f"{_fmt((std['kappa'] - 1) / (std['kappa'] + 1))} standardized."
        )
    for key in sorted(k for k in records if k[0] == dataset):
        record = records[key]
        predicted = record.get("predicted")
        if not predicted or key[1] not in cond or record.get("status") == "skipped":
            continue
        stable = float(cond[key[1]]["max_stable_lr"])
        alpha = float(predicted["alpha_mean_loss"])
        needed = predicted.get("iterations_to", {}).get(f"{target:g}")
        ran = int(record["iterations"])
        what = f"{key[2]} ({key[1]}) used step {_fmt(alpha)} on the mean loss against the largest stable {_fmt(stable)}"
        if predicted["diverges"]:
            at = record.get("diverged_at")
            sentences.append(f"{what}: predicted to diverge (rate {_fmt(predicted['rate'])} > 1)"
                             + (f", and it diverged at iteration {at}." if at is not None else "."))
        elif needed is None:
            sentences.append(f"{what}: predicted rate {_fmt(predicted['rate'])} per step, too slow to reach "
                             f"{target:g} within any practical run; it ran {ran}.")
        else:
            verdict = "enough" if needed <= ran else "not enough"
            sentences.append(f"{what}: predicted to need {needed} iterations to reach {target:g}; it ran {ran} ({verdict}).")
    return sentences
