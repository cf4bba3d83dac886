"""Process-level helpers every client of the trainer shares: device, threads, progress, warnings.

- :func:`resolve_device` turns "auto" / "cpu" / "cuda" into a ``torch.device`` and fails with a
  ValueError (never a raw AssertionError) when the device does not exist on this machine.
- :func:`thread_limit` applies the thread policy for one fit and restores the caller's setting:
  torch's thread count is process-global state.
- :func:`progress_default` shows bars only to a person at a terminal.
"""

from __future__ import annotations

import contextlib
import os
import sys
from typing import Iterator

import torch


class DivergenceWarning(RuntimeWarning):
    """Training produced a NaN or infinite loss and stopped; finite weights were kept."""


def resolve_device(device: str | torch.device) -> torch.device:
    """"auto" picks CUDA when present, else Apple MPS, else the CPU.

    An explicit device that this torch build or machine lacks raises ValueError saying what to pass.
    """
    if isinstance(device, torch.device):
        resolved = device
    elif device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    else:
        try:
            resolved = torch.device(device)
        except (RuntimeError, TypeError) as error:
            raise ValueError(f"device={device!r} is not a torch device; pass 'auto', 'cpu' or 'cuda'.") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            f"device={str(device)!r} was requested but this torch build or machine has no CUDA device; "
            "pass device='auto' or 'cpu'."
        )
    if resolved.type == "mps" and not (getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()):
        raise ValueError(f"device={str(device)!r} was requested but MPS is not available here; pass device='auto' or 'cpu'.")
    return resolved


def progress_default() -> bool:
    """Bars only for a person at a terminal: off in pipes, CI and tests."""
    return sys.stderr.isatty() and "PYTEST_CURRENT_TEST" not in os.environ


def available_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS, Windows
        return max(1, os.cpu_count() or 1)


# Thread policy, from benchmarks/threads.py on 2 cores (benchmarks/README.md, "Thread policy"):
# with another CPU-bound process on the machine, using every core made a step 2.4-105x slower
# than one thread on an idle machine (61x for the five stacked folds of a default fit), while one
# thread stayed within 1.3-2.4x. On an idle machine a second thread saved 4-10 % for the default
# critic, 30 % for five stacked folds and 40-46 % for critics 40x larger. So small steps always
# get one thread; large steps get the cores that the load average says are free when the fit
# starts (a competitor that starts later is not seen).
FLOPS_FOR_MORE_THREADS = 2.0e8


def free_cores() -> int:
    """Cores not busy according to the 1-minute load average (at least 1)."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # Windows
        return 1
    return max(1, min(available_cores(), int(available_cores() - load + 0.5)))


def auto_threads(flops_per_step: float) -> int:
    """Threads for a step of ``flops_per_step`` multiply-adds: one for small steps; for large ones,
    the free cores, at most one per FLOPS_FOR_MORE_THREADS of work."""
    if flops_per_step < FLOPS_FOR_MORE_THREADS:
        return 1
    return max(1, min(free_cores(), int(flops_per_step // FLOPS_FOR_MORE_THREADS)))


@contextlib.contextmanager
def thread_limit(n_threads: int | None) -> Iterator[int]:
    """Run the body with ``n_threads`` intra-op torch threads, then restore the caller's count.

    None leaves the current setting alone. Yields the count in force.
    """
    previous = torch.get_num_threads()
    if n_threads is None or n_threads == previous:
        yield previous
        return
    torch.set_num_threads(int(n_threads))
    try:
        yield int(n_threads)
    finally:
        torch.set_num_threads(previous)
