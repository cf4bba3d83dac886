"""One call: ``anchormi.estimate(x, y)``."""

from __future__ import annotations

import inspect
from typing import Any

from . import objectives
from .classical import CLASSICAL
from .estimator import MIEstimator
from .result import MIResult


def methods() -> dict[str, str]:
    """Every method name ``estimate`` accepts, with a one-line description: the objective
    registry, then the classical estimators (first docstring line of each)."""
    classical = {name: inspect.getdoc(function).splitlines()[0] for name, function in CLASSICAL.items()}
    return {**objectives.available(), **classical}


def estimate(x: Any, y: Any, z: Any = None, method: str = "anchor", **kwargs: Any) -> MIResult:
    """Estimate I(X; Y), or I(X; Y | Z) when ``z`` is given, in nats from paired samples.

    Args:
        x: (n,) or (n, dim_x) array-like (numpy, pandas, torch, lists).
        y: (n,) or (n, dim_y) array-like, paired row by row with x.
        z: optional (n,) or (n, dim_z) conditioning variable: the estimate is then the
            conditional MI by the chain rule I(X;(Y,Z)) - I(X;Z) with two calibrated critics
            (Frenzel-Pompe k-NN for method="ksg").
        method: an objective name (default "anchor": InfoNCE-anchor, log score, nu=16, held-out
            plug-in), or a classical estimator: "ksg", "gaussian", "discrete" (``methods()``).
        **kwargs: ``MIEstimator`` parameters for objectives (batch_size, critic, folds, seed, ...),
            or the classical estimator's parameters (``n_neighbors``, ``n_jobs``, ``seed`` for ksg).

    Returns:
        MIResult with ``mi``, ``bits``, ``stderr``, ``ci``, ``history``.
    """
    if not isinstance(method, str) or (method not in CLASSICAL and method not in objectives.available()):
        raise ValueError(f"method={method!r} is unknown; choose one of {sorted(methods())}.")
    accepted = _accepted_keywords(method)
    unknown = sorted(set(kwargs) - accepted)
    if unknown:
        hint = " Results carry both units: r.mi is nats, r.bits is bits." if "units" in unknown else ""
        raise ValueError(
            f"{', '.join(unknown)} {'is not a parameter' if len(unknown) == 1 else 'are not parameters'} of method={method!r}; "
            f"it takes {sorted(accepted)}.{hint}"
        )
    if method in CLASSICAL:
        if z is None:
            return CLASSICAL[method](x, y, **kwargs)
        if "z" not in inspect.signature(CLASSICAL[method]).parameters:
            raise ValueError(f"method={method!r} does not estimate conditional MI; use method='anchor' or 'ksg' with z.")
        return CLASSICAL[method](x, y, z=z, **kwargs)
    return MIEstimator(objective=method, **kwargs).fit(x, y, z=z).result_


def _accepted_keywords(method: str) -> set[str]:
    """Keyword arguments ``estimate`` may pass on for ``method``."""
    if method in CLASSICAL:
        parameters = inspect.signature(CLASSICAL[method]).parameters
        return {name for name, p in parameters.items() if name not in ("x", "y", "z") and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return set(MIEstimator._param_constraints) - {"objective"}
