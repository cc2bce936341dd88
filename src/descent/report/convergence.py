"""Cost to accuracy in the report: the convergence figure (relative gap against iterations and
seconds, observed solid, predicted dashed, closed forms as markers), the time-to-accuracy table
with the fastest fit per target, and the facts of the "why" sentences (``templates/steps/beyond-cost.j2``).

Inputs are results files as read by the rule scripts: fit records (``results/fits/…json``),
annotated histories (``iteration``, ``seconds``, ``relative_gap``, ``predicted_gap``, ``gap``),
``results/fits/conditioning.parquet`` and ``results/fits/time_to_accuracy.parquet`` rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from descent.plotting import pyplot
from descent.report.figures import method_colour
from descent.report.results import fit_name
from descent.report.status import is_diverging, loss_path

FitKey = tuple[str, str, str]
#: Relative gaps below this are drawn at it (float64 rounding; a log axis cannot show 0).
FLOOR = 1e-17


def _fit_of(method: str) -> str:
    return fit_name(method)


def _best_so_far(history: pd.DataFrame, diverged: bool) -> pd.Series:
    rel = history["relative_gap"].to_numpy(dtype=np.float64)
    if not diverged:
        # The best gap so far (as optimizer benchmarks plot suboptimality): at a float32 fit's
        # floor the observed loss jitters by rounding, below and above L*.
        rel = np.fmin.accumulate(np.where(np.isfinite(rel), rel, np.inf))
    rel = np.where(np.isfinite(rel), np.clip(rel, FLOOR, None), np.nan)
    return pd.Series(rel, index=history["iteration"].to_numpy() + 1)


def group_repetitions(keys: Sequence[FitKey]) -> dict[FitKey, list[FitKey]]:
    """``(dataset, scaling, fit)`` → the jobs of that fit (repetition 0 first, then ``.rep1`` …)."""
    groups: dict[FitKey, list[FitKey]] = {}
    for key in sorted(keys, key=lambda k: (k[0], k[1], _fit_of(k[2]), k[2] != _fit_of(k[2]), k[2])):
        groups.setdefault((key[0], key[1], _fit_of(key[2])), []).append(key)
    return groups


def convergence_figure(
    dataset: str,
    records: Mapping[FitKey, Mapping[str, Any]],
    histories: Mapping[FitKey, pd.DataFrame],
    accuracy: pd.DataFrame,
    scalings: Sequence[str],
) -> Any:
    """One row of two panels per scaling: relative gap (log) against iterations and against
    seconds. Observed curves solid (fits with repetitions: the median over repetitions, with a
    min–max band), the exact prediction dashed in the same colour, closed forms as one marker
    each (their time, their gap relative to the zero model's). Skipped fits are not drawn."""
    plt = pyplot()
    fig, axes = plt.subplots(len(scalings), 2, figsize=(12, 3.9 * len(scalings)), squeeze=False)
    groups = group_repetitions([k for k in records if k[0] == dataset])
    methods = sorted({k[2] for k in groups})
    for row, scaling in enumerate(scalings):
        ax_it, ax_s = axes[row]
        for gkey in (g for g in groups if g[1] == scaling):
            jobs = groups[gkey]
            record, colour = records[jobs[0]], method_colour(gkey[2], methods)
            if record.get("status") == "skipped":
                continue
            drawn = [k for k in jobs if histories.get(k) is not None and not histories[k].empty]
            if not drawn:
                point = accuracy[
                    (accuracy["dataset"] == dataset)
                    & (accuracy["scaling"] == scaling)
                    & (accuracy["method"] == jobs[0][2])
                ]
                if point.empty or record.get("status") in ("inaccurate",):
                    continue
                gap = max(float(point["relative_gap"].iloc[0]), FLOOR)
                ax_it.plot([1], [gap], marker="D", color=colour, linestyle="none", label=f"{gkey[2]} (closed form)")
                ax_s.plot([max(float(record["seconds"]), 1e-6)], [gap], marker="D", color=colour, linestyle="none")
                continue
            failed = record.get("status") in ("diverged",)
            curves = [_best_so_far(histories[k], records[k].get("status") == "diverged") for k in drawn]
            seconds = [
                pd.Series(
                    np.clip(histories[k]["seconds"].to_numpy(dtype=np.float64), 1e-6, None),
                    index=histories[k]["iteration"].to_numpy() + 1,
                )
                for k in drawn
            ]
            style = dict(color=colour, linewidth=1.3, linestyle=":" if failed else "-")
            label = (
                gkey[2] + (" (diverged)" if failed else "") + (f" (median of {len(drawn)})" if len(drawn) > 1 else "")
            )
            if len(drawn) == 1:
                ax_it.plot(curves[0].index, curves[0].to_numpy(), label=label, **style)
                ax_s.plot(seconds[0].to_numpy(), curves[0].to_numpy(), **style)
            else:
                table = pd.concat(curves, axis=1)
                secs = pd.concat(seconds, axis=1).median(axis=1)
                med, lo, hi = table.median(axis=1), table.min(axis=1), table.max(axis=1)
                ax_it.plot(table.index, med.to_numpy(), label=label, **style)
                ax_it.fill_between(table.index, lo.to_numpy(), hi.to_numpy(), color=colour, alpha=0.18, linewidth=0)
                ax_s.plot(secs.to_numpy(), med.to_numpy(), **style)
                ax_s.fill_between(secs.to_numpy(), lo.to_numpy(), hi.to_numpy(), color=colour, alpha=0.18, linewidth=0)
            history = histories[drawn[0]]
            if "predicted_gap" in history and history["gap"].iloc[0] > 0:
                predicted = np.clip(
                    history["predicted_gap"].to_numpy(dtype=np.float64) / history["gap"].iloc[0], FLOOR, None
                )
                reference = bool((record.get("predicted") or {}).get("reference_only"))
                ax_it.plot(
                    curves[0].index,
                    predicted,
                    color=colour,
                    linewidth=1.0,
                    linestyle="--",
                    alpha=0.45 if reference else 0.9,
                )
        for ax, xlabel in ((ax_it, "iteration + 1"), (ax_s, "seconds (cumulative fit time)")):
            ax.set_xscale("log")
            ax.set_yscale("log")
            ax.set_ylim(bottom=FLOOR / 3, top=10.0)
            ax.set_xlabel(xlabel)
            ax.grid(True, which="major", alpha=0.3)
        ax_it.set_ylabel(f"{scaling}: relative gap")
        ax_it.set_title(f"{scaling}: against iterations", fontsize=9)
        ax_s.set_title(f"{scaling}: against seconds", fontsize=9)
        handles, labels = ax_it.get_legend_handles_labels()
        if handles:
            ax_s.legend(handles, labels, fontsize=7, ncol=1, loc="center left", bbox_to_anchor=(1.01, 0.5))
    fig.suptitle(
        f"{dataset}: best relative gap so far, (loss − L*)/(initial − L*); dashed: predicted by the Hessian; "
        "◆ closed forms; bands: min–max over repetitions",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def main_rows(accuracy: pd.DataFrame, dataset: str) -> pd.DataFrame:
    """The time-to-accuracy rows of ``dataset`` the table is built from: repetition 0 of every
    fit that ran (skipped fits left out)."""
    frame = accuracy[(accuracy["dataset"] == dataset) & (accuracy["status"] != "skipped")]
    if "repetition" in frame:
        frame = frame[frame["repetition"].fillna(0).astype(int) == 0]
    return frame[~frame["method"].map(lambda m: _fit_of(m) != m)]


def fastest(accuracy: pd.DataFrame, dataset: str, kind: str | None = None) -> dict[float, Mapping[str, Any]]:
    """ε → the repetition-0 row that reached ε in the fewest seconds (``kind``: only fits of that
    kind, e.g. ``iterative``)."""
    frame = main_rows(accuracy, dataset)
    if kind is not None:
        frame = frame[frame["kind"] == kind]
    out = {}
    for epsilon, group in frame.groupby("epsilon"):
        hit = group[group["reached"].astype(bool) & group["seconds"].notna()]
        if not hit.empty:
            out[float(epsilon)] = hit.loc[hit["seconds"].astype(float).idxmin()].to_dict()
    return out


def _spread(rep: Mapping[str, Any], what: str, digits: str) -> str:
    return (
        f"{format(rep[what + '_median'], digits)} [{format(rep[what + '_min'], digits)}, "
        f"{format(rep[what + '_max'], digits)}]"
    )


def fastest_table(
    accuracy: pd.DataFrame, dataset: str, repetitions: pd.DataFrame | None = None
) -> list[dict[str, Any]]:
    """Rows of the time-to-accuracy table of ``dataset``: one per fit (repetition 0), a column per
    target (``iterations`` / ``seconds`` or "not reached"), the fastest fit per target marked ★
    (☆: the fastest iterative one). Fits run several times show median [min, max] over their
    repetitions (``repetitions.parquet``), with unstable timings flagged."""
    frame = main_rows(accuracy, dataset)
    best, best_iterative = fastest(accuracy, dataset), fastest(accuracy, dataset, "iterative")
    reps = {}
    if repetitions is not None and not repetitions.empty:
        for _, rep in repetitions[repetitions["dataset"] == dataset].iterrows():
            reps[(rep["scaling"], rep["fit"], float(rep["epsilon"]))] = rep.to_dict()
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for _, r in frame.iterrows():
        fit = r["fit"] if "fit" in r and isinstance(r["fit"], str) else r["method"]
        row = rows.setdefault(
            (r["scaling"], r["method"]),
            {
                "scaling": r["scaling"],
                "method": r["method"],
                "kind": r["kind"],
                "device": r.get("device"),
                "status": r["status"],
            },
        )
        epsilon = float(r["epsilon"])
        rep = reps.get((r["scaling"], fit, epsilon))
        if rep is not None and int(rep["runs"]) > 1:
            row["runs"] = int(rep["runs"])
            if int(rep["reached_runs"]) == 0:
                cell = f"not reached in {int(rep['runs'])} runs"
            else:
                cell = (
                    f"{_spread(rep, 'iterations', '.0f')} it, {_spread(rep, 'seconds', '.3g')} s "
                    f"({int(rep['reached_runs'])}/{int(rep['runs'])} runs)"
                )
                if bool(rep.get("unstable")):
                    cell += " ⚠ unstable timing"
        elif bool(r["reached"]):
            cell = (f"{int(r['iterations'])} it, " if r["kind"] == "iterative" else "") + f"{float(r['seconds']):.3g} s"
        else:
            cell = "not reached"
        if not pd.isna(r["predicted_iterations"]):
            cell += f" (predicted {int(r['predicted_iterations'])} it)"
        mark = (r["scaling"], r["method"])
        if epsilon in best and (best[epsilon]["scaling"], best[epsilon]["method"]) == mark:
            cell += " ★ fastest"
        elif (
            epsilon in best_iterative
            and (best_iterative[epsilon]["scaling"], best_iterative[epsilon]["method"]) == mark
        ):
            cell += " ☆ fastest iterative"
        row[f"ε = {epsilon:g}"] = cell
    return list(rows.values())


def _reached_by(row: Mapping[str, Any]) -> dict[str, Any]:
    """The fit that reached a target: method, scaling, kind, iterations (``None`` unless
    iterative) and seconds."""
    iterative = row.get("kind") == "iterative" and not pd.isna(row.get("iterations"))
    return {
        "method": row["method"],
        "scaling": row["scaling"],
        "kind": row["kind"],
        "iterations": int(row["iterations"]) if iterative else None,
        "seconds": float(row["seconds"]),
    }


def fastest_facts(accuracy: pd.DataFrame, dataset: str) -> list[dict[str, Any]]:
    """Per relative gap ε (largest first): the fit that reached it first (``best``, ``None`` when
    none did) and the first iterative fit (``iterative``, ``None`` when none did)."""
    best, best_iterative = fastest(accuracy, dataset), fastest(accuracy, dataset, "iterative")
    return [
        {
            "epsilon": epsilon,
            "best": _reached_by(best[epsilon]) if epsilon in best else None,
            "iterative": _reached_by(best_iterative[epsilon]) if epsilon in best_iterative else None,
        }
        for epsilon in sorted({float(e) for e in main_rows(accuracy, dataset)["epsilon"]}, reverse=True)
    ]


def rate_rows(records: Mapping[FitKey, Mapping[str, Any]], dataset: str) -> list[dict[str, Any]]:
    """Predicted against observed contraction rate per iteration, for every fit with both
    (plain GD: max |1 − αλᵢ|; momentum/Nesterov with the optimal parameters: (√κ−1)/(√κ+1))."""
    rows = []
    for key in sorted(k for k in records if k[0] == dataset and _fit_of(k[2]) == k[2]):
        record = records[key]
        predicted = record.get("predicted") or {}
        if predicted.get("rate") is None or record.get("observed_rate") is None:
            continue
        p, o = float(predicted["rate"]), float(record["observed_rate"])
        rows.append(
            {
                "scaling": key[1],
                "method": key[2],
                "lr": predicted.get("alpha_mean_loss"),
                "momentum": predicted.get("momentum"),
                "predicted_rate": p,
                "observed_rate": o,
                "relative_difference": abs(o - p) / abs(p) if p else None,
                "reference_only": bool(predicted.get("reference_only")),
                "status": record.get("status"),
            }
        )
    return rows


INFERENCE_FIELDS = ("standard_errors", "t_values", "ci_low", "ci_high")


def inference_rows(records: Mapping[FitKey, Mapping[str, Any]], dataset: str) -> list[dict[str, Any]]:
    """One row per parameter (weights first, bias last, original units) of every closed-form fit
    of ``dataset`` with ``inference``: estimate, standard error, t, 95 % interval, and — when the
    truth is known — the true value and whether the interval covers it."""
    rows = []
    for key in sorted(k for k in records if k[0] == dataset):
        record = records[key]
        inference = record.get("inference")
        if not inference:
            continue
        # A model through the origin has no bias row (fit_intercept: false: the bias is not estimated).
        intercept = bool((record.get("settings") or {}).get("fit_intercept", True))
        names = [*record.get("features", []), *(["bias"] if intercept else [])]
        estimates = [*record.get("weights", []), record.get("bias")]
        truth = None
        if record.get("true_weights") is not None:
            truth = [*record["true_weights"], record.get("true_bias")]
        covers = inference.get("covers_truth")
        for i, name in enumerate(names):
            row = {
                "scaling": key[1],
                "method": key[2],
                "parameter": name,
                "estimate": estimates[i],
                **{f: inference[f][i] for f in INFERENCE_FIELDS},
                "r2": inference.get("r2"),
                "adj_r2": inference.get("adj_r2"),
            }
            if truth is not None:
                row["true_value"] = truth[i]
                row["covers_truth"] = bool(covers[i]) if covers is not None else None
            rows.append(row)
    return rows


def why_facts(
    dataset: str,
    conditioning: pd.DataFrame,
    records: Mapping[FitKey, Mapping[str, Any]],
    target: float,
    histories: Mapping[FitKey, Any] | None = None,
) -> dict[str, Any]:
    """Why the fits of ``dataset`` behaved as they did, from the fit stage's records: κ raw
    against standardized with the best contraction (κ−1)/(κ+1) of each (``kappa``, ``None``
    without both), and per gradient-descent fit the step it used against the largest stable one
    and the iterations predicted to reach ``target`` against those run (``fits``); ``diverging``
    (``None``, or the loss's ``start`` and ``end``) when its history shows it diverging
    (:func:`descent.report.status.is_diverging`) whatever the prediction said."""
    histories = histories or {}
    cond = {r["scaling"]: r for _, r in conditioning[conditioning["dataset"] == dataset].iterrows()}
    kappa = None
    if "raw" in cond and "standardized" in cond:
        raw, std = float(cond["raw"]["kappa"]), float(cond["standardized"]["kappa"])
        kappa = {
            "raw": raw,
            "standardized": std,
            "raw_rate": (raw - 1) / (raw + 1),
            "standardized_rate": (std - 1) / (std + 1),
        }
    fits = []
    for key in sorted(k for k in records if k[0] == dataset and _fit_of(k[2]) == k[2]):
        record = records[key]
        predicted = record.get("predicted")
        if not predicted or key[1] not in cond or record.get("status") == "skipped":
            continue
        observed = record.get("observed_rate")
        path = loss_path(histories.get(key))
        fits.append(
            {
                "method": key[2],
                "scaling": key[1],
                "alpha": float(predicted["alpha_mean_loss"]),
                "stable": float(cond[key[1]]["max_stable_lr"]),
                "diverges": bool(predicted["diverges"]),
                "diverged_at": record.get("diverged_at"),
                "rate": predicted["rate"],
                "observed": float(observed) if observed is not None else None,
                "reference_only": bool(predicted.get("reference_only")),
                "needed": predicted.get("iterations_to", {}).get(f"{target:g}"),
                "ran": int(record["iterations"]),
                "diverging": (
                    {"start": path[0], "end": path[1]}
                    if path is not None and is_diverging(record.get("status"), path)
                    else None
                ),
            }
        )
    return {"target": target, "kappa": kappa, "fits": fits}
