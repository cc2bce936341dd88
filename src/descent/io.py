"""Reading and writing results: atomic writes and validated dataset loading.

Every writer goes through a temporary file in the destination directory followed by
``os.replace``, so an interrupted job never leaves a half-written file under the final name.
"""

from __future__ import annotations

import json
import math
import os
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from descent.resources import check_memory

if TYPE_CHECKING:
    import pandas as pd  # only write_parquet's argument: jobs that write no frame skip the import


class DataError(ValueError):
    """A dataset file is unreadable or its content is unfit for fitting; the message names the file."""


#: A dataset's data: one parquet file, or the shard files of a sharded dataset in order (as a
#: Snakemake rule's input gives them: a string for one file, a list for several).
DataFiles = str | os.PathLike[str] | Sequence[str | os.PathLike[str]]


def describe_files(parquet: DataFiles) -> str:
    """A dataset's data for a message: its file, or its shards' folder and count."""
    files = data_files(parquet)
    if len(files) == 1:
        return str(files[0])
    return f"{files[0].parent}/ ({len(files)} shards, {files[0].name} to {files[-1].name})"


def data_files(parquet: DataFiles) -> list[Path]:
    """The files of a dataset's data, in order: ``[parquet]`` for one file."""
    if isinstance(parquet, (str, os.PathLike)):
        return [Path(parquet)]
    return [Path(p) for p in parquet]


