"""The comparison report: tables, findings, figures and page (unit tests), and end to end: the
page holds every fit's numbers as computed, it is self-contained, Snakemake's own report builds,
and the report reruns when a result changes and not otherwise."""

from __future__ import annotations

import html
import io
import json
import os
import shutil
import time
import zipfile
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT, run_snakemake
from descent.config.sections import default_section
from descent.report.findings import dataset_findings, iterations_to_tolerance
from descent.report.formatting import format_number
from descent.report.provenance import git_facts, reproduce_command
from descent.report.status import (
    CATEGORY_FAILED,
    CATEGORY_OK,
    CATEGORY_UNCONVERGED,
    FAILED_STATUSES,
    STATUSES,
    status_category,
    status_text,
)
from descent.report.tables import dataset_table, mark_fits, prediction_rows

# ------------------------------------------------------------------------------ HTML parsing


class PageParser(HTMLParser):
    """Collects what the tests check: fit rows and their cells, reference rows, every src/href,
    inline scripts' ids and sizes, images, table cells of other tables (each row's attributes under
    ``_attrs``), the sections in page order, the table of contents and the CSV links."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: dict[tuple[str, str, str], dict[str, str]] = {}
        self.row_classes: dict[tuple[str, str, str], set[str]] = {}
        self.references: dict[tuple[str, str], dict[str, str]] = {}
        self.urls: list[str] = []
        self.scripts: list[dict[str, str]] = []
        self.images: list[str] = []
        self.tables: dict[str, list[dict[str, str]]] = {}
        self.table_order: list[str] = []
        self.sections: list[tuple[str, str]] = []
        self.toc: list[str] = []
        self.csv_links: list[tuple[str, str]] = []
        self._row: dict[str, str] | None = None
        self._table: list[str] = []
        self._summary_dataset: str | None = None
        self._ref: tuple[str, str] | None = None
        self._in_toc = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("src", "href"):
            if key in a and a[key] is not None:
                self.urls.append(a[key])
        if tag == "section" and a.get("id"):
            self.sections.append((a["id"], a.get("class", "")))
        elif tag == "nav" and "toc" in a.get("class", ""):
            self._in_toc = True
        elif tag == "a" and self._in_toc and a.get("href", "").startswith("#"):
            self.toc.append(a["href"][1:])
        elif tag == "a" and a.get("data-csv"):
            self.csv_links.append((a["data-csv"], a["href"]))
        elif tag == "table":
            self._table.append(a.get("class", ""))
            self.table_order.append(a.get("class", ""))
            if "summary" in a.get("class", ""):
                self._summary_dataset = a.get("data-dataset")
        elif tag == "tr":
            current = self._table[-1] if self._table else ""
            if "data-method" in a and "data-dataset" in a:
                key = (a["data-dataset"], a["data-scaling"], a["data-method"])
                self._row = self.rows.setdefault(key, {})
                self.row_classes[key] = set(a.get("class", "").split())
            elif "data-reference" in a and current == "summary":
                self._ref = (self._summary_dataset, a["data-reference"])
                self._row = self.references.setdefault(self._ref, {})
            elif current and current != "summary":
                self._row = {"_attrs": a} if a else {}
                self.tables.setdefault(current, []).append(self._row)
            else:
                self._row = None
        elif tag == "td" and self._row is not None and "data-field" in a:
            self._row[a["data-field"]] = a.get("data-value", "")
        elif tag == "script":
            self.scripts.append(a)
        elif tag == "img":
            self.images.append(a.get("src", ""))

    def handle_endtag(self, tag):
        if tag == "nav":
            self._in_toc = False
        elif tag == "table" and self._table:
            self._table.pop()
        elif tag == "tr":
            if self._row == {} and self._table and self._table[-1] in self.tables:  # a header row
                self.tables[self._table[-1]].remove(self._row)
            self._row = None


def parse_page(path: Path) -> PageParser:
    parser = PageParser()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


# ------------------------------------------------------------------------------ unit tests


def test_format_number_rounds_for_reading():
    assert format_number(173.59982514381409) == "173.6"
    assert format_number(1e-5) == "1e-5"
    assert format_number(1.2675e-7) == "1.267e-7" and format_number(1.2675e-7, 6) == "1.2675e-7"
    assert format_number(46114.73) == "46115" and format_number(0.0601445) == "0.06014"  # 4 digits, no e+04
    assert format_number(float("nan")) == "–" and format_number(None) == "–"
    assert format_number(True) == "yes" and format_number(200) == "200"


def test_reproduce_command_names_extra_config_files(tmp_path):
    assert reproduce_command([], str(tmp_path)) == "make report"
    assert reproduce_command([tmp_path / "config.yaml"], str(tmp_path)) == "make report"
    other = tmp_path.parent / "elsewhere.yaml"
    assert reproduce_command([other], str(tmp_path)).endswith(f"--configfile {other}")


def test_git_facts_outside_a_repository_say_why(tmp_path):
    facts = git_facts(str(tmp_path))
    assert facts["commit"] is None and facts["dirty"] is None and facts["error"]


def test_git_facts_of_this_repository():
    facts = git_facts(str(Path(__file__).resolve().parents[1]))
    if facts["error"]:
        pytest.skip(f"not a git checkout: {facts['error']}")
    assert len(facts["commit"]) == 40 and isinstance(facts["dirty"], bool)


def _summary_rows():
    base = dict(
        dataset="d",
        features=["x"],
        true_weights=[2.0],
        true_bias=1.0,
        lstsq_weights=[2.1],
        lstsq_bias=0.9,
        lstsq_mse=0.5,
        lr=0.1,
        device="cpu",
        rank=2,
        diverged_at=pd.NA,
    )
    rows = [
        dict(
            scaling="raw",
            method="manual_gd",
            base_method="manual_gd",
            weights=[2.0],
            bias=0.5,
            mse=0.6,
            iterations=100,
            converged=False,
            diverged=False,
            status="max_iterations",
            seconds=0.2,
            dist_to_lstsq=0.41,
            rel_dist_to_lstsq=0.18,
            dist_to_true=0.5,
            mse_excess=0.1,
        ),
        dict(
            scaling="raw",
            method="gd_big",
            base_method="manual_gd",
            weights=[1e9],
            bias=-3.0,
            mse=1e18,
            iterations=2,
            converged=False,
            diverged=True,
            diverged_at=2,
            status="diverged",
            seconds=0.01,
            dist_to_lstsq=1e9,
            rel_dist_to_lstsq=4e8,
            dist_to_true=1e9,
            mse_excess=1e18,
        ),
        dict(
            scaling="standardized",
            method="manual_gd",
            base_method="manual_gd",
            weights=[2.1],
            bias=0.9,
            mse=0.5 * (1 + 1e-12),
            iterations=100,
            converged=True,
            diverged=False,
            status="converged",
            seconds=0.3,
            dist_to_lstsq=1e-7,
            rel_dist_to_lstsq=4e-8,
            dist_to_true=0.14,
            mse_excess=5e-13,
        ),
        dict(
            scaling="raw",
            method="lstsq",
            base_method="lstsq",
            weights=[2.1],
            bias=0.9,
            mse=0.5,
            iterations=0,
            converged=True,
            diverged=False,
            status="closed_form",
            seconds=0.001,
            dist_to_lstsq=0.0,
            rel_dist_to_lstsq=0.0,
            dist_to_true=0.14,
            mse_excess=0.0,
        ),
        dict(
            scaling="raw",
            method="sklearn",
            base_method="sklearn",
            weights=[2.1],
            bias=0.9,
            mse=0.5,
            iterations=0,
            converged=True,
            diverged=False,
            status="closed_form",
            seconds=0.002,
            dist_to_lstsq=0.0,
            rel_dist_to_lstsq=0.0,
            dist_to_true=0.14,
            mse_excess=0.0,
        ),
    ]
    frame = pd.DataFrame([{**base, **r} for r in rows])
    frame["diverged_at"] = frame["diverged_at"].astype("Int64")
    return frame


def test_mark_fits_reads_the_recorded_status():
    records = {("d", "raw", "sklearn"): {"rank_deficient": True, "rank": 1}}
    marked = mark_fits(_summary_rows(), best_rtol=1e-9, records=records).set_index(["scaling", "method"])
    assert marked["status"].tolist() == _summary_rows()["status"].tolist()  # never re-derived
    assert marked.loc[("raw", "gd_big"), "category"] == CATEGORY_FAILED and marked.loc[("raw", "gd_big"), "failed"]
    assert marked.loc[("raw", "manual_gd"), "category"] == CATEGORY_UNCONVERGED
    assert marked.loc[("raw", "manual_gd"), "unconverged"]
    assert marked.loc[("standardized", "manual_gd"), "category"] == CATEGORY_OK
    # A rank-deficient closed form is what its status says (here a fit), and the words say rank-deficient.
    assert marked.loc[("raw", "sklearn"), "category"] == CATEGORY_OK
    assert "rank-deficient (rank 1)" in marked.loc[("raw", "sklearn"), "status_text"]
    assert marked.loc[("raw", "gd_big"), "status_text"] == "failed: diverged at iteration 2"
    assert marked.loc[("raw", "manual_gd"), "status_text"] == "not converged: stopped at its iteration cap of 100"
    # lstsq, sklearn and the standardized descent tie (relative MSE gap 1e-12 < 1e-9); failed fits are never best.
    assert set(marked.index[marked["best"]]) == {("raw", "lstsq"), ("raw", "sklearn"), ("standardized", "manual_gd")}
    tight = mark_fits(_summary_rows(), best_rtol=1e-15).set_index(["scaling", "method"])
    assert set(tight.index[tight["best"]]) == {("raw", "lstsq"), ("raw", "sklearn")}


def test_failed_statuses_are_never_a_fit():
    rows = _summary_rows()
    rows.loc[rows["method"] == "sklearn", "status"] = "inaccurate"
    rows["certificate_ok"] = pd.array([pd.NA, pd.NA, pd.NA, True, False], dtype="boolean")
    rows["normal_residual"] = [np.nan, np.nan, np.nan, 1e-16, 3e-4]
    rows["condition_number"] = [np.nan, np.nan, np.nan, 12.0, 12.0]
    records = {
        ("d", "raw", "sklearn"): {
            "certificate": {"normal_residual": 3e-4, "condition_number": 12.0, "tolerance": 1e-10, "ok": False}
        }
    }
    marked = mark_fits(rows, best_rtol=1e-9, records=records).set_index(["scaling", "method"])
    sklearn = marked.loc[("raw", "sklearn")]
    assert sklearn["failed"] and not sklearn["best"]
    assert sklearn["status_text"] == (
        "failed: inaccurate closed form (normal-equations residual 3e-4 above its tolerance 1e-10, condition number 12)"
    )
    assert marked.loc[("raw", "lstsq"), "status_text"] == "closed form, certified (condition number 12)"
    # Non-finite parameters are never shown as a fit, whatever the status says.
    rows = _summary_rows()
    rows.at[3, "bias"] = np.inf
    lstsq = mark_fits(rows).set_index(["scaling", "method"]).loc[("raw", "lstsq")]
    assert lstsq["failed"] and lstsq["status_text"].startswith("failed: non-finite")
    assert {status_category(s) for s in FAILED_STATUSES} == {CATEGORY_FAILED}
    assert status_category("something new") == CATEGORY_FAILED


def test_stalled_fits_say_where_and_why():
    row = {
        "status": "stalled",
        "precision_reached": 3.2e-6,
        "weights": [1.0],
        "bias": 0.0,
        "mse": 1.0,
        "iterations": 812,
    }
    record = {"settings": {"dtype": "data", "tolerance": 1e-8}}
    assert status_text(row, record, "float32") == (
        "not converged: stalled at 3.2e-6 relative gradient norm (float32 precision; tolerance 1e-8)"
    )
    noisy = {**row, "precision_reached": 2.8e-3}  # e.g. mini-batch noise, far above float64's precision
    assert status_text(noisy, {"settings": {"dtype": "float64", "tolerance": 1e-5}}) == (
        "not converged: stalled at 0.0028 relative gradient norm (no progress over its stall window, float64; "
        "tolerance 1e-5)"
    )
    assert status_category("stalled") == status_category("max_iterations") == CATEGORY_UNCONVERGED
    from descent.fitting.common import STATUSES as RECORDED

    assert set(STATUSES) == set(RECORDED)  # the report knows every status a fit may record
    off = {**row, "status": "false_convergence", "status_reason": "its stopping test was met 1.0e-03 from the answer"}
    assert status_category("false_convergence") == CATEGORY_UNCONVERGED
    assert status_text(off, {}) == (
        "not converged: false convergence: stopping test met off the answer — its stopping test was met 1.0e-03 "
        "from the answer"
    )
    # A fit that could not run here (a CUDA fit without CUDA) is neither a fit nor a failure: skipped, with why.
    skipped = {
        "status": "skipped",
        "status_reason": "CUDA not available on this machine",
        "weights": None,
        "bias": None,
        "mse": None,
    }
    assert status_category("skipped") == "skipped"
    assert status_text(skipped) == "skipped: could not run on this machine — CUDA not available on this machine"
    # A reason the fit recorded itself is kept, word for word.
    inaccurate = {"status": "inaccurate", "weights": [1.0], "bias": 0.0, "mse": 1.0}
    certificate = {"certificate": {"ok": False, "reason": "normal-equation residual 3e-4 above tolerance 1e-10"}}
    assert status_text(inaccurate, certificate) == (
        "failed: inaccurate closed form: normal-equation residual 3e-4 above tolerance 1e-10"
    )
    diverged = {
        "status": "diverged",
        "diverged_at": 7,
        "status_reason": "loss above 1e10 × its initial value",
        "weights": [1.0],
        "bias": 0.0,
        "mse": 1.0,
    }
    assert status_text(diverged) == "failed: diverged at iteration 7 — loss above 1e10 × its initial value"


def test_mark_fits_needs_the_recorded_status():
    with pytest.raises(ValueError, match="no 'status' column"):
        mark_fits(_summary_rows().drop(columns="status"))


def test_predictions_of_failed_fits_are_withheld_with_the_reason():
    marked = mark_fits(_summary_rows())
    predictions = pd.DataFrame(
        {
            "dataset": ["d"] * 4,
            "scaling": ["raw", "raw", "raw", "standardized"],
            "method": ["gd_big", "gd_big", "lstsq", "manual_gd"],
            "inputs": [[1.0], [2.0], [1.0], [1.0]],
            "prediction": [1e9, 2e9, 3.0, 3.1],
            "true_value": [3.0, 5.0, 3.0, 3.0],
            "status": ["diverged", "diverged", "closed_form", "converged"],
        }
    )
    shown, withheld = prediction_rows(predictions, marked)
    assert [(r["method"], r["prediction"]) for r in shown] == [("lstsq", 3.0), ("manual_gd", 3.1)]
    assert shown[1]["error"] == pytest.approx(0.1)
    assert withheld == [
        {
            "dataset": "d",
            "scaling": "raw",
            "method": "gd_big",
            "status": "diverged",
            "reason": "failed: diverged at iteration 2",
        }
    ]


def test_iterations_to_tolerance_for_both_criteria():
    history = pd.DataFrame(
        {
            "iteration": np.arange(6),
            "loss": [10.0, 5.0, 4.0, 3.99, 3.9899, 3.98989],
            "grad_norm": [100.0, 20.0, 5.0, 0.9, 0.05, 0.001],
        }
    )
    assert iterations_to_tolerance(history, 1e-2) == 3
    assert iterations_to_tolerance(history, 1e-6) is None
    assert iterations_to_tolerance(history, 1e-2, "loss_change") == 3
    assert iterations_to_tolerance(history.iloc[:0], 1e-2) is None


def test_findings_state_computed_numbers():
    marked = mark_fits(_summary_rows())
    grad = np.geomspace(1.0, 1e-7, 101)
    history = pd.DataFrame({"iteration": np.arange(101), "loss": grad, "grad_norm": grad})
    records = {("d", "standardized", "manual_gd"): {"settings": {"tolerance": 1e-5, "stop_criterion": "grad_norm"}}}
    text = " ".join(dataset_findings(marked, "d", records, {("d", "standardized", "manual_gd"): history}))
    expected = iterations_to_tolerance(history, 1e-5)
    assert expected == 72
    assert f"needed {expected} iterations" in text
    assert "b = 0.5, 0.4 below the least-squares intercept 0.9" in text  # 0.9 - 0.5, computed
    assert "gd_big (raw) diverged at iteration 2" in text
    assert "Not converged: manual_gd (raw) stopped at its iteration cap of 100." in text


def test_dataset_table_cells_hold_exact_values():
    marked = mark_fits(_summary_rows())
    table = dataset_table(marked, "d")
    row = next(r for r in table["rows"] if r["key"] == ("d", "standardized", "manual_gd"))
    assert float(row["cells"]["mse"]["value"]) == 0.5 * (1 + 1e-12)
    assert row["cells"]["weights"]["value"] == "[2.1]"
    assert "best" in row["classes"]
    failed = next(r for r in table["rows"] if r["key"] == ("d", "raw", "gd_big"))
    assert "failed" in failed["classes"] and "diverged at iteration 2" in failed["cells"]["status"]["text"]


def test_report_parse_time_imports_are_light():
    import subprocess
    import sys

    code = (
        "import sys, descent.report.inputs, descent.report.provenance, descent.report.claims; "
        "descent.report.claims.read_claims(); descent.report.claims.claims_digest(); "
        "descent.report.inputs.builtin_templates_digest(); descent.report.inputs.override_templates(None); "
        "print([m for m in ('numpy', 'pandas', 'matplotlib', 'jinja2') if m in sys.modules])"
    )
    assert (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
    )


def _tiny_png(path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(0.3, 0.3))
    fig.savefig(path, format="png", dpi=10)
    plt.close(fig)
    return path


def _tiny_results(tmp_path: Path, method_name: str = "<gd>"):
    """A :class:`descent.report.results.Results` of one made-up dataset ``d`` (no lessons, no
    benchmark): the summary rows above, a failed fit renamed ``method_name``, predictions."""
    from descent.report.results import Results

    png = _tiny_png(tmp_path / "f.png")
    marked = mark_fits(_summary_rows())
    marked.loc[marked["method"] == "gd_big", "method"] = method_name
    predictions = pd.DataFrame(
        {
            "dataset": ["d"] * 4,
            "scaling": ["raw", "raw", "raw", "raw"],
            "method": [method_name, "lstsq", "sklearn", "lstsq"],
            "inputs": [[1.0], [1.0], [1.0], [2.0]],
            "prediction": [1e9, 3.0, 3.0, 5.1],
            "true_value": [3.0, 3.0, 3.0, 5.0],
            "status": ["diverged", "closed_form", "closed_form", "closed_form"],
        }
    )
    return Results(
        config={"datasets": {"d": {}}},
        summary=marked,
        predictions=predictions,
        metas={"d": {"n": 5, "features": ["x"], "target": "y", "generator": "g", "seed": 0}},
        figures={"d_fits": png, "d_loss": png},
    )


def _tiny_provenance() -> dict:
    return {
        "time": {"utc": "2030-01-01T00:00:00+00:00", "local": "2030-01-01T01:00:00+01:00"},
        "git": {"commit": "a" * 40, "branch": "main", "dirty": False, "changed_files": 0, "error": None},
        "versions": {"python": "3.11", "jinja2": "3.1.6"},
        "benchmark_machine": None,
        "fit_devices": ["cpu"],
        "machine": {
            "host": {"hostname": "h", "os": "linux"},
            "cpu": {"model": "cpu", "usable_cpus": 2},
            "cuda": {"cuda_available": False, "reason": "no GPU"},
        },
        "command": "make report",
        "config": {"report": {"title": "<T>"}},
    }


def test_template_renders_an_escaped_self_contained_page(tmp_path):
    """The Jinja2 template (package data) renders the parts and sections built from what exists;
    text is escaped, the explorer's data is JSON a script can parse, failed fits' predictions are
    left out with the reason, every table has its CSV."""
    import urllib.parse

    from descent.report.blocks import explorer
    from descent.report.claims import load_claims
    from descent.report.context import context_from_results
    from descent.report.page import render_class_page, render_page
    from descent.report.sections import BEYOND, Section

    results = _tiny_results(tmp_path)
    section = default_section(ROOT / "schemas", "report", title="<T> & co", interactive=False, best_rtol=1e-9, dpi=50)
    payload = {
        "x": [1.0, 2.0],
        "y": [3.0, 5.0],
        "w_range": [0.0, 4.0],
        "b_range": [-1.0, 3.0],
        "steps": 11,
        "start": [0.0, 0.0],
        "lstsq": [2.0, 1.0],
        "grid": {"w": [0.0, 4.0], "b": [-1.0, 3.0], "log10_mse": [[1.0, 2.0], [0.5, 1.5]]},
        "labels": ["x</script>", "y"],
        "n_total": 2,
    }

    def extra(story):  # a section registered beyond the lessons, as issues #14, #15 and #17 will
        return Section("beyond-extra", "An extra <section>", [explorer("d", payload)])

    BEYOND.append(extra)
    try:
        ctx = context_from_results(results, section, load_claims(), _tiny_provenance())
    finally:
        BEYOND.remove(extra)
    ctx["plotly_js"] = "window.Plotly = {};"
    text = render_page(ctx)
    assert text.startswith("<!DOCTYPE html>") and "<head>" in text
    assert "<title>&lt;T&gt; &amp; co</title>" in text
    assert "An extra &lt;section&gt;" in text and "<section>" not in text
    assert text.count('id="plotly-js"') == 1 and "document.querySelectorAll('.explorer')" in text
    data = text.split('class="explorer-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(data)["labels"] == ["x</script>", "y"]  # "</script>" cannot end the script early
    page_path = tmp_path / "index.html"
    page_path.write_text(text, encoding="utf-8")
    page = parse_page(page_path)
    # No lesson dataset, no lessons, no benchmark: those parts are absent; the claims are all "not checked".
    ids = [i for i, _ in page.sections]
    assert ids == [
        "claims",
        "claims-table",
        "beyond",
        "beyond-dataset-d",
        "beyond-extra",
        "provenance",
        "provenance-run",
    ], ids
    assert page.toc == ids
    # (the slips about .T on a 1-D array and about a zero gradient are checked on NumPy itself:
    # they need no results)
    on_numpy = {"matrix-transpose-1d", "zero-gradient-is-extremum"}
    assert {r["verdict"] for r in page.tables["claims"] if r["id"] not in on_numpy} == {"not checked"}
    assert page.rows[("d", "raw", "<gd>")]["status"] == "diverged"
    assert "failed" in page.row_classes[("d", "raw", "<gd>")]
    assert "unconverged" in page.row_classes[("d", "raw", "manual_gd")]
    # Predictions pivoted: the truth, then one row per fit shown; the failed fit left out with its reason.
    pivot = page.tables["predictions"]
    assert [r["_attrs"].get("data-pred-method", r["_attrs"].get("data-reference")) for r in pivot] == [
        "true value",
        "lstsq",
        "sklearn",
    ]
    assert float(pivot[1]["x=1"]) == 3.0 and float(pivot[1]["x=2"]) == 5.1 and pivot[2]["x=2"] == ""
    assert "<gd> (raw) — failed: diverged at iteration 2" in html.unescape(text)
    # Every table has a CSV link whose content is the table's exact values.
    assert len(page.csv_links) == len(page.table_order)
    name, href = next(link for link in page.csv_links if link[0] == "predictions_d")
    csv_rows = urllib.parse.unquote(href.split(",", 1)[1]).splitlines()
    assert csv_rows[0] == "fit,scaling,x=1,x=2" and csv_rows[2] == "lstsq,raw,3.0,5.1"
    assert all(u.startswith(("#", "data:")) or u == "lessons.html" for u in page.urls)  # or the class page
    # The class page of the same results: no lesson data, so the glossary alone, linking back.
    lessons = render_class_page(ctx["class"])
    assert 'id="glossary-terms"' in lessons and 'href="index.html"' in lessons and "<section>" not in lessons
    assert 'id="paris-data"' not in lessons and 'id="beyond-extra"' not in lessons


def test_figures_draw_single_and_multi_feature_data(tmp_path):
    from descent.plotting import save_figure
    from descent.report.figures import data_fit_figure, loss_curves_figure, subsample_index

    rng = np.random.default_rng(0)
    for k in (1, 3):
        X = rng.normal(size=(500, k))
        y = X @ np.arange(1, k + 1) + 2 + rng.normal(size=500)
        meta = {
            "dataset": "d",
            "features": [f"x{j}" for j in range(k)],
            "target": "y",
            "true_weights": list(range(1, k + 1)),
            "true_bias": 2.0,
        }
        records = {
            ("d", s, "lstsq"): {"weights": [1.0] * k, "bias": 2.0, "diverged": False} for s in ("raw", "standardized")
        }
        records[("d", "raw", "manual_gd")] = {"weights": [np.nan] * k, "bias": 0.0, "diverged": True}
        save_figure(
            data_fit_figure(X, y, records, meta, max_points=100), tmp_path / f"f{k}.png", tmp_path / f"f{k}.svg"
        )
        assert (tmp_path / f"f{k}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    history = pd.DataFrame(
        {
            "iteration": [0, 1, 2],
            "loss": [3.0, 2.0, 1.5],
            "grad_norm": [1.0, 0.5, 0.2],
            "w0": [0.0, 0.5, 0.7],
            "b": [0.0, 0.1, 0.2],
        }
    )
    save_figure(
        loss_curves_figure({("d", "raw", "manual_gd"): history}, {"raw": 1.0}, "d"),
        tmp_path / "l.png",
        tmp_path / "l.svg",
    )
    assert (tmp_path / "l.svg").stat().st_size > 0
    assert subsample_index(5, 10).tolist() == [0, 1, 2, 3, 4]


# ------------------------------------------------------------------------------ end to end

#: The page and its provenance; the tests read the session's workflow run (the whole `.test`
#: workflow: fixture `built_report`, tests/conftest.py).
REPORT_TARGETS = ("results/report/index.html", "results/report/provenance.json")


def report_config(workdir: Path) -> Path:
    """The config file the fixture's workflow ran with."""
    return Path((workdir / "config-path").read_text())


