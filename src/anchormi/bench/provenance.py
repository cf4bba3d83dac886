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


def source_commit(folder: Path) -> str | None:
    """The short hash of the last commit that changed anything under ``folder``, with ``.dirty``
    when files there have uncommitted changes; None when ``folder`` is not tracked by git (an
    installed package). Commits elsewhere in the repository (docs, benchmarks) do not change it.
    """

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(folder), *args], capture_output=True, text=True,
                              timeout=10, check=True).stdout.strip()

    try:
        if not git("ls-files", "--", "."):  # nothing tracked here: not a checkout of this folder
            return None
        commit = git("log", "-1", "--format=%h", "--", ".") or git("rev-parse", "--short", "HEAD")
        dirty = bool(git("status", "--porcelain", "--", "."))
    except (OSError, subprocess.SubprocessError):
        return None
    return f"{commit}{'.dirty' if dirty else ''}"


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    """anchormi's version, plus the last commit of its source when it runs from a checkout
    (``0.1.0+a4b6aa4``, with ``.dirty`` when the package's files have uncommitted changes;
    :func:`source_commit`).

    Cached results (coverage cells, conditional rows, sweep cells) record it, so a reader can tell
    which code produced a row after a change, and a commit that touches only docs leaves it
    unchanged; an installed package without git reports the version alone.
    """
    import anchormi

    commit = source_commit(Path(anchormi.__file__).resolve().parent)
    return anchormi.__version__ if commit is None else f"{anchormi.__version__}+{commit}"


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
