"""Samplers with exact, known mutual information (nats), for testing and benchmarking estimators.

    >>> from anchormi import tasks
    >>> task = tasks.gaussian(dim=20, mi=6.0)
    >>> x, y = task.sample(1000, seed=0)     # float64, shapes (1000, 20) and (1000, 20)
    >>> task.mi, task.bits, task.name        # (6.0, 8.656..., 'gaussian-d20-mi6')

Families: gaussian, cubic, student_t, digits, latent_pair (with exact pointwise MI); MI-preserving
wrappers half_cube, asinh, normal_cdf and transformed; the staircase schedule; the registry available() / get().
"""

from .digits import DigitsTask, digits
from .gaussian import CorrelatedGaussianTask, cubic, gaussian
from .interface import Task
from .latent_pair import LatentPairTask, latent_pair
from .registry import available, get
from .staircase import Staircase, staircase
from .student_t import StudentTTask, student_t, student_t_mi_correction
from .transforms import TransformedTask, asinh, half_cube, normal_cdf, transformed

__all__ = [
    "Task",
    "CorrelatedGaussianTask",
    "StudentTTask",
    "DigitsTask",
    "TransformedTask",
    "LatentPairTask",
    "Staircase",
    "gaussian",
    "cubic",
    "student_t",
    "student_t_mi_correction",
    "digits",
    "latent_pair",
    "half_cube",
    "asinh",
    "normal_cdf",
    "transformed",
    "staircase",
    "available",
    "get",
]