@pytest.mark.workflow
def test_page_holds_every_fit_as_computed(built_report):
    page = parse_page(built_report / "results/report/index.html")
    summary = pd.read_parquet(built_report / "results/fits/summary.parquet")
    summary = summary[summary["repetition"] == 0]  # repetitions of a fit are not rows of their own
    assert len(page.rows) == len(summary) > 0  # every fit (how many: tests/test_workflow.py)
    for row in summary.to_dict("records"):
        key = (row["dataset"], row["scaling"], row["method"])
        cells = page.rows[key]
        for field in ("bias", "mse", "dist_to_lstsq", "rel_dist_to_lstsq", "dist_to_true", "seconds"):
            if pd.isna(row[field]):  # e.g. the distance to the truth of data without one
                assert cells[field] == "", (key, field)
            else:
                assert float(cells[field]) == row[field], (key, field)
        assert json.loads(cells["weights"]) == list(row["weights"])
        assert int(cells["iterations"]) == row["iterations"]
        assert cells["status"] == row["status"]  # the recorded status, not re-derived
        assert ("failed" in page.row_classes[key]) == (row["status"] in FAILED_STATUSES)
        assert ("unconverged" in page.row_classes[key]) == (row["status"] in ("stalled", "max_iterations"))
    lstsq_row = page.references[("paris_rent", "least squares (NumPy, float64)")]
    assert float(lstsq_row["bias"]) == summary.loc[summary["dataset"] == "paris_rent", "lstsq_bias"].iloc[0]
    truth = page.references[("paris_rent", "true parameters")]
    assert json.loads(truth["weights"]) == [32.0] and float(truth["bias"]) == 200.0
    # Exactly the fits reaching their dataset's lowest MSE are marked best.
    best = {k for k, classes in page.row_classes.items() if "best" in classes}
    lowest = summary.groupby("dataset")["mse"].min()
    assert best == {
        (r.dataset, r.scaling, r.method) for r in summary.itertuples() if r.mse <= lowest[r.dataset] * (1 + 1e-9)
    }
    assert ("paris_rent", "raw", "manual_gd") not in best  # the lesson's stuck raw descent
    # The benchmark table carries its values too (predictions: test_predictions_are_pivoted_…).
    bench = pd.read_parquet(built_report / "results/benchmark/matmul.parquet")
    assert len(page.tables["benchmark"]) == len(bench)
    assert {r["status"] for r in page.tables["benchmark"]} == set(bench["status"])


