"""Training-step speed of anchormi against a minimal hand-written torch loop, in one process.

Prints, for each critic at B in {64, 256}:
- ms per training step through the library's loop (anchormi.trainer.train_with_validation with the
  registered anchor objective, exactly what MIEstimator.fit runs);
- ms per step of a minimal hand-written loop with the same model, loss and optimiser;
- their ratio (framework overhead; 1.00 means none);
and the factorised joint critic against a naive concatenation of all B^2 pairs.

    python benchmarks/speed.py            # 2 cores, about a minute
    python benchmarks/speed.py --steps 50 # quicker, noisier
"""

from __future__ import annotations

import argparse
import math
import time

import torch
from torch import nn

from anchormi import objectives
from anchormi.critics import JointCritic, make_critic, mlp
from anchormi.readouts import heldout_loss
from anchormi.trainer import TrainConfig, epoch_batches, train_with_validation

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, dim={DIM}, hidden=(128, 128), softplus")
    print(f"{'critic':10s} {'B':>4s} {'library ms/step':>16s} {'hand-written':>13s} {'ratio':>6s}")
    for name in ("separable", "joint", "bilinear", "cosine"):
        for batch in (64, 256):
            steps = args.steps if not (name == "joint" and batch == 256) else max(20, args.steps // 10)
            torch.manual_seed(0)
            critic = make_critic(name, DIM, DIM)
            ours = library_ms(critic, batch, steps)
            torch.manual_seed(0)
            theirs = hand_written_ms(make_critic(name, DIM, DIM), batch, steps)
            print(f"{name:10s} {batch:4d} {ours:16.2f} {theirs:13.2f} {ours / theirs:6.2f}")
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


if __name__ == "__main__":
    main()
