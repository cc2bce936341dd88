"""Every result file the page reads, loaded once into one object the sections and claim checks share.

:class:`Results` holds the fits (``summary`` already marked by
:func:`descent.report.tables.mark_fits`, fit ``records``, ``histories``, ``predictions``, loss
``surfaces``, gradient ``checks``), the datasets' sidecars (``metas``) and, lazily, the data of
single-feature datasets, the matmul benchmark's table and sidecar, Lesson 0's JSON summaries and
tables, the figure files, and the resolved configuration. Anything a section or a check needs
that is absent (a stage switched off, a method not configured) is ``None``/missing, and the code
reading it says so instead of failing: sections are built only from results that exist.

:func:`from_snakemake` builds it from the ``report_html`` rule's named inputs and params.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, cast

import numpy as np
import pandas as pd

from descent.config.sections import ReportConfig
from descent.io import load_dataset, read_json
from descent.report.tables import mark_fits
from descent.report.words import Words

FitKey = tuple[str, str, str]

#: Lesson 0 experiments with a JSON summary (``results/lessons/{key}.json``) and with a figure.
LESSON_KEYS: tuple[str, ...] = ("binomial", "vectors", "descent_x2", "minima")
LESSON_FIGURES: tuple[str, ...] = ("binomial", "descent_x2", "minima")


@dataclass
class Results:
    """What the workflow computed, as the report reads it (see the module docstring).

    ``figures`` maps a name to a PNG path: ``{dataset}_fits``, ``{dataset}_loss``,
    ``{dataset}_surface``, ``gradient_check``, ``predictions``, ``matmul_gflops``,
    ``matmul_speedup``, ``lessons_{key}``. ``data_paths`` maps a single-feature dataset to its
    ``(parquet file or shard files, sidecar)``; :meth:`data` loads it on first use.
    """

    config: dict[str, Any]
    summary: pd.DataFrame
    records: dict[FitKey, dict[str, Any]] = field(default_factory=dict)
    histories: dict[FitKey, pd.DataFrame] = field(default_factory=dict)
    predictions: pd.DataFrame | None = None
    surfaces: dict[tuple[str, str], pd.DataFrame] = field(default_factory=dict)
    checks: dict[str, dict[str, Any]] = field(default_factory=dict)
    metas: dict[str, dict[str, Any]] = field(default_factory=dict)
    figures: dict[str, Path] = field(default_factory=dict)
    benchmark: pd.DataFrame | None = None
    benchmark_sidecar: dict[str, Any] | None = None
    lessons: dict[str, dict[str, Any]] = field(default_factory=dict)
    lesson_tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    data_paths: dict[str, tuple[Any, str]] = field(default_factory=dict)
    #: ``results/fits/conditioning.parquet``, ``time_to_accuracy.parquet``, ``repetitions.parquet``
    #: (issues #14, #15); ``None`` when this run has none.
    conditioning: pd.DataFrame | None = None
    accuracy: pd.DataFrame | None = None
    repetitions: pd.DataFrame | None = None
    #: Every fit's record and history, repetitions (``{fit}.rep{r}``) included; ``records`` and
    #: ``histories`` (and ``summary``, ``predictions``) hold repetition 0 only.
    all_records: dict[FitKey, dict[str, Any]] = field(default_factory=dict)
    all_histories: dict[FitKey, pd.DataFrame] = field(default_factory=dict)
    #: The results these were restricted from (:meth:`restricted`), ``None`` when not restricted:
    #: what a step may read that shows no fit (where the lesson's descent starts).
    full: Results | None = field(default=None, repr=False)
    _data: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict, repr=False)

    # ------------------------------------------------------------------ datasets

    @property
    def dataset_order(self) -> list[str]:
        """Datasets in the order the configuration lists them (not alphabetical)."""
        configured = list((self.config.get("datasets") or {}).keys())
        present = set(self.summary["dataset"]) if "dataset" in self.summary else set()
        return [d for d in configured if d in present or d in self.metas] + sorted(present - set(configured))

    def data(self, dataset: str) -> tuple[np.ndarray, np.ndarray] | None:
        """``(X (n, k), y (n,))`` in float64 of a single-feature dataset, or ``None``."""
        if dataset not in self._data:
            if dataset not in self.data_paths:
                return None

            loaded = load_dataset(*self.data_paths[dataset])
            self._data[dataset] = (np.asarray(loaded.X, dtype=np.float64), np.asarray(loaded.y, dtype=np.float64))
        return self._data[dataset]

    # ------------------------------------------------------------------ fits

    def fit(self, dataset: str, scaling: str, method: str) -> dict[str, Any] | None:
        """The marked summary row of one fit merged over its JSON record (``None`` if not run)."""
        rows = self.summary[
            (self.summary["dataset"] == dataset)
            & (self.summary["scaling"] == scaling)
            & (self.summary["method"] == method)
        ]
        if rows.empty:
            return None
        return {**self.records.get((dataset, scaling, method), {}), **rows.iloc[0].to_dict()}

    def fits_of(self, dataset: str) -> pd.DataFrame:
        """The marked summary rows of one dataset, in the summary's order."""
        return self.summary[self.summary["dataset"] == dataset]

    def history(self, dataset: str, scaling: str, method: str) -> pd.DataFrame | None:
        return self.histories.get((dataset, scaling, method))

    def run_histories(self, dataset: str, scaling: str, method: str) -> list[pd.DataFrame]:
        """Every run's history of one fit: repetition 0 first, then ``{method}.rep{r}`` in order
        of ``r`` (one entry for a fit that is not repeated; empty when it did not run)."""
        runs = [
            (0 if key[2] == method else int(key[2].rsplit(".rep", 1)[1]), history)
            for key, history in (self.all_histories or self.histories).items()
            if key[:2] == (dataset, scaling) and fit_name(key[2]) == method
        ]
        return [history for _, history in sorted(runs, key=lambda run: run[0])]

    def has_fits(self, dataset: str) -> bool:
        return bool((self.summary["dataset"] == dataset).any())

    def figure(self, name: str) -> Path | None:
        path = self.figures.get(name)
        return path if path is not None and Path(path).exists() else None

    def restricted(self, fits: Collection[FitKey]) -> Results:
        """These results with only the fits ``fits`` names (``(dataset, scaling, fit)``, each fit's
        repetitions with it), for a page that shows only some methods (the class page,
        :mod:`descent.report.classpage`). Datasets, lessons, benchmark
        and conditioning stay; the workflow's figures that draw every fit of a dataset
        (:data:`FIT_FIGURES`) and the predictions figure are left out."""

        wanted = {(str(d), str(s), str(f)) for d, s, f in fits}

        def kept(dataset: Any, scaling: Any, method: Any) -> bool:
            return (str(dataset), str(scaling), fit_name(str(method))) in wanted

        def rows(frame: pd.DataFrame | None) -> pd.DataFrame | None:
            if frame is None or not {"dataset", "scaling", "method"} <= set(frame.columns):
                return frame
            keep = [kept(*key) for key in zip(frame["dataset"], frame["scaling"], frame["method"])]
            return frame[keep].reset_index(drop=True)

        def keys(mapping: Mapping[FitKey, Any]) -> dict[FitKey, Any]:
            return {key: value for key, value in mapping.items() if kept(*key)}

        drawn_by_fit = {
            f"{d}_{kind}" for d in self.metas | dict.fromkeys(self.summary["dataset"]) for kind in FIT_FIGURES
        }
        return replace(
            self,
            summary=cast(pd.DataFrame, rows(self.summary)),
            records=keys(self.records),
            histories=keys(self.histories),
            predictions=rows(self.predictions),
            accuracy=rows(self.accuracy),
            repetitions=rows(self.repetitions),
            all_records=keys(self.all_records),
            all_histories=keys(self.all_histories),
            figures={k: v for k, v in self.figures.items() if k not in drawn_by_fit and k != "predictions"},
            full=self.full or self,
        )

    @property
    def unrestricted(self) -> Results:
        """The results before any :meth:`restricted` (these when not restricted)."""
        return self.full or self


