"""SimCLR-style contrastive training with any registered objective, through the cosine critic.

Two augmented views of each image go through one shared encoder (:class:`SimCLRModel`); the
cosine critic turns a batch into the score matrix S[i, j] = cos(z1_i, z2_j) / tau, with the two
views of image j on the diagonal, and the registered objective turns S into the loss. No loss is
copied here: ``anchormi.objectives.objective_loss`` evaluates it, so ``anchor``, ``infonce``,
``nce``, ``chi2``, ``anchor`` with ``rule="spherical"`` and every other registry row train the
same way.

With ``out_dir`` every epoch ends with a checkpoint (model, optimiser, both random generators and
the history), written atomically by :mod:`anchormi.files` (temporary file, fsync, rename). Calling
:func:`train_ssl` again with the same ``out_dir`` continues from the last finished epoch, and the
result equals that of an uninterrupted run.
"""

from __future__ import annotations

import io
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import pandas as pd
import torch

from .. import objectives
from .._validation import check_positive_int
from ..critics import CosineCritic
from ..files import atomic_write_bytes, atomic_write_text
from ..runtime import progress_default, resolve_device
from ..trainer import TrainConfig, train_streaming
from .augment import Augment, default_augment
from .encoders import SimCLRModel

__all__ = ["SSLConfig", "SSLRun", "train_ssl", "load_checkpoint", "model_from_checkpoint", "CHECKPOINT_NAME"]

CHECKPOINT_NAME = "checkpoint.pt"
HISTORY_NAME = "history.csv"
CONFIG_NAME = "config.json"
_FORMAT = 1
# Settings a resumed run may change: the epoch budget grows, nothing else may differ.
_RESUMABLE_CHANGES = ("epochs",)

EpochCallback = Callable[[int, SimCLRModel], Mapping[str, float]]


