"""The docs: the configuration reference is generated from the schemas and committed up to date;
the README stays short; every link between the pages leads to a file."""

from __future__ import annotations

import re
import shutil

import yaml

from conftest import ROOT
from descent.config.reference import builtin_methods, reference_markdown

SCHEMAS = ROOT / "schemas"
PAGES = [ROOT / "README.md", ROOT / "config" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_the_committed_configuration_reference_is_up_to_date():
    committed = (ROOT / "docs" / "configuration.md").read_text()
    assert committed == reference_markdown(SCHEMAS), "docs/configuration.md is stale: run `make docs`"


def test_the_reference_follows_the_schemas(tmp_path):
    """A description edited in a schema changes the page (the test above can fail)."""
    schemas = shutil.copytree(SCHEMAS, tmp_path / "schemas")
    report = yaml.safe_load((schemas / "report.schema.yaml").read_text())
    report["properties"]["dpi"]["description"] = "Dots per inch, reworded."
    (schemas / "report.schema.yaml").write_text(yaml.safe_dump(report))
    page = reference_markdown(schemas)
    assert page != reference_markdown(SCHEMAS)
    assert "| `report.dpi` | integer | `110` | ≥ 50, ≤ 300 | Dots per inch, reworded. |" in page


def test_the_reference_lists_every_field_of_the_default_config_and_every_method_option():
    page = reference_markdown(SCHEMAS)
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    for section in ("fits", "lessons", "benchmark", "report"):
        for key in config.get(section, {}):
            assert f"`{section}.{key}`" in page, f"{section}.{key} is not in the reference"
    for method in builtin_methods().values():
        for option in method.options:
            assert f"| `{method.name}` | {method.kind} | `{option}` |" in page


def test_the_readme_is_short_and_every_link_leads_to_a_file():
    assert len((ROOT / "README.md").read_text().splitlines()) <= 200
    for page in PAGES:
        for target in re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", page.read_text()):
            if target.startswith(("http://", "https://")):
                continue
            assert (page.parent / target).exists(), f"{page.relative_to(ROOT)}: link to {target} leads nowhere"


def test_a_public_workflow_carries_its_license_and_catalog_file():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    catalog = yaml.safe_load((ROOT / ".snakemake-workflow-catalog.yml").read_text())
    assert set(catalog["usage"]) == {"mandatory-flags", "software-stack-deployment", "report"}
