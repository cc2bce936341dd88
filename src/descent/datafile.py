"""``kind: file`` datasets: a user's parquet or CSV table, validated and streamed to
``results/datasets/{name}.parquet``.

The source is read in chunks with pyarrow (parquet by row groups / record batches, CSV by blocks
with ``pyarrow.csv.open_csv``) and written in row groups, so the dataset job's memory does not
grow with the number of rows. Every refusal is a :class:`DataError` whose message starts with the
file's path and names the column (and, for bad values, the first bad row): a missing file, an
unknown or non-numeric column, a missing (empty, NA) or non-finite value, fewer than 2 rows, and
— when the standardized scaling is configured — a constant column.

Nothing heavy is imported at module level: the rules call :func:`file_features` and
:func:`file_shape` while Snakemake parses the workflow.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from descent.io import DataError, atomic_path

#: Source formats, chosen by ``format`` or, for ``auto``, by the file's suffix.
FORMATS: tuple[str, ...] = ("csv", "parquet")
#: Suffixes read as parquet under ``format: auto`` (everything else is read as CSV).
PARQUET_SUFFIXES: tuple[str, ...] = (".parquet", ".pq", ".parq")
#: Bytes of the CSV blocks read at a time (pyarrow's default is 1 MiB).
CSV_BLOCK_BYTES = 1 << 22
#: Rows per record batch read from a parquet source.
PARQUET_BATCH_ROWS = 1 << 16
#: Target size of one row group of the written dataset (float values of all its columns).
ROW_GROUP_BYTES = 64 << 20


def source_path(spec: dict[str, Any]) -> Path:
    """The data file of a ``kind: file`` spec (relative paths are relative to the working directory)."""
    return Path(spec["path"])


def file_format(spec: dict[str, Any]) -> str:
    """``csv`` or ``parquet``: ``spec['format']``, or by suffix when it is ``auto`` (or absent)."""
    chosen = spec.get("format", "auto")
    if chosen != "auto":
        return str(chosen)
    if source_path(spec).is_dir():  # a folder of shards: parquet files only (folder_tables)
        return "parquet"
    return "parquet" if source_path(spec).suffix.lower() in PARQUET_SUFFIXES else "csv"


def where(spec: dict[str, Any], name: str | None = None) -> str:
    """The prefix a message names a config field with: ``datasets.<name>.`` when the name is known."""
    return f"datasets.{name}." if name else ""


def _numeric(kind: Any) -> bool:
    import pyarrow.types as pat

    return bool(pat.is_integer(kind) or pat.is_floating(kind) or pat.is_decimal(kind))


def _csv_options(spec: dict[str, Any]) -> tuple[Any, Any]:
    import pyarrow.csv as pcsv

    read = pcsv.ReadOptions(block_size=CSV_BLOCK_BYTES)
    parse = pcsv.ParseOptions(delimiter=str(spec.get("delimiter", ",")))
    return read, parse


def folder_tables(spec: dict[str, Any], name: str | None = None) -> list[Path]:
    """The parquet files of a ``kind: file`` spec whose ``path`` is a folder: its shards, in name
    order (``.parquet``, ``.pq``, ``.parq``; other files are ignored). Raises ``DataError`` naming
    the folder and the field when it holds none."""
    path = source_path(spec)
    tables = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in PARQUET_SUFFIXES)
    if not tables:
        others = sorted(p.name for p in path.iterdir())
        csv = [other for other in others if other.lower().endswith(".csv")]
        holds = f"it holds {', '.join(others[:5])}" if others else "it is empty"
        raise DataError(
            f"{path}: a folder with no parquet file ({where(spec, name)}path: a folder is read as the shards of "
            f"one dataset, its .parquet/.pq/.parq files in name order; {holds})"
            + ("; CSV files are not read as shards: name one file as path, or convert them to parquet" if csv else "")
        )
    return tables


def is_folder(spec: dict[str, Any]) -> bool:
    """Whether a ``kind: file`` spec's ``path`` is a folder of parquet shards."""
    return spec.get("kind", "file") == "file" and source_path(spec).is_dir()