@dataclass
class SSLConfig:
    """Hyperparameters of one self-supervised run.

    Attributes:
        objective: registry name (see ``anchormi.objectives.available()``).
        objective_params: loss parameters of that objective, e.g. ``{"rule": "spherical"}``.
        temperature: the cosine critic's tau; scores lie in [-1/tau, 1/tau].
        epochs: passes over the images; each epoch uses floor(n / batch_size) full batches.
        batch_size: images per step B; in-batch negatives give K = B - 1.
        lr, weight_decay: AdamW settings.
        widths: backbone stage widths (the last is the probed feature dimension).
        projection_dim: output size of the projection head (what the critic scores).
        norm: "batch" or "group" normalisation in the backbone.
        seed: initial weights, batch order and augmentations all follow this seed.
    """

    objective: str = "infonce"
    objective_params: dict[str, Any] = field(default_factory=dict)
    temperature: float = 0.2
    epochs: int = 50
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-6
    widths: tuple[int, ...] = (32, 64, 128)
    projection_dim: int = 64
    norm: str = "batch"
    seed: int = 0

    def validate(self) -> None:
        objective = objectives.get(self.objective)  # raises with the list of names
        unknown = set(self.objective_params) - set(objective.defaults)
        if unknown:
            raise ValueError(
                f"objective_params {sorted(unknown)} do not apply to objective {self.objective!r}; it takes "
                f"{sorted(objective.defaults) or 'no parameters'}."
            )
        if not (isinstance(self.temperature, (int, float)) and self.temperature > 0):
            raise ValueError(f"temperature={self.temperature!r} is invalid; pass a temperature > 0 (e.g. 0.2).")
        for name in ("epochs", "batch_size", "projection_dim"):
            check_positive_int(getattr(self, name), name)
        if self.batch_size < 2:
            raise ValueError("batch_size must be at least 2 so that every batch holds negatives.")
        if not self.lr > 0 or not self.weight_decay >= 0:
            raise ValueError(f"lr={self.lr!r} must be > 0 and weight_decay={self.weight_decay!r} >= 0.")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (tuples become lists), plus ``loss_params``: the objective's
        registry defaults merged with ``objective_params``, so that a checkpoint records what it
        trained with even if a library default changes later."""
        values = asdict(self)
        values["widths"] = [int(w) for w in self.widths]
        values["objective_params"] = dict(self.objective_params)
        values["loss_params"] = {**objectives.get(self.objective).defaults, **self.objective_params}
        return values


@dataclass
class SSLRun:
    """The outcome of :func:`train_ssl`.

    Attributes:
        model: the trained encoder, in eval mode, on ``device``.
        history: one row per epoch: ``epoch``, ``loss`` (mean training loss), ``positive_accuracy``
            (fraction of batch columns whose largest score is the positive, i.e. in-batch top-1
            retrieval), ``seconds`` (wall time of the epoch) and whatever ``on_epoch`` returned.
        config: the configuration trained.
        device: where the model lives.
        resumed_from: the epoch the run continued from (0 for a fresh run).
        diverged: a non-finite loss stopped training; ``model`` holds the weights of the last epoch
            end whose weights then gave a finite loss (the initial weights if none did).
    """

    model: SimCLRModel
    history: pd.DataFrame
    config: SSLConfig
    device: torch.device
    resumed_from: int = 0
    diverged: bool = False


def train_ssl(
    images: torch.Tensor,
    config: SSLConfig,
    *,
    out_dir: str | os.PathLike | None = None,
    augment: Augment | None = None,
    device: str | torch.device = "auto",
    progress: bool | None = None,
    on_epoch: EpochCallback | None = None,
) -> SSLRun:
    """Train a :class:`SimCLRModel` on unlabelled images with ``config.objective``.

    Training runs through the library's one loop, :func:`anchormi.trainer.train_streaming`: an
    epoch is ``n // batch_size`` steps, and every epoch end writes the history row and the
    checkpoint. The caller's global torch random state is left as it was.

    Args:
        images: (n, C, H, W) float in [0, 1], e.g. ``ImageData.images``; labels are not used.
        config: hyperparameters; ``config.validate()`` runs first.
        out_dir: folder for ``checkpoint.pt`` (every epoch), ``history.csv`` and ``config.json``.
            If it already holds a checkpoint of the same configuration (``epochs`` may differ),
            training continues from that checkpoint's epoch.
        augment: the view pipeline; ``default_augment(min(H, W))`` when None.
        device: "auto" (CUDA when present), "cpu", "cuda", ...
        progress: show a progress bar over steps; None shows one only at an interactive terminal.
        on_epoch: ``on_epoch(epoch, model) -> {name: float}`` after each epoch (model in eval mode,
            under no_grad); its values join that epoch's history row, e.g. a probe accuracy.

    Returns:
        SSLRun. A non-finite loss stops training with a ``DivergenceWarning`` and keeps the last
        weights that gave a finite loss at or after an epoch end.
    """
    config.validate()
    images = _check_images(images, config.batch_size)
    device = resolve_device(device)
    out_path = Path(out_dir) if out_dir is not None else None
    augment = augment if augment is not None else default_augment(int(min(images.shape[-2:])))
    objective = objectives.get(config.objective)

    # The initial weights follow config.seed through a private copy of the CPU generator, so the
    # caller's random stream is neither reseeded nor advanced.
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(config.seed)
        model = SimCLRModel(images.shape[1], config.widths, config.projection_dim, norm=config.norm)
    model = model.to(device)
    critic = CosineCritic(model, temperature=config.temperature)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    order_generator = torch.Generator().manual_seed(config.seed)
    view_generator = torch.Generator(device=device).manual_seed(config.seed + 1)
    state = objective.make_state() if objective.make_state is not None else None
    records: list[dict[str, float]] = []
    start_epoch = 0

    if out_path is not None:
        # Loaded on the CPU: random-generator states must stay there; load_state_dict moves the rest.
        checkpoint = load_checkpoint(out_path, map_location="cpu")
        if checkpoint is not None:
            _check_same_config(checkpoint["config"], config, out_path)
            start_epoch = int(checkpoint["epoch"])
            if start_epoch > config.epochs:
                raise ValueError(
                    f"{out_path / CHECKPOINT_NAME} already holds {start_epoch} epochs, more than epochs={config.epochs}; "
                    f"pass epochs >= {start_epoch} or another out_dir."
                )
            model.load_state_dict(checkpoint["model"])
            optimizer.load_state_dict(checkpoint["optimizer"])
            order_generator.set_state(checkpoint["order_rng"])
            view_generator.set_state(checkpoint["view_rng"])
            if state is not None and checkpoint.get("objective_state") is not None:
                state.__dict__.update(checkpoint["objective_state"])
            records = [dict(row) for row in checkpoint["history"]]
        else:
            out_path.mkdir(parents=True, exist_ok=True)
            atomic_write_text(out_path / CONFIG_NAME, json.dumps(config.to_dict(), indent=2))

    images = images.to(device)
    n_images, batch_size = images.shape[0], config.batch_size
    steps_per_epoch = n_images // batch_size
    positives = torch.arange(batch_size, device=device)
    # Per-epoch running sums stay on the device: no host synchronisation per step.
    epoch = {"order": None, "started": 0.0, "loss_sum": torch.zeros((), device=device), "correct": torch.zeros((), device=device)}

    def batches(step: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The two augmented views of step ``step``'s images; a new epoch draws a new order."""
        position = (step - 1) % steps_per_epoch
        if position == 0:
            epoch["order"] = torch.randperm(n_images, generator=order_generator).to(device)
            epoch["started"] = time.perf_counter()
            epoch["loss_sum"].zero_()
            epoch["correct"].zero_()
        rows = epoch["order"][position * batch_size : (position + 1) * batch_size]
        return augment.two_views(images[rows], view_generator)

    def loss_fn(scores: torch.Tensor) -> torch.Tensor:
        return objectives.objective_loss(config.objective, scores, state=state, **config.objective_params)

    def on_step(step: int, scores: torch.Tensor, loss: torch.Tensor) -> None:
        epoch["loss_sum"] += loss
        # In-batch top-1 retrieval: the positive of column j (view 2 of image j) is row j.
        epoch["correct"] += (scores.argmax(dim=0) == positives).sum()

    def on_period(step: int) -> None:
        row = {
            "epoch": step // steps_per_epoch,
            "loss": float(epoch["loss_sum"]) / steps_per_epoch,
            "positive_accuracy": float(epoch["correct"]) / (steps_per_epoch * batch_size),
            "seconds": time.perf_counter() - epoch["started"],
        }
        if on_epoch is not None:
            model.eval()
            with torch.no_grad():
                row.update({name: float(value) for name, value in on_epoch(row["epoch"], model).items()})
            model.train()
        records.append(row)
        if out_path is not None:
            _save_checkpoint(out_path, config, row["epoch"], model, optimizer, order_generator, view_generator, state, records)

    show = progress_default() if progress is None else progress
    train_config = TrainConfig(
        max_steps=config.epochs * steps_per_epoch, lr=config.lr, weight_decay=config.weight_decay,
        progress=show, label=_label(config),
    )
    outcome = train_streaming(
        critic, loss_fn, batches, train_config, optimizer=optimizer,
        first_step=start_epoch * steps_per_epoch + 1, period=steps_per_epoch, on_step=on_step, on_period=on_period,
    )
    model.eval()
    return SSLRun(model, pd.DataFrame.from_records(records), config, device, start_epoch, outcome.diverged)


