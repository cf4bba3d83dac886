"""Training-step speed of anchormi against a minimal hand-written torch loop, in one process.

Prints, for each critic at B in {64, 256}:
- ms per training step through the library's loop (anchormi.trainer.train_with_validation with the
  registered anchor objective, exactly what MIEstimator.fit runs);
- ms per step of a minimal hand-written loop with the same model, loss and optimiser;
- their ratio (framework overhead; 1.00 means none);
the factorised joint critic against a naive concatenation of all B^2 pairs; and, for the default
critic at B = 128, F = 1 and F = 5 critics trained as one stacked model (cross-fitting's
folds): ms per step, the F = 5 / F = 1 ratio, the arithmetic rate against the fp32 matmul peak
measured in the same run, and the share of the step spent in matrix products (torch.profiler);
the stacked weights' memory layout; AdamW's update; and the normal-scores map's transform
against scikit-learn's.

    python benchmarks/speed.py            # 2 cores, about a minute
    python benchmarks/speed.py --steps 50 # quicker, noisier
    python benchmarks/speed.py --compile  # also torch.compile of the F = 5 step against eager
    python benchmarks/speed.py --against 336f684   # only the F = 1 and F = 5 steps, against that revision

``--against REV`` checks REV out into a temporary git worktree and times the stacked steps
(F = 1 and F = 5, the default critic, B = 128) of REV and of this checkout in alternating fresh
processes, on one thread and on two: medians over ``--rounds`` rounds, this checkout's time as a
ratio of REV's, and whether both trained the same weights bit for bit. Alternating rounds matter on
a machine whose speed drifts (a shared host): each round sees both versions at nearly the same time.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch
from torch import nn

from anchormi import objectives
from anchormi.critics import DEFAULT_CRITIC, JointCritic, StackedCritic, make_critic, mlp
from anchormi.readouts import heldout_loss
from anchormi.trainer import TrainConfig, epoch_batches, make_optimizer, train_with_validation

DIM = 20


def data(n: int = 8_192, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(n, DIM, generator=generator)
    return x, 0.8 * x + 0.6 * torch.randn(n, DIM, generator=generator)


def library_ms(critic: nn.Module, batch: int, steps: int) -> float:
    x, y = data()
    anchor = objectives.get("anchor")
    batches = epoch_batches(x, y, batch, torch.Generator().manual_seed(0))

    # Held-out evaluation happens once at step 0; time only the steps by subtracting a 1-step run.
    def run(n_steps: int) -> float:
        config = TrainConfig(max_steps=n_steps, lr=5e-4, eval_every=n_steps + 1, patience=n_steps + 1, progress=False)
        started = time.perf_counter()
        train_with_validation(
            critic, lambda scores: anchor.loss(scores, **anchor.defaults), batches, config,
            lambda model: (heldout_loss(model, anchor, anchor.defaults, x[:batch], y[:batch], batch), 0.0),
        )
        return time.perf_counter() - started

    run(5)  # warm-up
    return (run(steps + 1) - run(1)) / steps * 1e3


def hand_written_ms(critic: nn.Module, batch: int, steps: int) -> float:
    """The smallest honest loop: random batch, score matrix, anchor loss (the library's nu, K=B-1), Adam step."""
    x, y = data()
    optimizer = torch.optim.AdamW(critic.parameters(), lr=5e-4, weight_decay=0.0)
    generator = torch.Generator().manual_seed(0)
    nu = objectives.get("anchor").defaults["nu"]
    rows = (torch.arange(batch)[:, None] + torch.arange(1, batch)[None, :]) % batch

    def step() -> None:
        index = torch.randint(0, x.shape[0], (batch,), generator=generator)
        scores = critic.pairwise(x[index], y[index])
        negatives = scores.t().gather(1, rows)
        k = batch - 1
        log_nu = torch.full((batch,), math.log(nu))
        positive = torch.logaddexp(torch.logsumexp(torch.cat([scores.diagonal()[:, None], negatives[:, : k - 1]], 1), 1),
                                   log_nu) - scores.diagonal()
        anchor = torch.logaddexp(torch.logsumexp(negatives, 1), log_nu) - log_nu
        loss = (k / (k + nu) * positive + nu / (k + nu) * anchor).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()

    for _ in range(5):
        step()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - started) / steps * 1e3


