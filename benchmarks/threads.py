"""Thread policy: ms per training step with 1 and all torch threads, idle and beside a competing
CPU-bound process, for the default critic and for large ones. Ratios come from the same call.

    python benchmarks/threads.py            # about 2 minutes on 2 cores
    python benchmarks/threads.py --steps 30 # quicker, noisier
    python benchmarks/threads.py --estimate 5000,5   # default estimate(), idle then busy (~2 min)

``--estimate N,D`` times the whole default ``anchormi.estimate`` (Gaussian, D + D dimensions,
2 nats, N pairs) in a fresh process on the idle machine and again beside the competitor, and
prints the ratio (the speed issue's goal: at most 2.5x). Nothing else may run on the machine.

The competitor is a second Python process running float32 matrix products on every core (what
another user's job, a parallel test run or a data loader does to a laptop). ``auto`` is the
library's policy (``anchormi.runtime.auto_threads``) for that critic on an idle machine.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing as mp
import subprocess
import sys
import time

import torch

from anchormi import objectives
from anchormi.critics import make_critic
from anchormi.estimator import _flops_per_step
from anchormi.runtime import auto_threads, available_cores, thread_limit
from anchormi.trainer import TrainConfig, epoch_batches, train_streaming
from speed import ms_per_call, stacked_step  # this folder is on sys.path when the script runs

CASES = [  # name, critic, batch, hidden, dim
    ("default separable B=128", "separable", 128, (128, 128), 20),
    ("5 stacked folds, default, B=128", "stacked5", 128, (128, 128), 20),
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
    if critic_name == "stacked5":  # cross-fitting's five folds as one model (benchmarks/speed.py)
        with thread_limit(threads):
            step, _ = stacked_step(5, batch=batch, dim=dim, hidden=hidden[0])
            return ms_per_call(step, steps, warmup=3)
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


@contextlib.contextmanager
def competitor():
    """A second process burning every core with matrix products while the body runs."""
    # spawn, not fork: a forked child of a process whose OpenMP pool is running can hang.
    context = mp.get_context("spawn")
    stop = context.Event()
    process = context.Process(target=_burn, args=(stop,), daemon=True)
    process.start()
    time.sleep(3.0)  # the child imports torch before it starts burning
    try:
        yield
    finally:
        stop.set()
        process.join(timeout=10)
        if process.is_alive():
            process.terminate()


ESTIMATE_CODE = """
import time, anchormi as ami
x, y = ami.tasks.gaussian(dim={dim}, mi=2.0).sample({n}, seed=0)
started = time.perf_counter()
r = ami.estimate(x, y, seed=0)
print(time.perf_counter() - started, r.mi)
"""


def estimate_seconds(n: int, dim: int) -> tuple[float, float]:
    """Wall seconds and estimate of one default ``anchormi.estimate`` call in a fresh process
    (torch's own thread default left alone, as a new user's script would)."""
    out = subprocess.run([sys.executable, "-c", ESTIMATE_CODE.format(n=n, dim=dim)], check=True,
                         capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1])


def estimate_report(n: int, dim: int) -> None:
    idle, idle_mi = estimate_seconds(n, dim)
    with competitor():
        busy, busy_mi = estimate_seconds(n, dim)
    print(f"default estimate(), Gaussian d={dim}+{dim} at 2 nats, N={n:,}: idle {idle:.1f} s (estimate {idle_mi:.3f}), "
          f"beside a competitor {busy:.1f} s (estimate {busy_mi:.3f}): {busy / idle:.2f}x", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--estimate", metavar="N,D", default=None,
                        help="time the default estimate() on N pairs of D + D dimensions, idle and busy, instead")
    args = parser.parse_args()
    if args.estimate:
        try:
            n, dim = (int(v) for v in args.estimate.split(","))
        except ValueError:
            parser.error(f"--estimate takes N,D such as 5000,5, not {args.estimate!r}")
        estimate_report(n, dim)
        return
    cores = available_cores()
    print(f"{cores} cores; ms per step (ratio to 1 thread on an idle machine)")
    print(f"{'case':38s} {'auto':>5s} | {'idle 1':>8s} {'idle all':>15s} | {'busy 1':>15s} {'busy all':>15s}")
    for name, critic_name, batch, hidden, dim in CASES:
        members = 5 if critic_name == "stacked5" else 1
        critic = make_critic("separable" if members > 1 else critic_name, dim, dim, hidden, 32)
        auto = auto_threads(members * _flops_per_step(critic, batch, dim, dim))  # as MIEstimator.fit counts folds
        steps = max(5, args.steps // (4 if "1024" in name or "joint" in name else 1))
        idle = {t: ms_per_step(critic_name, batch, hidden, dim, t, steps) for t in (1, cores)}
        with competitor():
            busy = {t: ms_per_step(critic_name, batch, hidden, dim, t, steps) for t in (1, cores)}
        base = idle[1]
        print(f"{name:38s} {auto:5d} | {idle[1]:8.2f} {idle[cores]:8.2f} ({idle[cores] / base:4.2f}) | "
              f"{busy[1]:8.2f} ({busy[1] / base:4.2f}) {busy[cores]:8.2f} ({busy[cores] / base:5.2f})", flush=True)


if __name__ == "__main__":
    main()
