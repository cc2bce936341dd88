"""Fitting ``y = X·w + b``: scaling, gradients, one module per method, the iterative loop, the
certified closed forms, the loss surface, fit records and the summary.

Shapes throughout: ``X`` is ``(n, k)``, ``y`` is ``(n,)``, ``w`` is ``(k,)`` and ``b`` a scalar.
This package file stays empty on purpose: the rules import :mod:`descent.fitting.registry` while
Snakemake parses the workflow, which must not pull in pandas or torch. Import what you need from
the submodules (:mod:`.records` for :func:`~descent.fitting.records.fit`, and so on).
"""