#: The workflow's figures of one dataset that draw every fit of it (``{dataset}_{kind}``).
FIT_FIGURES: tuple[str, ...] = ("fits", "loss", "surface", "convergence")


REPETITION = re.compile(r"\.rep\d+$")


def is_repetition(method: str) -> bool:
    """Whether ``method`` is a repeated run (``{fit}.rep{r}``, r ≥ 1) of a fit."""
    return bool(REPETITION.search(str(method)))


def fit_name(method: str) -> str:
    """The fit a job belongs to: ``minibatch_gd.rep3`` → ``minibatch_gd``."""
    return REPETITION.sub("", str(method))


def _first_repetitions(results: Results) -> Results:
    """Keep every fit in ``all_records``/``all_histories`` and only repetition 0 in the tables
    and mappings the rest of the page iterates over, so repetitions never show as fits of their own."""
    results.all_records, results.all_histories = dict(results.records), dict(results.histories)
    results.records = {k: v for k, v in results.records.items() if not is_repetition(k[2])}
    results.histories = {k: v for k, v in results.histories.items() if not is_repetition(k[2])}
    keep = ~results.summary["method"].map(is_repetition)
    if "repetition" in results.summary:
        keep &= results.summary["repetition"].fillna(0).astype(int) == 0
    results.summary = results.summary[keep].reset_index(drop=True)
    if results.predictions is not None and "method" in results.predictions:
        results.predictions = results.predictions[~results.predictions["method"].map(is_repetition)].reset_index(
            drop=True
        )
    return results


