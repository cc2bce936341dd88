"""What a claim check returns, the verdicts, and the registry of check functions.

A check is a function ``check(results, expected) -> Outcome``: ``results`` is
:class:`descent.report.results.Results`, ``expected`` the claim's ``expected`` mapping from
``claims.yaml`` (what the lesson says, and the check's parameters). It computes everything it
states from the results files (or, for a slip about NumPy itself, from NumPy); nothing is typed in.
Checks are registered by name with :func:`check` and looked up in :data:`CHECKS`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

HOLDS = "holds"
FAILS = "does not hold"
SOME_MACHINES = "holds only on some machines"
UNCHECKED = "not checked"

#: Every verdict a check can give, in the order the page's legend lists them.
VERDICTS: tuple[str, ...] = (HOLDS, FAILS, SOME_MACHINES, UNCHECKED)


@dataclass(frozen=True)
class Outcome:
    """A check's result: the ``verdict``, the numbers it measured (``values``: name →
    float/int/str/bool/list/dict, exact), and ``measured``: empty when the check measured (the
    claim's ``measured`` template in ``claims.yaml`` then says it in words, from ``values``), else
    why it could not (the results are missing, the fit failed)."""

    verdict: str
    measured: str = ""
    values: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}; one of {VERDICTS}")


Check = Callable[[Any, Mapping[str, Any]], Outcome]

#: name → check function; filled by :func:`check` when the check modules are imported.
CHECKS: dict[str, Check] = {}


def check(name: str) -> Callable[[Check], Check]:
    """Register a check function under ``name`` (the ``check`` field of a claim)."""

    def register(func: Check) -> Check:
        if name in CHECKS:
            raise ValueError(f"check {name!r} registered twice")
        CHECKS[name] = func
        return func

    return register


def unchecked(reason: str) -> Outcome:
    """The outcome when the results a check needs are not in this run."""
    return Outcome(UNCHECKED, reason)


def holds(condition: bool) -> str:
    """:data:`HOLDS` or :data:`FAILS`."""
    return HOLDS if condition else FAILS


def machine_verdict(margin: float, robust_margin: float) -> str:
    """The verdict of a claim about speed, from ``margin`` = how many times over the claim is met
    here (limit / measured time, or measured speed-up / claimed speed-up).

    Met with ``robust_margin`` or more to spare: :data:`HOLDS` (a machine that much slower or
    faster is not plausible); met with less: :data:`SOME_MACHINES` (it holds here, and would
    not on a machine ``margin`` times slower); not met here: :data:`FAILS`.

    >>> machine_verdict(2.5, 10), machine_verdict(200, 10), machine_verdict(0.5, 10)
    ('holds only on some machines', 'holds', 'does not hold')
    """
    if not margin >= 1:
        return FAILS
    return HOLDS if margin >= robust_margin else SOME_MACHINES
