"""Benchmarks with known MI: sweeps of tasks x methods x critics x seeds x N, run as independent cells.

    >>> from anchormi.bench import SweepConfig, run_sweep
    >>> config = SweepConfig(tasks=["gaussian:dim=20,mi=[2,6,10]"], methods=["anchor", "infonce"], n=[5000])
    >>> outcome = run_sweep(config, out_dir="bench_output")        # doctest: +SKIP
    >>> outcome.table, outcome.summary                              # doctest: +SKIP

Two kinds of cell:
- fixed-N: draw N pairs from a task and call ``anchormi.estimate`` (exactly what a user calls);
- streaming: the staircase protocol, ``MIEstimator.fit_stream`` with a fresh batch every step.

Every finished cell is written atomically to ``<out>/cells/<key>.json``; a rerun skips finished
cells, so a killed sweep resumes. Cells run in local processes (default), in this process, or on a
dask.distributed cluster (see ``executors``). The command line is ``anchormi bench`` and
``anchormi reproduce staircase|images``.
"""

from .cells import Cell, run_cell
from .config import SweepConfig, load_config
from .executors import DaskExecutor, ProcessExecutor, SerialExecutor, make_executor
from .runner import SweepOutcome, run_sweep
from .summary import summarize_fixed, summarize_stream

__all__ = [
    "Cell", "run_cell", "SweepConfig", "load_config", "SerialExecutor", "ProcessExecutor", "DaskExecutor",
    "make_executor", "SweepOutcome", "run_sweep", "summarize_fixed", "summarize_stream",
]
