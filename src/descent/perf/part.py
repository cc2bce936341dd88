"""What one part of the benchmark is (:class:`Part`), and what the parts share: the workflow's
settings of a method, progress lines, the environment of the processes a part starts.

A part is one module of :mod:`descent.perf.parts` declaring ``PART = Part(...)``: its name, its
command-line options, how it runs (``run(args, results) -> dict``, written to
``results/perf/<name>.json``), its rows in the printed table and its targets. The driver
(:mod:`descent.perf.driver`, ``make bench``) finds the parts by scanning that package.
"""

from __future__ import annotations

import os
import sys
import time
from argparse import Namespace
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from descent.config.fits import default_fit_settings
from descent.perf.sweep import CLOSED_FORM_PATHS

#: The repository (its schemas give the fits' default settings; the workflow part runs its Snakefile).
ROOT = Path(__file__).resolve().parents[3]

Result = dict[str, Any]
#: ``(this part's result, every result so far) -> rows of the printed table`` (part, what, value, detail).
Rows = Callable[[Result, Mapping[str, Result]], list[list[Any]]]
#: ``(this part's result, every result so far) -> targets`` (:func:`descent.perf.tables.target`).
Targets = Callable[[Result, Mapping[str, Result]], list[dict[str, Any]]]


@dataclass(frozen=True)
class Flag:
    """One command-line option of a part: ``argparse.ArgumentParser.add_argument(flag, **spec)``."""

    flag: str
    spec: dict[str, Any]


def no_rows(result: Result, results: Mapping[str, Result]) -> list[list[Any]]:
    """A part that adds nothing to the printed table."""
    return []


def no_targets(result: Result, results: Mapping[str, Result]) -> list[dict[str, Any]]:
    """A part without targets."""
    return []


@dataclass(frozen=True)
class Part:
    """One part of the benchmark.

    ``position`` orders the parts (they run, are tabled and summarized in that order);
    ``needs`` names parts whose results this one reads (run too when it is selected);
    ``report``, if given, returns a further printed table of the part's own, after the main one.
    """

    name: str
    position: int
    description: str
    run: Callable[[Namespace, Mapping[str, Result]], Result]
    flags: tuple[Flag, ...] = ()
    rows: Rows = no_rows
    targets: Targets = no_targets
    needs: tuple[str, ...] = ()
    report: Callable[[Result], str] | None = None


def log(message: str) -> None:
    """A progress line on stderr (the tables go to stdout)."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def child_env() -> dict[str, str]:
    """Environment of subprocesses: this interpreter's bin first on PATH, the package importable."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p)
    return env


def fit_settings(method: str, **changes: Any) -> Any:
    """The workflow's default settings of ``method`` (from schemas/fits.schema.yaml) with
    ``changes``: the benchmark's fits are configured as the workflow's are."""
    return default_fit_settings(ROOT / "schemas", method, **changes)


def closed_form_settings(path: str) -> Any:
    """The settings of one closed-form path of :data:`descent.perf.sweep.CLOSED_FORM_PATHS`."""
    changes = dict(CLOSED_FORM_PATHS[path])
    return fit_settings(changes.pop("method"), **changes)