def load_checkpoint(out_dir: str | os.PathLike, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
    """The checkpoint dictionary saved in ``out_dir``, or None when there is none.

    Keys: ``format``, ``config`` (dict), ``epoch``, ``model`` (state dict), ``optimizer``,
    ``order_rng``, ``view_rng``, ``objective_state`` and ``history`` (list of per-epoch dicts).
    """
    path = Path(out_dir) / CHECKPOINT_NAME
    if not path.exists():
        return None
    checkpoint = torch.load(path, map_location=map_location, weights_only=True)
    if checkpoint.get("format") != _FORMAT:
        raise ValueError(f"{path} has checkpoint format {checkpoint.get('format')!r}, expected {_FORMAT}; use a new out_dir.")
    return checkpoint


def model_from_checkpoint(out_dir: str | os.PathLike, in_channels: int, device: str | torch.device = "cpu") -> SimCLRModel:
    """Rebuild the trained model stored in ``out_dir`` (eval mode)."""
    checkpoint = load_checkpoint(out_dir, map_location=device)
    if checkpoint is None:
        raise ValueError(f"{Path(out_dir) / CHECKPOINT_NAME} does not exist; train with train_ssl(out_dir=...) first.")
    config = checkpoint["config"]
    model = SimCLRModel(in_channels, tuple(config["widths"]), config["projection_dim"], norm=config["norm"]).to(device)
    model.load_state_dict(checkpoint["model"])
    return model.eval()


# --- helpers -------------------------------------------------------------------------------------


def _label(config: SSLConfig) -> str:
    params = ",".join(f"{k}={v}" for k, v in sorted(config.objective_params.items()))
    return f"{config.objective}[{params}]" if params else config.objective


def _check_images(images: Any, batch_size: int) -> torch.Tensor:
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"images must be a float tensor (n, C, H, W) in [0, 1]; got {type(images).__name__}. "
                         "Load them with anchormi.ssl.data.")
    if images.ndim != 4 or not images.is_floating_point():
        raise ValueError(f"images must be a float tensor of shape (n, C, H, W); got {images.dtype} {tuple(images.shape)}.")
    if images.shape[0] < batch_size:
        raise ValueError(
            f"images holds {images.shape[0]} images, fewer than batch_size={batch_size}; pass more images or a smaller batch_size."
        )
    return images


def _check_same_config(saved: Mapping[str, Any], config: SSLConfig, out_path: Path) -> None:
    current = json.loads(json.dumps(config.to_dict()))
    saved = json.loads(json.dumps(dict(saved)))
    differences = [
        f"{name}: checkpoint {saved.get(name)!r}, now {current.get(name)!r}"
        for name in sorted(set(saved) | set(current))
        if name not in _RESUMABLE_CHANGES and saved.get(name) != current.get(name)
    ]
    if differences:
        raise ValueError(
            f"{out_path} holds a checkpoint of a different run ({'; '.join(differences)}); "
            "pass the same settings to resume it, or another out_dir for a new run."
        )


def _save_checkpoint(out_path, config, epoch, model, optimizer, order_generator, view_generator, state, records) -> None:
    checkpoint = {
        "format": _FORMAT,
        "config": config.to_dict(),
        "epoch": epoch,
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "order_rng": order_generator.get_state(),
        "view_rng": view_generator.get_state().cpu(),
        "objective_state": dict(state.__dict__) if state is not None else None,
        "history": records,
    }
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    atomic_write_bytes(out_path / CHECKPOINT_NAME, buffer.getvalue())
    atomic_write_text(out_path / HISTORY_NAME, pd.DataFrame.from_records(records).to_csv(index=False))
