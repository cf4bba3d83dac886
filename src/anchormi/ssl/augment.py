"""Batched random image augmentations for SimCLR-style views, deterministic under a torch.Generator.

Every augmentation takes images of shape (n, C, H, W), floating point, values in [0, 1], and returns a
new tensor of the same shape, dtype and device, still in [0, 1]. Each image in the batch draws its own
random parameters. All randomness comes from the ``generator`` argument (never the global RNG), so the
same generator seed gives the same views.

Two forms, as in torch.nn.functional / torch.nn:
    - functions, e.g. ``random_rotation(images, generator=g, max_degrees=15)``;
    - small callable classes holding the parameters, e.g. ``RandomRotation(15)``, which
      :class:`Augment` chains into a pipeline that produces two views.

Range: geometric warps interpolate between pixels (a convex combination) and so stay in [0, 1];
additive noise and colour jitter can leave it, so those two clamp their output to [0, 1], which is
part of their definition.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F

from .._validation import check_positive_int

__all__ = [
    "random_shift",
    "random_resized_crop",
    "random_rotation",
    "random_flip",
    "color_jitter",
    "gaussian_noise",
    "random_erasing",
    "RandomShift",
    "RandomResizedCrop",
    "RandomRotation",
    "RandomFlip",
    "ColorJitter",
    "GaussianNoise",
    "RandomErasing",
    "Augment",
    "compose",
    "default_augment",
]

AugmentStep = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


# --- functions -----------------------------------------------------------------------------------


def random_shift(images: torch.Tensor, *, generator: torch.Generator, max_shift: int = 1) -> torch.Tensor:
    """Shift each image by a random whole number of pixels: zero-pad by ``max_shift``, then crop back.

    Args:
        images: (n, C, H, W), floating, in [0, 1].
        generator: source of randomness.
        max_shift: largest shift in pixels along each axis; each axis draws uniformly from
            {-max_shift, ..., max_shift}. 1 suits 8x8 digits, 4 suits 32x32 images.

    Returns:
        (n, C, H, W); pixels shifted in from outside the image are 0.
    """
    _check_images(images)
    _check_nonnegative_int(max_shift, "max_shift")
    if max_shift == 0:
        return images.clone()
    n, channels, height, width = images.shape
    crop_offsets = torch.randint(0, 2 * max_shift + 1, (n, 2), generator=generator, device=generator.device)
    crop_offsets = crop_offsets.to(images.device)
    padded = F.pad(images, (max_shift, max_shift, max_shift, max_shift))
    rows = crop_offsets[:, 0, None] + torch.arange(height, device=images.device)  # (n, H)
    cols = crop_offsets[:, 1, None] + torch.arange(width, device=images.device)  # (n, W)
    # Advanced indexing gathers a different (H, W) window per image in one call, with no Python loop.
    return padded[
        torch.arange(n, device=images.device)[:, None, None, None],
        torch.arange(channels, device=images.device)[None, :, None, None],
        rows[:, None, :, None],
        cols[:, None, None, :],
    ]


def random_resized_crop(
    images: torch.Tensor,
    *,
    generator: torch.Generator,
    scale: tuple[float, float] = (0.3, 1.0),
    ratio: tuple[float, float] = (3 / 4, 4 / 3),
) -> torch.Tensor:
    """Crop a random rectangle and resize it back to (H, W) with bilinear interpolation (SimCLR's crop).

    Args:
        images: (n, C, H, W), floating, in [0, 1].
        generator: source of randomness.
        scale: range of the crop's area as a fraction of the image area, within (0, 1].
        ratio: range of the crop's aspect ratio (width / height); drawn log-uniformly.

    Returns:
        (n, C, H, W). A crop whose side would exceed the image is shrunk to fit, so every crop lies
        inside the image.
    """
    _check_images(images)
    _check_interval(scale, "scale", low=0.0, high=1.0, open_low=True)
    _check_interval(ratio, "ratio", low=0.0, high=math.inf, open_low=True)
    n = images.shape[0]
    area_fraction = _uniform(generator, n, *scale, like=images)
    log_ratio = _uniform(generator, n, math.log(ratio[0]), math.log(ratio[1]), like=images)
    width_fraction = torch.sqrt(area_fraction * torch.exp(log_ratio)).clamp(max=1.0)
    height_fraction = torch.sqrt(area_fraction / torch.exp(log_ratio)).clamp(max=1.0)
    # In normalised coordinates the image spans [-1, 1]; a crop of half-width w may centre in [w-1, 1-w].
    centre_x = (1.0 - width_fraction) * _uniform(generator, n, -1.0, 1.0, like=images)
    centre_y = (1.0 - height_fraction) * _uniform(generator, n, -1.0, 1.0, like=images)
    zeros = torch.zeros_like(centre_x)
    theta = torch.stack(
        [torch.stack([width_fraction, zeros, centre_x], 1), torch.stack([zeros, height_fraction, centre_y], 1)], 1
    )
    # "border" padding: the crop lies inside the image, so this only stops the outermost half-pixel
    # of bilinear interpolation from blending in black.
    return _warp(images, theta, padding_mode="border")


def random_rotation(images: torch.Tensor, *, generator: torch.Generator, max_degrees: float = 15.0) -> torch.Tensor:
    """Rotate each image about its centre by an angle drawn uniformly from [-max_degrees, max_degrees].

    Args:
        images: (n, C, H, W), floating, in [0, 1].
        generator: source of randomness.
        max_degrees: largest rotation in degrees, >= 0.

    Returns:
        (n, C, H, W), bilinear interpolation; corners rotated in from outside the image are 0.
    """
    _check_images(images)
    if not (math.isfinite(max_degrees) and max_degrees >= 0):
        raise ValueError(f"max_degrees must be a finite angle >= 0 in degrees; got {max_degrees!r}.")
    n, _, height, width = images.shape
    angle = torch.deg2rad(_uniform(generator, n, -max_degrees, max_degrees, like=images))
    return _warp(images, _rotation_theta(angle, height, width), padding_mode="zeros")


def random_flip(images: torch.Tensor, *, generator: torch.Generator, probability: float = 0.5) -> torch.Tensor:
    """Mirror each image left-right with the given probability (not for digits or text).

    Args:
        images: (n, C, H, W), floating, in [0, 1].
        generator: source of randomness.
        probability: chance that an image is flipped, in [0, 1].

    Returns:
        (n, C, H, W).
    """
    _check_images(images)
    _check_probability(probability, "probability")
    flip = _uniform(generator, images.shape[0], 0.0, 1.0, like=images) < probability
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


def color_jitter(
    images: torch.Tensor, *, generator: torch.Generator, brightness: float = 0.4, contrast: float = 0.4
) -> torch.Tensor:
    """Scale brightness, then contrast, by random factors; clamp the result to [0, 1].

    Brightness multiplies every pixel by b ~ U[1 - brightness, 1 + brightness]. Contrast moves each
    pixel away from (or towards) the image's mean by c ~ U[1 - contrast, 1 + contrast].

    Args:
        images: (n, C, H, W), floating, in [0, 1].
        generator: source of randomness.
        brightness: half-width of the brightness factor's range, in [0, 1].
        contrast: half-width of the contrast factor's range, in [0, 1].

    Returns:
        (n, C, H, W), clamped to [0, 1]: a brightened pixel saturates at white, as on a camera.
    """
    _check_images(images)
    _check_probability(brightness, "brightness")
    _check_probability(contrast, "contrast")
    n = images.shape[0]
    brightness_factor = _uniform(generator, n, 1.0 - brightness, 1.0 + brightness, like=images)
    contrast_factor = _uniform(generator, n, 1.0 - contrast, 1.0 + contrast, like=images)
    brightened = images * brightness_factor[:, None, None, None]
    image_mean = brightened.mean(dim=(1, 2, 3), keepdim=True)
    contrasted = (brightened - image_mean) * contrast_factor[:, None, None, None] + image_mean
    return contrasted.clamp(0.0, 1.0)


def gaussian_noise(images: torch.Tensor, *, generator: torch.Generator, std: float = 0.05) -> torch.Tensor:
    """Add independent Gaussian noise N(0, std^2) to every pixel; clamp the result to [0, 1].

    Args:
        images: (n, C, H, W), floating, in [0, 1].
        generator: source of randomness.
        std: noise standard deviation in intensity units (1 = black to white), >= 0.

    Returns:
        (n, C, H, W), clamped to [0, 1] so views stay valid images; the clamp makes the noise
        non-Gaussian at pixels near 0 or 1.
    """
    _check_images(images)
    if not (math.isfinite(std) and std >= 0):
        raise ValueError(f"std must be a finite noise level >= 0; got {std!r}.")
    noise = torch.randn(images.shape, generator=generator, device=generator.device, dtype=images.dtype)
    return (images + std * noise.to(images.device)).clamp(0.0, 1.0)


def random_erasing(
    images: torch.Tensor,
    *,
    generator: torch.Generator,
    probability: float = 0.5,
    area: tuple[float, float] = (0.02, 0.2),
    aspect: tuple[float, float] = (0.3, 3.3),
) -> torch.Tensor:
    """Set a random rectangle of each chosen image to 0 in every channel (Zhong et al. 2020).

    Args:
        images: (n, C, H, W), floating, in [0, 1].
        generator: source of randomness.
        probability: chance that an image gets a rectangle, in [0, 1].
        area: range of the rectangle's area as a fraction of the image, within (0, 1].
        aspect: range of the rectangle's aspect ratio (height / width), drawn log-uniformly.

    Returns:
        (n, C, H, W). Rectangle sides are rounded to whole pixels, at least 1 and at most the image side.
    """
    _check_images(images)
    _check_probability(probability, "probability")
    _check_interval(area, "area", low=0.0, high=1.0, open_low=True)
    _check_interval(aspect, "aspect", low=0.0, high=math.inf, open_low=True)
    n, _, height, width = images.shape
    erase = _uniform(generator, n, 0.0, 1.0, like=images) < probability
    area_pixels = _uniform(generator, n, *area, like=images) * (height * width)
    log_aspect = _uniform(generator, n, math.log(aspect[0]), math.log(aspect[1]), like=images)
    box_height = torch.sqrt(area_pixels * torch.exp(log_aspect)).round().clamp(1, height)
    box_width = torch.sqrt(area_pixels / torch.exp(log_aspect)).round().clamp(1, width)
    # floor(u * (free + 1)) is uniform over the free + 1 valid top-left positions.
    top = torch.floor(_uniform(generator, n, 0.0, 1.0, like=images) * (height - box_height + 1))
    left = torch.floor(_uniform(generator, n, 0.0, 1.0, like=images) * (width - box_width + 1))
    row = torch.arange(height, device=images.device, dtype=images.dtype)
    col = torch.arange(width, device=images.device, dtype=images.dtype)
    in_rows = (row >= top[:, None]) & (row < (top + box_height)[:, None])  # (n, H)
    in_cols = (col >= left[:, None]) & (col < (left + box_width)[:, None])  # (n, W)
    erased = in_rows[:, :, None] & in_cols[:, None, :] & erase[:, None, None]  # (n, H, W)
    return images.masked_fill(erased[:, None, :, :], 0.0)


# --- classes and pipeline ------------------------------------------------------------------------


@dataclass(frozen=True)
class RandomShift:
    """Callable form of :func:`random_shift`."""

    max_shift: int = 1

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return random_shift(images, generator=generator, max_shift=self.max_shift)


@dataclass(frozen=True)
class RandomResizedCrop:
    """Callable form of :func:`random_resized_crop`."""

    scale: tuple[float, float] = (0.3, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return random_resized_crop(images, generator=generator, scale=self.scale, ratio=self.ratio)


@dataclass(frozen=True)
class RandomRotation:
    """Callable form of :func:`random_rotation`."""

    max_degrees: float = 15.0

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return random_rotation(images, generator=generator, max_degrees=self.max_degrees)


@dataclass(frozen=True)
class RandomFlip:
    """Callable form of :func:`random_flip`."""

    probability: float = 0.5

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return random_flip(images, generator=generator, probability=self.probability)


@dataclass(frozen=True)
class ColorJitter:
    """Callable form of :func:`color_jitter`."""

    brightness: float = 0.4
    contrast: float = 0.4

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return color_jitter(images, generator=generator, brightness=self.brightness, contrast=self.contrast)


@dataclass(frozen=True)
class GaussianNoise:
    """Callable form of :func:`gaussian_noise`."""

    std: float = 0.05

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return gaussian_noise(images, generator=generator, std=self.std)


@dataclass(frozen=True)
class RandomErasing:
    """Callable form of :func:`random_erasing`."""

    probability: float = 0.5
    area: tuple[float, float] = (0.02, 0.2)
    aspect: tuple[float, float] = (0.3, 3.3)

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return random_erasing(
            images, generator=generator, probability=self.probability, area=self.area, aspect=self.aspect
        )


class Augment:
    """A pipeline of augmentation steps applied in order; :meth:`two_views` gives SimCLR's pair.

    Args:
        steps: callables ``step(images, generator) -> images``, e.g. the classes of this module.
    """

    def __init__(self, steps: Sequence[AugmentStep]):
        steps = tuple(steps)
        for index, step in enumerate(steps):
            if not callable(step):
                raise ValueError(
                    f"steps[{index}] is {step!r}, not callable; pass functions (images, generator) -> images."
                )
        self.steps = steps

    def __call__(self, images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One random view of each image: (n, C, H, W) in [0, 1] -> (n, C, H, W) in [0, 1]."""
        _check_images(images)
        view = images
        for step in self.steps:
            view = step(view, generator)
        return view

    def two_views(self, images: torch.Tensor, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """Two independent random views of each image, each (n, C, H, W); row i of both is image i."""
        return self(images, generator), self(images, generator)

    def __repr__(self) -> str:
        return f"Augment({list(self.steps)!r})"


def compose(*steps: AugmentStep) -> Augment:
    """``compose(a, b, c)`` is ``Augment([a, b, c])``."""
    return Augment(steps)


def default_augment(image_size: int, *, allow_flips: bool | None = None) -> Augment:
    """A sensible pipeline for square-ish images whose shorter side is ``image_size`` pixels.

    - Small images (< 16 px, e.g. 8x8 digits): shift by up to size/8 px, rotate up to 15 degrees,
      erase a small rectangle half the time, add noise of std 0.05. No flips: they change digits.
    - Larger images (e.g. 32x32 CIFAR-like): SimCLR's resized crop (30-100 % of the area), left-right
      flip, brightness/contrast jitter of 0.4, noise of std 0.02.

    Args:
        image_size: the shorter image side in pixels, >= 1.
        allow_flips: include left-right flips; default False below 16 px and True from 16 px. Pass
            False for handwriting or text at any size.
    """
    check_positive_int(image_size, "image_size", "the shorter image side in pixels")
    if image_size < 16:
        steps: list[AugmentStep] = [
            RandomShift(max_shift=max(1, image_size // 8)),
            RandomRotation(max_degrees=15.0),
            RandomErasing(probability=0.5, area=(0.02, 0.15)),
            GaussianNoise(std=0.05),
        ]
        flips_default = False
    else:
        steps = [
            RandomResizedCrop(scale=(0.3, 1.0)),
            ColorJitter(brightness=0.4, contrast=0.4),
            GaussianNoise(std=0.02),
        ]
        flips_default = True
    if flips_default if allow_flips is None else allow_flips:
        steps.insert(1, RandomFlip(probability=0.5))
    return Augment(steps)


# --- helpers -------------------------------------------------------------------------------------


def _check_images(images: torch.Tensor, name: str = "images") -> None:
    if not isinstance(images, torch.Tensor):
        raise ValueError(f"{name} must be a torch.Tensor of shape (n, C, H, W); got {type(images).__name__}.")
    if images.ndim != 4:
        raise ValueError(f"{name} must have shape (n, C, H, W); got shape {tuple(images.shape)}.")
    if not images.is_floating_point():
        raise ValueError(f"{name} has dtype {images.dtype}; convert to float in [0, 1] (see anchormi.ssl.data).")
    if images.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(images.shape)}); pass at least one image.")
    low, high = images.min().item(), images.max().item()
    if not (0.0 <= low and high <= 1.0):  # also false for NaN
        raise ValueError(
            f"{name} has values in [{low}, {high}]; augmentations need values in [0, 1] with no NaN "
            "(load images with anchormi.ssl.data)."
        )


def _uniform(generator: torch.Generator, n: int, low: float, high: float, *, like: torch.Tensor) -> torch.Tensor:
    """n draws from U[low, high) on the generator's device, returned on ``like``'s device and dtype."""
    draws = torch.rand(n, generator=generator, device=generator.device, dtype=torch.float64)
    return (low + (high - low) * draws).to(device=like.device, dtype=like.dtype)


def _rotation_theta(angle: torch.Tensor, height: int, width: int) -> torch.Tensor:
    """Affine maps (n, 2, 3) for affine_grid that rotate images by ``angle`` (n,) radians about the centre."""
    cos, sin, zeros = torch.cos(angle), torch.sin(angle), torch.zeros_like(angle)
    # affine_grid works in coordinates normalised separately per axis; the H/W factors keep the
    # rotation rigid in pixel space for non-square images.
    return torch.stack(
        [torch.stack([cos, -sin * height / width, zeros], 1), torch.stack([sin * width / height, cos, zeros], 1)], 1
    )


def _warp(images: torch.Tensor, theta: torch.Tensor, *, padding_mode: str) -> torch.Tensor:
    """Resample images through per-image affine maps theta (n, 2, 3), output -> input coordinates."""
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    warped = F.grid_sample(images, grid, mode="bilinear", padding_mode=padding_mode, align_corners=False)
    # Bilinear weights sum to 1 only up to rounding; this removes ~1e-7 overshoot, not image content.
    return warped.clamp(0.0, 1.0)


def _check_nonnegative_int(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an int >= 0 (pixels); got {value!r}.")


def _check_probability(value, name: str) -> None:
    if not (isinstance(value, (int, float)) and 0.0 <= value <= 1.0):
        raise ValueError(f"{name} must be a number in [0, 1]; got {value!r}.")


def _check_interval(bounds, name: str, *, low: float, high: float, open_low: bool) -> None:
    try:
        lower, upper = (float(b) for b in bounds)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a pair (lower, upper); got {bounds!r}.") from None
    above_low = lower > low if open_low else lower >= low
    if not (above_low and lower <= upper <= high):
        interval = f"({low}, {high}]" if open_low else f"[{low}, {high}]"
        raise ValueError(f"{name} must satisfy lower <= upper within {interval}; got {bounds!r}.")
