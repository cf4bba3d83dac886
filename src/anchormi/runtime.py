"""Process-level helpers every client of the trainer shares: device, threads, progress, warnings.

- :func:`resolve_device` turns "auto" / "cpu" / "cuda" into a ``torch.device`` and fails with a
  ValueError (never a raw AssertionError) when the device does not exist on this machine.
- :func:`thread_policy` applies the thread policy for one fit (a fixed count, or a
  :class:`ThreadGovernor` that measures) and restores the caller's setting: torch's thread count
  is process-global state. :func:`thread_limit` fixes a count for a block.
- :func:`progress_default` shows bars only to a person at a terminal.
"""

from __future__ import annotations

import collections
import contextlib
import math
import os
import statistics
import sys
import time
from typing import Callable, Iterator

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
# thread stayed within 1.3-2.4x; on an idle machine a second thread saved 4-10 % for the default
# critic, 30 % for five stacked folds and 40-46 % for critics 40x larger. No rule fixed at the
# start can have both (a competitor may start after the fit does), so the count is measured: a
# fit starts on one thread and a ThreadGovernor times its optimiser steps, tries more threads,
# keeps them only while they are faster, and drops back to one thread within a few steps when they
# stop being faster.


class ThreadGovernor:
    """Chooses torch's intra-op thread count during a fit by timing the optimiser steps.

    Levels 1, 2, 4, ... up to ``most`` threads. The fit starts on one thread; after ``window``
    timed steps at the current level, the next level is tried for ``window`` steps and kept when
    its median step is at least ``gain`` times faster. While on more than one thread, ``strikes``
    consecutive steps slower than ``slow`` times one thread's recent median (a competing process
    has taken a core: oversubscribed thread pools then cost 2-100x) send the fit back to one
    thread at once; a failed or abandoned try is repeated after an interval that doubles each
    time, so a busy machine pays for a few slow steps per try and a handful of tries per fit.

    A kept level is checked again every ``check_every`` steps: one thread runs for ``window`` steps,
    and the kept level returns only if its median over its latest ``window`` steps is still no
    slower than that fresh one-thread median; otherwise the fit stays on one thread (keeping needs
    less than trying did, so noise around the ``gain`` line does not make an idle fit flip back and
    forth). This catches what the strikes cannot: a competitor that makes more threads slower than
    one, but by less than ``slow`` times one thread's time (five stacked default critics beside a
    competitor on 2 cores: 15.4 ms a step on two threads, 11.6 on one; benchmarks/threads.py), and a
    try that a lucky window kept. On an idle machine a check costs ``window`` + 1 one-thread steps
    per ``check_every``.

    Threads change where the work runs, not what it computes: for the default critic the losses
    and weights are bit for bit those of one thread (tests/test_threads.py).
    The first step after a change is not timed (the thread pool starts up).

    ``clock`` and ``set_threads`` are injectable for tests.
    """

    def __init__(self, most: int, window: int = 20, gain: float = 0.9, slow: float = 2.0, strikes: int = 3,
                 first_retry: int = 500, check_every: int = 1_000, clock: Callable[[], float] = time.perf_counter,
                 set_threads: Callable[[int], None] = torch.set_num_threads):
        if most < 1:
            raise ValueError(f"most={most!r} is invalid; pass at least one thread.")
        self.levels = [1]
        while self.levels[-1] * 2 < most:
            self.levels.append(self.levels[-1] * 2)
        if most > 1:
            self.levels.append(int(most))
        self.window, self.gain, self.slow, self.strikes = window, gain, slow, strikes
        self.first_retry = self.retry = first_retry
        self.check_every = check_every
        self._clock, self._set_threads = clock, set_threads
        self.level = 0  # index into levels
        # The level the governor returns to when a try fails. A try runs at kept + 1; a check of a
        # kept level above one thread runs at level 0.
        self.kept = 0
        self.times: dict[int, collections.deque] = {level: collections.deque(maxlen=window) for level in range(len(self.levels))}
        self.steps: dict[int, int] = {threads: 0 for threads in self.levels}
        self.count, self.next_try, self.next_check, self.slow_run, self.untimed = 0, window, math.inf, 0, True
        self._set_threads(1)

    @property
    def threads(self) -> int:
        """The thread count in force."""
        return self.levels[self.level]

    @property
    def trying(self) -> bool:
        """A higher level is on trial."""
        return self.level > self.kept

    @property
    def checking(self) -> bool:
        """One thread is being timed again to check that the kept level still pays."""
        return self.level < self.kept

    def summary(self) -> dict[int, int]:
        """Optimiser steps run at each thread count (counts of 0 left out)."""
        return {threads: steps for threads, steps in self.steps.items() if steps}

    @contextlib.contextmanager
    def timed(self) -> Iterator[None]:
        """Time the body (one optimiser step) and decide the thread count for the next one."""
        started = self._clock()
        yield
        self._record(self._clock() - started)

    def _median(self, level: int) -> float:
        return statistics.median(self.times[level]) if self.times[level] else math.inf

    def _switch(self, level: int) -> None:
        self.level, self.untimed, self.slow_run = level, True, 0
        self.times[level].clear()
        self._set_threads(self.levels[level])

    def _wait_longer(self) -> None:
        """The next try after the current wait, and a wait twice as long (at most 64x the first) after it."""
        self.next_try, self.retry = self.count + self.retry, min(self.retry * 2, 64 * self.first_retry)

    def _give_up(self) -> None:
        """Back to one thread (or the kept level after a try); try again after a longer wait."""
        self._wait_longer()
        self._switch(self.kept)

    def _record(self, seconds: float) -> None:
        self.count += 1
        self.steps[self.threads] += 1
        if self.untimed:
            self.untimed = False
            return
        self.times[self.level].append(seconds)
        if self.level > 0:
            # Slower than one thread was: a competitor has taken a core (or the try does not pay).
            reference = self._median(0)
            self.slow_run = self.slow_run + 1 if seconds > self.slow * reference else 0
            if self.slow_run >= self.strikes:
                self.kept = 0
                self._give_up()
                return
        if len(self.times[self.level]) < self.window:
            return
        if self.trying:
            if self._median(self.level) <= self.gain * self._median(self.kept):
                self.kept, self.retry = self.level, self.first_retry
                self.next_try, self.next_check = self.count + self.window, self.count + self.check_every
            else:
                self._give_up()
            return
        if self.checking:
            # The kept level's latest window against one thread's, timed just now.
            if self._median(self.kept) <= self._median(0):
                self.next_check = self.count + self.check_every
                self._switch(self.kept)
            else:  # stay on one thread, keeping the window just timed there
                self.kept = 0
                self._wait_longer()
            return
        if self.level + 1 < len(self.levels) and self.count >= self.next_try:
            self._switch(self.level + 1)
        elif self.level > 0 and self.count >= self.next_check:
            self._switch(0)


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


@contextlib.contextmanager
def thread_policy(n_threads: int | None, device: torch.device, adaptive: bool = True) -> Iterator[ThreadGovernor | None]:
    """The thread policy of one fit; the caller's thread count is restored afterwards.

    On the CPU, ``n_threads`` fixes the count; None yields a :class:`ThreadGovernor` for the
    training loop, allowed up to the caller's current count and the cores this process may use
    (so ``OMP_NUM_THREADS=1`` or ``torch.set_num_threads(1)`` keeps one thread). ``adaptive=False``
    (processes of a distributed job, which wait on each other every step) keeps one thread.
    Off the CPU nothing changes and None is yielded.
    """
    if device.type != "cpu":
        yield None
        return
    fixed = n_threads is not None or not adaptive
    most = min(torch.get_num_threads(), available_cores())
    # The governor starts on one thread and never passes the caller's count, so thread_limit's
    # restore covers whatever it sets.
    with thread_limit(int(n_threads or 1) if fixed else 1):
        yield None if fixed else ThreadGovernor(most)
