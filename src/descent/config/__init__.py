"""The configuration: its error type (here, light: every stage imports it while Snakemake
parses), the schemas (:mod:`.schema`), the typed sections (:mod:`.sections`) and the fits'
settings (:mod:`.fits`).

The whole config is validated by :func:`descent.validation.validate_config` (schemas, then every
stage's relations between fields), which sits above the stages whose checks it runs.
"""

from __future__ import annotations


class ConfigError(ValueError):
    """The configuration is invalid; the message lists each bad field by its dotted path."""