@pytest.mark.workflow
def test_page_is_self_contained(built_report):
    html_path = built_report / "results/report/index.html"
    text = html_path.read_text(encoding="utf-8")
    page = parse_page(html_path)
    external = [u for u in page.urls if not (u.startswith("#") or u.startswith("data:"))]
    assert external == ["lessons.html"], external  # the class page beside it, and nothing else
    lessons = parse_page(built_report / "results/report/lessons.html")
    external = [u for u in lessons.urls if not u.startswith(("#", "data:", "index.html"))]
    assert external == [] and "index.html" in lessons.urls, external
    assert all(src.startswith("data:image/png;base64,") for src in lessons.images) and len(lessons.images) >= 8
    assert all(src.startswith("data:image/png;base64,") for src in page.images) and len(page.images) >= 8
    assert [s.get("id") for s in page.scripts].count("plotly-js") == 1
    assert text.count("Plotly v") <= 2 and text.count('define("plotly"') <= 1  # one copy of plotly.js
    assert not any("src" in s for s in page.scripts)
    provenance = json.loads((built_report / "results/report/provenance.json").read_text())
    assert provenance["config"]["report"]["slider_steps"] == 51
    assert provenance["versions"]["numpy"] == np.__version__
    assert provenance["command"].startswith("snakemake --workflow-profile profiles/default --configfile")
    assert provenance["time"]["utc"] in text
    assert provenance["git"]["error"] or len(provenance["git"]["commit"]) == 40


