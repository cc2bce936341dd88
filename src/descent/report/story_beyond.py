"""Beyond the lessons: the datasets the lessons do not use (in config order), and the matmul
benchmark beyond the lesson's loop (BLAS, torch on CPU and GPU, fraction of peak).

Both are registered in :data:`descent.report.sections.BEYOND` with
:func:`descent.report.sections.beyond_section`; sections added later (conditioning and time to
accuracy, more optimizers, your own data) register the same way, in a module imported by
:func:`descent.report.outline.build_parts`.
"""

from __future__ import annotations

from descent.report import blocks
from descent.report.findings import benchmark_facts
from descent.report.sections import Section, Story, beyond_section
from descent.report.storykit import LESSON_DATASETS, dataset_sections_blocks, figure_block
from descent.report.tables import BENCHMARK_COLUMNS


@beyond_section
def other_datasets(story: Story) -> list[Section]:
    """One section per dataset the lessons do not use, in the order the configuration lists them."""
    r = story.results
    return [
        Section(
            f"beyond-dataset-{name}",
            story.words.text("beyond-dataset", "title", {"dataset": name}),
            dataset_sections_blocks(story, name),
        )
        for name in r.dataset_order
        if name not in LESSON_DATASETS and r.has_fits(name)
    ]


@beyond_section
def matmul_beyond(story: Story) -> Section | None:
    """Every backend of the matmul benchmark, with the machine's peak and the benchmark's notes."""
    r = story.results
    if r.benchmark is None:
        return None
    table = r.benchmark
    columns = [c for c in BENCHMARK_COLUMNS if c in table.columns]
    if "compute_dtype" in table.columns and "compute_dtype" not in columns:
        columns.insert(columns.index("dtype") + 1, "compute_dtype")
    sidecar = r.benchmark_sidecar or {}
    words, sid = story.words, "beyond-matmul"
    facts = benchmark_facts(table, sidecar)
    return Section(
        sid,
        words.text(sid, "title", facts),
        [
            blocks.paragraph(words.text(sid, "text", facts)),
            blocks.bullets(words.items(sid, "findings", facts)),
            *figure_block(
                story, "matmul_gflops", words.text(sid, "figure_alt", facts), words.text(sid, "figure_caption", facts)
            ),
            blocks.table(
                table.to_dict("records"),
                columns,
                "benchmark",
                {
                    "seconds_median": "median s",
                    "fraction_of_peak": "fraction of peak",
                    "peak_gflops": "peak GFLOP/s",
                    "max_abs_error": "max |error|",
                    "compute_dtype": "computed in",
                },
            ),
            blocks.details(
                words.text(sid, "details", facts),
                {"peak": sidecar.get("peak"), "machine": sidecar.get("machine")},
            ),
        ],
    )
