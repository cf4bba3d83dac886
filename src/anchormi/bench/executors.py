"""Where cells run: in this process, in local worker processes, or on a dask.distributed cluster.

Every executor offers ``run(fn, cells)``, an iterator of ``(cell, outcome, failure)`` in completion
order: ``outcome`` is ``fn(cell)``'s return value, or None and ``failure`` the formatted traceback.
Results come back to the calling process, which writes them (see ``store``), so a remote cluster
needs no shared file system.

Cells run side by side, so each worker uses one torch thread; with several threads per process the
processes would fight over the cores.

No worker outlives the sweep. When the sweep stops early (Ctrl-C, SIGTERM under
``interrupt_on_sigterm``, an exception) the local workers are terminated, not waited for, and a
dask LocalCluster is closed. A local worker whose parent died without cleaning up (SIGKILL) exits
on its own within a second (``_exit_when_orphaned``).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
import time
import traceback
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from typing import Any, Callable, Iterator, Sequence

from .cells import Cell

Outcome = tuple[Cell, Any, "str | None"]


def _format_failure(error: BaseException) -> str:
    return "".join(traceback.format_exception(type(error), error, error.__traceback__)).strip()


def init_worker() -> None:
    """Process initializer: one intra-op (and inter-op) torch thread per worker process."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = "1"
    import torch

    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:  # already set, or inter-op work already started in this process
        pass


def _exit_when_orphaned(parent_pid: int, period: float = 1.0) -> None:
    """Poll (in a daemon thread) whether the parent is gone; then exit this worker at once.

    A process-pool worker blocks forever on its task queue when the parent dies without closing
    the pool (SIGKILL, a crash); without this it would idle on, holding its memory.
    """

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(period)
        os._exit(1)

    threading.Thread(target=watch, name="anchormi-orphan-watch", daemon=True).start()


def init_process_worker(parent_pid: int) -> None:
    """Initializer of local worker processes: one torch thread, exit with the parent, ignore SIGINT.

    Ctrl-C reaches the whole process group; the parent alone decides, and ends its workers.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_when_orphaned(parent_pid)
    init_worker()


@contextlib.contextmanager
def interrupt_on_sigterm() -> Iterator[None]:
    """Within the block, SIGTERM raises KeyboardInterrupt in the main thread, as Ctrl-C does.

    The sweep then stops its workers and keeps the finished cells. Further SIGTERMs while that
    cleanup runs are ignored, so it completes. Outside the main thread this does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    fired = False

    def handler(signum: int, frame: Any) -> None:
        nonlocal fired
        if fired:
            return
        fired = True
        raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _terminate_workers(pool: ProcessPoolExecutor, grace: float = 5.0) -> None:
    """SIGTERM every worker of ``pool``, then SIGKILL those still alive after ``grace`` seconds."""
    terminate = getattr(pool, "terminate_workers", None)  # Python >= 3.14
    if terminate is not None:
        terminate()
        return
    processes = list((getattr(pool, "_processes", None) or {}).values())
    for process in processes:
        if process.is_alive():
            process.terminate()
    deadline = time.monotonic() + grace
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join(1.0)


class SerialExecutor:
    """Runs cells one after another in this process (debugging, tests, tiny sweeps)."""

    description = "this process"

    def run(self, fn: Callable[[Cell], Any], cells: Sequence[Cell]) -> Iterator[Outcome]:
        for cell in cells:
            try:
                outcome = fn(cell)
            except Exception as error:  # noqa: BLE001 - a failed cell must not stop the sweep
                yield cell, None, _format_failure(error)
            else:
                yield cell, outcome, None


class ProcessExecutor:
    """Local worker processes (``concurrent.futures`` with the spawn start method).

    Spawn starts clean interpreters: no inherited torch thread pools or locks, the same on Linux,
    macOS and Windows.
    """

    def __init__(self, workers: int) -> None:
        if not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers={workers!r} is invalid; pass a positive number of worker processes.")
        self.workers = workers
        self.description = f"{workers} local process{'es' if workers > 1 else ''}"

    def run(self, fn: Callable[[Cell], Any], cells: Sequence[Cell]) -> Iterator[Outcome]:
        if not cells:
            return
        pool = ProcessPoolExecutor(
            max_workers=min(self.workers, len(cells)), mp_context=multiprocessing.get_context("spawn"),
            initializer=init_process_worker, initargs=(os.getpid(),),
        )
        finished = False
        try:
            futures: dict[Future, Cell] = {pool.submit(fn, cell): cell for cell in cells}
            for future in as_completed(futures):
                error = future.exception()
                if error is None:
                    yield futures[future], future.result(), None
                else:
                    yield futures[future], None, _format_failure(error)
            finished = True
        finally:
            # Stopped early (Ctrl-C, SIGTERM, an error, the caller closed us): the running cells'
            # results would be thrown away, so end their workers now instead of waiting for them.
            if not finished:
                _terminate_workers(pool)
            pool.shutdown(wait=True, cancel_futures=True)


class DaskExecutor:
    """A dask.distributed cluster: an existing scheduler ``address``, or a LocalCluster of ``n_workers``.

    The LocalCluster has one thread per worker process. Workers must have anchormi installed.
    """

    def __init__(self, address: str | None = None, n_workers: int | None = None) -> None:
        if (address is None) == (n_workers is None):
            raise ValueError("pass exactly one of address (--dask) and n_workers (--dask-local).")
        if n_workers is not None and (not isinstance(n_workers, int) or n_workers < 1):
            raise ValueError(f"--dask-local {n_workers!r} is invalid; pass a positive number of workers.")
        try:
            import distributed  # noqa: F401
        except ImportError as error:
            raise ImportError(
                "the Dask executor needs dask.distributed; install it with: pip install 'anchormi[dask]'"
            ) from error
        self.address = address
        self.n_workers = n_workers
        self.description = f"dask scheduler {address}" if address else f"dask LocalCluster ({n_workers} workers x 1 thread)"

    def run(self, fn: Callable[[Cell], Any], cells: Sequence[Cell]) -> Iterator[Outcome]:
        if not cells:
            return
        from distributed import Client, LocalCluster, as_completed as dask_as_completed

        cluster = None
        if self.address is not None:
            client = Client(self.address)
        else:
            cluster = LocalCluster(n_workers=self.n_workers, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(cluster)
        try:
            if cluster is not None:  # our own workers; a shared cluster's settings are left alone
                client.run(init_worker)
            futures = client.map(fn, list(cells), key=[f"anchormi-cell-{cell.key}" for cell in cells])
            by_key = {future.key: cell for future, cell in zip(futures, cells)}
            for future in dask_as_completed(futures):
                cell = by_key[future.key]
                if future.status == "finished":
                    yield cell, future.result(), None
                else:
                    yield cell, None, _format_failure(future.exception())
        finally:
            client.close()
            if cluster is not None:
                cluster.close()


def make_executor(workers: int | None = None, dask: str | None = None, dask_local: int | None = None):
    """The executor for the command-line flags: --dask ADDRESS, --dask-local N, else --workers N.

    ``workers=0`` runs cells in this process; None uses one process per CPU core.
    """
    if dask is not None and dask_local is not None:
        raise ValueError("pass either --dask ADDRESS or --dask-local N, not both.")
    if dask is not None:
        return DaskExecutor(address=dask)
    if dask_local is not None:
        return DaskExecutor(n_workers=dask_local)
    if workers is None:
        workers = os.cpu_count() or 1
    if workers == 0:
        return SerialExecutor()
    return ProcessExecutor(workers)
