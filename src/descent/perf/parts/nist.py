"""NIST StRD digits table (:mod:`descent.perf.nist`, a few seconds): every closed-form path and
NumPy, scikit-learn, statsmodels side by side on the NIST linear-regression datasets the project
ships, LRE against exact rational arithmetic (``nist.json``)."""

from __future__ import annotations

from argparse import Namespace
from collections.abc import Mapping
from typing import Any

from descent.perf.nist import format_digits, nist_table
from descent.perf.part import Part, Result, fit_settings
from descent.perf.tables import target


def run(args: Namespace, results: Mapping[str, Result]) -> Result:
    return nist_table(fit_settings)


def rows(result: Result, results: Mapping[str, Result]) -> list[list[Any]]:
    nist = result["rows"]
    if not nist:
        return []
    fewest = min(row["digits"]["auto"] for row in nist)
    certified = min(r["certified_digits"]["auto"] for r in nist)
    detail = f"over {len(nist)} dataset × scaling rows; certified ≥ {certified:.1f}"
    return [["NIST StRD", "lstsq auto, fewest correct digits", f"{fewest:.1f}", detail]]


def targets(result: Result, results: Mapping[str, Result]) -> list[dict[str, Any]]:
    nist = result["rows"]
    if not nist:
        return []
    fewest = min(row["digits"]["auto"] for row in nist)
    return [target("NIST StRD: fewest correct digits of lstsq auto", fewest, 13.0, "min")]


def report(result: Result) -> str:
    return (
        "NIST StRD: correct digits (LRE) against exact rational arithmetic on the float64 data\n"
        "(stored: the float64 data's own distance from NIST's certified values; * flagged inaccurate)\n"
        + format_digits(result)
    )


PART = Part(name="nist", position=100, description=__doc__ or "", run=run, rows=rows, targets=targets, report=report)