class NaiveJoint(nn.Module):
    """MLP on explicitly concatenated [x_i, y_j] for all B^2 pairs (the unfactorised baseline)."""

    def __init__(self, dim: int, hidden=(128, 128)):
        super().__init__()
        self.dim = dim
        self.net = mlp(2 * dim, hidden, 1)

    def pairwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        batch = x.shape[0]
        pairs = torch.cat([x[:, None, :].expand(batch, batch, self.dim), y[None, :, :].expand(batch, batch, self.dim)], -1)
        return self.net(pairs).squeeze(-1)


def forward_backward_ms(critic: nn.Module, batch: int, steps: int, dim: int = DIM) -> float:
    x, y = torch.randn(batch, dim), torch.randn(batch, dim)
    for repeat in range(steps + 5):
        if repeat == 5:
            started = time.perf_counter()
        critic.pairwise(x[:batch], y[:batch]).logsumexp(0).mean().backward()
    return (time.perf_counter() - started) / steps * 1e3


def matmul_peak_gflops(size: int = 1024, repeats: int = 20) -> float:
    """fp32 GFLOP/s of one large square matrix product on this process's threads."""
    a, b = torch.randn(size, size), torch.randn(size, size)
    for _ in range(3):
        a @ b
    started = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * size**3 * repeats / (time.perf_counter() - started) / 1e9


