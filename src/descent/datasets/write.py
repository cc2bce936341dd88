"""Drawing a generated dataset: in memory (:func:`generate`) or straight to parquet, one row group
at a time, without holding the data (:func:`write_generated`)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from descent.datafile import ROW_GROUP_BYTES
from descent.datasets.kinds import recipe
from descent.datasets.recipe import Dataset, Recipe, rows_frame
from descent.io import atomic_path
from descent.resources import generation_rows


def chunk_and_group_rows(made: Recipe, row_group_bytes: int | None = None) -> tuple[int, int]:
    """Rows drawn at a time and rows per written row group of a recipe
    (:func:`descent.resources.generation_rows`, groups of about
    :data:`descent.datafile.ROW_GROUP_BYTES`)."""

    return generation_rows(
        len(made.features), made.dtype.itemsize, ROW_GROUP_BYTES if row_group_bytes is None else row_group_bytes
    )


def generate(spec: dict[str, Any]) -> Dataset:
    """Generate the dataset a (schema-validated) spec describes, in memory: the rows of
    :func:`recipe`, drawn chunk by chunk as :func:`write_generated` writes them.

    Raises
    ------
    ValueError
        For an unknown ``kind`` or fewer than 2 rows.
    """
    made = recipe(spec)
    chunk_rows, _ = chunk_and_group_rows(made)
    parts = list(made.draw(chunk_rows))
    X = parts[0][0] if len(parts) == 1 else np.concatenate([X for X, _ in parts])
    y = parts[0][1] if len(parts) == 1 else np.concatenate([y for _, y in parts])
    del parts
    return Dataset(
        frame=rows_frame(X, y, made.features, made.target),
        features=made.features,
        target=made.target,
        true_weights=made.true_weights,
        true_bias=made.true_bias,
        seed=made.seed,
        generator=made.generator,
        spec=made.spec,
    )


def write_generated(
    spec: dict[str, Any], out: str | os.PathLike[str], name: str, row_group_bytes: int | None = None
) -> dict[str, Any]:
    """Generate the dataset ``spec`` describes straight to parquet at ``out`` (atomically, zstd,
    row groups of about ``row_group_bytes``, default :data:`descent.datafile.ROW_GROUP_BYTES`)
    and return its sidecar (:meth:`Recipe.metadata`). Rows are drawn a chunk at a time into one
    row group's column buffers, so memory holds one group and one chunk's float64 working copies,
    whatever ``n`` (:func:`descent.resources.generate_mem_mb`). The file reads back as the frame
    of :func:`generate` (same values, column names, order and dtypes, same pandas schema
    metadata) as written by :func:`descent.io.write_parquet`.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    made = recipe(spec)
    chunk_rows, group_rows = chunk_and_group_rows(made, row_group_bytes)
    columns = [*made.features, made.target]
    group_rows = min(group_rows, made.n)
    schema = pa.Schema.from_pandas(pd.DataFrame({c: np.empty(0, made.dtype) for c in columns}), preserve_index=False)
    buffer = np.empty((len(columns), group_rows), dtype=made.dtype)  # one row group, column by column
    filled = 0

    def flush(writer: Any) -> None:
        nonlocal filled
        if filled:
            arrays = [pa.array(buffer[j, :filled]) for j in range(len(columns))]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema), row_group_size=filled)
        filled = 0

    with atomic_path(out) as tmp, pq.ParquetWriter(tmp, schema, compression="zstd") as writer:
        for X, y in made.draw(chunk_rows):
            done = 0
            while done < len(y):  # (a chunk merged with a short tail may straddle two groups)
                take = min(len(y) - done, group_rows - filled)
                buffer[:-1, filled : filled + take] = X[done : done + take].T
                buffer[-1, filled : filled + take] = y[done : done + take]
                filled += take
                done += take
                if filled == group_rows:
                    flush(writer)
        flush(writer)
    return made.metadata(name)
