"""``anchormi reproduce ssl``: the study's representation-learning comparison on a laptop.

Every objective trains the same SimCLR-style model with the same budget (epochs, batch, optimiser,
temperature, augmentations) for several seeds. Each run is then evaluated by a linear probe on
frozen backbone features (all training labels, and 10 labels per class), alignment and uniformity
of its projections, and the linear CKA of its features against the InfoNCE run of the same seed.

Runs checkpoint every epoch under ``out/runs/<objective>-seed<k>/``, so an interrupted
reproduction resumes where it stopped when rerun with the same ``--out``.

Outputs in ``out``: ``results.csv`` (one row per run, plus baselines), ``cka.csv``,
``history.csv`` (per epoch), ``summary.md``, ``curves.png`` and ``align_uniform.png``.
"""

from __future__ import annotations

import json
import platform
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import torch

from ..files import atomic_write_table, atomic_write_text, markdown_table
from ..runtime import resolve_device
from .data import ImageData, load_digits_images
from .encoders import SimCLRModel
from .evaluate import encode, evaluate_representation, few_shot_indices, stratified_split
from .metrics import linear_cka, linear_probe_accuracy
from .reporting import describe_params, mean_sd, parse_objectives, save_figure
from .train import SSLConfig, train_ssl

__all__ = ["SSLSettings", "reproduce_ssl", "PAPER_SSL_TOP1"]

# docs/method.md section 10: SimCLR, ResNet-18, CIFAR-100, B = 256, linear probe top-1 (%).
PAPER_SSL_TOP1 = {"infonce": 65.98, "anchor:nu=1": 65.74, "chi2": 65.59, "nce": 61.69, "spherical": 4.33}
# "anchor" trains with the library's default nu; "anchor:nu=1" is the paper's setting.
DEFAULT_OBJECTIVES = ("infonce", "anchor", "anchor:nu=1", "chi2", "nce", "spherical")


@dataclass
class SSLSettings:
    """The budget of one reproduction; every objective gets exactly this.

    ``full()`` is the default command (about 15 minutes on one CPU core for digits); ``quick()``
    is the CI smoke test (seconds). ``max_images`` subsamples the data set (stratified) first.
    """

    objectives: tuple[str, ...] = DEFAULT_OBJECTIVES
    seeds: tuple[int, ...] = (0, 1, 2)
    epochs: int = 100
    batch_size: int = 256
    temperature: float = 0.5
    lr: float = 1e-3
    weight_decay: float = 1e-6
    widths: tuple[int, ...] = (32, 64, 128)
    projection_dim: int = 64
    probe_every: int = 10
    test_fraction: float = 0.3
    few_shot: int = 10
    max_images: int | None = None

    @classmethod
    def full(cls, **overrides: Any) -> "SSLSettings":
        return replace(cls(), **overrides)

    @classmethod
    def quick(cls, **overrides: Any) -> "SSLSettings":
        quick = cls(seeds=(0,), epochs=2, batch_size=64, widths=(8, 16), projection_dim=16, probe_every=1, max_images=400, few_shot=5)
        return replace(quick, **overrides)

    def config(self, objective: str, params: dict[str, Any], seed: int) -> SSLConfig:
        return SSLConfig(
            objective=objective, objective_params=dict(params), temperature=self.temperature, epochs=self.epochs,
            batch_size=self.batch_size, lr=self.lr, weight_decay=self.weight_decay, widths=tuple(self.widths),
            projection_dim=self.projection_dim, seed=seed,
        )


