"""Beyond one machine: the sharded datasets, the closed forms reduced from their shards and the
data-parallel fits of this run — what ran where, rows per process, time per iteration, the share
of it spent in all-reduces, and the predicted against the observed gap (registered in
:data:`descent.report.sections.BEYOND`; left out when the run has none of them)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from descent.report import blocks
from descent.report.sections import Section, Story, beyond_section

#: The data-parallel table's columns and headers.
PARALLEL_HEADERS = {
    "dataset": "dataset",
    "scaling": "scaling",
    "method": "fit",
    "processes": "processes",
    "rows_per_process": "rows per process",
    "started_by": "started by",
    "ms_per_iteration": "ms / iteration",
    "communication_share": "all-reduce share",
    "observed_rate": "gap rate, observed",
    "predicted_rate": "gap rate, predicted",
    "iterations_observed": "iterations to target, observed",
    "iterations_predicted": "iterations to target, predicted",
    "difference_from_one_process": "|Δθ|/|θ| vs 1 process",
    "status": "status",
}
#: The map-reduce table's columns and headers.
REDUCED_HEADERS = {
    "dataset": "dataset",
    "scaling": "scaling",
    "method": "fit",
    "shards": "shards reduced",
    "rows": "rows",
    "certified_digits": "certified digits",
    "status": "status",
}


#: What a fit's recorded settings hold besides how it runs: how it was configured, and its processes.
_NOT_SETTINGS = ("processes", "fit", "repetition", "applied")


def _iterations_to(history: Any, target: float) -> float:
    """The first iteration whose relative gap is at most ``target`` (NaN: never, or no gaps)."""
    if history is None or "relative_gap" not in history:
        return math.nan
    reached = history.loc[history["relative_gap"] <= target, "iteration"]
    return float(reached.iloc[0]) if len(reached) else math.nan


def _one_process_twin(records: Mapping[Any, Mapping[str, Any]], record: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The fit of the same dataset, scaling and settings in one process, if this run has it."""
    settings = {k: v for k, v in record["settings"].items() if k not in _NOT_SETTINGS}
    for other in records.values():
        if (other["dataset"], other["scaling"]) != (record["dataset"], record["scaling"]):
            continue
        mine = {k: v for k, v in other["settings"].items() if k not in _NOT_SETTINGS}
        if (other.get("processes") or 1) == 1 and mine == settings and other.get("weights") is not None:
            return other
    return None


def _theta(record: Mapping[str, Any]) -> np.ndarray:
    return np.append(np.asarray(record["weights"], dtype=np.float64), float(record["bias"]))


def _target(predicted: Mapping[str, Any]) -> float | None:
    """The smallest relative gap the prediction was asked about (the run's accuracy targets)."""
    targets = [float(t) for t in (predicted.get("iterations_to") or {})]
    return min(targets) if targets else None


def _predicted_iterations(predicted: Mapping[str, Any], target: float | None) -> float:
    for key, value in (predicted.get("iterations_to") or {}).items():
        if target is not None and float(key) == target and value is not None:
            return float(value)
    return math.nan


def parallel_rows(story: Story) -> list[dict[str, Any]]:
    """One row per data-parallel fit of this run (:data:`PARALLEL_HEADERS`)."""
    r = story.results
    rows = []
    for key, record in r.records.items():
        if (record.get("processes") or 1) <= 1 or record.get("weights") is None:
            continue
        history = r.histories.get(key)
        predicted = record.get("predicted") or {}
        target = _target(predicted)
        twin = _one_process_twin(r.records, record)
        seconds, iterations = float(record["seconds"]), int(record["iterations"])
        rows.append(
            {
                "dataset": record["dataset"],
                "scaling": record["scaling"],
                "method": record["method"],
                "processes": int(record["processes"]),
                "rows_per_process": " / ".join(str(n) for n in record["rows_per_process"]),
                "started_by": record.get("launcher") or "local processes",
                "ms_per_iteration": 1e3 * seconds / iterations if iterations else math.nan,
                "communication_share": record.get("communication_seconds", math.nan) / seconds if seconds else math.nan,
                "observed_rate": record.get("observed_rate", math.nan),
                "predicted_rate": predicted.get("rate", math.nan),
                "target": target,
                "iterations_observed": _iterations_to(history, target) if target else math.nan,
                "iterations_predicted": _predicted_iterations(predicted, target),
                "difference_from_one_process": float(
                    np.linalg.norm(_theta(record) - _theta(twin)) / np.linalg.norm(_theta(twin))
                )
                if twin is not None
                else math.nan,
                "status": record["status"],
            }
        )
    return rows


def reduced_rows(story: Story) -> list[dict[str, Any]]:
    """One row per closed form reduced from a sharded dataset's per-shard statistics."""
    rows = []
    for record in story.results.records.values():
        reduced = record.get("map_reduce")
        if not reduced:
            continue
        certificate = record.get("certificate") or {}
        rows.append(
            {
                "dataset": record["dataset"],
                "scaling": record["scaling"],
                "method": record["method"],
                "shards": reduced["shards"],
                "rows": reduced["rows"],
                "certified_digits": certificate.get("certified_digits", math.nan),
                "status": record["status"],
            }
        )
    return rows


def scale_facts(story: Story) -> dict[str, Any]:
    """The facts the section's words name: the sharded datasets (name, rows, shards, smallest and
    largest shard, generated or a folder), the data-parallel and reduced fits' rows."""
    sharded = []
    for name in story.results.dataset_order:
        meta = story.results.metas.get(name, {})
        shards = meta.get("shards")
        if shards:
            sizes = [int(s["rows"]) for s in shards]
            sharded.append(
                {
                    "dataset": name,
                    "n": int(meta["n"]),
                    "shards": len(sizes),
                    "smallest": min(sizes),
                    "largest": max(sizes),
                    "folder": meta.get("generator") == "file",
                }
            )
    parallel, reduced = parallel_rows(story), reduced_rows(story)
    differences = [
        row["difference_from_one_process"] for row in parallel if not math.isnan(row["difference_from_one_process"])
    ]
    return {
        "sharded": sharded,
        "parallel": parallel,
        "reduced": reduced,
        "compared": len(differences),
        "largest_difference": max(differences) if differences else None,
        "srun": any(row["started_by"] != "local processes" for row in parallel),
        "targets": sorted({row["target"] for row in parallel if row["target"]}),
    }


@beyond_section
def beyond_one_machine(story: Story) -> Section | None:
    """Sharded datasets, map-reduce closed forms and data-parallel fits, when the run has any."""
    facts = scale_facts(story)
    if not (facts["sharded"] or facts["parallel"] or facts["reduced"]):
        return None
    words, sid = story.words, "beyond-scale"
    content: list[dict[str, Any]] = [blocks.paragraph(words.text(sid, "text", facts))]
    if facts["sharded"]:
        content.append(blocks.bullets(words.items(sid, "sharded", facts)))
    if facts["parallel"]:
        content.append(blocks.paragraph(words.text(sid, "parallel", facts)))
        content.append(blocks.table(facts["parallel"], list(PARALLEL_HEADERS), "data_parallel", PARALLEL_HEADERS))
    if facts["reduced"]:
        content.append(blocks.paragraph(words.text(sid, "reduced", facts)))
        content.append(blocks.table(facts["reduced"], list(REDUCED_HEADERS), "map_reduce", REDUCED_HEADERS))
    return Section(sid, words.text(sid, "title", facts), content)
