"""Which code produced a cached result: the package version plus the git commit of its source.

Benchmarks cache one file per cell or row so that a killed run resumes. A resumed folder can
then hold rows from different code; each row records :func:`code_version`, and reports name the
versions behind their rows (:func:`describe_code_versions`).
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path
from typing import Any

import pandas as pd


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """anchormi's version, plus the git commit of its source when it runs from a checkout
    (``0.1.0+a4b6aa4``, with ``.dirty`` when the package's files have uncommitted changes).

    Cached results (coverage cells, conditional rows) record it, so a reader can tell which code
    produced a row after a change; an installed package without git reports the version alone.
    """
    import anchormi

    package = Path(anchormi.__file__).resolve().parent

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(package), *args], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()

    try:
        git("ls-files", "--error-unmatch", "__init__.py")  # tracked here: not a copy inside some other repo
        commit = git("rev-parse", "--short", "HEAD")
        dirty = bool(git("status", "--porcelain", "--", "."))
    except (OSError, subprocess.SubprocessError):
        return anchormi.__version__
    return f"{anchormi.__version__}+{commit}{'.dirty' if dirty else ''}"


def describe_code_versions(versions: Any) -> str:
    """One line naming the code versions behind cached rows, e.g. "Code: 0.1.0+a4b6aa4 (52 cells)."
    Rows from before the field existed (None, or NaN in a table column) count as 'unrecorded'; more
    than one version is called mixed."""
    counts = pd.Series([version if isinstance(version, str) and version else "unrecorded" for version in versions],
                       dtype=object).value_counts()
    if counts.empty:
        return ""
    text = ", ".join(f"{version} ({count} cells)" for version, count in counts.items())
    return f"Code: {text}{'; mixed: these rows come from different code' if len(counts) > 1 else ''}."
