"""The comparison report: tables, findings, figures and page (unit tests), and end to end: the
page holds every fit's numbers as computed, it is self-contained, Snakemake's own report builds,
and the report reruns when a result changes and not otherwise."""

from __future__ import annotations

import html
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

from conftest import run_snakemake
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
    inline scripts' ids and sizes, images and table cells of other tables."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: dict[tuple[str, str, str], dict[str, str]] = {}
        self.row_classes: dict[tuple[str, str, str], set[str]] = {}
        self.references: dict[tuple[str, str], dict[str, str]] = {}
        self.urls: list[str] = []
        self.scripts: list[dict[str, str]] = []
        self.images: list[str] = []
        self.tables: dict[str, list[dict[str, str]]] = {}
        self._row: dict[str, str] | None = None
        self._table: list[str] = []
        self._summary_dataset: str | None = None
        self._ref: tuple[str, str] | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("src", "href"):
            if key in a and a[key] is not None:
                self.urls.append(a[key])
        if tag == "table":
            self._table.append(a.get("class", ""))
            if "summary" in a.get("class", ""):
                self._summary_dataset = a.get("data-dataset")
        elif tag == "tr":
            if "data-method" in a:
                key = (a["data-dataset"], a["data-scaling"], a["data-method"])
                self._row = self.rows.setdefault(key, {})
                self.row_classes[key] = set(a.get("class", "").split())
            elif "data-reference" in a:
                self._ref = (self._summary_dataset, a["data-reference"])
                self._row = self.references.setdefault(self._ref, {})
            elif self._table and self._table[-1] != "summary":
                self._row = {}
                self.tables.setdefault(self._table[-1], []).append(self._row)
            else:
                self._row = None
        elif tag == "td" and self._row is not None and "data-field" in a:
            self._row[a["data-field"]] = a.get("data-value", "")
        elif tag == "script":
            self.scripts.append(a)
        elif tag == "img":
            self.images.append(a.get("src", ""))

    def handle_endtag(self, tag):
        if tag == "table" and self._table:
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
    assert format_number(1.2675e-7) == "1.2675e-7"
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
    base = dict(dataset="d", features=["x"], true_weights=[2.0], true_bias=1.0, lstsq_weights=[2.1],
                lstsq_bias=0.9, lstsq_mse=0.5, lr=0.1, device="cpu", rank=2, diverged_at=pd.NA)
    rows = [
        dict(scaling="raw", method="manual_gd", base_method="manual_gd", weights=[2.0], bias=0.5, mse=0.6,
             iterations=100, converged=False, diverged=False, status="max_iterations", seconds=0.2, dist_to_lstsq=0.41,
             rel_dist_to_lstsq=0.18, dist_to_true=0.5, mse_excess=0.1),
        dict(scaling="raw", method="gd_big", base_method="manual_gd", weights=[1e9], bias=-3.0, mse=1e18,
             iterations=2, converged=False, diverged=True, diverged_at=2, status="diverged", seconds=0.01, dist_to_lstsq=1e9,
             rel_dist_to_lstsq=4e8, dist_to_true=1e9, mse_excess=1e18),
        dict(scaling="standardized", method="manual_gd", base_method="manual_gd", weights=[2.1], bias=0.9,
             mse=0.5 * (1 + 1e-12), iterations=100, converged=True, diverged=False, status="converged", seconds=0.3,
             dist_to_lstsq=1e-7, rel_dist_to_lstsq=4e-8, dist_to_true=0.14, mse_excess=5e-13),
        dict(scaling="raw", method="lstsq", base_method="lstsq", weights=[2.1], bias=0.9, mse=0.5,
             iterations=0, converged=True, diverged=False, status="closed_form", seconds=0.001, dist_to_lstsq=0.0,
             rel_dist_to_lstsq=0.0, dist_to_true=0.14, mse_excess=0.0),
        dict(scaling="raw", method="sklearn", base_method="sklearn", weights=[2.1], bias=0.9, mse=0.5,
             iterations=0, converged=True, diverged=False, status="closed_form", seconds=0.002, dist_to_lstsq=0.0,
             rel_dist_to_lstsq=0.0, dist_to_true=0.14, mse_excess=0.0),
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
    records = {("d", "raw", "sklearn"): {"certificate": {"normal_residual": 3e-4, "condition_number": 12.0,
                                                         "tolerance": 1e-10, "ok": False}}}
    marked = mark_fits(rows, best_rtol=1e-9, records=records).set_index(["scaling", "method"])
    sklearn = marked.loc[("raw", "sklearn")]
    assert sklearn["failed"] and not sklearn["best"]
    assert sklearn["status_text"] == ("failed: inaccurate closed form (normal-equations residual 3e-4 above its "
                                      "tolerance 1e-10, condition number 12)")
    assert marked.loc[("raw", "lstsq"), "status_text"] == "closed form, certified (condition number 12)"
    # Non-finite parameters are never shown as a fit, whatever the status says.
    rows = _summary_rows()
    rows.at[3, "bias"] = np.inf
    lstsq = mark_fits(rows).set_index(["scaling", "method"]).loc[("raw", "lstsq")]
    assert lstsq["failed"] and lstsq["status_text"].startswith("failed: non-finite")
    assert {status_category(s) for s in FAILED_STATUSES} == {CATEGORY_FAILED}
    assert status_category("something new") == CATEGORY_FAILED


def test_stalled_fits_say_where_and_why():
    row = {"status": "stalled", "precision_reached": 3.2e-6, "weights": [1.0], "bias": 0.0, "mse": 1.0,
           "iterations": 812}
    record = {"settings": {"dtype": "data", "tolerance": 1e-8}}
    assert status_text(row, record, "float32") == (
        "not converged: stalled at 3.2e-6 relative gradient norm (float32 precision; tolerance 1e-8)")
    noisy = {**row, "precision_reached": 2.8e-3}  # e.g. mini-batch noise, far above float64's precision
    assert status_text(noisy, {"settings": {"dtype": "float64", "tolerance": 1e-5}}) == (
        "not converged: stalled at 0.0028 relative gradient norm (no progress over its stall window, float64; "
        "tolerance 1e-5)")
    assert status_category("stalled") == status_category("max_iterations") == CATEGORY_UNCONVERGED
    assert set(STATUSES) == {"converged", "stalled", "max_iterations", "diverged", "inaccurate", "closed_form"}
    # A reason the fit recorded itself is kept, word for word.
    inaccurate = {"status": "inaccurate", "weights": [1.0], "bias": 0.0, "mse": 1.0}
    certificate = {"certificate": {"ok": False, "reason": "normal-equation residual 3e-4 above tolerance 1e-10"}}
    assert status_text(inaccurate, certificate) == (
        "failed: inaccurate closed form: normal-equation residual 3e-4 above tolerance 1e-10")
    diverged = {"status": "diverged", "diverged_at": 7, "status_reason": "loss above 1e10 × its initial value",
                "weights": [1.0], "bias": 0.0, "mse": 1.0}
    assert status_text(diverged) == "failed: diverged at iteration 7 — loss above 1e10 × its initial value"


def test_mark_fits_needs_the_recorded_status():
    with pytest.raises(ValueError, match="no 'status' column"):
        mark_fits(_summary_rows().drop(columns="status"))


def test_predictions_of_failed_fits_are_withheld_with_the_reason():
    marked = mark_fits(_summary_rows())
    predictions = pd.DataFrame({
        "dataset": ["d"] * 4, "scaling": ["raw", "raw", "raw", "standardized"],
        "method": ["gd_big", "gd_big", "lstsq", "manual_gd"],
        "inputs": [[1.0], [2.0], [1.0], [1.0]], "prediction": [1e9, 2e9, 3.0, 3.1], "true_value": [3.0, 5.0, 3.0, 3.0],
        "status": ["diverged", "diverged", "closed_form", "converged"]})
    shown, withheld = prediction_rows(predictions, marked)
    assert [(r["method"], r["prediction"]) for r in shown] == [("lstsq", 3.0), ("manual_gd", 3.1)]
    assert shown[1]["error"] == pytest.approx(0.1)
    assert withheld == [{"dataset": "d", "scaling": "raw", "method": "gd_big", "status": "diverged",
                         "reason": "failed: diverged at iteration 2"}]


def test_iterations_to_tolerance_for_both_criteria():
    history = pd.DataFrame({"iteration": np.arange(6), "loss": [10.0, 5.0, 4.0, 3.99, 3.9899, 3.98989],
                            "grad_norm": [100.0, 20.0, 5.0, 0.9, 0.05, 0.001]})
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


def test_report_package_modules_are_small_and_parse_time_imports_light():
    import subprocess
    import sys

    package = Path(__file__).resolve().parents[1] / "src/descent/report"
    sizes = {p.name: len(p.read_text().splitlines()) for p in package.glob("*.py")}
    assert max(sizes.values()) <= 400, sizes
    code = ("import sys, descent.report.inputs, descent.report.provenance; "
            "print([m for m in ('numpy', 'pandas', 'matplotlib', 'jinja2') if m in sys.modules])")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"


def _tiny_png(path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(0.3, 0.3))
    fig.savefig(path, format="png", dpi=10)
    plt.close(fig)
    return path


def test_template_renders_an_escaped_self_contained_page(tmp_path):
    """The Jinja2 template (package data) renders every section; text is escaped, the explorer's
    data is JSON a script can parse, failed fits' predictions are listed, not shown."""
    from descent.report.page import render_page

    png = _tiny_png(tmp_path / "f.png")
    marked = mark_fits(_summary_rows())
    marked.loc[marked["method"] == "gd_big", "method"] = "<gd>"
    predictions = pd.DataFrame({"dataset": ["d", "d"], "scaling": ["raw", "raw"], "method": ["<gd>", "lstsq"],
                                "inputs": [[1.0], [1.0]], "prediction": [1e9, 3.0], "true_value": [3.0, 3.0],
                                "status": ["diverged", "closed_form"]})
    shown, withheld = prediction_rows(predictions, marked)
    payload = {"x": [1.0, 2.0], "y": [3.0, 5.0], "w_range": [0.0, 4.0], "b_range": [-1.0, 3.0], "steps": 11,
               "start": [0.0, 0.0], "lstsq": [2.0, 1.0], "grid": {"w": [0.0, 4.0], "b": [-1.0, 3.0],
               "log10_mse": [[1.0, 2.0], [0.5, 1.5]]}, "labels": ["x</script>", "y"], "n_total": 2}
    prov = {"time": {"utc": "2030-01-01T00:00:00+00:00", "local": "2030-01-01T01:00:00+01:00"},
            "git": {"commit": "a" * 40, "branch": "main", "dirty": False, "changed_files": 0, "error": None},
            "versions": {"python": "3.11", "jinja2": "3.1.6"}, "benchmark_machine": None, "fit_devices": ["cpu"],
            "machine": {"host": {"hostname": "h", "os": "linux"}, "cpu": {"model": "cpu", "usable_cpus": 2},
                        "cuda": {"cuda_available": False, "reason": "no GPU"}},
            "command": "make report", "config": {"report": {"title": "<T>"}}}
    ctx = {"title": "<T> & co", "provenance": prov, "best_rtol": 1e-9,
           "datasets": [{"name": "d", "meta": {"n": 5, "features": ["x"], "target": "y", "generator": "g", "seed": 0},
                         "table": dataset_table(marked, "d"), "findings": ["a <b>bold</b> claim"],
                         "figures": {"fits": png, "loss": png, "surface": png},
                         "surface_3d": '<div id="surface3d-d"></div>', "explorer": payload}],
           "gradient": {"rows": [], "figure": png},
           "predictions": {"rows": shown, "withheld": withheld, "figure": png},
           "benchmark": None, "lessons": None, "plotly_js": "window.Plotly = {};"}
    text = render_page(ctx)
    assert text.startswith("<!DOCTYPE html>") and "<head>" in text
    assert "<title>&lt;T&gt; &amp; co</title>" in text
    assert "a &lt;b&gt;bold&lt;/b&gt; claim" in text and "<b>bold</b>" not in text
    assert '<div id="surface3d-d"></div>' in text  # trusted Plotly fragment, not escaped
    assert text.count('id="plotly-js"') == 1 and "document.querySelectorAll('.explorer')" in text
    data = text.split('class="explorer-data">', 1)[1].split("</script>", 1)[0]
    assert json.loads(data)["labels"] == ["x</script>", "y"]  # "</script>" cannot end the script early
    page_path = tmp_path / "index.html"
    page_path.write_text(text, encoding="utf-8")
    page = parse_page(page_path)
    assert page.rows[("d", "raw", "<gd>")]["status"] == "diverged"
    assert "failed" in page.row_classes[("d", "raw", "<gd>")]
    assert "unconverged" in page.row_classes[("d", "raw", "manual_gd")]
    assert [r["method"] for r in page.tables["predictions"]] == ["lstsq"]
    assert "<gd> (raw) — failed: diverged at iteration 2" in html.unescape(text)
    assert all(u.startswith(("#", "data:")) for u in page.urls)
    assert 'id="benchmark"' not in text and 'id="lessons"' not in text


def test_figures_draw_single_and_multi_feature_data(tmp_path):
    from descent.plotting import save_figure
    from descent.report.figures import data_fit_figure, loss_curves_figure, subsample_index

    rng = np.random.default_rng(0)
    for k in (1, 3):
        X = rng.normal(size=(500, k))
        y = X @ np.arange(1, k + 1) + 2 + rng.normal(size=500)
        meta = {"dataset": "d", "features": [f"x{j}" for j in range(k)], "target": "y",
                "true_weights": list(range(1, k + 1)), "true_bias": 2.0}
        records = {("d", s, "lstsq"): {"weights": [1.0] * k, "bias": 2.0, "diverged": False} for s in ("raw", "standardized")}
        records[("d", "raw", "manual_gd")] = {"weights": [np.nan] * k, "bias": 0.0, "diverged": True}
        save_figure(data_fit_figure(X, y, records, meta, max_points=100), tmp_path / f"f{k}.png", tmp_path / f"f{k}.svg")
        assert (tmp_path / f"f{k}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    history = pd.DataFrame({"iteration": [0, 1, 2], "loss": [3.0, 2.0, 1.5], "grad_norm": [1.0, 0.5, 0.2],
                            "w0": [0.0, 0.5, 0.7], "b": [0.0, 0.1, 0.2]})
    save_figure(loss_curves_figure({("d", "raw", "manual_gd"): history}, {"raw": 1.0}, "d"), tmp_path / "l.png",
                tmp_path / "l.svg")
    assert (tmp_path / "l.svg").stat().st_size > 0
    assert subsample_index(5, 10).tolist() == [0, 1, 2, 3, 4]


