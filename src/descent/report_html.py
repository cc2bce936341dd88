"""The self-contained report page: one HTML file, no network, no server.

Figures are inlined as ``data:`` URIs, plotly.js (when interactive figures are on) is inlined
exactly once in the head, and every number in a table carries its full-precision value in a
``data-value`` attribute (the text shows it rounded), so tests and readers' scripts can parse
the page instead of trusting the rounding. Rows of the summary tables carry ``data-dataset``,
``data-scaling`` and ``data-method``; cells carry ``data-field``.
"""

from __future__ import annotations

import base64
import html
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from descent.report import format_number
from descent.report_tables import cell

CSS = """
:root { --fg: #1d1d1f; --muted: #5f6368; --line: #d9d9de; --best: #e3f5e1; --failed: #fde2e1; --warn: #fff4d6; }
* { box-sizing: border-box; }
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--fg); margin: 0; }
header, main, footer { max-width: 1240px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 18px; }
h1 { font-size: 1.7em; margin: 0.2em 0; } h2 { margin-top: 1.8em; border-bottom: 2px solid var(--line); }
h3 { margin-top: 1.4em; } .muted { color: var(--muted); font-size: 0.92em; }
nav ul { display: flex; flex-wrap: wrap; gap: 4px 18px; list-style: none; padding: 0; margin: 8px 0; }
nav a { text-decoration: none; color: #1a5fb4; }
.table-wrap { overflow-x: auto; margin: 8px 0 14px; }
table { border-collapse: collapse; font-size: 0.86em; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid var(--line); padding: 3px 7px; text-align: right; vertical-align: top; }
th { background: #f3f3f6; position: sticky; top: 0; }
td.text, th.text { text-align: left; }
tr.best td { background: var(--best); } tr.failed td { background: var(--failed); }
tr.unconverged td { background: var(--warn); } tr.ref td { background: #f7f7f9; font-style: italic; }
.badge { display: inline-block; border-radius: 3px; padding: 0 5px; font-size: 0.85em; }
.legend span { margin-right: 12px; } .legend .sw { display: inline-block; width: 12px; height: 12px; vertical-align: -2px; border: 1px solid #bbb; }
figure { margin: 10px 0 18px; } figure img { max-width: 100%; height: auto; border: 1px solid var(--line); }
figcaption { color: var(--muted); font-size: 0.9em; }
ul.findings li { margin: 3px 0; }
.explorer-controls { display: flex; flex-wrap: wrap; gap: 10px 18px; align-items: center; margin: 6px 0; }
.explorer-controls input[type=range] { width: 260px; vertical-align: middle; }
.explorer-plots { display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }
@media (max-width: 900px) { .explorer-plots { grid-template-columns: 1fr; } }
pre { background: #f6f8fa; padding: 10px; overflow-x: auto; font-size: 0.82em; max-height: 480px; }
details { margin: 8px 0; } summary { cursor: pointer; color: #1a5fb4; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; } dl.facts dt { font-weight: 600; }
@media print { .interactive { display: none; } nav { display: none; } th { position: static; } }
"""


def esc(value: Any) -> str:
    """HTML-escaped text of ``value`` (quotes escaped too, safe in attributes)."""
    return html.escape(str(value), quote=True)


def data_uri(path: str | os.PathLike[str], mime: str | None = None) -> str:
    """The file at ``path`` as a base64 ``data:`` URI (MIME type from the extension by default)."""
    mime = mime or {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg"}.get(
        os.path.splitext(str(path))[1].lower(), "application/octet-stream")
    with open(path, "rb") as handle:
        return f"data:{mime};base64," + base64.b64encode(handle.read()).decode("ascii")


def image(path: str | os.PathLike[str], alt: str, caption: str = "") -> str:
    """A ``<figure>`` with the image inlined and an optional caption (plain text, escaped)."""
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure><img src="{data_uri(path)}" alt="{esc(alt)}" loading="eager">{cap}</figure>'


def td(c: Mapping[str, str], field: str, text_align: bool = False) -> str:
    """A table cell with ``data-field`` and ``data-value`` (see :func:`descent.report_tables.cell`)."""
    cls = ' class="text"' if text_align else ""
    return f'<td{cls} data-field="{esc(field)}" data-value="{esc(c["value"])}">{esc(c["text"])}</td>'