@pytest.mark.workflow
def test_snakemake_report_zip_holds_the_flagged_outputs(built_report, tmp_path):
    work = tmp_path / "w"
    shutil.copytree(built_report, work, symlinks=True)
    config = report_config(work)
    run_snakemake(work, *REPORT_TARGETS, "--report", "results/snakemake-report.zip", configfile=config)
    names = zipfile.ZipFile(work / "results/snakemake-report.zip").namelist()
    for flagged in (
        "paris_rent_surface.png",
        "paris_rent_fits.png",
        "gradient_check.png",
        "index.html",
        "lessons.html",
    ):
        assert any(name.endswith(flagged) for name in names), flagged


def _planned_rules(workdir: Path, config: Path) -> dict[str, int]:
    """Rules a dry run would execute, with counts (from the job stats table)."""
    proc = run_snakemake(workdir, *REPORT_TARGETS, "-n", configfile=config)
    out = proc.stdout + proc.stderr
    if "Nothing to be done" in out:
        return {}
    stats: dict[str, int] = {}
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Job stats"))
    for line in lines[start + 3 :]:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        stats[parts[0]] = int(parts[1])
    return stats


@pytest.mark.workflow
def test_report_reruns_when_a_result_changes_and_not_otherwise(built_report, tmp_path):
    work = tmp_path / "w"
    shutil.copytree(built_report, work, symlinks=True)
    config = report_config(work)

    def touch(relative: str) -> Path:  # newer than every output, as a rewritten result would be
        stamp = time.time() + 1
        os.utime(work / relative, (stamp, stamp))
        return work / relative

    # Rewritten with the same content (newer, same checksum): nothing to do (so nothing was to
    # do before either: the session run leaves the workflow complete).
    touch("results/lessons/minima.json")
    touch("results/fits/paris_rent/raw/manual_gd.json")
    assert _planned_rules(work, config) == {}

    # A lessons figure changes: only the page is rebuilt.
    figure = work / "results/lessons/minima.png"
    figure.write_bytes(figure.read_bytes() + b"\0")
    touch("results/lessons/minima.png")
    assert _planned_rules(work, config) == {"report_html": 1}

    # One fit's history changes: that dataset's figures and the page; and the fits' summary, which
    # reads the histories (time to accuracy), with what depends on it — not other datasets' figures.
    path = work / "results/fits/paris_rent/standardized/manual_gd.history.parquet"
    history = pd.read_parquet(path)
    history.loc[history.index[-1], "loss"] *= 1.5
    history.to_parquet(path, index=False)
    touch("results/fits/paris_rent/standardized/manual_gd.history.parquet")
    planned = _planned_rules(work, config)
    assert planned == {
        "fit_summary": 1,
        "report_fit_figures": 1,
        "report_surface_figure": 1,
        "report_check_figures": 1,
        # the summary's time-to-accuracy table feeds every dataset's convergence figure
        "report_convergence_figure": len(yaml.safe_load(config.read_text())["datasets"]),
        "report_html": 1,
    }, planned

    run_snakemake(work, *REPORT_TARGETS, configfile=config)
    assert _planned_rules(work, config) == {}
    # A changed report setting (a param) reruns the page, not the figures.
    changed = tmp_path / "changed.yaml"
    changed.write_text(config.read_text().replace("slider_steps: 51", "slider_steps: 41"))
    assert changed.read_text() != config.read_text()
    assert _planned_rules(work, changed) == {"report_html": 1}

    # A teacher's own words (report.templates, relative to the working directory): the page is
    # rebuilt with them, and again when one of them is edited.
    from descent.report.words import builtin_folder

    (work / "my-words").mkdir()
    step = work / "my-words/paris-data.j2"
    step.write_text(
        (builtin_folder() / "paris-data.j2").read_text().replace("apartments, generated", "appartements, tirés")
    )
    teacher = tmp_path / "teacher.yaml"
    settings = yaml.safe_load(config.read_text())
    settings["report"] = {**settings.get("report", {}), "templates": "my-words"}
    teacher.write_text(yaml.safe_dump(settings, sort_keys=False))
    run_snakemake(work, *REPORT_TARGETS, configfile=teacher)
    assert "appartements, tirés" in (work / "results/report/index.html").read_text(encoding="utf-8")
    assert _planned_rules(work, teacher) == {}
    step.write_text(step.read_text() + "\n")
    touch("my-words/paris-data.j2")
    assert _planned_rules(work, teacher) == {"report_html": 1}


# ------------------------------------------------------------------------------ the lessons' story and claims

#: The sections of each lesson, in the lesson's order (a run shows those its results allow).
PARIS_ORDER = [
    "paris-data",
    "paris-loss-surface",
    "paris-raw-descent",
    "paris-standardization",
    "paris-standardized-descent",
    "paris-gradient-check",
    "paris-autograd",
    "paris-nn-linear",
    "paris-predictions",
    "paris-closed-form",
    "paris-all-fits",
]
LESSON0_ORDER = [
    "lesson0-guessing",
    "lesson0-vectors",
    "lesson0-x2-descent",
    "lesson0-minima",
    "lesson0-matrix-form",
    "lesson0-batches",
    "lesson0-matmul",
]


def test_claims_file_is_valid_and_every_check_is_used():
    from descent.report.checkbase import CHECKS, VERDICTS
    from descent.report.claims import load_claims, validate_claims

    claims = load_claims()
    assert len({c["id"] for c in claims}) == len(claims) >= 25
    assert {c["check"] for c in claims} == set(CHECKS)  # no check without a claim
    assert {c["lesson"] for c in claims} == {"paris", "lesson0"}
    assert all(c["where"] in PARIS_ORDER + LESSON0_ORDER for c in claims)
    slips = [c for c in claims if c["kind"] == "slip"]
    assert len(slips) >= 6 and all(c["correction"] for c in slips)
    assert VERDICTS == ("holds", "does not hold", "holds only on some machines", "not checked")
    with pytest.raises(ValueError, match=r"unknown check 'nope'.*missing statement"):
        validate_claims([{**claims[0], "check": "nope"}, {k: v for k, v in claims[1].items() if k != "statement"}])


def test_machine_verdicts_and_the_matmul_exponent():
    from descent.report.checkbase import machine_verdict
    from descent.report.checks_matmul import matmul_exponent
    from descent.report.claims import load_claims, measured_text
    from descent.report.results import Results

    assert [machine_verdict(m, 10) for m in (0.9, 1.0, 9.9, 10.0)] == [
        "does not hold",
        "holds only on some machines",
        "holds only on some machines",
        "holds",
    ]
    sizes = np.array([64, 128, 256, 512, 1024, 2048, 4096], dtype=float)

    def table(exponent: float, rate_peak: float = 1e9, spread: float = 0.01) -> pd.DataFrame:
        seconds = 1e-9 * sizes**exponent
        gflops = 2 * sizes**3 / seconds / 1e9
        return pd.DataFrame(
            {
                "backend": "numpy",
                "dtype": "float64",
                "n": sizes.astype(int),
                "seconds_median": seconds,
                "seconds_min": seconds * (1 - spread),
                "seconds_max": seconds * (1 + spread),
                "gflops": gflops,
                "peak_gflops": rate_peak,
                "extrapolated": False,
                "status": "ok",
            }
        )

    expected = {"backend": "numpy", "dtypes": ["float64"], "claimed": 2.807, "classical": 3, "min_rate_fraction": 0.5}
    claim = {**next(c for c in load_claims() if c["check"] == "matmul_exponent"), "expected": expected}
    cubic = matmul_exponent(Results(config={}, summary=pd.DataFrame(), benchmark=table(3.0)), expected)
    assert cubic.verdict == "does not hold"
    assert cubic.values["by_dtype"]["float64"]["exponent"] == pytest.approx(3.0)
    # The claim's sentence (claims.yaml) is filled from the check's values.
    assert measured_text(claim, cubic) == (
        "float64: time ∝ n^3 over n = 64, 128, 256, 512, 1024, 2048, 4096 (the sizes running at ≥ 50 % of the best "
        "2 GFLOP/s), 2.99 to 3.01 within the timing spread — 2.807 excluded, the classical n^3"
    )
    # Sub-cubic growth alone is not proof (a classical kernel still speeding up looks the same) ...
    sub = matmul_exponent(Results(config={}, summary=pd.DataFrame(), benchmark=table(2.807)), expected)
    assert sub.verdict == "not checked" and "inconclusive (still speeding up" in measured_text(claim, sub)
    # ... a classical-count rate above the machine's peak is.
    fast = matmul_exponent(Results(config={}, summary=pd.DataFrame(), benchmark=table(2.807, rate_peak=1.0)), expected)
    assert fast.verdict == "holds" and "a rate above the machine's peak" in measured_text(claim, fast)
    noisy = matmul_exponent(Results(config={}, summary=pd.DataFrame(), benchmark=table(2.9, spread=0.5)), expected)
    assert noisy.verdict == "not checked" and "admits both 2.807 and 3" in measured_text(claim, noisy)
    # Several dtypes: a conclusive one decides when the others are inconclusive; disagreement is not checked.
    both = pd.concat([table(3.0).assign(dtype="float32"), table(2.9, spread=0.5)])
    two = {**expected, "dtypes": ["float64", "float32"]}
    assert matmul_exponent(Results(config={}, summary=pd.DataFrame(), benchmark=both), two).verdict == "does not hold"
    clash = pd.concat([table(3.0).assign(dtype="float32"), table(2.807, rate_peak=1.0)])
    assert matmul_exponent(Results(config={}, summary=pd.DataFrame(), benchmark=clash), two).verdict == "not checked"


