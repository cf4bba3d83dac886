"""Data-parallel training on several processes or GPUs with ``torch.distributed``.

Launch the same script once per process with ``torchrun`` (which sets ``WORLD_SIZE``, ``RANK``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT``); ``MIEstimator.fit`` sees ``WORLD_SIZE > 1``,
initialises the default process group if nobody has ("nccl" on CUDA, one GPU per local rank;
"gloo" on the CPU) and trains one critic across all processes. A normal single-process call
never reaches this module.

What each process does (:class:`Distributed` holds the pieces):

- **Rows.** Every rank draws the same seeded train/validation/test split and keeps every
  ``world_size``-th row of each part from its rank on (:meth:`Distributed.shard_split`). The
  per-column maps are fitted on all training rows, so they are the same on every rank.
- **Batches.** ``batch_size`` is the global batch: each rank draws ``batch_size // world_size``
  of its own rows per step (:meth:`Distributed.local_batch`).
- **Negatives.** :class:`GatheredCritic` encodes the local batch and all-gathers f(x) and g(y)
  *with gradients* (``torch.distributed.nn.functional.all_gather``), so the loss is computed on
  the global (B x B) score matrix: K = B - 1 in-batch negatives, as in one process with batch B.
- **Gradients.** :meth:`Distributed.average_gradients` all-reduces every parameter gradient
  after the backward pass (DistributedDataParallel semantics); :class:`GatheredCritic` explains
  why the result is exactly the single-process gradient on the global batch.
- **Decisions.** Validation values are averaged over ranks in a fixed order
  (:meth:`Distributed.averaged`), so every rank keeps the same checkpoints, decays the learning
  rate and stops at the same step; a rank that decided differently would deadlock the others.
- **Readout.** The held-out values, the permutation sums and the calibration blocks of all
  ranks are gathered (:meth:`Distributed.pool_heldout`), so every rank returns the same MIResult.

Supported: the separable critic, ``folds=1``, the plug-in readout, no ``z``; other combinations
raise a ValueError (:func:`check_supported`).
"""

from __future__ import annotations

import atexit
import os
import warnings
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from .critics import SEPARABLE_CRITICS, Critic, SeparableCritic


def launched() -> bool:
    """True in a job launched with several processes (``WORLD_SIZE > 1``, as torchrun sets)."""
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1
    except ValueError:
        return False


def check_supported(critic: Any, folds: int, conditional: bool, readout: str, batch_size: int) -> None:
    """Raise ValueError for what distributed training does not support yet (before any process group exists)."""
    world_size = int(os.environ["WORLD_SIZE"])
    separable = critic in SEPARABLE_CRITICS or isinstance(critic, SeparableCritic)
    for unsupported, what in (
        (folds != 1, f"cross-fitting (folds={folds})"),
        (not separable, f"critic={critic if isinstance(critic, str) else type(critic).__name__!r}"),
        (conditional, "conditional MI (z=...)"),
        (readout != "plugin", f"readout={readout!r}"),
    ):
        if unsupported:
            raise ValueError(
                f"{what} is not supported with torch.distributed yet; use folds=1 / a separable critic (one of {list(SEPARABLE_CRITICS)}) "
                "(with the plug-in readout and no z), or run in one process."
            )
    if batch_size % world_size:
        raise ValueError(
            f"batch_size={batch_size} is the global batch and must divide by the world size {world_size} "
            f"(each process draws batch_size // world_size pairs); pass e.g. batch_size={max(world_size, batch_size // world_size * world_size)}."
        )


def setup(device: torch.device) -> "Distributed":
    """Join (or initialise) the default process group of a launched job and return its context.

    ``device``: the resolved device; a CUDA device without an index becomes ``cuda:LOCAL_RANK``.
    The backend is "nccl" for CUDA, else "gloo". A group this function initialises is destroyed
    when the interpreter exits.
    """
    import torch.distributed as dist

    if not dist.is_available():
        raise ValueError("WORLD_SIZE > 1 asks for distributed training, but this torch build has no torch.distributed.")
    world_size = int(os.environ["WORLD_SIZE"])
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        atexit.register(_destroy)
    if dist.get_world_size() != world_size:
        raise ValueError(f"the process group has {dist.get_world_size()} processes but WORLD_SIZE is {world_size}.")
    backend = dist.get_backend()
    collective_device = device if backend == "nccl" else torch.device("cpu")
    return Distributed(dist.get_rank(), world_size, device, collective_device)


