"""Tables (``.parquet``, ``.csv``, ``.tsv``) as DataFrames, refused past the size limit before they fill memory."""

from __future__ import annotations

import numpy as np
import pandas as pd

from probing.errors import ProbingInputError
from probing.io.limits import ArraySpec, check_decoded, fix_text, megabytes, size_limit
from probing.io.readers import Source

CSV_CELLS = 2**20
"""Cells of a CSV parsed at a time; the table's memory is counted chunk by chunk against the limit."""
HEADER_BYTES = 4 * 2**20
"""Longest first row read to count the columns (4 MB: over 100,000 columns of numbers)."""


def read_table(src: Source, fmt: str, limit: int | None = None) -> pd.DataFrame:
    """A ``.parquet`` or ``.csv`` (``.tsv`` by name) file as a DataFrame, refused past ``limit`` bytes in memory.

    Parquet's size in memory comes from its footer (uncompressed sizes, and 8 bytes per stored
    value) before any column is read; a CSV is parsed in chunks whose memory is counted as they come.
    A CSV whose first row is all numbers (other than the column numbers 0, 1, ... that
    ``DataFrame.to_csv`` writes) has no header row, so its columns are numbered; an
    unnamed first column (what ``DataFrame.to_csv`` writes for the index) is called ``index``.
    """
    limit = size_limit(limit)
    if fmt == "parquet":
        return _read_parquet(src, limit)
    sep = "\t" if src.hint.lower().endswith(".tsv") else ","
    with src.open() as f:
        first = f.readline(HEADER_BYTES + 1)
        if len(first) > HEADER_BYTES:
            raise ProbingInputError(f"The first row of the CSV {src.hint!r} is over {megabytes(HEADER_BYTES)} long; "
                                    "that is not a table of activations. Check the file and the separator.")
        width = first.count(sep.encode()) + 1
        if width * 64 > limit:
            raise ProbingInputError(f"The CSV {src.hint!r} has about {width} columns, too many to hold in the "
                                    f"{megabytes(limit)} limit. {fix_text()}")
        f.seek(0)
        names = [str(c) for c in pd.read_csv(f, sep=sep, encoding="utf-8-sig", nrows=0).columns]
        header = None if all(_is_float(c) for c in names) and names != [str(i) for i in range(len(names))] else "infer"
        f.seek(0)
        chunks, used = [], 0
        for chunk in pd.read_csv(f, sep=sep, encoding="utf-8-sig", header=header, chunksize=max(1, CSV_CELLS // width)):
            used += int(chunk.memory_usage(deep=True).sum())
            if used > limit:
                raise ProbingInputError(f"The CSV {src.hint!r} is {megabytes(src.size)} on disk but its first "
                                        f"{sum(map(len, chunks)) + len(chunk)} rows already take {megabytes(used)} in "
                                        f"memory, over the {megabytes(limit)} limit. {fix_text()}")
            chunks.append(chunk)
    df = pd.concat(chunks) if len(chunks) > 1 else chunks[0] if chunks else pd.DataFrame(columns=names)
    return df.rename(columns={c: "index" for c in df.columns[:1] if c == "Unnamed: 0"})  # DataFrame.to_csv's index


def _read_parquet(src: Source, limit: int) -> pd.DataFrame:
    import pyarrow.parquet as pq

    if src.tail(4) != b"PAR1":
        raise ProbingInputError(
            f"The Parquet file {src.hint!r} is truncated (it lacks the closing PAR1 marker). Export it again completely."
        )
    with src.open() as f:
        meta = pq.ParquetFile(f).metadata
        chunks = [meta.row_group(g).column(c) for g in range(meta.num_row_groups) for c in range(meta.num_columns)]
        uncompressed = sum(c.total_uncompressed_size for c in chunks)
        values = max(sum(c.num_values for c in chunks), meta.num_rows * meta.num_columns)
        specs = [ArraySpec("uncompressed pages", (uncompressed,), np.dtype("u1")),
                 ArraySpec("values as float64", (values,), np.dtype("f8"))]
        check_decoded(specs, src.size, limit, f"The Parquet file {src.hint!r}")
        f.seek(0)
        return pd.read_parquet(f)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