def test_agreeing_fits_are_grouped_into_one_sentence():
    from descent.report.findings import FINDINGS, grouped
    from descent.report.pivot import DISPLAY_DIGITS, agreeing_groups
    from descent.report.words import Words

    words = Words()
    groups = agreeing_groups(
        {"a (raw)": [1107.5118255, 1779.08], "b (raw)": [1107.5118301, 1779.08], "c (raw)": [1150.54, 1801.83]}
    )
    assert [g["fits"] for g in groups] == [["a (raw)", "b (raw)"]]
    facts = {"groups": groups, "fields": ["s=30", "s=50"], "digits": DISPLAY_DIGITS}
    assert words.items("predictions", "agreement", facts) == [
        "a (raw) and b (raw) predict the same to 6 significant digits: 1107.51 at s=30, 1779.08 at s=50."
    ]
    # Fits whose sentences read the same at display precision share one; the template picks the
    # grammar by their number.
    end = {"iterations": 200, "lstsq_b": 173.6, "w": None, "lstsq_w": None, "status": "max_iterations"}
    raw = [
        {**end, "method": "manual_gd", "b": 100.1487, "gap": 100.1487 - 173.6},
        {**end, "method": "autograd", "b": 100.14871, "gap": 100.14871 - 173.6},
        {**end, "method": "nn_linear", "b": 100.14869, "gap": 100.14869 - 173.6},
        {**end, "method": "gd_auto", "b": 170.0, "gap": 170.0 - 173.6},
    ]
    assert grouped(words, FINDINGS, "raw", raw) == [
        "Raw manual_gd, autograd and nn_linear all ended after 200 iterations at b = 100.1, 73.45 below "
        "the least-squares intercept 173.6 (42.3 % of it) (max_iterations).",
        "Raw gd_auto ended after 200 iterations at b = 170, 3.6 below the least-squares intercept 173.6 "
        "(2.07 % of it) (max_iterations).",
    ]
    assert grouped(words, FINDINGS, "raw", raw[:2])[0].startswith("Raw manual_gd and autograd both ended after")
    assert grouped(words, FINDINGS, "raw", raw[:1])[0].startswith("Raw manual_gd ended after")


def _section_ids(page: PageParser) -> list[str]:
    return [i for i, cls in page.sections if "step" in cls]


@pytest.mark.workflow
def test_sections_follow_the_lessons_then_beyond_in_config_order(built_report):
    import yaml

    page = parse_page(built_report / "results/report/index.html")
    parts = [i for i, cls in page.sections if "part" in cls]
    assert parts == ["paris", "lesson0", "claims", "beyond", "provenance"], parts
    steps = _section_ids(page)
    assert len(steps) == len(set(steps)) and page.toc == [i for i, _ in page.sections]  # every section in the TOC
    assert [s for s in steps if s.startswith("paris-")] == PARIS_ORDER  # the .test run has every Paris step
    assert [s for s in steps if s.startswith("lesson0-")] == [s for s in LESSON0_ORDER if s in steps]
    assert {"lesson0-guessing", "lesson0-vectors", "lesson0-matrix-form", "lesson0-matmul"} <= set(steps)
    assert steps.index("paris-all-fits") < steps.index("lesson0-guessing") < steps.index("claims-table")
    # Datasets the lessons do not use come under Beyond the lessons in the order the config lists them.
    config = yaml.safe_load(report_config(built_report).read_text())
    main_config = yaml.safe_load((Path(__file__).resolve().parents[1] / "config.yaml").read_text())
    order = list({**main_config["datasets"], **config["datasets"]})  # Snakemake's merge keeps first-seen order
    others = [d for d in order if d not in ("paris_rent", "lesson_linear")]
    beyond = [s.removeprefix("beyond-dataset-") for s in steps if s.startswith("beyond-dataset-")]
    assert beyond == [d for d in others if d in beyond] and set(beyond) == set(others)
    assert steps.index("claims-table") < steps.index(f"beyond-dataset-{beyond[0]}")
    summary = pd.read_parquet(built_report / "results/fits/summary.parquet")
    assert page.table_order.count("summary") == summary["dataset"].nunique()  # one per dataset, in its story


@pytest.mark.workflow
def test_predictions_are_pivoted_as_in_predictions_parquet(built_report):
    page = parse_page(built_report / "results/report/index.html")
    predictions = pd.read_parquet(built_report / "results/fits/predictions.parquet")
    summary = pd.read_parquet(built_report / "results/fits/summary.parquet").set_index(["dataset", "scaling", "method"])
    metas = {
        d: json.loads((built_report / f"results/datasets/{d}.json").read_text())
        for d in predictions["dataset"].unique()
    }
    rows = page.tables["predictions"]
    for dataset, sub in predictions.groupby("dataset"):
        features = metas[dataset]["features"]
        label = {tuple(i): (f"{features[0]}={i[0]:g}" if len(i) == 1 else None) for i in sub["inputs"].map(tuple)}
        mine = [r for r in rows if r["_attrs"].get("data-pred-dataset") == dataset]
        truth = [r for r in mine if r["_attrs"].get("data-reference") == "true value"]
        fits = {(r["_attrs"]["data-pred-scaling"], r["_attrs"]["data-pred-method"]): r for r in mine if r not in truth}
        failed = {
            (s, m)
            for s, m, st in zip(sub["scaling"], sub["method"], sub["status"])
            if st in FAILED_STATUSES or summary.loc[(dataset, s, m), "status"] in FAILED_STATUSES
        }
        assert set(fits) == {(s, m) for s, m in zip(sub["scaling"], sub["method"])} - failed
        for r in sub.to_dict("records"):
            column = label[tuple(r["inputs"])]
            if column is None:
                continue
            if (r["scaling"], r["method"]) in fits:
                assert float(fits[(r["scaling"], r["method"])][column]) == r["prediction"]
            if truth and pd.notna(r["true_value"]):
                assert float(truth[0][column]) == r["true_value"]
        # Failed fits are listed with their reason instead.
        text = html.unescape((built_report / "results/report/index.html").read_text(encoding="utf-8"))
        for scaling, method in failed:
            assert f'data-withheld="{dataset}"' in text and f"{method} ({scaling}) — failed:" in text


@pytest.mark.workflow
def test_every_table_downloads_as_its_exact_values(built_report):
    import csv
    import io
    import urllib.parse

    page = parse_page(built_report / "results/report/index.html")
    assert len(page.csv_links) == len(page.table_order) > 10
    names = [name for name, _ in page.csv_links]
    assert len(names) == len(set(names))
    claims_csv = dict(page.csv_links)["claims"]
    assert claims_csv.startswith("data:text/csv;charset=utf-8,")
    rows = list(csv.DictReader(io.StringIO(urllib.parse.unquote(claims_csv.split(",", 1)[1]))))
    assert [r["id"] for r in rows] == [r["id"] for r in page.tables["claims"]]
    assert [r["verdict"] for r in rows] == [r["verdict"] for r in page.tables["claims"]]


