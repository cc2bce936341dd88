"""The comparison report, split by concern so each job imports only what it needs.

:mod:`descent.report.inputs`
    Which fit results the report reads (``rules/report.smk``, parse time; light).
:mod:`descent.report.formatting`
    Numbers for reading (standard library only).
:mod:`descent.report.provenance`
    Git commit, package versions, machine, time and the command that reproduces the run.
:mod:`descent.report.status`
    Each fit's recorded ``status`` grouped into failed / not converged / ok, with its reason in words.
:mod:`descent.report.tables`, :mod:`descent.report.pivot`
    The summary tables, best and failed marks, the predictions pivoted (fits × inputs, the truth
    as a reference row, failed fits left out with their reason, agreeing fits grouped).
:mod:`descent.report.words`
    Every sentence of the story: one Jinja2 template per step (``templates/steps/{step}.j2``),
    rendered strictly with that step's facts; a teacher's folder (``report.templates``) first.
:mod:`descent.report.findings`
    The facts of what the fits and the matmul benchmark found (their words: ``findings.j2``,
    ``beyond-matmul.j2``; agreeing methods in one sentence).
:mod:`descent.report.figures`, :mod:`descent.report.stepfigures`, :mod:`descent.report.interactive`
    The workflow's static figures (matplotlib; PNG + SVG), the lesson steps' own figures (drawn by
    the page job), and the Plotly loss surfaces and the w/b slider explorer's data.
:mod:`descent.report.results`
    Every result file the page reads, loaded once into :class:`~descent.report.results.Results`.
:mod:`descent.report.analysis`
    Hessians, standard errors, gradients, descent along eigen-directions: numbers the sections
    and the claim checks share.
:mod:`descent.report.claims`, :mod:`descent.report.checkbase`, ``checks_fits``, ``checks_lessons``, ``checks_matmul``
    The lessons' claims and slips (``data/claims.yaml``, each with the template of its
    ``measured`` sentence) and the check functions that compute their verdicts and values from
    the results.
:mod:`descent.report.sections`, :mod:`descent.report.blocks`, :mod:`descent.report.outline`
    The page as parts of linkable sections of blocks; ``story_paris``, ``story_lesson0``,
    ``story_beyond`` and ``story_cost`` build them in the lessons' order (``storykit`` holds what
    they share), each step a facts function and a layout whose words are its template. New
    sections beyond the lessons register with :func:`descent.report.sections.beyond_section`.
:mod:`descent.report.context`
    Reads every result the page shows into one context dict.
:mod:`descent.report.page`
    Renders the Jinja2 template ``templates/index.html.j2`` (autoescaped) into one self-contained
    page: figures as data URIs, tables with CSV links, stylesheet, explorer script and plotly.js inlined.

Importing this package imports nothing heavy.
"""
