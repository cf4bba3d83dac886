"""Run a sweep: skip finished cells, run the rest on an executor, store each result as it arrives,
then assemble the tables, the summary, the figures and the report from the cell files.

Output folder:
    cells/            one file per finished cell (see ``store``); a rerun skips these
    results.parquet   one row per cell (CSV with format="csv")
    steps.parquet     per-step rows of streaming cells
    summary.csv       bias, sd, RMSE and time per method and task (and level for streaming)
    figures/*.png     staircase, bias vs true MI, error vs N, estimate vs true MI
    report.md         the summary tables and the figures
    sweep.json        the resolved configuration
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import pandas as pd
from tqdm.auto import tqdm

from ..files import atomic_write_text
from ..runtime import progress_default
from .cells import Cell, run_cell
from .config import SweepConfig
from .executors import make_executor
from .store import CellStore
from .summary import rmse_pivot, summarize_fixed, summarize_stream


@dataclass
class SweepOutcome:
    """What a sweep produced.

    Attributes:
        table: one row per finished cell of this sweep.
        steps: per-step rows of streaming cells (empty in fixed mode).
        summary: ``summarize_fixed`` or ``summarize_stream`` of the table.
        rmse: RMSE pivot, methods as rows.
        ran, skipped: cells run now, and cells found finished in the store.
        failures: (cell, traceback) of cells that raised; they are retried on the next run.
        seconds: wall time of the run.
        files: name -> path of everything written.
    """

    table: pd.DataFrame
    steps: pd.DataFrame
    summary: pd.DataFrame
    rmse: pd.DataFrame
    ran: int
    skipped: int
    failures: list[tuple[Cell, str]] = field(default_factory=list)
    seconds: float = 0.0
    files: dict[str, Path] = field(default_factory=dict)


# Relative cost of one step: the joint critic scores all B x B pairs with an MLP, about 8 times
# a separable critic's cost at B = 64, d = 20 (measured with one thread).
_CRITIC_COST = {"joint": 8.0}


def cost_hint(cell: Cell) -> float:
    """Rough relative run time of a cell, for ordering only."""
    steps = len(cell.levels or []) * (cell.steps_per_level or 0) if cell.kind == "stream" else (cell.n or 0)
    return steps * _CRITIC_COST.get(cell.critic, 1.0)


def execute_cells(
    cells: Sequence[Cell],
    store: CellStore,
    executor: Any,
    progress: bool = False,
    cell_fn: Callable[[Cell], Any] = run_cell,
) -> tuple[int, int, list[tuple[Cell, str]]]:
    """Run the cells the store lacks; write each result the moment it arrives.

    Returns (ran, skipped, failures).
    """
    # Longest cells first, so that no long cell starts last while the other workers idle.
    pending = sorted((cell for cell in cells if not store.is_done(cell)), key=cost_hint, reverse=True)
    skipped = len(cells) - len(pending)
    failures: list[tuple[Cell, str]] = []
    bar = tqdm(total=len(cells), initial=skipped, disable=not progress, desc="cells", unit="cell", dynamic_ncols=True)
    results = executor.run(cell_fn, pending)
    try:
        for cell, outcome, failure in results:
            if failure is None:
                store.write(cell, outcome)
            else:
                store.write_failure(cell, failure)
                failures.append((cell, failure))
            bar.update(1)
            bar.set_postfix_str(f"{cell.method_label}/{cell.critic}", refresh=False)
    finally:
        bar.close()
        # If the loop stopped early (Ctrl-C, SIGTERM, a failed write), the executor's cleanup (ending
        # its workers) runs now, not whenever the traceback lets go of the generator.
        close = getattr(results, "close", None)
        if close is not None:
            close()
    return len(pending), skipped, failures


def assemble(cells: Sequence[Cell], store: CellStore) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The results table (one row per finished cell, in sweep order) and the per-step table."""
    records, step_tables = [], []
    for cell in cells:
        if not store.is_done(cell):
            continue
        records.append(store.read_record(cell))
        if cell.kind == "stream":
            steps = store.read_steps(cell)
            steps.insert(0, "key", cell.key)
            step_tables.append(steps)
    table = pd.DataFrame.from_records(records)
    steps = pd.concat(step_tables, ignore_index=True) if step_tables else pd.DataFrame()
    return table, steps


def run_sweep(
    config: SweepConfig,
    out_dir: str | Path | None = None,
    executor: Any = None,
    progress: bool | None = None,
    figures: bool = True,
    command: str | None = None,
    echo: Callable[[str], None] | None = None,
    cell_fn: Callable[[Cell], Any] = run_cell,
) -> SweepOutcome:
    """Run (or resume) the sweep into ``out_dir`` and write the tables, figures and report.

    Args:
        config: what to run; validated before anything starts.
        out_dir: the output folder (default ``config.out``).
        executor: ``SerialExecutor``, ``ProcessExecutor``, ``DaskExecutor`` (default: one local
            process per CPU core).
        progress: progress bar over cells; None shows it only at an interactive terminal.
        figures: write the PNG figures and embed them in the report.
        command: the command line, recorded in the report.
        echo: where to print one-line notes (e.g. ``typer.echo``); None prints nothing.
    """
    from .report import write_outputs

    started = time.perf_counter()
    cells = config.cells()
    out_path = Path(out_dir if out_dir is not None else config.out)
    out_path.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_path / "sweep.json", json.dumps(config.to_dict(), indent=1, default=str))
    executor = executor if executor is not None else make_executor()
    store = CellStore(out_path)
    if echo is not None:
        finished = sum(store.is_done(cell) for cell in cells)
        echo(f"{len(cells)} cells ({finished} already finished) on {getattr(executor, 'description', type(executor).__name__)}; output in {out_path}")
    ran, skipped, failures = execute_cells(
        cells, store, executor, progress=progress_default() if progress is None else progress, cell_fn=cell_fn,
    )
    table, steps = assemble(cells, store)
    if table.empty:
        summary = pd.DataFrame()
    elif config.mode == "fixed":
        summary = summarize_fixed(table)
    else:
        summary = summarize_stream(steps, table, config.steps_per_level, config.burn_in)
    outcome = SweepOutcome(
        table=table, steps=steps, summary=summary, rmse=rmse_pivot(summary, config.mode), ran=ran, skipped=skipped,
        failures=failures, seconds=time.perf_counter() - started,
    )
    outcome.files = write_outputs(outcome, config, out_path, figures=figures, command=command,
                                  executor_description=getattr(executor, "description", ""))
    return outcome


__all__ = ["SweepOutcome", "run_sweep", "execute_cells", "assemble", "cost_hint"]
