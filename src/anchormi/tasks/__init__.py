"""Samplers with exact, known mutual information (nats), for testing and benchmarking estimators.

    >>> from anchormi import tasks
    >>> task = tasks.gaussian(dim=20, mi=6.0)
    >>> x, y = task.sample(1000, seed=0)     # float64, shapes (1000, 20) and (1000, 20)
    >>> task.mi, task.bits, task.name        # (6.0, 8.656..., 'gaussian-d20-mi6')

Families: gaussian, cubic, student_t, digits, latent_pair (with exact pointwise MI), class_label and
discrete_table (discrete variables); MI-preserving wrappers half_cube, asinh, normal_cdf (per
coordinate), spiral and rotated (mixing coordinates) and transformed; the staircase schedule; the
registry available() / get().

Conditional tasks sample triples (x, y, z) with exact I(X; Y | Z) (``task.cmi``) and I(X; Y):
conditional_gaussian, chain (CMI 0), collider (MI 0), each with warp="monotone" for non-Gaussian
marginals; their registry is available_conditional() / get_conditional().
"""

from .conditional import (
    ConditionalTask, GaussianConditionalTask, TransformedConditionalTask, chain, collider, conditional_gaussian,
    gaussian_cmi, transformed_conditional,
)
from .digits import DigitsTask, digits
from .discrete import ClassLabelTask, DiscreteTableTask, class_label, discrete_table
from .gaussian import CorrelatedGaussianTask, cubic, gaussian
from .interface import Task
from .latent_pair import LatentPairTask, latent_pair
from .registry import available, available_conditional, get, get_conditional
from .staircase import Staircase, staircase
from .student_t import StudentTTask, paired_rho_for_mi, student_t, student_t_mi_correction
from .transforms import TransformedTask, asinh, half_cube, normal_cdf, rotated, spiral, transformed

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
    "paired_rho_for_mi",
    "digits",
    "latent_pair",
    "half_cube",
    "asinh",
    "normal_cdf",
    "spiral",
    "rotated",
    "transformed",
    "staircase",
    "available",
    "get",
    "ConditionalTask",
    "GaussianConditionalTask",
    "TransformedConditionalTask",
    "ClassLabelTask",
    "DiscreteTableTask",
    "conditional_gaussian",
    "chain",
    "collider",
    "transformed_conditional",
    "gaussian_cmi",
    "class_label",
    "discrete_table",
    "available_conditional",
    "get_conditional",
]
