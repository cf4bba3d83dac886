"""The thread policy: a ThreadGovernor driven by a simulated clock, and a real fit that switches
threads mid-training and still gives the one-thread estimate bit for bit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import anchormi as ami
from anchormi import runtime
from anchormi.runtime import ThreadGovernor, thread_limit, thread_policy


class SimulatedMachine:
    """Step times by thread count; ``busy`` switches to the times beside a competing process.

    The ratios are those benchmarks/threads.py measured for five stacked default critics on 2
    cores: idle 4.76 ms on one thread and 3.34 on two; busy 11.4 and 290.
    """

    def __init__(self, idle: dict[int, float], busy: dict[int, float] | None = None):
        self.idle, self.busy_times, self.busy = idle, busy or idle, False
        self.now, self.threads, self.calls = 0.0, None, []

    def set_threads(self, threads: int) -> None:
        self.threads = threads
        self.calls.append(threads)

    def clock(self) -> float:
        return self.now

    def run(self, governor: ThreadGovernor, steps: int) -> list[int]:
        """Threads in force at each step."""
        used = []
        for _ in range(steps):
            used.append(self.threads)
            with governor.timed():
                self.now += (self.busy_times if self.busy else self.idle)[self.threads]
        return used


def governed(machine: SimulatedMachine, most: int = 2, **options) -> ThreadGovernor:
    return ThreadGovernor(most, clock=machine.clock, set_threads=machine.set_threads, **options)


IDLE = {1: 4.76e-3, 2: 3.34e-3}
BUSY = {1: 11.4e-3, 2: 290e-3}


def one_thread_runs(used: list[int]) -> list[tuple[int, int]]:
    """(first step, length) of each run of steps on one thread."""
    runs, start = [], None
    for step, threads in enumerate(used + [None]):
        if threads == 1 and start is None:
            start = step
        elif threads != 1 and start is not None:
            runs.append((start, step - start))
            start = None
    return runs


def test_idle_machine_moves_to_two_threads_after_one_try():
    machine = SimulatedMachine(IDLE)
    governor = governed(machine)
    used = machine.run(governor, 5_000)
    assert machine.calls[0] == 1  # every fit starts on one thread
    assert governor.threads == 2
    # one window on one thread (plus the untimed first step), then two threads, except for a
    # check of one window on one thread every check_every steps, each of which keeps two threads
    runs = one_thread_runs(used)
    assert runs[0] == (0, governor.window + 1)
    kept_at = 2 * (governor.window + 1)  # the try: an untimed step and one window on two threads
    assert [start for start, _ in runs[1:]] == [kept_at + k * (governor.check_every + governor.window + 1) + governor.check_every
                                                for k in range(len(runs) - 1)]
    assert len(runs) - 1 == (5_000 - kept_at) // (governor.check_every + governor.window + 1)
    assert all(length == governor.window + 1 for _, length in runs[1:])
    assert used.count(2) / len(used) > 0.97


def test_competitor_that_makes_two_threads_mildly_slower_is_caught_by_the_check():
    # Two threads beside a competitor: slower than one, but by less than the strikes' 2x line,
    # after a try that a lucky window kept (two threads looked faster for its 20 steps).
    lucky, mild = {1: 11.6e-3, 2: 8.0e-3}, {1: 11.6e-3, 2: 15.4e-3}
    machine = SimulatedMachine(lucky, mild)
    governor = governed(machine)
    machine.run(governor, 2 * (governor.window + 1))
    assert governor.threads == 2 and governor.kept == 1
    machine.busy = True
    used = machine.run(governor, 10_000)
    # within one check interval (plus a window) the fit is back on one thread and stays there,
    # but for its retries: each costs one untimed step and one window on two threads
    assert used[governor.check_every + governor.window + 1:].count(2) <= 6 * (governor.window + 1)
    seconds = sum(mild[t] for t in used)
    assert seconds < 1.1 * 10_000 * mild[1]  # within 10 % of one thread throughout
    assert governor.summary()[1] > governor.summary()[2]


def test_competitor_starting_mid_fit_sends_it_back_to_one_thread_within_the_strikes():
    machine = SimulatedMachine(IDLE, BUSY)
    governor = governed(machine)
    machine.run(governor, 300)
    assert governor.threads == 2
    machine.busy = True
    used = machine.run(governor, 10_000)
    # the first slow step is untimed only after a change; here it counts: strikes steps on two
    assert used[: governor.strikes] == [2] * governor.strikes
    assert used[governor.strikes] == 1
    # later tries on a busy machine each cost at most the untimed step plus the strikes, and they
    # grow rarer (the wait doubles): a handful in 10,000 steps
    slow_steps = used.count(2)
    tries = (slow_steps - governor.strikes) / (governor.strikes + 1)
    assert tries == int(tries) and 1 <= tries <= 6
    busy_seconds = sum(BUSY[t] for t in used)
    assert busy_seconds < 1.1 * 10_000 * BUSY[1]  # within 10 % of staying on one thread throughout


def test_machine_freed_again_is_used_again():
    machine = SimulatedMachine(IDLE, BUSY)
    machine.busy = True
    governor = governed(machine)
    machine.run(governor, 3_000)
    assert governor.threads == 1
    machine.busy = False
    machine.run(governor, 20_000)
    assert governor.threads == 2


def test_no_gain_keeps_one_thread():
    machine = SimulatedMachine({1: 1.51e-3, 2: 1.45e-3})  # the single default critic: 4 % faster
    governor = governed(machine)
    used = machine.run(governor, 5_000)
    assert governor.threads == 1
    assert used.count(2) <= 6 * (governor.window + 1)


def test_ladder_climbs_while_more_threads_pay_and_never_past_most():
    machine = SimulatedMachine({1: 10e-3, 2: 6e-3, 4: 4e-3, 6: 3.9e-3})
    governor = governed(machine, most=6)
    assert governor.levels == [1, 2, 4, 6]
    machine.run(governor, 2_000)
    assert governor.threads == 4  # 6 threads are not 10 % faster than 4
    assert max(machine.calls) == 6


def test_one_allowed_thread_never_tries_more():
    machine = SimulatedMachine({1: 1e-3})
    governor = governed(machine, most=1)
    machine.run(governor, 500)
    assert set(machine.calls) == {1}


def test_bad_thread_count_is_a_value_error():
    with pytest.raises(ValueError, match="at least one thread"):
        ThreadGovernor(0)


def test_policy_restores_the_callers_count():
    with thread_limit(2):
        with thread_policy(None, torch.device("cpu")) as governor:
            assert governor is not None and torch.get_num_threads() == 1
            torch.set_num_threads(2)
        assert torch.get_num_threads() == 2
        with thread_policy(1, torch.device("cpu")) as governor:
            assert governor is None and torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
        with thread_policy(None, torch.device("cpu"), adaptive=False) as governor:
            assert governor is None and torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2


@pytest.mark.skipif(runtime.available_cores() < 2, reason="needs two cores")
def test_fit_that_switches_threads_gives_the_one_thread_estimate_bit_for_bit(monkeypatch):
    """Threads change where the arithmetic runs, not its result, for the default critic."""
    x, y = ami.tasks.get("gaussian", dim=3, mi=1.0).sample(1_200, seed=4)
    options = dict(max_steps=300, folds=2, n_permutations=0, seed=1)
    one = ami.MIEstimator(n_threads=1, **options).fit(x, y)

    class Faster(ThreadGovernor):  # a clock on which two threads look 40 % faster
        def __init__(self, most):
            ticks = {"now": 0.0}

            def clock():
                ticks["now"] += 0.5 if torch.get_num_threads() == 1 else 0.3
                return ticks["now"]

            super().__init__(most, window=10, clock=clock)

    monkeypatch.setattr(runtime, "ThreadGovernor", Faster)
    with thread_limit(2):
        governed_fit = ami.MIEstimator(**options).fit(x, y)
        assert torch.get_num_threads() == 2
    steps = governed_fit.result_.info["thread_steps"]
    assert steps[1] == 11 and steps[2] > 250 and governed_fit.n_threads_ == 2
    assert governed_fit.result_.mi == one.result_.mi
    np.testing.assert_array_equal(governed_fit.heldout_pmi_["pmi"], one.heldout_pmi_["pmi"])
