"""The benchmark's report: one target (measured ratio, met or missed), plain-text tables, and the
peak resident memory of a child process."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterable, Sequence
from typing import Any


def target(name: str, value: float, limit: float, kind: str, unit: str = "") -> dict[str, Any]:
    """One target of the issue: ``kind`` is ``'min'`` (value must be ≥ limit) or ``'max'`` (≤).

    ``ratio = value / limit``; ``met`` says whether it holds; ``missed_by`` is how far off it is,
    as a fraction of the limit (0 when met, NaN when the value is not a number).
    """
    if kind not in ("min", "max"):
        raise ValueError(f"kind must be 'min' or 'max', got {kind!r}")
    finite = isinstance(value, (int, float)) and math.isfinite(value)
    met = finite and (value >= limit if kind == "min" else value <= limit)
    if not finite:
        missed = math.nan
    elif met:
        missed = 0.0
    else:
        missed = (limit - value) / limit if kind == "min" else (value - limit) / limit
    return {
        "target": name,
        "value": float(value) if finite else math.nan,
        "limit": float(limit),
        "kind": kind,
        "unit": unit,
        "ratio": float(value) / limit if finite and limit else math.nan,
        "met": bool(met),
        "missed_by": missed,
    }


def format_table(rows: Iterable[Sequence[Any]], headers: Sequence[str]) -> str:
    """A plain-text table with left-aligned columns (floats to 4 significant digits)."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return "nan" if math.isnan(value) else f"{value:.4g}"
        return str(value)

    body = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in body)) if body else len(h) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths)), "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in body]
    return "\n".join(lines)


def peak_rss_child(code: str, python: str = sys.executable, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``code`` in a fresh interpreter and return the JSON object it prints last: the dict
    ``RESULT`` it defines (if any) plus ``peak_rss_bytes``, the child's own high-water resident
    set (``VmHWM`` of ``/proc/self/status``, read by the child at exit). Not ``ru_maxrss``: Linux
    carries the parent's peak across fork+exec into it, and RUSAGE_CHILDREN mixes every child."""
    wrapped = (
        code
        + "\nimport json as _j\nfrom descent.perf import vm_hwm_bytes as _hwm\n"
        + "print(_j.dumps({**globals().get('RESULT', {}), 'peak_rss_bytes': _hwm(open('/proc/self/status').read())}))\n"
    )
    proc = subprocess.run([python, "-c", wrapped], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"child failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def vm_hwm_bytes(status_text: str) -> int:
    """The ``VmHWM`` (peak resident set) of ``/proc/<pid>/status`` text, in bytes."""
    for line in status_text.splitlines():
        if line.startswith("VmHWM:"):
            value, unit = line.split()[1:3]
            return int(value) * {"kB": 1024, "mB": 2**20}.get(unit, 1)
    raise ValueError("no VmHWM line")
