"""The cell store: one file per finished cell, written atomically, so a killed sweep resumes.

Layout under ``<out>/cells/``:
    <key>.json           the record (and the cell that produced it); its presence marks the cell done
    <key>.steps.parquet  per-step rows of a streaming cell, written before the JSON
    <key>.failed.json    the traceback of a failed cell; not "done", so a rerun retries it
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pandas as pd

from ..files import atomic_write_bytes, atomic_write_table
from .cells import Cell


class CellStore:
    """Finished cells of a sweep on disk, keyed by ``Cell.key``."""

    def __init__(self, out_dir: str | os.PathLike) -> None:
        self.root = Path(out_dir) / "cells"

    def record_path(self, cell: Cell) -> Path:
        return self.root / f"{cell.key}.json"

    def steps_path(self, cell: Cell) -> Path:
        return self.root / f"{cell.key}.steps.parquet"

    def failure_path(self, cell: Cell) -> Path:
        return self.root / f"{cell.key}.failed.json"

    def is_done(self, cell: Cell) -> bool:
        if not self.record_path(cell).exists():
            return False
        return cell.kind != "stream" or self.steps_path(cell).exists()

    def write(self, cell: Cell, outcome: dict[str, Any]) -> None:
        """Store ``run_cell``'s outcome: steps first, then the record that marks the cell done."""
        if outcome.get("steps") is not None:
            atomic_write_table(self.steps_path(cell), outcome["steps"])
        payload = {"cell": cell.to_dict(), "record": outcome["record"]}
        atomic_write_bytes(self.record_path(cell), json.dumps(payload, indent=1, default=str).encode())
        self.failure_path(cell).unlink(missing_ok=True)

    def write_failure(self, cell: Cell, message: str) -> None:
        payload = {"cell": cell.to_dict(), "error": message}
        atomic_write_bytes(self.failure_path(cell), json.dumps(payload, indent=1, default=str).encode())

    def read_record(self, cell: Cell) -> dict[str, Any]:
        with open(self.record_path(cell)) as handle:
            return json.load(handle)["record"]

    def read_steps(self, cell: Cell) -> pd.DataFrame:
        return pd.read_parquet(self.steps_path(cell))
