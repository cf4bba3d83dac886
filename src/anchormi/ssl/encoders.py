"""A small CNN backbone and MLP projection head for SimCLR-style training on small images.

The backbone's pooled features are what a linear probe reads; the head's projection is what the
contrastive objective scores. SimCLR (Chen et al. 2020) found that probing before the head works
better, which is why the two are kept separate.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .._validation import check_positive_int

__all__ = ["ConvEncoder", "ProjectionHead", "SimCLRModel"]

_NORMS = ("batch", "group")


class ConvEncoder(nn.Module):
    """Stages of two 3x3 conv -> norm -> ReLU blocks, then global average pooling.

    The first stage keeps the resolution; each later stage halves it with a stride-2 conv. With the
    default three stages an 8x8 input ends at 2x2 and a 32x32 input at 8x8 before pooling, so any
    image of side >= 8 works.

    Args:
        in_channels: image channels C (1 for greyscale, 3 for RGB).
        widths: channels of each stage; the last is the feature dimension.
        norm: "batch" (BatchNorm2d) or "group" (GroupNorm, independent of batch size).

    Shape:
        input (n, C, H, W) float -> output (n, widths[-1]).
    """

    def __init__(self, in_channels: int = 1, widths: Sequence[int] = (32, 64, 128), norm: str = "batch"):
        super().__init__()
        _check_positive_int(in_channels, "in_channels")
        widths = tuple(widths)
        if not widths:
            raise ValueError("widths is empty; pass at least one stage width, e.g. (32, 64, 128).")
        for index, width in enumerate(widths):
            _check_positive_int(width, f"widths[{index}]")
        if norm not in _NORMS:
            raise ValueError(f"norm must be one of {_NORMS}; got {norm!r}.")
        self.in_channels = in_channels
        self.feature_dim = widths[-1]
        layers: list[nn.Module] = []
        stage_in = in_channels
        for stage, width in enumerate(widths):
            layers += _conv_block(stage_in, width, stride=1 if stage == 0 else 2, norm=norm)
            layers += _conv_block(width, width, stride=1, norm=norm)
            stage_in = width
        self.stages = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(n, C, H, W) -> (n, feature_dim) pooled features."""
        if images.ndim != 4 or images.shape[1] != self.in_channels:
            raise ValueError(
                f"images must have shape (n, {self.in_channels}, H, W) for this encoder; got {tuple(images.shape)}."
            )
        return self.stages(images).mean(dim=(2, 3))


class ProjectionHead(nn.Module):
    """Linear -> (BatchNorm1d) -> ReLU -> Linear, SimCLR's projection MLP.

    Args:
        in_dim: backbone feature dimension.
        hidden_dim: width of the hidden layer.
        out_dim: projection dimension (the representation the contrastive critic scores).
        batch_norm: put BatchNorm1d after the first layer, as SimCLR's reference code does.

    Shape:
        input (n, in_dim) -> output (n, out_dim).
    """

    def __init__(self, in_dim: int, hidden_dim: int, out_dim: int, batch_norm: bool = True):
        super().__init__()
        for value, name in ((in_dim, "in_dim"), (hidden_dim, "hidden_dim"), (out_dim, "out_dim")):
            _check_positive_int(value, name)
        layers: list[nn.Module] = [nn.Linear(in_dim, hidden_dim, bias=not batch_norm)]
        if batch_norm:
            layers.append(nn.BatchNorm1d(hidden_dim))
        layers += [nn.ReLU(inplace=True), nn.Linear(hidden_dim, out_dim)]
        self.layers = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """(n, in_dim) -> (n, out_dim)."""
        return self.layers(features)


class SimCLRModel(nn.Module):
    """Backbone plus projection head.

    Args:
        in_channels: image channels C.
        widths: backbone stage widths; ``widths[-1]`` is the probing feature dimension.
        projection_dim: output dimension of the head.
        hidden_dim: hidden width of the head; default ``widths[-1]``.
        norm: backbone normalisation, "batch" or "group". The head uses BatchNorm1d with "batch" and
            no normalisation with "group", so a "group" model never mixes samples of a batch.

    Attributes:
        backbone: :class:`ConvEncoder`.
        head: :class:`ProjectionHead`.
        feature_dim: backbone output dimension.
        projection_dim: head output dimension.
    """

    def __init__(
        self,
        in_channels: int = 1,
        widths: Sequence[int] = (32, 64, 128),
        projection_dim: int = 64,
        hidden_dim: int | None = None,
        norm: str = "batch",
    ):
        super().__init__()
        self.backbone = ConvEncoder(in_channels, widths, norm)
        self.feature_dim = self.backbone.feature_dim
        self.projection_dim = projection_dim
        hidden = self.feature_dim if hidden_dim is None else hidden_dim
        self.head = ProjectionHead(self.feature_dim, hidden, projection_dim, batch_norm=norm == "batch")

    def features(self, images: torch.Tensor) -> torch.Tensor:
        """Backbone features for probing: (n, C, H, W) -> (n, feature_dim)."""
        return self.backbone(images)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Projections for the contrastive objective: (n, C, H, W) -> (n, projection_dim)."""
        return self.head(self.backbone(images))


def _conv_block(in_channels: int, out_channels: int, *, stride: int, norm: str) -> list[nn.Module]:
    # No conv bias: the normalisation that follows subtracts the mean and would cancel it.
    conv = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)
    if norm == "batch":
        normalisation: nn.Module = nn.BatchNorm2d(out_channels)
    else:
        normalisation = nn.GroupNorm(_group_count(out_channels), out_channels)
    return [conv, normalisation, nn.ReLU(inplace=True)]


def _group_count(channels: int, max_groups: int = 8) -> int:
    """The largest divisor of ``channels`` that is at most ``max_groups`` (GroupNorm needs a divisor)."""
    return max(g for g in range(1, max_groups + 1) if channels % g == 0)


def _check_positive_int(value, name: str) -> None:
    check_positive_int(value, name)
