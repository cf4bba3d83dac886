"""Parts for SimCLR-style self-supervised learning: data, augmentations, encoders and metrics.

- :mod:`anchormi.ssl.data`: images as float32 (n, C, H, W) in [0, 1], from scikit-learn's digits,
  an array, or a folder of image files.
- :mod:`anchormi.ssl.augment`: batched random augmentations driven by an explicit torch.Generator.
- :mod:`anchormi.ssl.encoders`: a small CNN backbone plus projection head (:class:`SimCLRModel`).
- :mod:`anchormi.ssl.metrics`: linear CKA, alignment, uniformity and linear-probe accuracy.
"""

from anchormi.ssl.augment import (
    Augment,
    ColorJitter,
    GaussianNoise,
    RandomErasing,
    RandomFlip,
    RandomResizedCrop,
    RandomRotation,
    RandomShift,
    color_jitter,
    compose,
    default_augment,
    gaussian_noise,
    random_erasing,
    random_flip,
    random_resized_crop,
    random_rotation,
    random_shift,
)
from anchormi.ssl.data import ImageData, images_from_array, load_digits_images, load_image_folder
from anchormi.ssl.encoders import ConvEncoder, ProjectionHead, SimCLRModel
from anchormi.ssl.metrics import alignment, linear_cka, linear_probe_accuracy, linear_probe_topk, uniformity

__all__ = [
    "Augment",
    "ColorJitter",
    "ConvEncoder",
    "GaussianNoise",
    "ImageData",
    "ProjectionHead",
    "RandomErasing",
    "RandomFlip",
    "RandomResizedCrop",
    "RandomRotation",
    "RandomShift",
    "SimCLRModel",
    "alignment",
    "color_jitter",
    "compose",
    "default_augment",
    "gaussian_noise",
    "images_from_array",
    "linear_cka",
    "linear_probe_accuracy",
    "linear_probe_topk",
    "load_digits_images",
    "load_image_folder",
    "random_erasing",
    "random_flip",
    "random_resized_crop",
    "random_rotation",
    "random_shift",
    "uniformity",
]
