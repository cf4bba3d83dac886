"""Read paired samples (x, y) from files, for ``anchormi estimate`` and for scripts.

    x, y = load_pair(["data.npz"])                                  # arrays x and y inside
    x, y = load_pair(["x.npy", "y.npy"])                            # x first, then y
    x, y = load_pair(["table.csv"], x_cols="a,b", y_cols="c")       # delimiter sniffed, or sep=";"
    x, y = load_pair(["table.parquet"], x_cols=["a", "b"], y_cols=["c"])
    x, y, z = load_data(["table.csv"], x_cols="a", y_cols="b", z_cols="c")   # z None when not asked for

Every failure is a ValueError that names the file, says what is wrong and what to do; a reader's
own exception (pandas, pyarrow, numpy, zipfile) never reaches the caller. The arrays are returned
as stored; :func:`anchormi._validation.check_pair` checks dtype, NaN and lengths later.
"""

from __future__ import annotations

import csv
import os
import zipfile
from pathlib import Path
from typing import Sequence, Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]
Columns = Union[str, Sequence[str], None]

TABLE_SUFFIXES = (".csv", ".tsv", ".parquet", ".pq")
NPY_MAGIC = b"\x93NUMPY"
ZIP_MAGIC = b"PK"
# Candidate delimiters for sniffing; anything else needs an explicit sep.
SNIFFED_DELIMITERS = ",;\t|"
SNIFF_BYTES = 64 * 1024

FORMATS_HINT = (
    "pass one .npz (arrays x and y, optionally z), two or three .npy files (x.npy y.npy [z.npy]), "
    "or one .csv/.tsv/.parquet table with x_cols and y_cols (--x-cols, --y-cols)"
)

__all__ = ["load_data", "load_pair", "load_npy", "load_npz", "load_table", "sniff_delimiter"]


def load_data(
    files: Sequence[PathLike],
    x_cols: Columns = None,
    y_cols: Columns = None,
    z_cols: Columns = None,
    sep: str | None = None,
) -> tuple:
    """Read x, y and an optional z from one .npz, two or three .npy files, or one table.

    Args:
        files: one path (.npz with arrays x, y and optionally z; or a CSV/TSV/Parquet table), or
            two or three .npy paths (x, y, then z).
        x_cols, y_cols, z_cols: table columns of x, y and z, a comma-separated string or a list of
            names; z_cols is optional.
        sep: CSV delimiter; None sniffs it from the start of the file (one of , ; tab |).

    Returns:
        (x, y, z), z None when absent. Arrays come back as stored; table columns come back as a
        pandas DataFrame each, keeping their dtypes, so text, ``category`` and ``bool`` columns
        reach the estimator as categorical (``anchormi.encoding``).

    Raises:
        ValueError: the file is missing, empty, not of its format, or lacks the arrays/columns.
    """
    paths = [Path(f) for f in files]
    if len(paths) in (2, 3):
        if not all(p.suffix.lower() == ".npy" for p in paths):
            raise ValueError(
                f"{len(paths)} files were given ({', '.join(p.name for p in paths)}); several files must all be .npy "
                "(x, y, then optionally z). For a table or .npz pass that single file."
            )
        arrays = [load_npy(p) for p in paths]
        return arrays[0], arrays[1], arrays[2] if len(arrays) == 3 else None
    if len(paths) != 1:
        raise ValueError(f"{len(paths)} files were given; {FORMATS_HINT}.")
    path = paths[0]
    suffix = path.suffix.lower()
    if suffix == ".npy":
        _check_file(path)
        raise ValueError(
            f"{path}: a .npy file holds one array, so .npy input needs two files: x.npy y.npy "
            "(x first, then y). Or save both in one file with np.savez(path, x=..., y=...)."
        )
    if suffix == ".npz":
        return load_npz(path, with_z=True)
    if suffix in TABLE_SUFFIXES:
        frame = load_table(path, sep=sep)
        options = {"x_cols (--x-cols)": x_cols, "y_cols (--y-cols)": y_cols}
        if z_cols is not None:
            options["z_cols (--z-cols)"] = z_cols
        selected = [_select_columns(frame, names, option, path) for option, names in options.items()]
        _check_disjoint({option: list(map(str, part.columns)) for option, part in zip(options, selected)})
        return selected[0], selected[1], selected[2] if z_cols is not None else None
    raise ValueError(f"{path}: unknown format {path.suffix or '(no suffix)'!r}; {FORMATS_HINT}.")


