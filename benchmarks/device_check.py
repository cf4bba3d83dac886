"""End-to-end check that ``device="auto"`` trains on an accelerator, with timings.

    python benchmarks/device_check.py            # on a CUDA machine: about a minute

Prints the device that ``anchormi.estimate`` used, the default estimate on a Gaussian with known
MI (five cross-fitted folds trained as one stacked model), a conditional estimate, a save/load
round trip on the device, and ms per training step of the default critic against the same step
on the CPU in the same run.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import anchormi as ami
from anchormi import objectives
from anchormi.critics import DEFAULT_CRITIC, StackedCritic, make_critic


def ms_per_step(device: str, folds: int, batch: int = 128, steps: int = 200) -> float:
    torch.manual_seed(0)
    critic = StackedCritic([make_critic(DEFAULT_CRITIC, 20, 20) for _ in range(folds)]).to(device)
    optimizer = torch.optim.AdamW(critic.parameters(), lr=5e-4)
    anchor = objectives.get("anchor")
    loss = torch.vmap(lambda s: anchor.loss(s, **anchor.defaults))
    x, y = torch.randn(folds, batch, 20, device=device), torch.randn(folds, batch, 20, device=device)

    def step() -> None:
        value = loss(critic.pairwise(x, y)).sum()
        optimizer.zero_grad()
        value.backward()
        optimizer.step()

    for _ in range(10):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(steps):
        step()
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return (time.perf_counter() - started) / steps * 1e3


def main() -> None:
    print(f"torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}")
    task = ami.tasks.gaussian(dim=20, mi=6.0)
    x, y = task.sample(20_000, seed=3)
    started = time.perf_counter()
    result = ami.estimate(x, y, seed=3)
    print(f"estimate (device={result.info['device']}): {result}  truth {task.mi:.3f}  [{time.perf_counter() - started:.1f} s]")

    chain = ami.tasks.chain(dim_x=5, dim_y=5, dim_z=5, mi=1.0)
    xc, yc, zc = chain.sample(20_000, seed=4)
    started = time.perf_counter()
    estimator = ami.MIEstimator(seed=4).fit(xc, yc, z=zc)
    print(f"conditional: {estimator.result_}  truth {chain.cmi:.3f}  [{time.perf_counter() - started:.1f} s]")
    path = Path(tempfile.mkdtemp()) / "model.pt"
    estimator.save(path)
    restored = ami.MIEstimator.load(path)
    same = np.array_equal(estimator.pmi(xc[:500], yc[:500], zc[:500]), restored.pmi(xc[:500], yc[:500], zc[:500]))
    print(f"save/load on {restored.device_}: identical pmi = {same}")

    devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for folds in (1, 5):
        timings = {device: ms_per_step(device, folds) for device in devices}
        print(f"ms per step, {DEFAULT_CRITIC} B=128, {folds} fold(s): " + ", ".join(f"{d} {t:.2f}" for d, t in timings.items()))


if __name__ == "__main__":
    main()