def shard_spec(spec: dict[str, Any], index: int, name: str | None = None) -> dict[str, Any]:
    """The one-file spec of shard ``index`` of a folder spec (:func:`folder_tables`)."""
    return {**spec, "path": str(folder_tables(spec, name)[index]), "format": "parquet"}


def folder_float32(spec: dict[str, Any], name: str | None = None) -> bool:
    """Whether every column used is float32 in every shard of a folder spec (the shards are then
    stored as float32, else all as float64: one dtype for the whole dataset)."""
    columns = [*file_features(spec, name), str(spec["target"])]
    for index in range(len(folder_tables(spec, name))):
        schema = dict(file_schema(shard_spec(spec, index, name), name))
        if not all(str(schema.get(c)) == "float" for c in columns):
            return False
    return True


def _require_file(spec: dict[str, Any], name: str | None) -> Path:
    path = source_path(spec)
    if path.is_dir() and file_format(spec) == "parquet":  # a folder of parquet shards: read its first one
        return folder_tables(spec, name)[0]
    if path.is_dir():
        tables = sorted(p.name for p in path.iterdir() if p.suffix.lower() in (".csv", *PARQUET_SUFFIXES))
        holds = (
            f"it holds {len(tables)} table file(s): {', '.join(tables[:5])}"
            if tables
            else "it holds no .csv or parquet file"
        )
        raise DataError(
            f"{path}: a directory, not a table file ({where(spec, name)}path must name one CSV or parquet file; {holds})"
        )
    if not path.is_file():
        raise DataError(
            f"{path}: no such file ({where(spec, name)}path; relative paths are relative to the working "
            f"directory {os.getcwd()})"
        )
    return path


_SCHEMA_CACHE: dict[tuple[str, str, str, int, int], list[tuple[str, Any]]] = {}


def file_schema(spec: dict[str, Any], name: str | None = None) -> list[tuple[str, Any]]:
    """``(column, pyarrow type)`` of every column of the file, in file order: a parquet file's own
    schema; a CSV file's types as pyarrow infers them from its first block. Cached per file
    version (path, size, modification time)."""
    path = _require_file(spec, name)
    stat = path.stat()
    key = (str(path.resolve()), file_format(spec), str(spec.get("delimiter", ",")), stat.st_size, stat.st_mtime_ns)
    if key not in _SCHEMA_CACHE:
        try:
            if key[1] == "parquet":
                import pyarrow.parquet as pq

                schema = pq.read_schema(path)
            else:
                import pyarrow.csv as pcsv

                read, parse = _csv_options(spec)
                with pcsv.open_csv(path, read_options=read, parse_options=parse) as reader:
                    schema = reader.schema
        except Exception as exc:  # pyarrow raises several types for unreadable files
            raise DataError(f"{path}: not a readable {key[1]} file ({type(exc).__name__}: {exc})") from exc
        _SCHEMA_CACHE[key] = [(field.name, field.type) for field in schema]
    return list(_SCHEMA_CACHE[key])


#: Separators a CSV header may use instead of the declared one.
OTHER_DELIMITERS: tuple[str, ...] = (";", "\t", "|")


def delimiter_hint(spec: dict[str, Any], columns: list[str], name: str | None = None) -> str:
    """When a CSV's columns as read hold another separator (a ``;``-separated file read with the
    default ``,``: one column ``'a;b;y'``), a sentence naming it and the ``delimiter`` field."""
    if file_format(spec) != "csv":
        return ""
    declared = str(spec.get("delimiter", ","))
    for other in OTHER_DELIMITERS:
        if other != declared and any(other in column for column in columns):
            return (
                f"; the header looks {other!r}-separated, not {declared!r}: set {where(spec, name)}delimiter: {other!r}"
            )
    return ""


def file_features(spec: dict[str, Any], name: str | None = None) -> list[str]:
    """The feature columns of a ``kind: file`` spec: ``features`` when given, else every numeric
    column of the file except the target, in file order."""
    if spec.get("features"):
        return list(spec["features"])
    target = spec.get("target")
    schema = file_schema(spec, name)
    features = [column for column, kind in schema if column != target and _numeric(kind)]
    if not features:
        raise DataError(
            f"{source_path(spec)}: no numeric column besides the target {target!r} "
            f"({where(spec, name)}features is not given, so every numeric column is a feature)"
            + delimiter_hint(spec, [column for column, _ in schema], name)
        )
    return features


