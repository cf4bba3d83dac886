"""Image loading for self-supervised learning: every source becomes float32 (n, C, H, W) in [0, 1].

Three sources share one result type, :class:`ImageData`:

- :func:`load_digits_images`: scikit-learn's bundled 8x8 handwritten digits (no download);
- :func:`images_from_array`: a user's NumPy array or torch tensor;
- :func:`load_image_folder`: a folder of image files, optionally sorted into class subfolders.

Nothing is resized, clipped or dropped silently: input the library cannot read faithfully raises a
``ValueError`` that names the argument and says what to do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np
import torch

from .._validation import _to_numpy

__all__ = ["ImageData", "load_digits_images", "images_from_array", "load_image_folder"]

# matplotlib reads PNG itself and hands every other format to Pillow (a matplotlib dependency).
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff")

# Channel counts that identify the channel axis of a rank-4 array: grey, RGB and RGBA.
_CHANNEL_COUNTS = (1, 3, 4)

# ITU-R BT.601 luma weights, the convention Pillow uses for RGB -> greyscale.
_LUMA_WEIGHTS = np.array([0.299, 0.587, 0.114], dtype=np.float32)


class ImageData(NamedTuple):
    """Images with their labels.

    Attributes:
        images: float32 tensor of shape (n, C, H, W), values in [0, 1].
        labels: int64 tensor of shape (n,). ``labels[i] = k >= 0`` means class ``class_names[k]``;
            ``-1`` means unlabelled.
        class_names: the name of each class index; empty when nothing is labelled.
    """

    images: torch.Tensor
    labels: torch.Tensor
    class_names: tuple[str, ...]


def load_digits_images() -> ImageData:
    """Load scikit-learn's bundled handwritten digits (UCI optdigits test set), no download.

    Returns:
        ImageData with images of shape (1797, 1, 8, 8), float32 in [0, 1] (the raw 0..16 ink counts
        divided by 16), labels in 0..9 and class names "0".."9".
    """
    from sklearn.datasets import load_digits

    digits = load_digits()
    # Each pixel counts inked cells of a 4x4 block, so 16 is the largest possible value.
    images = torch.from_numpy(digits.images.astype(np.float32) / 16.0).unsqueeze(1)
    labels = torch.from_numpy(digits.target.astype(np.int64))
    return ImageData(images.contiguous(), labels, tuple(str(k) for k in range(10)))


def images_from_array(array, labels=None, *, layout: str = "auto") -> ImageData:
    """Turn a user's image array into float32 (n, C, H, W) in [0, 1].

    Args:
        array: NumPy array or torch tensor, one of
            - (n, H, W): greyscale;
            - (n, H, W, C): channels last;
            - (n, C, H, W): channels first.
            dtype uint8 (divided by 255), uint16 (divided by 65535), bool, or float already in [0, 1].
        labels: optional (n,) class labels. Integers >= -1 are kept as they are (-1 = unlabelled)
            and class k is named ``str(k)``; any other labels (strings, floats) are encoded as
            0..C-1 in sorted order, named by their value. ``None`` labels every image -1.
        layout: "auto", "nhw", "nhwc" or "nchw". "auto" reads a rank-3 array as (n, H, W) and finds
            the channel axis of a rank-4 array as the one axis, of axes 1 and 3, of size 1, 3 or 4.

    Returns:
        ImageData; images are a new float32 tensor (the input is never modified).

    Raises:
        ValueError: empty array, wrong rank, NaN or inf, values outside [0, 1] for floats, signed
            integer dtype, an ambiguous channel axis, or labels of the wrong length.
    """
    try:
        pixels = _to_numpy(array, "array")
    except ValueError as error:
        # The shared reader's advice is for (n, d) tables; images need their own shapes named.
        raise ValueError(
            f"array could not be read as an array ({error.__cause__}); pass a NumPy array of shape (n, H, W), "
            "(n, H, W, C) or (n, C, H, W)."
        ) from error
    if pixels.size == 0:
        raise ValueError(f"array is empty (shape {pixels.shape}); pass at least one image.")
    pixels = _as_unit_float32(pixels, "array")
    pixels_nchw = _to_nchw(pixels, layout)
    labels_tensor, class_names = _encode_labels(labels, pixels_nchw.shape[0])
    return ImageData(torch.from_numpy(np.ascontiguousarray(pixels_nchw)), labels_tensor, class_names)


def load_image_folder(
    folder: str | os.PathLike,
    *,
    channels: int | None = None,
    extensions: Sequence[str] = IMAGE_EXTENSIONS,
) -> ImageData:
    """Read every image file in a folder into float32 (n, C, H, W) in [0, 1].

    Two layouts are understood:
        - flat: ``folder/*.png``; every label is -1 and ``class_names`` is empty;
        - class subfolders: ``folder/<class name>/*.png``; labels index the sorted subfolder names.
    Files are read in sorted path order, so the result is reproducible. Hidden entries (leading ".")
    and files with other extensions are ignored; subfolders holding no image file are not classes.
    Images are read with ``matplotlib.image.imread``; integer pixels are divided by their dtype's
    maximum (255 for 8-bit files).

    Args:
        folder: the directory to read.
        channels: None keeps each file's channels (all files must then agree); 1 converts to
            greyscale with BT.601 luma weights; 3 converts to RGB (greyscale is repeated). Both
            conversions drop an alpha channel.
        extensions: lower-case file suffixes to read.

    Returns:
        ImageData with images of shape (n, C, H, W).

    Raises:
        ValueError: the folder is missing or holds no image, images differ in size (resize them to
            one size first) or channel count (pass ``channels=1`` or ``3``), images sit both at the
            top level and in subfolders, or ``channels`` is not None, 1 or 3.
    """
    root = Path(folder)
    if not root.is_dir():
        raise ValueError(f"folder {str(root)!r} is not a directory; pass the path of a folder of images.")
    if channels not in (None, 1, 3):
        raise ValueError(f"channels must be None (keep), 1 (greyscale) or 3 (RGB); got {channels!r}.")
    suffixes = tuple(s.lower() for s in extensions)

    top_level_files = _image_files(root, suffixes)
    class_folders = [
        d for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".") and _image_files(d, suffixes)
    ]
    if top_level_files and class_folders:
        raise ValueError(
            f"folder {str(root)!r} holds images both at its top level and in subfolders "
            f"({', '.join(d.name for d in class_folders)}); move the top-level images into a class "
            "subfolder, or keep a flat folder."
        )
    if class_folders:
        class_names = tuple(d.name for d in class_folders)
        files_and_labels = [(f, k) for k, d in enumerate(class_folders) for f in _image_files(d, suffixes)]
    else:
        class_names = ()
        files_and_labels = [(f, -1) for f in top_level_files]
    if not files_and_labels:
        raise ValueError(
            f"folder {str(root)!r} holds no image files with extensions {suffixes}; "
            "check the path or pass extensions=."
        )

    images_hwc = [_read_image_hwc(path, channels) for path, _ in files_and_labels]
    first_shape, first_path = images_hwc[0].shape, files_and_labels[0][0]
    for image, (path, _) in zip(images_hwc, files_and_labels):
        if image.shape[:2] != first_shape[:2]:
            raise ValueError(
                f"folder {str(root)!r}: image {path.name!r} is {image.shape[0]}x{image.shape[1]} but "
                f"{first_path.name!r} is {first_shape[0]}x{first_shape[1]}; resize all images to one size first."
            )
        if image.shape[2] != first_shape[2]:
            raise ValueError(
                f"folder {str(root)!r}: image {path.name!r} has {image.shape[2]} channels but "
                f"{first_path.name!r} has {first_shape[2]}; pass channels=1 (greyscale) or channels=3 (RGB)."
            )
    images_nchw = np.stack(images_hwc).transpose(0, 3, 1, 2)
    labels = torch.tensor([label for _, label in files_and_labels], dtype=torch.int64)
    return ImageData(torch.from_numpy(np.ascontiguousarray(images_nchw)), labels, class_names)


# --- helpers -------------------------------------------------------------------------------------


def _as_unit_float32(pixels: np.ndarray, name: str) -> np.ndarray:
    """Scale pixels to float32 in [0, 1] by their dtype, or fail if that would need guessing."""
    if pixels.dtype == np.bool_:
        return pixels.astype(np.float32)
    if pixels.dtype in (np.uint8, np.uint16):
        return pixels.astype(np.float32) / np.float32(np.iinfo(pixels.dtype).max)
    if np.issubdtype(pixels.dtype, np.integer):
        # A signed or wide integer array carries no bit depth, so its full-scale value is unknown.
        raise ValueError(
            f"{name} has integer dtype {pixels.dtype}, whose full-scale value is ambiguous; "
            f"cast 8-bit pixels with {name}.astype(np.uint8), or pass floats in [0, 1]."
        )
    if not np.issubdtype(pixels.dtype, np.floating):
        raise ValueError(f"{name} has dtype {pixels.dtype}; pass uint8 pixels or floats in [0, 1].")
    pixels = pixels.astype(np.float32)
    if not np.isfinite(pixels).all():
        raise ValueError(f"{name} contains NaN or inf; remove or repair those images first.")
    low, high = float(pixels.min()), float(pixels.max())
    if low < 0.0 or high > 1.0:
        raise ValueError(
            f"{name} is float with values in [{low:g}, {high:g}], outside [0, 1]; divide 8-bit pixel values "
            "by 255 (or pass them as uint8), or rescale to [0, 1]."
        )
    return pixels


def _to_nchw(pixels: np.ndarray, layout: str) -> np.ndarray:
    layouts = ("auto", "nhw", "nhwc", "nchw")
    if layout not in layouts:
        raise ValueError(f"layout must be one of {layouts}; got {layout!r}.")
    if pixels.ndim not in (3, 4):
        raise ValueError(
            f"array has rank {pixels.ndim} (shape {pixels.shape}); pass (n, H, W), (n, H, W, C) or (n, C, H, W). "
            "Add a leading axis of size 1 for a single image."
        )
    if layout == "auto":
        if pixels.ndim == 3:
            layout = "nhw"
        else:
            channels_first = pixels.shape[1] in _CHANNEL_COUNTS
            channels_last = pixels.shape[3] in _CHANNEL_COUNTS
            if channels_first == channels_last:
                raise ValueError(
                    f"array has shape {pixels.shape}, so its channel axis cannot be told from its size; "
                    "pass layout='nchw' or layout='nhwc'."
                )
            layout = "nchw" if channels_first else "nhwc"
    expected_rank = 3 if layout == "nhw" else 4
    if pixels.ndim != expected_rank:
        raise ValueError(f"layout={layout!r} needs a rank-{expected_rank} array; got shape {pixels.shape}.")
    if layout == "nhw":
        return pixels[:, None, :, :]
    if layout == "nhwc":
        return pixels.transpose(0, 3, 1, 2)
    return pixels


def _encode_labels(labels, n_images: int) -> tuple[torch.Tensor, tuple[str, ...]]:
    if labels is None:
        return torch.full((n_images,), -1, dtype=torch.int64), ()
    values = _to_numpy(labels, "labels")
    if values.ndim != 1 or values.shape[0] != n_images:
        raise ValueError(f"labels has shape {values.shape}; pass one label per image, shape ({n_images},).")
    if np.issubdtype(values.dtype, np.integer) and (values >= -1).all():
        n_classes = int(values.max()) + 1 if values.size else 0
        return torch.from_numpy(values.astype(np.int64)), tuple(str(k) for k in range(n_classes))
    if np.issubdtype(values.dtype, np.floating) and not np.isfinite(values).all():
        raise ValueError("labels contains NaN or inf; pass finite labels, or -1 for unlabelled images.")
    unique_values, codes = np.unique(values, return_inverse=True)
    return torch.from_numpy(codes.astype(np.int64)), tuple(str(v) for v in unique_values)


def _image_files(directory: Path, suffixes: tuple[str, ...]) -> list[Path]:
    return [
        p
        for p in sorted(directory.iterdir())
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in suffixes
    ]


def _read_image_hwc(path: Path, channels: int | None) -> np.ndarray:
    """Read one file as float32 (H, W, C) in [0, 1], converting channels when asked."""
    import matplotlib.image

    try:
        pixels = matplotlib.image.imread(path)
    except Exception as error:
        raise ValueError(f"image file {str(path)!r} could not be read ({error}); remove or repair it.") from error
    if np.issubdtype(pixels.dtype, np.integer):
        pixels = pixels.astype(np.float32) / np.float32(np.iinfo(pixels.dtype).max)
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    if pixels.ndim != 3 or pixels.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"image file {str(path)!r} has unsupported shape {pixels.shape}; save it as grey or RGB.")
    if channels is None:
        return pixels
    # Grey+alpha (2 channels) and RGBA (4) carry alpha last; the conversions below drop it.
    colour = pixels[:, :, :3] if pixels.shape[2] >= 3 else pixels[:, :, :1]
    if channels == 1:
        grey = colour if colour.shape[2] == 1 else (colour @ _LUMA_WEIGHTS)[:, :, None]
        return np.clip(grey, 0.0, 1.0)  # guards float rounding of the weighted sum, not content
    return colour if colour.shape[2] == 3 else np.repeat(colour, 3, axis=2)