def _new_temp_file(final: Path) -> Path:
    """Create a new, empty hidden file beside ``final`` (``.<name>.<random>.tmp``) and return it.

    Created with mode 0o666 like any file ``open()`` creates, so the kernel applies the process
    umask (and a directory's default ACL): results get the usual permissions, not the 0o600 of
    ``tempfile.mkstemp``, without reading or changing the umask (``os.umask`` sets it
    process-wide, racing with other threads). ``O_EXCL`` makes the name ours alone.
    """
    for _ in range(100):
        tmp = final.with_name(f".{final.name}.{secrets.token_hex(8)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"no free temporary name beside {final}")


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    On an exception the temporary file is removed and ``path`` is left untouched. The file gets
    the permissions a plain ``open()`` would give it (0o666 less the umask).
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_temp_file(final)
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def to_jsonable(value: Any) -> Any:
    """Convert NumPy scalars/arrays and non-finite floats to strict-JSON values (NaN/inf → None)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, (np.generic, np.ndarray, Path)):
        return to_jsonable(_json_default(value))
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def write_json(path: str | os.PathLike[str], data: dict[str, Any]) -> None:
    """Write ``data`` as indented, key-sorted strict JSON, atomically."""
    text = json.dumps(to_jsonable(data), indent=2, sort_keys=True, allow_nan=False) + "\n"
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def read_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a JSON object, with an error naming the file if it is not valid JSON."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: cannot read JSON ({exc})") from exc
    if not isinstance(data, dict):
        raise DataError(f"{path}: expected a JSON object, got {type(data).__name__}")
    return data


def write_parquet(path: str | os.PathLike[str], frame: pd.DataFrame) -> None:
    """Write a frame to parquet through pyarrow, atomically and deterministically (no index)."""
    with atomic_path(path) as tmp:
        frame.to_parquet(tmp, engine="pyarrow", index=False, compression="zstd")


@dataclass(frozen=True)
class LoadedDataset:
    """A dataset read back from ``results/datasets``.

    Attributes
    ----------
    X:
        Features, shape ``(n, k)``, the parquet's dtype.
    y:
        Target, shape ``(n,)``.
    meta:
        The JSON sidecar.
    """

    X: np.ndarray
    y: np.ndarray
    meta: dict[str, Any]

    @property
    def features(self) -> list[str]:
        return list(self.meta["features"])

    @property
    def target(self) -> str:
        return str(self.meta["target"])


_REQUIRED_META = ("features", "target", "true_weights", "true_bias", "n", "seed", "generator")


#: Rows per record batch when a table is read into memory: the batch (all columns) is the only
#: copy held beside ``X`` and ``y`` (a few MiB), not the whole table.
LOAD_BATCH_ROWS = 1 << 16


def load_dataset(
    parquet: DataFiles,
    meta_path: str | os.PathLike[str],
    mem_mb: float | None = None,
    column_major_rows: int | None = None,
) -> LoadedDataset:
    """Load and validate a dataset for fitting: one parquet file, or the shards of a sharded
    dataset (:func:`data_files`, in order; each checked against the rows its sidecar's
    ``shards`` records).

    With ``mem_mb`` (the rule's declared memory), first checks from the sidecar's ``n`` and
    features that the data fit in it (:func:`descent.resources.check_memory`), before reading.
    The files are read batch by batch into ``X`` and ``y``: memory holds ``X``, ``y`` and one
    batch, never the whole table beside them. ``X`` is row-major, or column-major (each feature
    contiguous, as parquet stores it) when the data have at least ``column_major_rows`` rows (the
    layout the fused gradient pass of large fits reads in place).

    Raises
    ------
    DataError
        Naming the file and the problem: missing, unreadable or not parquet, sidecar fields
        missing, a feature or target column missing or not numeric, a shard whose rows disagree
        with the sidecar, fewer than 2 rows, or NaN/inf values (naming the column and the first
        bad row).
    """
    meta = read_json(meta_path)
    missing = [key for key in _REQUIRED_META if key not in meta]
    if missing:
        raise DataError(f"{meta_path}: missing field(s) {', '.join(missing)}")
    features, target = list(meta["features"]), str(meta["target"])
    if not features:
        raise DataError(f"{meta_path}: field 'features' is empty")
    itemsize = 4 if meta.get("dtype") == "float32" else 8
    paths = data_files(parquet)
    check_memory(int(meta["n"]), len(features), itemsize, mem_mb, describe_files(parquet))
    import pyarrow

    columns = [*features, target]
    handles = [_open_checked(path, columns, meta_path) for path in paths]
    try:
        rows = [int(handle.metadata.num_rows) for handle in handles]
        _check_shard_rows(meta, meta_path, paths, rows)
        n = sum(rows)
        where = paths[0] if len(paths) == 1 else Path(meta_path)
        if n < 2:
            raise DataError(f"{where}: {n} row(s); fitting a line needs at least 2")
        schemas = [handle.schema_arrow for handle in handles]
        dtype = np.result_type(*(s.field(c).type.to_pandas_dtype() for s in schemas for c in features))
        if not np.issubdtype(dtype, np.floating):
            dtype = np.dtype(np.float64)
        column_major = column_major_rows is not None and n >= column_major_rows
        X = np.empty((n, len(features)), dtype=dtype, order="F" if column_major else "C")
        y_types = [s.field(target).type.to_pandas_dtype() for s in schemas]
        y = np.empty(n, dtype=np.result_type(*y_types, np.float32))
        bad: dict[str, tuple[int, int, Any, Path]] = {}  # column -> (count, first row, its value, file)
        start = 0
        for path, handle in zip(paths, handles):
            first = start  # rows are numbered within each file in messages
            try:
                for batch in handle.iter_batches(batch_size=LOAD_BATCH_ROWS, columns=columns):
                    stop = start + batch.num_rows
                    for j, column in enumerate(columns):
                        values = batch.column(j).to_numpy(zero_copy_only=False)
                        finite = np.isfinite(values)
                        if not finite.all():
                            count, row, value, file = bad.get(column, (0, -1, None, path))
                            if row < 0:
                                row = start - first + int(np.argmin(finite))
                                value, file = values[row - (start - first)], path
                            bad[column] = (count + int((~finite).sum()), row, value, file)
                        if j < len(features):
                            X[start:stop, j] = values
                        else:
                            y[start:stop] = values
                    start = stop
            except Exception as exc:  # pyarrow raises several types for corrupt files
                raise DataError(f"{path}: not a readable parquet file ({type(exc).__name__}: {exc})") from exc
    finally:
        for handle in handles:
            handle.close()
    # pyarrow's allocator keeps the freed batches' memory for itself; handed back, the fit's own
    # arrays reuse it (measured: 126 MiB at 10^7 x 10 float32 that the job would otherwise add).
    pyarrow.default_memory_pool().release_unused()
    for column in columns:  # the first bad column in the sidecar's order, as a whole
        if column in bad:
            count, row, value, file = bad[column]
            raise DataError(f"{file}: column {column!r} has {count} non-finite value(s) (first at row {row}: {value})")
    return LoadedDataset(X=X, y=y, meta=meta)


def _open_checked(path: Path, columns: list[str], meta_path: Any) -> Any:
    """``pyarrow.parquet.ParquetFile`` of one file, after checking that it has the ``columns``
    (features, then the target) and that they are numeric; every failure names the file."""
    import pyarrow.parquet as pq
    import pyarrow.types as pat

    try:
        handle = pq.ParquetFile(path, pre_buffer=False)
    except FileNotFoundError as exc:
        raise DataError(f"{path}: no such file (listed by {meta_path}: rerun the dataset's jobs)") from exc
    except Exception as exc:  # pyarrow raises several types for corrupt or non-parquet files
        raise DataError(f"{path}: not a readable parquet file ({type(exc).__name__}: {exc})") from exc
    schema = handle.schema_arrow
    absent = [c for c in columns if c not in schema.names]
    if absent:
        handle.close()
        raise DataError(
            f"{path}: missing column(s) {', '.join(absent)} "
            f"(sidecar {meta_path} lists features {columns[:-1]} and target {columns[-1]!r}; "
            f"file has {list(schema.names)})"
        )
    for column in columns:
        kind = schema.field(column).type
        if not (pat.is_floating(kind) or pat.is_integer(kind)):
            handle.close()
            raise DataError(f"{path}: column {column!r} is {kind}, expected a float column")
    return handle


def _check_shard_rows(meta: dict[str, Any], meta_path: Any, paths: list[Path], rows: list[int]) -> None:
    """A sharded dataset's files must be the shards its sidecar records, with their rows."""
    shards = meta.get("shards")
    if shards is None:
        return
    if len(shards) != len(paths):
        raise DataError(f"{meta_path}: records {len(shards)} shard(s), {len(paths)} file(s) given")
    for shard, path, count in zip(shards, paths, rows):
        if int(shard["rows"]) != count:
            raise DataError(
                f"{path}: {count} row(s), but {meta_path} records {shard['rows']} for this shard "
                "(the shard changed after its dataset was written: rerun the dataset's jobs)"
            )