def check_columns(spec: dict[str, Any], name: str | None = None) -> tuple[list[str], str]:
    """``(features, target)`` after checking that each exists in the file and is numeric (for a
    CSV, as inferred from its first block; a later non-numeric value is caught while streaming)."""
    schema = dict(file_schema(spec, name))
    features, target = file_features(spec, name), str(spec["target"])
    path = source_path(spec)
    for column, field in [*((c, "features") for c in features), (target, "target")]:
        if column not in schema:
            raise DataError(
                f"{path}: unknown column {column!r} ({where(spec, name)}{field}); the file has columns {list(schema)}"
                + delimiter_hint(spec, list(schema), name)
            )
        kind = schema[column]
        if not (_numeric(kind) or str(kind) == "null"):
            raise DataError(
                f"{path}: column {column!r} is not numeric (it holds {kind}"
                f"{', as read from the first rows' if file_format(spec) == 'csv' else ''}; "
                f"{where(spec, name)}{field})"
            )
    return features, target


def file_shape(spec: dict[str, Any], name: str | None = None) -> tuple[int, int, int]:
    """``(rows, features, bytes per stored value)`` of the dataset a ``kind: file`` spec makes,
    without reading the data: exact rows for parquet (its metadata); for CSV an estimate from the
    file's size and its first block's bytes per row. Stored values are float32 only when every
    column used is float32 in a parquet file. A missing file gives ``(0, k, 8)`` (``k`` from
    ``features``, else 1): it is produced later, and the estimate is refined once it exists."""
    path = source_path(spec)
    if path.is_dir():
        rows = sum(file_shape(shard_spec(spec, i, name), name)[0] for i in range(len(folder_tables(spec, name))))
        return rows, len(file_features(spec, name)), 4 if folder_float32(spec, name) else 8
    if not path.is_file():
        return 0, len(spec.get("features") or [None]), 8
    features = file_features(spec, name)
    schema = dict(file_schema(spec, name))
    used = [schema.get(c) for c in [*features, spec["target"]]]
    if file_format(spec) == "parquet":
        import pyarrow.parquet as pq

        rows = pq.ParquetFile(path).metadata.num_rows
        itemsize = 4 if all(str(kind) == "float" for kind in used) else 8
        return int(rows), len(features), itemsize
    return csv_rows_estimate(path), len(features), 8


def known_shape(
    spec: dict[str, Any], meta_path: str | os.PathLike[str], name: str | None = None
) -> tuple[int, int, int]:
    """:func:`file_shape`, exact from the dataset's sidecar (``results/datasets/{name}.json``) when
    that was written from this spec after the source file last changed."""
    import json

    meta, source = Path(meta_path), source_path(spec)
    try:
        sources = folder_tables(spec, name) if source.is_dir() else [source]
        if meta.stat().st_mtime_ns >= max(s.stat().st_mtime_ns for s in [source, *sources]):
            facts = json.loads(meta.read_text())
            if facts.get("spec") == spec:
                return int(facts["n"]), len(facts["features"]), 4 if facts.get("dtype") == "float32" else 8
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return file_shape(spec, name)


def csv_rows_estimate(path: Path, sample_bytes: int = 1 << 20) -> int:
    """Rows of a CSV file estimated from its size and the lines in its first ``sample_bytes``
    (exact for a file that small), rounded up by 10 % for longer lines further down."""
    size = path.stat().st_size
    with open(path, "rb") as handle:
        sample = handle.read(sample_bytes)
    lines = sample.count(b"\n") + (0 if sample.endswith(b"\n") or not sample else 1)
    if size <= sample_bytes:
        return max(0, lines - 1)
    return int(size / (len(sample) / max(lines, 1)) * 1.1)


def largest_chunk_rows(spec: dict[str, Any]) -> int:
    """Rows the dataset job holds at once while streaming: a parquet file's largest row group
    (pyarrow decodes a row group at a time), or a CSV block's rows (estimated)."""
    path = source_path(spec)
    if not path.is_file():
        return PARQUET_BATCH_ROWS
    if file_format(spec) == "parquet":
        import pyarrow.parquet as pq

        metadata = pq.ParquetFile(path).metadata
        largest = max((metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)), default=0)
        return max(largest, 1)
    rows = csv_rows_estimate(path)
    return max(1, min(rows, int(rows * CSV_BLOCK_BYTES / max(path.stat().st_size, 1)) + 1))


