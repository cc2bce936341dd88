"""The report's words (descent.report.words): every step's prose is a Jinja2 template, rendered
strictly; a teacher's folder (config ``report.templates``) replaces any of them. Unit tests of the
renderer, then on the session run: every step template renders, an override replaces one step's
words and nothing else, an undefined name fails the build."""

from __future__ import annotations

import json
from pathlib import Path

import jinja2
import pytest
import yaml

from conftest import ROOT
from descent.config.sections import default_section
from descent.report.words import Words, builtin_folder, template_names

#: Blocks the ``.test`` run cannot reach, and why (every other block of every template renders).
UNREACHED_ON_TEST_RUN = {
    ("paris-closed-form.j2", "lesson"): "the .test config fits no lstsq_lesson",
    ("findings.j2", "skipped"): "the .test config asks for no fit a machine may skip (no GPU fits)",
    ("predictions.j2", "withheld"): "no fit of the .test run fails (the unit tests render it)",
    **{
        ("class-page.j2", block): "rendered by page.render_class_page (tests/test_report_class.py reads its header)"
        for block in ("title", "header", "full_link", "class_link", "footer")
    },
    ("class-paris.j2", "lstsq_question"): "the .test config fits no lstsq_lesson",
    ("class-paris.j2", "lstsq_answer"): "the .test config fits no lstsq_lesson",
    **{
        (
            "beyond-scale.j2",
            block,
        ): "the .test config has no sharded dataset or data-parallel fit (tests/test_shards.py)"
        for block in ("title", "text", "sharded", "parallel", "reduced")
    },
}


def _folder(tmp_path: Path, **templates: str) -> Path:
    folder = tmp_path / "words"
    folder.mkdir(parents=True)
    for name, text in templates.items():
        (folder / f"{name}.j2").write_text(text, encoding="utf-8")
    return folder


def test_words_render_paragraphs_lists_and_facts(tmp_path):
    folder = _folder(
        tmp_path,
        step=(
            "{% block text %}\n{{ n }} points,\n  {{ x|num(3) }} on average.\n{% endblock %}\n"
            "{% block list %}\n- {{ names|and_list }} agree\n  to {{ f|pct }}.\n{% if n > 1 %}\n- more{% endif %}\n"
            "{% endblock %}\n"
            "{% block facts %}\n- mean :: {{ x|num }}\n- w·x + b :: {{ v|vector(2) }}\n{% endblock %}\n"
        ),
    )
    words = Words(folder)
    facts = {"n": 3, "x": 3.14159, "names": ["a", "b", "c"], "f": 0.01234, "v": [1.234, 5e-9]}
    assert words.text("step", "text", facts) == "3 points, 3.14 on average."
    assert words.items("step", "list", facts) == ["a, b and c agree to 1.23 %.", "more"]
    assert words.facts("step", "facts", facts) == [("mean", "3.142"), ("w·x + b", "[1.2, 5e-9]")]  # 4 digits
    assert words.used == {("step.j2", "text"), ("step.j2", "list"), ("step.j2", "facts")}


def test_words_are_strict_and_name_the_template(tmp_path):
    folder = _folder(tmp_path, step="{% block text %}{{ missing }} here{% endblock %}")
    words = Words(folder)
    with pytest.raises(jinja2.UndefinedError, match=r"step\.j2.*block 'text'.*'missing' is undefined"):
        words.text("step", "text", {})
    with pytest.raises(KeyError, match=r"step\.j2: no block 'caption'"):
        words.text("step", "caption", {})
    with pytest.raises(jinja2.TemplateNotFound):
        words.text("no-such-step", "text", {})
    with pytest.raises(FileNotFoundError, match="report.templates"):
        Words(tmp_path / "absent")


def test_every_builtin_template_parses_and_names_its_facts():
    """Each built-in step template parses, has blocks, and says in its opening comment what it shows."""
    env = Words().env
    names = template_names()
    assert len(names) >= 11
    for name in names:
        text = (builtin_folder() / name).read_text(encoding="utf-8")
        assert text.startswith("{#"), name
        assert env.get_template(name).blocks, name


# ------------------------------------------------------------------------------ on the session run


def _parts(run: Path, templates: Path | None = None):
    """The page's parts built from the run's results with the default report options (a
    teacher's folder when given), and the words used."""
    from descent.report.claims import evaluate_claims, load_claims
    from descent.report.classpage import build_class_parts
    from descent.report.outline import build_parts
    from descent.report.results import from_directory

    config = yaml.safe_load(Path((run / "config-path").read_text()).read_text())
    main = yaml.safe_load((ROOT / "config.yaml").read_text())
    words = Words(templates)
    results = from_directory(run / "results", {"datasets": {**main["datasets"], **config["datasets"]}}, words=words)
    options = default_section(ROOT / "schemas", "report", templates=str(templates) if templates else None)
    claims = evaluate_claims(results, load_claims())
    parts = build_parts(results, claims, options, words=words)
    build_class_parts(results, claims, options, words=words)  # the class page's words too
    sections = {s.id: s for p in parts for s in p.sections}
    return sections, words


def _texts(section) -> list[str]:
    return [b["text"] for b in section.blocks if b["kind"] == "p"]


@pytest.mark.workflow
def test_every_step_template_renders_on_the_test_run(built_report):
    """Strict rendering of every block of every built-in template on the ``.test`` run's results
    (apart from :data:`UNREACHED_ON_TEST_RUN`): no undefined name, and no template left unused."""
    sections, words = _parts(built_report)
    env = words.env
    every = {(name, block) for name in template_names() for block in env.get_template(name).blocks}
    assert every - words.used == set(UNREACHED_ON_TEST_RUN), sorted(every - words.used)
    steps = {name.removesuffix(".j2") for name, _ in words.used if name.startswith(("paris-", "lesson0-"))}
    assert steps <= set(sections)


@pytest.mark.workflow
def test_a_teachers_folder_replaces_one_steps_words(built_report, tmp_path):
    builtin, _ = _parts(built_report)
    original = (builtin_folder() / "paris-data.j2").read_text(encoding="utf-8")
    french = original.replace(
        "{{ n }} apartments, generated as the lesson does",
        "{{ n }} appartements, tirés comme dans la leçon",
    )
    assert french != original
    folder = _folder(tmp_path, **{"paris-data": french})
    overridden, words = _parts(built_report, folder)
    assert ("paris-data.j2", "text") in words.used
    n = json.loads((built_report / "results/datasets/paris_rent.json").read_text())["n"]
    assert _texts(overridden["paris-data"])[0].startswith(f"{n} appartements, tirés")
    assert _texts(overridden["paris-data"])[1:] == _texts(builtin["paris-data"])[1:]
    for sid in builtin.keys() - {"paris-data"}:  # every other step keeps the built-in words
        assert _texts(overridden[sid]) == _texts(builtin[sid]), sid

    # An override naming a fact the step does not have fails the build, naming its file.
    broken = _folder(tmp_path / "broken", **{"paris-data": original.replace("{{ seed }}", "{{ graine }}")})
    with pytest.raises(jinja2.UndefinedError, match=r"paris-data\.j2.*'graine' is undefined"):
        _parts(built_report, broken)
