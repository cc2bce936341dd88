"""Open by design: a method is one file, built in or the user's own (``fits.plugins``), owning its
options; the schema follows the registry; the package's imports go one way.

The README's two plugin examples are extracted from it and run through the workflow.
"""

from __future__ import annotations

import ast
import copy
import json
import re
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import ROOT, TEST_CONFIG, run_snakemake
from descent.config import ConfigError
from descent.fitting.registry import PluginError, get_method, methods, use_plugins
from descent.validation import validate_config

SRC = ROOT / "src"


@pytest.fixture(autouse=True)
def no_plugins_after():
    """Each test leaves the process's registry with the built-in methods only."""
    yield
    use_plugins([])


def readme_plugins() -> dict[str, str]:
    """The README's plugin examples: ``<!-- plugin: path -->`` followed by a python block."""
    text = (ROOT / "README.md").read_text()
    found = dict(re.findall(r"<!-- plugin: (\S+) -->\n```python\n(.*?)```", text, flags=re.S))
    assert set(found) == {"plugins/ridge.py", "plugins/backtracking_gd.py"}, sorted(found)
    return found


def write_plugins(directory: Path) -> None:
    for path, code in readme_plugins().items():
        (directory / path).parent.mkdir(parents=True, exist_ok=True)
        (directory / path).write_text(code)


# ----------------------------------------------------------------------------- import layers


def import_graph() -> dict[str, set[str]]:
    """Module → the package modules it imports (every import, in functions and TYPE_CHECKING
    blocks too), from the source (ast; nothing is imported)."""
    modules = {}
    for path in SRC.rglob("*.py"):
        name = ".".join(path.relative_to(SRC).with_suffix("").parts)
        modules[name.removesuffix(".__init__")] = path

    def resolve(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*parts, base] if base else parts)
                targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
            for target in targets:
                resolved = resolve(target) if target.split(".")[0] == "descent" else None
                if resolved and resolved != name:
                    graph[name].add(resolved)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph``, or None (depth-first search)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for child in sorted(graph[node]):
            if state.get(child) == 1:
                return stack[stack.index(child) :] + [child]
            if child not in state and (cycle := visit(child)):
                return cycle
        state[node] = 2
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_the_package_imports_go_one_way():
    graph = import_graph()
    assert len(graph) > 100 and "descent.fitting.registry" in graph["descent.config.fits"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_an_import_of_the_package_inside_a_function_says_why():
    """Inside a function only where Snakemake's parse time needs it, with a one-line why (a
    comment on the import's line or just above its block of imports)."""
    unexplained = []
    for path in SRC.rglob("*.py"):
        lines = path.read_text().splitlines()
        for node in ast.walk(ast.parse("\n".join(lines))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for sub in ast.walk(node):
                if isinstance(sub, ast.ImportFrom) and (sub.module or "").split(".")[0] == "descent":
                    here, row = lines[sub.lineno - 1], sub.lineno - 2
                    while lines[row].strip().startswith(("from ", "import ")):  # a block of imports
                        row -= 1
                    if "#" not in here and not lines[row].strip().startswith("#"):
                        unexplained.append(f"{path.relative_to(SRC)}:{sub.lineno}: {here.strip()}")
    assert not unexplained, unexplained


def test_the_cycle_finder_finds_a_cycle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_fitting_is_below_config_and_the_stages():
    graph = import_graph()
    for name, imported in graph.items():
        if name.startswith(("descent.fitting", "descent.datasets")):
            above = [m for m in imported if m.startswith(("descent.config", "descent.report", "descent.lessons"))]
            assert not above, f"{name} imports {above}"


# ----------------------------------------------------------------------------- methods and options


def test_no_method_name_is_branched_on_outside_its_module():
    names = "|".join(sorted(methods(), key=len, reverse=True))
    pattern = re.compile(rf"""(==|!=|\bin)\s*\(?\s*["']({names})["']""")
    allowed = ("descent/fitting/methods/", "descent/report/", "descent/perf/")  # the lessons' story, bench
    offenders = [
        f"{path.relative_to(SRC)}:{number}: {line.strip()}"
        for path in SRC.rglob("*.py")
        if not any(part in str(path) for part in allowed)
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders, offenders


def test_a_method_owns_its_options_and_their_defaults():
    lbfgs = get_method("lbfgs")
    settings = lbfgs.settings({**get_method("manual_gd").settings(_shared()).as_dict(), "method": "lbfgs"})
    assert settings.options == {"lbfgs_history": 10}
    assert "lbfgs_history" not in get_method("manual_gd").settings(_shared()).as_dict()
    with pytest.raises(
        ValueError, match=r"settings.lbfgs_historie: not an option of method lbfgs \(its options: lbfgs_history\)"
    ):
        lbfgs.settings({**_shared(), "method": "lbfgs", "lbfgs_historie": 3})
    with pytest.raises(ValueError, match=r"settings.lbfgs_history: 0 is less than the minimum of 1"):
        lbfgs.settings({**_shared(), "method": "lbfgs", "lbfgs_history": 0})


def _shared() -> dict:
    from descent.config.fits import default_fit_settings

    return default_fit_settings(ROOT / "schemas", "manual_gd").as_dict()


def _test_config() -> dict:
    return yaml.safe_load(TEST_CONFIG.read_text())


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda f: f["variants"]["minibatch_gd"]["settings"].update(lbfgs_history=3),
            "fits.variants.minibatch_gd.settings.lbfgs_history: unknown setting for method(s) manual_gd "
            "(it is an option of lbfgs; their options: manual_gd: none;",
        ),
        (
            lambda f: f["overrides"].append({"method": "lbfgs", "set": {"lbfgs_historie": 3}}),
            "fits.overrides[4].set.lbfgs_historie: unknown setting for method(s) lbfgs (their options: lbfgs: lbfgs_history;",
        ),
        (
            lambda f: f["overrides"].append({"method": "lbfgs", "set": {"lbfgs_history": "ten"}}),
            "fits.overrides.4.set.lbfgs_history: 'ten' is not of type 'integer'",
        ),
        (
            lambda f: f.update(settings={"momentum": 1.5}),
            "fits.settings.momentum: 1.5 is greater than or equal to the maximum of 1",
        ),
        (
            lambda f: f.update(methods=["manual_gd", "adam"], settings={"lr": "optimal"}),
            "method adam).lr: 'optimal', but method adam has no theory-optimal step",
        ),
    ],
    ids=["another-methods-option", "misspelt-option", "mistyped-option", "out-of-bounds", "no-optimal-step"],
)
def test_bad_options_are_refused_naming_method_option_and_allowed(mutate, expected):
    config = _test_config()
    mutate(config["fits"])
    with pytest.raises(ConfigError) as info:
        validate_config(config, ROOT / "schemas")
    assert expected in str(info.value), str(info.value)


