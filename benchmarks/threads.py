"""Thread policy: ms per training step with 1 and all torch threads and under the library's
measuring policy (``anchormi.runtime.ThreadGovernor``, "governed"), idle and beside a competing
CPU-bound process, for the default critic and for large ones. Ratios come from the same call.

    python benchmarks/threads.py            # about 3 minutes on 2 cores
    python benchmarks/threads.py --steps 30 # quicker, noisier
    python benchmarks/threads.py --estimate 5000,5   # default estimate(): idle, one thread, busy, busy from mid-call
    python benchmarks/threads.py --bits     # do 1 and 2 threads give the same estimate, bit for bit?

``--estimate N,D`` times the whole default ``anchormi.estimate`` (Gaussian, D + D dimensions,
2 nats, N pairs) in a fresh process on the idle machine (also with one fixed thread), beside the
competitor, and with the competitor starting a third of the idle time into the call, and prints
the ratios to idle (the speed issue's goal: at most 2.5x) and the steps run at each thread
count. Nothing else may run on the machine.

The competitor is a second Python process running float32 matrix products on every core (what
another user's job, a parallel test run or a data loader does to a laptop). The governed column
times ``--steps`` x 4 steps, so its one-thread start and its tries are inside the average.
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
from anchormi.critics import DEFAULT_CRITIC, make_critic
from anchormi.runtime import ThreadGovernor, available_cores, thread_limit
from anchormi.trainer import TrainConfig, epoch_batches, train_streaming
from speed import ms_per_call, stacked_step  # this folder is on sys.path when the script runs

CASES = [  # name, critic, batch, hidden, dim
    (f"default critic ({DEFAULT_CRITIC}) B=128", DEFAULT_CRITIC, 128, (128, 128), 20),
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


def ms_per_step(critic_name: str, batch: int, hidden: tuple[int, ...], dim: int, threads: int | str, steps: int) -> float:
    """ms per step on ``threads`` threads, or under a ThreadGovernor (``threads="governed"``,
    allowed every core, timed from its first step)."""
    governed = threads == "governed"
    with thread_limit(available_cores() if governed else threads):
        governor = ThreadGovernor(available_cores()) if governed else None
        if critic_name == "stacked5":  # cross-fitting's five folds as one model (benchmarks/speed.py)
            step, _ = stacked_step(5, batch=batch, dim=dim, hidden=hidden[0])
            if governor is None:
                return ms_per_call(step, steps, warmup=3)

            def governed_step() -> None:
                with governor.timed():
                    step()

            return ms_per_call(governed_step, steps, warmup=0)
        torch.manual_seed(0)
        x, y = torch.randn(8 * batch, dim), torch.randn(8 * batch, dim)
        critic = make_critic(critic_name, dim, dim, hidden, 32)
        anchor = objectives.get("anchor")
        batches = epoch_batches(x, y, batch, torch.Generator().manual_seed(0))
        if governor is None:  # warm-up steps, untimed
            train_streaming(critic, lambda s: anchor.loss(s, **anchor.defaults), batches, TrainConfig(max_steps=3, lr=5e-4))
        started = time.perf_counter()
        train_streaming(critic, lambda s: anchor.loss(s, **anchor.defaults), batches, TrainConfig(max_steps=steps, lr=5e-4),
                        threads=governor)
        return (time.perf_counter() - started) / steps * 1e3


@contextlib.contextmanager
def competitor(warm: float = 3.0):
    """A second process burning every core with matrix products while the body runs (``warm``
    seconds are left for it to import torch and start burning before the body starts)."""
    # spawn, not fork: a forked child of a process whose OpenMP pool is running can hang.
    context = mp.get_context("spawn")
    stop = context.Event()
    process = context.Process(target=_burn, args=(stop,), daemon=True)
    process.start()
    time.sleep(warm)
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
r = ami.estimate(x, y, seed=0, n_threads={n_threads})
print(time.perf_counter() - started, r.mi, r.info["thread_steps"])
"""


def estimate_seconds(n: int, dim: int, compete_after: float | None = None, n_threads: int | None = None) -> tuple[float, float, str]:
    """Wall seconds, estimate and steps per thread count of one default ``anchormi.estimate``
    call in a fresh process (torch's own thread default left alone, as a new user's script would);
    ``compete_after`` starts the competitor that many seconds into the call; ``n_threads`` fixes
    the count instead of the default policy."""
    code = ESTIMATE_CODE.format(n=n, dim=dim, n_threads=n_threads)
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    if compete_after is None:
        out, _ = process.communicate()
    else:
        time.sleep(compete_after)
        with competitor(warm=0.0):
            out, _ = process.communicate()
    if process.returncode:
        raise SystemExit(f"the timed estimate failed (rc {process.returncode})")
    seconds, mi, steps = out.split(maxsplit=2)
    return float(seconds), float(mi), steps.strip()


