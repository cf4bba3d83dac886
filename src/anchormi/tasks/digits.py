"""Same-class image pairs from scikit-learn's bundled 8x8 digits, with I(X; Y) = k H(C) exactly.

Construction, per slot i = 1..k, independently:
    c_i ~ pi (a known class distribution),  X_i ~ Uniform(images of class c_i),  Y_i ~ Uniform(images of class c_i),
with X_i and Y_i drawn independently given c_i (so both may be the same image, with probability
1 / n_c). x and y concatenate the k slots.

Why I(X_i; Y_i) = H(C) exactly: the class is a function of the image, C = g(X_i) = g(Y_i). Hence
I(X_i; Y_i) = I(X_i; Y_i, C) = I(X_i; C) + I(X_i; Y_i | C) = H(C) + 0, since X_i is independent of
Y_i given C and H(C | X_i) = 0. Slots are independent, so I(X; Y) = k H(pi).

Forbidding X_i = Y_i would add I(X_i; Y_i | C) = sum_c pi_c log(n_c / (n_c - 1)) (about 0.006 nats
per slot here): knowing X_i would rule out one image for Y_i. ``distinct_partners=True`` does that
and includes this term in ``.mi``, so the MI stays exact either way.

The assumption "class is a function of the image" is checked when the data are loaded: images that
occur under two classes are dropped (none do in scikit-learn 1.x's copy), and exact duplicates
within a class are merged so that "uniform over the images of a class" is uniform over distinct
images. The counts are kept in ``n_images_dropped_ambiguous`` and ``n_images_merged_duplicates``.
"""

from __future__ import annotations

import functools

import numpy as np

from ._arguments import check_positive_int
from .interface import Task

N_CLASSES = 10
PIXELS_PER_IMAGE = 64
# load_digits stores 4-bit intensities 0..16; dividing by 16 puts pixels in [0, 1].
MAX_PIXEL_VALUE = 16.0


@functools.lru_cache(maxsize=1)
def load_class_images() -> tuple[tuple[np.ndarray, ...], int, int]:
    """The digits images grouped by class, deduplicated so that the class is a function of the image.

    Returns:
        images_by_class: 10 read-only float64 arrays of shape (n_c, 64), pixels in [0, 1].
        n_dropped_ambiguous: images removed because they also occur under another class.
        n_merged_duplicates: repeated copies removed within one class.
    """
    from sklearn.datasets import load_digits  # bundled with scikit-learn, no download

    bunch = load_digits()
    labels_by_image: dict[bytes, set[int]] = {}
    for image, label in zip(bunch.data, bunch.target):
        labels_by_image.setdefault(image.tobytes(), set()).add(int(label))

    seen: set[bytes] = set()
    rows_by_class: list[list[np.ndarray]] = [[] for _ in range(N_CLASSES)]
    n_dropped_ambiguous = 0
    n_merged_duplicates = 0
    for image, label in zip(bunch.data, bunch.target):
        key = image.tobytes()
        if len(labels_by_image[key]) > 1:
            n_dropped_ambiguous += 1
        elif key in seen:
            n_merged_duplicates += 1
        else:
            seen.add(key)
            rows_by_class[int(label)].append(image / MAX_PIXEL_VALUE)

    images_by_class = []
    for label, rows in enumerate(rows_by_class):
        if len(rows) < 2:
            raise RuntimeError(f"digits class {label} has {len(rows)} usable images; at least 2 are needed.")
        images = np.asarray(rows, dtype=np.float64)
        images.setflags(write=False)  # shared through the cache: nobody may edit it in place
        images_by_class.append(images)
    return tuple(images_by_class), n_dropped_ambiguous, n_merged_duplicates


@functools.lru_cache(maxsize=1)
def _class_by_image_bytes() -> dict[bytes, int]:
    images_by_class = load_class_images()[0]
    return {image.tobytes(): label for label, images in enumerate(images_by_class) for image in images}


def entropy_nats(probabilities: np.ndarray) -> float:
    """Shannon entropy in nats of a probability vector (zero entries contribute 0)."""
    positive = probabilities[probabilities > 0]
    return float(-(positive * np.log(positive)).sum())