def reproduce_ssl(
    out_dir: str | Path,
    settings: SSLSettings | None = None,
    *,
    data: ImageData | None = None,
    data_name: str = "digits",
    device: str | torch.device = "auto",
    progress: bool | None = None,
    echo: Callable[[str], None] = print,
    command: str = "anchormi reproduce ssl",
) -> pd.DataFrame:
    """Train every objective for every seed, evaluate, and write the tables and figures.

    Args:
        out_dir: output folder (created); rerunning with the same folder resumes.
        settings: the budget; ``SSLSettings.full()`` when None.
        data: labelled images (labels are used only by the probe); scikit-learn digits when None.
        data_name: what to call the data in the summary.
        device: "auto" uses a GPU when present.
        progress: per-run progress bars; None shows them only at an interactive terminal.
        echo: where progress lines go.
        command: the command line quoted in ``summary.md``.

    Returns:
        The summary table (one row per objective, plus baselines), as written to ``summary.md``.
    """
    settings = settings or SSLSettings.full()
    specs = parse_objectives(list(settings.objectives))
    out = Path(out_dir)
    (out / "runs").mkdir(parents=True, exist_ok=True)
    device = resolve_device(device)
    data = data if data is not None else load_digits_images()
    images, labels = _subsample(data, settings.max_images)
    train_rows, test_rows = stratified_split(labels, settings.test_fraction, seed=0)
    train_images, test_images = images[train_rows], images[test_rows]
    train_labels, test_labels = labels[train_rows], labels[test_rows]
    atomic_write_text(out / "settings.json", json.dumps({**asdict(settings), "data": data_name, "n_images": int(images.shape[0])}, indent=2))
    echo(f"ssl reproduction: {len(specs)} objectives x {len(settings.seeds)} seeds, {settings.epochs} epochs, "
         f"{train_images.shape[0]} training / {test_images.shape[0]} test images of {data_name}, device {device}")

    rows = _baseline_rows(train_images, train_labels, test_images, test_labels, settings)
    histories, features = [], {}
    started = time.perf_counter()

    def probe_curve(epoch: int, model: torch.nn.Module) -> dict[str, float]:
        if epoch % settings.probe_every and epoch != settings.epochs:
            return {}
        train_features, _ = encode(model, train_images)
        test_features, _ = encode(model, test_images)
        return {"probe_top1": linear_probe_accuracy(train_features, train_labels, test_features, test_labels)}

    for spec in specs:
        for seed in settings.seeds:
            run_dir = out / "runs" / f"{_safe(spec.label)}-seed{seed}"
            run_started = time.perf_counter()
            run = train_ssl(
                train_images, settings.config(spec.name, spec.params, seed), out_dir=run_dir,
                device=device, progress=progress, on_epoch=probe_curve,
            )
            metrics = evaluate_representation(
                run.model, train_images, train_labels, test_images, test_labels, few_shot=settings.few_shot, seed=0
            )
            history = run.history
            rows.append({
                "objective": spec.label, "seed": seed, "epochs_run": int(history["epoch"].max()) if len(history) else 0,
                **metrics,
                "final_loss": float(history["loss"].iloc[-1]) if len(history) else float("nan"),
                "positive_accuracy": float(history["positive_accuracy"].iloc[-1]) if len(history) else float("nan"),
                "train_seconds": float(history["seconds"].sum()) if len(history) else 0.0,
                "diverged": bool(run.diverged),
            })
            histories.append(history.assign(objective=spec.label, seed=seed))
            features[(spec.label, seed)] = encode(run.model, test_images)[0]
            echo(f"  {spec.label:>12s} seed {seed}: probe {metrics['probe_top1']:.4f}, few-shot {metrics['probe_top1_few']:.4f}, "
                 f"align {metrics['alignment']:.3f}, unif {metrics['uniformity']:.3f} "
                 f"({'resumed at epoch ' + str(run.resumed_from) + ', ' if run.resumed_from else ''}{time.perf_counter() - run_started:.1f} s)")

    results = pd.DataFrame.from_records(rows)
    cka = _cka_table(features, [s.label for s in specs], settings.seeds)
    history_frame = pd.concat(histories, ignore_index=True) if histories else pd.DataFrame()
    atomic_write_table(out / "results.csv", results)
    atomic_write_table(out / "cka.csv", cka)
    atomic_write_table(out / "history.csv", history_frame)
    summary = _summary(results, cka, specs)
    wall = time.perf_counter() - started
    atomic_write_text(out / "summary.md", _summary_markdown(summary, settings, data_name, images.shape, device, wall, command))
    _plot_curves(history_frame, out / "curves.png")
    _plot_align_uniform(results[~results["objective"].isin(["pixels", "random-init"])], out / "align_uniform.png")
    echo(markdown_table(summary))
    echo(f"wrote {out / 'summary.md'}, results.csv, cka.csv, history.csv, curves.png, align_uniform.png ({wall:.0f} s)")
    return summary