def _batches(spec: dict[str, Any], columns: list[str]) -> Any:
    """Record batches of ``columns`` (in that order) of the source, as float64 columns for a CSV
    (so a non-numeric value anywhere fails the conversion)."""
    path = source_path(spec)
    if file_format(spec) == "parquet":
        import pyarrow.parquet as pq

        yield from pq.ParquetFile(path, pre_buffer=False).iter_batches(batch_size=PARQUET_BATCH_ROWS, columns=columns)
        return
    import pyarrow as pa
    import pyarrow.csv as pcsv

    read, parse = _csv_options(spec)
    convert = pcsv.ConvertOptions(column_types={c: pa.float64() for c in columns}, include_columns=columns)
    with pcsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert) as reader:
        yield from reader


def _first_non_number(spec: dict[str, Any], column: str) -> tuple[int, str] | None:
    """Row and text of the first value of a CSV ``column`` that is neither a number nor empty/NA
    (the slow path, only run to explain a conversion error)."""
    import pyarrow as pa
    import pyarrow.csv as pcsv

    read, parse = _csv_options(spec)
    convert = pcsv.ConvertOptions(column_types={column: pa.string()}, include_columns=[column])
    null_values = set(pcsv.ConvertOptions().null_values)
    offset = 0
    with pcsv.open_csv(source_path(spec), read_options=read, parse_options=parse, convert_options=convert) as reader:
        for batch in reader:
            values = batch.column(0)
            try:
                values.cast(pa.float64())
            except pa.ArrowInvalid:
                for i, text in enumerate(values.to_pylist()):
                    if text is None or text in null_values:
                        continue
                    try:
                        pa.array([text]).cast(pa.float64())
                    except pa.ArrowInvalid:
                        return offset + i, text
            offset += batch.num_rows
    return None


def _row_text(spec: dict[str, Any], row: int) -> str:
    """``row r`` (0-based data row), with the file's line number for a CSV."""
    return f"row {row}" + (f" (line {row + 2} of the file)" if file_format(spec) == "csv" else "")


