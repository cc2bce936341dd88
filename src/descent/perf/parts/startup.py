"""Start-up cost (interpreter + imports) of each kind of job (``startup.json``)."""

from __future__ import annotations

from argparse import Namespace
from collections.abc import Mapping
from typing import Any

from descent.perf.part import Part, Result, child_env, log
from descent.perf.workflow import IMPORT_PROFILES, import_seconds


def run(args: Namespace, results: Mapping[str, Result]) -> Result:
    log("start-up cost by import profile")
    return {name: import_seconds(code, 3, env=child_env()) for name, code in IMPORT_PROFILES.items()}


def rows(result: Result, results: Mapping[str, Result]) -> list[list[Any]]:
    return [["start-up", name, f"{s['seconds_median']:.2f} s", s["code"][:60]] for name, s in result.items()]


PART = Part(name="startup", position=10, description=__doc__ or "", run=run, rows=rows)
