"""Helpers shared by the thin rule scripts in ``scripts/``: logging to the rule's log file."""

from __future__ import annotations

import logging
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def job_logging(log_path: str | None, name: str) -> Iterator[logging.Logger]:
    """Send this job's log records and Python warnings to ``log_path``; log any exception.

    The error's one-line message is also printed to the real stderr so the console names the
    problem even without ``--show-failed-logs``; the exception is re-raised so the job fails.
    """
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    handler: logging.Handler
    if log_path:
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log_path, mode="w")
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    try:
        yield logger
    except Exception as exc:
        logger.error("%s\n%s", exc, traceback.format_exc())
        print(f"descent error in {name}: {exc}", file=sys.__stderr__)
        raise
    finally:
        root.removeHandler(handler)
        handler.close()
