"""descent: fit linear models every which way, benchmark matmul, and report it all.

Entry point of the workflow. Each stage lives in its own rules file under rules/; shared
helpers (config validation, resource estimates, target lists) are in rules/common.smk.
Run `make report` (or `snakemake --workflow-profile profiles/default`), see README.md.
"""

from snakemake.utils import min_version

min_version("9.0")


configfile: "config.yaml"


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/datasets.smk"
include: "rules/fits.smk"
include: "rules/benchmark.smk"
include: "rules/lessons.smk"
include: "rules/report.smk"


rule all:
    default_target: True
    input:
        FINAL_TARGETS,
