"""The comparison report, split by concern so each job imports only what it needs.

:mod:`descent.report.inputs`
    Which fit results the report reads (``rules/report.smk``, parse time; light).
:mod:`descent.report.formatting`
    Numbers for reading (standard library only).
:mod:`descent.report.provenance`
    Git commit, package versions, machine, time and the command that reproduces the run.
:mod:`descent.report.status`
    Each fit's recorded ``status`` grouped into failed / not converged / ok, with its reason in words.
:mod:`descent.report.tables`
    The summary tables, best and failed marks, the predictions shown and withheld (pandas/NumPy).
:mod:`descent.report.findings`
    Generated sentences on the fits, the matmul benchmark and Lesson 0.
:mod:`descent.report.figures`
    The static fit figures (matplotlib, Agg; PNG + SVG).
:mod:`descent.report.interactive`
    The Plotly loss surfaces and the w/b slider explorer's data.
:mod:`descent.report.context`
    Reads every result the page shows into one context dict.
:mod:`descent.report.page`
    Renders the Jinja2 template ``templates/index.html.j2`` (autoescaped) into one self-contained
    page: figures as data URIs, stylesheet, explorer script and plotly.js inlined.

Importing this package imports nothing heavy.
"""