def _read_cost(results: Results, conditioning: Any, accuracy: Any, repetitions: Any) -> None:
    for name, path in (("conditioning", conditioning), ("accuracy", accuracy), ("repetitions", repetitions)):
        if path and Path(path).exists():
            setattr(results, name, pd.read_parquet(path))


def _maybe(inp: Any, name: str) -> Any:
    """A named input of the rule, or ``None`` when the rule does not have it."""
    try:
        return inp[name]
    except (KeyError, AttributeError, IndexError, TypeError):
        return getattr(inp, name, None)


def from_snakemake(inp: Any, par: Any) -> Results:
    """:class:`Results` from the ``report_html`` rule's inputs and params (``snakemake.input``,
    ``snakemake.params``; item and attribute access)."""

    section = ReportConfig.coerce(par.section)
    summary = pd.read_parquet(inp.summary)
    records = {tuple(key): read_json(path) for key, path in zip(par.fit_keys, inp.fits)}
    metas = {Path(path).stem: read_json(path) for path in inp.metas}
    histories = {tuple(key): pd.read_parquet(path) for key, path in zip(par.history_keys, inp.histories)}
    marked = mark_fits(
        summary,
        float(section.best_rtol),
        records,
        {name: str(meta.get("dtype")) for name, meta in metas.items() if meta.get("dtype")},
        Words(section.templates),  # a teacher's status.j2 too
        histories,  # a fit whose loss grew tenfold is diverging
    )
    surfaces = {(Path(p).parts[-3], Path(p).parts[-2]): pd.read_parquet(p) for p in inp.surfaces}
    figures: dict[str, Path] = {
        "gradient_check": Path(inp.gradient_figure),
        "predictions": Path(inp.predictions_figure),
    }
    for path in [*inp.fit_figures, *inp.surface_figures, *(_maybe(inp, "convergence_figures") or [])]:
        figures[Path(path).stem] = Path(path)
    meta_paths = {Path(p).stem: p for p in inp.metas}
    results = Results(
        config=dict(par.config),
        summary=marked,
        records=records,
        histories=histories,
        predictions=pd.read_parquet(inp.predictions),
        surfaces=surfaces,
        checks={Path(path).stem: read_json(path) for path in inp.checks},
        metas=metas,
        figures=figures,
        data_paths={name: (files, meta_paths[name]) for name, files in par.data_files.items()},
    )
    _read_cost(results, _maybe(inp, "conditioning"), _maybe(inp, "time_to_accuracy"), _maybe(inp, "repetitions"))
    _first_repetitions(results)
    if section.benchmark and _maybe(inp, "benchmark_table"):
        results.benchmark = pd.read_parquet(inp.benchmark_table)
        results.benchmark_sidecar = read_json(inp.benchmark_sidecar)
        results.figures["matmul_gflops"] = Path(inp.benchmark_gflops)
        results.figures["matmul_speedup"] = Path(inp.benchmark_speedup)
    if section.lessons:
        for key in LESSON_KEYS:
            path = _maybe(inp, f"lessons_{key}")
            if path:
                results.lessons[key] = read_json(path)
        for key in LESSON_FIGURES:
            path = _maybe(inp, f"lessons_{key}_png")
            if path:
                results.figures[f"lessons_{key}"] = Path(path)
        for key, name in (
            ("binomial", "lessons_binomial_table"),
            ("vectors", "lessons_vectors_table"),
            ("descent_x2", "lessons_descent_x2_table"),
            ("minima", "lessons_minima_table"),
        ):
            path = _maybe(inp, name)
            if path:
                results.lesson_tables[key] = pd.read_parquet(path)
    return results


