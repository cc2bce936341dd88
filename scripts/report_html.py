"""Rule `report_html`: gather every result into results/report/index.html (self-contained), the
class page results/report/lessons.html and results/report/provenance.json."""

from descent.io import atomic_path, write_json
from descent.jobs import job_logging
from descent.report.context import page_context
from descent.report.page import render_class_page, render_page

with job_logging(snakemake.log[0], "report_html") as log:
    ctx = page_context(snakemake.input, snakemake.params)
    text = render_page(ctx)
    with atomic_path(snakemake.output.html) as tmp:
        tmp.write_text(text, encoding="utf-8")
    lessons = render_class_page(ctx["class"])
    with atomic_path(snakemake.output.lessons) as tmp:
        tmp.write_text(lessons, encoding="utf-8")
    write_json(snakemake.output.provenance, ctx["provenance"])
    verdicts = [claim["verdict"] for claim in ctx["claims"]]
    log.info(
        "wrote %s (%.1f MB), sections %s, claims %s, interactive=%s",
        snakemake.output.html,
        len(text) / 2**20,
        [s.id for part in ctx["parts"] for s in part.sections],
        {v: verdicts.count(v) for v in sorted(set(verdicts))},
        ctx["plotly_js"] is not None,
    )
    log.info(
        "wrote %s (%.1f MB), sections %s",
        snakemake.output.lessons,
        len(lessons) / 2**20,
        [s.id for part in ctx["class"]["parts"] for s in part.sections],
    )