def _destroy() -> None:
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()


class GatheredCritic(Critic):
    """A separable critic whose score matrix spans the batches of all processes.

    ``pairwise(x, y)`` encodes the local (b, dim) batch, all-gathers the embeddings with
    gradients and returns the global (W b, W b) matrix S = F G^T, F = [F_0; ...; F_{W-1}] in rank
    order (x and y gathered in the same order, so the joint pairs stay on the diagonal).
    ``pointwise`` is local: the plug-in needs no negatives.

    Why the averaged gradient is the single-process gradient on the global batch: every rank
    holds the same S and computes the same loss L(S). Rank r's autograd graph reaches the
    parameters theta only through its own rows F_r = f(x_r; theta) (the gathered rows of other
    ranks are leaves there, apart from the gather's backward). The backward of the gather sums,
    over all ranks r', the gradient that rank r' computed for chunk r; all ranks computed the same
    dL/dF_r, so rank r receives W * dL/dF_r and its parameter gradient is
    W * (dL/dF_r)(dF_r/dtheta) (likewise for G). Averaging over ranks gives
    (1/W) sum_r W (dL/dF_r)(dF_r/dtheta) = sum_r (dL/dF_r)(dF_r/dtheta) = dL/dtheta, the gradient of
    the loss of one process holding the whole global batch. (A sum all-reduce would be W times
    too large; a local loss without the gather would drop the cross-rank negatives.)
    """

    def __init__(self, critic: SeparableCritic):
        super().__init__()
        self.inner = critic

    def pairwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        from torch.distributed.nn.functional import all_gather

        with warnings.catch_warnings():
            # torch >= 2.x marks this autograd-aware gather deprecated in favour of a private API.
            warnings.filterwarnings("ignore", message=".*all_gather is deprecated", category=FutureWarning)
            embedded_x = torch.cat(all_gather(self.inner.embed_x(x)))
            embedded_y = torch.cat(all_gather(self.inner.embed_y(y)))
        return embedded_x @ embedded_y.t()

    def pointwise(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.inner.pointwise(x, y)


@dataclass
class Distributed:
    """One process's place in a launched job: its rank, the world size, its device, and the
    collectives the estimator uses (all ranks must call them in the same order)."""

    rank: int
    world_size: int
    device: torch.device
    collective_device: torch.device

    # ---- rows and batches -----------------------------------------------------------------------
    def shard(self, rows: np.ndarray) -> np.ndarray:
        """This rank's rows: every ``world_size``-th one from position ``rank``."""
        return rows[self.rank :: self.world_size]

    def shard_split(self, split: Any) -> Any:
        """This rank's share of a split. The validation part is cut to ``len(val) // world_size``
        rows on every rank, so all ranks evaluate the same number of batches (the collectives
        inside the gathered critic must match)."""
        n_val = split.val.size // self.world_size
        return type(split)(self.shard(split.train), self.shard(split.val)[:n_val], self.shard(split.test))

    def local_batch(self, batch_size: int) -> int:
        """Pairs each rank draws per step for a global batch of ``batch_size`` (it divides; see check_supported)."""
        return batch_size // self.world_size

    # ---- the critic and its gradients -------------------------------------------------------------
    def wrap(self, critic: nn.Module) -> GatheredCritic:
        """The gathering critic around ``critic``, with rank 0's initial weights on every rank."""
        import torch.distributed as dist

        with torch.no_grad():
            for tensor in critic.state_dict().values():
                # Collectives need contiguous tensors; a stacked critic keeps some transposed.
                moved = tensor.to(self.collective_device).contiguous()
                dist.broadcast(moved, src=0)
                tensor.copy_(moved)
        return GatheredCritic(critic)

    @staticmethod
    def unwrap(critic: nn.Module) -> nn.Module:
        """The plain critic inside a gathering one (what ``pmi``, ``estimate`` and ``save`` use)."""
        return critic.inner if isinstance(critic, GatheredCritic) else critic

    def gradient_averager(self, module: nn.Module) -> Callable[[], None]:
        """A hook for the trainer: after ``backward``, replace every gradient by its mean over ranks.

        One flat all-reduce per step; a missing gradient counts as zero on that rank.
        """
        parameters = [p for p in module.parameters() if p.requires_grad]

        def average() -> None:
            self.average_gradients(parameters)

        return average

    def average_gradients(self, parameters: list[torch.Tensor]) -> None:
        import torch.distributed as dist

        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in parameters]
        flat = torch.cat([g.reshape(-1) for g in grads]).to(self.collective_device)
        dist.all_reduce(flat)
        flat = flat.to(parameters[0].device) / self.world_size
        offset = 0
        for parameter in parameters:
            count = parameter.numel()
            parameter.grad = flat[offset : offset + count].view_as(parameter).clone()
            offset += count

    # ---- decisions and readouts ------------------------------------------------------------------
    def gather_arrays(self, array: np.ndarray) -> list[np.ndarray]:
        """Every rank's ``array`` (any shape, float64), in rank order, on every rank."""
        import torch.distributed as dist

        gathered: list[Any] = [None] * self.world_size
        dist.all_gather_object(gathered, np.asarray(array))
        return [np.asarray(value) for value in gathered]

    def mean_over_ranks(self, values: np.ndarray) -> np.ndarray:
        """The mean over ranks of a small float array, summed in rank order: identical on every rank."""
        import torch.distributed as dist

        local = torch.as_tensor(np.asarray(values, dtype=np.float64).reshape(-1), device=self.collective_device)
        gathered = [torch.empty_like(local) for _ in range(self.world_size)]
        dist.all_gather(gathered, local)
        stacked = torch.stack(gathered).cpu().numpy()
        return stacked.mean(axis=0).reshape(np.shape(values))

    def averaged(self, evaluate: Callable[[Any], tuple[Any, Any]]) -> Callable[[Any], tuple[np.ndarray, np.ndarray]]:
        """``evaluate`` with its (val_loss, val_estimate) averaged over ranks, so that checkpoints,
        learning-rate decays and early stopping are the same decisions on every rank. The local
        validation parts have equal sizes (``shard_split``), so the mean over ranks is the mean over
        all validation pairs for the plug-in estimate; the loss is already global (gathered scores)."""

        def evaluate_everywhere(model: Any) -> tuple[np.ndarray, np.ndarray]:
            loss, estimate = evaluate(model)
            loss, estimate = np.atleast_1d(np.asarray(loss, float)), np.atleast_1d(np.asarray(estimate, float))
            both = self.mean_over_ranks(np.concatenate([loss, estimate]))
            return both[: loss.size], both[loss.size :]

        return evaluate_everywhere

    def pool_heldout(self, values: list[np.ndarray], pairs: list[tuple[np.ndarray, np.ndarray]], shuffled: dict[int, list[np.ndarray]],
                     observed_sum: float, shuffled_sums: np.ndarray | None, n_permuted: int):
        """Gather the held-out readout of every rank (one fold): the per-pair values and rows, the
        permuted blocks of the calibration check, and the permutation test's sums.

        The permutation test then permutes y within each rank's part of the held-out rows: under
        independence those pairs are exchangeable within each part, so the test stays exact (the
        within-part permutations form a group). Returns the arguments, pooled, in the same order.
        """
        values = [np.concatenate(self.gather_arrays(block)) for block in values]
        pairs = [(np.concatenate(self.gather_arrays(rows)), np.concatenate(self.gather_arrays(pointwise))) for rows, pointwise in pairs]
        shuffled = {term: [part for block in blocks for part in self.gather_arrays(block)] for term, blocks in shuffled.items()}
        totals = self.gather_arrays(np.array([observed_sum, n_permuted], dtype=np.float64))
        observed_sum = float(sum(total[0] for total in totals))
        n_permuted = int(sum(total[1] for total in totals))
        if shuffled_sums is not None:
            shuffled_sums = np.sum(self.gather_arrays(shuffled_sums), axis=0)
        return values, pairs, shuffled, observed_sum, shuffled_sums, n_permuted
