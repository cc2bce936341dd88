"""descent: fit linear models every which way, benchmark matmul, and report it all.

Entry point of the workflow. Each stage lives in its own rules file under rules/; shared
helpers (config validation, resource estimates, paths, `get_final_output`) are in rules/common.smk.
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
        get_final_output(),


# The software environment of every rule (`snakemake --sdm conda`), named once here. Snakemake's
# top-level `conda:` directive is not used: it injects the environment into Snakemake's own
# process at parse time (where it must match Snakemake's Python version), while jobs' scripts keep
# running with Snakemake's interpreter, and `snakemake --lint` asks for an environment per rule.
SOFTWARE_ENV = workflow.current_basedir.join("envs/descent.yaml")
for workflow_rule in workflow.rules:
    if not workflow_rule.norun:
        workflow_rule.conda_env = SOFTWARE_ENV