def load_pair(
    files: Sequence[PathLike],
    x_cols: Columns = None,
    y_cols: Columns = None,
    sep: str | None = None,
) -> tuple:
    """Read x and y only: :func:`load_data` for two-variable input; a z in the input is an error."""
    x, y, z = load_data(files, x_cols, y_cols, sep=sep)
    if z is not None:
        raise ValueError(f"{', '.join(map(str, files))} also holds z; read it with load_data for I(X;Y|Z).")
    return x, y


def _check_file(path: Path) -> None:
    if not path.exists():
        raise ValueError(f"{path}: no such file; check the path.")
    if path.is_dir():
        raise ValueError(f"{path} is a folder; {FORMATS_HINT}.")


def _head(path: Path, n_bytes: int) -> bytes:
    _check_file(path)
    try:
        with open(path, "rb") as handle:
            return handle.read(n_bytes)
    except OSError as error:
        raise ValueError(f"{path} could not be opened ({error.strerror or error}); check its permissions.") from error


def _is_object_error(error: ValueError) -> bool:
    # numpy refuses object arrays without allow_pickle; its wording differs between versions
    text = str(error)
    return "pickled" in text or "Object arrays" in text or "Python objects" in text


def load_npy(path: PathLike) -> np.ndarray:
    """One array from a .npy file written by ``np.save``, memory-mapped read-only; never unpickles.

    Mapping keeps large files out of memory until rows are read (large-data fits read them in chunks).
    """
    path = Path(path)
    if not _head(path, len(NPY_MAGIC)).startswith(NPY_MAGIC):
        raise ValueError(
            f"{path} is not a valid .npy array file (it lacks the NumPy header); "
            "write arrays with np.save(path, array)."
        )
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as error:
        if _is_object_error(error):
            raise ValueError(
                f"{path} holds Python objects (dtype object), not numbers; "
                "save a numeric array, e.g. np.save(path, array.astype(float))."
            ) from error
        raise ValueError(f"{path} is not a valid .npy array file ({error}); write it again with np.save.") from error
    except (OSError, EOFError) as error:
        raise ValueError(f"{path} is not a valid .npy array file (truncated or damaged: {error}); "
                         "write it again with np.save.") from error


def load_npz(path: PathLike, with_z: bool = False) -> tuple:
    """Arrays ``x`` and ``y`` from a .npz archive written by ``np.savez(path, x=..., y=...)``.

    With ``with_z``, returns (x, y, z) where z is the archive's array ``z``, or None without one.
    """
    path = Path(path)
    damaged = f"{path} is not a valid .npz archive ({{}}); write it again with np.savez(path, x=..., y=...)."
    if not _head(path, len(ZIP_MAGIC)).startswith(ZIP_MAGIC):
        raise ValueError(damaged.format("not a zip file"))
    try:
        archive = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise ValueError(damaged.format(_first_line(error))) from error
    with archive:
        missing = {"x", "y"} - set(archive.files)
        if missing:
            raise ValueError(
                f"{path} lacks arrays {sorted(missing)}; it has {archive.files}. "
                "Save with np.savez(path, x=..., y=...)."
            )
        names = ["x", "y"] + (["z"] if with_z and "z" in archive.files else [])
        try:
            arrays = [archive[name] for name in names]
        except ValueError as error:
            if _is_object_error(error):
                raise ValueError(
                    f"{path}: {' or '.join(names)} holds Python objects (dtype object), not numbers; save numeric arrays."
                ) from error
            raise ValueError(damaged.format(_first_line(error))) from error
        except (OSError, EOFError, zipfile.BadZipFile) as error:
            raise ValueError(damaged.format(_first_line(error))) from error
    if with_z:
        return arrays[0], arrays[1], arrays[2] if len(arrays) == 3 else None
    return arrays[0], arrays[1]


def sniff_delimiter(sample: str) -> str:
    """The delimiter of a CSV sample: one of , ; tab |, or "," when the sample has a single column."""
    try:
        return csv.Sniffer().sniff(sample, delimiters=SNIFFED_DELIMITERS).delimiter
    except csv.Error:
        return ","


