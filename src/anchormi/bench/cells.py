"""One cell of a sweep: a task, a method, a critic, a seed and a sample size (or a staircase).

A cell is plain data (picklable, JSON-able) with a stable key, so that any executor can run it and
the result store can tell finished cells from missing ones. ``run_cell`` is the only code that
trains anything, and it does so through the public API: ``anchormi.estimate`` for fixed-N cells,
``anchormi.MIEstimator.fit_stream`` for streaming cells.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator

import numpy as np
import pandas as pd

from .provenance import code_version
from .specs import canonical, label

# Bumped when the meaning of a cell's record changes, so old cell files are not reused.
CELL_FORMAT = 1
NOT_APPLICABLE = "-"
KINDS = ("fixed", "stream")
# Task arguments that set the true MI; the family label leaves them out.
MI_ARGUMENTS = ("mi", "k")


@dataclass
class Cell:
    """An independent unit of work.

    Attributes:
        kind: "fixed" (N samples, ``anchormi.estimate``) or "stream" (staircase, ``fit_stream``).
        task: task family name (``anchormi.tasks.available()``).
        task_params: the family's arguments; for streaming cells only ``dim`` (MI comes from levels).
        method: an ``anchormi.methods()`` name.
        method_params: method-specific arguments (e.g. rule="brier" for anchor, n_neighbors=5 for ksg).
        critic: "separable", "joint", ... or "-" where no critic applies (classical methods).
        seed: seeds the data and the estimator; the same seed gives the same numbers.
        n: sample size of fixed-N cells (None for streaming).
        estimator: shared ``MIEstimator`` arguments (batch_size, max_steps, lr, hidden, ...).
        levels, steps_per_level: the staircase of streaming cells (nats, steps per level).
    """

    kind: str
    task: str
    task_params: dict[str, Any]
    method: str
    method_params: dict[str, Any]
    critic: str
    seed: int
    n: int | None = None
    estimator: dict[str, Any] = field(default_factory=dict)
    levels: list[float] | None = None
    steps_per_level: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return canonical(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Cell":
        return cls(**data)

    @property
    def key(self) -> str:
        """16 hex digits of the SHA-1 of the cell's canonical JSON: its file name in the store."""
        payload = json.dumps({"cell_format": CELL_FORMAT, **self.to_dict()}, sort_keys=True)
        return hashlib.sha1(payload.encode()).hexdigest()[:16]

    @property
    def method_label(self) -> str:
        return label(self.method, self.method_params)

    @property
    def family_label(self) -> str:
        """The task without its MI-setting argument (mi, or k for digits): 'gaussian-d20', 'digits'.

        Figures draw one curve per family across its MI values.
        """
        params = {key: value for key, value in self.task_params.items() if key not in MI_ARGUMENTS}
        if set(params) == {"dim"}:
            return f"{self.task}-d{params['dim']}"
        return label(self.task, params)

    def describe(self) -> str:
        size = f"n={self.n}" if self.kind == "fixed" else f"{len(self.levels or [])}x{self.steps_per_level} steps"
        return f"{label(self.task, self.task_params)} / {self.method_label} / {self.critic} / seed={self.seed} / {size}"