def stream_to_parquet(
    spec: dict[str, Any],
    out: str | os.PathLike[str],
    name: str | None = None,
    standardized: bool = False,
    float32: bool | None = None,
) -> dict[str, Any]:
    """Validate a ``kind: file`` source while copying its features and target, in that order, to
    parquet at ``out`` (atomically, in row groups of about :data:`ROW_GROUP_BYTES`), chunk by chunk.

    ``standardized``: the standardized scaling is configured, so a constant column (which cannot
    be standardized) is refused here, naming the file and the column. Returns the facts of the
    dataset sidecar: ``features``, ``target``, ``n``, ``dtype`` and ``source`` (``path``,
    ``format``, ``bytes``, ``sha256``, ``ignored_columns``). ``float32``: the stored dtype when
    given (a shard of a folder takes the whole folder's, :func:`folder_float32`).

    Raises
    ------
    DataError
        Starting with the file's path and naming the column (and the first bad row): missing file,
        unknown or non-numeric column, missing or non-finite value, fewer than 2 rows, constant
        column under standardization.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = _require_file(spec, name)
    features, target = check_columns(spec, name)
    columns = [*features, target]
    schema = dict(file_schema(spec, name))
    fmt = file_format(spec)
    if float32 is None:
        float32 = fmt == "parquet" and all(str(schema[c]) == "float" for c in columns)
    dtype = np.float32 if float32 else np.float64
    itemsize = np.dtype(dtype).itemsize
    group_rows = max(1024, ROW_GROUP_BYTES // (len(columns) * itemsize))
    out_schema = pa.schema([pa.field(c, pa.float32() if float32 else pa.float64(), nullable=False) for c in columns])
    low = np.full(len(columns), np.inf)
    high = np.full(len(columns), -np.inf)
    first: list[float | None] = [None] * len(columns)
    n = 0
    pending: list[list[np.ndarray]] = []
    pending_rows = 0

    def flush(writer: Any) -> None:
        nonlocal pending, pending_rows
        if pending_rows:
            arrays = [pa.array(np.concatenate([chunk[j] for chunk in pending])) for j in range(len(columns))]
            writer.write_table(pa.Table.from_arrays(arrays, schema=out_schema), row_group_size=pending_rows)
        pending, pending_rows = [], 0

    with atomic_path(out) as tmp, pq.ParquetWriter(tmp, out_schema, compression="zstd") as writer:
        batches = _batches(spec, columns)
        while True:
            try:
                batch = next(batches)
            except StopIteration:
                break
            except pa.ArrowInvalid as exc:
                raise _conversion_error(spec, name, columns, exc) from exc
            except Exception as exc:
                raise DataError(f"{path}: not a readable {fmt} file ({type(exc).__name__}: {exc})") from exc
            chunk = []
            for j, column in enumerate(columns):
                values = batch.column(column).cast(pa.float64()).to_numpy(zero_copy_only=False)
                bad = ~np.isfinite(values)
                if bad.any():
                    row = int(np.argmax(bad))
                    raw = batch.column(column)[row].as_py()
                    what = "a missing value (empty, NA or NaN)" if raw is None else f"the value {raw!r}"
                    raise DataError(
                        f"{path}: column {column!r} has {what} at {_row_text(spec, n + row)}; every value must be "
                        f"a finite number ({int(bad.sum())} such value(s) in rows {n}-{n + len(values) - 1})"
                    )
                if len(values):
                    low[j] = min(low[j], float(values.min()))
                    high[j] = max(high[j], float(values.max()))
                    if first[j] is None:
                        first[j] = float(values[0])
                chunk.append(values.astype(dtype, copy=False))
            n += batch.num_rows
            if batch.num_rows:
                pending.append(chunk)
                pending_rows += batch.num_rows
            if pending_rows >= group_rows:
                flush(writer)
        flush(writer)
        if n < 2:
            raise DataError(f"{path}: {n} row(s); fitting a line needs at least 2")
        if standardized:
            constant = [(c, first[j]) for j, c in enumerate(columns) if low[j] == high[j]]
            if constant:
                column, value = constant[0]
                role = "target" if column == target else "feature"
                raise DataError(
                    f"{path}: {role} column {column!r} is constant (every one of its {n} values is {value:g}): it "
                    "cannot be standardized (standard deviation 0) and fits.scalings includes standardized. "
                    f"Drop it from {where(spec, name)}features, or fit raw only"
                    + (
                        ", with the other constant column(s) " + ", ".join(repr(c) for c, _ in constant[1:])
                        if len(constant) > 1
                        else ""
                    )
                )
    return {
        "features": features,
        "target": target,
        "n": n,
        "dtype": "float32" if float32 else "float64",
        "source": {
            "path": str(spec["path"]),
            "format": fmt,
            "bytes": path.stat().st_size,
            "sha256": sha256(path),
            "ignored_columns": [c for c in schema if c not in columns],
        },
    }


def _conversion_error(spec: dict[str, Any], name: str | None, columns: list[str], exc: Exception) -> DataError:
    """A CSV value that is not a number, named by column, row and text (or a CSV parse error)."""
    path = source_path(spec)
    message = str(exc)
    column = None
    if not message.startswith("In CSV column #"):  # a parse error: a row with too many fields, ...
        return DataError(f"{path}: not a readable {file_format(spec)} file ({message})")
    if message.startswith("In CSV column #"):
        index = int(message[len("In CSV column #") :].split(":", 1)[0])  # the file's column index
        names = [c for c, _ in file_schema(spec, name)]
        column = names[index] if index < len(names) and names[index] in columns else None
    found = _first_non_number(spec, column) if column is not None else None
    if found is None:
        return DataError(f"{path}: a column is not numeric ({message}; {where(spec, name)}features)")
    row, text = found
    field = "target" if column == spec.get("target") else "features"
    return DataError(
        f"{path}: column {column!r} is not numeric: {text!r} at {_row_text(spec, row)} ({where(spec, name)}{field})"
    )


def sha256(path: Path, block: int = 1 << 22) -> str:
    """Hex SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(block):
            digest.update(chunk)
    return digest.hexdigest()