# ------------------------------------------------------------------------------ end to end

#: A small but complete workflow: one single-feature dataset (so surfaces and the slider explorer
#: are exercised), three methods, a tiny benchmark (with the CUDA job, skipped without CUDA) and
#: small lessons.
REPORT_TARGETS = ("results/report/index.html", "results/report/provenance.json")


def small_report_config(test_config: dict) -> dict:
    config = {
        "datasets": {"paris_rent": test_config["datasets"]["paris_rent"]},
        "fits": {
            "methods": ["manual_gd", "lstsq", "sklearn"],
            "overrides": [o for o in test_config["fits"]["overrides"] if o.get("dataset") == "paris_rent"],
            "variants": {},
            "predict": {"paris_rent": [[30], [90]]},
            "loss_surface": {"grid_size": 30},
        },
        "benchmark": {"sizes": [16, 32], "repeats": 2, "min_sample_s": 0.001, "backends": ["numpy", "torch_cuda"]},
        "lessons": {"binomial": {"n_tests": 2000, "loop_check_tests": 100, "long_test_questions": 500},
                    "minima": {"n_starts": 20, "max_iterations": 20000}},
        "report": {"slider_steps": 51},
    }
    return config


@pytest.fixture(scope="session")
def built_report(tmp_path_factory):
    """The small workflow run once up to the report; returns its working directory."""
    import yaml

    from conftest import TEST_CONFIG

    workdir = tmp_path_factory.mktemp("report")
    # Outside the working directory, so copies of it run with the very same command line.
    config = tmp_path_factory.mktemp("report-config") / "report-config.yaml"
    config.write_text(yaml.safe_dump(small_report_config(yaml.safe_load(TEST_CONFIG.read_text())), sort_keys=False))
    run_snakemake(workdir, *REPORT_TARGETS, configfile=config)
    (workdir / "config-path").write_text(str(config))
    return workdir


