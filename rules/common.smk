"""Helpers shared by every rules file: package import path, config validation, resources."""

import os
import sys

from snakemake.utils import validate

# The workflow's logic lives in the descent package under src/. Make it importable both here
# (parse time) and in every job's Python (PYTHONPATH is inherited by local and cluster jobs, and
# works inside conda environments created from envs/*.yaml, which do not install the package).
DESCENT_SRC = os.path.join(workflow.basedir, "src")
if DESCENT_SRC not in sys.path:
    sys.path.insert(0, DESCENT_SRC)
os.environ.update(
    PYTHONPATH=os.pathsep.join(p for p in (DESCENT_SRC, os.environ.get("PYTHONPATH", "")) if p)
)

from descent.config import check_config, feature_names

# Fails before any job runs, naming the field (schema defaults are filled in here).
validate(config, "../schemas/config.schema.yaml")
check_config(config)

DATASETS = sorted(config["datasets"])

# Every stage appends the files `rule all` should build; the Snakefile's `rule all` takes them.
FINAL_TARGETS = []


wildcard_constraints:
    dataset="|".join(DATASETS) if DATASETS else "(?!)",


def dataset_bytes(name):
    """Bytes of one dataset's feature matrix plus target, at its stored dtype."""
    spec = config["datasets"][name]
    itemsize = 8 if spec.get("dtype", "float64") == "float64" and spec["kind"] != "torch_uniform" else 4
    return int(spec["n"]) * (len(feature_names(spec)) + 1) * itemsize


def dataset_mem_mb(wildcards, attempt=1):
    """Memory to request for a job holding one dataset: a few copies of it plus the
    interpreter and libraries (~600 MB with torch), doubled on each retry."""
    copies = 6  # data, float64 working copy, standardized copy, predictions/residuals, slack
    return int((600 + copies * dataset_bytes(wildcards.dataset) / 2**20) * attempt)
