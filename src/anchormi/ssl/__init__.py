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

# Names load on first use, so that `anchormi --help` does not import torch through this package.
_SOURCES = {
    'Augment': 'anchormi.ssl.augment',
    'ColorJitter': 'anchormi.ssl.augment',
    'GaussianNoise': 'anchormi.ssl.augment',
    'RandomErasing': 'anchormi.ssl.augment',
    'RandomFlip': 'anchormi.ssl.augment',
    'RandomResizedCrop': 'anchormi.ssl.augment',
    'RandomRotation': 'anchormi.ssl.augment',
    'RandomShift': 'anchormi.ssl.augment',
    'color_jitter': 'anchormi.ssl.augment',
    'compose': 'anchormi.ssl.augment',
    'default_augment': 'anchormi.ssl.augment',
    'gaussian_noise': 'anchormi.ssl.augment',
    'random_erasing': 'anchormi.ssl.augment',
    'random_flip': 'anchormi.ssl.augment',
    'random_resized_crop': 'anchormi.ssl.augment',
    'random_rotation': 'anchormi.ssl.augment',
    'random_shift': 'anchormi.ssl.augment',
    'ImageData': 'anchormi.ssl.data',
    'images_from_array': 'anchormi.ssl.data',
    'load_digits_images': 'anchormi.ssl.data',
    'load_image_folder': 'anchormi.ssl.data',
    'ConvEncoder': 'anchormi.ssl.encoders',
    'ProjectionHead': 'anchormi.ssl.encoders',
    'SimCLRModel': 'anchormi.ssl.encoders',
    'alignment': 'anchormi.ssl.metrics',
    'linear_cka': 'anchormi.ssl.metrics',
    'linear_probe_accuracy': 'anchormi.ssl.metrics',
    'linear_probe_topk': 'anchormi.ssl.metrics',
    'uniformity': 'anchormi.ssl.metrics',
    'encode': 'anchormi.ssl.evaluate',
    'evaluate_representation': 'anchormi.ssl.evaluate',
    'representation_cka': 'anchormi.ssl.evaluate',
    'stratified_split': 'anchormi.ssl.evaluate',
    'SSLConfig': 'anchormi.ssl.train',
    'SSLRun': 'anchormi.ssl.train',
    'load_checkpoint': 'anchormi.ssl.train',
    'model_from_checkpoint': 'anchormi.ssl.train',
    'train_ssl': 'anchormi.ssl.train',
}

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



def __getattr__(name: str):
    if name in _SOURCES:
        import importlib

        return getattr(importlib.import_module(_SOURCES[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