_TEXT_FIELDS = {"method", "scaling", "status", "weights", "backend", "device", "dtype", "dataset", "inputs", "agree"}


def summary_table_html(table: Mapping[str, Any]) -> str:
    """One dataset's summary table (from :func:`descent.report_tables.dataset_table`)."""
    columns = table["columns"]
    head = "".join(f'<th class="{"text" if f in _TEXT_FIELDS else ""}" data-field="{esc(f)}">{esc(h)}</th>'
                   for f, h in columns)
    body = []
    for ref in table["references"]:
        cells = []
        for field, _ in columns:
            if field == "method":
                cells.append(f'<td class="text">{esc(ref["label"])}</td>')
            elif field in ref:
                cells.append(td(ref[field], field, field in _TEXT_FIELDS))
            else:
                cells.append("<td></td>")
        body.append(f'<tr class="ref" data-reference="{esc(ref["label"])}">' + "".join(cells) + "</tr>")
    for row in table["rows"]:
        dataset, scaling, method = row["key"]
        cells = "".join(td(row["cells"][f], f, f in _TEXT_FIELDS) for f, _ in columns)
        body.append(f'<tr class="fit {" ".join(row["classes"])}" data-dataset="{esc(dataset)}" '
                    f'data-scaling="{esc(scaling)}" data-method="{esc(method)}">{cells}</tr>')
    return (f'<div class="table-wrap"><table class="summary" data-dataset="{esc(table["dataset"])}">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>")


def records_table_html(rows: Sequence[Mapping[str, Any]], columns: Sequence[str], table_class: str,
                       headers: Mapping[str, str] | None = None) -> str:
    """A generic table of records, each value in a cell with ``data-field``/``data-value``."""
    headers = headers or {}
    head = "".join(f'<th class="{"text" if c in _TEXT_FIELDS else ""}" data-field="{esc(c)}">{esc(headers.get(c, c))}</th>'
                   for c in columns)
    body = "".join("<tr>" + "".join(td(cell(c, r.get(c)), c, c in _TEXT_FIELDS) for c in columns) + "</tr>"
                   for r in rows)
    return (f'<div class="table-wrap"><table class="{esc(table_class)}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")


def findings_html(sentences: Sequence[str]) -> str:
    """A bullet list of generated sentences."""
    return '<ul class="findings">' + "".join(f"<li>{esc(s)}</li>" for s in sentences) + "</ul>" if sentences else ""


def facts_html(facts: Mapping[str, Any]) -> str:
    """A definition list of scalar facts (nested values as compact JSON)."""
    items = []
    for key, value in facts.items():
        text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
        items.append(f"<dt>{esc(key)}</dt><dd>{esc(text)}</dd>")
    return '<dl class="facts">' + "".join(items) + "</dl>"


def json_details(label: str, data: Any) -> str:
    """A collapsed ``<details>`` holding pretty-printed JSON."""
    return (f"<details><summary>{esc(label)}</summary><pre>"
            f"{esc(json.dumps(data, indent=2, sort_keys=True, default=str))}</pre></details>")


LEGEND = ('<p class="legend muted"><span><span class="sw" style="background:var(--best)"></span> ★ best: final MSE '
          'within {rtol} (relative) of the lowest</span><span><span class="sw" style="background:var(--failed)"></span> '
          'failed (diverged, non-finite or rank-deficient)</span><span><span class="sw" style="background:var(--warn)">'
          '</span> not converged within its iterations</span><span><span class="sw" style="background:#f7f7f9"></span> '
          'reference values</span></p>')


def page(ctx: Mapping[str, Any]) -> str:
    """The whole page from a context built by ``scripts/report_html.py``.

    ``ctx`` keys: ``title``, ``provenance`` (:func:`descent.report.provenance`), ``best_rtol``,
    ``datasets`` (list of ``{name, meta, table, findings, figures: {name: png path}, surface_3d,
    explorer}``), ``gradient`` (``{rows, figure}``), ``predictions`` (``{rows, figure}``),
    ``benchmark`` (``None`` or ``{rows, findings, figures, sidecar}``), ``lessons`` (``None`` or
    ``{findings, figures, summaries, vectors_rows}``), ``plotly_js`` (``None`` when not
    interactive) and ``explorer_js``.
    """
    prov = ctx["provenance"]
    git = prov["git"]
    commit = (git["commit"][:12] + (" (dirty)" if git["dirty"] else "")) if git.get("commit") else f"unknown ({git.get('error')})"
    sections = [("summary", "Summary"), ("figures", "Fits in figures"), ("checks", "Gradient check and predictions")]
    if ctx.get("benchmark"):
        sections.append(("benchmark", "Matmul benchmark"))
    if ctx.get("lessons"):
        sections.append(("lessons", "Lesson 0"))
    sections.append(("provenance", "Provenance"))
    out: list[str] = []
    out.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
               f"<title>{esc(ctx['title'])}</title><style>{CSS}</style>")
    if ctx.get("plotly_js"):
        out.append(f'<script type="text/javascript" id="plotly-js">{ctx["plotly_js"]}</script>')
    out.append("</head><body><header>")
    out.append(f"<h1>{esc(ctx['title'])}</h1>")
    out.append(f'<p class="muted">Generated {esc(prov["time"]["utc"])} (UTC) from commit {esc(commit)}; '
               f'reproduce with <code>{esc(prov["command"])}</code>. Every number and figure below is computed '
               "from the workflow's result files.</p>")
    out.append("<nav><ul>" + "".join(f'<li><a href="#{a}">{esc(t)}</a></li>' for a, t in sections) + "</ul></nav>")
    out.append("</header><main>")

    # ---- summary
    out.append('<section id="summary"><h2>Summary</h2>')
    out.append(LEGEND.format(rtol=esc(format_number(ctx["best_rtol"]))))
    out.append('<p class="muted">Weights and bias in original units; θ = (w, b); distances to the independent '
               "NumPy float64 least-squares solution and to the true parameters; MSE over the whole dataset in "
               "original units; step = the learning rate used; fit time excludes start-up.</p>")
    for ds in ctx["datasets"]:
        meta = ds["meta"]
        out.append(f'<h3 id="summary-{esc(ds["name"])}">{esc(ds["name"])}</h3>')
        out.append(f'<p class="muted">{esc(meta.get("n"))} rows, features {esc(", ".join(meta["features"]))}, '
                   f'target {esc(meta["target"])}, generator {esc(meta.get("generator"))}, seed {esc(meta.get("seed"))}.</p>')
        out.append(findings_html(ds["findings"]))
        out.append(summary_table_html(ds["table"]))
    out.append("</section>")

    # ---- figures
    out.append('<section id="figures"><h2>Fits in figures</h2>')
    for ds in ctx["datasets"]:
        name = ds["name"]
        out.append(f'<h3 id="figures-{esc(name)}">{esc(name)}</h3>')
        figs = ds["figures"]
        out.append(image(figs["fits"], f"{name}: data and fitted lines",
                         "Data with every fit (original units); dashed: failed fits; dotted: the true relation."))
        out.append(image(figs["loss"], f"{name}: loss against iteration",
                         "Loss of every iterative fit against iteration (log scale), in the space it was fitted "
                         "in; right: excess over the least-squares minimum of that space."))
        if "surface" in figs:
            out.append(image(figs["surface"], f"{name}: loss surface and descent paths",
                             "MSE over (w, b) in the fitted space, raw and standardized side by side, with every "
                             "descent path (● start, ■ end, ★ least squares); contour on top, 3D below."))
        if ds.get("surface_3d"):
            out.append(f'<div class="interactive"><h4>Rotate the loss surface</h4>{ds["surface_3d"]}</div>')
        if ds.get("explorer"):
            out.append('<div class="interactive"><h4>Move w and b</h4><p class="muted">As in the Paris lesson: the '
                       "sliders set w and b (raw units); the line over the data and the MSE follow, and the point "
                       f"moves on the loss contour.</p>{ds['explorer']}</div>")
    out.append("</section>")

    # ---- checks
    out.append('<section id="checks"><h2>Gradient check and predictions</h2>')
    out.append("<h3>Hand-derived against autograd gradients</h3>")
    out.append('<p class="muted">At the raw manual descent start point, in float64 and in the data\'s dtype; '
               "agree = relative difference within 100 × (number of parameters) × machine epsilon.</p>")
    out.append(records_table_html(ctx["gradient"]["rows"],
                                  ["dataset", "dtype", "loss", "max_abs_diff", "max_rel_diff", "eps", "agree"],
                                  "gradient-check"))
    out.append(image(ctx["gradient"]["figure"], "gradient check"))
    out.append("<h3>Predictions for new inputs</h3>")
    if ctx["predictions"]["rows"]:
        out.append(records_table_html(ctx["predictions"]["rows"],
                                      ["dataset", "scaling", "method", "inputs", "prediction", "true_value", "error"],
                                      "predictions", {"error": "prediction − true"}))
    else:
        out.append('<p class="muted">No inputs configured (fits.predict).</p>')
    out.append(image(ctx["predictions"]["figure"], "predictions"))
    out.append("</section>")

    # ---- benchmark
    bench = ctx.get("benchmark")
    if bench:
        out.append('<section id="benchmark"><h2>Matmul benchmark</h2>')
        out.append(findings_html(bench["findings"]))
        for path, alt in bench["figures"]:
            out.append(image(path, alt))
        out.append(records_table_html(bench["rows"], bench["columns"], "benchmark",
                                      {"seconds_median": "median s", "fraction_of_peak": "fraction of peak",
                                       "peak_gflops": "peak GFLOP/s", "max_abs_error": "max |error|"}))
        out.append(json_details("peak estimate and machine (results/benchmark/matmul.json)",
                                {"peak": bench["sidecar"].get("peak"), "machine": bench["sidecar"].get("machine")}))
        out.append("</section>")

    # ---- lessons
    lessons = ctx.get("lessons")
    if lessons:
        out.append('<section id="lessons"><h2>Lesson 0: foundations</h2>')
        titles = {"binomial": "Random guessing is binomial", "vectors": "Vectors and the linear model",
                  "descent_x2": "Gradient descent on y = x²", "minima": "Local and global minima"}
        for key, title in titles.items():
            if key not in lessons["summaries"]:
                continue
            out.append(f'<h3 id="lessons-{key}">{esc(title)}</h3>')
            out.append(findings_html(lessons["findings"].get(key, [])))
            if key in lessons["figures"]:
                out.append(image(lessons["figures"][key], title))
            if key == "vectors" and lessons.get("vectors_rows"):
                columns = list(lessons["vectors_rows"][0])
                out.append(records_table_html(lessons["vectors_rows"], columns, "vectors"))
            out.append(json_details(f"{key}.json", lessons["summaries"][key]))
        out.append("</section>")

    # ---- provenance
    out.append('<section id="provenance"><h2>Provenance</h2>')
    out.append(facts_html({
        "run time (UTC)": prov["time"]["utc"], "run time (local)": prov["time"]["local"],
        "git commit": git.get("commit") or f"unknown ({git.get('error')})",
        "git branch": git.get("branch") or "–",
        "working tree": ("dirty: " + str(git["changed_files"]) + " changed file(s)") if git.get("dirty")
        else ("clean" if git.get("dirty") is False else "–"),
        "reproduce": prov["command"],
        "host": prov["machine"]["host"].get("hostname"), "os": prov["machine"]["host"].get("os"),
        "CPU": prov["machine"]["cpu"].get("model"),
        "usable CPUs": prov["machine"]["cpu"].get("usable_cpus"),
        "CUDA": (prov["machine"].get("cuda", {}).get("gpu_name") if prov["machine"].get("cuda", {}).get("cuda_available")
                 else "not available: " + str(prov["machine"].get("cuda", {}).get("reason"))),
        "fit devices": ", ".join(prov["fit_devices"]) or "–",
    }))
    out.append("<h3>Package versions</h3>")
    out.append(records_table_html([{"package": k, "version": v} for k, v in prov["versions"].items()],
                                  ["package", "version"], "versions"))
    if prov.get("benchmark_machine"):
        out.append(json_details("machine facts recorded by the benchmark", prov["benchmark_machine"]))
    out.append(json_details("resolved configuration", prov["config"]))
    out.append(json_details("device facts of the report job", prov["machine"]))
    out.append("</section></main>")
    out.append('<footer class="muted"><p>descent — self-contained report; static figures are kept for print, '
               "interactive ones need JavaScript (inlined, no network).</p></footer>")
    if ctx.get("plotly_js") and ctx.get("explorer_js"):
        out.append(f'<script type="text/javascript">{ctx["explorer_js"]}</script>')
    out.append("</body></html>\n")
    return "".join(out)
