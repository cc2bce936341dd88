"""Claim checks on the fits: the Paris lesson's descents and closed form, Lesson 0's training loop.

Each reads the fits' results through :class:`descent.report.results.Results` (summary rows, fit
records, gradient checks, the single-feature datasets' data) and computes its verdict; see
:mod:`descent.report.checkbase`. ``expected`` parameters are named in each docstring.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from descent.report import analysis
from descent.report.checkbase import FAILS, Outcome, check, holds, unchecked
from descent.report.status import CATEGORY_FAILED


def _fit(
    results: Any, exp: Mapping[str, Any], method: str | None = None, scaling: str | None = None
) -> tuple[dict[str, Any] | None, str]:
    dataset, scaling, method = exp["dataset"], scaling or exp.get("scaling", "raw"), method or exp["method"]
    fit = results.fit(dataset, scaling, method)
    label = f"{method} ({scaling}) on {dataset}"
    return fit, label


def _failed(fit: Mapping[str, Any]) -> bool:
    return fit.get("category") == CATEGORY_FAILED


@check("intercept_barely_moves")
def intercept_barely_moves(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """Raw descent hardly moves the intercept: ``|b_end − b_start| / |b_lstsq − b_start|`` at most
    ``max_fraction``. ``expected``: ``dataset``, ``method``, ``max_fraction``."""
    fit, label = _fit(results, exp)
    if fit is None or not fit.get("init"):
        return unchecked(f"{label} is not in this run")
    if _failed(fit):
        return Outcome(FAILS, f"{label} failed: {fit['status_text']}", {"status": fit["status"]})
    b0, b1, b_star = float(fit["init"]["bias"]), float(fit["bias"]), float(fit["lstsq_bias"])
    w0, w1 = float(fit["init"]["weights"][0]), float(fit["weights"][0])
    fraction = abs(b1 - b0) / abs(b_star - b0) if b_star != b0 else 0.0
    values = {
        "b_start": b0,
        "b_end": b1,
        "b_lstsq": b_star,
        "fraction_of_the_way": fraction,
        "w_start": w0,
        "w_end": w1,
        "w_lstsq": float(fit["lstsq_weights"][0]),
        "iterations": int(fit["iterations"]),
    }
    return Outcome(holds(fraction <= float(exp["max_fraction"])), "", values)


@check("descent_recovers_parameters")
def descent_recovers_parameters(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """A descent reaches the least-squares solution (relative distance at most ``rtol``) and the
    true parameters lie within ``z`` standard errors of it (what noise allows). ``expected``:
    ``dataset``, ``scaling``, ``method``, ``rtol``, ``z``."""
    fit, label = _fit(results, exp)
    if fit is None:
        return unchecked(f"{label} is not in this run")
    if _failed(fit):
        return Outcome(FAILS, f"{label} failed: {fit['status_text']}", {"status": fit["status"]})
    found = analysis.theta(fit)
    lstsq = np.append(np.asarray(list(fit["lstsq_weights"]), dtype=np.float64), float(fit["lstsq_bias"]))
    known = fit.get("true_weights") is not None and fit.get("true_bias") is not None
    truth = (
        np.append(np.asarray(list(fit["true_weights"]), dtype=np.float64), float(fit["true_bias"]))
        if known
        else np.full(found.shape, np.nan)
    )
    rel = analysis.rel_diff(found, lstsq)
    values: dict[str, Any] = {
        "fit": label,
        "weights": found[:-1].tolist(),
        "bias": float(found[-1]),
        "rel_dist_to_lstsq": rel,
        "true_weights": truth[:-1].tolist(),
        "true_bias": float(truth[-1]),
        "truth_z": None,
    }
    ok = rel <= float(exp["rtol"])
    data = results.data(exp["dataset"])
    if data is not None and np.all(np.isfinite(truth)):
        se = analysis.standard_errors(*data)
        z = np.abs(truth - lstsq) / se
        values.update({"standard_errors": se.tolist(), "truth_z": z.tolist(), "n_points": len(data[1])})
        ok = ok and bool(np.all(z <= float(exp["z"])))
    return Outcome(holds(ok), "", values)


@check("conditioning_improves")
def conditioning_improves(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """Standardizing makes the loss surface round: the condition number of the MSE's Hessian is at
    most ``max_condition`` after standardizing, and larger before. ``expected``: ``dataset``,
    ``max_condition``."""
    data = results.data(exp["dataset"])
    if data is None:
        return unchecked(f"the data of {exp['dataset']} are not in this run")
    X, y = data
    raw = analysis.hessian_facts(X, y)
    Xs, ys, _ = analysis.standardize(X, y)
    std = analysis.hessian_facts(Xs, ys)
    values = {
        "condition_raw": raw["condition_number"],
        "condition_standardized": std["condition_number"],
        "max_stable_step_raw": raw["max_stable_step"],
        "max_stable_step_standardized": std["max_stable_step"],
    }
    ok = std["condition_number"] <= float(exp["max_condition"]) < raw["condition_number"]
    return Outcome(holds(ok), "", values)


@check("standardized_slope_is_correlation")
def standardized_slope_is_correlation(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """On standardized data the least-squares slope equals the correlation of feature and target
    (within ``rtol``). ``expected``: ``dataset``, ``method`` (a closed form), ``rtol``."""
    fit, label = _fit(results, exp, scaling="standardized")
    data = results.data(exp["dataset"])
    if fit is None or data is None:
        return unchecked(f"{label} or its data are not in this run")
    slope = float(fit["fitted_space"]["weights"][0]) if fit.get("fitted_space") else float("nan")
    r = float(np.corrcoef(data[0][:, 0], data[1])[0, 1])
    values = {"standardized_slope": slope, "correlation": r}
    return Outcome(holds(abs(slope - r) <= float(exp["rtol"]) * abs(r)), "", values)


@check("gradients_agree")
def gradients_agree(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """Hand-derived and autograd gradients agree: relative difference within ``factor`` × (number
    of parameters) × eps of each dtype checked. ``expected``: ``dataset``, ``factor``."""
    checked = results.checks.get(exp["dataset"])
    if not checked:
        return unchecked(f"no gradient check of {exp['dataset']} in this run")
    dtypes, ok = [], True
    for dtype in ("float64", "float32"):
        part = checked.get(dtype)
        if not part:
            continue
        bound = float(exp["factor"]) * (len(part["hand"]["weights"]) + 1) * float(part["eps"])
        ok = ok and float(part["max_rel_diff"]) <= bound
        dtypes.append({"dtype": dtype, "max_rel_diff": float(part["max_rel_diff"]), "bound": bound})
    point = checked.get("point") or None
    values = {"dtypes": dtypes, "point": point}
    return Outcome(holds(ok and bool(dtypes)), "", values)


@check("fits_agree")
def fits_agree(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """Several methods reach the same parameters: every method's ``(w, b)`` within ``rtol``
    (relative) of the first's. ``expected``: ``dataset``, ``scaling``, ``methods``, ``rtol``."""
    fits = {m: results.fit(exp["dataset"], exp["scaling"], m) for m in exp["methods"]}
    missing = [m for m, f in fits.items() if f is None]
    if missing:
        return unchecked(f"{', '.join(missing)} ({exp['scaling']}) on {exp['dataset']} not in this run")
    failed = [m for m, f in fits.items() if _failed(f)]
    if failed:
        return Outcome(FAILS, f"failed: {', '.join(failed)}", {})
    first, *others = exp["methods"]
    ref = analysis.theta(fits[first])
    diffs = {m: analysis.rel_diff(analysis.theta(fits[m]), ref) for m in others}
    values = {
        "reference": first,
        "fits": [
            {"method": m, "weights": [float(v) for v in fits[m]["weights"]], "bias": float(fits[m]["bias"])}
            for m in exp["methods"]
        ],
        "rel_diffs": [{"method": m, "rel_diff": d} for m, d in diffs.items()],
    }
    return Outcome(holds(max(diffs.values(), default=0.0) <= float(exp["rtol"])), "", values)