def report_config(workdir: Path) -> Path:
    """The config file the fixture's workflow ran with."""
    return Path((workdir / "config-path").read_text())


@pytest.mark.workflow
def test_page_holds_every_fit_as_computed(built_report):
    page = parse_page(built_report / "results/report/index.html")
    summary = pd.read_parquet(built_report / "results/fits/summary.parquet")
    assert len(page.rows) == len(summary) == 6
    for row in summary.to_dict("records"):
        key = (row["dataset"], row["scaling"], row["method"])
        cells = page.rows[key]
        for field in ("bias", "mse", "dist_to_lstsq", "rel_dist_to_lstsq", "dist_to_true", "seconds"):
            assert float(cells[field]) == row[field], (key, field)
        assert json.loads(cells["weights"]) == list(row["weights"])
        assert int(cells["iterations"]) == row["iterations"]
        assert cells["status"] == row["status"]  # the recorded status, not re-derived
        assert ("failed" in page.row_classes[key]) == (row["status"] in FAILED_STATUSES)
        assert ("unconverged" in page.row_classes[key]) == (row["status"] in ("stalled", "max_iterations"))
    lstsq_row = page.references[("paris_rent", "least squares (NumPy, float64)")]
    assert float(lstsq_row["bias"]) == summary["lstsq_bias"].iloc[0]
    truth = page.references[("paris_rent", "true parameters")]
    assert json.loads(truth["weights"]) == [32.0] and float(truth["bias"]) == 200.0
    # Exactly the fits reaching the lowest MSE are marked best.
    best = {k for k, classes in page.row_classes.items() if "best" in classes}
    lowest = summary["mse"].min()
    assert best == {(r.dataset, r.scaling, r.method) for r in summary.itertuples() if r.mse <= lowest * (1 + 1e-9)}
    assert ("paris_rent", "raw", "manual_gd") not in best  # the lesson's stuck raw descent
    # Predictions and the benchmark table carry their values too.
    # Predictions carry their values too, except those of failed fits (none are failed here).
    predictions = pd.read_parquet(built_report / "results/fits/predictions.parquet")
    shown = predictions[~predictions["status"].isin(FAILED_STATUSES)]
    assert sorted(float(r["prediction"]) for r in page.tables["predictions"]) == sorted(shown["prediction"])
    bench = pd.read_parquet(built_report / "results/benchmark/matmul.parquet")
    assert len(page.tables["benchmark"]) == len(bench)
    assert {r["status"] for r in page.tables["benchmark"]} == set(bench["status"])


