"""descent: a reproducible workflow for learning and benchmarking how linear models are fitted.

The package holds the workflow's logic as small, pure, typed functions; the Snakemake rule
scripts in ``scripts/`` only read their inputs, call into it and write their outputs.
"""

__version__ = "0.1.0"
