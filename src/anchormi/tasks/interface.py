"""The task protocol: a sampler of paired arrays whose mutual information is known exactly.

This module imports nothing from anchormi, so every other subpackage (estimators, benchmarks, the
CLI) can depend on it without import cycles. The shape follows the bmi benchmark's sampler protocol.
"""

from __future__ import annotations

import abc
import math
from numbers import Integral

import numpy as np



class Task(abc.ABC):
    """A joint distribution p(x, y) with known mutual information, sampled on demand.

    Attributes:
        name: readable identifier, e.g. ``"gaussian-d20-mi6"``.
        dim_x: number of columns of x.
        dim_y: number of columns of y.
        mi: the exact mutual information I(X; Y) in nats.
        bits: the same in bits.

    Subclasses implement :meth:`_sample`; :meth:`sample` validates ``n``, turns the seed into a
    generator and checks the shapes and dtype of what comes back.
    """

    def __init__(self, name: str, dim_x: int, dim_y: int, mi: float) -> None:
        self._name = str(name)
        self._dim_x = int(dim_x)
        self._dim_y = int(dim_y)
        self._mi = float(mi)

    @property
    def name(self) -> str:
        """Readable identifier of the task, e.g. ``"gaussian-d20-mi6"``."""
        return self._name

    @property
    def dim_x(self) -> int:
        """Number of columns of x."""
        return self._dim_x

    @property
    def dim_y(self) -> int:
        """Number of columns of y."""
        return self._dim_y

    @property
    def mi(self) -> float:
        """Exact mutual information I(X; Y) in nats."""
        return self._mi

    @property
    def bits(self) -> float:
        """Exact mutual information I(X; Y) in bits."""
        return self._mi / math.log(2.0)

    def mutual_information(self) -> float:
        """Exact mutual information I(X; Y) in nats (the bmi-style accessor; equals ``.mi``)."""
        return self.mi

    def sample(self, n: int, seed: int | np.random.Generator = 0) -> tuple[np.ndarray, np.ndarray]:
        """Draw ``n`` i.i.d. pairs from p(x, y).

        Args:
            n: number of pairs, a positive integer.
            seed: an integer seed or a ``numpy.random.Generator``. The same integer seed gives
                identical arrays; a generator is used as is, and its state advances.

        Returns:
            ``(x, y)``: float64 arrays of shapes ``(n, dim_x)`` and ``(n, dim_y)``.
        """
        n = _sample_size(n)
        rng = _as_generator(seed)
        x, y = self._sample(n, rng)
        x = np.ascontiguousarray(x, dtype=np.float64)
        y = np.ascontiguousarray(y, dtype=np.float64)
        # A sampler that returns the wrong shape would corrupt every estimate silently; fail here.
        if x.shape != (n, self.dim_x) or y.shape != (n, self.dim_y):
            raise RuntimeError(
                f"task {self.name!r} returned x of shape {x.shape} and y of shape {y.shape}; "
                f"expected {(n, self.dim_x)} and {(n, self.dim_y)}. This is a bug in the task."
            )
        return x, y

    @abc.abstractmethod
    def _sample(self, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(x, y)`` of shapes ``(n, dim_x)``, ``(n, dim_y)`` drawn with ``rng``."""

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(name={self.name!r}, dim_x={self.dim_x}, dim_y={self.dim_y}, "
            f"mi={self.mi:.6g} nats)"
        )


def _sample_size(n: object) -> int:
    """``n`` as an int if it is a positive integer (numpy's too, bool excluded), else ValueError."""
    if not isinstance(n, Integral) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n={n!r} is invalid: the number of samples must be a positive integer, e.g. n=1000.")
    return int(n)


def _as_generator(seed: int | np.random.Generator) -> np.random.Generator:
    """Turn a seed into a generator; a generator passes through so callers can share one stream."""
    if isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, Integral) and not isinstance(seed, bool) and seed >= 0:
        return np.random.default_rng(int(seed))
    raise ValueError(
        f"seed={seed!r} is invalid: pass a non-negative integer (e.g. seed=0) or a numpy.random.Generator."
    )