class DigitsTask(Task):
    """k independent same-class image pairs; x and y have shape (n, 64 k), pixels in [0, 1].

    Attributes:
        k: number of image slots per sample.
        class_probabilities: pi, shape (10,), the class distribution the sampler draws from.
        images_by_class: the 10 per-class image arrays of shape (n_c, 64) that are sampled.
        distinct_partners: whether Y_i is forced to be a different image from X_i.
        mi_per_slot: H(pi) (+ the distinct-partner term) in nats; ``mi = k * mi_per_slot``.
    """

    def __init__(self, k: int, class_distribution: str, distinct_partners: bool) -> None:
        images_by_class, n_dropped, n_merged = load_class_images()
        self.images_by_class = images_by_class
        self.n_images_dropped_ambiguous = n_dropped
        self.n_images_merged_duplicates = n_merged
        self.k = k
        self.distinct_partners = distinct_partners
        class_counts = np.array([len(images) for images in images_by_class], dtype=np.float64)
        if class_distribution == "uniform":
            self.class_probabilities = np.full(N_CLASSES, 1.0 / N_CLASSES)
        else:  # "empirical": the frequencies of the usable images
            self.class_probabilities = class_counts / class_counts.sum()
        self.mi_per_slot = entropy_nats(self.class_probabilities)
        if distinct_partners:
            self.mi_per_slot += float((self.class_probabilities * np.log(class_counts / (class_counts - 1))).sum())

        name = f"digits-k{k}" + ("" if class_distribution == "uniform" else "-empirical")
        name += "-distinct" if distinct_partners else ""
        dim = PIXELS_PER_IMAGE * k
        super().__init__(name=name, dim_x=dim, dim_y=dim, mi=k * self.mi_per_slot)

    def classes_of(self, images: np.ndarray) -> np.ndarray:
        """Class of every image slot in a sampled x or y, read back from the image itself.

        This works because the class is a function of the image (see the module docstring).

        Args:
            images: float array of shape (n, 64 k), as returned by :meth:`sample`.
        Returns:
            int array of shape (n, k) with values in 0..9.
        Raises:
            ValueError: if a slot holds an image that is not one of this task's images.
        """
        slots = np.asarray(images, dtype=np.float64).reshape(-1, PIXELS_PER_IMAGE)
        class_by_image = _class_by_image_bytes()
        try:
            labels = [class_by_image[slot.tobytes()] for slot in slots]
        except KeyError:
            raise ValueError(
                "images holds a slot that is not a digits image of this task; pass x or y from sample()."
            ) from None
        return np.asarray(labels, dtype=np.int64).reshape(-1, self.k)

    def _sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        classes = rng.choice(N_CLASSES, size=(n, self.k), p=self.class_probabilities)
        x = np.empty((n, self.k, PIXELS_PER_IMAGE))
        y = np.empty((n, self.k, PIXELS_PER_IMAGE))
        # Loop over classes, not samples: 10 vectorised draws instead of n * k scalar ones.
        for label, images in enumerate(self.images_by_class):
            rows, slots = np.nonzero(classes == label)
            n_images = len(images)
            x_index = rng.integers(n_images, size=len(rows))
            if self.distinct_partners:
                # Uniform over the other n_images - 1 images: draw from n - 1 and skip x's index.
                y_index = rng.integers(n_images - 1, size=len(rows))
                y_index += y_index >= x_index
            else:
                y_index = rng.integers(n_images, size=len(rows))
            x[rows, slots] = images[x_index]
            y[rows, slots] = images[y_index]
        return x.reshape(n, -1), y.reshape(n, -1)


def digits(k: int = 1, class_distribution: str = "uniform", distinct_partners: bool = False) -> DigitsTask:
    """Same-class digit-image pairs, k slots, with exact I(X; Y) = k H(pi) nats.

    Args:
        k: number of independent image pairs stacked per sample (>= 1). With the uniform
            distribution each adds log(10) = 2.303 nats = 3.32 bits.
        class_distribution: "uniform" (pi_c = 1/10, the default, so H(pi) = log 10 exactly) or
            "empirical" (the dataset's class frequencies).
        distinct_partners: if True, y's image in each slot differs from x's; ``.mi`` then includes
            the small extra term sum_c pi_c log(n_c / (n_c - 1)) that this dependence adds.

    Samples: x, y of shape (n, 64 k), float64 pixels in [0, 1]; slot i is columns 64 i .. 64 i + 63,
    an 8x8 image in row-major order.
    """
    k = check_positive_int(k, "k", "the number of image pairs per sample", "k=1")
    if class_distribution not in ("uniform", "empirical"):
        raise ValueError(
            f"class_distribution={class_distribution!r} is invalid: pass 'uniform' or 'empirical'."
        )
    if not isinstance(distinct_partners, bool):
        raise ValueError(f"distinct_partners={distinct_partners!r} is invalid: pass True or False.")
    return DigitsTask(k, class_distribution, distinct_partners)
