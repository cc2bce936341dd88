"""The fitting methods, one module each, registered in one place.

A method declares its ``name``, ``kind`` (``iterative`` or ``closed_form``), whether it
``needs_torch``, the ``devices`` it can run on, a plot ``colour`` and a one-line ``description``,
plus either an engine factory (iterative: one optimisation step at a time, see
:class:`~descent.fitting.method.Engine`)
or a solver (closed form). The config schema's method enum, settings resolution, the rules, the
report's colours and the README are all read from :data:`METHODS`; a test fails when the schema
and this registry disagree.

Adding a method is one module in :mod:`descent.fitting.methods` defining ``METHOD`` plus one
line in :data:`_MODULES` below (see README, "Adding a method"). This module is imported while
Snakemake parses the workflow: method modules import torch and pandas only inside functions.
"""

from __future__ import annotations

from descent.fitting.method import FitMethod


def _load() -> dict[str, FitMethod]:
    from descent.fitting.methods import (
        adam,
        autograd,
        lbfgs,
        lstsq,
        manual_gd,
        momentum_gd,
        nesterov_gd,
        nn_linear,
        sgd_regressor,
        sklearn,
    )

    _MODULES = (manual_gd, autograd, nn_linear, momentum_gd, nesterov_gd, adam, lbfgs, sgd_regressor, lstsq, sklearn)
    return {module.METHOD.name: module.METHOD for module in _MODULES}


#: Every method by name, in the order the report lists them.
METHODS: dict[str, FitMethod] = _load()
ITERATIVE_METHODS: tuple[str, ...] = tuple(name for name, m in METHODS.items() if m.kind == "iterative")
CLOSED_FORM_METHODS: tuple[str, ...] = tuple(name for name, m in METHODS.items() if m.kind == "closed_form")


def get_method(name: str) -> FitMethod:
    """The registered method ``name``; a ValueError lists the known ones."""
    try:
        return METHODS[name]
    except KeyError:
        raise ValueError(f"unknown method {name!r}; allowed: {', '.join(METHODS)}") from None
