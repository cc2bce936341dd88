"""The report's words: every sentence of a lesson step is a Jinja2 template, filled with that
step's facts.

Each step of the story has one template file, ``templates/steps/{step}.j2`` (``step`` is the
section id, e.g. ``paris-data``), holding its prose as named Jinja2 blocks
(``{% block text %}…{% endblock %}``). The step's Python function computes the facts (a plain
dict of numbers and names) and asks for each block by name; it never writes a sentence.

* :meth:`Words.text` renders a block as one paragraph (whitespace collapsed, so a template
  may wrap its lines freely);
* :meth:`Words.items` renders a block as a list: each item starts with ``- `` at the start of
  a line (continuation lines are joined);
* :meth:`Words.facts` renders a block as a definition list: items ``- term :: value``.

Every template also reads ``page``, the page it is rendered for (``"full"`` or ``"class"``,
:data:`PAGES`). Rendering is strict (:class:`jinja2.StrictUndefined`): a name the facts do not hold fails the
build, naming the template. A teacher's folder (config ``report.templates``) comes first in the
search path: any ``{step}.j2`` found there replaces the built-in one.

Filters for numbers: ``num`` (:func:`descent.report.formatting.format_number`, ``num(4)`` for 4
significant digits), ``vector`` (:func:`descent.report.formatting.format_vector`), ``pct``
(a fraction as a percentage: ``pct(4)`` for 4 significant digits, 3 by default), ``thousands`` (an integer with commas),
``and_list`` (``a``, ``a and b``, ``a, b and c``), ``short`` (3 significant digits, ``∞`` when
not finite), ``rate`` (a contraction rate: 7 digits near 1), ``g`` (``'%g'``, as accuracy
targets are written), ``shape`` (an array's shape as NumPy prints it).
The same environment renders the claims' ``measured`` sentences (:mod:`descent.report.claims`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from descent.report.formatting import format_general, format_number, format_rate, format_short, format_vector

#: The built-in step templates, inside the package (``descent/report/templates/steps``).
PACKAGE_FOLDER = "templates/steps"
SUFFIX = ".j2"
_ITEM = "- "
_TERM = " :: "


def percent(fraction: Any, digits: int = 3) -> str:
    """A fraction as a percentage for reading.

    >>> percent(0.0123), percent(1.0, 4)
    ('1.23 %', '100 %')
    """
    return f"{format_number(100 * float(fraction), digits)} %"


def and_list(names: Iterable[Any]) -> str:
    """Names joined for a sentence.

    >>> and_list(["a"]), and_list(["a", "b"]), and_list(["a", "b", "c"])
    ('a', 'a and b', 'a, b and c')
    """
    names = [str(n) for n in names]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def shape(dims: Iterable[Any]) -> str:
    """An array's shape as NumPy prints it.

    >>> shape([100, 1]), shape([3])
    ('(100, 1)', '(3,)')
    """
    return str(tuple(int(d) for d in dims))


def builtin_folder() -> Path:
    """The folder of the built-in step templates (what a teacher copies to start an override)."""
    return Path(__file__).resolve().parent / PACKAGE_FOLDER


def template_names(folder: str | os.PathLike[str] | None = None) -> list[str]:
    """The step template files of ``folder`` (default: the built-in ones), sorted."""
    root = Path(folder) if folder is not None else builtin_folder()
    return sorted(p.name for p in root.glob(f"*{SUFFIX}"))


@lru_cache(maxsize=8)
def environment(override: str | None = None) -> jinja2.Environment:
    """The strict text environment of the step templates: ``override`` (a folder) first, then
    the package's own."""
    loaders: list[jinja2.BaseLoader] = []
    if override:
        if not Path(override).is_dir():
            raise FileNotFoundError(f"report.templates: {override!r} is not a folder")
        loaders.append(jinja2.FileSystemLoader(override))
    loaders.append(jinja2.PackageLoader("descent.report", PACKAGE_FOLDER))
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(loaders),
        autoescape=False,  # plain text: the page template escapes it
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = format_number
    env.filters["vector"] = format_vector
    env.filters["pct"] = percent
    env.filters["thousands"] = lambda n: f"{int(n):,}"
    env.filters["and_list"] = and_list
    env.filters["shape"] = shape
    env.filters["short"] = format_short
    env.filters["rate"] = format_rate
    env.filters["g"] = format_general
    return env


def render_string(source: str, facts: Mapping[str, Any], where: str) -> str:
    """A template given as text (a claim's ``measured`` sentence) rendered strictly with
    ``facts``, whitespace collapsed; ``where`` names it in errors."""
    try:
        text = environment().from_string(source).render(dict(facts))
    except jinja2.TemplateError as error:
        raise type(error)(f"{where}: {error}") from error
    return " ".join(text.split())


#: The pages the words are rendered for: the full report and the class page (the name ``page``
#: every template can read, e.g. to refer to a part only the full page has).
PAGES: tuple[str, ...] = ("full", "class")


class Words:
    """Renders the blocks of the step templates (``override``: a teacher's folder or ``None``)
    for ``page`` (one of :data:`PAGES`, given to every template as ``page``). ``used`` records
    every ``(template, block)`` rendered (tests check all are reachable)."""

    def __init__(self, override: str | os.PathLike[str] | None = None, page: str = "full") -> None:
        if page not in PAGES:
            raise ValueError(f"report words: page {page!r} is not one of {PAGES}")
        self.env = environment(str(override) if override else None)
        self.page = page
        self.used: set[tuple[str, str]] = set()

    def render(self, step: str, block: str, facts: Mapping[str, Any]) -> str:
        """Block ``block`` of ``{step}.j2`` rendered with ``facts``, as written."""
        name = step + SUFFIX
        template = self.env.get_template(name)
        if block not in template.blocks:
            raise KeyError(f"report template {template.filename}: no block {block!r} (has {sorted(template.blocks)})")
        try:
            text = "".join(template.blocks[block](template.new_context({"page": self.page, **facts})))
        except jinja2.UndefinedError as error:
            raise jinja2.UndefinedError(f"report template {template.filename}, block {block!r}: {error}") from error
        self.used.add((name, block))
        return text

    def text(self, step: str, block: str, facts: Mapping[str, Any]) -> str:
        """One paragraph: the block with its whitespace collapsed."""
        return " ".join(self.render(step, block, facts).split())

    def items(self, step: str, block: str, facts: Mapping[str, Any]) -> list[str]:
        """A list: one entry per item (a line starting with ``- ``; following lines continue it)."""
        out: list[list[str]] = []
        for line in self.render(step, block, facts).splitlines():
            stripped = line.strip()
            if stripped.startswith(_ITEM):
                out.append([stripped[len(_ITEM) :]])
            elif stripped and out:
                out[-1].append(stripped)
            elif stripped:
                raise ValueError(f"report template {step}{SUFFIX}, block {block!r}: text before the first '- ' item")
        return [" ".join(" ".join(parts).split()) for parts in out]

    def facts(self, step: str, block: str, facts: Mapping[str, Any]) -> list[tuple[str, str]]:
        """A definition list: items ``- term :: value``."""
        pairs = []
        for item in self.items(step, block, facts):
            term, sep, value = item.partition(_TERM.strip())
            if not sep:
                raise ValueError(f"report template {step}{SUFFIX}, block {block!r}: item {item!r} has no ' :: '")
            pairs.append((term.strip(), value.strip()))
        return pairs