def load_table(path: PathLike, sep: str | None = None):
    """A pandas DataFrame from a CSV/TSV (delimiter ``sep`` or sniffed) or Parquet file, with >= 1 row."""
    import pandas as pd

    path = Path(path)
    head = _head(path, SNIFF_BYTES)
    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            frame = pd.read_parquet(path)
        except ImportError as error:
            raise ValueError(f"reading {path} needs a Parquet engine: pip install pyarrow ({error}).") from error
        except Exception as error:  # pyarrow's ArrowInvalid, OSError and friends: all mean "not Parquet"
            raise ValueError(
                f"{path} is not a valid Parquet file ({_first_line(error)}); "
                "write it with pandas.DataFrame.to_parquet, or pass a .csv."
            ) from error
    else:
        if not head.strip():
            raise ValueError(f"{path} is empty: no header and no data rows. Pass a table with a header line "
                             "naming the columns and one row per sample.")
        if b"\x00" in head:
            raise ValueError(f"{path} is not a text CSV file (it holds binary data); pass a CSV, .npz or .parquet.")
        if sep == "":
            raise ValueError("sep is empty; pass a delimiter such as ',' or ';', or leave it out to sniff it.")
        if sep is None:
            sample = head.decode("utf-8", errors="replace")
            sep = sniff_delimiter(sample[: sample.rfind("\n") + 1] or sample)
        elif sep in ("\\t", "tab"):
            sep = "\t"  # what a shell passes for --sep '\t'
        try:
            # pandas reads multi-character separators as regular expressions, with its python engine only
            frame = pd.read_csv(path, sep=sep, engine="c" if len(sep) == 1 else "python")
        except pd.errors.EmptyDataError as error:
            raise ValueError(f"{path} is empty: no header and no data rows.") from error
        except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as error:
            raise ValueError(
                f"{path} could not be read as a table with delimiter {sep!r} ({_first_line(error)}); "
                "check that every row has the same number of fields, or pass the delimiter with sep (--sep)."
            ) from error
    if len(frame) == 0:
        raise ValueError(
            f"{path} has no data rows (only the header {[str(c) for c in frame.columns]}); "
            "pass a table with one row per sample."
        )
    return frame


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _check_disjoint(columns: dict[str, list[str]]) -> None:
    """Each table column belongs to one variable, once. A column shared by x and y makes I(X;Y)
    infinite for continuous values (the column's entropy for discrete ones), and one shared with z
    makes I(X;Y|Z) zero by construction: almost always a slip in the column lists. The rare
    intended overlap (the entropy of a discrete column) stays possible with a renamed copy."""
    for option, names in columns.items():
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"{option}: columns {repeated} are listed more than once; name each column once.")
    options = list(columns)
    for i, first in enumerate(options):
        for second in options[i + 1 :]:
            shared = [n for n in columns[first] if n in columns[second]]
            if shared:
                consequence = ("I(X;Y|Z) is then 0 by construction" if second.startswith("z")
                               else "I(X;Y) is then infinite for continuous values (for a discrete column, its entropy)")
                raise ValueError(
                    f"columns {shared} are in both {first} and {second}; {consequence}. Give each column to one "
                    "variable only (if the overlap is intended, copy the column under a second name)."
                )


def _select_columns(frame, names: Columns, option: str, path: Path):
    """The named columns of ``frame`` as a DataFrame (n, len(names)), dtypes kept."""
    available = [str(c) for c in frame.columns]
    if names is None or (isinstance(names, str) and not names.strip()):
        raise ValueError(
            f"a table needs {option}: comma-separated column names; {path} has columns {available}."
        )
    wanted = [n.strip() for n in names.split(",")] if isinstance(names, str) else [str(n).strip() for n in names]
    wanted = [n for n in wanted if n]
    missing = [n for n in wanted if n not in available]
    if missing:
        hint = ""
        if len(available) == 1 and any(d in available[0] for d in SNIFFED_DELIMITERS + " "):
            hint = " The header was read as one column: pass the delimiter with sep (--sep)."
        raise ValueError(f"{option}: columns {missing} not in {path}; it has {available}.{hint}")
    by_name = {str(c): c for c in frame.columns}
    return frame[[by_name[n] for n in wanted]].copy()
