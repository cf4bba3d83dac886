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


# Above this many multiply-adds per training step, a second thread pays for its synchronisation
# even on a shared machine; below it, one thread is as fast on an idle machine and 20x faster on
# a busy one. Measured in benchmarks/threads.py (benchmarks/README.md, "Thread policy").
FLOPS_PER_THREAD = 2.0e9


def auto_threads(flops_per_step: float) -> int:
    """Threads for a step of ``flops_per_step`` multiply-adds: 1 for small steps, more as work grows."""
    wanted = int(flops_per_step // FLOPS_PER_THREAD) + 1
    return max(1, min(available_cores(), wanted))


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