@check("closed_form_variant_matches")
def closed_form_variant_matches(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """A closed-form variant (the lesson's verbatim ``torch.linalg.lstsq``) passed its certificate
    and lies within ``rtol`` (relative) of the certified float64 solution. ``expected``:
    ``dataset``, ``method``, ``reference``, ``rtol``."""
    fit, label = _fit(results, exp)
    ref = results.fit(exp["dataset"], exp.get("scaling", "raw"), exp["reference"])
    if fit is None or ref is None:
        return unchecked(f"{label} or {exp['reference']} not in this run")
    rel = analysis.rel_diff(analysis.theta(fit), analysis.theta(ref))
    certificate = fit.get("certificate") or {}
    values = {
        "rel_diff": rel,
        "weights": [float(v) for v in fit["weights"]],
        "bias": float(fit["bias"]),
        "reference_weights": [float(v) for v in ref["weights"]],
        "reference_bias": float(ref["bias"]),
        "status": fit["status"],
        "error_bound": certificate.get("error_bound"),
        "dtype": fit.get("dtype", "?"),
    }
    return Outcome(holds(rel <= float(exp["rtol"]) and not _failed(fit)), "", values)


@check("data_centered")
def data_centered(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """The data a descent ran on are centered (feature and target means 0, so the intercept is
    about 0). ``expected``: ``dataset``, ``rtol`` (|mean| ≤ rtol × std counts as 0)."""
    data = results.data(exp["dataset"])
    if data is None:
        return unchecked(f"the data of {exp['dataset']} are not in this run")
    X, y = data
    mx, my = float(X[:, 0].mean()), float(y.mean())
    sx, sy = float(X[:, 0].std(ddof=1)), float(y.std(ddof=1))
    b_star = float(analysis.least_squares(X, y)[-1])
    meta = results.metas.get(exp["dataset"], {})
    values = {
        "feature": meta.get("features", ["x"])[0],
        "target": meta.get("target", "y"),
        "feature_mean": mx,
        "feature_std": sx,
        "target_mean": my,
        "target_std": sy,
        "lstsq_intercept": b_star,
    }
    tol = float(exp["rtol"])
    return Outcome(holds(abs(mx) <= tol * sx and abs(my) <= tol * sy), "", values)


def _history_theta(history: Any, row: int) -> np.ndarray:
    weights = sorted((c for c in history.columns if c.startswith("w") and c[1:].isdigit()), key=lambda c: int(c[1:]))
    return np.append(history[weights].iloc[row].to_numpy(dtype=np.float64), float(history["b"].iloc[row]))


def _histories(results: Any, exp: Mapping[str, Any]) -> tuple[dict[str, list[Any]], list[str]]:
    """Every run's history (repetitions included) of each of ``exp['methods']`` that this run
    has (the first, full batch, is required, then at least one stochastic variant), and the
    missing ones that make the check impossible."""
    runs = {
        m: [h for h in results.run_histories(exp["dataset"], exp["scaling"], m) if not h.empty] for m in exp["methods"]
    }
    present = {m: hs for m, hs in runs.items() if hs}
    first = exp["methods"][0]
    if first not in present:
        return present, [first]
    return present, ([] if len(present) >= 2 else [m for m in exp["methods"][1:]])


def _spread(values: list[float]) -> dict[str, Any]:
    """``median``, ``low``, ``high`` and ``runs`` of one fit's values over its runs."""
    array = np.asarray(values, dtype=np.float64)
    return {
        "median": float(np.median(array)),
        "low": float(array.min()),
        "high": float(array.max()),
        "runs": len(values),
    }


@check("batch_is_stable")
def batch_is_stable(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """Full-batch descent is the stable variant: its loss never rises from one epoch to the next
    in any run, while the stochastic variant's does (median over its runs). ``expected``:
    ``dataset``, ``scaling``, ``methods`` (full batch first, then the stochastic variants)."""
    histories, missing = _histories(results, exp)
    if missing:
        return unchecked(f"{', '.join(missing)} ({exp['scaling']}) on {exp['dataset']} not in this run")
    rises = {
        m: _spread([float((np.diff(h["loss"].to_numpy(dtype=np.float64)) > 0).sum()) for h in hs])
        for m, hs in histories.items()
    }
    epochs = {m: min(len(h) for h in hs) - 1 for m, hs in histories.items()}
    first, *others = list(histories)
    ok = rises[first]["high"] == 0 and all(rises[m]["median"] > 0 for m in others)
    values = {"fits": [{"method": m, "rises": rises[m], "epochs": epochs[m]} for m in histories]}
    return Outcome(holds(ok), "", values)


@check("stochastic_is_faster")
def stochastic_is_faster(results: Any, exp: Mapping[str, Any]) -> Outcome:
    """Per pass over the data, mini-batch and stochastic descent get closer to least squares than
    full-batch descent: relative distance after the same number of epochs (the fewest any run
    ran), the median over each fit's runs (random seeds), with its spread. The seconds each took
    to get there (median) are recorded too: per second the order may differ. ``expected``:
    ``dataset``, ``scaling``, ``methods`` (full batch first)."""
    histories, missing = _histories(results, exp)
    fit = results.fit(exp["dataset"], exp["scaling"], exp["methods"][0])
    if missing or fit is None:
        return unchecked(
            f"{', '.join(missing) or exp['methods'][0]} ({exp['scaling']}) on {exp['dataset']} not in this run"
        )
    lstsq = np.append(np.asarray(list(fit["lstsq_weights"]), dtype=np.float64), float(fit["lstsq_bias"]))
    epochs = min(len(h) - 1 for hs in histories.values() for h in hs)
    dist = {
        m: _spread([analysis.rel_diff(_history_theta(h, epochs), lstsq) for h in hs]) for m, hs in histories.items()
    }
    seconds = {
        m: _spread([float(h["seconds"].iloc[epochs]) for h in hs]) if all("seconds" in h for h in hs) else None
        for m, hs in histories.items()
    }
    first, *others = list(histories)
    ok = all(dist[m]["median"] < dist[first]["median"] for m in others)
    base = seconds[first]
    slower = [m for m in others if (t := seconds[m]) is not None and base is not None and t["median"] > base["median"]]
    values = {
        "epochs": epochs,
        "fits": [{"method": m, "rel_dist": dist[m], "seconds": seconds[m]} for m in histories],
        "slower_per_second": slower,
        "full_batch": first,
    }
    return Outcome(holds(ok), "", values)