# --- pieces --------------------------------------------------------------------------------------


def _subsample(data: ImageData, max_images: int | None) -> tuple[torch.Tensor, np.ndarray]:
    labels = data.labels.numpy()
    if (labels < 0).any():
        raise ValueError("the images must all be labelled for the linear probe; use class subfolders or pass labels.")
    if max_images is None or max_images >= labels.shape[0]:
        return data.images, labels
    keep, _ = stratified_split(labels, 1.0 - max_images / labels.shape[0], seed=0)
    return data.images[keep], labels[keep]


def _baseline_rows(train_images, train_labels, test_images, test_labels, settings: SSLSettings) -> list[dict[str, Any]]:
    """Raw pixels and an untrained encoder: what the probe reaches without any contrastive learning."""
    flat_train = train_images.reshape(train_images.shape[0], -1).numpy()
    flat_test = test_images.reshape(test_images.shape[0], -1).numpy()
    subset = few_shot_indices(train_labels, settings.few_shot, seed=0)
    rows = [{
        "objective": "pixels", "seed": 0,
        "probe_top1": linear_probe_accuracy(flat_train, train_labels, flat_test, test_labels),
        "probe_top1_few": linear_probe_accuracy(flat_train[subset], train_labels[subset], flat_test, test_labels),
    }]
    for seed in settings.seeds:
        torch.manual_seed(seed)
        model = SimCLRModel(train_images.shape[1], settings.widths, settings.projection_dim).eval()
        metrics = evaluate_representation(model, train_images, train_labels, test_images, test_labels, few_shot=settings.few_shot, seed=0)
        rows.append({"objective": "random-init", "seed": seed, **metrics})
    return rows


def _cka_table(features: dict, labels: Sequence[str], seeds: Sequence[int]) -> pd.DataFrame:
    """CKA of every run against InfoNCE runs: of the same seed (same initial weights and views) and
    of the next seed (independent runs); InfoNCE against itself only across seeds."""
    rows = []
    if "infonce" in labels:
        seeds = list(seeds)
        for label in labels:
            for index, seed in enumerate(seeds):
                partners = [seed] if label != "infonce" else []
                if len(seeds) > 1:
                    partners.append(seeds[(index + 1) % len(seeds)])
                for partner in partners:
                    rows.append({"a": label, "seed_a": seed, "b": "infonce", "seed_b": partner,
                                 "cka": linear_cka(features[(label, seed)], features[("infonce", partner)])})
    return pd.DataFrame.from_records(rows, columns=["a", "seed_a", "b", "seed_b", "cka"])


def _summary(results: pd.DataFrame, cka: pd.DataFrame, specs: Sequence[Any]) -> pd.DataFrame:
    rows = []
    settings_of = {spec.label: describe_params(spec.name, spec.params) for spec in specs}
    for label in ["pixels", "random-init", *settings_of]:
        group = results[results["objective"] == label]
        mine = cka[cka["a"] == label]
        same_seed = mean_sd(mine[mine["seed_a"] == mine["seed_b"]]["cka"])
        other_seed = mean_sd(mine[mine["seed_a"] != mine["seed_b"]]["cka"])
        baseline = label in ("pixels", "random-init")
        paper = PAPER_SSL_TOP1.get(label)
        rows.append({
            "objective": label,
            "loss parameters": settings_of.get(label, "—"),
            "runs": len(group),
            "probe top-1 (%)": mean_sd(group["probe_top1"], 100, 2),
            "probe top-1, few labels (%)": mean_sd(group.get("probe_top1_few", []), 100, 2),
            "alignment": mean_sd(group.get("alignment", [])),
            "uniformity": mean_sd(group.get("uniformity", [])),
            "CKA vs InfoNCE, same seed": "—" if baseline else same_seed,
            "CKA vs InfoNCE, other seed": "—" if baseline else other_seed,
            "in-batch top-1 (%)": mean_sd(group.get("positive_accuracy", []), 100, 1),
            "diverged": int(group["diverged"].sum()) if "diverged" in group and group["diverged"].notna().any() else 0,
            "s / run": mean_sd(group.get("train_seconds", []), 1, 1),
            "paper top-1 (CIFAR-100)": f"{paper:.2f}" if paper is not None else "—",
        })
    return pd.DataFrame.from_records(rows)


