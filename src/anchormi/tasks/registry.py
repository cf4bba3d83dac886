"""The task registry: plain data from name to builder and a one-line description."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from .digits import digits
from .gaussian import cubic, gaussian
from .interface import Task
from .latent_pair import latent_pair
from .student_t import student_t
from .transforms import asinh, half_cube, normal_cdf


class TaskFamily(NamedTuple):
    """A registry row: how to build the task and what it is."""

    build: Callable[..., Task]
    description: str
    wraps_base: bool  # True if it transforms another task given as base=


_FAMILIES: dict[str, TaskFamily] = {
    "gaussian": TaskFamily(gaussian, "correlated Gaussians in R^dim with MI = mi nats (dim, mi)", False),
    "cubic": TaskFamily(cubic, "the Gaussian task with y -> y^3 (dim, mi)", False),
    "student-t": TaskFamily(
        student_t, "multivariate Student-t, heavy tails, closed-form MI (dim_x, dim_y, dof, rho | dispersion)", False
    ),
    "digits": TaskFamily(
        digits, "k same-class 8x8 digit-image pairs, MI = k H(class) (k, class_distribution, distinct_partners)", False
    ),
    "latent-pair": TaskFamily(
        latent_pair,
        "x, y sharing a Gaussian latent through rotations and an optional y^3 warp, exact PMI "
        "(dim_x, dim_y, latent_dim, mi, warp, seed)",
        False,
    ),
    "half-cube": TaskFamily(half_cube, "base task with x, y -> sign |.|^1.5 (base, base kwargs)", True),
    "asinh": TaskFamily(asinh, "base task with x, y -> asinh (base, base kwargs)", True),
    "normal-cdf": TaskFamily(normal_cdf, "base task with x, y -> standard normal CDF (base, base kwargs)", True),
}


def available() -> dict[str, str]:
    """Task family names mapped to a one-line description (arguments in parentheses)."""
    return {name: family.description for name, family in _FAMILIES.items()}


def get(name: str, **kwargs: Any) -> Task:
    """Build the task family ``name`` with ``kwargs``.

    Underscores and hyphens are interchangeable ("student_t" == "student-t"). A wrapper family
    takes ``base``: a Task, or a family name whose builder receives the remaining kwargs, e.g.
    ``get("asinh", base="gaussian", dim=5, mi=1.0)``.
    """
    key = str(name).replace("_", "-").lower()
    if key not in _FAMILIES:
        raise ValueError(
            f"name={name!r} is not a task family; pass one of {sorted(_FAMILIES)} (see anchormi.tasks.available())."
        )
    family = _FAMILIES[key]
    if not family.wraps_base:
        return family.build(**kwargs)
    if "base" not in kwargs:
        raise ValueError(
            f"task family {key!r} transforms another task; pass base=<Task or family name>, e.g. base='gaussian'."
        )
    base = kwargs.pop("base")
    if not isinstance(base, Task):
        base = get(base, **kwargs)
    elif kwargs:
        raise ValueError(
            f"got base as a Task and extra arguments {sorted(kwargs)}; pass the arguments to the base task instead."
        )
    return family.build(base)