def configured_datasets(config: Mapping[str, Any]) -> list[str]:
    """Dataset names in config order."""
    return list((config.get("datasets") or {}).keys())


def from_directory(root: str | Path, config: Mapping[str, Any], best_rtol: float = 1e-9, words: Any = None) -> Results:
    """:class:`Results` from a finished run's ``results/`` directory (for scripts and tests; the
    workflow uses :func:`from_snakemake`). Reads whatever is there; ``words``: the
    :class:`descent.report.words.Words` of the fits' status texts (default: the built-in ones)."""

    root = Path(root)
    fits = root / "fits"
    records: dict[FitKey, dict[str, Any]] = {
        cast(FitKey, tuple(p.relative_to(fits).with_suffix("").parts)): read_json(p)
        for p in sorted(fits.glob("*/*/*.json"))
    }
    histories: dict[FitKey, Any] = {
        cast(FitKey, (*p.relative_to(fits).parts[:2], p.name.removesuffix(".history.parquet"))): pd.read_parquet(p)
        for p in sorted(fits.glob("*/*/*.history.parquet"))
    }
    metas = {p.stem: read_json(p) for p in sorted((root / "datasets").glob("*.json"))}
    summary = mark_fits(
        pd.read_parquet(fits / "summary.parquet"),
        best_rtol,
        records,
        {name: str(meta.get("dtype")) for name, meta in metas.items() if meta.get("dtype")},
        words,
        histories,
    )
    figures = {p.stem: p for p in sorted((root / "report" / "figures").glob("*.png"))}
    results = Results(
        config=dict(config),
        summary=summary,
        records=records,
        histories=histories,
        predictions=pd.read_parquet(fits / "predictions.parquet"),
        surfaces={
            cast(tuple[str, str], tuple(p.relative_to(fits).parts[:2])): pd.read_parquet(p)
            for p in sorted(fits.glob("*/*/loss_surface.parquet"))
        },
        checks={p.stem: read_json(p) for p in sorted((fits / "gradient_check").glob("*.json"))},
        metas=metas,
        figures=figures,
        data_paths={
            name: (
                [str(root / "datasets" / name / Path(s["path"]).name) for s in meta["shards"]]
                if meta.get("shards")
                else str(root / "datasets" / f"{name}.parquet"),
                str(root / "datasets" / f"{name}.json"),
            )
            for name, meta in metas.items()
            if len(meta.get("features", [])) == 1
        },
    )
    _read_cost(results, fits / "conditioning.parquet", fits / "time_to_accuracy.parquet", fits / "repetitions.parquet")
    _first_repetitions(results)
    bench = root / "benchmark"
    if (bench / "matmul.parquet").exists():
        results.benchmark = pd.read_parquet(bench / "matmul.parquet")
        results.benchmark_sidecar = read_json(bench / "matmul.json")
        results.figures.update({p.stem: p for p in (bench / "matmul_gflops.png", bench / "matmul_speedup.png")})
    lessons = root / "lessons"
    for key in LESSON_KEYS:
        if (lessons / f"{key}.json").exists():
            results.lessons[key] = read_json(lessons / f"{key}.json")
        if (lessons / f"{key}.png").exists():
            results.figures[f"lessons_{key}"] = lessons / f"{key}.png"
        if (lessons / f"{key}.parquet").exists():
            results.lesson_tables[key] = pd.read_parquet(lessons / f"{key}.parquet")
    return results