class Recompute:
    """Each claim's verdict recomputed here, independently of descent.report's checks, straight from
    the results files (its thresholds from claims.yaml's ``expected``)."""

    def __init__(self, run: Path):
        self.root = run / "results"

    def json(self, relative: str) -> dict | None:
        path = self.root / relative
        return json.loads(path.read_text()) if path.exists() else None

    def data(self, dataset: str):
        path = self.root / f"datasets/{dataset}.parquet"
        if not path.exists():
            return None
        meta = self.json(f"datasets/{dataset}.json")
        frame = pd.read_parquet(path)
        return frame[meta["features"]].to_numpy(np.float64), frame[meta["target"]].to_numpy(np.float64)

    def fit(self, dataset, scaling, method):
        return self.json(f"fits/{dataset}/{scaling}/{method}.json")

    @staticmethod
    def lstsq(X, y):
        A = np.column_stack([X, np.ones(len(X))])
        return np.linalg.lstsq(A, y, rcond=None)[0], A

    @staticmethod
    def theta(fit):
        return np.append(fit["weights"], fit["bias"])

    @staticmethod
    def yes(condition):
        return "holds" if condition else "does not hold"

    @staticmethod
    def machine(margin, robust):
        return "does not hold" if margin < 1 else "holds" if margin >= robust else "holds only on some machines"

    def verdict(self, claim: dict) -> str:
        e = claim["expected"]
        return getattr(self, claim["check"])(e) or "not checked"

    # -- fits
    def intercept_barely_moves(self, e):
        fit, data = self.fit(e["dataset"], "raw", e["method"]), self.data(e["dataset"])
        if fit is None or data is None:
            return None
        b_star = self.lstsq(*data)[0][-1]
        b0 = fit["init"]["bias"]
        return self.yes(abs(fit["bias"] - b0) / abs(b_star - b0) <= e["max_fraction"])

    def descent_recovers_parameters(self, e):
        fit, data = self.fit(e["dataset"], e["scaling"], e["method"]), self.data(e["dataset"])
        if fit is None or data is None:
            return None
        sol, A = self.lstsq(*data)
        rel = np.linalg.norm(self.theta(fit) - sol) / np.linalg.norm(sol)
        resid = data[1] - A @ sol
        se = np.sqrt(np.diag(resid @ resid / (len(A) - A.shape[1]) * np.linalg.inv(A.T @ A)))
        truth = np.append(fit["true_weights"], fit["true_bias"])
        return self.yes(rel <= e["rtol"] and np.all(np.abs(truth - sol) / se <= e["z"]))

    def conditioning_improves(self, e):
        data = self.data(e["dataset"])
        if data is None:
            return None
        X, y = data

        def kappa(X):
            A = np.column_stack([X, np.ones(len(X))])
            eig = np.linalg.eigvalsh(A.T @ A)
            return eig[-1] / eig[0]

        Xs = (X - X.mean(0)) / X.std(0, ddof=1)
        return self.yes(kappa(Xs) <= e["max_condition"] < kappa(X))

    def standardized_slope_is_correlation(self, e):
        fit, data = self.fit(e["dataset"], "standardized", e["method"]), self.data(e["dataset"])
        if fit is None or data is None:
            return None
        r = np.corrcoef(data[0][:, 0], data[1])[0, 1]
        return self.yes(abs(fit["fitted_space"]["weights"][0] - r) <= e["rtol"] * abs(r))

    def gradients_agree(self, e):
        check = self.json(f"fits/gradient_check/{e['dataset']}.json")
        if check is None:
            return None
        parts = [check[d] for d in ("float64", "float32") if d in check]
        return self.yes(
            bool(parts)
            and all(p["max_rel_diff"] <= e["factor"] * (len(p["hand"]["weights"]) + 1) * p["eps"] for p in parts)
        )

    def fits_agree(self, e):
        fits = [self.fit(e["dataset"], e["scaling"], m) for m in e["methods"]]
        if any(f is None for f in fits):
            return None
        ref = self.theta(fits[0])
        return self.yes(all(np.linalg.norm(self.theta(f) - ref) / np.linalg.norm(ref) <= e["rtol"] for f in fits[1:]))

    def closed_form_variant_matches(self, e):
        fit, ref = self.fit(e["dataset"], "raw", e["method"]), self.fit(e["dataset"], "raw", e["reference"])
        if fit is None or ref is None:
            return None
        rel = np.linalg.norm(self.theta(fit) - self.theta(ref)) / np.linalg.norm(self.theta(ref))
        return self.yes(rel <= e["rtol"] and fit["status"] not in FAILED_STATUSES)

    def data_centered(self, e):
        data = self.data(e["dataset"])
        if data is None:
            return None
        X, y = data
        return self.yes(abs(X.mean()) <= e["rtol"] * X.std(ddof=1) and abs(y.mean()) <= e["rtol"] * y.std(ddof=1))

    def _histories(self, e):
        """Every run of each method: repetition 0, then ``{m}.rep{r}`` in order of r."""
        out = {}
        for m in e["methods"]:
            folder = self.root / f"fits/{e['dataset']}/{e['scaling']}"
            reps = sorted(
                folder.glob(f"{m}.rep*.history.parquet"), key=lambda p: int(p.name.split(".rep")[1].split(".")[0])
            )
            paths = [folder / f"{m}.history.parquet", *reps]
            if paths[0].exists():
                out[m] = [pd.read_parquet(path) for path in paths]
        return out if e["methods"][0] in out and len(out) >= 2 else None

    def batch_is_stable(self, e):
        hist = self._histories(e)
        if hist is None:
            return None
        rises = {m: [int((np.diff(h["loss"].to_numpy()) > 0).sum()) for h in hs] for m, hs in hist.items()}
        first, *others = hist
        return self.yes(max(rises[first]) == 0 and all(np.median(rises[m]) > 0 for m in others))

    def stochastic_is_faster(self, e):
        hist, fit = self._histories(e), self.fit(e["dataset"], e["scaling"], e["methods"][0])
        if hist is None or fit is None:
            return None
        sol = self.lstsq(*self.data(e["dataset"]))[0]
        epochs = min(len(h) - 1 for hs in hist.values() for h in hs)

        def dist(h):
            w = [c for c in h.columns if c.startswith("w") and c[1:].isdigit()]
            theta = np.append(h[w].iloc[epochs].to_numpy(float), h["b"].iloc[epochs])
            return np.linalg.norm(theta - sol) / np.linalg.norm(sol)

        median = {m: np.median([dist(h) for h in hs]) for m, hs in hist.items()}
        first, *others = hist
        return self.yes(all(median[m] < median[first] for m in others))

    # -- Lesson 0's experiments and slips
    def binomial_mode(self, e):
        path = self.root / "lessons/binomial.parquet"
        if not path.exists():
            return None
        t = pd.read_parquet(path)
        return self.yes(t.loc[t["observed_count"].idxmax(), "fraction_correct"] == e["fraction"])

    def binomial_moments(self, e):
        path, b = self.root / "lessons/binomial.parquet", self.json("lessons/binomial.json")
        if not path.exists() or b is None:
            return None
        t = pd.read_parquet(path)
        k, c = t["n_correct"].to_numpy(float), t["observed_count"].to_numpy(float)
        mean = (k * c).sum() / c.sum()
        var = ((k - mean) ** 2 * c).sum() / (c.sum() - 1)
        n, p = b["n_questions"], b["p"]
        return self.yes(
            abs(mean - n * p) <= b["tolerance"]["mean_correct"]
            and abs(var - n * p * (1 - p)) <= b["tolerance"]["variance_correct"]
        )

    def long_test_size(self, e):
        b = self.json("lessons/binomial.json")
        return None if b is None else self.yes(b["long_test"]["n_questions"] == e["questions"])

    def _vectors(self):
        return self.json("lessons/vectors.json")

    def unit_vectors_coincide(self, e):
        v = self._vectors()
        if v is None:
            return None
        a, b = (np.array(x, float) for x in v["unit_vectors"]["vectors"])
        return self.yes(np.max(np.abs(a / np.linalg.norm(a) - b / np.linalg.norm(b))) <= e["atol"])

    def dot_product_value(self, e):
        v = self._vectors()
        return None if v is None else self.yes(np.dot(v["dot_product"]["u"], v["dot_product"]["v"]) == e["value"])

    def cross_gives_scalar(self, e):
        v = self._vectors()
        return None if v is None else self.yes(np.ndim(np.cross(v["dot_product"]["u"], v["dot_product"]["v"])) == 0)

    def bias_folding(self, e):
        v = self._vectors()
        if v is None:
            return None
        m = v["linear_model"]
        w, x, b = np.array(m["weights"]), np.array(m["inputs"]), m["bias"]
        return self.yes(
            np.isclose(w @ x + b, np.append(w, b) @ np.append(x, 1), rtol=1e-12, atol=1e-12)
            and np.isclose(w @ x + b, np.append(w, 1) @ np.append(x, b), rtol=1e-12, atol=1e-12)
        )

    def derivative_with_respect_to_input(self, e):
        v = self._vectors()
        if v is None:
            return None
        m = v["linear_model"]
        return self.yes(np.isclose(m["weights"][0], m["inputs"][0]))  # ∂(w·x + b)/∂x₁ = w₁, claimed x₁

    def x2_descent(self, e):
        d = self.json("lessons/descent_x2.json")
        run = next((r for r in (d or {}).get("runs", []) if r["step_size"] == e["step"]), None)
        if run is None:
            return None
        x, xs = run["x0"], []
        for _ in e["iterates"]:
            x -= e["step"] * 2 * x
            xs.append(x)
        return self.yes(xs == e["iterates"] == run["first_iterates"][1 : 1 + len(xs)] and run["status"] == e["status"])

    def signed_stop_test(self, e):
        d = self.json("lessons/descent_x2.json")
        if d is None:
            return None
        x = -d["x0"]
        new = x - e["step"] * 2 * x
        return self.yes(not new - x < d["tolerance"])  # from the right, the first signed difference already stops it

    def maxima_stop_at_once(self, e):
        m = self.json("lessons/minima.json")
        starts = [s for s in (m or {}).get("stationary_starts", []) if s["kind"] == "local maximum"]
        return self.yes(all(s["distance_moved"] == 0 for s in starts)) if starts else None

    def two_iterations_catch_maximum(self, e):
        m = self.json("lessons/minima.json")
        if m is None:
            return None
        slope = np.polynomial.Polynomial(m["coefficients"]).deriv()
        moved = []
        for maximum in m["local_maxima"]:
            x = maximum["x"]
            for _ in range(e["iterations"]):
                x = x - m["step_size"] * slope(x)
            moved.append(abs(x - maximum["x"]))
        return self.yes(min(moved) > 0)

    def zero_gradient_is_extremum(self, e):
        a, c = e["coefficients"]
        return self.yes(a * c > 0)  # z = a x² + c y²: an extremum at 0 only when a and c share a sign

    def histogram_shows_long_test_mean(self, e):
        b = self.json("lessons/binomial.json")
        return None if b is None else self.yes(b["n_questions"] == e["questions"])

    def restarts_find_global(self, e):
        m = self.json("lessons/minima.json")
        return None if m is None else self.yes(m["best_is_global"] and m["fraction_global"] < 1)

    def gradient_with_weights(self, e):
        fit, data = self.fit(e["dataset"], "raw", e["method"]), self.data(e["dataset"])
        if fit is None or data is None:
            return None
        return self.yes(data[0].shape[1] == len(data[1]))  # Wᵀ (1, k) · R (n, 1) needs k = n

    def shape_is_callable(self, e):
        return None if self.data(e["dataset"]) is None else "does not hold"  # a tuple is not callable

    def transpose_makes_column(self, e):
        return self.yes(np.array(e["values"]).T.ndim == 2)

    # -- the matmul benchmark
    def _bench(self):
        path = self.root / "benchmark/matmul.parquet"
        return pd.read_parquet(path) if path.exists() else None

    @staticmethod
    def _measured(t, backend, dtype):
        rows = t[(t["backend"] == backend) & (t["dtype"] == dtype)].sort_values("n")
        return rows[(rows["status"] == "ok") & ~rows["extrapolated"]]

    def naive_loop_time(self, e):
        t = self._bench()
        if t is None:
            return None
        rows = t[(t["backend"] == e["backend"]) & (t["dtype"] == e["dtype"])]
        at = rows[rows["n"] == e["n"]]
        if len(at):
            seconds = at["seconds_median"].iloc[0]
        else:
            base = self._measured(t, e["backend"], e["dtype"]).iloc[-1]
            seconds = base["seconds_median"] * (e["n"] / base["n"]) ** 3
        return self.machine(e["seconds"] / seconds, e["robust_margin"])

    def numpy_speedup(self, e):
        t = self._bench()
        if t is None:
            return None
        naive = t[(t["backend"] == e["naive"]) & (t["dtype"] == e["dtype"])]
        fast = self._measured(t, e["fast"], e["dtype"])
        n = (
            e["n"]
            if (naive["n"] == e["n"]).any()
            else max(set(self._measured(t, e["naive"], e["dtype"])["n"]) & set(fast["n"]))
        )
        near = fast.iloc[np.argmin(np.abs(np.log(fast["n"].to_numpy(float) / n)))]
        speedup = naive[naive["n"] == n]["seconds_median"].iloc[0] / (near["seconds_median"] * (n / near["n"]) ** 3)
        return self.machine(speedup / e["factor"], e["robust_margin"])

    def matmul_exponent(self, e):
        t = self._bench()
        if t is None:
            return None
        found = set()
        for dtype in e["dtypes"]:
            rows = self._measured(t, e["backend"], dtype)
            used = rows[rows["gflops"] >= e["min_rate_fraction"] * rows["gflops"].max()] if len(rows) else rows
            if len(used) < 2:
                continue
            logn = np.log(used["n"].to_numpy(float))
            slope = np.polyfit(logn, np.log(used["seconds_median"].to_numpy(float)), 1)[0]
            c = (logn - logn.mean()) / ((logn - logn.mean()) ** 2).sum()
            lo_t, hi_t = np.log(used["seconds_min"].to_numpy(float)), np.log(used["seconds_max"].to_numpy(float))
            high, low = np.sum(np.maximum(c * lo_t, c * hi_t)), np.sum(np.minimum(c * lo_t, c * hi_t))
            if (used["gflops"] > 1.1 * used["peak_gflops"]).any():
                found.add("holds")
            elif not low <= e["claimed"] <= high and slope >= (e["claimed"] + e["classical"]) / 2:
                found.add("does not hold")
        return found.pop() if len(found) == 1 else None


