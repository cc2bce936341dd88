"""The lessons' claims and slips (package data ``data/claims.yaml``), checked against this run.

:func:`load_claims` reads and validates the claims (every field present, ``lesson``/``kind``
known, ``check`` a registered check function, ids unique); :func:`evaluate_claims` runs each
claim's check on :class:`descent.report.results.Results` and returns one row per claim with the
computed verdict. The claims' text is data; the verdicts are computed (see
:mod:`descent.report.checkbase` and the ``checks_*`` modules).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from importlib import resources
from typing import Any

from descent.report.checkbase import CHECKS, UNCHECKED, Outcome

#: Lessons a claim may belong to, with the titles the page gives them.
LESSONS: dict[str, str] = {"paris": "Paris rent", "lesson0": "Lesson 0"}
KINDS: tuple[str, ...] = ("claim", "slip")
REQUIRED: tuple[str, ...] = ("id", "lesson", "where", "kind", "statement", "check", "expected", "measured")


def _register_checks() -> None:
    """Import the check modules (they register themselves in :data:`CHECKS`)."""
    # Not at the top: the rules read the claims while Snakemake parses; the checks import pandas.
    from descent.report import checks_fits, checks_lessons, checks_matmul  # noqa: F401


def validate_claims(claims: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The claims as plain dicts, or ``ValueError`` naming every problem at once."""
    _register_checks()
    problems, seen, out = [], set(), []
    for i, claim in enumerate(claims):
        where = f"claims[{i}]" + (f" ({claim.get('id')})" if isinstance(claim, Mapping) and claim.get("id") else "")
        if not isinstance(claim, Mapping):
            problems.append(f"{where}: not a mapping")
            continue
        missing = [k for k in REQUIRED if k not in claim]
        if missing:
            problems.append(f"{where}: missing {', '.join(missing)}")
            continue
        if claim["id"] in seen:
            problems.append(f"{where}: duplicate id")
        seen.add(claim["id"])
        if claim["lesson"] not in LESSONS:
            problems.append(f"{where}: lesson {claim['lesson']!r} not one of {sorted(LESSONS)}")
        if claim["kind"] not in KINDS:
            problems.append(f"{where}: kind {claim['kind']!r} not one of {list(KINDS)}")
        if claim["check"] not in CHECKS:
            problems.append(f"{where}: unknown check {claim['check']!r}")
        if claim["kind"] == "slip" and not claim.get("correction"):
            problems.append(f"{where}: a slip needs a correction")
        if not isinstance(claim["expected"], Mapping):
            problems.append(f"{where}: expected must be a mapping")
        out.append(
            {
                **claim,
                "statement": " ".join(str(claim["statement"]).split()),
                "correction": " ".join(str(claim.get("correction", "")).split()),
            }
        )
    if problems:
        raise ValueError("claims.yaml: " + "; ".join(problems))
    return out


def _claims_text() -> str:
    return resources.files("descent.report").joinpath("data", "claims.yaml").read_text(encoding="utf-8")


def claims_digest() -> str:
    """SHA-256 of ``data/claims.yaml`` (light: ``rules/report.smk`` passes it as a param, so a
    changed claim reruns the page)."""
    import hashlib

    return hashlib.sha256(_claims_text().encode("utf-8")).hexdigest()


def read_claims() -> list[dict[str, Any]]:
    """The claims of ``descent/report/data/claims.yaml`` as written (no check imported)."""
    import yaml

    return list(yaml.safe_load(_claims_text())["claims"])


def load_claims() -> list[dict[str, Any]]:
    """The validated claims of ``descent/report/data/claims.yaml``, in file order."""
    return validate_claims(read_claims())


def expected_text(expected: Mapping[str, Any]) -> str:
    """The ``expected`` mapping as ``key = value`` pairs for the page."""
    return "; ".join(f"{k} = {', '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in expected.items())


def measured_text(claim: Mapping[str, Any], outcome: Outcome) -> str:
    """What this run measured, in words: the check's reason when it could not measure (results
    missing, the fit failed), else the claim's ``measured`` template filled with the check's
    ``values`` (and the claim's ``expected`` as ``expected``), rendered strictly."""
    if outcome.measured:
        return outcome.measured
    from descent.report.words import render_string  # Jinja2: not at parse time, where the claims are read

    facts = {**outcome.values, "expected": claim["expected"]}
    return render_string(str(claim["measured"]), facts, f"claims.yaml, claim {claim['id']}, measured")


def evaluate_claims(results: Any, claims: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each claim with its check's outcome: the claim's fields plus ``verdict``, ``measured`` (in
    words, :func:`measured_text`), ``values`` and ``expected_text``. A check that raises is
    reported as not checked, with the error, rather than failing the page; a ``measured``
    template naming a value the check does not give fails the build."""
    _register_checks()
    rows = []
    for claim in claims:
        try:
            outcome = CHECKS[claim["check"]](results, claim["expected"])
        except Exception as error:  # noqa: BLE001 - a broken check must show, not hide the page
            outcome = Outcome(UNCHECKED, f"the check failed: {type(error).__name__}: {error}")
        rows.append(
            {
                **claim,
                "verdict": outcome.verdict,
                "measured": measured_text(claim, outcome),
                "values": outcome.values,
                "expected_text": expected_text(claim["expected"]),
            }
        )
    return rows