def test_a_number_yaml_reads_as_text_says_how_to_write_it():
    config = _test_config()
    config["fits"]["accuracy_targets"] = yaml.safe_load("[1e-6]")
    assert config["fits"]["accuracy_targets"] == ["1e-6"]  # YAML 1.1: no dot, no float
    with pytest.raises(ConfigError, match=r"YAML read 1e-6 as text, not a number .*write 1\.0e-6"):
        validate_config(config, ROOT / "schemas")


# ----------------------------------------------------------------------------- plugins


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"p/bad.py": "import nonexistent_module_xyz\n"}, "p/bad.py: cannot be imported: ModuleNotFoundError"),
        ({"p/none.py": "X = 1\n"}, "p/none.py: declares no method"),
        (
            {"p/clash.py": "from descent.fitting.methods.lstsq import METHOD\n"},
            "p/clash.py: method name 'lstsq' clashes with the built-in method",
        ),
        (
            {
                "p/untyped.py": (
                    "from descent.fitting.method import Method, Option\n"
                    "from descent.fitting.methods.sklearn import solve\n"
                    "METHOD = Method(name='x', kind='closed_form', description='d', colour='#000001',\n"
                    "    options={'alpha': Option(None, 1.0, 'penalty')}, solve=solve)\n"
                )
            },
            "p/untyped.py: cannot be imported: TypeError: an option's type must be one of",
        ),
        ({"p/README.txt": "not a module\n"}, "fits.plugins: p: a folder with no method module"),
        ({}, "fits.plugins: p: no such file or folder"),
    ],
    ids=["import-error", "no-method", "name-clash", "option-without-type", "empty-folder", "missing"],
)
def test_a_broken_plugin_is_refused_before_any_job_naming_the_file(tmp_path, monkeypatch, files, expected):
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    config = _test_config()
    config["fits"]["plugins"] = ["p"]
    with pytest.raises(ConfigError) as info:
        validate_config(config, ROOT / "schemas")
    assert expected in str(info.value), str(info.value)


