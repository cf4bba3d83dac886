"""Result files: atomic writes and Markdown tables, shared by the bench, the reproductions and SSL.

Atomic means a reader (or a resumed run) sees either the old file or the complete new one, never
a partial one: the bytes go to a temporary file in the same folder, are flushed and fsync'ed to
disk, and the temporary file is renamed over the target with ``os.replace`` (atomic on POSIX and
Windows when both are on one file system, which the same folder guarantees).

    atomic_write_bytes(path, data)      atomic_write_text(path, text)
    atomic_write_table(path, frame)     # .csv -> CSV, anything else -> Parquet
    markdown_table(frame)               # a GitHub-flavoured Markdown table
"""

from __future__ import annotations

import io
import math
import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_write_table", "format_number", "markdown_table"]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically; create the parent folder if needed. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # A unique name per writer: two processes writing the same file never share a temporary file.
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` atomically (UTF-8 unless told otherwise)."""
    return atomic_write_bytes(path, text.encode(encoding))


def atomic_write_table(path: str | os.PathLike, frame: pd.DataFrame) -> Path:
    """Write ``frame`` without its index atomically: CSV when ``path`` ends in .csv, else Parquet."""
    path = Path(path)
    if path.suffix == ".csv":
        return atomic_write_bytes(path, frame.to_csv(index=False).encode())
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return atomic_write_bytes(path, buffer.getvalue())


def format_number(value: Any, digits: int = 3) -> str:
    """A table cell: floats with ``digits`` decimals (scientific when huge or tiny), NaN as an en dash."""
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return "–"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if value != 0 and (abs(value) >= 1e5 or abs(value) < 10 ** -digits):
            return f"{value:.2e}"
        return f"{value:.{digits}f}"
    return str(value)


def markdown_table(frame: pd.DataFrame, index: bool = False, digits: int = 3) -> str:
    """A GitHub-flavoured Markdown table of ``frame``.

    Numbers go through ``format_number`` (``digits`` decimals, NaN as an en dash); other values
    through ``str``, with "|" escaped. ``index=True`` adds the index as the first column(s).
    """
    if frame.empty:
        return "_(no rows)_"
    data = frame.reset_index() if index else frame

    def cell(value: Any) -> str:
        return format_number(value, digits).replace("|", "\\|").replace("\n", " ")

    header = [cell(column) for column in data.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in data.itertuples(index=False)]
    return "\n".join(lines)
