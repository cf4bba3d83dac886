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

# Names load on first use, so that `anchormi --help` does not import torch through this package.
_SOURCES = {
    'Cell': '.cells',
    'run_cell': '.cells',
    'SweepConfig': '.config',
    'load_config': '.config',
    'DaskExecutor': '.executors',
    'ProcessExecutor': '.executors',
    'SerialExecutor': '.executors',
    'make_executor': '.executors',
    'SweepOutcome': '.runner',
    'run_sweep': '.runner',
    'summarize_fixed': '.summary',
    'summarize_stream': '.summary',
}

__all__ = [
    "Cell", "run_cell", "SweepConfig", "load_config", "SerialExecutor", "ProcessExecutor", "DaskExecutor",
    "make_executor", "SweepOutcome", "run_sweep", "summarize_fixed", "summarize_stream",
]



def __getattr__(name: str):
    if name in _SOURCES:
        import importlib

        return getattr(importlib.import_module(_SOURCES[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
