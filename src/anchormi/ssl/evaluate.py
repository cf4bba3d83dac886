"""Evaluate a trained encoder: linear probe, alignment, uniformity, and CKA between two runs.

- The probe reads the backbone's pooled features (before the projection head, as in SimCLR).
- Alignment and uniformity (Wang & Isola 2020) read the L2-normalised projections, the vectors
  the cosine critic scores, of two augmented views of the test images.
- CKA compares two runs' backbone features on the same images.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .augment import Augment, default_augment
from .metrics import alignment, linear_cka, linear_probe_accuracy, uniformity

__all__ = ["encode", "stratified_split", "few_shot_indices", "evaluate_representation", "representation_cka"]

_ENCODE_BATCH = 1024


@torch.no_grad()
def encode(model: torch.nn.Module, images: torch.Tensor, batch_size: int = _ENCODE_BATCH) -> tuple[np.ndarray, np.ndarray]:
    """Backbone features and projections of ``images`` in eval mode.

    Shape:
        images: (n, C, H, W) in [0, 1] -> features (n, feature_dim), projections (n, projection_dim),
        both float64 NumPy arrays.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    features, projections = [], []
    for start in range(0, images.shape[0], batch_size):
        batch_features = model.features(images[start : start + batch_size].to(device))
        # MPS has no float64: leave the device first, then widen.
        features.append(batch_features.cpu().double())
        projections.append(model.head(batch_features).cpu().double())
    model.train(was_training)
    return torch.cat(features).numpy(), torch.cat(projections).numpy()


def stratified_split(labels: Any, test_fraction: float = 0.3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test) with every class split in the same proportion; sorted, reproducible."""
    from sklearn.model_selection import train_test_split

    labels = np.asarray(labels)
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction={test_fraction!r} is invalid; pass a fraction in (0, 1).")
    if (labels < 0).any():
        raise ValueError("labels holds -1 (unlabelled) entries; a probe split needs a label for every image.")
    indices = np.arange(labels.shape[0])
    train, test = train_test_split(indices, test_size=test_fraction, random_state=seed, stratify=labels)
    return np.sort(train), np.sort(test)


def few_shot_indices(labels: Any, shots: int, seed: int = 0) -> np.ndarray:
    """Positions of ``shots`` examples per class (all of a class when it has fewer), sorted."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    chosen = [rng.permutation(np.flatnonzero(labels == c))[:shots] for c in np.unique(labels)]
    return np.sort(np.concatenate(chosen))


def evaluate_representation(
    model: torch.nn.Module,
    train_images: torch.Tensor,
    train_labels: Any,
    test_images: torch.Tensor,
    test_labels: Any,
    *,
    augment: Augment | None = None,
    few_shot: int | None = 10,
    seed: int = 0,
) -> dict[str, float]:
    """Probe accuracy, alignment and uniformity of a trained model.

    Args:
        model: a :class:`SimCLRModel` (or anything with ``features`` and ``head``).
        train_images, train_labels: the probe's training set, (n, C, H, W) and (n,).
        test_images, test_labels: the probe's test set; its views also give alignment/uniformity.
        augment: view pipeline for alignment/uniformity; ``default_augment(min(H, W))`` when None.
        few_shot: also fit a probe on this many labelled training images per class (None: skip).
        seed: seeds the views and the few-shot subset, so every model sees the same ones.

    Returns:
        ``probe_top1`` (fraction of test images classified right), ``probe_top1_few`` (with
        ``few_shot`` labels per class), ``alignment`` (E||u - v||^2 over positive views, in [0, 4],
        lower is better) and ``uniformity`` (log E exp(-2||u - v||^2) over distinct images, in
        [-8, 0]; 0 means collapsed to one point).
    """
    train_labels, test_labels = np.asarray(train_labels), np.asarray(test_labels)
    train_features, _ = encode(model, train_images)
    test_features, _ = encode(model, test_images)
    metrics = {"probe_top1": linear_probe_accuracy(train_features, train_labels, test_features, test_labels)}
    if few_shot is not None:
        subset = few_shot_indices(train_labels, few_shot, seed)
        metrics["probe_top1_few"] = linear_probe_accuracy(
            train_features[subset], train_labels[subset], test_features, test_labels
        )
    augment = augment if augment is not None else default_augment(int(min(test_images.shape[-2:])))
    generator = torch.Generator().manual_seed(seed)
    view_1, view_2 = augment.two_views(test_images.cpu(), generator)
    _, projections_1 = encode(model, view_1)
    _, projections_2 = encode(model, view_2)
    metrics["alignment"] = alignment(projections_1, projections_2)
    metrics["uniformity"] = uniformity(projections_1)
    return metrics


def representation_cka(model_a: torch.nn.Module, model_b: torch.nn.Module, images: torch.Tensor) -> float:
    """Linear CKA between the backbone features of two models on the same images, in [0, 1]."""
    features_a, _ = encode(model_a, images)
    features_b, _ = encode(model_b, images)
    return linear_cka(features_a, features_b)