@pytest.mark.workflow
def test_claims_verdicts_match_an_independent_recomputation(built_report):
    from descent.report.checkbase import VERDICTS
    from descent.report.claims import load_claims

    page = parse_page(built_report / "results/report/index.html")
    shown = {r["id"]: r for r in page.tables["claims"]}
    claims = load_claims()
    assert list(shown) == [c["id"] for c in claims]  # every claim, in the file's order
    recompute = Recompute(built_report)
    steps = set(_section_ids(page))
    checked = 0
    for claim in claims:
        row = shown[claim["id"]]
        assert row["_attrs"]["data-verdict"] == row["verdict"] in VERDICTS
        assert not row["measured"].startswith("the check failed"), row["measured"]
        assert row["verdict"] == recompute.verdict(claim), (claim["id"], row["measured"])
        checked += row["verdict"] != "not checked"
        if row["verdict"] != "not checked":
            assert claim["where"] in steps, claim["id"]  # the step it is about is on the page
    assert checked >= 20
    # The slips the lesson makes are refuted on the run's own numbers.
    for slip in (
        "vectors-cross-for-scalar",
        "matrix-gradient-with-weights",
        "x2-signed-stop-test",
        "paris-raw-called-centered",
        "guessing-histogram-mean-5000",
        "zero-gradient-is-extremum",
        "minima-two-iterations",
    ):
        assert shown[slip]["verdict"] == "does not hold", shown[slip]["measured"]


# ------------------------------------------------------------------------------ cost to accuracy, inference
@pytest.mark.workflow
def test_cost_to_accuracy_sections_match_the_parquet_files(built_report):
    """Per dataset: the fastest fit per ε recomputed from time_to_accuracy.parquet, κ in the why
    sentences as in conditioning.parquet, the convergence figure present, no repetition as a row."""
    text = (built_report / "results/report/index.html").read_text(encoding="utf-8")
    page = parse_page(built_report / "results/report/index.html")
    accuracy = pd.read_parquet(built_report / "results/fits/time_to_accuracy.parquet")
    conditioning = pd.read_parquet(built_report / "results/fits/conditioning.parquet")
    steps = _section_ids(page)
    rows = page.tables["time-to-accuracy"]
    for dataset in accuracy["dataset"].unique():
        assert f"beyond-cost-{dataset}" in steps
        section = text.split(f'id="beyond-cost-{dataset}"', 1)[1].split("<section", 1)[0]
        assert section.count("<img") >= 1  # the convergence figure
        mine = [r for r in rows if r["_attrs"].get("data-dataset") == dataset]
        main = accuracy[
            (accuracy["dataset"] == dataset) & (accuracy["repetition"] == 0) & (accuracy["status"] != "skipped")
        ]
        assert sorted(r["_attrs"]["data-fit"] for r in mine) == sorted(
            {f"{r.scaling}/{r.method}" for r in main.itertuples()}
        )
        assert not any(".rep" in r["_attrs"]["data-fit"] for r in mine)
        for epsilon, group in main.groupby("epsilon"):
            hit = group[group["reached"]]
            column = f"ε = {epsilon:g}"
            marked = [r["_attrs"]["data-fit"] for r in mine if "★ fastest" in r[column]]
            if hit.empty:
                assert marked == []
                continue
            best = hit.loc[hit["seconds"].idxmin()]
            assert marked == [f"{best['scaling']}/{best['method']}"], (dataset, epsilon)
            assert f"Relative gap {epsilon:g}: reached first by {best['method']} ({best['scaling']}" in section
        cond = conditioning[conditioning["dataset"] == dataset].set_index("scaling")
        if {"raw", "standardized"} <= set(cond.index):
            assert (
                f"κ is {cond.loc['raw', 'kappa']:.3g} on the raw data and "
                f"{cond.loc['standardized', 'kappa']:.3g} standardized"
            ) in section
    # Repetitions never show as fits of their own anywhere on the page.
    assert not any(".rep" in key[2] for key in page.rows)
    assert not any(".rep" in str(r.get("method", "")) for table in page.tables.values() for r in table)


@pytest.mark.workflow
def test_inference_table_holds_the_fit_jsons_numbers(built_report):
    page = parse_page(built_report / "results/report/index.html")
    rows = page.tables["inference"]
    fits = built_report / "results/fits"
    seen = set()
    for path in sorted(fits.glob("*/*/*.json")):
        record = json.loads(path.read_text())
        inference = record.get("inference")
        if not inference:
            continue
        dataset, scaling, method = path.parts[-3], path.parts[-2], path.stem
        mine = [
            r
            for r in rows
            if r["_attrs"]["data-dataset"] == dataset and r["_attrs"]["data-fit"] == f"{scaling}/{method}"
        ]
        assert [r["parameter"] for r in mine] == [*record["features"], "bias"]
        for i, row in enumerate(mine):
            for field in ("standard_errors", "t_values", "ci_low", "ci_high"):
                assert float(row[field]) == inference[field][i], (dataset, method, field)
            assert float(row["r2"]) == inference["r2"] and float(row["adj_r2"]) == inference["adj_r2"]
            if record.get("true_weights") is None:  # unknown truth (diabetes): no truth columns
                assert "covers_truth" not in row and "true_value" not in row
            else:
                assert (row["covers_truth"] == "true") == bool(inference["covers_truth"][i])
        seen.add(dataset)
    assert "diabetes" in seen and len(seen) >= 2


# ------------------------------------------------------------------------------ the page's arithmetic