def stacked_step(members: int, batch: int = 128, dim: int = DIM, hidden: int = 128, embed: int = 32, batched: bool = True,
                 compiled: bool = False, foreach: bool = True):
    """One training step of ``members`` critics of the default kind (``DEFAULT_CRITIC``, a separable
    one) as one StackedCritic (the cross-fitting model), with the anchor loss over members as the
    estimator builds it, and the library's AdamW (``make_optimizer``): a callable, and its
    arithmetic in FLOP (matrix products only, backward counted as twice the forward).
    ``batched=False`` forces the generic vmap path that critics other than the separable one take;
    ``foreach=False`` uses AdamW's per-tensor loop (torch's own choice on CPU) instead of the
    multi-tensor update. The callable's ``model`` and ``optimizer`` attributes expose both."""
    torch.manual_seed(0)
    model = StackedCritic([make_critic(DEFAULT_CRITIC, dim, dim, (hidden, hidden), embed) for _ in range(members)])
    if members > 1:
        model._batched = batched
    config = TrainConfig(max_steps=1, lr=5e-4)  # the estimator's weight decay, 0
    optimizer = (make_optimizer(model, config) if foreach
                 else torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay, foreach=False))
    anchor = objectives.get("anchor")
    loss_fn = objectives.member_losses(anchor, [anchor.defaults] * members)  # as MIEstimator's folds
    x, y = torch.randn(members, batch, dim), torch.randn(members, batch, dim)

    def loss_of(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return loss_fn(model.pairwise(x, y)).sum()

    # torch.compile of the loss (forward and backward) and of the optimiser's update.
    forward = torch.compile(loss_of) if compiled else loss_of
    update = torch.compile(optimizer.step) if compiled else optimizer.step

    def step() -> None:
        loss = forward(x, y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        update()

    per_side = 2 * batch * (dim * hidden + hidden * hidden + hidden * embed)
    flop = 3 * members * (2 * per_side + 2 * batch * batch * embed)
    step.model, step.optimizer = model, optimizer
    return step, flop


def ms_per_call(step, steps: int, warmup: int = 10) -> float:
    """Milliseconds per call of ``step`` over ``steps`` calls, after ``warmup`` untimed ones."""
    for _ in range(warmup):
        step()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - started) / steps * 1e3


def stacked_report(steps: int) -> None:
    from torch.profiler import ProfilerActivity, profile

    peak = matmul_peak_gflops()
    print(f"\nstacked folds, default critic ({DEFAULT_CRITIC}), B=128 (fp32 matmul peak in this run: {peak:.0f} GFLOP/s):")
    print(f"{'F':>6s} {'ms/step':>8s} {'x F=1':>6s} {'GFLOP/s':>8s} {'% peak':>7s} {'% in matmul':>12s}")
    base = None
    for members, batched in ((1, True), (5, True), (5, False)):
        step, flop = stacked_step(members, batched=batched)
        ms = ms_per_call(step, steps)
        base = base or ms
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(20):
                step()
        events = prof.key_averages()
        total = sum(e.self_cpu_time_total for e in events)
        matmul = sum(e.self_cpu_time_total for e in events if e.key in ("aten::mm", "aten::bmm", "aten::addmm", "aten::baddbmm"))
        rate = flop / (ms / 1e3) / 1e9
        label = f"{members}" + ("" if batched or members == 1 else " vmap")
        print(f"{label:>6s} {ms:8.2f} {ms / base:6.2f} {rate:8.1f} {100 * rate / peak:6.1f}% {100 * matmul / total:11.1f}%")


# One timing process of --against: the tree in argv[1] (its src and its own benchmarks/speed.py),
# argv[2] threads, argv[3] timed steps; prints ms per step and a digest of the trained weights.
AGAINST_CHILD = """
import hashlib, json, sys
sys.path[:0] = [sys.argv[1] + "/src", sys.argv[1] + "/benchmarks"]
import torch
torch.set_num_threads(int(sys.argv[2]))
from speed import ms_per_call, stacked_step
row = {}
for members in (1, 5):
    step, _ = stacked_step(members)
    row[str(members)] = ms_per_call(step, int(sys.argv[3]))
    weights = b"".join(p.detach().contiguous().numpy().tobytes() for p in step.model.parameters())
    row[f"{members} weights"] = hashlib.sha256(weights).hexdigest()
print(json.dumps(row))
"""


def against(revision: str, steps: int, rounds: int) -> None:
    """The stacked steps of ``revision`` and of this checkout, timed in alternating fresh processes."""
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    from release_cost import checked_out

    root = Path(__file__).resolve().parents[1]
    print(f"stacked steps of the default critic, B = 128, {steps} timed steps per case, medians of {rounds} "
          f"alternating rounds; {os.cpu_count()} cores")
    print(f"{'threads':>7s} {'code':>14s} {'F=1 ms':>7s} {'F=5 ms':>7s} {'F5/F1':>6s} {'F=1 x REV':>9s} {'F=5 x REV':>9s} {'same weights':>12s}")
    with checked_out(revision) as tree:
        for threads in (1, 2):
            rows: dict[str, list[dict]] = {revision: [], "this checkout": []}
            for _ in range(rounds):
                for label, source in ((revision, tree), ("this checkout", root)):
                    done = subprocess.run([sys.executable, "-c", AGAINST_CHILD, str(source), str(threads), str(steps)],
                                          capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": str(threads)})
                    if done.returncode != 0:
                        raise SystemExit(f"error: timing {label} failed: {done.stderr.strip()[-800:]}")
                    rows[label].append(json.loads(done.stdout.strip().splitlines()[-1]))
            medians = {label: {m: float(np.median([r[m] for r in runs])) for m in ("1", "5")} for label, runs in rows.items()}
            same = all(a[f"{m} weights"] == b[f"{m} weights"] for a, b in zip(rows[revision], rows["this checkout"]) for m in ("1", "5"))
            for label in (revision, "this checkout"):
                one, five = medians[label]["1"], medians[label]["5"]
                ratio_one, ratio_five = one / medians[revision]["1"], five / medians[revision]["5"]
                print(f"{threads:7d} {label:>14s} {one:7.2f} {five:7.2f} {five / one:6.2f} {ratio_one:9.2f} {ratio_five:9.2f} "
                      f"{str(same) if label != revision else '':>12s}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--compile", action="store_true",
                        help="also time torch.compile on the stacked step (needs a C++ compiler; about a minute)")
    parser.add_argument("--against", metavar="REV", help="only time the stacked steps against this git revision")
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds of --against (default 6)")
    args = parser.parse_args()
    if args.against:
        against(args.against, max(args.steps, 400), args.rounds)
        return
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, dim={DIM}, hidden=(128, 128), softplus")
    print(f"{'critic':12s} {'B':>4s} {'library ms/step':>16s} {'hand-written':>13s} {'ratio':>6s}")
    for name in dict.fromkeys((DEFAULT_CRITIC, "separable", "joint", "bilinear", "cosine")):  # the default first, once
        for batch in (64, 256):
            steps = args.steps if not (name == "joint" and batch == 256) else max(20, args.steps // 10)
            torch.manual_seed(0)
            critic = make_critic(name, DIM, DIM)
            ours = library_ms(critic, batch, steps)
            torch.manual_seed(0)
            theirs = hand_written_ms(make_critic(name, DIM, DIM), batch, steps)
            print(f"{name:12s} {batch:4d} {ours:16.2f} {theirs:13.2f} {ours / theirs:6.2f}")
    print("\njoint critic, forward+backward of the (B, B) score matrix:")
    print(f"{'dim':>5s} {'B':>4s} {'factorised ms':>14s} {'naive concat ms':>16s} {'speed-up':>9s}")
    for dim in (DIM, 500):
        for batch in (64, 256):
            steps = max(10, args.steps // (4 if batch == 64 else 20))
            torch.manual_seed(0)
            factorised = forward_backward_ms(JointCritic(dim, dim), batch, steps, dim)
            torch.manual_seed(0)
            naive = forward_backward_ms(NaiveJoint(dim), batch, steps, dim)
            print(f"{dim:5d} {batch:4d} {factorised:14.2f} {naive:16.2f} {naive / factorised:9.2f}")
    stacked_report(args.steps)
    layout_report()
    optimizer_report(args.steps)
    maps_report()
    if args.compile:
        compile_report(args.steps)


def layout_report(blocks: int = 60, block: int = 20) -> None:
    """The stacked weights' memory layout: five stacked default critics stepped with their Linear
    weights held in (F, in, out) memory (the library's layout, that of their gradients) and in
    plain (F, out, in) memory (the layout before 2026-12-01), in interleaved blocks of ``block``
    steps within one process, so that a drift in the machine's speed hits both alike. Prints ms per
    step on one and two threads and whether the two trained the same weights bit for bit."""
    print(f"\nstacked weights' layout, five default critics, B=128 ({blocks} interleaved blocks of {block} steps):")
    print(f"{'threads':>7s} {'(F, out, in) ms':>16s} {'(F, in, out) ms':>16s} {'ratio':>6s} {'same weights':>13s}")
    before = torch.get_num_threads()
    try:
        for threads in (1, 2):
            torch.set_num_threads(threads)
            library, _ = stacked_step(5)
            plain, _ = stacked_step(5)
            for parameter in plain.model.parameters():
                if parameter.ndim == 3:
                    parameter.data = parameter.data.contiguous()
            blocks_ms = {"plain": [], "library": []}
            order = (("plain", plain), ("library", library))
            for index in range(blocks):  # two untimed warm-up steps each, before its first block
                for name, step in order if index % 2 else order[::-1]:
                    blocks_ms[name].append(ms_per_call(step, block, warmup=2 if index == 0 else 0))
            same = all(torch.equal(a, b) for a, b in zip(plain.model.parameters(), library.model.parameters()))
            ms = {name: float(np.mean(values)) for name, values in blocks_ms.items()}
            print(f"{threads:7d} {ms['plain']:16.2f} {ms['library']:16.2f} {ms['library'] / ms['plain']:6.2f} {str(same):>13s}")
    finally:
        torch.set_num_threads(before)


def optimizer_report(steps: int, rounds: int = 5) -> None:
    """AdamW's update for five stacked default critics: the per-tensor loop (torch's default on
    CPU) against the multi-tensor ``foreach`` update the library uses. Prints ms per update alone
    and per whole step (medians over ``rounds`` alternating rounds, so that drift in the machine's
    speed hits both), and whether the two trained the same weights bit for bit."""
    print("\nAdamW update, five stacked default critics, B=128 (medians of alternating rounds):")
    print(f"{'update':>11s} {'ms/update':>10s} {'ms/step':>8s}")
    steps_of = {foreach: stacked_step(5, foreach=foreach)[0] for foreach in (False, True)}
    updates, whole = {False: [], True: []}, {False: [], True: []}
    for _ in range(rounds):
        for foreach, step in steps_of.items():
            whole[foreach].append(ms_per_call(step, steps))
            updates[foreach].append(ms_per_call(step.optimizer.step, steps))  # the update alone, gradients kept
    for foreach in (False, True):
        name = "foreach" if foreach else "per-tensor"
        print(f"{name:>11s} {np.median(updates[foreach]):10.2f} {np.median(whole[foreach]):8.2f}")
    same = all(torch.equal(a, b) for a, b in zip(steps_of[False].model.parameters(), steps_of[True].model.parameters()))
    print(f"same weights after {rounds * (2 * steps + 20)} steps and updates: {same}")


def maps_report(rounds: int = 5) -> None:
    """The normal-scores map's transform: the library's vectorised forward transform
    (``anchormi.preprocessing.SortedQuantileTransformer``) against scikit-learn's
    ``QuantileTransformer`` fitted to the same quantiles, on a default-sized fold (12,800 x 20) and
    on wide data (2,000 x 1,000, embeddings). Medians of alternating rounds; whether the outputs
    are equal bit for bit."""
    from sklearn.preprocessing import QuantileTransformer

    from anchormi.preprocessing import SortedQuantileTransformer

    print("\nnormal-scores transform (medians of alternating rounds):")
    print(f"{'rows x columns':>15s} {'scikit-learn ms':>16s} {'anchormi ms':>12s} {'speed-up':>9s} {'same bits':>10s}")
    rng = np.random.default_rng(0)
    for rows, columns in ((12_800, 20), (2_000, 1_000)):
        x = rng.standard_t(3, size=(rows, columns))
        params = {"n_quantiles": min(rows, 10_000), "subsample": None, "output_distribution": "normal"}
        maps = {"scikit-learn": QuantileTransformer(**params).fit(x), "anchormi": SortedQuantileTransformer(**params).fit(x)}
        new = rng.standard_t(3, size=(rows, columns))
        times: dict[str, list[float]] = {name: [] for name in maps}
        for _ in range(rounds):
            for name, fitted in maps.items():
                started = time.perf_counter()
                fitted.transform(new)
                times[name].append(1e3 * (time.perf_counter() - started))
        same = np.array_equal(maps["scikit-learn"].transform(new), maps["anchormi"].transform(new))
        theirs, ours = np.median(times["scikit-learn"]), np.median(times["anchormi"])
        print(f"{f'{rows:,} x {columns:,}':>15s} {theirs:16.1f} {ours:12.1f} {theirs / ours:9.1f} {str(same):>10s}")


def compile_report(steps: int) -> None:
    """torch.compile on the five-member stacked step: compile seconds (the first step), then ms per
    step against eager in the same run. A second run reuses inductor's on-disk cache, so its first
    step is shorter: run twice to see both."""
    import logging

    torch._logging.set_logs(dynamo=logging.ERROR, inductor=logging.ERROR)
    print("\ntorch.compile, five stacked default critics, B=128:")
    for compiled in (False, True):
        step, _ = stacked_step(5, compiled=compiled)
        started = time.perf_counter()
        step()
        first = time.perf_counter() - started
        ms = ms_per_call(step, steps)
        print(f"{'compiled' if compiled else 'eager':>9s}: first step {first:6.1f} s, {ms:6.2f} ms/step")


if __name__ == "__main__":
    main()
