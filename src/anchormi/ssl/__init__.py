"""Parts for SimCLR-style self-supervised learning: data, augmentations, encoders and metrics.

- :mod:`anchormi.ssl.data`: images as float32 (n, C, H, W) in [0, 1], from scikit-learn's digits,
  an array, or a folder of image files.
- :mod:`anchormi.ssl.augment`: batched random augmentations driven by an explicit torch.Generator.
- :mod:`anchormi.ssl.encoders`: a small CNN backbone plus projection head (:class:`SimCLRModel`).
- :mod:`anchormi.ssl.metrics`: linear CKA, alignment, uniformity and linear-probe accuracy.
- :mod:`anchormi.ssl.train`: :func:`train_ssl`, contrastive training with any registered objective
  through the cosine critic; checkpoints every epoch and resumes.
- :mod:`anchormi.ssl.evaluate`: probe, alignment/uniformity and CKA of trained encoders.
- :mod:`anchormi.ssl.reproduce_ssl`: the reproduction behind ``anchormi reproduce ssl``.

Scoring pairs by pointwise MI is not self-supervised learning; it lives in :mod:`anchormi.pairs`.

    >>> from anchormi.ssl import SSLConfig, load_digits_images, train_ssl
    >>> run = train_ssl(load_digits_images().images, SSLConfig(objective="anchor", epochs=20))  # doctest: +SKIP
    >>> run.model.features(images)                                                              # doctest: +SKIP
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
from anchormi.ssl.evaluate import encode, evaluate_representation, representation_cka, stratified_split
from anchormi.ssl.train import SSLConfig, SSLRun, load_checkpoint, model_from_checkpoint, train_ssl

__all__ = [
    "SSLConfig",
    "SSLRun",
    "train_ssl",
    "load_checkpoint",
    "model_from_checkpoint",
    "encode",
    "evaluate_representation",
    "representation_cka",
    "stratified_split",
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