class SectionText(HTMLParser):
    """The visible prose of each section (paragraphs, lists, captions; not tables, scripts or
    styles), whitespace collapsed: what a reader reads."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: dict[str, list[str]] = {}
        self._section: str | None = None
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style", "table"):
            self._skip += 1
        if tag == "section" and dict(attrs).get("id"):
            self._section = dict(attrs)["id"]
            self.text.setdefault(self._section, [])

    def handle_endtag(self, tag):
        if tag in ("script", "style", "table"):
            self._skip -= 1

    def handle_data(self, data):
        if self._section and not self._skip:
            self.text[self._section].append(data)


def section_texts(path: Path) -> dict[str, str]:
    parser = SectionText()
    parser.feed(path.read_text(encoding="utf-8"))
    return {sid: " ".join(" ".join(parts).split()) for sid, parts in parser.text.items()}


def test_status_says_diverging_when_the_loss_grows_below_the_divergence_factor():
    """A fit stopped at its iteration cap whose loss grew by orders of magnitude is diverging,
    failed and never best, though the fit stage (below divergence_factor) did not stop it."""
    from descent.report.status import DIVERGING_GROWTH, is_diverging, loss_path

    row = {"status": "max_iterations", "iterations": 5000, "weights": [40.2], "bias": -0.29, "mse": 1.7e10}
    record = {"settings": {"divergence_factor": 1e10, "tolerance": 1e-8}}
    path = (262.9, 1.7182e10)
    assert is_diverging("max_iterations", path) and not is_diverging("diverged", path)
    assert not is_diverging("max_iterations", (262.9, 262.9 * DIVERGING_GROWTH * 0.99))
    text = status_text(row, record, path=path)
    assert text.startswith("failed: diverging: its loss grew from 262.9 to 1.7e10 (×6.5e7)"), text
    assert "below the divergence factor 1e10" in text and "recorded status max_iterations" in text
    assert status_text(row, record).startswith("not converged: stopped at its iteration cap of 5000")  # as recorded
    history = pd.DataFrame({"loss": [262.9, 1e3, 1.7182e10]})
    assert loss_path(history) == (262.9, 1.7182e10)
    rows = _summary_rows()
    keys = list(zip(rows["dataset"], rows["scaling"], rows["method"]))
    growing = keys[[k[2] for k in keys].index("manual_gd")]
    marked = mark_fits(rows, histories={growing: history}).set_index(["scaling", "method"])
    manual = marked.loc[(growing[1], growing[2])]
    assert manual["failed"] and manual["diverging"] and not manual["best"]
    assert manual["status_text"].startswith("failed: diverging")


def test_static_figures_dash_a_diverging_fit():
    """A fit whose loss grew tenfold without being stopped as diverged is dashed and named
    diverging in the static figures, as in the tables; a converging one is solid."""
    from descent.report.figures import data_fit_figure, fit_mark, loss_curves_figure

    grows = pd.DataFrame({"iteration": [0, 1, 2], "loss": [1.0, 50.0, 2000.0]})
    falls = pd.DataFrame({"iteration": [0, 1, 2], "loss": [1.0, 0.5, 0.25]})
    records = {
        ("d", "raw", "fast"): {"status": "max_iterations", "weights": [1.0], "bias": 0.0},
        ("d", "raw", "slow"): {"status": "max_iterations", "weights": [2.0], "bias": 0.0},
    }
    histories = {("d", "raw", "fast"): grows, ("d", "raw", "slow"): falls}
    assert fit_mark(records[("d", "raw", "fast")], grows) == "diverging"
    assert fit_mark(records[("d", "raw", "slow")], falls) is None
    assert fit_mark({"status": "diverged", "weights": [1.0], "bias": 0.0}) == "failed"
    meta = {"dataset": "d", "features": ["x"], "target": "y"}
    x = np.linspace(0, 1, 20)[:, None]
    for fig in (
        data_fit_figure(x, 2 * x[:, 0], records, meta, 100, histories),
        loss_curves_figure(histories, {"raw": 0.1}, "d", records),
    ):
        lines = {line.get_label(): line.get_linestyle() for ax in fig.axes for line in ax.get_lines()}
        assert lines["fast (diverging)"] == "--" and lines["slow"] == "-", lines
    # The interactive 3-D surface dashes the same path.
    from descent.report.interactive import surface_3d_figure

    grid = pd.DataFrame([(w, b, 1.0 + w * w + b * b) for w in np.linspace(0, 3, 5) for b in np.linspace(0, 3, 5)])
    grid.columns = ["w", "b", "mse"]
    paths = {key: h.assign(w0=[1.0, 2.0, 2.5], b=[1.0, 1.5, 2.0]) for key, h in histories.items()}
    traces = {t.name: t.line.dash for t in surface_3d_figure({"raw": grid}, paths, "d").data if t.type == "scatter3d"}
    assert traces == {"fast": "dash", "slow": "solid"}, traces


def test_the_unit_vector_is_visible():
    """Drawn in its own colour at a scale where it is long: hundreds of its pixels show (hidden
    at the foot of the arrows it had almost none)."""
    import matplotlib.image

    from descent.report.stepfigures import UNIT_COLOUR, vectors_figure

    vectors = [[2.0, 4.0, 6.0], [3.0, 6.0, 9.0]]
    png = vectors_figure(vectors, np.asarray(vectors[0]) / np.linalg.norm(vectors[0]), 110)
    pixels = matplotlib.image.imread(io.BytesIO(png))[..., :3]
    colour = np.array([int(UNIT_COLOUR[i : i + 2], 16) for i in (1, 3, 5)]) / 255
    shown = int((np.abs(pixels - colour).max(axis=-1) < 0.08).sum())
    assert shown > 300, shown


def test_minima_facts_account_for_every_start():
    """Starts that ended at no minimum are counted and named, so the counts add up."""
    from descent.report.story_lesson0 import minima_facts
    from descent.report.words import Words

    summary = {
        "function": "f",
        "derivative": "f'",
        "local_minima": [{"x": 0.0}],
        "local_maxima": [{"x": 1.0}],
        "global_minimum": {"x": [0.0], "f_exact": "0"},
        "n_starts": 3,
        "start_range": [-1, 2],
        "step_size": 0.01,
        "tolerance": 1e-6,
        "fraction_global": 2 / 3,
        "best_is_global": True,
        "minima_found": [{"x": 0.0, "f": 0.0, "is_global": True, "starts": 2, "fraction": 2 / 3}],
    }
    table = pd.DataFrame(
        {
            "start": [0, 1, 2],
            "x_start": [0.5, 1.000003, -0.2],
            "x_end": [0.0, 1.000004, 0.0],
            "status": ["converged"] * 3,
            "iterations": [300, 1, 250],
            "minimum": pd.array([0.0, None, 0.0], dtype="Float64"),
            "nearest_critical_point": [0.0, 1.0, 0.0],
            "nearest_kind": ["minimum", "maximum", "minimum"],
        }
    )
    facts = minima_facts(summary, table)
    assert sum(facts["counts"]) + facts["n_unmatched"] == facts["n_starts"] == 3
    text = Words().text("lesson0-minima", "result", facts)
    assert "2 + 1 = 3 of 3" in text and "Start 1 began at x = 1.000003" in text and "Case 1" in text


def test_inference_counts_each_distinct_interval_once():
    from descent.report.story_cost import coverage_facts

    row = {"parameter": "w", "ci_low": 31.3299, "ci_high": 33.7995, "covers_truth": True}
    rows = [row, {**row, "ci_low": 31.32991}, {**row, "parameter": "bias", "ci_low": 88.85, "ci_high": 258.35}]
    rows += [{**rows[2], "ci_high": 258.349}]
    assert coverage_facts(rows) == {"intervals": 2, "covered": 2, "rows_checked": 4, "parameters": 2}


@pytest.mark.workflow
def test_the_pages_arithmetic(built_report):
    """Counts add up, fractions sum to 1, and each quoted number equals the file it comes from,
    on the `.test` run: the minima, the binomial histogram, the claims tally, the Paris fits, the
    intervals, the batches over their repetitions, the loss surface's grid and the raw descent."""
    from descent.report.story_cost import coverage_facts

    html = built_report / "results/report/index.html"
    page, texts = parse_page(html), section_texts(html)
    results = built_report / "results"

    # Minima: every start is in the table, once; fractions sum to 1; the sentence adds up.
    minima = json.loads((results / "lessons/minima.json").read_text())
    starts = pd.read_parquet(results / "lessons/minima.parquet")
    table = page.tables["minima_found"]
    counts = [int(r["starts"]) for r in table]
    assert sum(counts) == minima["n_starts"] == len(starts)
    assert sum(float(r["fraction"]) for r in table) == pytest.approx(1.0)
    found = starts["minimum"].value_counts()
    for r in table:
        expected = int(starts["minimum"].isna().sum()) if r["x"] == "" else int(found[float(r["x"])])
        assert int(r["starts"]) == expected
    assert f"= {minima['n_starts']} of {minima['n_starts']}" in texts["lesson0-minima"]
    for start in starts[starts["minimum"].isna()].itertuples():
        assert f"Start {start.start} began at x = {format_number(start.x_start, 7)}" in texts["lesson0-minima"]

    # Binomial histogram: counts add up to the tests, frequencies to 1.
    binomial = json.loads((results / "lessons/binomial.json").read_text())
    histogram = pd.read_parquet(results / "lessons/binomial.parquet")
    assert int(histogram["observed_count"].sum()) == binomial["n_tests"]
    assert histogram["observed_frequency"].sum() == pytest.approx(1.0)

    # The claims tally: the verdict counts quoted add up to the claims, as the table has them.
    claims = page.tables["claims"]
    tally = texts["claims-table"]
    assert f"{len(claims)} statements" in tally
    for verdict in VERDICTS_ON_PAGE:
        n = sum(r["verdict"] == verdict for r in claims)
        assert (f"{n} {verdict}" in tally) == (n > 0), (verdict, n)
    for r in claims:
        assert r["verdict"] != "does not hold" or r["correction"], r["id"]  # what is right, always

    # Every fit of the Paris data, and only those, named; their number as in the summary.
    summary = pd.read_parquet(results / "fits/summary.parquet")
    paris = summary[(summary["dataset"] == "paris_rent") & (summary["repetition"] == 0)]
    all_fits = texts["paris-all-fits"]
    assert f"All {len(paris)} fits of the Paris data" in all_fits
    named = all_fits.split("in original units:", 1)[1].split(".", 1)[0]
    for method in set(paris["method"]):
        assert method in named
    for other in set(summary["method"]) - set(paris["method"]):
        assert other not in named.replace(",", " ").split(), other

    # Intervals: each distinct interval counted once, the count recomputed from the fit JSONs.
    for dataset in ("paris_rent", "lesson_linear", "multifeature"):
        rows = []
        for scaling in ("raw", "standardized"):
            for path in sorted((results / f"fits/{dataset}/{scaling}").glob("*.json")):
                record = json.loads(path.read_text())
                inference = record.get("inference")
                if not inference or not inference.get("covers_truth"):
                    continue
                names = [*record["features"], "bias"]
                rows += [
                    {
                        "parameter": n,
                        "ci_low": inference["ci_low"][i],
                        "ci_high": inference["ci_high"][i],
                        "covers_truth": inference["covers_truth"][i],
                    }
                    for i, n in enumerate(names)
                ]
        facts = coverage_facts(rows)
        assert facts["intervals"] == len(record["features"]) + 1  # the closed forms agree: one per parameter
        text = texts["beyond-inference"].split(f"{dataset}:", 1)[1]
        assert f"{facts['covered']} of the {facts['intervals']} cover" in text.split(".", 3)[-1] or (
            f"{facts['covered']} of {facts['intervals']}" in text
        )

    # Batches: one row per fit, its runs as many as its repetition files, the median recomputed.
    for r in page.tables["batches"]:
        folder = results / "fits/lesson_linear/raw"
        runs = [folder / f"{r['method']}.json", *sorted(folder.glob(f"{r['method']}.rep*.json"))]
        assert int(r["runs"]) == len(runs)
        fit = json.loads(runs[0].read_text())
        lstsq = np.append(np.asarray(fit["lstsq_weights"] if "lstsq_weights" in fit else [], float), [])
        row = summary[(summary["dataset"] == "lesson_linear") & (summary["scaling"] == "raw")]
        row = row[(row["method"] == r["method"]) & (row["repetition"] == 0)].iloc[0]
        lstsq = np.append(np.asarray(row["lstsq_weights"], float), row["lstsq_bias"])
        distances = []
        for path in runs:
            rec = json.loads(path.read_text())
            theta = np.append(np.asarray(rec["weights"], float), rec["bias"])
            distances.append(np.linalg.norm(theta - lstsq) / np.linalg.norm(lstsq))
        assert float(r["rel_dist_median"]) == pytest.approx(np.median(distances), rel=1e-9)

    # The loss surface's figure grid and the raw descent's end, as their files say.
    surface = pd.read_parquet(results / "fits/paris_rent/raw/loss_surface.parquet")
    caption = texts["paris-loss-surface"]
    for value in (surface["w"].min(), surface["w"].max(), surface["b"].min(), surface["b"].max()):
        assert format_number(float(value), 4) in caption
    assert f"{surface['w'].nunique()} × {surface['b'].nunique()} points" in caption
    raw = json.loads((results / "fits/paris_rent/raw/manual_gd.json").read_text())
    data = pd.read_parquet(results / "datasets/paris_rent.parquet")
    x, y = data["surface"].to_numpy(np.float64), data["rent"].to_numpy(np.float64)
    b_end = raw["bias"]
    descent = texts["paris-raw-descent"]
    assert f"w = {format_number(raw['weights'][0])}, b = {format_number(b_end)}" in descent
    assert f"the loss is lowest at w = {format_number(float(x @ (y - b_end) / (x @ x)))}" in descent


#: The verdicts a claim can have, as the claims tally names them.
VERDICTS_ON_PAGE = ("holds", "does not hold", "holds only on some machines", "not checked")
