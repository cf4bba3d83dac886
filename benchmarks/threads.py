"""Thread policy: ms per training step with 1 and all torch threads, idle and beside a competing
CPU-bound process, for the default critic and for large ones. Ratios come from the same call.

    python benchmarks/threads.py            # about 2 minutes on 2 cores
    python benchmarks/threads.py --steps 30 # quicker, noisier

The competitor is a second Python process running float32 matrix products on every core (what
another user's job, a parallel test run or a data loader does to a laptop). ``auto`` is the
library's policy (``anchormi.runtime.auto_threads``) for that critic on an idle machine.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import time

import torch

from anchormi import objectives
from anchormi.critics import make_critic
from anchormi.estimator import _flops_per_step
from anchormi.runtime import auto_threads, available_cores, thread_limit
from anchormi.trainer import TrainConfig, epoch_batches, train_streaming

CASES = [  # name, critic, batch, hidden, dim
    ("default separable B=128", "separable", 128, (128, 128), 20),
    ("separable B=512 hidden 512", "separable", 512, (512, 512), 20),
    ("joint B=128 hidden 128", "joint", 128, (128, 128), 20),
    ("separable B=1024 hidden 1024 d=500", "separable", 1024, (1024, 1024), 500),
]


def _burn(stop) -> None:
    torch.set_num_threads(available_cores())
    a = torch.randn(1024, 1024)
    while not stop.is_set():
        a = torch.tanh(a @ a * 1e-3)


def ms_per_step(critic_name: str, batch: int, hidden: tuple[int, ...], dim: int, threads: int, steps: int) -> float:
    torch.manual_seed(0)
    x, y = torch.randn(8 * batch, dim), torch.randn(8 * batch, dim)
    critic = make_critic(critic_name, dim, dim, hidden, 32)
    anchor = objectives.get("anchor")
    config = TrainConfig(max_steps=steps, lr=5e-4)
    with thread_limit(threads):
        batches = epoch_batches(x, y, batch, torch.Generator().manual_seed(0))
        train_streaming(critic, lambda s: anchor.loss(s, **anchor.defaults), batches, TrainConfig(max_steps=3, lr=5e-4))
        started = time.perf_counter()
        train_streaming(critic, lambda s: anchor.loss(s, **anchor.defaults), batches, config)
        return (time.perf_counter() - started) / steps * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    cores = available_cores()
    print(f"{cores} cores; ms per step (ratio to 1 thread on an idle machine)")
    print(f"{'case':38s} {'auto':>5s} | {'idle 1':>8s} {'idle all':>15s} | {'busy 1':>15s} {'busy all':>15s}")
    for name, critic_name, batch, hidden, dim in CASES:
        critic = make_critic(critic_name, dim, dim, hidden, 32)
        auto = auto_threads(_flops_per_step(critic, batch, dim, dim))
        steps = max(5, args.steps // (4 if "1024" in name or "joint" in name else 1))
        idle = {t: ms_per_step(critic_name, batch, hidden, dim, t, steps) for t in (1, cores)}
        # spawn, not fork: a forked child of a process whose OpenMP pool is running can hang.
        context = mp.get_context("spawn")
        stop = context.Event()
        competitor = context.Process(target=_burn, args=(stop,), daemon=True)
        competitor.start()
        time.sleep(3.0)  # the child imports torch before it starts burning
        try:
            busy = {t: ms_per_step(critic_name, batch, hidden, dim, t, steps) for t in (1, cores)}
        finally:
            stop.set()
            competitor.join(timeout=10)
            if competitor.is_alive():
                competitor.terminate()
        base = idle[1]
        print(f"{name:38s} {auto:5d} | {idle[1]:8.2f} {idle[cores]:8.2f} ({idle[cores] / base:4.2f}) | "
              f"{busy[1]:8.2f} ({busy[1] / base:4.2f}) {busy[cores]:8.2f} ({busy[cores] / base:5.2f})", flush=True)


if __name__ == "__main__":
    main()