def _summary_markdown(summary, settings: SSLSettings, data_name, shape, device, wall: float, command: str) -> str:
    return "\n".join([
        "# Self-supervised learning with the objective family",
        "",
        f"Command: `{command}`  ",
        f"Data: {data_name}, {shape[0]} images of {tuple(shape[1:])}; {settings.test_fraction:.0%} held out for the probe test.  ",
        f"Budget per run: {settings.epochs} epochs, batch {settings.batch_size} (K = {settings.batch_size - 1} negatives), "
        f"AdamW lr {settings.lr:g}, cosine critic tau = {settings.temperature:g}, encoder widths {tuple(settings.widths)}, "
        f"projection {settings.projection_dim}; seeds {tuple(settings.seeds)}.  ",
        f"Device: {device}; total wall time {wall / 60:.1f} min on {platform.node() or 'this machine'}.",
        "",
        markdown_table(summary),
        "",
        "Probe: scikit-learn logistic regression on frozen backbone features (mean ± sd over seeds); "
        f"'few labels' uses {settings.few_shot} labelled training images per class. Alignment (lower is better) and "
        "uniformity (more negative is more spread; 0 = collapsed) are Wang & Isola's, on the L2-normalised projections "
        "of two augmented views of the test images. CKA is linear CKA of backbone features on the test images against "
        "an InfoNCE run: of the same seed (same initial weights, batches and views, so only the objective differs) and "
        "of the next seed (independent runs); InfoNCE's own 'other seed' value is the yardstick for 'as similar as two "
        "InfoNCE runs'. In-batch top-1: fraction of training columns whose largest score is the positive, last epoch. "
        "Baselines: 'pixels' probes the raw pixels, 'random-init' an untrained encoder.",
        "",
    ])


def _plot_curves(history: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(15, 4))
    if len(history):
        for label, group in history.groupby("objective", sort=False):
            by_epoch = group.groupby("epoch")
            for axis, column in zip(axes, ("loss", "positive_accuracy", "probe_top1")):
                if column not in group or group[column].isna().all():
                    continue
                series = by_epoch[column].mean().dropna()
                axis.plot(series.index, series.values, marker="." if column == "probe_top1" else None, label=label)
    axes[0].set(title="training loss (each objective's own scale)", xlabel="epoch", ylabel="loss, mean over seeds")
    axes[1].set(title="in-batch top-1: positive has the largest score", xlabel="epoch", ylabel="fraction")
    axes[2].set(title="linear probe top-1 (test)", xlabel="epoch", ylabel="accuracy")
    axes[0].set_yscale("symlog")
    for axis in axes:
        axis.grid(alpha=0.3)
    axes[1].legend()
    figure.tight_layout()
    save_figure(figure, path)


def _plot_align_uniform(results: pd.DataFrame, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(5.5, 4.5))
    for label, group in results.groupby("objective", sort=False):
        axis.scatter(group["uniformity"], group["alignment"], label=label, s=30)
    axis.set(xlabel="uniformity (lower: more spread)", ylabel="alignment (lower: views closer)",
             title="Wang & Isola alignment vs uniformity")
    axis.grid(alpha=0.3)
    axis.legend()
    save_figure(figure, path)


def _safe(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in label)
