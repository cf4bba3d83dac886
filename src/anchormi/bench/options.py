"""The command-line options the experiment commands share, defined once.

``anchormi bench`` and ``anchormi reproduce staircase | images`` take the same run options: where
cells run (``--workers``, ``--dask``, ``--dask-local``), the table format, figures and the progress
bar. ``@run_options`` adds that block to a typer command and hands the values over as one
``RunOptions``::

    @run_options
    def bench(..., run: RunOptions) -> None:
        executor = run.executor()

``anchormi reproduce ssl | pmi`` train in this process, so they use only ``SeedsOption`` and
``ProgressOption``. ``--seeds`` means one thing everywhere: a comma-separated list of seeds.
"""

from __future__ import annotations

import functools
import inspect
import shlex
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Annotated, Any, Callable, Optional

import typer

__all__ = [
    "RunOptions", "run_options", "SeedsOption", "ProgressOption", "comma_list", "parse_seeds", "command_line",
]

WorkersOption = Annotated[Optional[int], typer.Option(
    "--workers", help="local worker processes (default: one per CPU core; 0 runs in this process).")]
DaskOption = Annotated[Optional[str], typer.Option(
    "--dask", help="run on a dask.distributed scheduler at this address, e.g. tcp://host:8786.")]
DaskLocalOption = Annotated[Optional[int], typer.Option(
    "--dask-local", help="start a dask LocalCluster with this many single-thread workers.")]
FormatOption = Annotated[Optional[str], typer.Option(
    "--format", help="results table format: parquet (default) | csv.")]
FiguresOption = Annotated[bool, typer.Option("--figures/--no-figures", help="write the PNG figures.")]
ProgressOption = Annotated[Optional[bool], typer.Option(
    "--progress/--no-progress", help="progress bar (default: only at an interactive terminal).")]
SeedsOption = Annotated[Optional[str], typer.Option(
    "--seeds", help="comma-separated seeds, e.g. 0,1,2 (a single number is one seed, not a count).")]


@dataclass(frozen=True)
class RunOptions:
    """The values of the shared run options (None: the command's default)."""

    workers: Optional[int] = None
    dask: Optional[str] = None
    dask_local: Optional[int] = None
    format: Optional[str] = None
    figures: bool = True
    progress: Optional[bool] = None

    def executor(self):
        """The executor these options ask for (see ``executors.make_executor``)."""
        from .executors import make_executor

        return make_executor(workers=self.workers, dask=self.dask, dask_local=self.dask_local)


_RUN_PARAMETERS = {
    "workers": (WorkersOption, None), "dask": (DaskOption, None), "dask_local": (DaskLocalOption, None),
    "format": (FormatOption, None), "figures": (FiguresOption, True), "progress": (ProgressOption, None),
}
assert set(_RUN_PARAMETERS) == {field.name for field in fields(RunOptions)}


def run_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Add the shared run options to a typer command whose last parameter is ``run: RunOptions``."""
    signature = inspect.signature(command, eval_str=True)
    own = [parameter for name, parameter in signature.parameters.items() if name != "run"]
    if len(own) == len(signature.parameters):
        raise TypeError(f"{command.__name__} needs a parameter run: RunOptions to receive the shared options.")
    added = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
        for name, (annotation, default) in _RUN_PARAMETERS.items()
    ]

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        run = RunOptions(**{name: kwargs.pop(name) for name in _RUN_PARAMETERS if name in kwargs})
        return command(*args, run=run, **kwargs)

    parameters = [parameter.replace(kind=inspect.Parameter.KEYWORD_ONLY) for parameter in own] + added
    wrapper.__signature__ = signature.replace(parameters=parameters)
    # Resolved objects, not the strings of `from __future__ import annotations`: typer reads these.
    wrapper.__annotations__ = {parameter.name: parameter.annotation for parameter in parameters}
    return wrapper


def comma_list(text: Optional[str], cast: Callable[[str], Any], option: str) -> Optional[list]:
    """'0,1,2' -> [0, 1, 2] with ``cast``; None stays None. Bad items raise typer.BadParameter."""
    if text is None:
        return None
    try:
        values = [cast(item.strip()) for item in text.split(",") if item.strip()]
    except ValueError as error:
        raise typer.BadParameter(f"{option} {text!r}: {error}") from error
    if not values:
        raise typer.BadParameter(f"{option} {text!r} is empty; pass comma-separated values.")
    return values


def parse_seeds(text: Optional[str], option: str = "--seeds") -> Optional[list[int]]:
    """'0,1,2' -> [0, 1, 2]: the seeds themselves, never a count. Negative seeds are refused."""
    seeds = comma_list(text, int, option)
    if seeds is not None and any(seed < 0 for seed in seeds):
        raise typer.BadParameter(f"{option} {text!r}: seeds must be non-negative integers, e.g. 0,1,2.")
    return seeds


def command_line(name: str) -> str:
    """The command as typed when run as the ``anchormi`` program, else ``name``."""
    program = Path(sys.argv[0]).name if sys.argv else ""
    if program == "anchormi":
        return shlex.join(["anchormi", *sys.argv[1:]])
    return name
