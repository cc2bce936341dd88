"""``kind: file`` datasets (a user's parquet or CSV table, true parameters unknown) and the
diabetes table the ``.test`` and default configs export as one."""

from __future__ import annotations

from typing import Any

import pandas as pd

from descent.datafile import stream_to_parquet
from descent.datasets.recipe import DIABETES_TARGET
from descent.io import atomic_path


def file_metadata(name: str, spec: dict[str, Any], facts: dict[str, Any]) -> dict[str, Any]:
    """The JSON sidecar of a ``kind: file`` dataset (same contract as :meth:`Dataset.metadata`):
    the true parameters and the seed are unknown (null); ``facts`` come from
    :func:`descent.datafile.stream_to_parquet` (``features``, ``target``, ``n``, ``dtype``,
    ``source``)."""
    return {
        "dataset": name,
        "features": list(facts["features"]),
        "target": facts["target"],
        "true_weights": None,
        "true_bias": None,
        "n": int(facts["n"]),
        "seed": None,
        "generator": "file",
        "dtype": facts["dtype"],
        "spec": dict(spec),
        "source": facts["source"],
    }


def from_file(name: str, spec: dict[str, Any], out_parquet: str, standardized: bool = False) -> dict[str, Any]:
    """Validate a ``kind: file`` dataset's table and stream it to ``out_parquet`` (features, then
    the target; row groups); returns its sidecar (:func:`file_metadata`). ``standardized``: refuse
    a constant column (the standardized scaling is configured). Errors name the file and column
    (:class:`descent.io.DataError`)."""

    return file_metadata(name, spec, stream_to_parquet(spec, out_parquet, name, standardized))


def diabetes_frame() -> pd.DataFrame:
    """scikit-learn's diabetes table (442 patients, Efron et al. 2004), shipped inside the pinned
    scikit-learn (no download), in its original units (``scaled=False``: age in years, sex 1/2,
    body-mass index, mean blood pressure, six blood serum measurements s1…s6) with the target,
    a quantitative measure of disease progression one year after baseline, as ``progression``."""
    from sklearn.datasets import load_diabetes

    frame = load_diabetes(as_frame=True, scaled=False).frame
    return frame.rename(columns={"target": DIABETES_TARGET}).astype("float64")


def export_diabetes(path: str) -> int:
    """Write :func:`diabetes_frame` to ``path`` as CSV (header, no index; atomically) and return
    its number of rows."""

    frame = diabetes_frame()
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)
    return len(frame)