@pytest.mark.workflow
def test_page_is_self_contained(built_report):
    html_path = built_report / "results/report/index.html"
    text = html_path.read_text(encoding="utf-8")
    page = parse_page(html_path)
    external = [u for u in page.urls if not (u.startswith("#") or u.startswith("data:"))]
    assert external == [], external
    assert all(src.startswith("data:image/png;base64,") for src in page.images) and len(page.images) >= 8
    assert [s.get("id") for s in page.scripts].count("plotly-js") == 1
    assert text.count("Plotly v") <= 2 and text.count("define(\"plotly\"") <= 1  # one copy of plotly.js
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
    for flagged in ("paris_rent_surface.png", "paris_rent_fits.png", "gradient_check.png", "index.html"):
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
    for line in lines[start + 3:]:
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
    assert _planned_rules(work, config) == {}

    def touch(relative: str) -> Path:  # newer than every output, as a rewritten result would be
        stamp = time.time() + 1
        os.utime(work / relative, (stamp, stamp))
        return work / relative

    # Rewritten with the same content (newer, same checksum): nothing to do.
    touch("results/lessons/minima.json")
    touch("results/fits/paris_rent/raw/manual_gd.json")
    assert _planned_rules(work, config) == {}

    # A lessons figure changes: only the page is rebuilt.
    figure = work / "results/lessons/minima.png"
    figure.write_bytes(figure.read_bytes() + b"\0")
    touch("results/lessons/minima.png")
    assert _planned_rules(work, config) == {"report_html": 1}

    # One fit's history changes: that dataset's figures and the page, not the check figures.
    path = work / "results/fits/paris_rent/standardized/manual_gd.history.parquet"
    history = pd.read_parquet(path)
    history.loc[history.index[-1], "loss"] *= 1.5
    history.to_parquet(path, index=False)
    touch("results/fits/paris_rent/standardized/manual_gd.history.parquet")
    planned = _planned_rules(work, config)
    assert planned == {"report_fit_figures": 1, "report_surface_figure": 1, "report_html": 1}, planned

    run_snakemake(work, *REPORT_TARGETS, configfile=config)
    assert _planned_rules(work, config) == {}
    # A changed report setting (a param) reruns the page, not the figures.
    changed = tmp_path / "changed.yaml"
    changed.write_text(config.read_text().replace("slider_steps: 51", "slider_steps: 41"))
    assert changed.read_text() != config.read_text()
    assert _planned_rules(work, changed) == {"report_html": 1}
