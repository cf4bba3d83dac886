"""The task registry: plain data from name to builder and a one-line description."""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from .conditional import ConditionalTask, chain, collider, conditional_gaussian
from .digits import digits
from .discrete import class_label, discrete_table
from .gaussian import cubic, gaussian
from .interface import Task
from .latent_pair import latent_pair
from .student_t import student_t
from .transforms import asinh, half_cube, normal_cdf, rotated, spiral


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
    "class-label": TaskFamily(
        class_label, "uniform label Y in C classes, X | Y=c ~ N(a e_c, I); MI by cached Monte Carlo (n_classes, separation)",
        False,
    ),
    "discrete-table": TaskFamily(
        discrete_table, "two discrete variables from a joint table, exact MI (table | n_symbols, error)", False
    ),
    "half-cube": TaskFamily(half_cube, "base task with x, y -> sign |.|^1.5 (base, base kwargs)", True),
    "asinh": TaskFamily(asinh, "base task with x, y -> asinh (base, base kwargs)", True),
    "normal-cdf": TaskFamily(normal_cdf, "base task with x, y -> standard normal CDF (base, base kwargs)", True),
    "spiral": TaskFamily(
        spiral, "base task with x, y rotated in a plane by 0.5 |.|^2 radians, mixing coordinates (base, base kwargs)", True
    ),
    "rotated": TaskFamily(rotated, "base task with x, y times fixed random orthogonal matrices (base, base kwargs)", True),
}


class ConditionalFamily(NamedTuple):
    """A row of the conditional registry: tasks whose ``sample`` returns (x, y, z)."""

    build: Callable[..., ConditionalTask]
    description: str


# Kept apart from _FAMILIES: a ConditionalTask samples triples, and code written for pair tasks
# (benchmarks, get()) must not receive one.
_CONDITIONAL_FAMILIES: dict[str, ConditionalFamily] = {
    "conditional-gaussian": ConditionalFamily(
        conditional_gaussian,
        "X, Y driven by Z and correlated given Z, I(X;Y|Z) = cmi (dim_x, dim_y, dim_z, cmi, seed, warp)",
    ),
    "chain": ConditionalFamily(
        chain, "Gaussian chain X -> Z -> Y: I(X;Y|Z) = 0, I(X;Y) = mi (dim_x, dim_y, dim_z, mi, seed, warp)"
    ),
    "collider": ConditionalFamily(
        collider, "Gaussian collider X -> Z <- Y: I(X;Y) = 0, I(X;Y|Z) = cmi (dim_x, dim_y, dim_z, cmi, seed, warp)"
    ),
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
        hint = (" It samples triples (x, y, z): use anchormi.tasks.get_conditional."
                if key in _CONDITIONAL_FAMILIES else "")
        raise ValueError(
            f"name={name!r} is not a task family; pass one of {sorted(_FAMILIES)} (see anchormi.tasks.available()).{hint}"
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


def available_conditional() -> dict[str, str]:
    """Conditional task family names (triples x, y, z with exact I(X;Y|Z)) mapped to a description."""
    return {name: family.description for name, family in _CONDITIONAL_FAMILIES.items()}


def get_conditional(name: str, **kwargs: Any) -> ConditionalTask:
    """Build the conditional task family ``name`` with ``kwargs`` ("_" and "-" are interchangeable)."""
    key = str(name).replace("_", "-").lower()
    if key not in _CONDITIONAL_FAMILIES:
        hint = " It is a pair task family: use anchormi.tasks.get." if key in _FAMILIES else ""
        raise ValueError(
            f"name={name!r} is not a conditional task family; pass one of {sorted(_CONDITIONAL_FAMILIES)} "
            f"(see anchormi.tasks.available_conditional()).{hint}"
        )
    return _CONDITIONAL_FAMILIES[key].build(**kwargs)