def test_two_plugins_with_one_name_clash(tmp_path):
    write_plugins(tmp_path)
    (tmp_path / "plugins/copy.py").write_text((tmp_path / "plugins/ridge.py").read_text())
    with pytest.raises(PluginError, match="method name 'ridge' clashes with the plugin"):
        use_plugins(["plugins"], tmp_path)


def test_the_ridge_plugin_matches_scikit_learn(tmp_path):
    from sklearn.linear_model import Ridge

    from descent.fitting.records import fit

    write_plugins(tmp_path)
    use_plugins(["plugins"], tmp_path)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 4)) * [1.0, 10.0, 0.1, 3.0] + [5.0, -2.0, 0.0, 40.0]
    y = X @ [0.5, -1.0, 3.0, 0.2] + 7.0 + rng.normal(size=300)
    for alpha in (0.0, 0.5, 30.0):
        settings = get_method("ridge").settings({**_shared(), "method": "ridge", "ridge_alpha": alpha})
        outcome, w, b = fit(X, y, "raw", settings)
        reference = Ridge(alpha=alpha, solver="svd").fit(X, y)
        np.testing.assert_allclose(w, reference.coef_, rtol=1e-10)
        assert b == pytest.approx(reference.intercept_, rel=1e-10)
        assert outcome.status == "closed_form"


@pytest.mark.workflow
def test_the_readme_plugins_run_through_the_workflow_and_rerun_when_edited(tmp_path):
    write_plugins(tmp_path)
    config = _test_config()
    config["datasets"] = {name: config["datasets"][name] for name in ("lesson_linear", "multifeature")}
    config["fits"] = {
        "plugins": ["plugins"],
        "methods": ["manual_gd", "lstsq", "ridge", "backtracking_gd"],
        "settings": {"iterations": 300, "tolerance": 1.0e-8, "stop_early": True},
        "overrides": [{"method": "ridge", "why": "a visible penalty", "set": {"ridge_alpha": 5.0}}],
        "variants": {"ridge_strong": {"method": "ridge", "settings": {"ridge_alpha": 500.0}}},
        # no "predict": a config without predictions builds the report too
    }
    config["report"] = {"benchmark": False, "lessons": False, "interactive": False}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    run_snakemake(tmp_path, configfile=path)
    fits = tmp_path / "results/fits"
    for dataset in ("lesson_linear", "multifeature"):
        for scaling in ("raw", "standardized"):
            ridge = json.loads((fits / dataset / scaling / "ridge.json").read_text())
            strong = json.loads((fits / dataset / scaling / "ridge_strong.json").read_text())
            assert ridge["settings"]["ridge_alpha"] == 5.0 and strong["settings"]["ridge_alpha"] == 500.0
            assert ridge["status"] == strong["status"] == "closed_form"
            assert "lr" in ridge["settings"] and "lstsq_solver" not in ridge["settings"]
            line = json.loads((fits / dataset / scaling / "backtracking_gd.json").read_text())
            assert line["status"] in ("converged", "max_iterations", "stalled"), line["status"]
            assert line["settings"]["shrink"] == 0.5
    # The standardized line search reaches least squares on well-conditioned data.
    line = json.loads((fits / "lesson_linear/standardized/backtracking_gd.json").read_text())
    lstsq = json.loads((fits / "lesson_linear/standardized/lstsq.json").read_text())
    assert line["status"] == "converged"
    np.testing.assert_allclose(line["weights"] + [line["bias"]], lstsq["weights"] + [lstsq["bias"]], rtol=1e-5)
    # In every table and the report: the summary has both, the page names both with their colour.
    import pandas as pd

    summary = pd.read_parquet(fits / "summary.parquet")
    assert {"ridge", "ridge_strong", "backtracking_gd"} <= set(summary["method"])
    page = (tmp_path / "results/report/index.html").read_text()
    assert "backtracking_gd" in page and "ridge_strong" in page
    # A plugin is an input of the fits of its method: editing it reruns exactly them.
    plugin = tmp_path / "plugins/ridge.py"
    plugin.write_text(plugin.read_text() + "\n# edited\n")
    dry = run_snakemake(tmp_path, "-n", configfile=path).stdout
    assert set(re.findall(r"method=(\w+)", dry)) == {"ridge", "ridge_strong"}, dry


def test_default_config_resolves_only_each_methods_own_options():
    from descent.config.fits import fit_jobs, fit_settings

    config = copy.deepcopy(yaml.safe_load((ROOT / "config.yaml").read_text()))
    validate_config(config, ROOT / "schemas")
    for job in fit_jobs(config):
        settings = fit_settings(config, job)
        assert set(settings.options) == set(get_method(settings.method).options), job