def estimate_report(n: int, dim: int) -> None:
    idle, idle_mi, idle_steps = estimate_seconds(n, dim)
    print(f"default estimate(), Gaussian d={dim}+{dim} at 2 nats, N={n:,}:", flush=True)
    print(f"  idle: {idle:.1f} s, estimate {idle_mi:.3f}, steps per thread count {idle_steps}", flush=True)
    one, one_mi, _ = estimate_seconds(n, dim, n_threads=1)
    print(f"  idle, n_threads=1 (the policy before 0.2's thread governor): {one:.1f} s ({idle / one:.2f}x of it for the default), "
          f"estimate {one_mi:.3f}", flush=True)
    with competitor():
        busy, busy_mi, busy_steps = estimate_seconds(n, dim)
    print(f"  beside a competitor: {busy:.1f} s ({busy / idle:.2f}x idle), estimate {busy_mi:.3f}, steps {busy_steps}", flush=True)
    late, late_mi, late_steps = estimate_seconds(n, dim, compete_after=idle / 3)
    print(f"  competitor from {idle / 3:.0f} s into the call: {late:.1f} s ({late / idle:.2f}x idle), estimate {late_mi:.3f}, "
          f"steps {late_steps}", flush=True)


BITS_CASES = [  # hidden, folds, batch: the default critic, then wider ones and larger batches
    ((128, 128), 5, 128),
    ((512, 512), 1, 128),
    ((1024, 1024), 1, 128),
    ((512, 512), 5, 128),
    ((512, 512), 1, 1024),
    ((128, 128), 5, 512),
]


def bits_report(steps: int = 150) -> None:
    """The governor may change the thread count mid-fit, so an estimate is reproducible only if a
    step computes the same bits on one thread and on two. Fits each case with ``n_threads=1`` and
    ``n_threads=2`` (``steps`` steps, Gaussian at 3 nats, N = 8,000) and prints both estimates."""
    import anchormi as ami

    task = ami.tasks.gaussian(dim=50, mi=3.0)
    x, y = task.sample(8_000, seed=4)
    print(f"estimate after {steps} steps with n_threads=1 and 2 (Gaussian d=50+50, N=8,000):")
    for hidden, folds, batch in BITS_CASES:
        estimates = [ami.estimate(x, y, seed=1, max_steps=steps, progress=False, n_threads=n,
                                  hidden=hidden, folds=folds, batch_size=batch).mi for n in (1, 2)]
        print(f"  hidden {hidden}, folds {folds}, B={batch}: {estimates[0]!r} {estimates[1]!r} "
              f"{'same bits' if estimates[0] == estimates[1] else 'DIFFERENT'}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--estimate", metavar="N,D", default=None,
                        help="time the default estimate() on N pairs of D + D dimensions, idle and busy, instead")
    parser.add_argument("--bits", action="store_true", help="compare estimates on 1 and 2 threads bit for bit, instead")
    args = parser.parse_args()
    if args.bits:
        bits_report()
        return
    if args.estimate:
        try:
            n, dim = (int(v) for v in args.estimate.split(","))
        except ValueError:
            parser.error(f"--estimate takes N,D such as 5000,5, not {args.estimate!r}")
        estimate_report(n, dim)
        return
    cores = available_cores()
    print(f"{cores} cores; ms per step (ratio to 1 thread on an idle machine)")
    print(f"{'case':38s} | {'idle 1':>8s} {'idle all':>15s} {'governed':>15s} | {'busy 1':>15s} {'busy all':>15s} {'governed':>15s}")
    for name, critic_name, batch, hidden, dim in CASES:
        steps = max(5, args.steps // (4 if "1024" in name or "joint" in name else 1))
        cases = ((1, steps), (cores, steps), ("governed", 4 * steps))
        idle = {t: ms_per_step(critic_name, batch, hidden, dim, t, n) for t, n in cases}
        with competitor():
            busy = {t: ms_per_step(critic_name, batch, hidden, dim, t, n) for t, n in cases}
        base = idle[1]
        cell = lambda ms: f"{ms:8.2f} ({ms / base:5.2f})"  # noqa: E731
        print(f"{name:38s} | {idle[1]:8.2f} {cell(idle[cores])} {cell(idle['governed'])} | "
              f"{cell(busy[1])} {cell(busy[cores])} {cell(busy['governed'])}", flush=True)


if __name__ == "__main__":
    main()