@contextlib.contextmanager
def one_torch_thread() -> Iterator[None]:
    """Run with one intra-op thread (cells run side by side in processes), then restore."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_cell(cell: Cell) -> dict[str, Any]:
    """Run one cell and return {"record": dict of scalars, "steps": DataFrame or None}.

    The record holds the cell's identity (key, task, method, critic, seed, n), the code that ran it
    (``code``: version and git commit, :mod:`anchormi.bench.provenance`), the truth and the
    estimate in nats, the standard error, wall seconds and training facts; streaming cells also
    return the per-step table (step, level, truth, estimate, train_loss). Warnings raised while
    training (divergence, plug-in caveats) are kept in ``record["warnings"]``.
    """
    if cell.kind not in KINDS:
        raise ValueError(f"cell kind={cell.kind!r} is unknown; expected one of {KINDS}.")
    code = code_version()  # read before the fit (cached per worker process)
    with one_torch_thread(), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        started = time.perf_counter()
        record, steps = (_run_fixed if cell.kind == "fixed" else _run_stream)(cell)
        record["seconds"] = time.perf_counter() - started
    messages = sorted({f"{type(w.message).__name__}: {w.message}" for w in caught})
    identity = {
        "key": cell.key, "kind": cell.kind, "family": cell.family_label, "method": cell.method_label,
        "objective": cell.method, "method_params": json.dumps(cell.method_params, sort_keys=True),
        "task_params": json.dumps(cell.task_params, sort_keys=True),
        "critic": cell.critic, "seed": cell.seed, "n": cell.n if cell.n is not None else -1, "code": code,
    }
    record = {**identity, **record, "warnings": " | ".join(messages)}
    record["error"] = record["estimate"] - record["truth"] if cell.kind == "fixed" else math.nan
    return {"record": record, "steps": steps}


def _classical_kwargs(cell: Cell) -> dict[str, Any]:
    """The cell's method arguments, plus its seed and one thread where the estimator takes them.

    Cells run side by side, one core each: a classical estimator must not spread over all cores.
    """
    from ..classical import CLASSICAL

    kwargs = dict(cell.method_params)
    accepted = inspect.signature(CLASSICAL[cell.method]).parameters
    if "seed" in accepted:
        kwargs.setdefault("seed", cell.seed)
    if "n_jobs" in accepted:
        kwargs.setdefault("n_jobs", 1)
    return kwargs


def _run_fixed(cell: Cell) -> tuple[dict[str, Any], None]:
    import anchormi
    from anchormi import tasks

    from ..classical import CLASSICAL

    task = tasks.get(cell.task, **cell.task_params)
    x, y = task.sample(int(cell.n), seed=cell.seed)
    base = {"task": task.name, "truth": task.mi, "dim_x": task.dim_x, "dim_y": task.dim_y}
    if cell.method in CLASSICAL:
        result = anchormi.estimate(x, y, method=cell.method, **_classical_kwargs(cell))
    else:
        kwargs = {**cell.estimator, **cell.method_params, "critic": cell.critic, "seed": cell.seed, "progress": False}
        result = anchormi.estimate(x, y, method=cell.method, **kwargs)
    info = result.info
    return {
        **base, "estimate": float(result.mi), "stderr": float(result.stderr), "n_train": int(result.n_train),
        "n_test": int(result.n_test), "readout": result.readout,
        "best_step": int(info.get("best_step", -1)), "steps_run": int(result.history["step"].max()) if len(result.history) else 0,
        "diverged": bool(info.get("diverged", False)), "stop_reason": str(info.get("stop_reason", "")),
    }, None


def staircase_level(step: np.ndarray | int, steps_per_level: int, n_levels: int) -> np.ndarray:
    """0-based level of 1-based training step(s): step s trains on the batch of schedule index s-1."""
    return np.clip((np.asarray(step) - 1) // steps_per_level, 0, n_levels - 1)


def _run_stream(cell: Cell) -> tuple[dict[str, Any], pd.DataFrame]:
    import anchormi
    from anchormi import tasks

    levels = [float(level) for level in cell.levels]
    schedule = tasks.staircase(levels, int(cell.steps_per_level))
    dim = int(cell.task_params["dim"])
    estimator = anchormi.MIEstimator(
        objective=cell.method, critic=cell.critic, seed=cell.seed, progress=False,
        **{**cell.estimator, **cell.method_params},
    )

    def sample_batch(index: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        # fit_stream asks for the 0-based index of each step (history step index + 1), so history
        # step s trains on level (s - 1) // steps_per_level.
        return schedule.task_at(min(index, schedule.n_steps - 1), cell.task, dim).sample(estimator.batch_size, rng)

    started = time.perf_counter()
    estimator.fit_stream(sample_batch, schedule.n_steps)
    train_seconds = time.perf_counter() - started
    history = estimator.stream_history_
    step = history["step"].to_numpy(dtype=np.int64)
    level = staircase_level(step, schedule.steps_per_level, len(levels))
    steps = pd.DataFrame({
        "step": step, "level": level.astype(np.int64), "truth": np.asarray(levels)[level],
        "estimate": history["batch_estimate"].to_numpy(dtype=float), "train_loss": history["train_loss"].to_numpy(dtype=float),
    })
    steps_run = int(len(steps))
    return {
        "task": f"staircase-{cell.task}-d{dim}", "truth": math.nan, "estimate": math.nan, "stderr": math.nan,
        "dim_x": dim, "dim_y": dim, "n_train": steps_run * estimator.batch_size, "n_test": 0,
        "readout": estimator.readout_, "best_step": int(estimator.best_step_), "steps_run": steps_run,
        "diverged": bool(estimator.diverged_), "stop_reason": str(estimator.stop_reason_),
        "seconds_per_step": train_seconds / max(steps_run, 1),
    }, steps
